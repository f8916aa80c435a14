//===- GemmTest.cpp - the CPU backend's BLAS GEMMs against plain loops ----===//

#include "cpu_gemm.h"
#include "element_type.h"

#include "RandomData.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace dsv3::runtime;

namespace {

using dsv3::test::random;

/// op(A)[i, l] for a row-major [M, K] A (or [K, M] when transposed).
float at(const float *a, bool trans, int64_t rows, int64_t cols, int64_t i,
         int64_t l) {
  return trans ? a[l * rows + i] : a[i * cols + l];
}

TEST(CpuGemm, BatchedWithTransposesAndSharedOperands) {
  const int64_t batch = 3, m = 5, n = 4, k = 6;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool shared : {false, true}) {
        auto a = random(batch * m * k, 1), b = random(batch * k * n, 2);
        std::vector<float> c(batch * m * n, -7.0f);
        gemm(ta, tb, batch, m, n, k, a.data(), m * k, b.data(),
             shared ? 0 : k * n, c.data(), m * n);
        for (int64_t bi = 0; bi < batch; ++bi)
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              double expected = 0;
              for (int64_t l = 0; l < k; ++l)
                expected += at(a.data() + bi * m * k, ta, m, k, i, l) *
                            at(b.data() + (shared ? 0 : bi * k * n), tb, k, n,
                               l, j);
              ASSERT_NEAR(c[(bi * m + i) * n + j], expected, 1e-4)
                  << "ta " << ta << " tb " << tb << " shared " << shared;
            }
      }
}

TEST(CpuGemm, GroupedForwardAndWeightGradient) {
  const int64_t rows = 10, experts = 3, k = 4, n = 5;
  std::vector<int32_t> sizes = {3, 0, 5}; // rows 8 and 9 are unused
  auto x = random(rows * k, 3), w = random(experts * k * n, 4),
       dy = random(rows * n, 5);
  for (bool t : {false, true}) {
    std::vector<float> y(rows * n, -1.0f), dw(experts * k * n, -1.0f);
    ASSERT_TRUE(groupedGemm(t, rows, experts, k, n, x.data(), w.data(),
                            sizes.data(), y.data())
                    .isOk());
    ASSERT_TRUE(groupedGemmWeightGrad(t, rows, experts, k, n, x.data(),
                                      dy.data(), sizes.data(), dw.data())
                    .isOk());
    int64_t row = 0;
    std::vector<double> expectDw(experts * k * n, 0.0);
    for (int64_t e = 0; e < experts; ++e) {
      const float *we = w.data() + e * k * n;
      for (int64_t r = row; r < row + sizes[e]; ++r) {
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t l = 0; l < k; ++l)
            acc += x[r * k + l] * (t ? we[j * k + l] : we[l * n + j]);
          ASSERT_NEAR(y[r * n + j], acc, 1e-4);
        }
        for (int64_t l = 0; l < k; ++l)
          for (int64_t j = 0; j < n; ++j)
            expectDw[e * k * n + (t ? j * k + l : l * n + j)] +=
                x[r * k + l] * dy[r * n + j];
      }
      row += sizes[e];
    }
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_EQ(y[8 * n + j], 0.0f);
      EXPECT_EQ(y[9 * n + j], 0.0f);
    }
    for (size_t i = 0; i < dw.size(); ++i)
      ASSERT_NEAR(dw[i], expectDw[i], 1e-4) << "transposed " << t;
  }
}

/// GEMMs large enough to be split into tiles, on 1, 2 and 3 threads: the
/// plain loops' values, and the same bits for every thread count (the
/// tiles depend on the shape alone). The weight gradient's [128, 500] x
/// [500, 128] is a shape at which OpenBLAS's own threads split the sum.
TEST(CpuGemm, TilesGiveTheSameBitsOnAnyThreadCount) {
  struct Shape {
    int64_t m, n, k;
  };
  std::vector<std::vector<float>> first;
  for (int threads : {1, 2, 3}) {
    setCpuThreads(threads);
    std::vector<std::vector<float>> results;
    for (Shape s : {Shape{1000, 64, 300}, Shape{40, 900, 200},
                    Shape{300, 200, 100}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          auto a = random(s.m * s.k, 6), b = random(s.k * s.n, 7);
          std::vector<float> c(s.m * s.n, -7.0f);
          gemm(ta, tb, 1, s.m, s.n, s.k, a.data(), 0, b.data(), 0, c.data(),
               0);
          if (threads == 1)
            for (int64_t i = 0; i < s.m; i += 37)
              for (int64_t j = 0; j < s.n; ++j) {
                double expected = 0;
                for (int64_t l = 0; l < s.k; ++l)
                  expected += at(a.data(), ta, s.m, s.k, i, l) *
                              at(b.data(), tb, s.k, s.n, l, j);
                ASSERT_NEAR(c[i * s.n + j], expected, 1e-3)
                    << s.m << "x" << s.n << "x" << s.k << " ta " << ta
                    << " tb " << tb;
              }
          results.push_back(std::move(c));
        }
    const int64_t rows = 1200, experts = 3, k = 128, n = 128;
    std::vector<int32_t> sizes = {500, 0, 633};
    auto x = random(rows * k, 8), w = random(experts * k * n, 9),
         dy = random(rows * n, 10);
    for (bool t : {false, true}) {
      std::vector<float> y(rows * n, -1.0f), dw(experts * k * n, -1.0f);
      ASSERT_TRUE(groupedGemm(t, rows, experts, k, n, x.data(), w.data(),
                              sizes.data(), y.data())
                      .isOk());
      ASSERT_TRUE(groupedGemmWeightGrad(t, rows, experts, k, n, x.data(),
                                        dy.data(), sizes.data(), dw.data())
                      .isOk());
      for (int64_t r = 1133; r < rows; ++r)
        ASSERT_EQ(y[r * n], 0.0f) << "row " << r << " is in no group";
      for (int64_t i = 0; i < k * n; ++i)
        ASSERT_EQ(dw[k * n + i], 0.0f) << "expert 1 has no rows";
      results.push_back(std::move(y));
      results.push_back(std::move(dw));
    }
    if (first.empty()) {
      first = std::move(results);
      continue;
    }
    ASSERT_EQ(results.size(), first.size());
    for (size_t r = 0; r < results.size(); ++r)
      ASSERT_EQ(std::memcmp(results[r].data(), first[r].data(),
                            results[r].size() * sizeof(float)),
                0)
          << "result " << r << " differs between 1 and " << threads
          << " threads";
  }
}

TEST(CpuGemm, RejectsGroupsLargerThanTheRows) {
  std::vector<float> x(8), w(8), y(8);
  std::vector<int32_t> sizes = {3, 2};
  Status s = groupedGemm(false, 4, 2, 2, 1, x.data(), w.data(), sizes.data(),
                         y.data());
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), "grouped GEMM: group sizes exceed the 4 rows");
}

/// The f16 GEMM operands' conversions (F16C where the CPU has it) give
/// the bits of the scalar conversions the rest of dsv3 uses: every f16
/// value widened, and a million f32 bit patterns (every exponent, ties,
/// overflow, subnormals) narrowed. A NaN only has to stay a NaN.
TEST(CpuGemm, HalfConversionsMatchTheScalarOnes) {
  std::vector<uint16_t> halves(65536);
  for (size_t i = 0; i < halves.size(); ++i)
    halves[i] = static_cast<uint16_t>(i);
  std::vector<float> widened(halves.size());
  widenHalves(halves.data(), widened.data(), halves.size());
  for (size_t i = 0; i < halves.size(); ++i) {
    float want = halfToFloat(halves[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(widened[i])) << i;
      continue;
    }
    EXPECT_EQ(std::memcmp(&want, &widened[i], 4), 0) << i;
  }

  std::mt19937 rng(3);
  std::vector<float> floats(1 << 20);
  for (size_t i = 0; i < floats.size(); ++i) {
    uint32_t bits = rng();
    // Half of them near f16's range, where rounding matters.
    if (i % 2)
      bits = (bits & 0x807fffffu) | ((100 + bits % 50) << 23);
    std::memcpy(&floats[i], &bits, 4);
  }
  std::vector<uint16_t> narrowed(floats.size());
  narrowToHalves(floats.data(), narrowed.data(), floats.size());
  int64_t mismatches = 0;
  for (size_t i = 0; i < floats.size(); ++i) {
    uint16_t want = floatToHalf(floats[i]);
    bool nan = (want & 0x7fffu) > 0x7c00u;
    if (nan ? (narrowed[i] & 0x7fffu) <= 0x7c00u : narrowed[i] != want)
      ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
}

} // namespace
