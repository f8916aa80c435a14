//===- GpuKernels.h - an executable's kernels for NVIDIA GPUs ---*- C++ -*-===//
//
// From the kernel module as dsv3-train-pipeline leaves it for the cuda
// target (host functions of GPU launches, one GPU module lowered to NVVM
// with its target attached) to what the executable carries: each kernel's
// launches, their arguments traced back to the kernel's parameters, and
// the GPU module as PTX and, assembled by ptxas, a cubin.
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
  int64_t numGpuFunctions = 0;
};

/// Whether the CUDA toolkit at `cudaPath` has what the cuda target needs
/// (ptxas, libdevice); says what is missing on `errs` if not.
LogicalResult checkCudaToolkit(llvm::StringRef cudaPath,
                               llvm::raw_ostream &errs);

/// The parameter space of a GPU function: 4,352 bytes (0x1100) for the
/// PTX this compiler emits (ISA versions before 8.1), on every sm.
inline constexpr int64_t kGpuParamSpaceBytes = 4352;

/// Collects the launches of `kernels` and compiles its GPU module with the
/// toolkit at `cudaPath`: LLVM to PTX once, then ptxas over the machine's
/// cores. Rewrites `kernels` (the PTX binary replaces
/// the GPU module). A GPU function whose parameters take more than
/// `paramSpaceBytes` is refused, naming it, before anything is compiled.
FailureOr<GpuKernels>
compileGpuKernels(ModuleOp kernels, llvm::StringRef cudaPath,
                  llvm::raw_ostream *progress,
                  int64_t paramSpaceBytes = kGpuParamSpaceBytes);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_GPUKERNELS_H
