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
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/IRBuilder.h"

#include <algorithm>
#include <atomic>
#include <thread>

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

  // Every function with a body (the kernels, and the parts
  // dsv3-split-large-kernels moved out of long ones) in a fixed number of
  // parts, each its own LLVM module, optimized and compiled on its own
  // thread: LLVM's time is most of a compile, and a function needs only
  // the others' declarations. The split depends only on the module, so the
  // library is the same whatever the machine's cores.
  std::vector<std::string> defined;
  for (auto fn : kernels.getOps<LLVM::LLVMFuncOp>())
    if (!fn.isExternal())
      defined.push_back(fn.getSymName().str());
  constexpr size_t kParts = 16;
  size_t parts = std::max<size_t>(1, std::min(kParts, defined.size()));
  unsigned threads = std::max(
      1u, std::min<unsigned>(std::thread::hardware_concurrency(), parts));
  if (progress)
    *progress << "dsv3-compile: generating " << names.size()
              << " kernels for the host CPU (-O" << optLevel << ", " << parts
              << " parts on " << threads << " threads)\n";

  struct Part {
    llvm::StringSet<> functions;
    std::vector<std::string> kernels;
    std::unique_ptr<llvm::LLVMContext> context;
    std::unique_ptr<llvm::TargetMachine> machine;
    std::unique_ptr<llvm::Module> module;
    SmallString<0> object;
    bool failed = false;
  };
  std::vector<Part> work(parts);
  llvm::StringSet<> kernelNames;
  for (const std::string &name : names)
    kernelNames.insert(name);
  for (size_t i = 0; i < defined.size(); ++i) {
    work[i % parts].functions.insert(defined[i]);
    if (kernelNames.contains(defined[i]))
      work[i % parts].kernels.push_back(defined[i]);
  }
  // Translation touches the MLIR context: one part after another.
  for (Part &part : work) {
    OwningOpRef<ModuleOp> clone = kernels.clone();
    for (auto fn : clone->getOps<LLVM::LLVMFuncOp>())
      if (!fn.isExternal() && !part.functions.contains(fn.getSymName())) {
        fn.getBody().dropAllReferences();
        fn.getBody().getBlocks().clear();
        fn.setLinkage(LLVM::Linkage::External);
      }
    FailureOr<std::unique_ptr<llvm::TargetMachine>> machine =
        createHostTargetMachine();
    if (failed(machine))
      return failure();
    part.machine = std::move(*machine);
    part.context = std::make_unique<llvm::LLVMContext>();
    part.module = translateForHost(*clone, *part.context, *part.machine);
    if (!part.module || failed(addEntryPoints(*part.module, part.kernels)))
      return failure();
    // A function another part calls is visible to the other objects but
    // not outside the library; constants every part holds stay within
    // each object.
    for (llvm::Function &fn : *part.module)
      if (!fn.isDeclaration() && !kernelNames.contains(fn.getName()) &&
          !fn.getName().starts_with(cpuEntryPoint(""))) {
        fn.setLinkage(llvm::GlobalValue::ExternalLinkage);
        fn.setVisibility(llvm::GlobalValue::HiddenVisibility);
      }
    for (llvm::GlobalVariable &global : part.module->globals())
      if (!global.isDeclaration() && !global.hasLocalLinkage())
        global.setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  std::atomic<size_t> next{0};
  auto compile = [&] {
    for (size_t i = next++; i < work.size(); i = next++) {
      Part &part = work[i];
      llvm::raw_svector_ostream os(part.object);
      part.failed =
          failed(optimizeForHost(*part.module, *part.machine, optLevel)) ||
          failed(emitObject(*part.module, *part.machine, os));
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(compile);
  compile();
  for (std::thread &thread : pool)
    thread.join();
  std::vector<std::string> objects;
  for (Part &part : work) {
    if (part.failed)
      return failure();
    objects.push_back(std::string(part.object.str()));
  }
  return linkSharedObject(objects);
}
