//===- Layers.cpp - norms, embedding and gather, loss, RoPE to linalg -----===//
//
// Row-wise layers become a reduction generic for the row statistics and a
// parallel generic that reads them; lookups read their table with
// tensor.extract inside a generic's body.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

void yieldValue(OpBuilder &b, Location loc, Value v) {
  linalg::YieldOp::create(b, loc, v);
}

Value constantF(OpBuilder &b, Location loc, Type type, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, v));
}

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Type elem, double v) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, elem);
  return linalg::FillOp::create(b, loc, constantF(b, loc, elem, v), empty)
      .getResult(0);
}

/// Identity map over `rank` loops, and the map dropping the last loop.
AffineMap identity(OpBuilder &b, int64_t rank) {
  return b.getMultiDimIdentityMap(rank);
}
AffineMap dropLast(OpBuilder &b, int64_t rank) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d + 1 < rank; ++d)
    exprs.push_back(b.getAffineDimExpr(d));
  return AffineMap::get(rank, 0, exprs, b.getContext());
}
AffineMap onlyLast(OpBuilder &b, int64_t rank) {
  return AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1), b.getContext());
}
SmallVector<utils::IteratorType> iterators(int64_t rank, bool reduceLast) {
  SmallVector<utils::IteratorType> it(rank, utils::IteratorType::parallel);
  if (reduceLast)
    it.back() = utils::IteratorType::reduction;
  return it;
}

Value asIndex(OpBuilder &b, Location loc, Value v) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

/// rsqrt(ss / h + eps), the inverse RMS of a row.
Value inverseRms(OpBuilder &b, Location loc, Value ss, int64_t h, double eps) {
  Type t = ss.getType();
  Value mean = arith::DivFOp::create(b, loc, ss, constantF(b, loc, t, h));
  return math::RsqrtOp::create(
      b, loc, arith::AddFOp::create(b, loc, mean, constantF(b, loc, t, eps)));
}

/// Sum over the last dimension of f(args) for a [..., H] iteration.
Value rowSum(OpBuilder &b, Location loc, ValueRange inputs,
             ArrayRef<AffineMap> inputMaps, RankedTensorType rowType,
             int64_t rank,
             function_ref<Value(OpBuilder &, Location, ValueRange)> f) {
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(dropLast(b, rank));
  Value init = filledTensor(b, loc, rowType.getShape(),
                            rowType.getElementType(), 0.0);
  return linalg::GenericOp::create(
             b, loc, rowType, inputs, init, maps, iterators(rank, true),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value v = f(nb, l, args.drop_back());
               yieldValue(
                   nb, l, arith::AddFOp::create(nb, l, v, args.back()));
             })
      .getResult(0);
}

struct RmsNormToLinalg : OpConversionPattern<RmsNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RmsNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    int64_t rank = type.getRank(), h = type.getShape().back();
    double eps = op.getEps().convertToDouble();
    auto rowType = RankedTensorType::get(type.getShape().drop_back(),
                                         type.getElementType());
    Value x = adaptor.getInput();
    Value ss = rowSum(b, loc, x, identity(b, rank), rowType, rank,
                      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                        return arith::MulFOp::create(nb, l, a[0], a[0]);
                      });
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                         type.getElementType());
    Value y =
        linalg::GenericOp::create(
            b, loc, type, ValueRange{x, ss, adaptor.getWeight()}, init,
            ArrayRef<AffineMap>{identity(b, rank), dropLast(b, rank),
                                onlyLast(b, rank), identity(b, rank)},
            iterators(rank, false),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value inv = inverseRms(nb, l, a[1], h, eps);
              Value v = arith::MulFOp::create(
                  nb, l, arith::MulFOp::create(nb, l, a[0], inv), a[2]);
              yieldValue(nb, l, v);
            })
            .getResult(0);
    b.replaceOp(op, y);
    return success();
  }
};

struct RmsNormGradToLinalg : OpConversionPattern<RmsNormGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RmsNormGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getDInput().getType());
    int64_t rank = type.getRank(), h = type.getShape().back();
    double eps = op.getEps().convertToDouble();
    auto rowType = RankedTensorType::get(type.getShape().drop_back(),
                                         type.getElementType());
    Value x = adaptor.getInput(), w = adaptor.getWeight(),
          dy = adaptor.getDResult();
    AffineMap id = identity(b, rank), last = onlyLast(b, rank),
              row = dropLast(b, rank);
    Value ss = rowSum(b, loc, x, id, rowType, rank,
                      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                        return arith::MulFOp::create(nb, l, a[0], a[0]);
                      });
    // gx = sum(dy * w * x) per row.
    Value gx = rowSum(
        b, loc, ValueRange{dy, w, x}, {id, last, id}, rowType, rank,
        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(
              nb, l, arith::MulFOp::create(nb, l, a[0], a[1]), a[2]);
        });
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                         type.getElementType());
    Value dx =
        linalg::GenericOp::create(
            b, loc, type, ValueRange{x, w, dy, ss, gx}, init,
            ArrayRef<AffineMap>{id, last, id, row, row, id},
            iterators(rank, false),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Type t = a[0].getType();
              Value inv = inverseRms(nb, l, a[3], h, eps);
              Value g = arith::MulFOp::create(nb, l, a[2], a[1]);
              // inv * (g - x * inv^2 * gx / h)
              Value c = arith::DivFOp::create(
                  nb, l,
                  arith::MulFOp::create(
                      nb, l, arith::MulFOp::create(nb, l, inv, inv), a[4]),
                  constantF(nb, l, t, h));
              Value v = arith::MulFOp::create(
                  nb, l, inv,
                  arith::SubFOp::create(
                      nb, l, g, arith::MulFOp::create(nb, l, a[0], c)));
              yieldValue(nb, l, v);
            })
            .getResult(0);
    // dw[j] = sum over rows of dy * x * inv: every loop but the last reduces.
    auto wType = cast<RankedTensorType>(op.getDWeight().getType());
    SmallVector<utils::IteratorType> it(rank, utils::IteratorType::reduction);
    it.back() = utils::IteratorType::parallel;
    Value dw =
        linalg::GenericOp::create(
            b, loc, wType, ValueRange{dy, x, ss},
            filledTensor(b, loc, wType.getShape(), wType.getElementType(), 0.0),
            ArrayRef<AffineMap>{id, id, row, last}, it,
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value inv = inverseRms(nb, l, a[2], h, eps);
              Value v = arith::MulFOp::create(
                  nb, l, arith::MulFOp::create(nb, l, a[0], a[1]), inv);
              yieldValue(nb, l,
                                      arith::AddFOp::create(nb, l, v, a[3]));
            })
            .getResult(0);
    b.replaceOp(op, {dx, dw});
    return success();
  }
};

/// result[a..., i..., b...] = table[a..., indices[i...], b...] along dim.
Value gatherAlong(OpBuilder &b, Location loc, Value table, Value indices,
                  int64_t dim, RankedTensorType type) {
  int64_t rank = type.getRank();
  auto idxType = cast<RankedTensorType>(indices.getType());
  int64_t idxRank = idxType.getRank();
  SmallVector<AffineExpr> idxExprs;
  for (int64_t d = dim; d < dim + idxRank; ++d)
    idxExprs.push_back(b.getAffineDimExpr(d));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType());
  int64_t tableRank = cast<RankedTensorType>(table.getType()).getRank();
  return linalg::GenericOp::create(
             b, loc, type, indices, init,
             ArrayRef<AffineMap>{
                 AffineMap::get(rank, 0, idxExprs, b.getContext()),
                 identity(b, rank)},
             iterators(rank, false),
             [&](OpBuilder &nb, Location l, ValueRange a) {
               SmallVector<Value> at;
               for (int64_t d = 0; d < dim; ++d)
                 at.push_back(linalg::IndexOp::create(nb, l, d));
               at.push_back(asIndex(nb, l, a[0]));
               for (int64_t d = dim + 1; d < tableRank; ++d)
                 at.push_back(linalg::IndexOp::create(nb, l, d - 1 + idxRank));
               yieldValue(
                   nb, l, tensor::ExtractOp::create(nb, l, table, at));
             })
      .getResult(0);
}

struct EmbeddingToLinalg : OpConversionPattern<EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    b.replaceOp(op, gatherAlong(b, op.getLoc(), adaptor.getTable(),
                                adaptor.getIds(), 0, op.getType()));
    return success();
  }
};

struct GatherToLinalg : OpConversionPattern<GatherOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    b.replaceOp(op, gatherAlong(b, op.getLoc(), adaptor.getInput(),
                                adaptor.getIndices(), op.getDimAttr().getInt(),
                                op.getType()));
    return success();
  }
};

/// Per-token statistics of cross entropy: the row max, the sum of
/// exp(logit - max), and each token's weight (0 for the ignore index).
struct TokenStats {
  Value max, sum, weight, weightSum;
};

TokenStats tokenStats(OpBuilder &b, Location loc, Value logits, Value targets,
                      Value mask, int64_t ignore, Type acc) {
  auto lType = cast<RankedTensorType>(logits.getType());
  int64_t rank = lType.getRank();
  auto rowType = RankedTensorType::get(lType.getShape().drop_back(),
                                       lType.getElementType());
  AffineMap id = identity(b, rank), row = dropLast(b, rank);
  TokenStats s;
  s.max = linalg::GenericOp::create(
              b, loc, rowType, logits,
              filledTensor(b, loc, rowType.getShape(), rowType.getElementType(),
                           -std::numeric_limits<double>::infinity()),
              ArrayRef<AffineMap>{id, row}, iterators(rank, true),
              [](OpBuilder &nb, Location l, ValueRange a) {
                yieldValue(
                    nb, l, arith::MaximumFOp::create(nb, l, a[0], a[1]));
              })
              .getResult(0);
  s.sum = rowSum(b, loc, ValueRange{logits, s.max}, {id, row}, rowType, rank,
                 [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                   return math::ExpOp::create(
                       nb, l, arith::SubFOp::create(nb, l, a[0], a[1]));
                 });
  // weight = (target != ignore) * mask, in the accumulation type.
  auto tType = cast<RankedTensorType>(targets.getType());
  int64_t trank = tType.getRank();
  auto wType = RankedTensorType::get(tType.getShape(), acc);
  SmallVector<Value> inputs = {targets};
  if (mask)
    inputs.push_back(mask);
  SmallVector<AffineMap> maps(inputs.size() + 1, identity(b, trank));
  Value init = tensor::EmptyOp::create(b, loc, tType.getShape(), acc);
  s.weight =
      linalg::GenericOp::create(
          b, loc, wType, inputs, init, maps, iterators(trank, false),
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value ignoreValue = arith::ConstantOp::create(
                nb, l, nb.getIntegerAttr(a[0].getType(), ignore));
            Value counted = arith::CmpIOp::create(
                nb, l, arith::CmpIPredicate::ne, a[0], ignoreValue);
            Value w = arith::UIToFPOp::create(nb, l, acc, counted);
            if (mask) {
              Value m = a[1];
              if (m.getType() != acc)
                m = arith::ExtFOp::create(nb, l, acc, m);
              w = arith::MulFOp::create(nb, l, w, m);
            }
            yieldValue(nb, l, w);
          })
          .getResult(0);
  auto scalarType = RankedTensorType::get({}, acc);
  SmallVector<AffineExpr> none;
  s.weightSum =
      linalg::GenericOp::create(
          b, loc, scalarType, s.weight, filledTensor(b, loc, {}, acc, 0.0),
          ArrayRef<AffineMap>{identity(b, trank),
                              AffineMap::get(trank, 0, none, b.getContext())},
          SmallVector<utils::IteratorType>(trank,
                                           utils::IteratorType::reduction),
          [](OpBuilder &nb, Location l, ValueRange a) {
            yieldValue(nb, l,
                                    arith::AddFOp::create(nb, l, a[0], a[1]));
          })
          .getResult(0);
  return s;
}

/// The logit of the target (index 0 for ignored tokens: weighted by 0).
Value targetLogit(OpBuilder &b, Location loc, Value logits, Value target,
                  int64_t ignore, ValueRange tokenIndex) {
  Value ignoreValue = arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(target.getType(), ignore));
  Value isIgnored = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          target, ignoreValue);
  Value zero =
      arith::ConstantOp::create(b, loc, b.getIntegerAttr(target.getType(), 0));
  Value safe = arith::SelectOp::create(b, loc, isIgnored, zero, target);
  SmallVector<Value> at(tokenIndex);
  at.push_back(asIndex(b, loc, safe));
  return tensor::ExtractOp::create(b, loc, logits, at);
}

struct CrossEntropyToLinalg : OpConversionPattern<CrossEntropyOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CrossEntropyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Type acc = op.getType().getElementType();
    Value logits = adaptor.getLogits(), targets = adaptor.getTargets();
    int64_t ignore = op.getIgnoreIndexAttr().getInt();
    TokenStats s = tokenStats(b, loc, logits, targets, adaptor.getMask(),
                              ignore, acc);
    auto tType = cast<RankedTensorType>(targets.getType());
    int64_t trank = tType.getRank();
    SmallVector<AffineExpr> none;
    // sum over tokens of w * (max + log(sum) - logit[target]).
    Value total =
        linalg::GenericOp::create(
            b, loc, op.getType(), ValueRange{targets, s.max, s.sum, s.weight},
            filledTensor(b, loc, {}, acc, 0.0),
            ArrayRef<AffineMap>{identity(b, trank), identity(b, trank),
                                identity(b, trank), identity(b, trank),
                                AffineMap::get(trank, 0, none, b.getContext())},
            SmallVector<utils::IteratorType>(trank,
                                             utils::IteratorType::reduction),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              SmallVector<Value> token;
              for (int64_t d = 0; d < trank; ++d)
                token.push_back(linalg::IndexOp::create(nb, l, d));
              Value logit = targetLogit(nb, l, logits, a[0], ignore, token);
              Value lse = arith::AddFOp::create(
                  nb, l, a[1], math::LogOp::create(nb, l, a[2]));
              Value nll = arith::SubFOp::create(nb, l, lse, logit);
              if (nll.getType() != acc)
                nll = arith::ExtFOp::create(nb, l, acc, nll);
              Value v = arith::MulFOp::create(nb, l, nll, a[3]);
              yieldValue(nb, l,
                                      arith::AddFOp::create(nb, l, v, a[4]));
            })
            .getResult(0);
    // total / weightSum, or 0 when nothing is counted.
    Value loss =
        linalg::GenericOp::create(
            b, loc, op.getType(), ValueRange{total, s.weightSum},
            Value(tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, acc)),
            ArrayRef<AffineMap>{AffineMap::get(b.getContext()),
                                AffineMap::get(b.getContext()),
                                AffineMap::get(b.getContext())},
            ArrayRef<utils::IteratorType>{},
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value zero = constantF(nb, l, acc, 0.0);
              Value positive = arith::CmpFOp::create(
                  nb, l, arith::CmpFPredicate::OGT, a[1], zero);
              Value q = arith::DivFOp::create(nb, l, a[0], a[1]);
              yieldValue(
                  nb, l, arith::SelectOp::create(nb, l, positive, q, zero));
            })
            .getResult(0);
    b.replaceOp(op, loss);
    return success();
  }
};

struct CrossEntropyGradToLinalg : OpConversionPattern<CrossEntropyGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CrossEntropyGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    Type acc = cast<RankedTensorType>(adaptor.getDLoss().getType())
                   .getElementType();
    Value logits = adaptor.getLogits(), targets = adaptor.getTargets();
    int64_t ignore = op.getIgnoreIndexAttr().getInt();
    TokenStats s = tokenStats(b, loc, logits, targets, adaptor.getMask(),
                              ignore, acc);
    int64_t rank = type.getRank();
    AffineMap id = identity(b, rank), row = dropLast(b, rank),
              scalar = AffineMap::get(rank, 0, {}, b.getContext());
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                         type.getElementType());
    Value grad =
        linalg::GenericOp::create(
            b, loc, type,
            ValueRange{logits, targets, s.max, s.sum, s.weight, s.weightSum,
                       adaptor.getDLoss()},
            init,
            ArrayRef<AffineMap>{id, row, row, row, row, scalar, scalar, id},
            iterators(rank, false),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Type t = a[0].getType();
              Value p = arith::DivFOp::create(
                  nb, l,
                  math::ExpOp::create(nb, l,
                                      arith::SubFOp::create(nb, l, a[0], a[2])),
                  a[3]);
              Value v = linalg::IndexOp::create(nb, l, rank - 1);
              Value isTarget = arith::CmpIOp::create(
                  nb, l, arith::CmpIPredicate::eq, asIndex(nb, l, a[1]), v);
              Value onehot = arith::UIToFPOp::create(nb, l, t, isTarget);
              // c = d_loss * w / W (0 when nothing is counted).
              Value zero = constantF(nb, l, acc, 0.0);
              Value positive = arith::CmpFOp::create(
                  nb, l, arith::CmpFPredicate::OGT, a[5], zero);
              Value c = arith::DivFOp::create(
                  nb, l, arith::MulFOp::create(nb, l, a[6], a[4]), a[5]);
              c = arith::SelectOp::create(nb, l, positive, c, zero);
              if (c.getType() != t)
                c = truncateFloat(nb, l, c, t);
              Value g = arith::MulFOp::create(
                  nb, l, c, arith::SubFOp::create(nb, l, p, onehot));
              yieldValue(nb, l, g);
            })
            .getResult(0);
    b.replaceOp(op, grad);
    return success();
  }
};

struct RopeToLinalg : OpConversionPattern<RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    int64_t rank = type.getRank(), dim = type.getShape().back();
    Type elem = type.getElementType();
    double scale;
    std::vector<double> freq = op.getFrequencies(scale);
    auto freqType = RankedTensorType::get({dim / 2}, b.getF64Type());
    Value table = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(freqType, ArrayRef<double>(freq)));
    bool interleaved = op.getInterleaved();
    double sign = op.getInverse() ? -1.0 : 1.0;
    Value x = adaptor.getInput();
    // cos and sin of each (batch, position, pair) once, in f64 like the
    // reference: every head of that position reads them.
    Value positions = adaptor.getPositions();
    auto posType = cast<RankedTensorType>(positions.getType());
    auto trigType = RankedTensorType::get(
        {posType.getDimSize(0), posType.getDimSize(1), dim / 2},
        b.getF64Type());
    AffineMap trigId = identity(b, 3);
    AffineMap trigPos = AffineMap::get(
        3, 0, {b.getAffineDimExpr(0), b.getAffineDimExpr(1)}, b.getContext());
    AffineMap trigFreq =
        AffineMap::get(3, 0, {b.getAffineDimExpr(2)}, b.getContext());
    auto trigInit = [&] {
      return Value(tensor::EmptyOp::create(b, loc, trigType.getShape(),
                                           b.getF64Type()));
    };
    auto trig = linalg::GenericOp::create(
        b, loc, TypeRange{trigType, trigType}, ValueRange{positions, table},
        ValueRange{trigInit(), trigInit()},
        ArrayRef<AffineMap>{trigPos, trigFreq, trigId, trigId},
        iterators(3, false),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value pos = arith::SIToFPOp::create(nb, l, nb.getF64Type(), a[0]);
          Value angle = arith::MulFOp::create(
              nb, l, arith::MulFOp::create(nb, l, pos, a[1]),
              constantF(nb, l, nb.getF64Type(), sign));
          Value c = arith::MulFOp::create(
              nb, l, math::CosOp::create(nb, l, angle),
              constantF(nb, l, nb.getF64Type(), scale));
          Value s = arith::MulFOp::create(
              nb, l, math::SinOp::create(nb, l, angle),
              constantF(nb, l, nb.getF64Type(), scale));
          linalg::YieldOp::create(nb, l, ValueRange{c, s});
        });
    Value cosines = trig.getResult(0), sines = trig.getResult(1);
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(), elem);
    Value y =
        linalg::GenericOp::create(
            b, loc, type, ValueRange{x}, init,
            ArrayRef<AffineMap>{identity(b, rank), identity(b, rank)},
            iterators(rank, false),
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value j = linalg::IndexOp::create(nb, l, rank - 1);
              auto idx = [&](int64_t v) {
                return arith::ConstantIndexOp::create(nb, l, v);
              };
              // The pair's frequency index, whether j is its first member,
              // and its partner.
              Value i, first, partner;
              if (interleaved) {
                i = arith::DivUIOp::create(nb, l, j, idx(2));
                Value rem = arith::RemUIOp::create(nb, l, j, idx(2));
                first = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                              rem, idx(0));
                partner = arith::SelectOp::create(
                    nb, l, first, arith::AddIOp::create(nb, l, j, idx(1)),
                    arith::SubIOp::create(nb, l, j, idx(1)));
              } else {
                first = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                              j, idx(dim / 2));
                i = arith::SelectOp::create(
                    nb, l, first, j, arith::SubIOp::create(nb, l, j, idx(dim / 2)));
                partner = arith::SelectOp::create(
                    nb, l, first, arith::AddIOp::create(nb, l, j, idx(dim / 2)),
                    arith::SubIOp::create(nb, l, j, idx(dim / 2)));
              }
              SmallVector<Value> at;
              for (int64_t d = 0; d + 1 < rank; ++d)
                at.push_back(linalg::IndexOp::create(nb, l, d));
              at.push_back(partner);
              Value other = tensor::ExtractOp::create(nb, l, x, at);
              SmallVector<Value> pair = {at[0], at[1], i};
              Value c = tensor::ExtractOp::create(nb, l, cosines, pair);
              Value s = tensor::ExtractOp::create(nb, l, sines, pair);
              // first: x c - other s; second: x c + other s.
              Value self = arith::ExtFOp::create(nb, l, nb.getF64Type(), a[0]);
              Value peer = arith::ExtFOp::create(nb, l, nb.getF64Type(), other);
              if (elem.isF64()) {
                self = a[0];
                peer = other;
              }
              Value ps = arith::MulFOp::create(nb, l, peer, s);
              Value xc = arith::MulFOp::create(nb, l, self, c);
              Value v = arith::SelectOp::create(
                  nb, l, first, arith::SubFOp::create(nb, l, xc, ps),
                  arith::AddFOp::create(nb, l, xc, ps));
              if (!elem.isF64())
                v = truncateFloat(nb, l, v, elem);
              yieldValue(nb, l, v);
            })
            .getResult(0);
    b.replaceOp(op, y);
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3LayersToLinalgPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<RmsNormToLinalg, RmsNormGradToLinalg, EmbeddingToLinalg,
               GatherToLinalg, CrossEntropyToLinalg, CrossEntropyGradToLinalg,
               RopeToLinalg>(context);
}
