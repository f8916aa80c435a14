//===- cpu_attention.h - attention of the CPU backend -----------*- C++ -*-===//
//
// The CPU backend runs dsv3.attention and dsv3.attention_grad (f32) as one
// tiled computation each, on arena buffers: per head and block of query
// rows, the scores of those rows against the keys they may see, their
// softmax and the products with the values, in a per-thread buffer of a
// block's rows. No [B, H, S, S] buffer exists; the step's arena holds only
// the operands and results.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_CPU_ATTENTION_H
#define DSV3_RUNTIME_CPU_ATTENTION_H

#include <cstdint>

namespace dsv3::runtime {

/// query [B, S, H, Dqk], key [B, S, Hkv, Dqk], value [B, S, Hkv, Dv],
/// output [B, S, H, Dv], row-major; H a multiple of Hkv (query head h reads
/// key/value head h / (H / Hkv)). With `causal`, row i sees keys j <= i;
/// with segment ids ([B, S], i32 or i64), only keys of its own segment.
struct AttentionShape {
  int64_t batch, seq, heads, kvHeads, dqk, dv;
  bool causal;
  float scale;
};

/// Segment ids, either width, or none.
struct SegmentIds {
  const int32_t *i32 = nullptr;
  const int64_t *i64 = nullptr;
  bool present() const { return i32 || i64; }
  int64_t at(int64_t i) const { return i32 ? i32[i] : i64[i]; }
};

/// Query rows per block: a block's scores against every key fit in 16 KiB
/// up to S = 256 (16 to 128 rows, 32 at S = 128; beyond, 16 rows of S).
/// A function of the sequence length alone.
int64_t attentionQueryBlock(int64_t seq);

/// out = softmax(scale q k^T + mask) v. Each (batch, head, query block) is
/// one task of the pool, computed the same way on any thread count.
void attentionForward(const AttentionShape &a, const float *q, const float *k,
                      const float *v, SegmentIds segments, float *out);

/// dq, dk, dv of attentionForward given d_out, the scores recomputed. Each
/// (batch, key/value head) is one task (it sums the key and value
/// gradients of its query heads), so no sum depends on the thread count.
void attentionBackward(const AttentionShape &a, const float *q, const float *k,
                       const float *v, const float *dOut, SegmentIds segments,
                       float *dq, float *dk, float *dv);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_CPU_ATTENTION_H
