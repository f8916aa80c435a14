//===- ReverseMode.cpp - reverse-mode differentiation of a block ----------===//

#include "Transforms/ReverseMode.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::dsv3;

static Value constantLike(OpBuilder &b, Location loc, Type type, double v) {
  auto tensor = cast<RankedTensorType>(type);
  return ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(tensor,
                             b.getFloatAttr(tensor.getElementType(), v)));
}

/// The one dimension `pad` pads (plain zero padding, no interior), or -1.
static int64_t paddedDim(PadOp pad) {
  if (pad.getInterior())
    return -1;
  int64_t dim = -1;
  for (auto [d, low, high] :
       llvm::enumerate(pad.getLow(), pad.getHigh())) {
    if (low == 0 && high == 0)
      continue;
    if (dim >= 0)
      return -1;
    dim = static_cast<int64_t>(d);
  }
  return dim;
}

/// acc + dx, where each is the zero-padded cotangent of a slice along the
/// same dimension (what dsv3.slice's VJP makes): when the two slices are
/// adjacent, the sum is the concatenation of the two, padded, with no pass
/// over zeros (adding zeros changes no value but a zero's sign). The pads
/// are left in `joined` for the caller to erase once nothing reads them:
/// another operand's cotangent may be the same pad (an add's VJP passes
/// its cotangent to both operands).
static Value accumulate(OpBuilder &b, Location loc, Value acc, Value dx,
                        llvm::SetVector<Operation *> &joined) {
  auto padA = acc.getDefiningOp<PadOp>(), padB = dx.getDefiningOp<PadOp>();
  int64_t dim = padA ? paddedDim(padA) : -1;
  if (!padA || !padB || padA == padB || dim < 0 || paddedDim(padB) != dim)
    return AddOp::create(b, loc, acc, dx);
  auto size = [&](PadOp pad) {
    return cast<RankedTensorType>(pad.getInput().getType()).getDimSize(dim);
  };
  int64_t lowA = padA.getLow()[dim], lowB = padB.getLow()[dim];
  if (lowB < lowA) {
    std::swap(padA, padB);
    std::swap(lowA, lowB);
  }
  if (lowA + size(padA) != lowB)
    return AddOp::create(b, loc, acc, dx);
  Value concat = ConcatOp::create(
      b, loc, ValueRange{padA.getInput(), padB.getInput()}, dim);
  int64_t high = padB.getHigh()[dim];
  Value sum = concat;
  if (lowA != 0 || high != 0) {
    int64_t rank = cast<RankedTensorType>(acc.getType()).getRank();
    SmallVector<int64_t> low(rank, 0), highs(rank, 0);
    low[dim] = lowA;
    highs[dim] = high;
    sum = PadOp::create(b, loc, concat, low, highs, DenseI64ArrayAttr());
  }
  joined.insert(padA);
  joined.insert(padB);
  return sum;
}

FailureOr<SmallVector<Value>>
mlir::dsv3::buildGradients(OpBuilder &b, ArrayRef<Operation *> ops, Value loss,
                           ValueRange wrt, double seedValue) {
  llvm::DenseMap<Value, Value> cotangent;
  // Pads accumulate() joined into a concat, erased at the end unless read.
  llvm::SetVector<Operation *> joined;
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
      acc = acc ? accumulate(b, op->getLoc(), acc, dx, joined) : dx;
    }
  }

  SmallVector<Value> grads;
  for (Value v : wrt) {
    Value g = cotangent.lookup(v);
    grads.push_back(g ? g : constantLike(b, v.getLoc(), v.getType(), 0.0));
  }
  for (Operation *pad : joined)
    if (pad->use_empty() && !llvm::is_contained(grads, pad->getResult(0)))
      pad->erase();
  return grads;
}
