//===- CpuExecutable.h - the training step as a CPU executable --*- C++ -*-===//
//
// Compiles the training step of a module (the output of dsv3-autodiff) into
// a dsv3.runtime.Executable for the CPU backend: fusion, the split into
// kernels and BLAS GEMMs (dsv3-outline-kernels), one shared object holding
// every kernel, the arena plan and the command list.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_CPUEXECUTABLE_H
#define DSV3_TARGET_CPUEXECUTABLE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::dsv3 {

struct CpuExecutableOptions {
  /// LLVM optimization level of the kernels (0-3).
  unsigned optLevel = 2;
  /// The model description, stored in the executable for the record.
  std::string specText;
  /// Where progress lines go (nullptr: nowhere).
  llvm::raw_ostream *progress = nullptr;
};

/// Returns the serialized executable. Rewrites `module` on the way.
FailureOr<std::string> buildCpuExecutable(ModuleOp module,
                                          const CpuExecutableOptions &options);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_CPUEXECUTABLE_H
