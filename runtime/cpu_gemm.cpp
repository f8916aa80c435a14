//===- cpu_gemm.cpp - GEMMs of the CPU backend, served by a BLAS ----------===//

#include "cpu_gemm.h"

#include "element_type.h"

#include <cblas.h>

#include <cstring>
#include <dlfcn.h>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dsv3::runtime {

namespace {

#if defined(__x86_64__)
// F16C converts 8 values an instruction; its f32 -> f16 rounding (to
// nearest even, overflow to infinity) is floatToHalf's, bit for bit for
// every value but a NaN (whose payload it keeps).
__attribute__((target("f16c,avx"))) void halvesToFloats(const uint16_t *src,
                                                        float *dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i *>(src + i))));
  for (; i < n; ++i)
    dst[i] = halfToFloat(src[i]);
}

__attribute__((target("f16c,avx"))) void floatsToHalves(const float *src,
                                                        uint16_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                     _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i)
    dst[i] = floatToHalf(src[i]);
}

bool hasF16c() {
  static const bool has = __builtin_cpu_supports("f16c") &&
                          __builtin_cpu_supports("avx");
  return has;
}
#endif

} // namespace

void widenHalves(const uint16_t *src, float *dst, size_t n) {
#if defined(__x86_64__)
  if (hasF16c())
    return halvesToFloats(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i)
    dst[i] = halfToFloat(src[i]);
}

void narrowToHalves(const float *src, uint16_t *dst, size_t n) {
#if defined(__x86_64__)
  if (hasF16c())
    return floatsToHalves(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i)
    dst[i] = floatToHalf(src[i]);
}

Status setGemmThreads(int threads) {
  // OpenBLAS's own call, looked up so that another BLAS links too.
  using SetThreads = void (*)(int);
  auto set = reinterpret_cast<SetThreads>(
      dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set)
    return Status::error("--threads " + std::to_string(threads) +
                         ": the BLAS this program uses is not OpenBLAS, "
                         "whose thread count it sets");
  set(threads);
  return Status::ok();
}

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
