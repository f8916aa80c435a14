//===- CudaLtTest.cpp - cuBLASLt descriptors, checked without a GPU -------===//
//
// The CUDA backend describes every GEMM to cuBLASLt before it runs it, and
// building those descriptors needs no GPU: this opens the real cuBLASLt,
// builds them for f32 and bf16 GEMMs (batched, with a shared operand,
// transposed), and reads back what cuBLASLt holds: data, compute and scale
// types, operations, layouts and batch strides.
//
//===----------------------------------------------------------------------===//

#include "cuda_lt.h"

#include <gtest/gtest.h>

using namespace dsv3::runtime;

namespace {

class CudaLt : public ::testing::TestWithParam<ElementType> {
protected:
  void SetUp() override {
    Status s = loadLt(api, library);
    ASSERT_TRUE(s) << s.message();
  }

  template <typename T>
  T layoutAttribute(cublasLtMatrixLayout_t layout,
                    cublasLtMatrixLayoutAttribute_t attribute) {
    T value{};
    size_t written = 0;
    EXPECT_EQ(api.cublasLtMatrixLayoutGetAttribute(layout, attribute, &value,
                                                   sizeof(value), &written),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(written, sizeof(value));
    return value;
  }
  template <typename T>
  T matmulAttribute(cublasLtMatmulDesc_t desc,
                    cublasLtMatmulDescAttributes_t attribute) {
    T value{};
    size_t written = 0;
    EXPECT_EQ(api.cublasLtMatmulDescGetAttribute(desc, attribute, &value,
                                                 sizeof(value), &written),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(written, sizeof(value));
    return value;
  }

  LtApi api;
  void *library = nullptr;
};

TEST_P(CudaLt, DescribesABatchedGemmWithASharedWeight) {
  ElementType type = GetParam();
  // C[3][4x5] = A[3][4x8] B^T with one B [5x8] shared by the batch.
  Gemm gemm;
  gemm.set_batch(3), gemm.set_m(4), gemm.set_n(5), gemm.set_k(8);
  gemm.set_trans_b(true);
  gemm.set_stride_a(32), gemm.set_stride_b(0), gemm.set_stride_c(20);
  gemm.set_a(1), gemm.set_b(2), gemm.set_c(3);
  LtMatmul shape = ltMatmulFor(gemm);

  LtDescriptors d;
  Status s = createLtDescriptors(api, shape, type, d);
  ASSERT_TRUE(s) << s.message();
  uint32_t data = type == TYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F;
  EXPECT_EQ(ltDataType(type), static_cast<cudaDataType_t>(data));

  // f32 accumulation and scaling for both, and no TF32 for f32.
  EXPECT_EQ(matmulAttribute<int32_t>(d.matmul,
                                     CUBLASLT_MATMUL_DESC_COMPUTE_TYPE),
            CUBLAS_COMPUTE_32F);
  EXPECT_EQ(matmulAttribute<int32_t>(d.matmul, CUBLASLT_MATMUL_DESC_SCALE_TYPE),
            CUDA_R_32F);
  // Column-major: cuBLASLt's A is the command's B (transposed, [5x8] stored
  // as 8x5 with ld 8), its B the command's A ([4x8] as 8x4, ld 8).
  EXPECT_EQ(matmulAttribute<int32_t>(d.matmul, CUBLASLT_MATMUL_DESC_TRANSA),
            CUBLAS_OP_T);
  EXPECT_EQ(matmulAttribute<int32_t>(d.matmul, CUBLASLT_MATMUL_DESC_TRANSB),
            CUBLAS_OP_N);
  struct Expected {
    cublasLtMatrixLayout_t layout;
    uint64_t rows, cols;
    int64_t ld, stride;
  };
  for (const Expected &e : {Expected{d.a, 8, 5, 8, 0},
                            Expected{d.b, 8, 4, 8, 32},
                            Expected{d.c, 5, 4, 5, 20}}) {
    EXPECT_EQ(layoutAttribute<uint32_t>(e.layout, CUBLASLT_MATRIX_LAYOUT_TYPE),
              data);
    EXPECT_EQ(layoutAttribute<uint64_t>(e.layout, CUBLASLT_MATRIX_LAYOUT_ROWS),
              e.rows);
    EXPECT_EQ(layoutAttribute<uint64_t>(e.layout, CUBLASLT_MATRIX_LAYOUT_COLS),
              e.cols);
    EXPECT_EQ(layoutAttribute<int64_t>(e.layout, CUBLASLT_MATRIX_LAYOUT_LD),
              e.ld);
    EXPECT_EQ(layoutAttribute<int32_t>(e.layout,
                                       CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT),
              3);
    EXPECT_EQ(layoutAttribute<int64_t>(
                  e.layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET),
              e.stride);
  }
  destroyLtDescriptors(api, d);
  EXPECT_EQ(d.matmul, nullptr);
  EXPECT_EQ(d.a, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Types, CudaLt,
                         ::testing::Values(TYPE_F32, TYPE_BF16),
                         [](const ::testing::TestParamInfo<ElementType> &info) {
                           return info.param == TYPE_BF16 ? "bf16" : "f32";
                         });

} // namespace
