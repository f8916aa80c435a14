//===- Routing.cpp - the router, its gradient, the balance loss -----------===//
//
// Scores, normalizations and the loss arithmetic are decomposed into dsv3
// ops (lowered by the other patterns); what depends on the selected
// indices is a generic that compares indices, and the selection itself
// (group limit, then top-k by biased score, ties to the lower index) is a
// parallel generic over (token, pick), each element selecting its token's
// experts with argmax loops.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

RankedTensorType tt(Value v) { return cast<RankedTensorType>(v.getType()); }

Value ci(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value splatLike(OpBuilder &b, Location loc, RankedTensorType type, double v) {
  return ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(type, b.getFloatAttr(type.getElementType(), v)));
}

/// softmax or sigmoid of [T, E] logits, as dsv3 ops.
Value scoresOf(OpBuilder &b, Location loc, ScoringFunc scoring, Value logits) {
  return scoring == ScoringFunc::sigmoid
             ? Value(SigmoidOp::create(b, loc, logits))
             : Value(SoftmaxOp::create(b, loc, logits, 1));
}

/// The best not-yet-taken candidate in [0, n) by `value(i)` among those
/// `allowed(i)`, ties to the lower index, as (index) with a loop.
Value argmax(OpBuilder &b, Location loc, int64_t n,
             function_ref<Value(OpBuilder &, Location, Value)> value,
             function_ref<Value(OpBuilder &, Location, Value)> allowed,
             Type elem) {
  Value ninf = arith::ConstantOp::create(
      b, loc,
      b.getFloatAttr(elem, -std::numeric_limits<double>::infinity()));
  auto loop = scf::ForOp::create(
      b, loc, ci(b, loc, 0), ci(b, loc, n), ci(b, loc, 1),
      ValueRange{ninf, ci(b, loc, -1)},
      [&](OpBuilder &nb, Location l, Value i, ValueRange acc) {
        Value v = value(nb, l, i);
        Value better = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                             v, acc[0]);
        // The first allowed candidate wins even at -inf.
        Value none = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                           acc[1], ci(nb, l, 0));
        Value take = arith::AndIOp::create(
            nb, l, allowed(nb, l, i), arith::OrIOp::create(nb, l, better, none));
        scf::YieldOp::create(
            nb, l,
            ValueRange{arith::SelectOp::create(nb, l, take, v, acc[0]),
                       arith::SelectOp::create(nb, l, take, i, acc[1])});
      });
  return loop.getResult(1);
}

struct RouterToLoops : OpConversionPattern<RouterOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RouterOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value logits = adaptor.getLogits();
    int64_t t = tt(logits).getDimSize(0), e = tt(logits).getDimSize(1);
    int64_t k = op.getTopK(), groups = op.getNGroup(),
            keep = op.getTopkGroup(), groupSize = e / groups;
    double routeScale = op.getRouteScale().convertToDouble();
    bool norm = op.getNormTopkProb();
    Value scores = scoresOf(b, loc, op.getScoring(), logits);
    if (tt(scores) != cast<RankedTensorType>(op.getScores().getType()))
      scores = CastOp::create(b, loc, op.getScores().getType(), scores);
    Value biased = scores;
    if (Value bias = adaptor.getBias()) {
      Value wide = BroadcastOp::create(
          b, loc, RankedTensorType::get({t, e}, tt(bias).getElementType()),
          bias, ArrayRef<int64_t>{1});
      if (tt(wide).getElementType() != tt(scores).getElementType())
        wide = CastOp::create(b, loc, tt(scores), wide);
      biased = AddOp::create(b, loc, scores, wide);
    }
    Type elem = tt(scores).getElementType();
    auto wType = cast<RankedTensorType>(op.getWeights().getType());
    auto iType = cast<RankedTensorType>(op.getIndices().getType());
    Value weights = tensor::EmptyOp::create(b, loc, wType.getShape(),
                                            wType.getElementType());
    Value indices = tensor::EmptyOp::create(b, loc, iType.getShape(),
                                            iType.getElementType());
    // Tokens are independent and a token's selection is small (top_k
    // passes over the experts), so every (token, pick) element of the
    // outputs makes its token's whole selection and keeps its own pick: one
    // parallel generic, with no state but SSA values.
    AffineMap identity = b.getMultiDimIdentityMap(2);
    auto perToken = linalg::GenericOp::create(
        b, loc, TypeRange{wType, iType}, ValueRange{},
        ValueRange{weights, indices}, ArrayRef<AffineMap>{identity, identity},
        ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                      utils::IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange) {
          Value tok = linalg::IndexOp::create(nb, l, 0);
          Value which = linalg::IndexOp::create(nb, l, 1);
          auto biasedAt = [&](OpBuilder &ob, Location ol, Value j) {
            return tensor::ExtractOp::create(ob, ol, biased, ValueRange{tok, j})
                .getResult();
          };
          auto isTrue = [](OpBuilder &ab, Location al) -> Value {
            return arith::ConstantIntOp::create(ab, al, 1, 1);
          };
          // `x` differs from every value of `taken`.
          auto fresh = [&](OpBuilder &ab, Location al, Value x,
                           ArrayRef<Value> taken) {
            Value ok = isTrue(ab, al);
            for (Value t : taken)
              ok = arith::AndIOp::create(
                  ab, al, ok,
                  arith::CmpIOp::create(ab, al, arith::CmpIPredicate::ne, x, t));
            return ok;
          };
          // Group limit: keep the topk_group groups with the best sum of
          // their top-2 biased scores (with group_max, the best score).
          SmallVector<Value> keptGroups;
          if (groups > 1) {
            auto groupScore = [&](OpBuilder &ob, Location ol, Value g) {
              Value base = arith::MulIOp::create(ob, ol, g, ci(ob, ol, groupSize));
              auto member = [&](OpBuilder &mb, Location ml, Value m) {
                return biasedAt(mb, ml, arith::AddIOp::create(mb, ml, base, m));
              };
              auto any = [&](OpBuilder &ab, Location al, Value) {
                return isTrue(ab, al);
              };
              Value first = argmax(ob, ol, groupSize, member, any, elem);
              Value sum = member(ob, ol, first);
              if (groupSize > 1 && !op.getGroupMax()) {
                Value second = argmax(
                    ob, ol, groupSize, member,
                    [&](OpBuilder &ab, Location al, Value m) -> Value {
                      return arith::CmpIOp::create(
                          ab, al, arith::CmpIPredicate::ne, m, first);
                    },
                    elem);
                sum = arith::AddFOp::create(ob, ol, sum,
                                            member(ob, ol, second));
              }
              return sum;
            };
            for (int64_t pick = 0; pick < keep; ++pick) {
              SmallVector<Value> taken(keptGroups);
              keptGroups.push_back(argmax(
                  nb, l, groups, groupScore,
                  [&](OpBuilder &ab, Location al, Value gi) -> Value {
                    return fresh(ab, al, gi, taken);
                  },
                  elem));
            }
          }
          // Top-k among the experts of the kept groups.
          SmallVector<Value> picks;
          for (int64_t pick = 0; pick < k; ++pick) {
            SmallVector<Value> taken(picks);
            picks.push_back(argmax(
                nb, l, e, biasedAt,
                [&](OpBuilder &ab, Location al, Value x) -> Value {
                  Value allowed = fresh(ab, al, x, taken);
                  if (groups == 1)
                    return allowed;
                  Value g =
                      arith::DivUIOp::create(ab, al, x, ci(ab, al, groupSize));
                  Value inGroup = arith::ConstantIntOp::create(ab, al, 0, 1);
                  for (Value kept : keptGroups)
                    inGroup = arith::OrIOp::create(
                        ab, al, inGroup,
                        arith::CmpIOp::create(ab, al, arith::CmpIPredicate::eq,
                                              g, kept));
                  return arith::AndIOp::create(ab, al, inGroup, allowed);
                },
                elem));
          }
          // Weights from the unbiased scores; this element's pick.
          SmallVector<Value> s;
          Value sum = arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, 0));
          for (Value j : picks) {
            s.push_back(tensor::ExtractOp::create(nb, l, scores, ValueRange{tok, j}));
            sum = arith::AddFOp::create(nb, l, sum, s.back());
          }
          Value scale =
              arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, routeScale));
          Value w, id;
          for (int64_t i = 0; i < k; ++i) {
            Value wi = norm ? Value(arith::DivFOp::create(nb, l, s[i], sum)) : s[i];
            wi = arith::MulFOp::create(nb, l, wi, scale);
            if (wi.getType() != wType.getElementType())
              wi = truncateFloat(nb, l, wi, wType.getElementType());
            Value idi = arith::IndexCastOp::create(nb, l, iType.getElementType(),
                                                   picks[i]);
            if (i == 0) {
              w = wi, id = idi;
              continue;
            }
            Value here = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                               which, ci(nb, l, i));
            w = arith::SelectOp::create(nb, l, here, wi, w);
            id = arith::SelectOp::create(nb, l, here, idi, id);
          }
          linalg::YieldOp::create(nb, l, ValueRange{w, id});
        });
    b.replaceOp(op, {perToken.getResult(0), perToken.getResult(1), scores});
    return success();
  }
};

/// out[t, j] = init[t, j] + sum_i [idx[t, i] == j] * f(t, i), for [T, K]
/// indices and [T, E] output.
Value scatterByIndex(OpBuilder &b, Location loc, Value indices,
                     ValueRange perCopy, ArrayRef<AffineMap> perCopyMaps,
                     Value init,
                     function_ref<Value(OpBuilder &, Location, ValueRange)> f) {
  MLIRContext *ctx = b.getContext();
  auto d = [&](int64_t i) { return b.getAffineDimExpr(i); };
  // Loops (t, j, i).
  SmallVector<Value> inputs = {indices};
  inputs.append(perCopy.begin(), perCopy.end());
  SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {d(0), d(2)}, ctx)};
  maps.append(perCopyMaps.begin(), perCopyMaps.end());
  maps.push_back(AffineMap::get(3, 0, {d(0), d(1)}, ctx));
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps,
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel,
                                           utils::IteratorType::reduction},
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value j = linalg::IndexOp::create(nb, l, 1);
               Value id = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
               Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                                 id, j);
               Value v = f(nb, l, a.drop_front().drop_back());
               Value zero = arith::ConstantOp::create(
                   nb, l, nb.getFloatAttr(v.getType(), 0.0));
               Value add = arith::SelectOp::create(nb, l, hit, v, zero);
               linalg::YieldOp::create(
                   nb, l, Value(arith::AddFOp::create(nb, l, add, a.back())));
             })
      .getResult(0);
}

struct RouterGradToLinalg : OpConversionPattern<RouterGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RouterGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value logits = adaptor.getLogits(), indices = adaptor.getIndices(),
          dw = adaptor.getDWeights();
    auto lType = tt(logits);
    int64_t t = lType.getDimSize(0);
    double c = op.getRouteScale().convertToDouble();
    Value s = scoresOf(b, loc, op.getScoring(), logits);
    if (tt(s).getElementType() != tt(dw).getElementType())
      s = CastOp::create(b, loc, RankedTensorType::get(lType.getShape(),
                                                       tt(dw).getElementType()),
                         s);
    Type elem = tt(s).getElementType();
    MLIRContext *ctx = b.getContext();
    auto d = [&](int64_t i) { return b.getAffineDimExpr(i); };
    // z[t] = sum_i s[t, idx[t, i]]; gs[t] = sum_i dw[t, i] s[t, idx[t, i]].
    auto rowType = RankedTensorType::get({t}, elem);
    Value zeroRow = splatLike(b, loc, rowType, 0.0);
    auto stats = linalg::GenericOp::create(
        b, loc, TypeRange{rowType, rowType}, ValueRange{indices, dw},
        ValueRange{zeroRow, zeroRow},
        ArrayRef<AffineMap>{AffineMap::get(2, 0, {d(0), d(1)}, ctx),
                            AffineMap::get(2, 0, {d(0), d(1)}, ctx),
                            AffineMap::get(2, 0, {d(0)}, ctx),
                            AffineMap::get(2, 0, {d(0)}, ctx)},
        ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                      utils::IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value tok = linalg::IndexOp::create(nb, l, 0);
          Value j = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
          Value sj = tensor::ExtractOp::create(nb, l, s, ValueRange{tok, j});
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::AddFOp::create(nb, l, sj, a[2]),
                         arith::AddFOp::create(
                             nb, l, arith::MulFOp::create(nb, l, a[1], sj), a[3])});
        });
    Value init = adaptor.getDScores()
                     ? adaptor.getDScores()
                     : splatLike(b, loc, tt(s), 0.0);
    bool norm = op.getNormTopkProb();
    Value ds = scatterByIndex(
        b, loc, indices, ValueRange{dw, stats.getResult(0), stats.getResult(1)},
        {AffineMap::get(3, 0, {d(0), d(2)}, ctx),
         AffineMap::get(3, 0, {d(0)}, ctx), AffineMap::get(3, 0, {d(0)}, ctx)},
        init, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value cc = arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, c));
          if (!norm)
            return arith::MulFOp::create(nb, l, cc, a[0]);
          // c * (dw / z - gs / z^2)
          Value z = a[1];
          Value v = arith::SubFOp::create(
              nb, l, arith::DivFOp::create(nb, l, a[0], z),
              arith::DivFOp::create(nb, l, a[2],
                                    arith::MulFOp::create(nb, l, z, z)));
          return arith::MulFOp::create(nb, l, cc, v);
        });
    Value dl;
    if (op.getScoring() == ScoringFunc::sigmoid) {
      Value one = splatLike(b, loc, tt(s), 1.0);
      dl = MulOp::create(b, loc, ds,
                         MulOp::create(b, loc, s, SubOp::create(b, loc, one, s)));
    } else {
      Value dot = ReduceOp::create(b, loc, ReduceKind::sum,
                                   MulOp::create(b, loc, ds, s),
                                   ArrayRef<int64_t>{1});
      Value wide = BroadcastOp::create(b, loc, tt(s), dot, ArrayRef<int64_t>{0});
      dl = MulOp::create(b, loc, s, SubOp::create(b, loc, ds, wide));
    }
    if (tt(dl) != op.getType())
      dl = CastOp::create(b, loc, op.getType(), dl);
    b.replaceOp(op, dl);
    return success();
  }
};

/// f[b, e] = E / (K * S) * count of e among the indices of sequence b.
Value balanceCounts(OpBuilder &b, Location loc, Value indices, int64_t experts,
                    Type elem) {
  auto iType = tt(indices); // [B, S, K]
  int64_t batch = iType.getDimSize(0), seq = iType.getDimSize(1),
          k = iType.getDimSize(2);
  auto type = RankedTensorType::get({batch, experts}, elem);
  double factor = static_cast<double>(experts) / (k * seq);
  Value perSequence = ReshapeOp::create(
      b, loc, RankedTensorType::get({batch, seq * k}, iType.getElementType()),
      indices);
  return scatterByIndex(b, loc, perSequence, {}, {},
                        splatLike(b, loc, type, 0.0),
                        [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                          return arith::ConstantOp::create(
                              nb, l, nb.getFloatAttr(elem, factor));
                        });
}

struct BalanceLossToLinalg : OpConversionPattern<BalanceLossOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BalanceLossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value scores = adaptor.getScores();
    auto sType = tt(scores); // [B, S, E]
    int64_t batch = sType.getDimSize(0), experts = sType.getDimSize(2);
    Value f = balanceCounts(b, loc, adaptor.getIndices(), experts,
                            sType.getElementType());
    Value z = ReduceOp::create(b, loc, ReduceKind::sum, scores,
                               ArrayRef<int64_t>{2});
    Value normalized = DivOp::create(
        b, loc, scores,
        BroadcastOp::create(b, loc, sType, z, ArrayRef<int64_t>{0, 1}));
    Value p = ReduceOp::create(b, loc, ReduceKind::mean, normalized,
                               ArrayRef<int64_t>{1});
    Value total = ReduceOp::create(b, loc, ReduceKind::sum,
                                   MulOp::create(b, loc, f, p),
                                   ArrayRef<int64_t>{0, 1});
    Value loss = MulOp::create(
        b, loc, total,
        splatLike(b, loc, tt(total),
                  op.getAlpha().convertToDouble() / batch));
    if (tt(loss) != op.getType())
      loss = CastOp::create(b, loc, op.getType(), loss);
    b.replaceOp(op, loss);
    return success();
  }
};

struct BalanceLossGradToLinalg : OpConversionPattern<BalanceLossGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BalanceLossGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value scores = adaptor.getScores();
    auto sType = tt(scores);
    int64_t batch = sType.getDimSize(0), seq = sType.getDimSize(1),
            experts = sType.getDimSize(2);
    Value f = balanceCounts(b, loc, adaptor.getIndices(), experts,
                            sType.getElementType());
    Value fWide = BroadcastOp::create(b, loc, sType, f, ArrayRef<int64_t>{0, 2});
    Value z = ReduceOp::create(b, loc, ReduceKind::sum, scores,
                               ArrayRef<int64_t>{2});
    Value dot = ReduceOp::create(b, loc, ReduceKind::sum,
                                 MulOp::create(b, loc, fWide, scores),
                                 ArrayRef<int64_t>{2});
    auto wide = [&](Value v) {
      return BroadcastOp::create(b, loc, sType, v, ArrayRef<int64_t>{0, 1})
          .getResult();
    };
    Value zWide = wide(z);
    // c * (f / z - dot / z^2), c = d_loss * alpha / (S * B).
    Value term = SubOp::create(
        b, loc, DivOp::create(b, loc, fWide, zWide),
        DivOp::create(b, loc, wide(dot), MulOp::create(b, loc, zWide, zWide)));
    Value c = MulOp::create(
        b, loc, term,
        splatLike(b, loc, sType,
                  op.getAlpha().convertToDouble() / (seq * batch)));
    b.replaceOp(op, ScaleOp::create(b, loc, c, adaptor.getDLoss()).getResult());
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3RoutingToLinalgPatterns(
    MLIRContext *context, RewritePatternSet &patterns) {
  patterns.add<RouterToLoops, RouterGradToLinalg, BalanceLossToLinalg,
               BalanceLossGradToLinalg>(context);
}
