//===- cuda_launch.h - launch arguments and GEMM shapes for CUDA -*- C++ -*-===//
//
// The parts of the CUDA backend that need no GPU, so that they are tested
// everywhere: packing a GpuLaunch's arguments the way cuLaunchKernel takes
// them, and mapping a row-major Gemm command onto cuBLASLt's column-major
// matmul.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_CUDA_LAUNCH_H
#define DSV3_RUNTIME_CUDA_LAUNCH_H

#include "runtime/executable.pb.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace dsv3::runtime {

/// kernelParams for cuLaunchKernel: one 8-byte slot per argument holding a
/// device address, an integer or a float, and a pointer to each slot.
struct PackedLaunchArgs {
  std::vector<uint64_t> slots;
  std::vector<void *> pointers;
};

/// `address(buffer)` gives a buffer's device address.
PackedLaunchArgs packLaunchArgs(const GpuLaunch &launch,
                                const std::function<uint64_t(int)> &address);

/// One strided-batched column-major matmul D = op(A) op(B): what cuBLASLt
/// is asked for a row-major Gemm command (C^T = op(B)^T op(A)^T, so the
/// command's B is cuBLASLt's A and the other way round).
struct LtMatmul {
  bool transA, transB;   // of the column-major operands
  int64_t m, n, k;       // column-major D is m x n
  int a, b;              // buffer ids of the column-major A and B
  int64_t lda, ldb, ldc;
  int64_t aRows, aCols, bRows, bCols;  // the stored layouts
  int64_t batch, strideA, strideB, strideC;
};

LtMatmul ltMatmulFor(const Gemm &gemm);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_CUDA_LAUNCH_H
