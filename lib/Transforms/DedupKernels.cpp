//===- DedupKernels.cpp - the dsv3-dedup-kernels pass ---------------------===//
//
// Every layer of the same shape outlines the same kernels. This pass keeps
// one of each: kernels (and GPU functions) whose code is the same, up to
// names and locations, become one, and their calls and launches name it.
// Compile time then follows the number of distinct layer shapes, not the
// depth.
//
//===----------------------------------------------------------------------===//

#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <map>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DEDUPKERNELS
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// A function's attributes without its name: what two copies of one
/// kernel share.
DictionaryAttr attributesWithoutName(Operation *fn) {
  NamedAttrList attrs(fn->getAttrDictionary());
  attrs.erase(SymbolTable::getSymbolAttrName());
  return attrs.getDictionary(fn->getContext());
}

/// A hash that equal functions share: their attributes but the name and
/// every op's name, attributes and types, in order. Which values the ops
/// read is left to the exact comparison.
llvm::hash_code structuralHash(Operation *fn) {
  llvm::hash_code hash = hash_value(attributesWithoutName(fn));
  fn->walk([&](Operation *op) {
    if (op == fn)
      return;
    hash = llvm::hash_combine(
        hash, OperationEquivalence::computeHash(
                  op, OperationEquivalence::ignoreHashValue,
                  OperationEquivalence::ignoreHashValue,
                  OperationEquivalence::IgnoreLocations));
  });
  return hash;
}

bool sameCode(Operation *a, Operation *b) {
  return attributesWithoutName(a) == attributesWithoutName(b) &&
         OperationEquivalence::isRegionEquivalentTo(
             &a->getRegion(0), &b->getRegion(0),
             OperationEquivalence::IgnoreLocations);
}

/// Groups `fns` into classes of equal code. Returns, for each function that
/// is not the first of its class, the first one. `extraKey` splits classes
/// further (functions with different keys are never merged).
template <typename FnOp>
llvm::DenseMap<Operation *, Operation *>
findDuplicates(ArrayRef<FnOp> fns,
               function_ref<std::string(FnOp)> extraKey = nullptr) {
  std::map<std::pair<size_t, std::string>, SmallVector<Operation *, 1>>
      classes;
  llvm::DenseMap<Operation *, Operation *> duplicateOf;
  for (FnOp fn : fns) {
    std::string key = extraKey ? extraKey(fn) : std::string();
    SmallVector<Operation *, 1> &candidates =
        classes[{static_cast<size_t>(structuralHash(fn)), std::move(key)}];
    Operation *same = nullptr;
    for (Operation *candidate : candidates)
      if (sameCode(candidate, fn)) {
        same = candidate;
        break;
      }
    if (same)
      duplicateOf[fn] = same;
    else
      candidates.push_back(fn);
  }
  return duplicateOf;
}

/// How a GPU function is launched: grid, block and every constant operand,
/// for each launch in order; the one signature the executable records for
/// it. Functions launched differently are never merged, and a function
/// launched in more than one way keeps its own name.
std::string launchKey(gpu::GPUFuncOp fn,
                      ArrayRef<gpu::LaunchFuncOp> launches) {
  std::optional<std::string> first;
  for (gpu::LaunchFuncOp launch : launches) {
    std::string one;
    llvm::raw_string_ostream os(one);
    Value dims[6] = {launch.getGridSizeX(),  launch.getGridSizeY(),
                     launch.getGridSizeZ(),  launch.getBlockSizeX(),
                     launch.getBlockSizeY(), launch.getBlockSizeZ()};
    SmallVector<Value> values(dims, dims + 6);
    llvm::append_range(values, launch.getKernelOperands());
    for (Value v : values) {
      if (auto c = v.getDefiningOp<arith::ConstantOp>())
        os << c.getValue();
      else
        os << "?";
      os << ",";
    }
    if (!first)
      first = one;
    else if (*first != one)
      // Launched in several ways: unique to itself.
      return "unique:" + fn.getName().str();
  }
  return first.value_or("");
}

struct DedupKernelsPass : dsv3::impl::DedupKernelsBase<DedupKernelsPass> {
  using dsv3::impl::DedupKernelsBase<DedupKernelsPass>::DedupKernelsBase;

  void runOnOperation() override;

private:
  /// Kernels of the nested kernel module; calls in this module renamed.
  void dedupKernels(ModuleOp module, ModuleOp kernels);
  /// GPU functions of this module's GPU modules; launches renamed.
  void dedupGpuFunctions(ModuleOp module);
};

void DedupKernelsPass::dedupKernels(ModuleOp module, ModuleOp kernels) {
  SmallVector<func::FuncOp> fns;
  for (auto fn : kernels.getOps<func::FuncOp>())
    if (isKernel(fn) && !fn.isExternal())
      fns.push_back(fn);
  llvm::DenseMap<Operation *, Operation *> duplicateOf =
      findDuplicates<func::FuncOp>(fns);

  llvm::StringMap<StringAttr> renamed;
  for (auto [duplicate, kept] : duplicateOf)
    renamed[cast<func::FuncOp>(duplicate).getSymName()] =
        cast<func::FuncOp>(kept).getSymNameAttr();
  module.walk([&](func::CallOp call) {
    auto it = renamed.find(call.getCallee());
    if (it != renamed.end())
      call.setCalleeAttr(FlatSymbolRefAttr::get(it->second));
  });
  // The step's declarations of the merged kernels, then their code.
  for (auto declaration :
       llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
    if (declaration.isExternal() && renamed.count(declaration.getSymName()))
      declaration.erase();
  for (auto [duplicate, kept] : duplicateOf)
    duplicate->erase();

  if (report)
    llvm::outs() << "kernels: " << fns.size() << " outlined, "
                 << fns.size() - duplicateOf.size()
                 << " distinct after deduplication\n";
  if (progress)
    llvm::errs() << "dsv3-compile: " << fns.size() << " kernels, "
                 << fns.size() - duplicateOf.size()
                 << " distinct after deduplication\n";
}

void DedupKernelsPass::dedupGpuFunctions(ModuleOp module) {
  llvm::DenseMap<Operation *, SmallVector<gpu::LaunchFuncOp>> launchesOf;
  SymbolTableCollection symbols;
  module.walk([&](gpu::LaunchFuncOp launch) {
    if (auto fn = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
            launch, launch.getKernel()))
      launchesOf[fn].push_back(launch);
  });

  int64_t total = 0, merged = 0;
  for (auto gpuModule : module.getOps<gpu::GPUModuleOp>()) {
    SmallVector<gpu::GPUFuncOp> fns(gpuModule.getOps<gpu::GPUFuncOp>());
    total += fns.size();
    llvm::DenseMap<Operation *, Operation *> duplicateOf =
        findDuplicates<gpu::GPUFuncOp>(fns, [&](gpu::GPUFuncOp fn) {
          return launchKey(fn, launchesOf.lookup(fn));
        });
    merged += duplicateOf.size();
    for (auto [duplicate, kept] : duplicateOf) {
      auto keptFn = cast<gpu::GPUFuncOp>(kept);
      auto ref = SymbolRefAttr::get(
          gpuModule.getNameAttr(),
          {FlatSymbolRefAttr::get(keptFn.getNameAttr())});
      for (gpu::LaunchFuncOp launch : launchesOf.lookup(duplicate))
        launch.setKernelAttr(ref);
      duplicate->erase();
    }
  }
  if (total == 0)
    return;
  if (report)
    llvm::outs() << "GPU functions: " << total << " mapped, "
                 << total - merged << " distinct after deduplication\n";
  if (progress)
    llvm::errs() << "dsv3-compile: " << total << " GPU functions, "
                 << total - merged << " distinct after deduplication\n";
}

void DedupKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (ModuleOp kernels = getKernelModule(module))
    dedupKernels(module, kernels);
  dedupGpuFunctions(module);
}

} // namespace
