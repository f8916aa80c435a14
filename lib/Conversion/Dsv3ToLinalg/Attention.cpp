//===- Attention.cpp - attention as GEMMs and a masked softmax ------------===//
//
// dsv3.attention and its gradient are decomposed into dsv3 ops (transpose,
// batched matmul, compare/select masking, softmax, reductions), which the
// other patterns of this conversion then lower. Grouped key/value heads
// are broadcast to the query heads; their gradients are summed back.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

RankedTensorType withShape(Value v, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, typeOf(v).getElementType());
}

Value splat(OpBuilder &b, Location loc, RankedTensorType type, double v) {
  return ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(type, b.getFloatAttr(type.getElementType(), v)));
}

/// [B, S, heads, D] -> [B, heads, S, D].
Value headsFirst(OpBuilder &b, Location loc, Value x) {
  return TransposeOp::create(b, loc, x, ArrayRef<int64_t>{0, 2, 1, 3});
}

/// [B, Hkv, S, D] -> [B, H, S, D], each KV head serving H / Hkv heads.
Value expandHeads(OpBuilder &b, Location loc, Value x, int64_t heads) {
  ArrayRef<int64_t> s = typeOf(x).getShape();
  int64_t group = heads / s[1];
  if (group == 1)
    return x;
  Value r = ReshapeOp::create(b, loc, withShape(x, {s[0], s[1], 1, s[2], s[3]}),
                              x);
  Value bc = BroadcastOp::create(
      b, loc, withShape(x, {s[0], s[1], group, s[2], s[3]}), r,
      ArrayRef<int64_t>{0, 1, 2, 3, 4});
  return ReshapeOp::create(b, loc, withShape(x, {s[0], heads, s[2], s[3]}), bc);
}

/// [B, H, S, D] -> [B, Hkv, S, D], summing each group of heads.
Value sumHeads(OpBuilder &b, Location loc, Value x, int64_t kvHeads) {
  ArrayRef<int64_t> s = typeOf(x).getShape();
  int64_t group = s[1] / kvHeads;
  if (group == 1)
    return x;
  Value r = ReshapeOp::create(
      b, loc, withShape(x, {s[0], kvHeads, group, s[2], s[3]}), x);
  return ReduceOp::create(b, loc, ReduceKind::sum, r, ArrayRef<int64_t>{2});
}

/// Softmax probabilities [B, H, S, S] of scale * q k^T under the mask.
Value probabilities(OpBuilder &b, Location loc, Value qh, Value kh,
                    Value segments, bool causal, double scale) {
  ArrayRef<int64_t> qs = typeOf(qh).getShape(); // [B, H, S, D]
  int64_t batch = qs[0], heads = qs[1], seq = qs[2];
  auto scoreType = withShape(qh, {batch, heads, seq, seq});
  Value scores = MatmulOp::create(b, loc, qh, kh, /*transpose_lhs=*/false,
                                  /*transpose_rhs=*/true);
  scores = MulOp::create(b, loc, scores, splat(b, loc, scoreType, scale));
  auto maskType = RankedTensorType::get({batch, heads, seq, seq}, b.getI1Type());
  Value visible;
  if (causal) {
    // Key j is visible from query i when j <= i.
    SmallVector<bool> lower(seq * seq);
    for (int64_t i = 0; i < seq; ++i)
      for (int64_t j = 0; j < seq; ++j)
        lower[i * seq + j] = j <= i;
    auto square = RankedTensorType::get({seq, seq}, b.getI1Type());
    Value tri = ConstantOp::create(
        b, loc, DenseElementsAttr::get(square, ArrayRef<bool>(lower)));
    visible = BroadcastOp::create(b, loc, maskType, tri,
                                  ArrayRef<int64_t>{2, 3});
  }
  if (segments) {
    auto segType = typeOf(segments);
    auto wide = RankedTensorType::get({batch, heads, seq, seq},
                                      segType.getElementType());
    Value rows = BroadcastOp::create(b, loc, wide, segments,
                                     ArrayRef<int64_t>{0, 2});
    Value cols = BroadcastOp::create(b, loc, wide, segments,
                                     ArrayRef<int64_t>{0, 3});
    Value same = CompareOp::create(b, loc, ComparePredicate::eq, rows, cols);
    visible = visible ? Value(SelectOp::create(
                            b, loc, visible, same,
                            ConstantOp::create(
                                b, loc,
                                DenseElementsAttr::get(maskType, false))))
                      : same;
  }
  if (visible)
    scores = SelectOp::create(
        b, loc, visible, scores,
        splat(b, loc, scoreType, -std::numeric_limits<double>::infinity()));
  return SoftmaxOp::create(b, loc, scores, 3);
}

struct DecomposeAttention : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    int64_t heads = op.getQuery().getType().getDimSize(2);
    Value qh = headsFirst(b, loc, adaptor.getQuery());
    Value kh = expandHeads(b, loc, headsFirst(b, loc, adaptor.getKey()), heads);
    Value vh = expandHeads(b, loc, headsFirst(b, loc, adaptor.getValue()), heads);
    Value p = probabilities(b, loc, qh, kh, adaptor.getSegmentIds(),
                            op.getCausal(), op.getScale().convertToDouble());
    Value o = MatmulOp::create(b, loc, p, vh, false, false);
    b.replaceOp(op, TransposeOp::create(b, loc, o, ArrayRef<int64_t>{0, 2, 1, 3})
                        .getResult());
    return success();
  }
};

struct DecomposeAttentionGrad : OpConversionPattern<AttentionGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    int64_t heads = op.getQuery().getType().getDimSize(2);
    int64_t kvHeads = op.getKey().getType().getDimSize(2);
    double scale = op.getScale().convertToDouble();
    Value qh = headsFirst(b, loc, adaptor.getQuery());
    Value kh = expandHeads(b, loc, headsFirst(b, loc, adaptor.getKey()), heads);
    Value vh = expandHeads(b, loc, headsFirst(b, loc, adaptor.getValue()), heads);
    Value doh = headsFirst(b, loc, adaptor.getDResult());
    Value p = probabilities(b, loc, qh, kh, adaptor.getSegmentIds(),
                            op.getCausal(), scale);
    // dV = P^T dO; dP = dO V^T; dS = P * (dP - rowsum(dP * P)) * scale.
    Value dv = MatmulOp::create(b, loc, p, doh, true, false);
    Value dp = MatmulOp::create(b, loc, doh, vh, false, true);
    Value rowDot = ReduceOp::create(b, loc, ReduceKind::sum,
                                    MulOp::create(b, loc, dp, p),
                                    ArrayRef<int64_t>{3});
    Value centered = SubOp::create(
        b, loc, dp,
        BroadcastOp::create(b, loc, typeOf(dp), rowDot,
                            ArrayRef<int64_t>{0, 1, 2}));
    Value ds = MulOp::create(
        b, loc, MulOp::create(b, loc, p, centered),
        splat(b, loc, typeOf(p), scale));
    // dQ = dS K; dK = dS^T Q.
    Value dq = MatmulOp::create(b, loc, ds, kh, false, false);
    Value dk = MatmulOp::create(b, loc, ds, qh, true, false);
    auto back = [&](Value x) {
      return TransposeOp::create(b, loc, x, ArrayRef<int64_t>{0, 2, 1, 3})
          .getResult();
    };
    b.replaceOp(op, {back(dq), back(sumHeads(b, loc, dk, kvHeads)),
                     back(sumHeads(b, loc, dv, kvHeads))});
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3AttentionDecompositionPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<DecomposeAttention, DecomposeAttentionGrad>(context);
}
