//===- Executable.h - the lowered training step as an executable -*- C++ -*-===//
//
// Serializes the module dsv3-train-pipeline leaves (the planned step, its
// kernel declarations, and the kernel module lowered for the target) into
// a dsv3.runtime.Executable: the buffers at the plan's offsets
// (Buffers.h), the command list (Commands.h), and the kernels' code, one
// shared object for the CPU (CpuKernels.h) or a cubin and its PTX for CUDA
// (GpuKernels.h).
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_EXECUTABLE_H
#define DSV3_TARGET_EXECUTABLE_H

#include "Target/GpuKernels.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::dsv3 {

struct ExecutableOptions {
  /// "cpu" or "cuda": what the pipeline lowered the kernels for.
  std::string target = "cpu";
  /// The GPU architecture for cuda: 80, 90 or 100.
  int sm = 90;
  /// The CUDA toolkit (ptxas) for cuda.
  std::string cudaPath = "/usr/local/cuda";
  /// cuda: the parameter space of a GPU function, in bytes.
  int64_t gpuParamBytes = kGpuParamSpaceBytes;
  /// LLVM optimization level of the CPU kernels (0-3).
  unsigned optLevel = 2;
  /// The model description, stored in the executable for the record.
  std::string specText;
  /// The model as a Hugging Face config.json, written beside every
  /// checkpoint; or why it has none.
  std::string huggingFaceConfig, huggingFaceConfigMissing;
  /// cuda: where to put the kernels' PTX as well (nullptr: nowhere).
  std::string *ptx = nullptr;
  /// Where progress lines go (nullptr: nowhere).
  llvm::raw_ostream *progress = nullptr;
};

/// Returns the serialized executable. Consumes the kernel module's code.
FailureOr<std::string> buildExecutable(ModuleOp module,
                                       const ExecutableOptions &options);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_EXECUTABLE_H
