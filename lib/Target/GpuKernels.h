//===- GpuKernels.h - an executable's kernels for NVIDIA GPUs ---*- C++ -*-===//
//
// Compiles bufferized kernel functions (destination-passing, temporaries
// hoisted into arguments) for an NVIDIA GPU: parallel loops mapped to
// launches (dsv3-map-to-gpu), outlined into one GPU module, lowered to NVVM
// and compiled to PTX and, with ptxas, a cubin. Each kernel function
// becomes a list of launches whose arguments refer back to its parameters.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_GPUKERNELS_H
#define DSV3_TARGET_GPUKERNELS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <string>
#include <vector>

namespace mlir::dsv3 {

struct GpuLaunchArg {
  /// A parameter of the kernel function (a buffer), or a scalar.
  enum class Kind { Parameter, I64, I32, F32, F64 } kind;
  int64_t parameter = 0;
  int64_t integer = 0;
  double real = 0;
};

struct GpuLaunch {
  std::string function;
  std::array<int64_t, 3> grid, block;
  std::vector<GpuLaunchArg> args;
};

struct GpuKernels {
  /// Launches of each kernel function, in order.
  llvm::StringMap<std::vector<GpuLaunch>> launches;
  std::string cubin, ptx;
  int64_t numFunctions = 0;
};

/// Compiles every function of `kernels` for sm_`sm` with the CUDA toolkit
/// at `cudaPath` (libdevice, ptxas). Rewrites `kernels`.
FailureOr<GpuKernels> compileGpuKernels(ModuleOp kernels, int sm,
                                        llvm::StringRef cudaPath,
                                        unsigned optLevel,
                                        llvm::raw_ostream *progress);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_GPUKERNELS_H
