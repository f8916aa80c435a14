//===- AttentionTest.cpp - the CPU backend's attention against plain loops ===//
//
// The tiled forward and backward against the definition in double (the
// interpreter's loops), with causal and segment masks, grouped key/value
// heads and sequences that end in a partial query block; and the same bits
// on any thread count.
//
//===----------------------------------------------------------------------===//

#include "cpu_attention.h"
#include "cpu_gemm.h"
#include "thread_pool.h"

#include "RandomData.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace dsv3::runtime;

namespace {

using dsv3::test::random;

struct Case {
  AttentionShape a;
  std::vector<int64_t> segments; // [B, S], or empty
};

struct Reference {
  std::vector<double> out, dq, dk, dv;
};

/// The definition, in double: per row, the softmax of the visible scores.
Reference reference(const Case &c, const std::vector<float> &q,
                    const std::vector<float> &k, const std::vector<float> &v,
                    const std::vector<float> &dOut) {
  const AttentionShape &a = c.a;
  auto visible = [&](int64_t b, int64_t i, int64_t j) {
    if (a.causal && j > i)
      return false;
    return c.segments.empty() ||
           c.segments[b * a.seq + i] == c.segments[b * a.seq + j];
  };
  auto qi = [&](int64_t b, int64_t i, int64_t h, int64_t d) {
    return ((b * a.seq + i) * a.heads + h) * a.dqk + d;
  };
  auto ki = [&](int64_t b, int64_t j, int64_t h, int64_t d) {
    return ((b * a.seq + j) * a.kvHeads + h) * a.dqk + d;
  };
  auto vi = [&](int64_t b, int64_t j, int64_t h, int64_t d) {
    return ((b * a.seq + j) * a.kvHeads + h) * a.dv + d;
  };
  auto oi = [&](int64_t b, int64_t i, int64_t h, int64_t d) {
    return ((b * a.seq + i) * a.heads + h) * a.dv + d;
  };
  Reference r;
  r.out.assign(dOut.size(), 0);
  r.dq.assign(q.size(), 0);
  r.dk.assign(k.size(), 0);
  r.dv.assign(v.size(), 0);
  std::vector<double> p(a.seq), dp(a.seq);
  for (int64_t b = 0; b < a.batch; ++b)
    for (int64_t h = 0; h < a.heads; ++h) {
      int64_t kh = h / (a.heads / a.kvHeads);
      for (int64_t i = 0; i < a.seq; ++i) {
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < a.seq; ++j) {
          p[j] = 0;
          if (!visible(b, i, j))
            continue;
          for (int64_t d = 0; d < a.dqk; ++d)
            p[j] += double(q[qi(b, i, h, d)]) * k[ki(b, j, kh, d)];
          p[j] *= a.scale;
          m = std::max(m, p[j]);
        }
        for (int64_t j = 0; j < a.seq; ++j) {
          p[j] = visible(b, i, j) ? std::exp(p[j] - m) : 0.0;
          sum += p[j];
        }
        double rowDot = 0;
        for (int64_t j = 0; j < a.seq; ++j) {
          p[j] /= sum;
          dp[j] = 0;
          for (int64_t d = 0; d < a.dv; ++d) {
            r.out[oi(b, i, h, d)] += p[j] * v[vi(b, j, kh, d)];
            dp[j] += double(dOut[oi(b, i, h, d)]) * v[vi(b, j, kh, d)];
            r.dv[vi(b, j, kh, d)] += p[j] * dOut[oi(b, i, h, d)];
          }
          rowDot += p[j] * dp[j];
        }
        for (int64_t j = 0; j < a.seq; ++j) {
          double ds = p[j] * (dp[j] - rowDot) * a.scale;
          for (int64_t d = 0; d < a.dqk; ++d) {
            r.dq[qi(b, i, h, d)] += ds * k[ki(b, j, kh, d)];
            r.dk[ki(b, j, kh, d)] += ds * q[qi(b, i, h, d)];
          }
        }
      }
    }
  return r;
}

struct Result {
  std::vector<float> out, dq, dk, dv;
};

Result run(const Case &c, const std::vector<float> &q,
           const std::vector<float> &k, const std::vector<float> &v,
           const std::vector<float> &dOut, bool wideIds) {
  std::vector<int32_t> ids32(c.segments.begin(), c.segments.end());
  SegmentIds ids;
  if (!c.segments.empty()) {
    if (wideIds)
      ids.i64 = c.segments.data();
    else
      ids.i32 = ids32.data();
  }
  Result r;
  r.out.assign(dOut.size(), -7.0f);
  r.dq.assign(q.size(), -7.0f);
  r.dk.assign(k.size(), -7.0f);
  r.dv.assign(v.size(), -7.0f);
  attentionForward(c.a, q.data(), k.data(), v.data(), ids, r.out.data());
  attentionBackward(c.a, q.data(), k.data(), v.data(), dOut.data(), ids,
                    r.dq.data(), r.dk.data(), r.dv.data());
  return r;
}

void expectClose(const std::vector<float> &got, const std::vector<double> &want,
                 const char *what) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 0;
  for (double w : want)
    scale = std::max(scale, std::abs(w));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2e-5 * scale + 1e-6) << what << "[" << i << "]";
}

/// Packed documents: runs of ids, one of them a single token.
std::vector<int64_t> packed(int64_t batch, int64_t seq) {
  std::vector<int64_t> ids(batch * seq);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s)
      ids[b * seq + s] = s < seq / 3 ? 0 : s == seq / 3 ? 1 : 2 + b;
  return ids;
}

std::vector<Case> cases() {
  return {
      // Grouped heads, causal, packed documents; one query block.
      {{2, 40, 4, 2, 12, 8, true, 0.3f}, packed(2, 40)},
      // Full attention over blocks of 16 rows, the last one partial.
      {{1, 300, 2, 1, 9, 5, false, 0.25f}, {}},
      // Causal with segments over blocks of 31 rows, then 6.
      {{2, 130, 2, 2, 16, 16, true, 0.125f}, packed(2, 130)},
  };
}

TEST(CpuAttention, ForwardAndBackwardMatchTheDefinition) {
  setCpuThreads(2);
  int seed = 10;
  for (const Case &c : cases()) {
    const AttentionShape &a = c.a;
    auto q = random(a.batch * a.seq * a.heads * a.dqk, seed++);
    auto k = random(a.batch * a.seq * a.kvHeads * a.dqk, seed++);
    auto v = random(a.batch * a.seq * a.kvHeads * a.dv, seed++);
    auto dOut = random(a.batch * a.seq * a.heads * a.dv, seed++);
    Reference want = reference(c, q, k, v, dOut);
    for (bool wide : {false, true}) {
      SCOPED_TRACE("seq " + std::to_string(a.seq) +
                   (wide ? ", i64 ids" : ", i32 ids"));
      Result got = run(c, q, k, v, dOut, wide);
      expectClose(got.out, want.out, "out");
      expectClose(got.dq, want.dq, "dq");
      expectClose(got.dk, want.dk, "dk");
      expectClose(got.dv, want.dv, "dv");
    }
  }
}

TEST(CpuAttention, NanScoresMakeTheirRowsNan) {
  // Key 5 of batch 0 is NaN: causal rows 5.. see it, rows 0..4 do not.
  Case c{{1, 40, 2, 2, 8, 8, true, 0.3f}, {}};
  const AttentionShape &a = c.a;
  auto q = random(a.seq * a.heads * a.dqk, 1);
  auto k = random(a.seq * a.kvHeads * a.dqk, 2);
  auto v = random(a.seq * a.kvHeads * a.dv, 3);
  auto dOut = random(a.seq * a.heads * a.dv, 4);
  k[5 * a.kvHeads * a.dqk] = std::nanf("");
  setCpuThreads(2);
  Result r = run(c, q, k, v, dOut, false);
  for (int64_t i = 0; i < a.seq; ++i)
    EXPECT_EQ(std::isnan(r.out[i * a.heads * a.dv]), i >= 5) << "row " << i;
}

TEST(CpuAttention, SameBitsOnAnyThreadCount) {
  Case c = cases()[2];
  const AttentionShape &a = c.a;
  auto q = random(a.batch * a.seq * a.heads * a.dqk, 1);
  auto k = random(a.batch * a.seq * a.kvHeads * a.dqk, 2);
  auto v = random(a.batch * a.seq * a.kvHeads * a.dv, 3);
  auto dOut = random(a.batch * a.seq * a.heads * a.dv, 4);
  setCpuThreads(1);
  Result one = run(c, q, k, v, dOut, false);
  for (int threads : {2, 3}) {
    setCpuThreads(threads);
    Result many = run(c, q, k, v, dOut, false);
    EXPECT_EQ(0, std::memcmp(one.out.data(), many.out.data(),
                             one.out.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(one.dq.data(), many.dq.data(),
                             one.dq.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(one.dk.data(), many.dk.data(),
                             one.dk.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(one.dv.data(), many.dv.data(),
                             one.dv.size() * sizeof(float)));
  }
  setCpuThreads(availableCores());
}

} // namespace
