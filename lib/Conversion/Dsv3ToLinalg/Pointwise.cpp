//===- Pointwise.cpp - elementwise dsv3 ops to linalg.generic -------------===//
//
// Each elementwise op becomes one parallel linalg.generic over its result
// shape; 0-d operands (a loss scale) are read at every point. Upstream
// elementwise fusion later merges chains of these into single loops.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::dsv3;

Value mlir::dsv3::truncateFloat(OpBuilder &b, Location loc, Value v, Type to) {
  if (!(v.getType().isF64() && to.isBF16()))
    return arith::TruncFOp::create(b, loc, to, v);
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  Value f = arith::TruncFOp::create(b, loc, f32, v);
  Value back = arith::ExtFOp::create(b, loc, b.getF64Type(), f);
  // Unordered too: NaN stays NaN (its mantissa only gains a bit).
  Value inexact =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, back, v);
  Value roundedUp = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OGT, math::AbsFOp::create(b, loc, back),
      math::AbsFOp::create(b, loc, v));
  Value bits = arith::BitcastOp::create(b, loc, i32, f);
  Value one = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));
  Value towardZero = arith::SelectOp::create(
      b, loc, roundedUp, arith::SubIOp::create(b, loc, bits, one), bits);
  Value odd = arith::SelectOp::create(
      b, loc, inexact, arith::OrIOp::create(b, loc, towardZero, one), bits);
  return arith::TruncFOp::create(b, loc, to,
                                 arith::BitcastOp::create(b, loc, f32, odd));
}

namespace {

/// Converts scalar `v` to `to` (float widths, float <-> signed int, i1).
Value convertScalar(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  auto fromFloat = dyn_cast<FloatType>(from), toFloat = dyn_cast<FloatType>(to);
  if (fromFloat && toFloat)
    return fromFloat.getWidth() < toFloat.getWidth()
               ? Value(arith::ExtFOp::create(b, loc, to, v))
               : truncateFloat(b, loc, v, to);
  if (fromFloat)
    return to.isInteger(1)
               ? Value(arith::CmpFOp::create(
                     b, loc, arith::CmpFPredicate::UNE, v,
                     arith::ConstantOp::create(b, loc, b.getFloatAttr(from, 0))))
               : Value(arith::FPToSIOp::create(b, loc, to, v));
  if (toFloat)
    return from.isInteger(1) ? Value(arith::UIToFPOp::create(b, loc, to, v))
                             : Value(arith::SIToFPOp::create(b, loc, to, v));
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (fw < tw)
    return from.isInteger(1) ? Value(arith::ExtUIOp::create(b, loc, to, v))
                             : Value(arith::ExtSIOp::create(b, loc, to, v));
  return arith::TruncIOp::create(b, loc, to, v);
}

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Type t = x.getType();
  Value one = arith::ConstantOp::create(b, loc, b.getFloatAttr(t, 1.0));
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one, arith::AddFOp::create(b, loc, one, e));
}

/// The scalar computation of each elementwise op.
Value scalarOf(Operation *op, OpBuilder &b, Location loc, ValueRange args,
               Type elementType) {
  bool isFloat = isa<FloatType>(elementType);
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case<AddOp>([&](auto) -> Value {
        return isFloat ? Value(arith::AddFOp::create(b, loc, args[0], args[1]))
                       : Value(arith::AddIOp::create(b, loc, args[0], args[1]));
      })
      .Case<SubOp>([&](auto) -> Value {
        return isFloat ? Value(arith::SubFOp::create(b, loc, args[0], args[1]))
                       : Value(arith::SubIOp::create(b, loc, args[0], args[1]));
      })
      .Case<MulOp>([&](auto) -> Value {
        return isFloat ? Value(arith::MulFOp::create(b, loc, args[0], args[1]))
                       : Value(arith::MulIOp::create(b, loc, args[0], args[1]));
      })
      .Case<DivOp>([&](auto) -> Value {
        return isFloat ? Value(arith::DivFOp::create(b, loc, args[0], args[1]))
                       : Value(arith::DivSIOp::create(b, loc, args[0], args[1]));
      })
      .Case<NegOp>([&](auto) -> Value {
        return arith::NegFOp::create(b, loc, args[0]);
      })
      .Case<ExpOp>(
          [&](auto) -> Value { return math::ExpOp::create(b, loc, args[0]); })
      .Case<LogOp>(
          [&](auto) -> Value { return math::LogOp::create(b, loc, args[0]); })
      .Case<RsqrtOp>([&](auto) -> Value {
        return math::RsqrtOp::create(b, loc, args[0]);
      })
      .Case<SigmoidOp>([&](auto) { return sigmoid(b, loc, args[0]); })
      .Case<SiluOp>([&](auto) -> Value {
        return arith::MulFOp::create(b, loc, args[0], sigmoid(b, loc, args[0]));
      })
      .Case<SelectOp>([&](auto) -> Value {
        return arith::SelectOp::create(b, loc, args[0], args[1], args[2]);
      })
      .Case<CompareOp>([&](CompareOp c) -> Value {
        bool operandFloat = isa<FloatType>(args[0].getType());
        using P = ComparePredicate;
        if (operandFloat) {
          arith::CmpFPredicate p = arith::CmpFPredicate::OEQ;
          switch (c.getPredicate()) {
          case P::eq: p = arith::CmpFPredicate::OEQ; break;
          case P::ne: p = arith::CmpFPredicate::UNE; break;
          case P::lt: p = arith::CmpFPredicate::OLT; break;
          case P::le: p = arith::CmpFPredicate::OLE; break;
          case P::gt: p = arith::CmpFPredicate::OGT; break;
          case P::ge: p = arith::CmpFPredicate::OGE; break;
          }
          return arith::CmpFOp::create(b, loc, p, args[0], args[1]);
        }
        arith::CmpIPredicate p = arith::CmpIPredicate::eq;
        switch (c.getPredicate()) {
        case P::eq: p = arith::CmpIPredicate::eq; break;
        case P::ne: p = arith::CmpIPredicate::ne; break;
        case P::lt: p = arith::CmpIPredicate::slt; break;
        case P::le: p = arith::CmpIPredicate::sle; break;
        case P::gt: p = arith::CmpIPredicate::sgt; break;
        case P::ge: p = arith::CmpIPredicate::sge; break;
        }
        return arith::CmpIOp::create(b, loc, p, args[0], args[1]);
      })
      .Case<CastOp>(
          [&](auto) { return convertScalar(b, loc, args[0], elementType); })
      .Case<ScaleOp>([&](auto) -> Value {
        Value s = convertScalar(b, loc, args[1], elementType);
        return arith::MulFOp::create(b, loc, args[0], s);
      })
      .Case<UnscaleOp>([&](auto) -> Value {
        Value s = convertScalar(b, loc, args[1], elementType);
        return arith::DivFOp::create(b, loc, args[0], s);
      })
      .Default([](Operation *) { return Value(); });
}

template <typename OpTy>
struct PointwiseToGeneric : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;

  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    Location loc = op.getLoc();
    int64_t rank = resultType.getRank();
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineMap> maps;
    for (Value operand : adaptor.getOperands())
      maps.push_back(cast<RankedTensorType>(operand.getType()).getRank() == 0
                         ? AffineMap::get(rank, 0, ctx)
                         : rewriter.getMultiDimIdentityMap(rank));
    maps.push_back(rewriter.getMultiDimIdentityMap(rank));
    Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                         resultType.getElementType());
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    Operation *source = op.getOperation();
    bool failedBody = false;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType, adaptor.getOperands(), init, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value v = scalarOf(source, b, l, args.drop_back(),
                             resultType.getElementType());
          failedBody |= !v;
          linalg::YieldOp::create(b, l, v ? v : args.back());
        });
    if (failedBody)
      return rewriter.notifyMatchFailure(op, "no scalar form");
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3PointwiseToLinalgPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<PointwiseToGeneric<AddOp>, PointwiseToGeneric<SubOp>,
               PointwiseToGeneric<MulOp>, PointwiseToGeneric<DivOp>,
               PointwiseToGeneric<NegOp>, PointwiseToGeneric<ExpOp>,
               PointwiseToGeneric<LogOp>, PointwiseToGeneric<RsqrtOp>,
               PointwiseToGeneric<SigmoidOp>, PointwiseToGeneric<SiluOp>,
               PointwiseToGeneric<SelectOp>, PointwiseToGeneric<CompareOp>,
               PointwiseToGeneric<CastOp>, PointwiseToGeneric<ScaleOp>,
               PointwiseToGeneric<UnscaleOp>>(context);
}
