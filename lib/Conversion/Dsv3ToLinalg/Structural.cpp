//===- Structural.cpp - constants, shape ops, matmul, fusion regions ------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

Value zeros(OpBuilder &b, Location loc, RankedTensorType type) {
  Type elem = type.getElementType();
  TypedAttr zero = isa<FloatType>(elem) ? TypedAttr(b.getFloatAttr(elem, 0.0))
                                        : TypedAttr(b.getIntegerAttr(elem, 0));
  Value scalar = arith::ConstantOp::create(b, loc, zero);
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), elem);
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

struct ConstantToArith : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, cast<TypedAttr>(op.getValue()));
    return success();
  }
};

struct ReshapeToTensor : OpConversionPattern<ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getType();
    auto shapeType =
        RankedTensorType::get({type.getRank()}, rewriter.getIndexType());
    SmallVector<APInt> dims;
    for (int64_t d : type.getShape())
      dims.push_back(APInt(64, d));
    Value shape = arith::ConstantOp::create(
        rewriter, op.getLoc(), DenseIntElementsAttr::get(shapeType, dims));
    rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, adaptor.getInput(),
                                                   shape);
    return success();
  }
};

struct TransposeToLinalg : OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getType();
    Value init = tensor::EmptyOp::create(rewriter, op.getLoc(), type.getShape(),
                                         type.getElementType());
    auto transpose = linalg::TransposeOp::create(
        rewriter, op.getLoc(), adaptor.getInput(), init, op.getPerm());
    rewriter.replaceOp(op, transpose.getResult());
    return success();
  }
};

struct BroadcastToGeneric : OpConversionPattern<BroadcastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BroadcastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getType();
    auto inType = op.getInput().getType();
    int64_t rank = type.getRank();
    SmallVector<AffineExpr> exprs;
    for (auto [i, d] : llvm::enumerate(op.getDims()))
      exprs.push_back(inType.getDimSize(i) == 1 && type.getDimSize(d) != 1
                          ? rewriter.getAffineConstantExpr(0)
                          : rewriter.getAffineDimExpr(d));
    SmallVector<AffineMap> maps = {
        AffineMap::get(rank, 0, exprs, rewriter.getContext()),
        rewriter.getMultiDimIdentityMap(rank)};
    Value init = tensor::EmptyOp::create(rewriter, op.getLoc(), type.getShape(),
                                         type.getElementType());
    auto generic = linalg::GenericOp::create(
        rewriter, op.getLoc(), type, adaptor.getInput(), init, maps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, args[0]);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct SliceToTensor : OpConversionPattern<SliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SliceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getType();
    SmallVector<int64_t> strides(type.getRank(), 1);
    if (auto s = op.getStrides())
      strides.assign(s->begin(), s->end());
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        op, type, adaptor.getInput(), ValueRange{}, ValueRange{}, ValueRange{},
        op.getStart(), type.getShape(), strides);
    return success();
  }
};

struct PadToTensor : OpConversionPattern<PadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getType();
    auto inType = op.getInput().getType();
    SmallVector<int64_t> strides(type.getRank(), 1);
    if (auto interior = op.getInterior())
      for (auto [d, i] : llvm::enumerate(*interior))
        strides[d] = i + 1;
    Value base = zeros(rewriter, op.getLoc(), type);
    rewriter.replaceOpWithNewOp<tensor::InsertSliceOp>(
        op, adaptor.getInput(), base, ValueRange{}, ValueRange{}, ValueRange{},
        op.getLow(), inType.getShape(), strides);
    return success();
  }
};

struct ConcatToTensor : OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConcatOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getType();
    int64_t dim = op.getDimAttr().getInt();
    Value result = tensor::EmptyOp::create(rewriter, op.getLoc(),
                                           type.getShape(), type.getElementType());
    int64_t offset = 0;
    for (Value input : adaptor.getInputs()) {
      auto inType = cast<RankedTensorType>(input.getType());
      SmallVector<int64_t> offsets(type.getRank(), 0);
      offsets[dim] = offset;
      offset += inType.getDimSize(dim);
      result = tensor::InsertSliceOp::create(
          rewriter, op.getLoc(), input, result, ValueRange{}, ValueRange{},
          ValueRange{}, offsets, inType.getShape(),
          SmallVector<int64_t>(type.getRank(), 1));
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// C[batch, m, n] += A[batch, m, k] * B[batch, k, n] as one contraction,
/// with the transposes and a shared rank-2 B expressed in the maps.
struct MatmulToGeneric : OpConversionPattern<MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getType();
    int64_t batchRank = type.getRank() - 2;
    int64_t loops = batchRank + 3; // batch..., m, n, k
    auto d = [&](int64_t i) { return rewriter.getAffineDimExpr(i); };
    SmallVector<AffineExpr> batch, lhs, rhs, out;
    for (int64_t i = 0; i < batchRank; ++i)
      batch.push_back(d(i));
    AffineExpr m = d(batchRank), n = d(batchRank + 1), k = d(batchRank + 2);
    lhs = batch;
    lhs.append(op.getTransposeLhs() ? SmallVector<AffineExpr>{k, m}
                                    : SmallVector<AffineExpr>{m, k});
    if (op.getRhs().getType().getRank() > 2)
      rhs = batch;
    rhs.append(op.getTransposeRhs() ? SmallVector<AffineExpr>{n, k}
                                    : SmallVector<AffineExpr>{k, n});
    out = batch;
    out.append({m, n});
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineMap> maps = {AffineMap::get(loops, 0, lhs, ctx),
                                   AffineMap::get(loops, 0, rhs, ctx),
                                   AffineMap::get(loops, 0, out, ctx)};
    rewriter.replaceOp(op, buildContraction(rewriter, op.getLoc(),
                                            adaptor.getLhs(), adaptor.getRhs(),
                                            zeros(rewriter, op.getLoc(), type),
                                            maps));
    return success();
  }
};

} // namespace

Value mlir::dsv3::buildContraction(OpBuilder &b, Location loc, Value lhs,
                                   Value rhs, Value zeroInit,
                                   ArrayRef<AffineMap> maps) {
  auto type = cast<RankedTensorType>(zeroInit.getType());
  Type elem = type.getElementType();
  bool widen = elem.getIntOrFloatBitWidth() < 32;
  Type acc = widen ? b.getF32Type() : elem;
  Value init = zeroInit;
  if (widen) {
    Value empty = tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, zeroInit), acc);
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(acc, 0.0));
    init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  }
  unsigned loops = maps.front().getNumDims();
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  Value sum =
      linalg::GenericOp::create(
          b, loc, init.getType(), ValueRange{lhs, rhs}, init, maps, iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value x = args[0], y = args[1];
            if (widen) {
              x = arith::ExtFOp::create(nb, l, acc, x);
              y = arith::ExtFOp::create(nb, l, acc, y);
            }
            Value prod = arith::MulFOp::create(nb, l, x, y);
            linalg::YieldOp::create(
                nb, l, Value(arith::AddFOp::create(nb, l, prod, args[2])));
          })
          .getResult(0);
  if (!widen)
    return sum;
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  return linalg::GenericOp::create(
             b, loc, type, sum, zeroInit,
             ArrayRef<AffineMap>{identity, identity},
             SmallVector<utils::IteratorType>(type.getRank(),
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(
                   nb, l,
                   Value(arith::TruncFOp::create(nb, l, elem, args[0])));
             })
      .getResult(0);
}

namespace {

/// A fusion's body is inlined in place; its generics fuse again upstream.
struct InlineFusion : OpConversionPattern<FusionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FusionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Block &body = op.getBody().front();
    auto yield = cast<YieldOp>(body.getTerminator());
    SmallVector<Value> results(yield.getValues());
    rewriter.inlineBlockBefore(&body, op, adaptor.getInputs());
    rewriter.eraseOp(yield);
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3StructuralToLinalgPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<ConstantToArith, ReshapeToTensor, TransposeToLinalg,
               BroadcastToGeneric, SliceToTensor, PadToTensor, ConcatToTensor,
               MatmulToGeneric, InlineFusion>(context);
}
