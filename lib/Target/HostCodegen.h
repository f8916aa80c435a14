//===- HostCodegen.h - LLVM code generation for the host CPU ----*- C++ -*-===//
//
// From a module in the LLVM dialect to optimized LLVM IR, an object file and
// a shared object for the CPU this runs on.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_HOSTCODEGEN_H
#define DSV3_TARGET_HOSTCODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::dsv3 {

/// A target machine for the host, position-independent code.
FailureOr<std::unique_ptr<llvm::TargetMachine>> createHostTargetMachine();

/// Translates `module` (LLVM dialect) to LLVM IR for `machine`. Registers
/// the translations it needs on the module's context.
std::unique_ptr<llvm::Module> translateForHost(ModuleOp module,
                                               llvm::LLVMContext &context,
                                               llvm::TargetMachine &machine);

/// Runs the LLVM optimization pipeline at `optLevel` (0-3).
LogicalResult optimizeForHost(llvm::Module &module,
                              llvm::TargetMachine &machine,
                              unsigned optLevel);

/// A module translated for the host and optimized, with what it lives in.
struct HostModule {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::TargetMachine> machine;
  std::unique_ptr<llvm::Module> module;
};

/// createHostTargetMachine, translateForHost, then `amend` (when given: to
/// add to the LLVM module before it is optimized), then optimizeForHost.
FailureOr<HostModule>
buildHostModule(ModuleOp module, unsigned optLevel,
                function_ref<LogicalResult(llvm::Module &)> amend = nullptr);

/// Compiles `module` to an object file.
LogicalResult emitObject(llvm::Module &module, llvm::TargetMachine &machine,
                         llvm::raw_pwrite_stream &os);

/// Links object files into one shared object with the system linker
/// (ld.lld, else ld) and returns its bytes.
FailureOr<std::string> linkSharedObject(ArrayRef<std::string> objects);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_HOSTCODEGEN_H
