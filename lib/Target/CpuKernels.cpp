//===- CpuKernels.cpp - an executable's kernels for the CPU ---------------===//
//
// Translation, entry points, optimization, object and link: the kernel
// library the CPU backend loads from memory.
//
//===----------------------------------------------------------------------===//

#include "Target/CpuKernels.h"

#include "Target/HostCodegen.h"

#include "dsv3/Dsv3Attributes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/IR/IRBuilder.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// Adds `void dsv3_<name>(void **args)` for each kernel. The kernels
/// themselves become internal so that they are inlined into their entry
/// points.
LogicalResult addEntryPoints(llvm::Module &module,
                             ArrayRef<std::string> kernels) {
  llvm::LLVMContext &context = module.getContext();
  auto *ptr = llvm::PointerType::get(context, 0);
  auto *entryType =
      llvm::FunctionType::get(llvm::Type::getVoidTy(context), {ptr}, false);
  for (const std::string &name : kernels) {
    llvm::Function *kernel = module.getFunction(name);
    if (!kernel) {
      llvm::errs() << "dsv3-compile: kernel " << name
                   << " is missing from the translated module\n";
      return failure();
    }
    auto *entry = llvm::Function::Create(entryType,
                                         llvm::GlobalValue::ExternalLinkage,
                                         cpuEntryPoint(name), module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", entry));
    SmallVector<llvm::Value *> args;
    for (unsigned i = 0; i < kernel->arg_size(); ++i)
      args.push_back(b.CreateLoad(
          ptr, b.CreateConstGEP1_64(ptr, entry->getArg(0), i)));
    b.CreateCall(kernel, args);
    b.CreateRetVoid();
    kernel->setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  return success();
}

} // namespace

std::string mlir::dsv3::cpuEntryPoint(StringRef name) {
  return ("dsv3_" + name).str();
}

FailureOr<std::string> mlir::dsv3::compileCpuKernels(ModuleOp kernels,
                                                     unsigned optLevel,
                                                     llvm::raw_ostream *progress) {
  std::vector<std::string> names;
  for (auto fn : kernels.getOps<LLVM::LLVMFuncOp>())
    if (isKernel(fn) && !fn.isExternal())
      names.push_back(fn.getSymName().str());
  for (Operation &op : kernels.getOps())
    if (!isa<LLVM::LLVMDialect>(op.getDialect())) {
      op.emitError("dsv3-compile: the cpu kernels must be in the LLVM "
                   "dialect (dsv3-train-pipeline with target=cpu); found ")
          << op.getName();
      return failure();
    }
  if (progress)
    *progress << "dsv3-compile: generating " << names.size()
              << " kernels for the host CPU (-O" << optLevel << ")\n";

  FailureOr<HostModule> host =
      buildHostModule(kernels, optLevel, [&](llvm::Module &module) {
        return addEntryPoints(module, names);
      });
  if (failed(host))
    return failure();
  SmallString<0> object;
  llvm::raw_svector_ostream os(object);
  if (failed(emitObject(*host->module, *host->machine, os)))
    return failure();
  return linkSharedObject(object);
}
