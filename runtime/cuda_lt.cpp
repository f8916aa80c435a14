//===- cuda_lt.cpp - cuBLASLt for the CUDA backend ------------------------===//

#ifdef DSV3_HAVE_CUDA_HEADERS

#include "cuda_lt.h"

#include <dlfcn.h>
#include <string>

namespace dsv3::runtime {

Status checkLt(cublasStatus_t status, const char *what) {
  if (status == CUBLAS_STATUS_SUCCESS)
    return Status::ok();
  return Status::error(std::string(what) + ": cuBLASLt status " +
                       std::to_string(static_cast<int>(status)));
}

Status loadLt(LtApi &api, void *&library) {
  std::string tried;
  library = nullptr;
  for (const char *name : {"libcublasLt.so.13", "libcublasLt.so",
                           "/usr/local/cuda/lib64/libcublasLt.so.13"}) {
    if ((library = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
      break;
    tried += std::string(tried.empty() ? "" : ", ") + name;
  }
  if (!library)
    return Status::error("cuBLASLt is missing (could not load " + tried +
                         "); add the CUDA toolkit's lib64 to "
                         "LD_LIBRARY_PATH");
#define DSV3_RESOLVE(name)                                                     \
  api.name = reinterpret_cast<decltype(&::name)>(dlsym(library, #name));       \
  if (!api.name)                                                               \
    return Status::error("cuBLASLt lacks " #name);
  DSV3_LT_FUNCTIONS(DSV3_RESOLVE)
#undef DSV3_RESOLVE
  return Status::ok();
}

cudaDataType_t ltDataType(ElementType type) {
  if (type == TYPE_BF16)
    return CUDA_R_16BF;
  return type == TYPE_F16 ? CUDA_R_16F : CUDA_R_32F;
}

void destroyLtDescriptors(const LtApi &api, LtDescriptors &d) {
  for (cublasLtMatrixLayout_t *l : {&d.a, &d.b, &d.c})
    if (*l) {
      api.cublasLtMatrixLayoutDestroy(*l);
      *l = nullptr;
    }
  if (d.matmul) {
    api.cublasLtMatmulDescDestroy(d.matmul);
    d.matmul = nullptr;
  }
}

Status createLtDescriptors(const LtApi &api, const LtMatmul &lt,
                           ElementType type, LtDescriptors &out) {
  cudaDataType_t data = ltDataType(type);
  cublasOperation_t ta = lt.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t tb = lt.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  Status s;
  auto layout = [&](cublasLtMatrixLayout_t *l, int64_t rows, int64_t cols,
                    int64_t ld, int64_t stride) {
    if (!(s = checkLt(api.cublasLtMatrixLayoutCreate(l, data, rows, cols, ld),
                      "cublasLtMatrixLayoutCreate")))
      return false;
    int32_t count = static_cast<int32_t>(lt.batch);
    return static_cast<bool>(
        (s = checkLt(api.cublasLtMatrixLayoutSetAttribute(
                         *l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                         sizeof(count)),
                     "batch count")) &&
        (s = checkLt(api.cublasLtMatrixLayoutSetAttribute(
                         *l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                         &stride, sizeof(stride)),
                     "batch stride")));
  };
  bool ok =
      (s = checkLt(api.cublasLtMatmulDescCreate(&out.matmul, CUBLAS_COMPUTE_32F,
                                                CUDA_R_32F),
                   "cublasLtMatmulDescCreate")) &&
      (s = checkLt(api.cublasLtMatmulDescSetAttribute(
                       out.matmul, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)),
                   "transa")) &&
      (s = checkLt(api.cublasLtMatmulDescSetAttribute(
                       out.matmul, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)),
                   "transb")) &&
      layout(&out.a, lt.aRows, lt.aCols, lt.lda, lt.strideA) &&
      layout(&out.b, lt.bRows, lt.bCols, lt.ldb, lt.strideB) &&
      layout(&out.c, lt.m, lt.n, lt.ldc, lt.strideC);
  if (!ok)
    destroyLtDescriptors(api, out);
  return s;
}

} // namespace dsv3::runtime

#endif // DSV3_HAVE_CUDA_HEADERS
