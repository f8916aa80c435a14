//===- cuda_lt.h - cuBLASLt for the CUDA backend ----------------*- C++ -*-===//
//
// cuBLASLt is opened with dlopen, like the driver. Describing a matmul
// (its compute and scale types, operation and matrix layouts) needs no GPU,
// so the descriptors of every GEMM the backend issues are built and read
// back in unit tests on any machine with the toolkit.
//
// Compiled only where the CUDA toolkit's headers are (DSV3_HAVE_CUDA_HEADERS).
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_CUDA_LT_H
#define DSV3_RUNTIME_CUDA_LT_H

#include "cuda_launch.h"
#include "status.h"

#include <cublasLt.h>

namespace dsv3::runtime {

#define DSV3_LT_FUNCTIONS(X)                                                   \
  X(cublasLtCreate)                                                            \
  X(cublasLtDestroy)                                                           \
  X(cublasLtMatmulDescCreate)                                                  \
  X(cublasLtMatmulDescDestroy)                                                 \
  X(cublasLtMatmulDescSetAttribute)                                            \
  X(cublasLtMatmulDescGetAttribute)                                            \
  X(cublasLtMatrixLayoutCreate)                                                \
  X(cublasLtMatrixLayoutDestroy)                                               \
  X(cublasLtMatrixLayoutSetAttribute)                                          \
  X(cublasLtMatrixLayoutGetAttribute)                                          \
  X(cublasLtMatmul)

/// The cuBLASLt functions the backend calls, resolved from the library.
struct LtApi {
#define DSV3_MEMBER(name) decltype(&::name) name = nullptr;
  DSV3_LT_FUNCTIONS(DSV3_MEMBER)
#undef DSV3_MEMBER
};

/// Opens cuBLASLt (libcublasLt.so.13, then the toolkit's copy) and
/// resolves `api`; `library` is the dlopen handle, kept open by the caller.
Status loadLt(LtApi &api, void *&library);

/// cuBLASLt's data type for a GEMM's element type: f32, bf16 or f16.
cudaDataType_t ltDataType(ElementType type);

/// Everything one matmul needs besides its pointers.
struct LtDescriptors {
  cublasLtMatmulDesc_t matmul = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
};

/// Describes `lt` on elements of `type`: f32, bf16 or f16 operands and
/// result, accumulation and scaling in f32 (CUBLAS_COMPUTE_32F, so f32
/// GEMMs do not use TF32), every layout strided-batched. On failure nothing
/// is left allocated.
Status createLtDescriptors(const LtApi &api, const LtMatmul &lt,
                           ElementType type, LtDescriptors &out);

void destroyLtDescriptors(const LtApi &api, LtDescriptors &descriptors);

/// A cuBLASLt status as a Status naming `what`.
Status checkLt(cublasStatus_t status, const char *what);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_CUDA_LT_H
