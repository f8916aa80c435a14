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
    // Records on the call and its kernel that `result` is written over
    // `operand`; with `onlyIfFree`, unless a result already takes that
    // buffer or this result another (the analysis' donations never clash).
    auto record = [&](func::CallOp call, func::FuncOp kernel, unsigned result,
                      unsigned operand, bool onlyIfFree) {
      SmallVector<int64_t> donations(call.getNumResults(), -1);
      if (auto old = dialect->getDonationsAttrHelper().getAttr(call))
        donations.assign(old.asArrayRef().begin(), old.asArrayRef().end());
      // One buffer, one writer.
      if (onlyIfFree &&
          (donations[result] >= 0 ||
           llvm::is_contained(donations, static_cast<int64_t>(operand)) ||
           kernel.getResultAttr(result, kOverwritesAttr)))
        return;
      kernel.setResultAttr(result, kOverwritesAttr,
                           b.getI64IntegerAttr(operand));
      donations[result] = operand;
      dialect->getDonationsAttrHelper().setAttr(
          call, b.getDenseI64ArrayAttr(donations));
    };
    for (Donation d : findDonations(step)) {
      if (!d.call)
        continue;
      auto kernel = moduleSymbols.lookup<func::FuncOp>(d.call.getCallee());
      if (kernel && !kernel.isExternal())
        record(d.call, kernel, d.callResult, d.callOperand,
               /*onlyIfFree=*/false);
    }
    llvm::StringMap<size_t> calls = callCounts(module);
    for (auto call : step.getBody().front().getOps<func::CallOp>()) {
      auto kernel = moduleSymbols.lookup<func::FuncOp>(call.getCallee());
      for (auto [result, operand] : findInPlaceClips(call, kernel, calls))
        record(call, kernel, result, operand, /*onlyIfFree=*/true);
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
