//===- GpuKernels.cpp - an executable's kernels for NVIDIA GPUs -----------===//
//
// Launch collection and the PTX/cubin emission of the lowered GPU module.
//
//===----------------------------------------------------------------------===//

#include "Target/GpuKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The GPU module to PTX (a gpu.binary of it; `assemble` makes the cubin).
LogicalResult toPtx(ModuleOp module, StringRef cudaPath) {
  PassManager pm(module.getContext());
  GpuModuleToBinaryPassOptions options;
  options.compilationTarget = "isa";
  options.toolkitPath = cudaPath.str();
  pm.addPass(createGpuModuleToBinaryPass(options));
  return pm.run(module);
}

std::optional<int64_t> constantInt(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
      return i.getInt();
  return std::nullopt;
}

/// A scalar launch argument: an index, i64, i32, f32 or f64 constant.
std::optional<GpuLaunchArg> scalarArg(Value v) {
  auto c = v.getDefiningOp<arith::ConstantOp>();
  if (!c)
    return std::nullopt;
  GpuLaunchArg a;
  Type type = c.getType();
  if (auto i = dyn_cast<IntegerAttr>(c.getValue())) {
    if (!type.isIndex() && !type.isInteger(64) && !type.isInteger(32))
      return std::nullopt;
    a.kind = type.isInteger(32) ? GpuLaunchArg::Kind::I32
                                : GpuLaunchArg::Kind::I64;
    a.integer = i.getInt();
    return a;
  }
  if (auto f = dyn_cast<FloatAttr>(c.getValue())) {
    if (!type.isF32() && !type.isF64())
      return std::nullopt;
    a.kind = type.isF32() ? GpuLaunchArg::Kind::F32 : GpuLaunchArg::Kind::F64;
    a.real = f.getValueAsDouble();
    return a;
  }
  return std::nullopt;
}

/// The launches of each host function, their arguments traced back to the
/// function's parameters or constants.
LogicalResult collectLaunches(ModuleOp module, GpuKernels &out) {
  for (auto fn : module.getOps<func::FuncOp>()) {
    std::vector<GpuLaunch> &launches = out.launches[fn.getSymName()];
    WalkResult walked = fn.walk([&](gpu::LaunchFuncOp op) -> WalkResult {
      GpuLaunch launch;
      launch.function = op.getKernelName().str();
      Value dims[6] = {op.getGridSizeX(),  op.getGridSizeY(),
                       op.getGridSizeZ(),  op.getBlockSizeX(),
                       op.getBlockSizeY(), op.getBlockSizeZ()};
      for (int i = 0; i < 6; ++i) {
        std::optional<int64_t> d = constantInt(dims[i]);
        if (!d)
          return op.emitError("dsv3-compile: a launch with a dynamic size");
        (i < 3 ? launch.grid[i] : launch.block[i - 3]) = *d;
      }
      for (Value arg : op.getKernelOperands()) {
        GpuLaunchArg a;
        if (auto param = dyn_cast<BlockArgument>(arg);
            param && param.getOwner()->getParentOp() == fn) {
          a.kind = GpuLaunchArg::Kind::Parameter;
          a.parameter = param.getArgNumber();
        } else if (std::optional<GpuLaunchArg> scalar = scalarArg(arg)) {
          a = *scalar;
        } else {
          return op.emitError("dsv3-compile: a launch argument that is "
                              "neither a buffer of the kernel nor a "
                              "constant: ")
                 << arg;
        }
        launch.args.push_back(a);
      }
      launches.push_back(std::move(launch));
      return WalkResult::advance();
    });
    if (walked.wasInterrupted())
      return failure();
  }
  return success();
}

/// The object of the one gpu.binary in `module`.
/// Every GPU function's parameters fit the parameter space: each laid out
/// at its alignment, as the PTX .param space holds them.
LogicalResult checkParamSpace(ModuleOp kernels, int64_t limit) {
  for (auto gpuModule : kernels.getOps<gpu::GPUModuleOp>()) {
    DataLayout layout(gpuModule);
    for (auto fn : gpuModule.getOps<LLVM::LLVMFuncOp>()) {
      if (!fn->hasAttr(NVVM::NVVMDialect::getKernelFuncAttrName()))
        continue;
      int64_t bytes = 0;
      for (Type t : fn.getArgumentTypes()) {
        int64_t align = layout.getTypeABIAlignment(t);
        bytes = llvm::alignTo(bytes, align) + layout.getTypeSize(t);
      }
      if (bytes > limit)
        return fn.emitError("dsv3-compile: GPU function ")
               << fn.getName() << " takes " << bytes << " bytes of parameters ("
               << fn.getNumArguments() << " arguments), more than the "
               << limit
               << " bytes of a GPU function's parameter space: the kernel "
                  "touches too many buffers to pass each as an argument";
    }
  }
  return success();
}

/// The sm and optimization level the GPU module was lowered for.
FailureOr<std::pair<std::string, int>> gpuTarget(ModuleOp kernels) {
  for (auto gpuModule : kernels.getOps<gpu::GPUModuleOp>())
    if (ArrayAttr targets = gpuModule.getTargetsAttr())
      for (Attribute t : targets)
        if (auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(t))
          return std::make_pair(nvvm.getChip().str(), nvvm.getO());
  kernels.emitError("dsv3-compile: the GPU module has no NVVM target");
  return failure();
}

/// Whether `ptxas` can spread its work over threads (`--split-compile`,
/// in the toolkits of recent years).
bool canSplitCompile(StringRef ptxas) {
  llvm::SmallString<128> help;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("dsv3-ptxas", "txt", fd, help))
    return false;
  llvm::sys::fs::closeFile(fd);
  auto cleanup = llvm::make_scope_exit([&] { llvm::sys::fs::remove(help); });
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(help),
                                          StringRef(help)};
  StringRef args[] = {ptxas, "--help"};
  if (llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects) != 0)
    return false;
  auto text = llvm::MemoryBuffer::getFile(help);
  return text && (*text)->getBuffer().contains("--split-compile");
}

/// Assembles `ptx` for `chip` with the toolkit's ptxas, its optimizations
/// spread over the machine's cores where ptxas can (`--split-compile`; two
/// compiles of a model give the same cubin, which a test checks).
FailureOr<std::string> assemble(ModuleOp kernels, StringRef ptx,
                                StringRef cudaPath, StringRef chip,
                                int optLevel) {
  llvm::SmallString<128> ptxas(cudaPath);
  llvm::sys::path::append(ptxas, "bin", "ptxas");
  llvm::SmallString<128> in, out, log;
  auto cleanup = llvm::make_scope_exit([&] {
    for (StringRef path : {StringRef(in), StringRef(out), StringRef(log)})
      if (!path.empty())
        llvm::sys::fs::remove(path);
  });
  for (auto [path, suffix] : {std::pair{&in, "ptx"}, std::pair{&out, "cubin"},
                              std::pair{&log, "log"}}) {
    int fd;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "dsv3-kernels", suffix, fd, *path)) {
      kernels.emitError("dsv3-compile: cannot create a temporary file: ")
          << ec.message();
      return failure();
    }
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    if (path == &in)
      os << ptx;
    os.close();
    if (os.has_error()) {
      kernels.emitError("dsv3-compile: cannot write ")
          << *path << ": " << os.error().message();
      os.clear_error();
      return failure();
    }
  }
  std::string arch = ("-arch=" + chip).str();
  std::string opt = "-O" + std::to_string(optLevel);
  SmallVector<StringRef> args = {ptxas, arch, opt};
  if (canSplitCompile(ptxas))
    args.push_back("--split-compile=0");
  args.append({in, "-o", out});
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log),
                                          StringRef(log)};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/0, /*MemoryLimit=*/0,
                                     &error);
  if (rc != 0) {
    auto output = llvm::MemoryBuffer::getFile(log);
    kernels.emitError("dsv3-compile: ptxas failed")
        << (error.empty() ? "" : ": " + error) << "\n"
        << (output ? (*output)->getBuffer().rtrim() : StringRef());
    return failure();
  }
  auto cubin = llvm::MemoryBuffer::getFile(out);
  if (!cubin) {
    kernels.emitError("dsv3-compile: ptxas wrote no cubin: ")
        << cubin.getError().message();
    return failure();
  }
  return (*cubin)->getBuffer().str();
}

FailureOr<std::string> binaryObject(ModuleOp module) {
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute object : binary.getObjects())
      return cast<gpu::ObjectAttr>(object).getObject().str();
  module.emitError("dsv3-compile: no GPU binary was produced");
  return failure();
}

} // namespace

LogicalResult mlir::dsv3::checkCudaToolkit(StringRef cudaPath,
                                           llvm::raw_ostream &errs) {
  llvm::SmallString<128> ptxas(cudaPath), libdevice(cudaPath);
  llvm::sys::path::append(ptxas, "bin", "ptxas");
  llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
  for (StringRef needed : {StringRef(ptxas), StringRef(libdevice)})
    if (!llvm::sys::fs::exists(needed)) {
      errs << "dsv3-compile: " << needed
           << " is missing: the cuda target needs the CUDA toolkit (pass its "
              "directory with --cuda-path)\n";
      return failure();
    }
  return success();
}

FailureOr<GpuKernels>
mlir::dsv3::compileGpuKernels(ModuleOp kernels, StringRef cudaPath,
                              llvm::raw_ostream *progress,
                              int64_t paramSpaceBytes) {
  MLIRContext *context = kernels.getContext();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  context->appendDialectRegistry(registry);

  // What ptxas would refuse after minutes of work, refused first.
  if (failed(checkParamSpace(kernels, paramSpaceBytes)))
    return failure();
  std::string missing;
  llvm::raw_string_ostream why(missing);
  if (failed(checkCudaToolkit(cudaPath, why))) {
    kernels.emitError(StringRef(missing).rtrim());
    return failure();
  }
  if (llvm::range_size(kernels.getOps<gpu::GPUModuleOp>()) != 1) {
    kernels.emitError("dsv3-compile: the cuda kernels must hold one GPU "
                      "module (dsv3-train-pipeline with target=cuda)");
    return failure();
  }

  GpuKernels out;
  // The entry points: device functions and libdevice declarations are
  // not launched.
  for (auto gpuModule : kernels.getOps<gpu::GPUModuleOp>())
    out.numGpuFunctions =
        llvm::range_size(gpuModule.getOps<gpu::GPUFuncOp>()) +
        llvm::count_if(gpuModule.getOps<LLVM::LLVMFuncOp>(),
                       [](LLVM::LLVMFuncOp fn) {
                         return fn->hasAttr(
                             NVVM::NVVMDialect::getKernelFuncAttrName());
                       });
  if (failed(collectLaunches(kernels, out)))
    return failure();
  FailureOr<std::pair<std::string, int>> target = gpuTarget(kernels);
  if (failed(target))
    return failure();
  if (failed(toPtx(kernels, cudaPath)))
    return failure();
  FailureOr<std::string> ptx = binaryObject(kernels);
  if (failed(ptx))
    return failure();
  if (progress)
    *progress << "dsv3-compile: assembling " << out.numGpuFunctions
              << " GPU functions with ptxas\n";
  FailureOr<std::string> cubin =
      assemble(kernels, *ptx, cudaPath, target->first, target->second);
  if (failed(cubin))
    return failure();
  out.ptx = std::move(*ptx);
  out.cubin = std::move(*cubin);
  return out;
}
