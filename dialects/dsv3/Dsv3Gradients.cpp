//===- Dsv3Gradients.cpp - vector-Jacobian products of dsv3 ops -----------===//
//
// One buildVjp per differentiable op. Each builds, at the builder's
// insertion point, the cotangents of the operands from those of the
// results (a null cotangent is zero). Forward values are reused as they
// are; rematerialization decides later what is kept.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

Value splat(OpBuilder &b, Location loc, RankedTensorType type, double value) {
  Attribute element =
      isa<FloatType>(type.getElementType())
          ? Attribute(b.getFloatAttr(type.getElementType(), value))
          : Attribute(b.getIntegerAttr(type.getElementType(),
                                       static_cast<int64_t>(value)));
  return ConstantOp::create(b, loc, DenseElementsAttr::get(type, element));
}

Value zerosLike(OpBuilder &b, Location loc, Value v) {
  return splat(b, loc, tensorType(v), 0.0);
}

/// Broadcasts `v` (the result of reducing `dims` away) back to `type`.
Value broadcastBack(OpBuilder &b, Location loc, Value v, RankedTensorType type,
                    ArrayRef<int64_t> reducedDims) {
  SmallVector<int64_t> kept;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (!llvm::is_contained(reducedDims, d))
      kept.push_back(d);
  return BroadcastOp::create(
      b, loc, RankedTensorType::get(type.getShape(), tensorType(v).getElementType()),
      v, kept);
}

/// Sums `grad` over `dims` (to undo a broadcast) and reshapes to `type`.
Value sumTo(OpBuilder &b, Location loc, Value grad, ArrayRef<int64_t> dims,
            RankedTensorType type) {
  if (!dims.empty())
    grad = ReduceOp::create(b, loc, ReduceKind::sum, grad, dims);
  if (tensorType(grad) != type)
    grad = ReshapeOp::create(b, loc, type, grad);
  return grad;
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult AddOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  dxs.append({dys[0], dys[0]});
  return success();
}

LogicalResult SubOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  dxs.append({dys[0], NegOp::create(b, getLoc(), dys[0])});
  return success();
}

LogicalResult MulOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  dxs.push_back(MulOp::create(b, getLoc(), dys[0], getRhs()));
  dxs.push_back(MulOp::create(b, getLoc(), dys[0], getLhs()));
  return success();
}

LogicalResult DivOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  // d/da = 1 / b; d/db = -(a / b) / b.
  Location loc = getLoc();
  Value da = DivOp::create(b, loc, dys[0], getRhs());
  Value db = NegOp::create(
      b, loc, DivOp::create(b, loc, MulOp::create(b, loc, dys[0], getResult()),
                            getRhs()));
  dxs.append({da, db});
  return success();
}

LogicalResult NegOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  dxs.push_back(NegOp::create(b, getLoc(), dys[0]));
  return success();
}

LogicalResult ExpOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  dxs.push_back(MulOp::create(b, getLoc(), dys[0], getResult()));
  return success();
}

LogicalResult LogOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  dxs.push_back(DivOp::create(b, getLoc(), dys[0], getInput()));
  return success();
}

LogicalResult RsqrtOp::buildVjp(OpBuilder &b, ValueRange dys,
                                SmallVectorImpl<Value> &dxs) {
  // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3.
  Location loc = getLoc();
  Value y = getResult();
  Value y3 = MulOp::create(b, loc, MulOp::create(b, loc, y, y), y);
  Value half = splat(b, loc, getType(), -0.5);
  dxs.push_back(MulOp::create(b, loc, dys[0], MulOp::create(b, loc, y3, half)));
  return success();
}

LogicalResult SigmoidOp::buildVjp(OpBuilder &b, ValueRange dys,
                                  SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  Value y = getResult();
  Value oneMinus = SubOp::create(b, loc, splat(b, loc, getType(), 1.0), y);
  dxs.push_back(MulOp::create(b, loc, dys[0], MulOp::create(b, loc, y, oneMinus)));
  return success();
}

LogicalResult SiluOp::buildVjp(OpBuilder &b, ValueRange dys,
                               SmallVectorImpl<Value> &dxs) {
  // silu'(x) = s * (1 + x * (1 - s)), s = sigmoid(x).
  Location loc = getLoc();
  Value x = getInput(), s = SigmoidOp::create(b, loc, x);
  Value one = splat(b, loc, getType(), 1.0);
  Value inner = AddOp::create(
      b, loc, one, MulOp::create(b, loc, x, SubOp::create(b, loc, one, s)));
  dxs.push_back(MulOp::create(b, loc, dys[0], MulOp::create(b, loc, s, inner)));
  return success();
}

LogicalResult SelectOp::buildVjp(OpBuilder &b, ValueRange dys,
                                 SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  Value zero = zerosLike(b, loc, dys[0]);
  dxs.push_back(Value());
  dxs.push_back(SelectOp::create(b, loc, getCondition(), dys[0], zero));
  dxs.push_back(SelectOp::create(b, loc, getCondition(), zero, dys[0]));
  return success();
}

/// sum(dy * x) as a scalar of `scaleType`: the cotangent of a scale
/// that multiplies every element of x.
static Value scaleCotangent(OpBuilder &b, Location loc, Value dy, Value x,
                            Type scaleType) {
  Value prod = MulOp::create(b, loc, dy, x);
  auto type = tensorType(prod);
  if (type.getRank() > 0) {
    SmallVector<int64_t> dims;
    for (int64_t d = 0; d < type.getRank(); ++d)
      dims.push_back(d);
    prod = ReduceOp::create(b, loc, ReduceKind::sum, prod, dims);
  }
  if (prod.getType() != scaleType)
    prod = CastOp::create(b, loc, scaleType, prod);
  return prod;
}

LogicalResult ScaleOp::buildVjp(OpBuilder &b, ValueRange dys,
                                SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  dxs.push_back(ScaleOp::create(b, loc, dys[0], getScale()));
  dxs.push_back(
      scaleCotangent(b, loc, dys[0], getInput(), getScale().getType()));
  return success();
}

LogicalResult UnscaleOp::buildVjp(OpBuilder &b, ValueRange dys,
                                  SmallVectorImpl<Value> &dxs) {
  // y = x / s: dx = dy / s, ds = -sum(dy * y) / s.
  Location loc = getLoc();
  dxs.push_back(UnscaleOp::create(b, loc, dys[0], getScale()));
  Value ds = scaleCotangent(b, loc, dys[0], getResult(), getScale().getType());
  dxs.push_back(NegOp::create(b, loc, DivOp::create(b, loc, ds, getScale())));
  return success();
}

LogicalResult FakeQuantOp::buildVjp(OpBuilder &b, ValueRange dys,
                                    SmallVectorImpl<Value> &dxs) {
  // Straight-through estimator.
  dxs.push_back(dys[0]);
  return success();
}

//===----------------------------------------------------------------------===//
// Tensor basics
//===----------------------------------------------------------------------===//

LogicalResult CastOp::buildVjp(OpBuilder &b, ValueRange dys,
                               SmallVectorImpl<Value> &dxs) {
  if (!isa<FloatType>(getInput().getType().getElementType())) {
    dxs.push_back(Value());
    return success();
  }
  dxs.push_back(CastOp::create(b, getLoc(), getInput().getType(), dys[0]));
  return success();
}

LogicalResult ReshapeOp::buildVjp(OpBuilder &b, ValueRange dys,
                                  SmallVectorImpl<Value> &dxs) {
  dxs.push_back(ReshapeOp::create(b, getLoc(), getInput().getType(), dys[0]));
  return success();
}

LogicalResult TransposeOp::buildVjp(OpBuilder &b, ValueRange dys,
                                    SmallVectorImpl<Value> &dxs) {
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  dxs.push_back(TransposeOp::create(b, getLoc(), dys[0], inverse));
  return success();
}

LogicalResult BroadcastOp::buildVjp(OpBuilder &b, ValueRange dys,
                                    SmallVectorImpl<Value> &dxs) {
  auto in = getInput().getType();
  auto outType = getType();
  ArrayRef<int64_t> dims = getDims();
  SmallVector<int64_t> summed;
  for (int64_t d = 0; d < outType.getRank(); ++d) {
    auto it = llvm::find(dims, d);
    if (it == dims.end() ||
        (in.getDimSize(it - dims.begin()) == 1 && outType.getDimSize(d) != 1))
      summed.push_back(d);
  }
  dxs.push_back(sumTo(b, getLoc(), dys[0], summed, in));
  return success();
}

LogicalResult SliceOp::buildVjp(OpBuilder &b, ValueRange dys,
                                SmallVectorImpl<Value> &dxs) {
  auto in = getInput().getType();
  auto outType = getType();
  ArrayRef<int64_t> start = getStart();
  SmallVector<int64_t> strides(in.getRank(), 1), high, interior;
  if (auto s = getStrides())
    strides.assign(s->begin(), s->end());
  for (int64_t d = 0; d < in.getRank(); ++d) {
    int64_t n = outType.getDimSize(d);
    int64_t last = n ? start[d] + (n - 1) * strides[d] + 1 : start[d];
    high.push_back(in.getDimSize(d) - last);
    interior.push_back(n ? strides[d] - 1 : 0);
  }
  bool anyInterior = llvm::any_of(interior, [](int64_t i) { return i != 0; });
  dxs.push_back(PadOp::create(
      b, getLoc(), dys[0], start, high,
      anyInterior ? b.getDenseI64ArrayAttr(interior) : DenseI64ArrayAttr()));
  return success();
}

LogicalResult PadOp::buildVjp(OpBuilder &b, ValueRange dys,
                              SmallVectorImpl<Value> &dxs) {
  auto in = getInput().getType();
  ArrayRef<int64_t> low = getLow();
  SmallVector<int64_t> strides(in.getRank(), 1), limit;
  if (auto s = getInterior())
    for (auto [d, i] : llvm::enumerate(*s))
      strides[d] = i + 1;
  for (int64_t d = 0; d < in.getRank(); ++d)
    limit.push_back(low[d] + (in.getDimSize(d) - 1) * strides[d] + 1);
  dxs.push_back(SliceOp::create(b, getLoc(), dys[0], low, limit,
                                b.getDenseI64ArrayAttr(strides)));
  return success();
}

LogicalResult ConcatOp::buildVjp(OpBuilder &b, ValueRange dys,
                                 SmallVectorImpl<Value> &dxs) {
  int64_t dim = getDimAttr().getInt(), offset = 0;
  auto outType = getType();
  for (Value input : getInputs()) {
    auto type = tensorType(input);
    SmallVector<int64_t> start(outType.getRank(), 0),
        limit(outType.getShape());
    start[dim] = offset;
    limit[dim] = offset + type.getDimSize(dim);
    offset += type.getDimSize(dim);
    dxs.push_back(SliceOp::create(b, getLoc(), dys[0], start, limit, nullptr));
  }
  return success();
}

LogicalResult GatherOp::buildVjp(OpBuilder &b, ValueRange dys,
                                 SmallVectorImpl<Value> &dxs) {
  dxs.push_back(ScatterAddOp::create(b, getLoc(), getInput().getType(), dys[0],
                                     getIndices(), getDimAttr()));
  dxs.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::buildVjp(OpBuilder &b, ValueRange dys,
                                 SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  auto in = getInput().getType();
  ArrayRef<int64_t> dims = getDims();
  Value dy = broadcastBack(b, loc, dys[0], in, dims);
  switch (getKind()) {
  case ReduceKind::sum:
    dxs.push_back(dy);
    break;
  case ReduceKind::mean: {
    int64_t count = 1;
    for (int64_t d : dims)
      count *= in.getDimSize(d);
    dxs.push_back(MulOp::create(b, loc, dy, splat(b, loc, in, 1.0 / count)));
    break;
  }
  case ReduceKind::max: {
    // The cotangent goes to every element equal to the maximum.
    Value max = broadcastBack(b, loc, getResult(), in, dims);
    Value mask = CompareOp::create(b, loc, ComparePredicate::eq, getInput(), max);
    dxs.push_back(SelectOp::create(b, loc, mask, dy, zerosLike(b, loc, dy)));
    break;
  }
  }
  return success();
}

LogicalResult SoftmaxOp::buildVjp(OpBuilder &b, ValueRange dys,
                                  SmallVectorImpl<Value> &dxs) {
  // dx = y * (dy - sum(dy * y)).
  Location loc = getLoc();
  int64_t dim = getDimAttr().getInt();
  Value y = getResult();
  Value dot = ReduceOp::create(b, loc, ReduceKind::sum,
                               MulOp::create(b, loc, dys[0], y),
                               ArrayRef<int64_t>{dim});
  Value centered =
      SubOp::create(b, loc, dys[0], broadcastBack(b, loc, dot, getType(), dim));
  dxs.push_back(MulOp::create(b, loc, y, centered));
  return success();
}

LogicalResult LogSoftmaxOp::buildVjp(OpBuilder &b, ValueRange dys,
                                     SmallVectorImpl<Value> &dxs) {
  // dx = dy - softmax(x) * sum(dy).
  Location loc = getLoc();
  int64_t dim = getDimAttr().getInt();
  Value sum = ReduceOp::create(b, loc, ReduceKind::sum, dys[0],
                               ArrayRef<int64_t>{dim});
  Value p = ExpOp::create(b, loc, getResult());
  dxs.push_back(SubOp::create(
      b, loc, dys[0],
      MulOp::create(b, loc, p, broadcastBack(b, loc, sum, getType(), dim))));
  return success();
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::buildVjp(OpBuilder &b, ValueRange dys,
                                    SmallVectorImpl<Value> &dxs) {
  dxs.push_back(ScatterAddOp::create(b, getLoc(), getTable().getType(), dys[0],
                                     getIds(), b.getI64IntegerAttr(0)));
  dxs.push_back(Value());
  return success();
}

LogicalResult RmsNormOp::buildVjp(OpBuilder &b, ValueRange dys,
                                  SmallVectorImpl<Value> &dxs) {
  auto grad = RmsNormGradOp::create(b, getLoc(), getInput(), getWeight(),
                                    dys[0], getEpsAttr());
  dxs.append({grad.getDInput(), grad.getDWeight()});
  return success();
}

LogicalResult MatmulOp::buildVjp(OpBuilder &b, ValueRange dys,
                                 SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  Value a = getLhs(), w = getRhs(), dc = dys[0];
  bool ta = getTransposeLhs(), tb = getTransposeRhs();
  RankedTensorType aType = tensorType(a), bType = tensorType(w);

  // d lhs: dC op(B)^T, laid out like lhs. A shared rank-2 rhs must stay on
  // the right, so a transposed lhs gets (dC op(B)^T)^T.
  bool sharedRhs = bType.getRank() == 2 && aType.getRank() > 2;
  Value da;
  if (!ta) {
    da = MatmulOp::create(b, loc, dc, w, /*transpose_lhs=*/false,
                          /*transpose_rhs=*/!tb);
  } else if (!sharedRhs) {
    da = MatmulOp::create(b, loc, w, dc, /*transpose_lhs=*/tb,
                          /*transpose_rhs=*/true);
  } else {
    Value daT = MatmulOp::create(b, loc, dc, w, /*transpose_lhs=*/false,
                                 /*transpose_rhs=*/!tb);
    SmallVector<int64_t> perm;
    for (int64_t d = 0; d < aType.getRank(); ++d)
      perm.push_back(d);
    std::swap(perm[aType.getRank() - 1], perm[aType.getRank() - 2]);
    da = TransposeOp::create(b, loc, daT, perm);
  }

  // d rhs: op(A)^T dC, laid out like rhs; a shared rank-2 rhs sums over the
  // batch, which folds into the rows of a rank-2 product.
  if (sharedRhs) {
    int64_t rank = aType.getRank();
    if (ta) {
      SmallVector<int64_t> perm;
      for (int64_t d = 0; d < rank; ++d)
        perm.push_back(d);
      std::swap(perm[rank - 1], perm[rank - 2]);
      a = TransposeOp::create(b, loc, a, perm);
      aType = tensorType(a);
    }
    int64_t k = aType.getShape().back();
    int64_t rows = aType.getNumElements() / k;
    auto dcType = tensorType(dc);
    int64_t n = dcType.getShape().back();
    a = ReshapeOp::create(b, loc,
                          RankedTensorType::get({rows, k}, aType.getElementType()),
                          a);
    dc = ReshapeOp::create(
        b, loc, RankedTensorType::get({rows, n}, dcType.getElementType()), dc);
    ta = false;
  }
  Value db = tb ? MatmulOp::create(b, loc, dc, a, /*transpose_lhs=*/true,
                                   /*transpose_rhs=*/ta)
                : MatmulOp::create(b, loc, a, dc, /*transpose_lhs=*/!ta,
                                   /*transpose_rhs=*/false);
  dxs.append({da, db});
  return success();
}

LogicalResult RopeOp::buildVjp(OpBuilder &b, ValueRange dys,
                               SmallVectorImpl<Value> &dxs) {
  auto inverse = cast<RopeOp>(b.clone(*getOperation()));
  inverse->setOperands({dys[0], getPositions()});
  inverse.setInverse(!getInverse());
  dxs.push_back(inverse.getResult());
  dxs.push_back(Value());
  return success();
}

LogicalResult AttentionOp::buildVjp(OpBuilder &b, ValueRange dys,
                                    SmallVectorImpl<Value> &dxs) {
  auto grad = AttentionGradOp::create(b, getLoc(), getQuery(), getKey(),
                                      getValue(), dys[0], getSegmentIds(),
                                      getCausalAttr(), getScaleAttr());
  dxs.append({grad.getDQuery(), grad.getDKey(), grad.getDValue()});
  if (getSegmentIds())
    dxs.push_back(Value());
  return success();
}

LogicalResult CrossEntropyOp::buildVjp(OpBuilder &b, ValueRange dys,
                                       SmallVectorImpl<Value> &dxs) {
  auto grad = CrossEntropyGradOp::create(b, getLoc(), getLogits(), getTargets(),
                                         dys[0], getMask(),
                                         getIgnoreIndexAttr());
  dxs.append({grad.getResult(), Value()});
  if (getMask())
    dxs.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Mixture of experts
//===----------------------------------------------------------------------===//

LogicalResult RouterOp::buildVjp(OpBuilder &b, ValueRange dys,
                                 SmallVectorImpl<Value> &dxs) {
  Value dWeights = dys[0], dScores = dys[2];
  if (!dWeights && !dScores) {
    dxs.push_back(Value());
  } else {
    if (!dWeights)
      dWeights = zerosLike(b, getLoc(), getWeights());
    dxs.push_back(RouterGradOp::create(b, getLoc(), getScoringAttr(),
                                       getLogits(), getIndices(), dWeights,
                                       dScores, getRouteScaleAttr(),
                                       getNormTopkProbAttr()));
  }
  // The bias only steers the selection: no gradient.
  if (getBias())
    dxs.push_back(Value());
  return success();
}

LogicalResult MoeDispatchOp::buildVjp(OpBuilder &b, ValueRange dys,
                                      SmallVectorImpl<Value> &dxs) {
  // Dispatch copies rows; its transpose sums the copies back per token,
  // which is a combine with unit weights.
  Location loc = getLoc();
  auto idxType = getIndices().getType();
  Value ones = splat(
      b, loc,
      RankedTensorType::get(idxType.getShape(), getInput().getType().getElementType()),
      1.0);
  dxs.push_back(MoeCombineOp::create(b, loc, dys[0], ones, getIndices(),
                                     getNumExpertsAttr(), getPolicyAttr(),
                                     getCapacityAttr()));
  dxs.push_back(Value());
  return success();
}

LogicalResult GroupedMatmulOp::buildVjp(OpBuilder &b, ValueRange dys,
                                        SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  bool t = getTransposeRhs();
  dxs.push_back(GroupedMatmulOp::create(b, loc, dys[0], getWeight(),
                                        getGroupSizes(), !t));
  dxs.push_back(GroupedMatmulWgradOp::create(b, loc, getWeight().getType(),
                                             getInput(), dys[0],
                                             getGroupSizes(), t));
  dxs.push_back(Value());
  return success();
}

LogicalResult MoeCombineOp::buildVjp(OpBuilder &b, ValueRange dys,
                                     SmallVectorImpl<Value> &dxs) {
  auto grad = MoeCombineGradOp::create(
      b, getLoc(), getRows(), getWeights(), getIndices(), dys[0],
      getNumExpertsAttr(), getPolicyAttr(), getCapacityAttr());
  dxs.append({grad.getDRows(), grad.getDWeights(), Value()});
  return success();
}

LogicalResult BalanceLossOp::buildVjp(OpBuilder &b, ValueRange dys,
                                      SmallVectorImpl<Value> &dxs) {
  dxs.push_back(BalanceLossGradOp::create(b, getLoc(), getScores(),
                                          getIndices(), dys[0], getAlphaAttr()));
  dxs.push_back(Value());
  return success();
}
