//===- GpuKernels.cpp - an executable's kernels for NVIDIA GPUs -----------===//

#include "Target/GpuKernels.h"

#include "Conversion/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

constexpr llvm::StringLiteral kModuleName = "dsv3_kernels";

/// Only the binary step differs between PTX and cubin.
LogicalResult toBinary(ModuleOp module, StringRef format, StringRef cudaPath) {
  PassManager pm(module.getContext());
  GpuModuleToBinaryPassOptions options;
  options.compilationTarget = format.str();
  options.toolkitPath = cudaPath.str();
  pm.addPass(createGpuModuleToBinaryPass(options));
  return pm.run(module);
}

/// Moves every outlined kernel into one GPU module, named after the module
/// it came from (unique), and points the launches at it.
int64_t mergeGpuModules(ModuleOp module) {
  MLIRContext *context = module.getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto merged = gpu::GPUModuleOp::create(b, module.getLoc(), kModuleName);
  Block &mergedBody = merged.getBodyRegion().front();
  llvm::StringMap<std::string> renamed;
  for (auto gpuModule :
       llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>())) {
    if (gpuModule == merged)
      continue;
    for (Operation &op : llvm::make_early_inc_range(gpuModule.getOps())) {
      if (auto fn = dyn_cast<gpu::GPUFuncOp>(op)) {
        std::string name = gpuModule.getName().str();
        renamed[(gpuModule.getName() + "::" + fn.getName()).str()] = name;
        fn.setName(name);
        fn->moveBefore(&mergedBody, mergedBody.end());
        continue;
      }
      // Globals the kernel reads (constants): one copy of each, as they
      // all come from the same module and share its unique names.
      auto symbol = dyn_cast<SymbolOpInterface>(op);
      if (symbol && !SymbolTable::lookupSymbolIn(merged, symbol.getNameAttr()))
        op.moveBefore(&mergedBody, mergedBody.end());
    }
    gpuModule.erase();
  }
    module.walk([&](gpu::LaunchFuncOp launch) {
    std::string key = (launch.getKernelModuleName().getValue() + "::" +
                       launch.getKernelName().getValue())
                          .str();
    launch.setKernelAttr(SymbolRefAttr::get(
        context, kModuleName,
        {FlatSymbolRefAttr::get(context, renamed.lookup(key))}));
  });
  return renamed.size();
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
FailureOr<std::string> binaryObject(ModuleOp module) {
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute object : binary.getObjects())
      return cast<gpu::ObjectAttr>(object).getObject().str();
  module.emitError("dsv3-compile: no GPU binary was produced");
  return failure();
}

} // namespace

FailureOr<GpuKernels> mlir::dsv3::compileGpuKernels(ModuleOp kernels, int sm,
                                                    StringRef cudaPath,
                                                    unsigned optLevel,
                                                    llvm::raw_ostream *progress) {
  MLIRContext *context = kernels.getContext();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  // convert-gpu-to-nvvm lowers arith, cf, math and memref inside the GPU
  // module through the dialects' ConvertToLLVM interfaces.
  registerAllExtensions(registry);
  context->appendDialectRegistry(registry);
  context->loadDialect<gpu::GPUDialect, NVVM::NVVMDialect>();

  llvm::SmallString<128> ptxas(cudaPath), libdevice(cudaPath);
  llvm::sys::path::append(ptxas, "bin", "ptxas");
  llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
  for (StringRef needed : {StringRef(ptxas), StringRef(libdevice)})
    if (!llvm::sys::fs::exists(needed)) {
      kernels.emitError("dsv3-compile: ")
          << needed << " is missing: the cuda target needs the CUDA toolkit "
          << "(pass its directory with --cuda-path)";
      return failure();
    }

  GpuKernels out;
  out.numFunctions = llvm::range_size(kernels.getOps<func::FuncOp>());
  if (progress)
    *progress << "dsv3-compile: mapping " << out.numFunctions
              << " kernels to the GPU (sm_" << sm << ")\n";
  {
    PassManager pm(context);
    OpPassManager &fn = pm.nest<func::FuncOp>();
    fn.addPass(createForallToParallelLoopPass());
    // Bufferized scf.forall bodies copy each slice onto itself; merging the
    // equal views lets the canonicalizer drop those copies.
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createCSEPass());
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createMapGenericsToGpu());
    fn.addPass(createConvertLinalgToParallelLoopsPass());
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createMapToGpu());
    pm.addPass(createGpuKernelOutliningPass());
    if (failed(pm.run(kernels)))
      return failure();
  }
  int64_t numGpuFunctions = mergeGpuModules(kernels);
  if (failed(collectLaunches(kernels, out)))
    return failure();

  {
    PassManager pm(context);
    OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
    device.addPass(memref::createExpandStridedMetadataPass());
    device.addPass(createLowerAffinePass());
    device.addPass(createSCFToControlFlowPass());
    ConvertGpuOpsToNVVMOpsOptions nvvm;
    nvvm.useBarePtrCallConv = true;
    device.addPass(createConvertGpuOpsToNVVMOps(nvvm));
    device.addPass(createReconcileUnrealizedCastsPass());
    GpuNVVMAttachTargetOptions target;
    target.chip = ("sm_" + Twine(sm)).str();
    target.optLevel = optLevel;
    target.linkLibs.push_back(libdevice.str().str());
    pm.addPass(createGpuNVVMAttachTarget(target));
    if (failed(pm.run(kernels)))
      return failure();
  }
  OwningOpRef<ModuleOp> forPtx = kernels.clone();
  if (failed(toBinary(*forPtx, "isa", cudaPath)))
    return failure();
  FailureOr<std::string> ptx = binaryObject(*forPtx);
  if (failed(ptx))
    return failure();
  if (progress)
    *progress << "dsv3-compile: assembling " << numGpuFunctions
              << " GPU functions with ptxas\n";
  if (failed(toBinary(kernels, "bin", cudaPath)))
    return failure();
  FailureOr<std::string> cubin = binaryObject(kernels);
  if (failed(cubin))
    return failure();
  out.ptx = std::move(*ptx);
  out.cubin = std::move(*cubin);
  return out;
}
