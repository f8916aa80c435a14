//===- ReverseMode.cpp - reverse-mode differentiation of a block ----------===//

#include "Transforms/ReverseMode.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace mlir::dsv3;

static Value constantLike(OpBuilder &b, Location loc, Type type, double v) {
  auto tensor = cast<RankedTensorType>(type);
  return ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(tensor,
                             b.getFloatAttr(tensor.getElementType(), v)));
}

FailureOr<SmallVector<Value>>
mlir::dsv3::buildGradients(OpBuilder &b, ArrayRef<Operation *> ops, Value loss,
                           ValueRange wrt, double seedValue) {
  llvm::DenseMap<Value, Value> cotangent;
  // The seed is marked where the backward starts: loss scaling
  // (dsv3-mixed-precision) scales it, rematerialization (dsv3-remat) finds
  // the backward by it.
  Value seed = constantLike(b, loss.getLoc(), loss.getType(), seedValue);
  seed.getDefiningOp()->setAttr(Dsv3Dialect::LossSeedAttrHelper::getNameStr(),
                                b.getUnitAttr());
  cotangent[loss] = seed;

  for (Operation *op : llvm::reverse(ops)) {
    SmallVector<Value> dys;
    bool any = false;
    for (Value result : op->getResults()) {
      Value dy = cotangent.lookup(result);
      dys.push_back(dy);
      any |= static_cast<bool>(dy);
    }
    // Nothing to propagate into: constants, ops on integers only.
    bool floatOperand = llvm::any_of(op->getOperandTypes(), [](Type t) {
      return isa<FloatType>(getElementTypeOrSelf(t));
    });
    if (!any || !floatOperand)
      continue;
    auto differentiable = dyn_cast<GradientOpInterface>(op);
    if (!differentiable)
      return op->emitError("dsv3-autodiff: the loss depends on this op, which "
                           "has no gradient rule"),
             failure();
    SmallVector<Value> dxs;
    if (failed(differentiable.buildVjp(b, dys, dxs)))
      return failure();
    if (dxs.size() != op->getNumOperands())
      return op->emitError("dsv3-autodiff: gradient rule returned ")
                 << dxs.size() << " cotangents for " << op->getNumOperands()
                 << " operands",
             failure();
    for (auto [operand, dx] : llvm::zip(op->getOperands(), dxs)) {
      if (!dx)
        continue;
      if (dx.getType() != operand.getType())
        return op->emitError("dsv3-autodiff: gradient rule produced ")
                   << dx.getType() << " for an operand of type "
                   << operand.getType(),
               failure();
      Value &acc = cotangent[operand];
      acc = acc ? Value(AddOp::create(b, op->getLoc(), acc, dx)) : dx;
    }
  }

  SmallVector<Value> grads;
  for (Value v : wrt) {
    Value g = cotangent.lookup(v);
    grads.push_back(g ? g : constantLike(b, v.getLoc(), v.getType(), 0.0));
  }
  return grads;
}
