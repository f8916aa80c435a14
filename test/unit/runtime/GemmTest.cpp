//===- GemmTest.cpp - the CPU backend's BLAS GEMMs against plain loops ----===//

#include "cpu_gemm.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace dsv3::runtime;

namespace {

std::vector<float> random(size_t n, int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

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

TEST(CpuGemm, RejectsGroupsLargerThanTheRows) {
  std::vector<float> x(8), w(8), y(8);
  std::vector<int32_t> sizes = {3, 2};
  Status s = groupedGemm(false, 4, 2, 2, 1, x.data(), w.data(), sizes.data(),
                         y.data());
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), "grouped GEMM: group sizes exceed the 4 rows");
}

} // namespace
