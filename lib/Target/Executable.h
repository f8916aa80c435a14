//===- Executable.h - the training step as an executable --------*- C++ -*-===//
//
// Compiles the training step of a module (the output of dsv3-autodiff) into
// a dsv3.runtime.Executable: fusion, the split into kernels and library
// GEMMs (dsv3-outline-kernels), the arena plan, the command list, and the
// kernels themselves: one shared object for the CPU, or a cubin (and its
// PTX) for CUDA.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_EXECUTABLE_H
#define DSV3_TARGET_EXECUTABLE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::dsv3 {

struct ExecutableOptions {
  /// "cpu" or "cuda".
  std::string target = "cpu";
  /// The GPU architecture for cuda: 80, 90 or 100.
  int sm = 90;
  /// The CUDA toolkit (ptxas, libdevice) for cuda.
  std::string cudaPath = "/usr/local/cuda";
  /// LLVM optimization level of the kernels (0-3).
  unsigned optLevel = 2;
  /// The model description, stored in the executable for the record.
  std::string specText;
  /// cuda: where to put the kernels' PTX as well (nullptr: nowhere).
  std::string *ptx = nullptr;
  /// Where progress lines go (nullptr: nowhere).
  llvm::raw_ostream *progress = nullptr;
};

/// Returns the serialized executable. Rewrites `module` on the way.
FailureOr<std::string> buildExecutable(ModuleOp module,
                                       const ExecutableOptions &options);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_EXECUTABLE_H
