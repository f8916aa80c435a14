//===- CudaLaunchTest.cpp - the CUDA backend's host-side logic ------------===//
//
// What the CUDA backend computes on the host, checked without a GPU: the
// packing of kernel arguments for cuLaunchKernel, the mapping of row-major
// Gemm commands onto cuBLASLt's column-major matmul (evaluated here with a
// plain column-major loop and compared with the row-major product), and a
// clear error where no driver is installed.
//
//===----------------------------------------------------------------------===//

#include "backend.h"
#include "cuda_launch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <dlfcn.h>
#include <random>

using namespace dsv3::runtime;

namespace {

TEST(CudaLaunch, PacksBuffersAndScalars) {
  GpuLaunch launch;
  launch.add_args()->set_buffer(3);
  launch.add_args()->set_i64(-5);
  launch.add_args()->set_i32(7);
  launch.add_args()->set_f32(1.5f);
  launch.add_args()->set_f64(2.25);
  PackedLaunchArgs packed =
      packLaunchArgs(launch, [](int id) { return uint64_t(0x1000 + id); });
  ASSERT_EQ(packed.pointers.size(), 5u);
  EXPECT_EQ(*static_cast<uint64_t *>(packed.pointers[0]), 0x1003u);
  EXPECT_EQ(*static_cast<int64_t *>(packed.pointers[1]), -5);
  EXPECT_EQ(*static_cast<int32_t *>(packed.pointers[2]), 7);
  EXPECT_EQ(*static_cast<float *>(packed.pointers[3]), 1.5f);
  EXPECT_EQ(*static_cast<double *>(packed.pointers[4]), 2.25);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_EQ(packed.pointers[i], &packed.slots[i]);
}

/// D = op(A) op(B) as cuBLASLt computes it: column-major, leading
/// dimensions and batch strides as given.
void columnMajorMatmul(const LtMatmul &lt, const float *a, const float *b,
                       float *c) {
  for (int64_t p = 0; p < lt.batch; ++p)
    for (int64_t j = 0; j < lt.n; ++j)
      for (int64_t i = 0; i < lt.m; ++i) {
        double acc = 0;
        for (int64_t l = 0; l < lt.k; ++l) {
          const float *A = a + p * lt.strideA, *B = b + p * lt.strideB;
          float x = lt.transA ? A[l + i * lt.lda] : A[i + l * lt.lda];
          float y = lt.transB ? B[j + l * lt.ldb] : B[l + j * lt.ldb];
          acc += double(x) * y;
        }
        c[p * lt.strideC + i + j * lt.ldc] = float(acc);
      }
}

TEST(CudaLaunch, RowMajorGemmsMapOntoColumnMajorMatmuls) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  const int64_t batch = 2, m = 5, n = 4, k = 3;
  for (int transA = 0; transA < 2; ++transA)
    for (int transB = 0; transB < 2; ++transB)
      for (int sharedB = 0; sharedB < 2; ++sharedB) {
        Gemm g;
        g.set_a(0), g.set_b(1), g.set_c(2);
        g.set_trans_a(transA), g.set_trans_b(transB);
        g.set_batch(batch), g.set_m(m), g.set_n(n), g.set_k(k);
        g.set_stride_a(m * k), g.set_stride_b(sharedB ? 0 : k * n);
        g.set_stride_c(m * n);
        std::vector<float> A(batch * m * k), B(batch * k * n), C(batch * m * n);
        for (float &x : A)
          x = normal(rng);
        for (float &x : B)
          x = normal(rng);
        LtMatmul lt = ltMatmulFor(g);
        EXPECT_EQ(lt.a, 1);
        EXPECT_EQ(lt.b, 0);
        // cuBLASLt's A is the command's B.
        columnMajorMatmul(lt, B.data(), A.data(), C.data());
        for (int64_t p = 0; p < batch; ++p)
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              double want = 0;
              for (int64_t l = 0; l < k; ++l) {
                const float *a = &A[p * m * k], *b = &B[sharedB ? 0 : p * k * n];
                want += double(transA ? a[l * m + i] : a[i * k + l]) *
                        (transB ? b[j * k + l] : b[l * n + j]);
              }
              EXPECT_NEAR(C[p * m * n + i * n + j], want, 1e-5)
                  << "transA " << transA << " transB " << transB;
            }
        // The stored layouts cuBLASLt is given match the leading dimensions.
        EXPECT_GE(lt.lda, lt.aRows);
        EXPECT_GE(lt.ldb, lt.bRows);
        EXPECT_EQ(lt.ldc, n);
      }
}

TEST(CudaLaunch, NoDriverIsAClearError) {
  if (void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
    dlclose(driver);
    GTEST_SKIP() << "an NVIDIA driver is installed here";
  }
  Executable exe;
  exe.set_target("cuda");
  auto backend = createBackend(exe, BackendOptions());
  ASSERT_FALSE(backend);
  EXPECT_NE(backend.status().message().find("no CUDA driver on this machine"),
            std::string::npos)
      << backend.status().message();
}

} // namespace
