//===- Optimizer.cpp - AdamW, clipping, schedule, loads, scatter to linalg -===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

void yieldValues(OpBuilder &b, Location loc, ValueRange v) {
  linalg::YieldOp::create(b, loc, v);
}

Value constF(OpBuilder &b, Location loc, Type t, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
}

Value toType(OpBuilder &b, Location loc, Value v, Type t) {
  if (v.getType() == t)
    return v;
  auto from = cast<FloatType>(v.getType()), to = cast<FloatType>(t);
  return from.getWidth() < to.getWidth()
             ? Value(arith::ExtFOp::create(b, loc, t, v))
             : truncateFloat(b, loc, v, t);
}

SmallVector<utils::IteratorType> all(int64_t rank, utils::IteratorType it) {
  return SmallVector<utils::IteratorType>(rank, it);
}

/// sum of f(x) over every element of `x`, as a 0-d tensor of `acc`.
Value sumAll(OpBuilder &b, Location loc, Value x, Type acc,
             function_ref<Value(OpBuilder &, Location, Value)> f) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  auto scalarType = RankedTensorType::get({}, acc);
  Value init = linalg::FillOp::create(
                   b, loc, constF(b, loc, acc, 0.0),
                   Value(tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, acc)))
                   .getResult(0);
  return linalg::GenericOp::create(
             b, loc, scalarType, x, init,
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, {}, b.getContext())},
             all(rank, utils::IteratorType::reduction),
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value v = toType(nb, l, f(nb, l, a[0]), acc);
               yieldValues(nb, l, Value(arith::AddFOp::create(nb, l, v, a[1])));
             })
      .getResult(0);
}

/// Partial sums one generic adds up; more would take more than a GPU
/// function's parameter space once elementwise fusion merged a chain of
/// them (one pointer per partial).
constexpr size_t kPartialsPerAdd = 64;

/// acc + parts[0] + parts[1] + ..., left to right, for 0-d tensors (`acc`
/// null: parts[0] + parts[1] + ...), as a generic (arith on tensors does not
/// bufferize). The running total is the generic's init, which elementwise
/// fusion does not fuse through: a long chain stays one small generic per
/// `kPartialsPerAdd` partials.
Value addScalars(OpBuilder &b, Location loc, Value acc, ValueRange parts) {
  auto type = cast<RankedTensorType>(parts.front().getType());
  MLIRContext *ctx = b.getContext();
  Value init = acc ? acc
                   : Value(tensor::EmptyOp::create(
                         b, loc, ArrayRef<int64_t>{}, type.getElementType()));
  SmallVector<AffineMap> maps(parts.size() + 1, AffineMap::get(ctx));
  bool fromZero = !acc;
  return linalg::GenericOp::create(
             b, loc, type, parts, init, maps, ArrayRef<utils::IteratorType>{},
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value total = fromZero ? a[0] : a.back();
               for (Value part : a.drop_back().drop_front(fromZero ? 1 : 0))
                 total = arith::AddFOp::create(nb, l, total, part);
               yieldValues(nb, l, total);
             })
      .getResult(0);
}

/// sum of f(x) over every element of every tensor in `xs`, as a 0-d tensor
/// of `acc`: each tensor's sum, then their sum from the first.
Value sumAll(OpBuilder &b, Location loc, ValueRange xs, Type acc,
             function_ref<Value(OpBuilder &, Location, Value)> f) {
  SmallVector<Value> parts;
  for (Value x : xs)
    parts.push_back(sumAll(b, loc, x, acc, f));
  if (parts.size() == 1)
    return parts.front();
  Value total;
  for (size_t i = 0; i < parts.size(); i += kPartialsPerAdd)
    total = addScalars(
        b, loc, total,
        ArrayRef<Value>(parts).slice(
            i, std::min(kPartialsPerAdd, parts.size() - i)));
  return total;
}

struct AdamWToLinalg : OpConversionPattern<AdamWOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AdamWOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto pType = op.getParam().getType();
    auto mType = op.getM().getType(), vType = op.getV().getType();
    int64_t rank = pType.getRank();
    double b1 = op.getBeta1().convertToDouble(),
           b2 = op.getBeta2().convertToDouble(),
           eps = op.getEps().convertToDouble(),
           wd = op.getWeightDecay().convertToDouble();
    AffineMap id = b.getMultiDimIdentityMap(rank),
              scalar = AffineMap::get(rank, 0, {}, b.getContext());
    // The bias corrections 1 - beta^t once, in a generic of their own:
    // inside the per-element loop the two pow calls (and the step's load)
    // kept LLVM from vectorizing it.
    Type f64 = b.getF64Type();
    auto scalarF64 = RankedTensorType::get({}, f64);
    AffineMap none = AffineMap::get(0, 0, {}, b.getContext());
    auto corrections = linalg::GenericOp::create(
        b, loc, TypeRange{scalarF64, scalarF64}, ValueRange{adaptor.getStep()},
        ValueRange{tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, f64),
                   tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, f64)},
        ArrayRef<AffineMap>{none, none, none},
        ArrayRef<utils::IteratorType>{},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value t = arith::SIToFPOp::create(nb, l, f64, a[0]);
          auto c = [&](double x) { return constF(nb, l, f64, x); };
          yieldValues(nb, l,
                      {arith::SubFOp::create(
                           nb, l, c(1), math::PowFOp::create(nb, l, c(b1), t)),
                       arith::SubFOp::create(
                           nb, l, c(1), math::PowFOp::create(nb, l, c(b2), t))});
        });
    SmallVector<Value> inits = {
        tensor::EmptyOp::create(b, loc, pType.getShape(), pType.getElementType()),
        tensor::EmptyOp::create(b, loc, mType.getShape(), mType.getElementType()),
        tensor::EmptyOp::create(b, loc, vType.getShape(), vType.getElementType())};
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{pType, mType, vType},
        ValueRange{adaptor.getParam(), adaptor.getGrad(), adaptor.getM(),
                   adaptor.getV(), adaptor.getLr(), corrections.getResult(0),
                   corrections.getResult(1)},
        inits,
        ArrayRef<AffineMap>{id, id, id, id, scalar, scalar, scalar, id, id, id},
        all(rank, utils::IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          // In f64, rounding the moments to their own type as they are
          // stored, like the reference.
          Value p = toType(nb, l, a[0], f64), g = toType(nb, l, a[1], f64);
          Value m = toType(nb, l, a[2], f64), v = toType(nb, l, a[3], f64);
          Value lr = toType(nb, l, a[4], f64);
          Value c1 = a[5], c2 = a[6];
          auto c = [&](double x) { return constF(nb, l, f64, x); };
          Value m2 = arith::AddFOp::create(
              nb, l, arith::MulFOp::create(nb, l, c(b1), m),
              arith::MulFOp::create(nb, l, c(1 - b1), g));
          Value v2 = arith::AddFOp::create(
              nb, l, arith::MulFOp::create(nb, l, c(b2), v),
              arith::MulFOp::create(nb, l, c(1 - b2),
                                    arith::MulFOp::create(nb, l, g, g)));
          Value mStored = toType(nb, l, m2, mType.getElementType());
          Value vStored = toType(nb, l, v2, vType.getElementType());
          m2 = toType(nb, l, mStored, f64);
          v2 = toType(nb, l, vStored, f64);
          Value mhat = arith::DivFOp::create(nb, l, m2, c1);
          Value vhat = arith::DivFOp::create(nb, l, v2, c2);
          Value step = arith::AddFOp::create(
              nb, l,
              arith::DivFOp::create(
                  nb, l, mhat,
                  arith::AddFOp::create(nb, l, math::SqrtOp::create(nb, l, vhat),
                                        c(eps))),
              arith::MulFOp::create(nb, l, c(wd), p));
          Value p2 = arith::SubFOp::create(nb, l, p,
                                           arith::MulFOp::create(nb, l, lr, step));
          yieldValues(nb, l,
                      {toType(nb, l, p2, pType.getElementType()), mStored,
                       vStored});
        });
    b.replaceOp(op, generic.getResults());
    return success();
  }
};

struct LrScheduleToLinalg : OpConversionPattern<LrScheduleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LrScheduleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    double peak = op.getPeakLr().convertToDouble(),
           floor = op.getMinLr().convertToDouble();
    double warmup = static_cast<double>(op.getWarmupStepsAttr().getInt());
    double total = static_cast<double>(op.getTotalStepsAttr().getInt());
    auto type = op.getType();
    MLIRContext *ctx = b.getContext();
    auto generic = linalg::GenericOp::create(
        b, loc, type, adaptor.getStep(),
        Value(tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                      type.getElementType())),
        ArrayRef<AffineMap>{AffineMap::get(ctx), AffineMap::get(ctx)},
        ArrayRef<utils::IteratorType>{},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Type f64 = nb.getF64Type();
          auto c = [&](double x) { return constF(nb, l, f64, x); };
          Value s = arith::SIToFPOp::create(nb, l, f64, a[0]);
          Value warm = arith::DivFOp::create(
              nb, l,
              arith::MulFOp::create(nb, l, c(peak),
                                    arith::AddFOp::create(nb, l, s, c(1))),
              c(std::max(warmup, 1.0)));
          Value decayed = c(floor);
          if (total > warmup) {
            Value progress = arith::MinimumFOp::create(
                nb, l, c(1),
                arith::DivFOp::create(nb, l,
                                      arith::SubFOp::create(nb, l, s, c(warmup)),
                                      c(total - warmup)));
            Value cosine = math::CosOp::create(
                nb, l, arith::MulFOp::create(nb, l, c(M_PI), progress));
            decayed = arith::AddFOp::create(
                nb, l, c(floor),
                arith::MulFOp::create(
                    nb, l, c(0.5 * (peak - floor)),
                    arith::AddFOp::create(nb, l, c(1), cosine)));
          }
          Value inWarmup =
              arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OLT, s, c(warmup));
          Value lr = arith::SelectOp::create(nb, l, inWarmup, warm, decayed);
          yieldValues(nb, l, toType(nb, l, lr, type.getElementType()));
        });
    b.replaceOp(op, generic.getResults());
    return success();
  }
};

struct ClipToLinalg : OpConversionPattern<ClipByGlobalNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ClipByGlobalNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Type f64 = b.getF64Type();
    Value total = sumAll(b, loc, adaptor.getInputs(), f64,
                         [](OpBuilder &nb, Location l, Value x) {
                           return Value(arith::MulFOp::create(nb, l, x, x));
                         });
    double maxNorm = op.getMaxNorm().convertToDouble();
    MLIRContext *ctx = b.getContext();
    auto scalarF64 = RankedTensorType::get({}, f64);
    auto normType = cast<RankedTensorType>(op.getNorm().getType());
    // norm, and factor = min(1, max_norm / (norm + 1e-6)).
    auto stats = linalg::GenericOp::create(
        b, loc, TypeRange{normType, scalarF64}, total,
        ValueRange{tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                           normType.getElementType()),
                   tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, f64)},
        ArrayRef<AffineMap>{AffineMap::get(ctx), AffineMap::get(ctx),
                            AffineMap::get(ctx)},
        ArrayRef<utils::IteratorType>{},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value norm = math::SqrtOp::create(nb, l, a[0]);
          Value factor = arith::MinimumFOp::create(
              nb, l, constF(nb, l, f64, 1.0),
              arith::DivFOp::create(
                  nb, l, constF(nb, l, f64, maxNorm),
                  arith::AddFOp::create(nb, l, norm, constF(nb, l, f64, 1e-6))));
          yieldValues(nb, l,
                      {toType(nb, l, norm, normType.getElementType()), factor});
        });
    SmallVector<Value> results;
    for (Value g : adaptor.getInputs()) {
      auto type = cast<RankedTensorType>(g.getType());
      int64_t rank = type.getRank();
      results.push_back(
          linalg::GenericOp::create(
              b, loc, type, ValueRange{g, stats.getResult(1)},
              Value(tensor::EmptyOp::create(b, loc, type.getShape(),
                                            type.getElementType())),
              ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank),
                                  AffineMap::get(rank, 0, {}, ctx),
                                  b.getMultiDimIdentityMap(rank)},
              all(rank, utils::IteratorType::parallel),
              [&](OpBuilder &nb, Location l, ValueRange a) {
                Value v = arith::MulFOp::create(
                    nb, l, toType(nb, l, a[0], nb.getF64Type()), a[1]);
                yieldValues(nb, l, toType(nb, l, v, type.getElementType()));
              })
              .getResult(0));
    }
    results.push_back(stats.getResult(0));
    b.replaceOp(op, results);
    return success();
  }
};

/// Counts of each expert id: every (index, expert) pair, summed.
struct ExpertLoadToLinalg : OpConversionPattern<ExpertLoadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ExpertLoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    auto idxType = op.getIndices().getType();
    int64_t rank = idxType.getRank() + 1;
    SmallVector<AffineExpr> idxExprs;
    for (int64_t d = 0; d + 1 < rank; ++d)
      idxExprs.push_back(b.getAffineDimExpr(d));
    SmallVector<utils::IteratorType> it =
        all(rank, utils::IteratorType::reduction);
    it.back() = utils::IteratorType::parallel;
    Type elem = type.getElementType();
    Value init = linalg::FillOp::create(
                     b, loc, constF(b, loc, elem, 0.0),
                     Value(tensor::EmptyOp::create(b, loc, type.getShape(), elem)))
                     .getResult(0);
    auto generic = linalg::GenericOp::create(
        b, loc, type, adaptor.getIndices(), init,
        ArrayRef<AffineMap>{
            AffineMap::get(rank, 0, idxExprs, b.getContext()),
            AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1),
                           b.getContext())},
        it, [&](OpBuilder &nb, Location l, ValueRange a) {
          Value e = linalg::IndexOp::create(nb, l, rank - 1);
          Value id = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
          Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, id, e);
          Value one = arith::UIToFPOp::create(nb, l, elem, hit);
          yieldValues(nb, l, Value(arith::AddFOp::create(nb, l, one, a[1])));
        });
    b.replaceOp(op, generic.getResults());
    return success();
  }
};

struct RouterBiasToLinalg : OpConversionPattern<UpdateRouterBiasOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(UpdateRouterBiasOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    Type elem = type.getElementType();
    int64_t experts = type.getDimSize(0);
    Value sum = sumAll(b, loc, adaptor.getLoad(), elem,
                       [](OpBuilder &, Location, Value x) { return x; });
    double gamma = op.getGamma().convertToDouble();
    MLIRContext *ctx = b.getContext();
    auto generic = linalg::GenericOp::create(
        b, loc, type, ValueRange{adaptor.getBias(), adaptor.getLoad(), sum},
        Value(tensor::EmptyOp::create(b, loc, type.getShape(), elem)),
        ArrayRef<AffineMap>{b.getMultiDimIdentityMap(1),
                            b.getMultiDimIdentityMap(1),
                            AffineMap::get(1, 0, {}, ctx),
                            b.getMultiDimIdentityMap(1)},
        all(1, utils::IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value mean = arith::DivFOp::create(nb, l, a[2],
                                             constF(nb, l, elem, experts));
          Value d = arith::SubFOp::create(nb, l, mean, a[1]);
          Value zero = constF(nb, l, elem, 0.0);
          Value up = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, d, zero);
          Value down = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OLT, d, zero);
          Value step = arith::SelectOp::create(
              nb, l, up, constF(nb, l, elem, gamma),
              arith::SelectOp::create(nb, l, down, constF(nb, l, elem, -gamma),
                                      zero));
          yieldValues(nb, l, Value(arith::AddFOp::create(nb, l, a[0], step)));
        });
    b.replaceOp(op, generic.getResults());
    return success();
  }
};

struct AllFiniteToLinalg : OpConversionPattern<AllFiniteOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AllFiniteOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Type f64 = b.getF64Type();
    // Count non-finite elements: x - x is NaN exactly for inf and NaN.
    Value bad = sumAll(b, loc, adaptor.getInputs(), f64,
                       [](OpBuilder &nb, Location l, Value v) {
                         Value diff = arith::SubFOp::create(nb, l, v, v);
                         Value isNan = arith::CmpFOp::create(
                             nb, l, arith::CmpFPredicate::UNO, diff, diff);
                         return Value(arith::UIToFPOp::create(
                             nb, l, nb.getF64Type(), isNan));
                       });
    MLIRContext *ctx = b.getContext();
    auto generic = linalg::GenericOp::create(
        b, loc, op.getType(), bad,
        Value(tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, b.getI1Type())),
        ArrayRef<AffineMap>{AffineMap::get(ctx), AffineMap::get(ctx)},
        ArrayRef<utils::IteratorType>{},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          yieldValues(nb, l,
                      Value(arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                                  a[0], constF(nb, l, f64, 0.0))));
        });
    b.replaceOp(op, generic.getResults());
    return success();
  }
};

/// The loss scaler's step on 0-d tensors: back off on a non-finite step,
/// grow after `growth_interval` finite ones, as the op's semantics say.
struct UpdateLossScaleToLinalg : OpConversionPattern<UpdateLossScaleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(UpdateLossScaleOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Type scaleType = op.getNewScale().getType().getElementType();
    Type countType = op.getNewGoodSteps().getType().getElementType();
    double growth = op.getGrowth().convertToDouble();
    double backoff = op.getBackoff().convertToDouble();
    int64_t interval = op.getGrowthIntervalAttr().getInt();
    AffineMap scalar = AffineMap::get(ctx);
    auto generic = linalg::GenericOp::create(
        b, loc,
        TypeRange{op.getNewScale().getType(), op.getNewGoodSteps().getType()},
        ValueRange{adaptor.getScale(), adaptor.getGoodSteps(),
                   adaptor.getFinite()},
        ValueRange{Value(tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                                 scaleType)),
                   Value(tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                                 countType))},
        SmallVector<AffineMap>(5, scalar), ArrayRef<utils::IteratorType>{},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value scale = a[0], count = a[1], finite = a[2];
          Value next = arith::AddIOp::create(
              nb, l, count,
              arith::ConstantOp::create(nb, l,
                                        nb.getIntegerAttr(countType, 1)));
          Value grow = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::sge, next,
              arith::ConstantOp::create(
                  nb, l, nb.getIntegerAttr(countType, interval)));
          Value zero =
              arith::ConstantOp::create(nb, l, nb.getIntegerAttr(countType, 0));
          Value grown = arith::SelectOp::create(
              nb, l, grow,
              arith::MulFOp::create(nb, l, scale,
                                    constF(nb, l, scaleType, growth)),
              scale);
          Value newScale = arith::SelectOp::create(
              nb, l, finite, grown,
              arith::MulFOp::create(nb, l, scale,
                                    constF(nb, l, scaleType, backoff)));
          Value newCount = arith::SelectOp::create(
              nb, l, finite, arith::SelectOp::create(nb, l, grow, zero, next),
              zero);
          yieldValues(nb, l, ValueRange{newScale, newCount});
        });
    b.replaceOp(op, generic.getResults());
    return success();
  }
};

/// result = zeros; result[a..., indices[i...], b...] += updates[a..., i...,
/// b...]. Only the index dimensions collide, so the result's columns
/// (every a..., b...) are independent: an scf.forall over them, each
/// column summing its updates in index order in an scf.for.
struct ScatterAddToLoops : OpConversionPattern<ScatterAddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScatterAddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    auto iType = op.getIndices().getType();
    int64_t dim = op.getDimAttr().getInt(), idxRank = iType.getRank();
    int64_t rank = type.getRank();
    Type elem = type.getElementType();
    TypedAttr zeroAttr = isa<FloatType>(elem)
                             ? TypedAttr(b.getFloatAttr(elem, 0.0))
                             : TypedAttr(b.getIntegerAttr(elem, 0));
    Value zero = arith::ConstantOp::create(b, loc, zeroAttr);
    Value init = linalg::FillOp::create(
                     b, loc, zero,
                     Value(tensor::EmptyOp::create(b, loc, type.getShape(), elem)))
                     .getResult(0);
    auto idx = [&](OpBuilder &nb, int64_t v) {
      return arith::ConstantIndexOp::create(nb, loc, v);
    };
    Value updates = adaptor.getUpdates(), indices = adaptor.getIndices();

    // One parallel iteration per column: the result's dimensions but `dim`.
    SmallVector<OpFoldResult> columns;
    for (int64_t d = 0; d < rank; ++d)
      if (d != dim)
        columns.push_back(b.getIndexAttr(type.getDimSize(d)));
    auto forall = scf::ForallOp::create(b, loc, columns, ValueRange{init},
                                        std::nullopt);
    OpBuilder nb = OpBuilder::atBlockBegin(forall.getBody());
    SmallVector<Value> ivs(forall.getInductionVars());
    Value shared = forall.getRegionIterArgs()[0];
    SmallVector<OpFoldResult> offsets, sizes,
        strides(rank, b.getIndexAttr(1));
    for (int64_t d = 0, c = 0; d < rank; ++d) {
      bool along = d == dim;
      offsets.push_back(along ? OpFoldResult(b.getIndexAttr(0))
                              : OpFoldResult(ivs[c++]));
      sizes.push_back(b.getIndexAttr(along ? type.getDimSize(d) : 1));
    }
    auto columnType = RankedTensorType::get({type.getDimSize(dim)}, elem);
    Value column = tensor::ExtractSliceOp::create(nb, loc, columnType, shared,
                                                  offsets, sizes, strides);
    auto loop = scf::ForOp::create(
        nb, loc, idx(nb, 0), idx(nb, iType.getNumElements()), idx(nb, 1),
        ValueRange{column},
        [&](OpBuilder &lb, Location l, Value flat, ValueRange acc) {
          // Unflatten the index position.
          SmallVector<Value> at(idxRank);
          Value rest = flat;
          for (int64_t d = idxRank - 1; d >= 0; --d) {
            Value size = idx(lb, iType.getDimSize(d));
            at[d] = arith::RemUIOp::create(lb, l, rest, size);
            rest = arith::DivUIOp::create(lb, l, rest, size);
          }
          Value target = arith::IndexCastOp::create(
              lb, l, lb.getIndexType(),
              tensor::ExtractOp::create(lb, l, indices, at));
          SmallVector<Value> u(ivs.begin(), ivs.begin() + dim);
          u.append(at);
          u.append(ivs.begin() + dim, ivs.end());
          Value old = tensor::ExtractOp::create(lb, l, acc[0], target);
          Value add = tensor::ExtractOp::create(lb, l, updates, u);
          Value sum = isa<FloatType>(elem)
                          ? Value(arith::AddFOp::create(lb, l, old, add))
                          : Value(arith::AddIOp::create(lb, l, old, add));
          scf::YieldOp::create(
              lb, l, Value(tensor::InsertOp::create(lb, l, sum, acc[0], target)));
        });
    OpBuilder tb = OpBuilder::atBlockBegin(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(tb, loc, loop.getResult(0), shared,
                                          offsets, sizes, strides);
    b.replaceOp(op, forall.getResults());
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3OptimizerToLinalgPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<AdamWToLinalg, LrScheduleToLinalg, ClipToLinalg,
               ExpertLoadToLinalg, RouterBiasToLinalg, AllFiniteToLinalg,
               UpdateLossScaleToLinalg, ScatterAddToLoops>(context);
}
