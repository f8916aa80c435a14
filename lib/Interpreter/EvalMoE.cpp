//===- EvalMoE.cpp - routing, dispatch, grouped GEMMs, combine ------------===//

#include "Interpreter/Eval.h"

#include "dsv3/Dsv3Ops.h"

#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::interp;

void interp::dispatchLayout(const HostTensor &indices, int64_t numExperts,
                            bool drop, int64_t capacity,
                            std::vector<int64_t> &rows,
                            std::vector<int64_t> &sizes) {
  int64_t copies = indices.numel();
  std::vector<int64_t> count(numExperts, 0);
  for (double e : indices.data)
    if (e >= 0 && e < numExperts)
      ++count[static_cast<int64_t>(e)];
  std::vector<int64_t> start(numExperts, 0);
  for (int64_t e = 1; e < numExperts; ++e)
    start[e] = drop ? e * capacity : start[e - 1] + count[e - 1];
  std::vector<int64_t> used(numExperts, 0);
  rows.assign(copies, -1);
  for (int64_t c = 0; c < copies; ++c) {
    double ed = indices.data[c];
    if (ed < 0 || ed >= numExperts)
      continue;
    int64_t e = static_cast<int64_t>(ed);
    if (drop && used[e] >= capacity)
      continue;
    rows[c] = start[e] + used[e]++;
  }
  sizes.assign(numExperts, drop ? capacity : 0);
  if (!drop)
    sizes = count;
}

namespace {

LogicalResult checkExperts(Operation *op, const HostTensor &indices,
                           int64_t experts) {
  for (double e : indices.data)
    if (e < 0 || e >= experts)
      return op->emitError("interpreter: expert index ")
             << static_cast<int64_t>(e) << " is out of range [0, " << experts
             << ")";
  return success();
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// Scores of one token: softmax or sigmoid of its logits.
void scoreRow(ScoringFunc scoring, const double *logits, int64_t e,
              std::vector<double> &s) {
  s.resize(e);
  if (scoring == ScoringFunc::sigmoid) {
    for (int64_t j = 0; j < e; ++j)
      s[j] = sigmoid(logits[j]);
    return;
  }
  double m = *std::max_element(logits, logits + e), sum = 0;
  for (int64_t j = 0; j < e; ++j)
    sum += (s[j] = std::exp(logits[j] - m));
  for (double &v : s)
    v /= sum;
}

/// Indices of the n largest values of `v` among `eligible`, by value
/// descending, ties to the lower index.
std::vector<int64_t> topN(const std::vector<double> &v,
                          const std::vector<bool> &eligible, int64_t n) {
  std::vector<int64_t> order;
  for (int64_t j = 0; j < static_cast<int64_t>(v.size()); ++j)
    if (eligible[j])
      order.push_back(j);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  order.resize(std::min<int64_t>(n, order.size()));
  return order;
}

LogicalResult router(RouterOp op, Inputs in, Outputs &out) {
  HostTensor weights = resultTensor(op, 0), indices = resultTensor(op, 1),
             scores = resultTensor(op, 2);
  const HostTensor &logits = *in[0];
  const HostTensor *bias = in.size() > 1 ? in[1] : nullptr;
  int64_t t = logits.shape[0], e = logits.shape[1];
  int64_t k = op.getTopK(), groups = op.getNGroup(), keep = op.getTopkGroup();
  int64_t groupSize = e / groups;
  double routeScale = op.getRouteScale().convertToDouble();
  std::vector<double> s, biased(e);
  for (int64_t tok = 0; tok < t; ++tok) {
    scoreRow(op.getScoring(), &logits.data[tok * e], e, s);
    for (int64_t j = 0; j < e; ++j) {
      scores.data[tok * e + j] = s[j];
      biased[j] = s[j] + (bias ? bias->data[j] : 0.0);
    }
    std::vector<bool> eligible(e, true);
    if (groups > 1) {
      // A group scores the sum of its best two biased scores, or with
      // group_max its best one.
      std::vector<double> groupScore(groups);
      for (int64_t g = 0; g < groups; ++g) {
        std::vector<double> members(biased.begin() + g * groupSize,
                                    biased.begin() + (g + 1) * groupSize);
        std::sort(members.rbegin(), members.rend());
        groupScore[g] = members[0] + (groupSize > 1 && !op.getGroupMax()
                                          ? members[1]
                                          : 0.0);
      }
      std::vector<int64_t> kept =
          topN(groupScore, std::vector<bool>(groups, true), keep);
      std::fill(eligible.begin(), eligible.end(), false);
      for (int64_t g : kept)
        std::fill(eligible.begin() + g * groupSize,
                  eligible.begin() + (g + 1) * groupSize, true);
    }
    std::vector<int64_t> chosen = topN(biased, eligible, k);
    double sum = 0;
    for (int64_t j : chosen)
      sum += s[j];
    for (int64_t i = 0; i < k; ++i) {
      int64_t j = chosen[i];
      double w = op.getNormTopkProb() ? s[j] / sum : s[j];
      weights.data[tok * k + i] = w * routeScale;
      indices.data[tok * k + i] = j;
    }
  }
  out.push_back(std::move(weights));
  out.push_back(std::move(indices));
  out.push_back(std::move(scores));
  return success();
}

LogicalResult routerGrad(RouterGradOp op, Inputs in, Outputs &out) {
  HostTensor dlogits = resultTensor(op);
  const HostTensor &logits = *in[0], &indices = *in[1], &dw = *in[2];
  const HostTensor *dscores = in.size() > 3 ? in[3] : nullptr;
  int64_t t = logits.shape[0], e = logits.shape[1], k = indices.shape[1];
  if (failed(checkExperts(op, indices, e)))
    return failure();
  double c = op.getRouteScale().convertToDouble();
  std::vector<double> s, ds(e);
  for (int64_t tok = 0; tok < t; ++tok) {
    scoreRow(op.getScoring(), &logits.data[tok * e], e, s);
    for (int64_t j = 0; j < e; ++j)
      ds[j] = dscores ? dscores->data[tok * e + j] : 0.0;
    const double *idx = &indices.data[tok * k], *g = &dw.data[tok * k];
    if (op.getNormTopkProb()) {
      double z = 0, gs = 0;
      for (int64_t i = 0; i < k; ++i) {
        z += s[static_cast<int64_t>(idx[i])];
        gs += g[i] * s[static_cast<int64_t>(idx[i])];
      }
      for (int64_t i = 0; i < k; ++i)
        ds[static_cast<int64_t>(idx[i])] += c * (g[i] / z - gs / (z * z));
    } else {
      for (int64_t i = 0; i < k; ++i)
        ds[static_cast<int64_t>(idx[i])] += c * g[i];
    }
    double *dl = &dlogits.data[tok * e];
    if (op.getScoring() == ScoringFunc::sigmoid) {
      for (int64_t j = 0; j < e; ++j)
        dl[j] = ds[j] * s[j] * (1 - s[j]);
    } else {
      double dot = 0;
      for (int64_t j = 0; j < e; ++j)
        dot += ds[j] * s[j];
      for (int64_t j = 0; j < e; ++j)
        dl[j] = s[j] * (ds[j] - dot);
    }
  }
  out.push_back(std::move(dlogits));
  return success();
}

template <typename OpTy>
void layoutOf(OpTy op, const HostTensor &indices, std::vector<int64_t> &rows,
              std::vector<int64_t> &sizes) {
  dispatchLayout(indices, op.getNumExpertsAttr().getInt(),
                 op.getPolicy() == CapacityPolicy::drop,
                 op.getCapacityAttr().getInt(), rows, sizes);
}

LogicalResult dispatch(MoeDispatchOp op, Inputs in, Outputs &out) {
  HostTensor rowsOut = resultTensor(op, 0), sizesOut = resultTensor(op, 1);
  const HostTensor &x = *in[0], &indices = *in[1];
  if (failed(checkExperts(op, indices, op.getNumExpertsAttr().getInt())))
    return failure();
  std::vector<int64_t> rows, sizes;
  layoutOf(op, indices, rows, sizes);
  int64_t k = indices.shape[1], h = x.shape[1];
  for (int64_t c = 0; c < indices.numel(); ++c)
    if (rows[c] >= 0)
      std::copy_n(x.data.begin() + (c / k) * h, h,
                  rowsOut.data.begin() + rows[c] * h);
  for (size_t e = 0; e < sizes.size(); ++e)
    sizesOut.data[e] = sizes[e];
  out.push_back(std::move(rowsOut));
  out.push_back(std::move(sizesOut));
  return success();
}

LogicalResult combine(MoeCombineOp op, Inputs in, Outputs &out) {
  HostTensor y = resultTensor(op);
  const HostTensor &rowsIn = *in[0], &w = *in[1], &indices = *in[2];
  if (failed(checkExperts(op, indices, op.getNumExpertsAttr().getInt())))
    return failure();
  std::vector<int64_t> rows, sizes;
  layoutOf(op, indices, rows, sizes);
  int64_t k = indices.shape[1], h = rowsIn.shape[1];
  for (int64_t c = 0; c < indices.numel(); ++c) {
    if (rows[c] < 0)
      continue;
    for (int64_t j = 0; j < h; ++j)
      y.data[(c / k) * h + j] += w.data[c] * rowsIn.data[rows[c] * h + j];
  }
  out.push_back(std::move(y));
  return success();
}

LogicalResult combineGrad(MoeCombineGradOp op, Inputs in, Outputs &out) {
  HostTensor drows = resultTensor(op, 0), dw = resultTensor(op, 1);
  const HostTensor &rowsIn = *in[0], &w = *in[1], &indices = *in[2],
                   &dy = *in[3];
  if (failed(checkExperts(op, indices, op.getNumExpertsAttr().getInt())))
    return failure();
  std::vector<int64_t> rows, sizes;
  layoutOf(op, indices, rows, sizes);
  int64_t k = indices.shape[1], h = rowsIn.shape[1];
  for (int64_t c = 0; c < indices.numel(); ++c) {
    if (rows[c] < 0)
      continue;
    double dot = 0;
    for (int64_t j = 0; j < h; ++j) {
      double g = dy.data[(c / k) * h + j];
      drows.data[rows[c] * h + j] = w.data[c] * g;
      dot += g * rowsIn.data[rows[c] * h + j];
    }
    dw.data[c] = dot;
  }
  out.push_back(std::move(drows));
  out.push_back(std::move(dw));
  return success();
}

/// Calls f(row, expert) for every row inside a group.
template <typename F>
LogicalResult forEachGroupedRow(Operation *op, const HostTensor &sizes,
                                int64_t numRows, F f) {
  int64_t row = 0;
  for (int64_t e = 0; e < sizes.numel(); ++e) {
    int64_t n = static_cast<int64_t>(sizes.data[e]);
    if (n < 0 || row + n > numRows)
      return op->emitError("interpreter: group sizes exceed the ")
             << numRows << " rows";
    for (int64_t r = row; r < row + n; ++r)
      f(r, e);
    row += n;
  }
  return success();
}

LogicalResult groupedMatmul(GroupedMatmulOp op, Inputs in, Outputs &out) {
  HostTensor y = resultTensor(op);
  const HostTensor &x = *in[0], &w = *in[1], &sizes = *in[2];
  int64_t kx = x.shape[1], n = y.shape[1];
  int64_t w1 = w.shape[1], w2 = w.shape[2];
  bool t = op.getTransposeRhs();
  if (failed(forEachGroupedRow(op, sizes, x.shape[0], [&](int64_t r, int64_t e) {
        const double *W = &w.data[e * w1 * w2];
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t l = 0; l < kx; ++l)
            acc += x.data[r * kx + l] * (t ? W[j * w2 + l] : W[l * w2 + j]);
          y.data[r * n + j] = acc;
        }
      })))
    return failure();
  out.push_back(std::move(y));
  return success();
}

LogicalResult groupedMatmulWgrad(GroupedMatmulWgradOp op, Inputs in,
                                 Outputs &out) {
  HostTensor dw = resultTensor(op);
  const HostTensor &x = *in[0], &dy = *in[1], &sizes = *in[2];
  int64_t k = x.shape[1], n = dy.shape[1];
  bool t = op.getTransposeRhs();
  if (failed(forEachGroupedRow(op, sizes, x.shape[0], [&](int64_t r, int64_t e) {
        double *W = &dw.data[e * k * n];
        for (int64_t l = 0; l < k; ++l)
          for (int64_t j = 0; j < n; ++j)
            W[t ? j * k + l : l * n + j] += x.data[r * k + l] * dy.data[r * n + j];
      })))
    return failure();
  out.push_back(std::move(dw));
  return success();
}

/// f_i of the sequence balance loss for batch row b.
std::vector<double> balanceCounts(const HostTensor &indices, int64_t b,
                                  int64_t e) {
  int64_t s = indices.shape[1], k = indices.shape[2];
  std::vector<double> f(e, 0.0);
  for (int64_t i = 0; i < s * k; ++i) {
    double idx = indices.data[b * s * k + i];
    if (idx >= 0 && idx < e)
      f[static_cast<int64_t>(idx)] += 1.0;
  }
  for (double &v : f)
    v *= static_cast<double>(e) / (k * s);
  return f;
}

LogicalResult balanceLoss(BalanceLossOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &scores = *in[0], &indices = *in[1];
  int64_t batch = scores.shape[0], s = scores.shape[1], e = scores.shape[2];
  double alpha = op.getAlpha().convertToDouble(), total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> f = balanceCounts(indices, b, e), p(e, 0.0);
    for (int64_t tok = 0; tok < s; ++tok) {
      const double *row = &scores.data[(b * s + tok) * e];
      double z = std::accumulate(row, row + e, 0.0);
      for (int64_t i = 0; i < e; ++i)
        p[i] += row[i] / z / s;
    }
    for (int64_t i = 0; i < e; ++i)
      total += alpha * f[i] * p[i];
  }
  t.data[0] = total / batch;
  out.push_back(std::move(t));
  return success();
}

LogicalResult balanceLossGrad(BalanceLossGradOp op, Inputs in, Outputs &out) {
  HostTensor ds = resultTensor(op);
  const HostTensor &scores = *in[0], &indices = *in[1];
  double dl = in[2]->scalar();
  int64_t batch = scores.shape[0], s = scores.shape[1], e = scores.shape[2];
  double alpha = op.getAlpha().convertToDouble();
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> f = balanceCounts(indices, b, e);
    for (int64_t tok = 0; tok < s; ++tok) {
      const double *row = &scores.data[(b * s + tok) * e];
      double *g = &ds.data[(b * s + tok) * e];
      double z = std::accumulate(row, row + e, 0.0), dot = 0;
      // d/d row of sum_i c_i * row_i / z, with c_i = dl * alpha * f_i / (s * batch).
      for (int64_t i = 0; i < e; ++i)
        dot += f[i] * row[i];
      double c = dl * alpha / (s * batch);
      for (int64_t j = 0; j < e; ++j)
        g[j] = c * (f[j] / z - dot / (z * z));
    }
  }
  out.push_back(std::move(ds));
  return success();
}

} // namespace

std::optional<LogicalResult> interp::evalMoE(Operation *op, Inputs in,
                                             Outputs &out) {
  return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
      .Case<RouterOp>([&](auto o) { return router(o, in, out); })
      .Case<RouterGradOp>([&](auto o) { return routerGrad(o, in, out); })
      .Case<MoeDispatchOp>([&](auto o) { return dispatch(o, in, out); })
      .Case<MoeCombineOp>([&](auto o) { return combine(o, in, out); })
      .Case<MoeCombineGradOp>([&](auto o) { return combineGrad(o, in, out); })
      .Case<GroupedMatmulOp>([&](auto o) { return groupedMatmul(o, in, out); })
      .Case<GroupedMatmulWgradOp>(
          [&](auto o) { return groupedMatmulWgrad(o, in, out); })
      .Case<ExpertLoadOp>([&](ExpertLoadOp o) -> LogicalResult {
        HostTensor t = resultTensor(op);
        if (failed(checkExperts(op, *in[0], o.getNumExpertsAttr().getInt())))
          return failure();
        for (double e : in[0]->data)
          t.data[static_cast<int64_t>(e)] += 1.0;
        out.push_back(std::move(t));
        return success();
      })
      .Case<BalanceLossOp>([&](auto o) { return balanceLoss(o, in, out); })
      .Case<BalanceLossGradOp>(
          [&](auto o) { return balanceLossGrad(o, in, out); })
      .Default([](Operation *) { return std::nullopt; });
}
