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

/// Reduces every dimension of `input` with `combine` from `initial` to a
/// scalar of `elementType`, each element mapped by `map` first.
Value reduceAll(OpBuilder &b, Location loc, Value input, Type elementType,
                TypedAttr initial,
                function_ref<Value(OpBuilder &, Location, Value, Value)>
                    combine) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                        elementType);
  Value start = arith::ConstantOp::create(b, loc, initial);
  Value init = linalg::FillOp::create(b, loc, start, empty).getResult(0);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, b.getContext())};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::reduction);
  Value reduced =
      linalg::GenericOp::create(
          b, loc, init.getType(), input, init, maps, iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(nb, l, combine(nb, l, args[0], args[1]));
          })
          .getResult(0);
  return tensor::ExtractOp::create(b, loc, reduced, ValueRange{});
}

/// The bits of |x| as a signed integer of its width: ordered as |x| is.
Value magnitudeBits(OpBuilder &b, Location loc, Value x) {
  Type bits = b.getIntegerType(x.getType().getIntOrFloatBitWidth());
  return arith::BitcastOp::create(b, loc, bits, absOf(b, loc, x));
}

/// The k-th smallest |x| is found bit by bit: the smallest T with at least
/// k elements whose magnitude bits are <= T, by bisection over the bit
/// patterns (31 counting passes for f32). Then keep |x| bits > T.
struct MagnitudeMaskToLinalg : OpConversionPattern<MagnitudeMaskOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(MagnitudeMaskOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value input = adaptor.getInput();
    auto type = cast<RankedTensorType>(input.getType());
    unsigned width = type.getElementType().getIntOrFloatBitWidth();
    Type bitsType = b.getIntegerType(width), i64 = b.getI64Type(),
         f64 = b.getF64Type();
    int64_t n = type.getNumElements();

    // k = floor(clamp(fraction, 0, 1) * n).
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
        math::FloorOp::create(
            b, loc,
            arith::MulFOp::create(b, loc, fraction,
                                  f64Const(static_cast<double>(n)))));
    Value zero64 = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value any =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, k, zero64);
    int64_t top = width == 32 ? 0x7fffffffLL : 0x7fffffffffffffffLL;
    auto search = scf::IfOp::create(
        b, loc, any,
        [&](OpBuilder &tb, Location l) {
          Value lo = arith::ConstantOp::create(tb, l,
                                               tb.getIntegerAttr(bitsType, 0));
          Value hi = arith::ConstantOp::create(
              tb, l, tb.getIntegerAttr(bitsType, top));
          Value lb = arith::ConstantIndexOp::create(tb, l, 0);
          Value ub = arith::ConstantIndexOp::create(tb, l, width - 1);
          Value stepOne = arith::ConstantIndexOp::create(tb, l, 1);
          auto loop = scf::ForOp::create(
              tb, l, lb, ub, stepOne, ValueRange{lo, hi},
              [&](OpBuilder &fb, Location fl, Value, ValueRange bounds) {
                Value one = arith::ConstantOp::create(
                    fb, fl, fb.getIntegerAttr(bitsType, 1));
                Value mid = arith::AddIOp::create(
                    fb, fl, bounds[0],
                    arith::ShRUIOp::create(
                        fb, fl,
                        arith::SubIOp::create(fb, fl, bounds[1], bounds[0]),
                        one));
                Value count = reduceAll(
                    fb, fl, input, i64, fb.getI64IntegerAttr(0),
                    [&](OpBuilder &rb, Location rl, Value x, Value acc) {
                      Value le = arith::CmpIOp::create(
                          rb, rl, arith::CmpIPredicate::sle,
                          magnitudeBits(rb, rl, x), mid);
                      return arith::AddIOp::create(
                          rb, rl, acc,
                          arith::ExtUIOp::create(rb, rl, rb.getI64Type(), le));
                    });
                Value enough = arith::CmpIOp::create(
                    fb, fl, arith::CmpIPredicate::sge, count, k);
                Value newLo = arith::SelectOp::create(
                    fb, fl, enough, bounds[0],
                    arith::AddIOp::create(fb, fl, mid, one));
                Value newHi =
                    arith::SelectOp::create(fb, fl, enough, mid, bounds[1]);
                scf::YieldOp::create(fb, fl, ValueRange{newLo, newHi});
              });
          scf::YieldOp::create(tb, l, loop.getResult(1));
        },
        [&](OpBuilder &eb, Location l) {
          scf::YieldOp::create(
              eb, l,
              ValueRange{arith::ConstantOp::create(
                  eb, l, eb.getIntegerAttr(bitsType, -1))});
        });
    Value threshold = search.getResult(0);

    int64_t rank = type.getRank();
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(), b.getI1Type());
    SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto mask = linalg::GenericOp::create(
        b, loc, init.getType(), input, init, maps, iterators,
        [&](OpBuilder &gb, Location l, ValueRange args) {
          linalg::YieldOp::create(
              gb, l,
              ValueRange{arith::CmpIOp::create(
                  gb, l, arith::CmpIPredicate::sgt,
                  magnitudeBits(gb, l, args[0]), threshold)});
        });
    rewriter.replaceOp(op, mask.getResults());
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
