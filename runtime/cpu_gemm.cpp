//===- cpu_gemm.cpp - GEMMs of the CPU backend, served by a BLAS ----------===//

#include "cpu_gemm.h"

#include <cblas.h>

#include <cstring>
#include <string>

namespace dsv3::runtime {

void gemm(bool transA, bool transB, int64_t batch, int64_t m, int64_t n,
          int64_t k, const float *a, int64_t strideA, const float *b,
          int64_t strideB, float *c, int64_t strideC) {
  // A shared rank-2 B with a batched A folds into one tall GEMM.
  if (batch > 1 && strideB == 0 && !transA) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, batch * m, n, k, 1.0f, a,
                k, b, transB ? k : n, 0.0f, c, n);
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a + i * strideA, transA ? m : k, b + i * strideB,
                transB ? k : n, 0.0f, c + i * strideC, n);
}

/// Checks the group sizes and calls f(expert, firstRow, count).
template <typename F>
static Status forEachGroup(int64_t rows, int64_t experts,
                           const int32_t *groupSizes, F f) {
  int64_t row = 0;
  for (int64_t e = 0; e < experts; ++e) {
    int64_t count = groupSizes[e];
    if (count < 0 || row + count > rows)
      return Status::error("grouped GEMM: group sizes exceed the " +
                           std::to_string(rows) + " rows");
    if (count > 0)
      f(e, row, count);
    row += count;
  }
  return Status::ok();
}

Status groupedGemm(bool transW, int64_t rows, int64_t experts, int64_t k,
                   int64_t n, const float *x, const float *w,
                   const int32_t *groupSizes, float *y) {
  std::memset(y, 0, sizeof(float) * rows * n);
  return forEachGroup(rows, experts, groupSizes,
                      [&](int64_t e, int64_t row, int64_t count) {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans,
                                    transW ? CblasTrans : CblasNoTrans, count,
                                    n, k, 1.0f, x + row * k, k, w + e * k * n,
                                    transW ? k : n, 0.0f, y + row * n, n);
                      });
}

Status groupedGemmWeightGrad(bool transW, int64_t rows, int64_t experts,
                             int64_t k, int64_t n, const float *x,
                             const float *dy, const int32_t *groupSizes,
                             float *dw) {
  std::memset(dw, 0, sizeof(float) * experts * k * n);
  return forEachGroup(
      rows, experts, groupSizes, [&](int64_t e, int64_t row, int64_t count) {
        if (transW) // dW_e^T = dY_e^T X_e: [N, K]
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, k, count,
                      1.0f, dy + row * n, n, x + row * k, k, 0.0f,
                      dw + e * k * n, k);
        else // dW_e = X_e^T dY_e: [K, N]
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, count,
                      1.0f, x + row * k, k, dy + row * n, n, 0.0f,
                      dw + e * k * n, n);
      });
}

} // namespace dsv3::runtime
