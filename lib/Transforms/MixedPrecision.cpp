//===- MixedPrecision.cpp - the dsv3-mixed-precision pass -----------------===//
//
// Applies a precision policy to the training step: under bf16 every f32
// GEMM (forward, and the backward GEMMs autodiff derived from it) reads
// bf16 operands, accumulates in f32 and yields bf16, widened again for the
// f32 ops around it.
//
//===----------------------------------------------------------------------===//

#include "Transforms/Passes.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_MIXEDPRECISION
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

bool hasElementType(Value v, Type element) {
  return cast<RankedTensorType>(v.getType()).getElementType() == element;
}

/// The GEMMs a policy narrows: f32 operands (the two matrices) and result.
bool isF32Gemm(Operation *op) {
  if (!isa<MatmulOp, GroupedMatmulOp, GroupedMatmulWgradOp>(op))
    return false;
  Type f32 = Float32Type::get(op->getContext());
  return hasElementType(op->getOperand(0), f32) &&
         hasElementType(op->getOperand(1), f32) &&
         hasElementType(op->getResult(0), f32);
}

struct MixedPrecisionPass
    : dsv3::impl::MixedPrecisionBase<MixedPrecisionPass> {
  using dsv3::impl::MixedPrecisionBase<MixedPrecisionPass>::MixedPrecisionBase;

  void runOnOperation() override;

private:
  /// `v` as bf16: the value a widening cast came from, or one cast of `v`
  /// placed before `user`, its first GEMM, and shared by every later one.
  Value narrow(Value v, Operation *user);

  llvm::DenseMap<Value, Value> narrowed;
};

Value MixedPrecisionPass::narrow(Value v, Operation *user) {
  Type bf16 = BFloat16Type::get(v.getContext());
  if (auto widen = v.getDefiningOp<CastOp>())
    if (hasElementType(widen.getInput(), bf16))
      return widen.getInput();
  Value &cached = narrowed[v];
  if (cached)
    return cached;
  OpBuilder b(user);
  auto type = cast<RankedTensorType>(v.getType());
  cached = CastOp::create(b, v.getLoc(), type.clone(bf16), v);
  return cached;
}

void MixedPrecisionPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (policy == "fp32")
    return;
  if (policy == "fp16" || policy == "fp8") {
    module.emitError("dsv3-mixed-precision: policy=")
        << policy.getValue()
        << " is not supported yet (the policies are fp32 and bf16)";
    return signalPassFailure();
  }
  if (policy != "bf16") {
    module.emitError("dsv3-mixed-precision: unknown policy '")
        << policy.getValue() << "' (fp32 or bf16)";
    return signalPassFailure();
  }
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn || fn.isExternal()) {
    module.emitError("dsv3-mixed-precision: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }

  SmallVector<Operation *> gemms;
  fn.walk([&](Operation *op) {
    if (isF32Gemm(op))
      gemms.push_back(op);
  });
  Type bf16 = BFloat16Type::get(&getContext());
  for (Operation *op : gemms) {
    IRMapping mapping;
    for (Value operand : op->getOperands().take_front(2))
      mapping.map(operand, narrow(operand, op));
    OpBuilder b(op);
    Operation *narrowGemm = b.clone(*op, mapping);
    Value result = narrowGemm->getResult(0);
    auto type = cast<RankedTensorType>(result.getType());
    result.setType(type.clone(bf16));
    Value widened = CastOp::create(b, op->getLoc(), type, result);
    op->getResult(0).replaceAllUsesWith(widened);
    op->erase();
  }
}

} // namespace
