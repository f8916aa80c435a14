//===- cpu_attention.cpp - attention of the CPU backend -------------------===//
//
// Per head and block of query rows: S = scale Q K^T over the keys the block
// may see (a causal block stops at its last row), the masked softmax in
// place, O = P V; the backward recomputes P, forms dS = P (dP - rowsum(P
// dP)) with dP = dO V^T, and accumulates dQ = scale dS K, dK += scale dS^T
// Q, dV += P^T dO. The GEMMs are single-threaded BLAS calls on strided
// views of the [B, S, H, D] operands; the pool runs the tasks.
//
//===----------------------------------------------------------------------===//

#include "cpu_attention.h"

#include "thread_pool.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

// The 64-byte vectors below never cross a call (every helper is inlined),
// so GCC's note that their ABI differs with and without AVX-512 is moot.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace dsv3::runtime {

int64_t attentionQueryBlock(int64_t seq) {
  int64_t rows = std::clamp<int64_t>(4096 / std::max<int64_t>(seq, 1), 16, 128);
  return std::min(rows, std::max<int64_t>(seq, 1));
}

namespace {

/// Sixteen floats (and their integer bits): GCC's generic vectors, which
/// compile to whatever vector instructions the target has, so that the
/// row loops below run lane-parallel without depending on the
/// vectorizer's choices (a scalar loop with a select or a float-to-int
/// conversion is not if-converted under the default trapping math).
typedef float F16 __attribute__((vector_size(64)));
typedef int32_t I16 __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;

/// Every helper is inlined into the row functions, which are compiled for
/// AVX-512, AVX2 and the baseline (the loader picks one for the CPU), so
/// sixteen lanes are one register where the CPU has them.
#define DSV3_LANES_INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__)
#define DSV3_ROW_CLONES                                                      \
  __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define DSV3_ROW_CLONES
#endif

DSV3_LANES_INLINE F16 load(const float *p) {
  F16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
DSV3_LANES_INLINE void store(float *p, F16 v) { std::memcpy(p, &v, sizeof v); }
DSV3_LANES_INLINE F16 splat(float x) { return F16{} + x; }

/// e^x for x <= 0 (a score minus its row's maximum), to about 2 ulp:
/// x = n ln 2 + r with |r| <= ln 2 / 2, a degree-6 polynomial in r, and
/// 2^n from the exponent bits; below -87 (where e^x is under 2^-125) 0,
/// and NaN for NaN.
DSV3_LANES_INLINE F16 expNonPositive(F16 x) {
  const F16 low = splat(-87.0f);
  const F16 xc = x > low ? x : low;
  // Round to the nearest integer: adding 1.5 * 2^23 drops the fraction.
  const F16 shifter = splat(12582912.0f);
  const F16 n = (xc * 1.44269504f + shifter) - shifter;
  F16 r = xc - n * 0.693145752f; // ln 2, high bits
  r = r - n * 1.42860677e-6f;    // ln 2, the rest
  F16 p = splat(1.0f / 720);
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const I16 bits = (__builtin_convertvector(n, I16) + 127) << 23;
  F16 twoToN;
  std::memcpy(&twoToN, &bits, sizeof twoToN);
  // NaN stays NaN (x != x), as the definition's exp gives.
  return x > low ? p * twoToN : (x != x ? x : F16{});
}

/// A row's loops in whole vectors; the tail is padded (a max with -inf, a
/// sum with 0), so every element takes the same path.
template <typename Body> DSV3_LANES_INLINE void forVectors(int64_t n, Body body) {
  for (int64_t j = 0; j < n; j += kLanes)
    body(j, std::min(kLanes, n - j));
}

DSV3_LANES_INLINE F16 loadPadded(const float *p, int64_t count, float pad) {
  if (count == kLanes)
    return load(p);
  float lanes[kLanes];
  std::fill_n(lanes, kLanes, pad);
  std::copy_n(p, count, lanes);
  return load(lanes);
}
DSV3_LANES_INLINE void storeCount(float *p, F16 v, int64_t count) {
  if (count == kLanes)
    return store(p, v);
  float lanes[kLanes];
  store(lanes, v);
  std::copy_n(lanes, count, p);
}

/// The lanes' sum and max, in a fixed order.
DSV3_LANES_INLINE float sumLanes(F16 v) {
  float sum = 0;
  for (int64_t l = 0; l < kLanes; ++l)
    sum += v[l];
  return sum;
}
DSV3_LANES_INLINE float maxLanes(F16 v) {
  float m = v[0];
  for (int64_t l = 1; l < kLanes; ++l)
    m = v[l] > m || v[l] != v[l] ? v[l] : m;
  return m;
}

const float kMinusInf = -std::numeric_limits<float>::infinity();

DSV3_LANES_INLINE float rowMax(const float *s, int64_t n) {
  F16 m = splat(kMinusInf);
  forVectors(n, [&](int64_t j, int64_t count) {
    F16 x = loadPadded(s + j, count, kMinusInf);
    // A NaN score makes the row's maximum NaN, so the row is NaN as the
    // definition's is.
    m = (x > m) | (x != x) ? x : m;
  });
  return maxLanes(m);
}

/// s[j] = e^(s[j] - m); returns their sum.
DSV3_LANES_INLINE float expAndSum(float *s, int64_t n, float m) {
  F16 sum{};
  forVectors(n, [&](int64_t j, int64_t count) {
    F16 e = expNonPositive(loadPadded(s + j, count, kMinusInf) - m);
    storeCount(s + j, e, count);
    sum += e;
  });
  return sumLanes(sum);
}

/// The sum of p[j] d[j].
DSV3_LANES_INLINE float rowDot(const float *p, const float *d, int64_t n) {
  F16 sum{};
  forVectors(n, [&](int64_t j, int64_t count) {
    sum += loadPadded(p + j, count, 0) * loadPadded(d + j, count, 0);
  });
  return sumLanes(sum);
}

/// d[j] = p[j] (d[j] - sum(p d)) scale: the scores' gradient, in place
/// of dP.
DSV3_ROW_CLONES void scoreGrad(const float *p, float *d, int64_t n,
                               float scale) {
  const float dot = rowDot(p, d, n);
  forVectors(n, [&](int64_t j, int64_t count) {
    F16 g = loadPadded(p + j, count, 0) *
            (loadPadded(d + j, count, 0) - dot) * scale;
    storeCount(d + j, g, count);
  });
}

/// s[j] = -inf where r[j] != own: keys of another segment.
DSV3_LANES_INLINE void maskSegments(float *s, const int32_t *r, int64_t n, int32_t own) {
  const F16 masked = splat(kMinusInf);
  forVectors(n, [&](int64_t j, int64_t count) {
    I16 ids;
    if (count == kLanes) {
      std::memcpy(&ids, r + j, sizeof ids);
    } else {
      int32_t lanes[kLanes];
      std::fill_n(lanes, kLanes, own);
      std::copy_n(r + j, count, lanes);
      std::memcpy(&ids, lanes, sizeof ids);
    }
    F16 x = loadPadded(s + j, count, 0);
    storeCount(s + j, ids == own ? x : masked, count);
  });
}
DSV3_LANES_INLINE void maskSegments(float *s, const int64_t *r, int64_t n, int64_t own) {
  for (int64_t j = 0; j < n; ++j)
    if (r[j] != own)
      s[j] = kMinusInf;
}

/// Multiplies s[0, n) by x.
DSV3_LANES_INLINE void scaleRow(float *s, int64_t n, float x) {
  forVectors(n, [&](int64_t j, int64_t count) {
    storeCount(s + j, loadPadded(s + j, count, 0) * x, count);
  });
}

/// Where row `i` of batch `b` may look: keys [0, end) (end = i + 1 when
/// causal), those of another segment masked.
struct RowMask {
  const AttentionShape &a;
  SegmentIds segments;
  int64_t b;

  int64_t end(int64_t i, int64_t keys) const {
    return a.causal ? std::min(i + 1, keys) : keys;
  }
};

/// Row i's scores s[0, keys) -> probabilities in place (0 where masked or
/// past the causal end).
DSV3_ROW_CLONES void softmaxRow(const RowMask &mask, int64_t i, float *s,
                                int64_t keys) {
  const int64_t end = mask.end(i, keys);
  if (mask.segments.present()) {
    const int64_t base = mask.b * mask.a.seq;
    const int64_t own = mask.segments.at(base + i);
    if (mask.segments.i32)
      maskSegments(s, mask.segments.i32 + base, end,
                   static_cast<int32_t>(own));
    else
      maskSegments(s, mask.segments.i64 + base, end, own);
  }
  // The row sees itself, so its maximum is finite.
  const float sum = expAndSum(s, end, rowMax(s, end));
  scaleRow(s, end, 1.0f / sum);
  std::fill(s + end, s + keys, 0.0f);
}

/// The rows [i0, i1) of head h's probabilities against keys [0, keys) of
/// key head kh, into p ([i1 - i0, keys]).
void probabilities(const AttentionShape &a, const float *q, const float *k,
                   const RowMask &mask, int64_t h, int64_t kh, int64_t i0,
                   int64_t i1, int64_t keys, float *p) {
  const int64_t b = mask.b;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i1 - i0, keys, a.dqk,
              a.scale, q + ((b * a.seq + i0) * a.heads + h) * a.dqk,
              a.heads * a.dqk, k + (b * a.seq * a.kvHeads + kh) * a.dqk,
              a.kvHeads * a.dqk, 0.0f, p, keys);
  for (int64_t i = i0; i < i1; ++i)
    softmaxRow(mask, i, p + (i - i0) * keys, keys);
}

/// Per-thread scores of one block (and their gradient), reused.
float *blockBuffer(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats)
    buffer.resize(floats);
  return buffer.data();
}

} // namespace

void attentionForward(const AttentionShape &a, const float *q, const float *k,
                      const float *v, SegmentIds segments, float *out) {
  const int64_t rows = attentionQueryBlock(a.seq);
  const int64_t blocks = (a.seq + rows - 1) / rows;
  const int64_t group = a.heads / a.kvHeads;
  parallelFor(a.batch * a.heads * blocks, [&](int64_t task) {
    const int64_t block = task % blocks;
    const int64_t h = task / blocks % a.heads;
    const int64_t b = task / blocks / a.heads;
    const int64_t kh = h / group;
    const int64_t i0 = block * rows, i1 = std::min(a.seq, i0 + rows);
    const int64_t keys = a.causal ? i1 : a.seq;
    float *p = blockBuffer(static_cast<size_t>(rows * a.seq));
    RowMask mask{a, segments, b};
    probabilities(a, q, k, mask, h, kh, i0, i1, keys, p);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i1 - i0, a.dv, keys,
                1.0f, p, keys, v + (b * a.seq * a.kvHeads + kh) * a.dv,
                a.kvHeads * a.dv, 0.0f,
                out + ((b * a.seq + i0) * a.heads + h) * a.dv, a.heads * a.dv);
  });
}

void attentionBackward(const AttentionShape &a, const float *q, const float *k,
                       const float *v, const float *dOut, SegmentIds segments,
                       float *dq, float *dk, float *dv) {
  const int64_t rows = attentionQueryBlock(a.seq);
  const int64_t group = a.heads / a.kvHeads;
  parallelFor(a.batch * a.kvHeads, [&](int64_t task) {
    const int64_t kh = task % a.kvHeads;
    const int64_t b = task / a.kvHeads;
    const int64_t kOffset = (b * a.seq * a.kvHeads + kh) * a.dqk;
    const int64_t vOffset = (b * a.seq * a.kvHeads + kh) * a.dv;
    const int64_t kStride = a.kvHeads * a.dqk, vStride = a.kvHeads * a.dv;
    for (int64_t j = 0; j < a.seq; ++j) {
      std::fill_n(dk + kOffset + j * kStride, a.dqk, 0.0f);
      std::fill_n(dv + vOffset + j * vStride, a.dv, 0.0f);
    }
    float *p = blockBuffer(static_cast<size_t>(2 * rows * a.seq));
    float *ds = p + rows * a.seq;
    RowMask mask{a, segments, b};
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      for (int64_t i0 = 0; i0 < a.seq; i0 += rows) {
        const int64_t i1 = std::min(a.seq, i0 + rows), m = i1 - i0;
        const int64_t keys = a.causal ? i1 : a.seq;
        const float *qBlock = q + ((b * a.seq + i0) * a.heads + h) * a.dqk;
        const float *doBlock = dOut + ((b * a.seq + i0) * a.heads + h) * a.dv;
        const int64_t qStride = a.heads * a.dqk, oStride = a.heads * a.dv;
        probabilities(a, q, k, mask, h, kh, i0, i1, keys, p);
        // dP = dO V^T, then dS = P (dP - rowsum(P dP)) scale in its place.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, keys, a.dv,
                    1.0f, doBlock, oStride, v + vOffset, vStride, 0.0f, ds,
                    keys);
        for (int64_t r = 0; r < m; ++r) {
          const float *pr = p + r * keys;
          float *dr = ds + r * keys;
          scoreGrad(pr, dr, keys, a.scale);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, a.dqk, keys,
                    1.0f, ds, keys, k + kOffset, kStride, 0.0f,
                    dq + ((b * a.seq + i0) * a.heads + h) * a.dqk, qStride);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, a.dqk, m,
                    1.0f, ds, keys, qBlock, qStride, 1.0f, dk + kOffset,
                    kStride);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, a.dv, m,
                    1.0f, p, keys, doBlock, oStride, 1.0f, dv + vOffset,
                    vStride);
      }
    }
  });
}

} // namespace dsv3::runtime
