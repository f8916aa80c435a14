//===- Fp8.cpp - fp8 quantization to linalg -------------------------------===//
//
// quantize as a max-reduction into the scales' shape (the tile or block of
// an element found by `floordiv 128` in the indexing map, so partial tiles
// need no padding) followed by one elementwise generic; dequantize as one
// elementwise generic; transpose_quantized as a dequantizing transpose
// into f32 followed by a quantize. fp8 values are built and read bit by
// bit with integer arithmetic: no target has to convert fp8 itself, so the
// CPU and the GPU give the interpreter's values exactly.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The map from an element of a `rank` tensor to its scale under `layout`.
AffineMap scaleMap(MLIRContext *ctx, int64_t rank, ScaleLayout layout) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d) {
    AffineExpr e = getAffineDimExpr(d, ctx);
    bool tiled = d == rank - 1 ||
                 (layout == ScaleLayout::block_128x128 && d == rank - 2);
    exprs.push_back(tiled ? e.floorDiv(128) : e);
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

Value f32Constant(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}
Value i32Constant(OpBuilder &b, Location loc, int32_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}

/// `v` (f32, |v| <= 448 or NaN) as E4M3FN, rounded to nearest even: the
/// three mantissa bits of a normal value by the usual carry trick on the
/// f32 bits, a subnormal (below 2^-6) as roundeven(|v| * 2^9) units of
/// 2^-9, whose count 8 is also the bit pattern of 2^-6. A NaN is 0x7f.
Value encodeE4M3(OpBuilder &b, Location loc, Value v, Type f8Type) {
  Type i32 = b.getI32Type(), i8 = b.getI8Type();
  auto c = [&](int32_t x) { return i32Constant(b, loc, x); };
  Value bits = arith::BitcastOp::create(b, loc, i32, v);
  Value sign = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, c(24)), c(0x80));
  Value magnitude = math::AbsFOp::create(b, loc, v);
  Value magBits = arith::AndIOp::create(b, loc, bits, c(0x7fffffff));
  // Normal: round the mantissa to 3 bits, then rebias 127 -> 7.
  Value lsb = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, magBits, c(20)), c(1));
  Value rounded = arith::AddIOp::create(
      b, loc, magBits, arith::AddIOp::create(b, loc, lsb, c(0x7ffff)));
  Value normal = arith::SubIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, rounded, c(20)), c(120 << 3));
  // Subnormal: units of 2^-9.
  Value units = math::RoundEvenOp::create(
      b, loc,
      arith::MulFOp::create(b, loc, magnitude, f32Constant(b, loc, 0x1p9f)));
  Value subnormal = arith::FPToSIOp::create(b, loc, i32, units);
  Value isSubnormal =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, magnitude,
                            f32Constant(b, loc, 0x1p-6f));
  Value code = arith::SelectOp::create(b, loc, isSubnormal, subnormal, normal);
  Value isNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, v, v);
  code = arith::SelectOp::create(b, loc, isNaN, c(0x7f), code);
  code = arith::OrIOp::create(b, loc, code, sign);
  return arith::BitcastOp::create(b, loc, f8Type,
                                  arith::TruncIOp::create(b, loc, i8, code));
}

/// E4M3FN `q` as f32, exactly.
Value decodeE4M3(OpBuilder &b, Location loc, Value q) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto c = [&](int32_t x) { return i32Constant(b, loc, x); };
  Value byte = arith::BitcastOp::create(b, loc, b.getI8Type(), q);
  Value bits = arith::ExtUIOp::create(b, loc, i32, byte);
  Value sign = arith::ShLIOp::create(
      b, loc, arith::AndIOp::create(b, loc, bits, c(0x80)), c(24));
  Value exponent = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, c(3)), c(15));
  Value mantissa = arith::AndIOp::create(b, loc, bits, c(7));
  // Normal: rebias 7 -> 127.
  Value normal = arith::OrIOp::create(
      b, loc,
      arith::ShLIOp::create(
          b, loc, arith::AddIOp::create(b, loc, exponent, c(120)), c(23)),
      arith::ShLIOp::create(b, loc, mantissa, c(20)));
  // Subnormal: mantissa units of 2^-9 (exact in f32).
  Value subnormal = arith::BitcastOp::create(
      b, loc, i32,
      arith::MulFOp::create(b, loc,
                            arith::UIToFPOp::create(b, loc, f32, mantissa),
                            f32Constant(b, loc, 0x1p-9f)));
  Value isSubnormal =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, exponent, c(0));
  Value isNaN = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::eq,
      arith::AndIOp::create(b, loc, bits, c(0x7f)), c(0x7f));
  Value magnitude =
      arith::SelectOp::create(b, loc, isSubnormal, subnormal, normal);
  magnitude = arith::SelectOp::create(b, loc, isNaN, c(0x7fc00000), magnitude);
  return arith::BitcastOp::create(
      b, loc, f32, arith::OrIOp::create(b, loc, magnitude, sign));
}

/// `v` in f32 (exact for narrower floats; rounded once for f64).
Value toF32(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  unsigned width = v.getType().getIntOrFloatBitWidth();
  if (width < 32)
    return arith::ExtFOp::create(b, loc, f32, v);
  if (width > 32)
    return arith::TruncFOp::create(b, loc, f32, v);
  return v;
}

/// `x` quantized to `qType` with scales of `scalesType` under `layout`.
std::pair<Value, Value> buildQuantize(OpBuilder &b, Location loc, Value x,
                                      ScaleLayout layout,
                                      RankedTensorType qType,
                                      RankedTensorType scalesType) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elem = type.getElementType();
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap toScale = scaleMap(ctx, rank, layout);
  constexpr double maxValue = 448; // E4M3FN

  // amax per tile or block; maxnumf skips a NaN as the interpreter's
  // maximum does (the NaN itself still quantizes to NaN). First per 1x128
  // tile, parallel over the rows; for blocks, then over each 128 rows of
  // those, parallel over the tile columns: no loop runs over a whole
  // matrix on one GPU thread.
  auto reduceInto = [&](Value input, ArrayRef<int64_t> outShape,
                        AffineMap inMap, AffineMap outMap,
                        ArrayRef<utils::IteratorType> iterators) {
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, 0.0));
    Value empty = tensor::EmptyOp::create(b, loc, outShape, elem);
    Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    return linalg::GenericOp::create(
               b, loc, init.getType(), input, init,
               SmallVector<AffineMap>{inMap, outMap}, iterators,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, l,
                     ValueRange{arith::MaxNumFOp::create(
                         nb, l, args[1],
                         math::AbsFOp::create(nb, l, args[0]))});
               })
        .getResult(0);
  };
  SmallVector<int64_t> tileShape =
      getScaleShape(type.getShape(), ScaleLayout::tile_1x128);
  SmallVector<utils::IteratorType> tileIterators(rank,
                                                 utils::IteratorType::parallel);
  tileIterators.back() = utils::IteratorType::reduction;
  Value amax =
      reduceInto(x, tileShape, identity,
                 scaleMap(ctx, rank, ScaleLayout::tile_1x128), tileIterators);
  if (layout == ScaleLayout::block_128x128) {
    // Loops (batch..., tile column, row): the rows of a block reduce.
    SmallVector<AffineExpr> read, write;
    for (int64_t d = 0; d + 2 < rank; ++d) {
      read.push_back(b.getAffineDimExpr(d));
      write.push_back(b.getAffineDimExpr(d));
    }
    AffineExpr column = b.getAffineDimExpr(rank - 2);
    AffineExpr row = b.getAffineDimExpr(rank - 1);
    read.append({row, column});
    write.append({row.floorDiv(128), column});
    SmallVector<utils::IteratorType> blockIterators(
        rank, utils::IteratorType::parallel);
    blockIterators.back() = utils::IteratorType::reduction;
    amax = reduceInto(amax, scalesType.getShape(),
                      AffineMap::get(rank, 0, read, ctx),
                      AffineMap::get(rank, 0, write, ctx), blockIterators);
  }

  // scale = max(amax / max in f32, 2^-126) (1 for an all-zero tile).
  int64_t scaleRank = scalesType.getRank();
  AffineMap scaleIdentity = b.getMultiDimIdentityMap(scaleRank);
  Value scalesInit = tensor::EmptyOp::create(b, loc, scalesType.getShape(),
                                             scalesType.getElementType());
  Value scales =
      linalg::GenericOp::create(
          b, loc, scalesType, amax, scalesInit,
          SmallVector<AffineMap>{scaleIdentity, scaleIdentity},
          SmallVector<utils::IteratorType>(scaleRank,
                                           utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value a = args[0];
            Value positive = arith::CmpFOp::create(
                nb, l, arith::CmpFPredicate::OGT, a,
                arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, 0.0)));
            // f64 divides in f64 and rounds once; narrower floats widen
            // exactly to f32 first.
            Value s =
                a.getType().getIntOrFloatBitWidth() > 32
                    ? toF32(nb, l,
                            arith::DivFOp::create(
                                nb, l, a,
                                arith::ConstantOp::create(
                                    nb, l,
                                    nb.getFloatAttr(a.getType(), maxValue))))
                    : Value(
                          arith::DivFOp::create(nb, l, toF32(nb, l, a),
                                                f32Constant(nb, l, maxValue)));
            // No smaller than the least normal f32: an amax so small that
            // amax / 448 underflows must not divide by zero.
            s = arith::MaximumFOp::create(nb, l, s,
                                          f32Constant(nb, l, 0x1p-126f));
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::SelectOp::create(nb, l, positive, s,
                                                   f32Constant(nb, l, 1.0f))});
          })
          .getResult(0);

  // q = x / scale in f32 (f64 inputs divide in f64 and round once), then
  // saturated and rounded to fp8.
  Value qInit =
      tensor::EmptyOp::create(b, loc, qType.getShape(), qType.getElementType());
  Value q =
      linalg::GenericOp::create(
          b, loc, qType, ValueRange{x, scales}, qInit,
          SmallVector<AffineMap>{identity, toScale, identity},
          SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value v = args[0], s = args[1];
            Value quotient;
            if (v.getType().getIntOrFloatBitWidth() > 32)
              quotient = toF32(
                  nb, l,
                  arith::DivFOp::create(
                      nb, l, v, arith::ExtFOp::create(nb, l, v.getType(), s)));
            else
              quotient = arith::DivFOp::create(nb, l, toF32(nb, l, v), s);
            Value bound = f32Constant(nb, l, maxValue);
            Value clamped = arith::MaximumFOp::create(
                nb, l, arith::NegFOp::create(nb, l, bound),
                arith::MinimumFOp::create(nb, l, bound, quotient));
            linalg::YieldOp::create(
                nb, l,
                ValueRange{encodeE4M3(nb, l, clamped, qType.getElementType())});
          })
          .getResult(0);
  return {q, scales};
}

/// `q * scale` in f32, rounded to `resultType`'s element type; with
/// `transposed` the result swaps `q`'s last two dimensions.
Value buildDequantize(OpBuilder &b, Location loc, Value q, Value scales,
                      ScaleLayout layout, RankedTensorType resultType,
                      bool transposed) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = resultType.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap toScale = scaleMap(ctx, rank, layout);
  AffineMap read = identity;
  if (transposed) {
    // Loops over the result [..., K, M]; the input is [..., M, K].
    SmallVector<unsigned> swap = llvm::to_vector(llvm::seq<unsigned>(0, rank));
    std::swap(swap[rank - 1], swap[rank - 2]);
    read = AffineMap::getPermutationMap(swap, ctx);
    toScale = toScale.compose(read);
  }
  Type elem = resultType.getElementType();
  Value init = tensor::EmptyOp::create(b, loc, resultType.getShape(), elem);
  return linalg::GenericOp::create(
             b, loc, resultType, ValueRange{q, scales}, init,
             SmallVector<AffineMap>{read, toScale, identity},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value q = decodeE4M3(nb, l, args[0]), s = args[1];
               unsigned width = elem.getIntOrFloatBitWidth();
               // An f64 result keeps the exact product.
               if (width > 32) {
                 q = arith::ExtFOp::create(nb, l, elem, q);
                 s = arith::ExtFOp::create(nb, l, elem, s);
               }
               Value v = arith::MulFOp::create(nb, l, q, s);
               if (width < 32)
                 v = arith::TruncFOp::create(nb, l, elem, v);
               linalg::YieldOp::create(nb, l, ValueRange{v});
             })
      .getResult(0);
}

struct QuantizeToLinalg : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    RankedTensorType qType = op.getResult().getType();
    auto [q, scales] =
        buildQuantize(rewriter, op.getLoc(), adaptor.getInput(), op.getLayout(),
                      qType, op.getScales().getType());
    rewriter.replaceOp(op, {q, scales});
    return success();
  }
};

struct DequantizeToLinalg : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, buildDequantize(rewriter, op.getLoc(), adaptor.getInput(),
                            adaptor.getScales(), op.getLayout(),
                            op.getResult().getType(), op.getTransposed()));
    return success();
  }
};

struct TransposeQuantizedToLinalg : OpConversionPattern<TransposeQuantizedOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(TransposeQuantizedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    RankedTensorType qType = op.getResult().getType();
    Location loc = op.getLoc();
    Value transposed = buildDequantize(
        rewriter, loc, adaptor.getInput(), adaptor.getScales(),
        ScaleLayout::tile_1x128, qType.clone(rewriter.getF32Type()), true);
    auto [q, scales] =
        buildQuantize(rewriter, loc, transposed, ScaleLayout::tile_1x128, qType,
                      op.getResultScales().getType());
    rewriter.replaceOp(op, {q, scales});
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3Fp8ToLinalgPatterns(MLIRContext *context,
                                                 RewritePatternSet &patterns) {
  patterns
      .add<QuantizeToLinalg, DequantizeToLinalg, TransposeQuantizedToLinalg>(
          context);
}
