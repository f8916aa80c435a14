//===- cpu_gemm.h - GEMMs of the CPU backend, served by a BLAS --*- C++ -*-===//
//
// The CPU backend runs dsv3.matmul and dsv3.grouped_matmul (and the
// grouped weight gradient) as BLAS calls on arena buffers, row-major.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_CPU_GEMM_H
#define DSV3_RUNTIME_CPU_GEMM_H

#include "status.h"

#include <cstddef>
#include <cstdint>

namespace dsv3::runtime {

/// Sets the threads of the CPU backend's pool (thread_pool.h), which runs
/// the GEMMs' tiles and the kernels' parallel loops, and OpenBLAS's own
/// threads to one: the GEMMs are split into tiles by their shape alone, so
/// no sum depends on the thread count. 0 keeps the pool's count.
void setCpuThreads(int threads);

/// C[b] = op(A[b]) op(B[b]) for b in [0, batch), in tiles over the pool: A is [M, K] ([K, M] with
/// transA), B [K, N] ([N, K] with transB), C [M, N], all row-major and
/// contiguous; a zero stride shares an operand across the batch.
void gemm(bool transA, bool transB, int64_t batch, int64_t m, int64_t n,
          int64_t k, const float *a, int64_t strideA, const float *b,
          int64_t strideB, float *c, int64_t strideC);

/// Y = X W_e over the consecutive row groups of X ([rows, K]) given by
/// `groupSizes` ([experts]); W is [experts, K, N] ([experts, N, K] with
/// transW). Rows past the groups are set to zero. Fails when the groups
/// add up to more rows than X has.
Status groupedGemm(bool transW, int64_t rows, int64_t experts, int64_t k,
                   int64_t n, const float *x, const float *w,
                   const int32_t *groupSizes, float *y);

/// dW_e = X_e^T dY_e ([experts, K, N], or [experts, N, K] with transW).
Status groupedGemmWeightGrad(bool transW, int64_t rows, int64_t experts,
                             int64_t k, int64_t n, const float *x,
                             const float *dy, const int32_t *groupSizes,
                             float *dw);

/// `n` f16 values as f32 (exact), and `n` f32 values rounded to f16 (to
/// nearest even, overflow to infinity) as `floatToHalf` does: with F16C
/// where the CPU has it, the same bits either way but a NaN's payload.
void widenHalves(const uint16_t *src, float *dst, size_t n);
void narrowToHalves(const float *src, uint16_t *dst, size_t n);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_CPU_GEMM_H
