//===- CpuKernels.h - an executable's kernels for the CPU -------*- C++ -*-===//
//
// From the kernel module as dsv3-train-pipeline leaves it for the cpu
// target (the LLVM dialect, memrefs as bare pointers) to one shared object
// with an entry point `dsv3_<kernel>(void **args)` per kernel: the one
// calling convention the CPU backend knows.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_CPUKERNELS_H
#define DSV3_TARGET_CPUKERNELS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::dsv3 {

/// The entry point of kernel `name` in the shared object.
std::string cpuEntryPoint(llvm::StringRef name);

/// Translates, optimizes (-O`optLevel`), compiles and links `kernels`; the
/// shared object's bytes.
FailureOr<std::string> compileCpuKernels(ModuleOp kernels, unsigned optLevel,
                                         llvm::raw_ostream *progress);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_CPUKERNELS_H
