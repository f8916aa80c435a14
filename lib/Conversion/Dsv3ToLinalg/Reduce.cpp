//===- Reduce.cpp - reductions and softmax to linalg.generic --------------===//

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

/// A tensor of `type` filled with `value` (float or integer element).
Value filled(OpBuilder &b, Location loc, RankedTensorType type, double value) {
  Type elem = type.getElementType();
  TypedAttr attr;
  if (isa<FloatType>(elem))
    attr = b.getFloatAttr(elem, value);
  else
    attr = b.getIntegerAttr(elem, value < -1e300
                                      ? std::numeric_limits<int64_t>::min()
                                      : static_cast<int64_t>(value));
  Value scalar = arith::ConstantOp::create(b, loc, attr);
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), elem);
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

/// Reduces `input` over `dims` with `combine` into `init` (whose shape
/// drops those dims).
Value reduceInto(OpBuilder &b, Location loc, Value input, Value init,
                 ArrayRef<int64_t> dims,
                 function_ref<Value(OpBuilder &, Location, Value, Value)>
                     combine) {
  auto inType = cast<RankedTensorType>(input.getType());
  int64_t rank = inType.getRank();
  SmallVector<AffineExpr> kept;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    bool reduced = llvm::is_contained(dims, d);
    iterators.push_back(reduced ? utils::IteratorType::reduction
                                : utils::IteratorType::parallel);
    if (!reduced)
      kept.push_back(b.getAffineDimExpr(d));
  }
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, kept, b.getContext())};
  return linalg::GenericOp::create(
             b, loc, init.getType(), input, init, maps, iterators,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, combine(nb, l, args[0], args[1]));
             })
      .getResult(0);
}

struct ReduceToGeneric : OpConversionPattern<ReduceOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    bool isFloat = isa<FloatType>(type.getElementType());
    bool isMax = op.getKind() == ReduceKind::max;
    Value init = filled(rewriter, loc, type,
                        isMax ? -std::numeric_limits<double>::infinity() : 0.0);
    Value result = reduceInto(
        rewriter, loc, adaptor.getInput(), init, op.getDims(),
        [&](OpBuilder &b, Location l, Value x, Value acc) -> Value {
          if (isMax)
            return isFloat ? Value(arith::MaximumFOp::create(b, l, x, acc))
                           : Value(arith::MaxSIOp::create(b, l, x, acc));
          return isFloat ? Value(arith::AddFOp::create(b, l, x, acc))
                         : Value(arith::AddIOp::create(b, l, x, acc));
        });
    if (op.getKind() == ReduceKind::mean) {
      int64_t count = 1;
      for (int64_t d : op.getDims())
        count *= op.getInput().getType().getDimSize(d);
      int64_t rank = type.getRank();
      SmallVector<AffineMap> maps(2, rewriter.getMultiDimIdentityMap(rank));
      result =
          linalg::GenericOp::create(
              rewriter, loc, type, ValueRange{}, result,
              ArrayRef<AffineMap>(maps).drop_front(),
              SmallVector<utils::IteratorType>(rank,
                                               utils::IteratorType::parallel),
              [&](OpBuilder &b, Location l, ValueRange args) {
                Value n = isFloat
                              ? Value(arith::ConstantOp::create(
                                    b, l, b.getFloatAttr(type.getElementType(),
                                                         count)))
                              : Value(arith::ConstantOp::create(
                                    b, l, b.getIntegerAttr(type.getElementType(),
                                                           count)));
                Value v = isFloat ? Value(arith::DivFOp::create(b, l, args[0], n))
                                  : Value(arith::DivSIOp::create(b, l, args[0], n));
                linalg::YieldOp::create(b, l, v);
              })
              .getResult(0);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// softmax: exp(x - max) / sum; log-softmax: x - max - log(sum).
template <typename OpTy, bool Log>
struct SoftmaxToGenerics : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;

  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    int64_t rank = type.getRank(), dim = op.getDimAttr().getInt();
    SmallVector<int64_t> reducedShape;
    SmallVector<AffineExpr> kept;
    for (int64_t d = 0; d < rank; ++d)
      if (d != dim) {
        reducedShape.push_back(type.getDimSize(d));
        kept.push_back(rewriter.getAffineDimExpr(d));
      }
    auto reducedType =
        RankedTensorType::get(reducedShape, type.getElementType());
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap project = AffineMap::get(rank, 0, kept, rewriter.getContext());
    SmallVector<utils::IteratorType> parallel(rank,
                                              utils::IteratorType::parallel);
    Value x = adaptor.getInput();

    Value max = reduceInto(
        rewriter, loc, x,
        filled(rewriter, loc, reducedType,
               -std::numeric_limits<double>::infinity()),
        dim, [](OpBuilder &b, Location l, Value v, Value acc) -> Value {
          return arith::MaximumFOp::create(b, l, v, acc);
        });
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         type.getElementType());
    Value result;
    if (Log) {
      // sum over dim of exp(x - max), in one reduction; then
      // x - max - log(sum).
      SmallVector<utils::IteratorType> sumIterators = parallel;
      sumIterators[dim] = utils::IteratorType::reduction;
      Value sum =
          linalg::GenericOp::create(
              rewriter, loc, reducedType, ValueRange{x, max},
              filled(rewriter, loc, reducedType, 0.0),
              ArrayRef<AffineMap>{identity, project, project}, sumIterators,
              [&](OpBuilder &b, Location l, ValueRange args) {
                Value e = math::ExpOp::create(
                    b, l, arith::SubFOp::create(b, l, args[0], args[1]));
                Value acc = arith::AddFOp::create(b, l, e, args[2]);
                linalg::YieldOp::create(b, l, acc);
              })
              .getResult(0);
      result =
          linalg::GenericOp::create(
              rewriter, loc, type, ValueRange{x, max, sum}, init,
              ArrayRef<AffineMap>{identity, project, project, identity},
              parallel,
              [&](OpBuilder &b, Location l, ValueRange args) {
                Value shifted = arith::SubFOp::create(b, l, args[0], args[1]);
                linalg::YieldOp::create(
                    b, l,
                    Value(arith::SubFOp::create(
                        b, l, shifted, math::LogOp::create(b, l, args[2]))));
              })
              .getResult(0);
    } else {
      // exp(x - max) once; its sum; then each exponential divided by the
      // sum. (The same values as computing the exponentials twice, for
      // half the exponentials.)
      Value e =
          linalg::GenericOp::create(
              rewriter, loc, type, ValueRange{x, max}, init,
              ArrayRef<AffineMap>{identity, project, identity}, parallel,
              [&](OpBuilder &b, Location l, ValueRange args) {
                linalg::YieldOp::create(
                    b, l,
                    Value(math::ExpOp::create(
                        b, l, arith::SubFOp::create(b, l, args[0], args[1]))));
              })
              .getResult(0);
      Value sum = reduceInto(
          rewriter, loc, e, filled(rewriter, loc, reducedType, 0.0), dim,
          [](OpBuilder &b, Location l, Value v, Value acc) -> Value {
            return arith::AddFOp::create(b, l, v, acc);
          });
      // (A fresh destination, not e's: a generic that reads its output
      // would be fused into a consumer's reduction loop, dividing once per
      // iteration.)
      Value out = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                          type.getElementType());
      result =
          linalg::GenericOp::create(
              rewriter, loc, type, ValueRange{e, sum}, out,
              ArrayRef<AffineMap>{identity, project, identity}, parallel,
              [&](OpBuilder &b, Location l, ValueRange args) {
                linalg::YieldOp::create(
                    b, l,
                    Value(arith::DivFOp::create(b, l, args[0], args[1])));
              })
              .getResult(0);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3ReduceToLinalgPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<ReduceToGeneric, SoftmaxToGenerics<SoftmaxOp, false>,
               SoftmaxToGenerics<LogSoftmaxOp, true>>(context);
}
