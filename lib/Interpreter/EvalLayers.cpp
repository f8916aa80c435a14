//===- EvalLayers.cpp - embedding, norms, GEMMs, RoPE, attention, loss ----===//

#include "Interpreter/Eval.h"

#include "dsv3/Dsv3Ops.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::interp;

namespace {

LogicalResult embedding(Operation *op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &table = *in[0], &ids = *in[1];
  int64_t vocab = table.shape[0], hidden = table.shape[1];
  for (int64_t i = 0; i < ids.numel(); ++i) {
    double id = ids.data[i];
    if (id < 0 || id >= vocab)
      return op->emitError("interpreter: token id ")
             << static_cast<int64_t>(id) << " is outside the vocabulary [0, "
             << vocab << ")";
    std::copy_n(table.data.begin() + static_cast<int64_t>(id) * hidden, hidden,
                t.data.begin() + i * hidden);
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult rmsNorm(RmsNormOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &x = *in[0], &w = *in[1];
  int64_t h = x.shape.back(), rows = x.numel() / h;
  double eps = op.getEps().convertToDouble();
  for (int64_t r = 0; r < rows; ++r) {
    const double *xr = &x.data[r * h];
    double ss = 0;
    for (int64_t j = 0; j < h; ++j)
      ss += xr[j] * xr[j];
    double inv = 1.0 / std::sqrt(ss / h + eps);
    for (int64_t j = 0; j < h; ++j)
      t.data[r * h + j] = xr[j] * inv * w.data[j];
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult rmsNormGrad(RmsNormGradOp op, Inputs in, Outputs &out) {
  HostTensor dx = resultTensor(op, 0), dw = resultTensor(op, 1);
  const HostTensor &x = *in[0], &w = *in[1], &dy = *in[2];
  int64_t h = x.shape.back(), rows = x.numel() / h;
  double eps = op.getEps().convertToDouble();
  for (int64_t r = 0; r < rows; ++r) {
    const double *xr = &x.data[r * h], *dyr = &dy.data[r * h];
    double ss = 0, gx = 0;
    for (int64_t j = 0; j < h; ++j) {
      ss += xr[j] * xr[j];
      gx += dyr[j] * w.data[j] * xr[j];
    }
    double inv = 1.0 / std::sqrt(ss / h + eps);
    for (int64_t j = 0; j < h; ++j) {
      double g = dyr[j] * w.data[j];
      dx.data[r * h + j] = inv * (g - xr[j] * inv * inv * gx / h);
      dw.data[j] += dyr[j] * xr[j] * inv;
    }
  }
  out.push_back(std::move(dx));
  out.push_back(std::move(dw));
  return success();
}

/// C[b] = op(A[b]) @ op(B[b]) with B shared when it has rank 2.
LogicalResult matmul(MatmulOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &a = *in[0], &b = *in[1];
  int64_t ar = a.rank(), br = b.rank();
  int64_t am = a.shape[ar - 2], ak = a.shape[ar - 1];
  int64_t bk = b.shape[br - 2], bn = b.shape[br - 1];
  bool ta = op.getTransposeLhs(), tb = op.getTransposeRhs();
  int64_t m = ta ? ak : am, k = ta ? am : ak, n = tb ? bk : bn;
  int64_t batch = a.numel() / (am * ak);
  bool shared = br == 2;
  for (int64_t bi = 0; bi < batch; ++bi) {
    const double *A = &a.data[bi * am * ak];
    const double *B = &b.data[shared ? 0 : bi * bk * bn];
    double *C = &t.data[bi * m * n];
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l)
          acc += (ta ? A[l * ak + i] : A[i * ak + l]) *
                 (tb ? B[j * bn + l] : B[l * bn + j]);
        C[i * n + j] = acc;
      }
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult rope(RopeOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &x = *in[0], &pos = *in[1];
  int64_t dim = x.shape.back();
  int64_t heads = x.rank() == 4 ? x.shape[2] : 1;
  int64_t tokens = x.shape[0] * x.shape[1];
  double scale;
  std::vector<double> freq = op.getFrequencies(scale);
  double sign = op.getInverse() ? -1.0 : 1.0;
  bool interleaved = op.getInterleaved();
  for (int64_t tok = 0; tok < tokens; ++tok)
    for (int64_t h = 0; h < heads; ++h) {
      const double *xv = &x.data[(tok * heads + h) * dim];
      double *yv = &t.data[(tok * heads + h) * dim];
      for (int64_t i = 0; i < dim / 2; ++i) {
        double angle = sign * pos.data[tok] * freq[i];
        double c = std::cos(angle) * scale, s = std::sin(angle) * scale;
        int64_t a = interleaved ? 2 * i : i;
        int64_t b = interleaved ? 2 * i + 1 : i + dim / 2;
        yv[a] = xv[a] * c - xv[b] * s;
        yv[b] = xv[b] * c + xv[a] * s;
      }
    }
  out.push_back(std::move(t));
  return success();
}

/// Shapes and masking shared by attention and its gradient.
struct AttentionShape {
  int64_t b, s, h, hkv, dqk, dv;
  const HostTensor *segments;
  bool causal;
  bool visible(int64_t batch, int64_t i, int64_t j) const {
    if (causal && j > i)
      return false;
    if (segments && segments->data[batch * s + i] != segments->data[batch * s + j])
      return false;
    return true;
  }
  int64_t q(int64_t bi, int64_t i, int64_t hi, int64_t d) const {
    return ((bi * s + i) * h + hi) * dqk + d;
  }
  int64_t k(int64_t bi, int64_t j, int64_t hi, int64_t d) const {
    return ((bi * s + j) * hkv + hi) * dqk + d;
  }
  int64_t v(int64_t bi, int64_t j, int64_t hi, int64_t d) const {
    return ((bi * s + j) * hkv + hi) * dv + d;
  }
  int64_t o(int64_t bi, int64_t i, int64_t hi, int64_t d) const {
    return ((bi * s + i) * h + hi) * dv + d;
  }
};

AttentionShape attentionShape(const HostTensor &q, const HostTensor &k,
                              const HostTensor &v, const HostTensor *seg,
                              bool causal) {
  return {q.shape[0], q.shape[1], q.shape[2], k.shape[2],
          q.shape[3], v.shape[3], seg, causal};
}

/// Softmax probabilities of query row i of head hi: p[j] (0 when masked).
void attentionRow(const AttentionShape &a, const HostTensor &q,
                  const HostTensor &k, double scale, int64_t bi, int64_t hi,
                  int64_t i, std::vector<double> &p) {
  int64_t kh = hi / (a.h / a.hkv);
  p.assign(a.s, 0.0);
  double m = -INFINITY;
  for (int64_t j = 0; j < a.s; ++j) {
    if (!a.visible(bi, i, j))
      continue;
    double dot = 0;
    for (int64_t d = 0; d < a.dqk; ++d)
      dot += q.data[a.q(bi, i, hi, d)] * k.data[a.k(bi, j, kh, d)];
    p[j] = dot * scale;
    m = std::max(m, p[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < a.s; ++j) {
    p[j] = a.visible(bi, i, j) ? std::exp(p[j] - m) : 0.0;
    sum += p[j];
  }
  for (double &pj : p)
    pj /= sum;
}

LogicalResult attention(AttentionOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &q = *in[0], &k = *in[1], &v = *in[2];
  AttentionShape a = attentionShape(q, k, v, in.size() > 3 ? in[3] : nullptr,
                                    op.getCausal());
  double scale = op.getScale().convertToDouble();
  std::vector<double> p;
  for (int64_t bi = 0; bi < a.b; ++bi)
    for (int64_t hi = 0; hi < a.h; ++hi) {
      int64_t kh = hi / (a.h / a.hkv);
      for (int64_t i = 0; i < a.s; ++i) {
        attentionRow(a, q, k, scale, bi, hi, i, p);
        for (int64_t d = 0; d < a.dv; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < a.s; ++j)
            acc += p[j] * v.data[a.v(bi, j, kh, d)];
          t.data[a.o(bi, i, hi, d)] = acc;
        }
      }
    }
  out.push_back(std::move(t));
  return success();
}

LogicalResult attentionGrad(AttentionGradOp op, Inputs in, Outputs &out) {
  HostTensor dq = resultTensor(op, 0), dk = resultTensor(op, 1),
             dv = resultTensor(op, 2);
  const HostTensor &q = *in[0], &k = *in[1], &v = *in[2], &dout = *in[3];
  AttentionShape a = attentionShape(q, k, v, in.size() > 4 ? in[4] : nullptr,
                                    op.getCausal());
  double scale = op.getScale().convertToDouble();
  std::vector<double> p, dp(a.s);
  for (int64_t bi = 0; bi < a.b; ++bi)
    for (int64_t hi = 0; hi < a.h; ++hi) {
      int64_t kh = hi / (a.h / a.hkv);
      for (int64_t i = 0; i < a.s; ++i) {
        attentionRow(a, q, k, scale, bi, hi, i, p);
        double rowDot = 0;
        for (int64_t j = 0; j < a.s; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < a.dv; ++d)
            acc += dout.data[a.o(bi, i, hi, d)] * v.data[a.v(bi, j, kh, d)];
          dp[j] = acc;
          rowDot += p[j] * acc;
          for (int64_t d = 0; d < a.dv; ++d)
            dv.data[a.v(bi, j, kh, d)] += p[j] * dout.data[a.o(bi, i, hi, d)];
        }
        for (int64_t j = 0; j < a.s; ++j) {
          double ds = p[j] * (dp[j] - rowDot) * scale;
          if (ds == 0)
            continue;
          for (int64_t d = 0; d < a.dqk; ++d) {
            dq.data[a.q(bi, i, hi, d)] += ds * k.data[a.k(bi, j, kh, d)];
            dk.data[a.k(bi, j, kh, d)] += ds * q.data[a.q(bi, i, hi, d)];
          }
        }
      }
    }
  out.push_back(std::move(dq));
  out.push_back(std::move(dk));
  out.push_back(std::move(dv));
  return success();
}

/// Per-token weights of cross entropy (mask, ignore index) and their sum;
/// fails on a target outside the vocabulary.
LogicalResult tokenWeights(Operation *op, const HostTensor &targets,
                           const HostTensor *mask, int64_t vocab,
                           int64_t ignore, std::vector<double> &w,
                           double &total) {
  w.assign(targets.numel(), 0.0);
  total = 0;
  for (int64_t i = 0; i < targets.numel(); ++i) {
    double target = targets.data[i];
    if (target == static_cast<double>(ignore))
      continue;
    if (target < 0 || target >= vocab)
      return op->emitError("interpreter: target ")
             << static_cast<int64_t>(target) << " is outside the vocabulary [0, "
             << vocab << ")";
    w[i] = mask ? mask->data[i] : 1.0;
    total += w[i];
  }
  return success();
}

void logSoftmaxRow(const double *x, int64_t n, std::vector<double> &out) {
  double m = -INFINITY;
  for (int64_t j = 0; j < n; ++j)
    m = std::max(m, x[j]);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j)
    sum += std::exp(x[j] - m);
  out.resize(n);
  for (int64_t j = 0; j < n; ++j)
    out[j] = x[j] - m - std::log(sum);
}

LogicalResult crossEntropy(CrossEntropyOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &logits = *in[0], &targets = *in[1];
  int64_t vocab = logits.shape.back();
  std::vector<double> w, ls;
  double total;
  if (failed(tokenWeights(op, targets, in.size() > 2 ? in[2] : nullptr, vocab,
                          op.getIgnoreIndexAttr().getInt(), w, total)))
    return failure();
  double loss = 0;
  for (int64_t i = 0; i < targets.numel(); ++i) {
    if (w[i] == 0)
      continue;
    logSoftmaxRow(&logits.data[i * vocab], vocab, ls);
    loss -= w[i] * ls[static_cast<int64_t>(targets.data[i])];
  }
  t.data[0] = total > 0 ? loss / total : 0.0;
  out.push_back(std::move(t));
  return success();
}

LogicalResult crossEntropyGrad(CrossEntropyGradOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &logits = *in[0], &targets = *in[1];
  double dl = in[2]->scalar();
  int64_t vocab = logits.shape.back();
  std::vector<double> w, ls;
  double total;
  if (failed(tokenWeights(op, targets, in.size() > 3 ? in[3] : nullptr, vocab,
                          op.getIgnoreIndexAttr().getInt(), w, total)))
    return failure();
  for (int64_t i = 0; i < targets.numel(); ++i) {
    if (w[i] == 0 || total == 0)
      continue;
    logSoftmaxRow(&logits.data[i * vocab], vocab, ls);
    double c = dl * w[i] / total;
    for (int64_t j = 0; j < vocab; ++j)
      t.data[i * vocab + j] = c * std::exp(ls[j]);
    t.data[i * vocab + static_cast<int64_t>(targets.data[i])] -= c;
  }
  out.push_back(std::move(t));
  return success();
}

} // namespace

std::optional<LogicalResult> interp::evalLayers(Operation *op, Inputs in,
                                                Outputs &out) {
  return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
      .Case<EmbeddingOp>([&](auto) { return embedding(op, in, out); })
      .Case<RmsNormOp>([&](auto o) { return rmsNorm(o, in, out); })
      .Case<RmsNormGradOp>([&](auto o) { return rmsNormGrad(o, in, out); })
      .Case<MatmulOp>([&](auto o) { return matmul(o, in, out); })
      .Case<RopeOp>([&](auto o) { return rope(o, in, out); })
      .Case<AttentionOp>([&](auto o) { return attention(o, in, out); })
      .Case<AttentionGradOp>([&](auto o) { return attentionGrad(o, in, out); })
      .Case<CrossEntropyOp>([&](auto o) { return crossEntropy(o, in, out); })
      .Case<CrossEntropyGradOp>(
          [&](auto o) { return crossEntropyGrad(o, in, out); })
      .Default([](Operation *) { return std::nullopt; });
}
