//===- cpu_gemm.cpp - GEMMs of the CPU backend, served by a BLAS ----------===//

#include "cpu_gemm.h"

#include "element_type.h"
#include "thread_pool.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <vector>

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

void setCpuThreads(int threads) {
  // OpenBLAS's own call, looked up so that another BLAS links too: each
  // tile is one single-threaded call, and the pool runs the tiles.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(
          dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set(1);
  if (threads > 0)
    setPoolThreads(threads);
}

namespace {

/// One BLAS call: C = op(A) op(B), row-major, with leading dimensions.
struct Tile {
  bool transA, transB;
  int64_t m, n, k;
  const float *a;
  int64_t lda;
  const float *b;
  int64_t ldb;
  float *c;
  int64_t ldc;
};

/// MACs below which a GEMM is one tile: splitting it would cost more in
/// packing and dispatch than a second core gains.
constexpr int64_t kMacsPerTile = int64_t(1) << 21;
constexpr int64_t kMaxTiles = 8;
/// Rows (or columns) of a tile are a multiple of this: whole register
/// blocks of the BLAS's micro-kernels.
constexpr int64_t kTileQuantum = 16;

/// Appends the tiles of C = op(A) op(B) (A [M, K] or [K, M], B [K, N] or
/// [N, K], C [M, N], leading dimensions lda, ldb, ldc). The split depends
/// on the shape alone, never on the thread count: each element of C is
/// summed by one call of the same shape however many threads there are.
void addTiles(std::vector<Tile> &tiles, bool transA, bool transB, int64_t m,
              int64_t n, int64_t k, const float *a, int64_t lda,
              const float *b, int64_t ldb, float *c, int64_t ldc) {
  if (m == 0 || n == 0)
    return;
  int64_t macs = m * n * std::max<int64_t>(k, 1);
  int64_t parts = std::clamp<int64_t>(macs / kMacsPerTile, 1, kMaxTiles);
  bool byRows = m >= n;
  int64_t extent = byRows ? m : n;
  int64_t step = (extent + parts - 1) / parts;
  step = (step + kTileQuantum - 1) / kTileQuantum * kTileQuantum;
  for (int64_t first = 0; first < extent; first += step) {
    int64_t size = std::min(step, extent - first);
    Tile t{transA, transB, m, n, k, a, lda, b, ldb, c, ldc};
    if (byRows) {
      t.m = size;
      t.a = transA ? a + first : a + first * lda;
      t.c = c + first * ldc;
    } else {
      t.n = size;
      t.b = transB ? b + first * ldb : b + first;
      t.c = c + first;
    }
    tiles.push_back(t);
  }
}

void runTiles(const std::vector<Tile> &tiles) {
  parallelFor(static_cast<int64_t>(tiles.size()), [&](int64_t i) {
    const Tile &t = tiles[i];
    cblas_sgemm(CblasRowMajor, t.transA ? CblasTrans : CblasNoTrans,
                t.transB ? CblasTrans : CblasNoTrans, t.m, t.n, t.k, 1.0f, t.a,
                t.lda, t.b, t.ldb, 0.0f, t.c, t.ldc);
  });
}

/// The tiles of the GEMM being set up (the backend runs one command at a
/// time).
std::vector<Tile> &scratchTiles() {
  thread_local std::vector<Tile> tiles;
  tiles.clear();
  return tiles;
}

} // namespace

void gemm(bool transA, bool transB, int64_t batch, int64_t m, int64_t n,
          int64_t k, const float *a, int64_t strideA, const float *b,
          int64_t strideB, float *c, int64_t strideC) {
  std::vector<Tile> &tiles = scratchTiles();
  // A shared rank-2 B with a batched A folds into one tall GEMM.
  if (batch > 1 && strideB == 0 && !transA)
    addTiles(tiles, false, transB, batch * m, n, k, a, k, b, transB ? k : n,
             c, n);
  else
    for (int64_t i = 0; i < batch; ++i)
      addTiles(tiles, transA, transB, m, n, k, a + i * strideA,
               transA ? m : k, b + i * strideB, transB ? k : n,
               c + i * strideC, n);
  runTiles(tiles);
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
  std::vector<Tile> &tiles = scratchTiles();
  int64_t covered = 0;
  Status s = forEachGroup(rows, experts, groupSizes,
                          [&](int64_t e, int64_t row, int64_t count) {
                            addTiles(tiles, false, transW, count, n, k,
                                     x + row * k, k, w + e * k * n,
                                     transW ? k : n, y + row * n, n);
                            covered = row + count;
                          });
  if (!s)
    return s;
  std::memset(y + covered * n, 0, sizeof(float) * (rows - covered) * n);
  runTiles(tiles);
  return Status::ok();
}

Status groupedGemmWeightGrad(bool transW, int64_t rows, int64_t experts,
                             int64_t k, int64_t n, const float *x,
                             const float *dy, const int32_t *groupSizes,
                             float *dw) {
  std::vector<Tile> &tiles = scratchTiles();
  std::vector<bool> empty(experts, true);
  Status s = forEachGroup(
      rows, experts, groupSizes, [&](int64_t e, int64_t row, int64_t count) {
        empty[e] = false;
        if (transW) // dW_e^T = dY_e^T X_e: [N, K]
          addTiles(tiles, true, false, n, k, count, dy + row * n, n,
                   x + row * k, k, dw + e * k * n, k);
        else // dW_e = X_e^T dY_e: [K, N]
          addTiles(tiles, true, false, k, n, count, x + row * k, k,
                   dy + row * n, n, dw + e * k * n, n);
      });
  if (!s)
    return s;
  for (int64_t e = 0; e < experts; ++e)
    if (empty[e])
      std::memset(dw + e * k * n, 0, sizeof(float) * k * n);
  runTiles(tiles);
  return Status::ok();
}

} // namespace dsv3::runtime
