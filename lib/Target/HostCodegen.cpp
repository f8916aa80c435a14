//===- HostCodegen.cpp - LLVM code generation for the host CPU ------------===//

#include "Target/HostCodegen.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;

FailureOr<std::unique_ptr<llvm::TargetMachine>>
mlir::dsv3::createHostTargetMachine() {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getDefaultTargetTriple(), error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target) {
    llvm::errs() << "dsv3-compile: no code generator for the host (" << triple
                 << "): " << error << "\n";
    return failure();
  }
  // The features the CPU reports, not those of its model name: a virtual
  // machine may hide some (a znver4 without AVX-512), and code that uses
  // them dies with an illegal instruction.
  llvm::SubtargetFeatures features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features.AddFeature(feature.getKey(), feature.getValue());
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      llvm::Triple(triple), llvm::sys::getHostCPUName(), features.getString(),
      llvm::TargetOptions(), llvm::Reloc::PIC_));
}

std::unique_ptr<llvm::Module>
mlir::dsv3::translateForHost(ModuleOp module, llvm::LLVMContext &context,
                             llvm::TargetMachine &machine) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  module.getContext()->appendDialectRegistry(registry);
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context);
  if (!llvmModule) {
    llvm::errs() << "dsv3-compile: translation to LLVM IR failed\n";
    return nullptr;
  }
  llvmModule->setDataLayout(machine.createDataLayout());
  llvmModule->setTargetTriple(machine.getTargetTriple());
  return llvmModule;
}

FailureOr<mlir::dsv3::HostModule>
mlir::dsv3::buildHostModule(ModuleOp module, unsigned optLevel,
                            function_ref<LogicalResult(llvm::Module &)> amend) {
  HostModule host;
  FailureOr<std::unique_ptr<llvm::TargetMachine>> machine =
      createHostTargetMachine();
  if (failed(machine))
    return failure();
  host.machine = std::move(*machine);
  host.context = std::make_unique<llvm::LLVMContext>();
  host.module = translateForHost(module, *host.context, *host.machine);
  if (!host.module || (amend && failed(amend(*host.module))) ||
      failed(optimizeForHost(*host.module, *host.machine, optLevel)))
    return failure();
  return host;
}

LogicalResult mlir::dsv3::optimizeForHost(llvm::Module &module,
                                          llvm::TargetMachine &machine,
                                          unsigned optLevel) {
  if (llvm::Error err = makeOptimizingTransformer(optLevel, /*sizeLevel=*/0,
                                                  &machine)(&module)) {
    llvm::errs() << "dsv3-compile: LLVM optimization failed: "
                 << llvm::toString(std::move(err)) << "\n";
    return failure();
  }
  return success();
}

LogicalResult mlir::dsv3::emitObject(llvm::Module &module,
                                     llvm::TargetMachine &machine,
                                     llvm::raw_pwrite_stream &os) {
  llvm::legacy::PassManager codegen;
  if (machine.addPassesToEmitFile(codegen, os, nullptr,
                                  llvm::CodeGenFileType::ObjectFile)) {
    llvm::errs() << "dsv3-compile: the host target cannot emit objects\n";
    return failure();
  }
  codegen.run(module);
  return success();
}

FailureOr<std::string>
mlir::dsv3::linkSharedObject(ArrayRef<std::string> objects) {
  llvm::ErrorOr<std::string> linker = llvm::sys::findProgramByName("ld.lld");
  if (!linker)
    linker = llvm::sys::findProgramByName("ld");
  if (!linker) {
    llvm::errs() << "dsv3-compile: no linker found (looked for ld.lld and ld "
                    "on PATH); install lld or binutils\n";
    return failure();
  }
  llvm::SmallString<128> libraryPath;
  std::vector<llvm::SmallString<128>> objectPaths(objects.size());
  llvm::scope_exit cleanup([&] {
    for (const auto &path : objectPaths)
      if (!path.empty())
        llvm::sys::fs::remove(path);
    if (!libraryPath.empty())
      llvm::sys::fs::remove(libraryPath);
  });
  if (llvm::sys::fs::createTemporaryFile("dsv3-kernels", "so", libraryPath)) {
    llvm::errs() << "dsv3-compile: cannot create temporary files\n";
    return failure();
  }
  for (auto [path, bytes] : llvm::zip(objectPaths, objects)) {
    if (llvm::sys::fs::createTemporaryFile("dsv3-kernels", "o", path)) {
      llvm::errs() << "dsv3-compile: cannot create temporary files\n";
      return failure();
    }
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec) {
      llvm::errs() << "dsv3-compile: " << path << ": " << ec.message()
                   << "\n";
      return failure();
    }
    os << bytes;
  }
  std::vector<llvm::StringRef> args = {*linker, "-shared", "-o", libraryPath};
  for (const auto &path : objectPaths)
    args.push_back(path);
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0,
                                     &error);
  if (rc != 0) {
    llvm::errs() << "dsv3-compile: linking the kernel library with " << *linker
                 << " failed" << (error.empty() ? "" : ": " + error) << "\n";
    return failure();
  }
  auto library = llvm::MemoryBuffer::getFile(libraryPath, /*IsText=*/false);
  if (!library) {
    llvm::errs() << "dsv3-compile: " << libraryPath << ": "
                 << library.getError().message() << "\n";
    return failure();
  }
  return (*library)->getBuffer().str();
}
