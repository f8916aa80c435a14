//===- ExtractKernels.cpp - the dsv3-extract-kernels pass -----------------===//
//
// Moves the kernels dsv3-outline-kernels made into the nested module that
// code generation lowers, leaving declarations for the step's calls, and
// records which of their results update state in place.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Donation.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_EXTRACTKERNELS
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The kernel results of `call` that may be written over an operand: a
/// gradient clipped by the kernel's `dsv3.clip_by_global_norm`, over the
/// gradient, where nothing else reads that gradient (in the kernel, its
/// only reader is the clipping, which reads every input before it writes
/// a result; in the step, this call is its last reader and the step's
/// arguments and results keep their own buffers). Without this, every
/// gradient and its clipped copy would be live at once at the end of the
/// step: the peak of a model whose parameters dominate. Pairs of (result,
/// operand). The kernel's code then writes in place for every call, so it
/// must have only this one (`calls` counts the calls of each kernel).
SmallVector<std::pair<unsigned, unsigned>>
inPlaceClips(func::CallOp call, func::FuncOp kernel,
             const llvm::StringMap<size_t> &calls) {
  SmallVector<std::pair<unsigned, unsigned>> pairs;
  if (!kernel || kernel.isExternal() ||
      calls.lookup(call.getCallee()) != 1)
    return pairs;
  Block &body = kernel.getBody().front();
  Operation *ret = body.getTerminator();
  Block &step = *call->getBlock();
  for (auto clip : body.getOps<ClipByGlobalNormOp>()) {
    for (auto [i, input] : llvm::enumerate(clip.getInputs())) {
      auto arg = dyn_cast<BlockArgument>(input);
      if (!arg || arg.getOwner() != &body || !arg.hasOneUse())
        continue;
      Value operand = call.getOperand(arg.getArgNumber());
      // A reshape shares its source's bytes, which may live on.
      if (isa<BlockArgument>(operand) || operand.getDefiningOp<ReshapeOp>() ||
          llvm::count(call.getOperands(), operand) != 1 ||
          llvm::any_of(operand.getUsers(), [&](Operation *user) {
            Operation *top = step.findAncestorOpInBlock(*user);
            return top != call && (isa<ReshapeOp, func::ReturnOp>(top) ||
                                   call->isBeforeInBlock(top));
          }))
        continue;
      Value clipped = clip.getClipped()[i];
      for (OpOperand &use : ret->getOpOperands())
        if (use.get() == clipped &&
            clipped.getType() == input.getType()) {
          pairs.push_back({use.getOperandNumber(), arg.getArgNumber()});
          break;
        }
    }
  }
  return pairs;
}

struct ExtractKernelsPass
    : dsv3::impl::ExtractKernelsBase<ExtractKernelsPass> {
  using dsv3::impl::ExtractKernelsBase<ExtractKernelsPass>::ExtractKernelsBase;

  void runOnOperation() override;
};

void ExtractKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *context = &getContext();
  Dsv3Dialect *dialect = context->getOrLoadDialect<Dsv3Dialect>();
  Builder b(context);

  auto step = module.lookupSymbol<func::FuncOp>(function);
  if (!step || step.isExternal()) {
    module.emitError("dsv3-extract-kernels: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }
  // Donations first: the analysis reads the kernels' bodies.
  {
    SymbolTable moduleSymbols(module);
    for (Donation d : findDonations(step)) {
      if (!d.call)
        continue;
      auto kernel = moduleSymbols.lookup<func::FuncOp>(d.call.getCallee());
      if (!kernel || kernel.isExternal())
        continue;
      kernel.setResultAttr(d.callResult, kOverwritesAttr,
                           b.getI64IntegerAttr(d.callOperand));
      SmallVector<int64_t> donations(d.call.getNumResults(), -1);
      if (auto old = dialect->getDonationsAttrHelper().getAttr(d.call))
        donations.assign(old.asArrayRef().begin(), old.asArrayRef().end());
      donations[d.callResult] = d.callOperand;
      dialect->getDonationsAttrHelper().setAttr(
          d.call, b.getDenseI64ArrayAttr(donations));
    }
    llvm::StringMap<size_t> calls;
    module.walk([&](func::CallOp call) { ++calls[call.getCallee()]; });
    for (auto call : step.getBody().front().getOps<func::CallOp>()) {
      auto kernel = moduleSymbols.lookup<func::FuncOp>(call.getCallee());
      SmallVector<std::pair<unsigned, unsigned>> pairs =
          inPlaceClips(call, kernel, calls);
      if (pairs.empty())
        continue;
      SmallVector<int64_t> donations(call.getNumResults(), -1);
      if (auto old = dialect->getDonationsAttrHelper().getAttr(call))
        donations.assign(old.asArrayRef().begin(), old.asArrayRef().end());
      bool changed = false;
      for (auto [result, operand] : pairs) {
        // One buffer, one writer.
        if (donations[result] >= 0 ||
            llvm::is_contained(donations, static_cast<int64_t>(operand)) ||
            kernel.getResultAttr(result, kOverwritesAttr))
          continue;
        kernel.setResultAttr(result, kOverwritesAttr,
                             b.getI64IntegerAttr(operand));
        donations[result] = operand;
        changed = true;
      }
      if (changed)
        dialect->getDonationsAttrHelper().setAttr(
            call, b.getDenseI64ArrayAttr(donations));
    }
  }

  SmallVector<func::FuncOp> kernels;
  for (auto fn : module.getOps<func::FuncOp>())
    if (isKernel(fn) && !fn.isExternal())
      kernels.push_back(fn);
  if (kernels.empty())
    return;
  ModuleOp target = getKernelModule(module);
  if (!target) {
    OpBuilder ob = OpBuilder::atBlockEnd(module.getBody());
    target = ModuleOp::create(ob, module.getLoc(), StringRef("kernels"));
    dialect->getKernelsAttrHelper().setAttr(target, b.getUnitAttr());
  }
  SymbolTable symbols(target);
  for (func::FuncOp fn : kernels) {
    if (symbols.lookup(fn.getSymName())) {
      fn.emitError("dsv3-extract-kernels: the kernel module already has a @")
          << fn.getSymName();
      return signalPassFailure();
    }
    OpBuilder ob(fn);
    auto declaration = func::FuncOp::create(ob, fn.getLoc(), fn.getSymName(),
                                            fn.getFunctionType());
    declaration.setPrivate();
    dialect->getKernelAttrHelper().setAttr(declaration, b.getUnitAttr());
    fn->moveBefore(target.getBody(), target.getBody()->end());
    symbols.insert(fn);
  }
}

} // namespace
