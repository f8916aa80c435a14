//===- Sparsity.cpp - masks and fake quantization to linalg ---------------===//
//
// The ops dsv3-sparsify places: the 2:4 mask as one parallel generic over
// groups of four, the magnitude mask as a bisection over the bits of |x|
// (exact, and independent of how a reduction is split), and fake
// quantization as a max-reduction followed by one elementwise generic.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

Value absOf(OpBuilder &b, Location loc, Value v) {
  return math::AbsFOp::create(b, loc, v);
}

/// `[..., K]` as `[..., K/4, 4]`.
Value groupsOfFour(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> shape(type.getShape());
  shape.back() /= 4;
  shape.push_back(4);
  SmallVector<ReassociationIndices> groups;
  for (int64_t d = 0; d + 1 < rank; ++d)
    groups.push_back({d});
  groups.push_back({rank - 1, rank});
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), t, groups);
}

/// Element `j` of a group is kept when fewer than two of the others come
/// before it in the order (larger magnitude first, lower position on a
/// tie): the interpreter's two largest, ties to the lower index.
struct Prune24ToGeneric : OpConversionPattern<Prune24Op> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(Prune24Op op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getMask().getType());
    Value grouped = groupsOfFour(rewriter, loc, adaptor.getInput());
    auto groupedType = cast<RankedTensorType>(grouped.getType());
    int64_t rank = groupedType.getRank();
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineMap> maps;
    for (int64_t c = 0; c < 4; ++c) {
      SmallVector<AffineExpr> exprs;
      for (int64_t d = 0; d + 1 < rank; ++d)
        exprs.push_back(rewriter.getAffineDimExpr(d));
      exprs.push_back(rewriter.getAffineConstantExpr(c));
      maps.push_back(AffineMap::get(rank, 0, exprs, ctx));
    }
    maps.push_back(rewriter.getMultiDimIdentityMap(rank));
    Value init = tensor::EmptyOp::create(rewriter, loc, groupedType.getShape(),
                                         rewriter.getI1Type());
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    SmallVector<Value> operands(4, grouped);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, init.getType(), operands, init, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value a[4];
          for (int c = 0; c < 4; ++c)
            a[c] = absOf(b, l, args[c]);
          Type i32 = b.getI32Type();
          Value one = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(1));
          Value zero = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0));
          Value keep[4];
          for (int c = 0; c < 4; ++c) {
            Value before = zero;
            for (int d = 0; d < 4; ++d) {
              if (d == c)
                continue;
              Value ahead = arith::CmpFOp::create(
                  b, l,
                  d < c ? arith::CmpFPredicate::OGE : arith::CmpFPredicate::OGT,
                  a[d], a[c]);
              before = arith::AddIOp::create(
                  b, l, before, arith::SelectOp::create(b, l, ahead, one, zero));
            }
            keep[c] = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::slt, before,
                arith::ConstantOp::create(b, l, b.getIntegerAttr(i32, 2)));
          }
          Value j = linalg::IndexOp::create(b, l, rank - 1);
          Value result = keep[3];
          for (int c = 2; c >= 0; --c) {
            Value isC = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::eq, j,
                arith::ConstantIndexOp::create(b, l, c));
            result = arith::SelectOp::create(b, l, isC, keep[c], result);
          }
          linalg::YieldOp::create(b, l, result);
        });
    SmallVector<ReassociationIndices> groups;
    for (int64_t d = 0; d + 2 < rank; ++d)
      groups.push_back({d});
    groups.push_back({rank - 2, rank - 1});
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, resultType, generic.getResult(0), groups);
    return success();
  }
};

/// The bits of |x| as a signed integer of its width: ordered as |x| is.
Value magnitudeBits(OpBuilder &b, Location loc, Value x) {
  Type bits = b.getIntegerType(x.getType().getIntOrFloatBitWidth());
  return arith::BitcastOp::create(b, loc, bits, absOf(b, loc, x));
}

/// `t` as `[B, M]`: the first `batchDims` dimensions collapsed into B (1
/// when there are none), the others into M.
Value asMatrix(OpBuilder &b, Location loc, Value t, int64_t batchDims) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t rank = type.getRank();
  Type elem = type.getElementType();
  if (batchDims == 0) {
    Value flat = t;
    if (rank != 1) {
      ReassociationIndices all;
      for (int64_t d = 0; d < rank; ++d)
        all.push_back(d);
      flat = tensor::CollapseShapeOp::create(
          b, loc, RankedTensorType::get({type.getNumElements()}, elem), t,
          SmallVector<ReassociationIndices>{all});
    }
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({1, type.getNumElements()}, elem), flat,
        SmallVector<ReassociationIndices>{{0, 1}});
  }
  ReassociationIndices lead, rest;
  int64_t rows = 1;
  for (int64_t d = 0; d < rank; ++d) {
    (d < batchDims ? lead : rest).push_back(d);
    if (d < batchDims)
      rows *= type.getDimSize(d);
  }
  return tensor::CollapseShapeOp::create(
      b, loc,
      RankedTensorType::get({rows, type.getNumElements() / rows}, elem), t,
      SmallVector<ReassociationIndices>{lead, rest});
}

/// The inverse of asMatrix for a `[B, M]` value, back to `type`'s shape.
Value fromMatrix(OpBuilder &b, Location loc, Value m, RankedTensorType type,
                 int64_t batchDims) {
  int64_t rank = type.getRank();
  if (batchDims == 0) {
    auto flatType = RankedTensorType::get({type.getNumElements()},
                                          type.getElementType());
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, flatType, m, SmallVector<ReassociationIndices>{{0, 1}});
    if (rank == 1)
      return flat;
    ReassociationIndices all;
    for (int64_t d = 0; d < rank; ++d)
      all.push_back(d);
    return tensor::ExpandShapeOp::create(b, loc, type, flat,
                                         SmallVector<ReassociationIndices>{all});
  }
  ReassociationIndices lead, rest;
  for (int64_t d = 0; d < rank; ++d)
    (d < batchDims ? lead : rest).push_back(d);
  return tensor::ExpandShapeOp::create(
      b, loc, type, m, SmallVector<ReassociationIndices>{lead, rest});
}

/// The k-th smallest |x| of each row of `[B, M]` is found bit by bit: the
/// smallest T with at least k elements whose magnitude bits are <= T, by
/// bisection over the bit patterns (31 counting passes for f32). Then keep
/// |x| bits > T.
struct MagnitudeMaskToLinalg : OpConversionPattern<MagnitudeMaskOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(MagnitudeMaskOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto type = cast<RankedTensorType>(adaptor.getInput().getType());
    int64_t batchDims = op.getBatchDims();
    Value input = asMatrix(b, loc, adaptor.getInput(), batchDims);
    auto matrix = cast<RankedTensorType>(input.getType());
    int64_t rows = matrix.getDimSize(0), n = matrix.getDimSize(1);
    unsigned width = type.getElementType().getIntOrFloatBitWidth();
    Type bitsType = b.getIntegerType(width), i64 = b.getI64Type(),
         f64 = b.getF64Type();
    MLIRContext *ctx = b.getContext();

    // k = ceil(clamp(fraction, 0, 1) * n), per row.
    Value fraction =
        tensor::ExtractOp::create(b, loc, adaptor.getFraction(), ValueRange{});
    if (fraction.getType() != f64)
      fraction = arith::ExtFOp::create(b, loc, f64, fraction);
    auto f64Const = [&](double v) {
      return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v));
    };
    fraction = arith::MaximumFOp::create(
        b, loc, arith::MinimumFOp::create(b, loc, fraction, f64Const(1.0)),
        f64Const(0.0));
    Value k = arith::FPToSIOp::create(
        b, loc, i64,
        math::CeilOp::create(
            b, loc,
            arith::MulFOp::create(b, loc, fraction,
                                  f64Const(static_cast<double>(n)))));
    Value zero64 = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value any =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, k, zero64);

    auto rowsOf = [&](OpBuilder &fb, Location l, Type elem, int64_t value) {
      Value empty = tensor::EmptyOp::create(fb, l, ArrayRef<int64_t>{rows}, elem);
      Value v = arith::ConstantOp::create(fb, l, fb.getIntegerAttr(elem, value));
      return linalg::FillOp::create(fb, l, v, empty).getResult(0);
    };
    AffineMap id1 = b.getMultiDimIdentityMap(1), id2 = b.getMultiDimIdentityMap(2);
    AffineMap row = AffineMap::get(2, 0, {b.getAffineDimExpr(0)}, ctx);
    auto par1 = SmallVector<utils::IteratorType>{utils::IteratorType::parallel};
    int64_t top = width == 32 ? 0x7fffffffLL : 0x7fffffffffffffffLL;

    auto search = scf::IfOp::create(
        b, loc, any,
        [&](OpBuilder &tb, Location l) {
          Value lb = arith::ConstantIndexOp::create(tb, l, 0);
          Value ub = arith::ConstantIndexOp::create(tb, l, width - 1);
          Value stepOne = arith::ConstantIndexOp::create(tb, l, 1);
          auto loop = scf::ForOp::create(
              tb, l, lb, ub, stepOne,
              ValueRange{rowsOf(tb, l, bitsType, 0), rowsOf(tb, l, bitsType, top)},
              [&](OpBuilder &fb, Location fl, Value, ValueRange bounds) {
                Value mid =
                    linalg::GenericOp::create(
                        fb, fl, bounds[0].getType(), bounds,
                        Value(tensor::EmptyOp::create(
                            fb, fl, ArrayRef<int64_t>{rows}, bitsType)),
                        SmallVector<AffineMap>{id1, id1, id1}, par1,
                        [&](OpBuilder &gb, Location gl, ValueRange a) {
                          Value one = arith::ConstantOp::create(
                              gb, gl, gb.getIntegerAttr(bitsType, 1));
                          linalg::YieldOp::create(
                              gb, gl,
                              ValueRange{arith::AddIOp::create(
                                  gb, gl, a[0],
                                  arith::ShRUIOp::create(
                                      gb, gl,
                                      arith::SubIOp::create(gb, gl, a[1], a[0]),
                                      one))});
                        })
                        .getResult(0);
                Value count =
                    linalg::GenericOp::create(
                        fb, fl, RankedTensorType::get({rows}, i64),
                        ValueRange{input, mid}, rowsOf(fb, fl, i64, 0),
                        SmallVector<AffineMap>{id2, row, row},
                        SmallVector<utils::IteratorType>{
                            utils::IteratorType::parallel,
                            utils::IteratorType::reduction},
                        [&](OpBuilder &gb, Location gl, ValueRange a) {
                          Value le = arith::CmpIOp::create(
                              gb, gl, arith::CmpIPredicate::sle,
                              magnitudeBits(gb, gl, a[0]), a[1]);
                          linalg::YieldOp::create(
                              gb, gl,
                              ValueRange{arith::AddIOp::create(
                                  gb, gl, a[2],
                                  arith::ExtUIOp::create(gb, gl, i64, le))});
                        })
                        .getResult(0);
                // The bounds are updated in place (what the loop carries).
                Type boundsType = bounds[0].getType();
                auto next = linalg::GenericOp::create(
                    fb, fl, TypeRange{boundsType, boundsType},
                    ValueRange{mid, count}, ValueRange{bounds[0], bounds[1]},
                    SmallVector<AffineMap>(4, id1), par1,
                    [&](OpBuilder &gb, Location gl, ValueRange a) {
                      Value one = arith::ConstantOp::create(
                          gb, gl, gb.getIntegerAttr(bitsType, 1));
                      Value enough = arith::CmpIOp::create(
                          gb, gl, arith::CmpIPredicate::sge, a[1], k);
                      Value lo = arith::SelectOp::create(
                          gb, gl, enough, a[2],
                          arith::AddIOp::create(gb, gl, a[0], one));
                      Value hi = arith::SelectOp::create(gb, gl, enough, a[0], a[3]);
                      linalg::YieldOp::create(gb, gl, ValueRange{lo, hi});
                    });
                scf::YieldOp::create(fb, fl, next.getResults());
              });
          scf::YieldOp::create(tb, l, loop.getResult(1));
        },
        [&](OpBuilder &eb, Location l) {
          scf::YieldOp::create(eb, l, rowsOf(eb, l, bitsType, -1));
        });
    Value threshold = search.getResult(0);

    Value init = tensor::EmptyOp::create(b, loc, matrix.getShape(), b.getI1Type());
    auto mask = linalg::GenericOp::create(
        b, loc, init.getType(), ValueRange{input, threshold}, init,
        SmallVector<AffineMap>{id2, row, id2},
        SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
        [&](OpBuilder &gb, Location l, ValueRange args) {
          linalg::YieldOp::create(
              gb, l,
              ValueRange{arith::CmpIOp::create(
                  gb, l, arith::CmpIPredicate::sgt,
                  magnitudeBits(gb, l, args[0]), args[1])});
        });
    rewriter.replaceOp(
        op, fromMatrix(b, loc, mask.getResult(0),
                       RankedTensorType::get(type.getShape(), b.getI1Type()),
                       batchDims));
    return success();
  }
};

/// amax over the tensor (or each row), then
/// clamp(roundeven(x / s), -q, q) * s with s = amax / q (1 when amax is 0).
struct FakeQuantToLinalg : OpConversionPattern<FakeQuantOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(FakeQuantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value input = adaptor.getInput();
    auto type = cast<RankedTensorType>(input.getType());
    Type elem = type.getElementType();
    int64_t rank = type.getRank();
    bool perRow = op.getPerRow() && rank > 0;
    MLIRContext *ctx = b.getContext();

    // The maximum magnitude: per row (the last dimension reduced) or over
    // the tensor (every dimension).
    SmallVector<int64_t> scaleShape;
    SmallVector<AffineExpr> kept;
    SmallVector<utils::IteratorType> iterators;
    for (int64_t d = 0; d < rank; ++d) {
      bool reduced = !perRow || d == rank - 1;
      iterators.push_back(reduced ? utils::IteratorType::reduction
                                  : utils::IteratorType::parallel);
      if (!reduced) {
        kept.push_back(b.getAffineDimExpr(d));
        scaleShape.push_back(type.getDimSize(d));
      }
    }
    AffineMap scaleMap = AffineMap::get(rank, 0, kept, ctx);
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, 0.0));
    Value empty = tensor::EmptyOp::create(b, loc, scaleShape, elem);
    Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    Value amax =
        linalg::GenericOp::create(
            b, loc, init.getType(), input, init,
            SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank), scaleMap},
            iterators,
            [&](OpBuilder &nb, Location l, ValueRange args) {
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{arith::MaximumFOp::create(
                      nb, l, args[1], absOf(nb, l, args[0]))});
            })
            .getResult(0);

    double q = std::ldexp(1.0, op.getBitsAttr().getInt() - 1) - 1;
    Value out = tensor::EmptyOp::create(b, loc, type.getShape(), elem);
    SmallVector<utils::IteratorType> parallel(rank,
                                              utils::IteratorType::parallel);
    auto quantized = linalg::GenericOp::create(
        b, loc, type, ValueRange{input, amax}, out,
        SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank), scaleMap,
                               b.getMultiDimIdentityMap(rank)},
        parallel, [&](OpBuilder &nb, Location l, ValueRange args) {
          auto c = [&](double v) {
            return arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, v));
          };
          Value positive = arith::CmpFOp::create(
              nb, l, arith::CmpFPredicate::OGT, args[1], c(0.0));
          Value s = arith::SelectOp::create(
              nb, l, positive, arith::DivFOp::create(nb, l, args[1], c(q)),
              c(1.0));
          Value r = math::RoundEvenOp::create(
              nb, l, arith::DivFOp::create(nb, l, args[0], s));
          r = arith::MaximumFOp::create(
              nb, l, c(-q), arith::MinimumFOp::create(nb, l, c(q), r));
          linalg::YieldOp::create(nb, l,
                                  ValueRange{arith::MulFOp::create(nb, l, r, s)});
        });
    rewriter.replaceOp(op, quantized.getResults());
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3SparsityToLinalgPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<Prune24ToGeneric, MagnitudeMaskToLinalg, FakeQuantToLinalg>(
      context);
}
