//===- Pipelines.cpp - dsv3-train-pipeline and its stages -----------------===//
//
// Reads as the stage list of DESIGN §2; the only file that strings passes
// together (tests of a single pass excepted).
//
//===----------------------------------------------------------------------===//

#include "Pipelines/Pipelines.h"

#include "Conversion/Passes.h"
#include "Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The largest remat budget in bytes: 4 EiB, beyond any arena.
constexpr double kMaxBudgetBytes = 4611686018427387904.0; // 2^62

/// A double as briefly as it reads back exactly ("1e-07", "0.01").
std::string shortest(double v) {
  // Whole numbers (byte counts) as integers, not in exponent form.
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return std::to_string(static_cast<int64_t>(v));
  for (int digits = 1; digits < 17; ++digits) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v)
      return text;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", v);
  return text;
}

/// How each option spells a value, for refusals.
std::string precisionName(PrecisionPolicy p) {
  switch (p) {
  case PrecisionPolicy::fp32:
    return "fp32";
  case PrecisionPolicy::bf16:
    return "bf16";
  case PrecisionPolicy::fp16:
    return "fp16";
  case PrecisionPolicy::fp8:
    return "fp8";
  }
  return "?";
}

std::string rematName(RematPolicy r) {
  switch (r) {
  case RematPolicy::none:
    return "none";
  case RematPolicy::full:
    return "full";
  case RematPolicy::sqrt:
    return "sqrt";
  case RematPolicy::selective:
    return "selective";
  case RematPolicy::budget:
    return "budget";
  }
  return "?";
}

} // namespace

void mlir::dsv3::buildBufferizeKernelsPipeline(OpPassManager &kernels,
                                               bool parallelRouting) {
  ConvertDsv3ToLinalgOptions toLinalg;
  toLinalg.parallelRouting = parallelRouting;
  kernels.addPass(createConvertDsv3ToLinalg(toLinalg));
  kernels.addPass(createLinalgElementwiseOpFusionPass());
  kernels.addPass(createDestinationPassing());
  // Results are computed in their destinations (outputs, or the state they
  // overwrite) instead of in a temporary that is then copied.
  kernels.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  kernels.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // A result computed in its destination leaves a copy onto itself.
  kernels.addPass(createCanonicalizerPass());
  HoistAllocsOptions hoist;
  hoist.all = true;
  kernels.addNestedPass<func::FuncOp>(createHoistAllocs(hoist));
}

std::vector<Refusal>
mlir::dsv3::checkTrainPipelineOptions(const TrainPipelineOptions &o) {
  std::vector<Refusal> refused;
  auto refuse = [&](StringRef option, std::string value, StringRef why) {
    refused.push_back({option.str(), std::move(value), why.str()});
  };
  if (o.sm != 80 && o.sm != 90 && o.sm != 100)
    refuse("sm", std::to_string(o.sm), "is not one of 80, 90, 100");
  if (o.optLevel > 3)
    refuse("opt-level", std::to_string(o.optLevel), "is not in 0..3");
  if (o.precision == PrecisionPolicy::fp8 && o.target == CompileTarget::cuda &&
      o.sm < 89)
    refuse("precision", "fp8",
           "is for GPUs with E4M3 tensor cores (sm 90 or 100 for the cuda "
           "target), not sm " +
               std::to_string(o.sm));
  if (!(o.lossScale >= 1.0 && o.lossScale <= 3.0e38))
    refuse("loss-scale", shortest(o.lossScale), "must be in [1, 3e38]");
  if (o.lossScaleGrowthInterval < 1)
    refuse("loss-scale-growth-interval",
           std::to_string(o.lossScaleGrowthInterval), "must be at least 1");
  if (o.remat == RematPolicy::budget && o.rematBudget == 0)
    refuse("remat", rematName(o.remat),
           "needs a budget (remat-budget): bytes, or a fraction in (0, 1] of "
           "the arena without remat");
  else if (o.remat == RematPolicy::budget &&
           !(o.rematBudget > 0 && o.rematBudget <= kMaxBudgetBytes &&
             (o.rematBudget <= 1 || o.rematBudget == std::floor(o.rematBudget))))
    refuse("remat-budget", shortest(o.rematBudget),
           "must be a whole number of bytes (at most 2^62), or a fraction "
           "in (0, 1] of the arena without remat");
  if (o.remat != RematPolicy::budget && o.rematBudget != 0)
    refuse("remat-budget", shortest(o.rematBudget),
           "is for remat=budget; remat=" + rematName(o.remat) +
               " does not take one");
  if (o.rematExhaustive && o.remat != RematPolicy::budget)
    refuse("remat-exhaustive", "true", "is for remat=budget");
  else if (o.rematExhaustive && !o.report)
    refuse("remat-exhaustive", "true",
           "prints its comparison in the report; it needs report (--report)");
  bool weights24 = false;
  for (const std::string &kind : o.sparsity) {
    if (kind == "weights-2:4")
      weights24 = true;
    else if (kind == "grads-2:4")
      refuse("sparsity", kind,
             "is not supported yet: gradients are compressed before a "
             "data-parallel all-reduce, and the step runs on one rank");
    else
      refuse("sparsity", kind, "is not a sparsity (weights-2:4, grads-2:4)");
  }
  if (o.sparseRefresh < 1)
    refuse("sparse-refresh", std::to_string(o.sparseRefresh),
           "must be at least 1");
  if (!(o.srste >= 0.0))
    refuse("srste", shortest(o.srste), "must be >= 0");
  else if (o.srste > 0.0 && !weights24)
    refuse("srste", shortest(o.srste),
           "decays what a 2:4 mask prunes; it needs sparsity=weights-2:4");
  if (!(o.l1 >= 0.0))
    refuse("l1", shortest(o.l1), "must be >= 0");
  if (!(o.prune >= 0.0 && o.prune < 1.0))
    refuse("prune", shortest(o.prune), "must be in [0, 1)");
  else if (o.prune > 0.0 && weights24)
    refuse("prune", shortest(o.prune),
           "and sparsity=weights-2:4 would mask the same weights twice; "
           "choose one");
  else if (o.prune > 0.0 && o.target == CompileTarget::cuda)
    refuse("prune", shortest(o.prune),
           "is not supported yet on cuda: the magnitude mask's bisection "
           "does not map to GPU threads (it compiles for the cpu target)");
  else if (o.prune > 0.0 && !(o.pruneStart >= 0 && o.pruneEnd > o.pruneStart))
    refuse("prune-end", std::to_string(o.pruneEnd),
           "must be after prune-start " + std::to_string(o.pruneStart) +
               " (and both >= 0)");
  // A skipped fp16 step returns the state the precision pass saw; the
  // masks dsv3-sparsify adds after it would still move.
  if (o.precision == PrecisionPolicy::fp16 && (weights24 || o.prune > 0.0))
    refuse("precision", "fp16",
           "with 2:4 weights or pruning is not supported yet: a skipped "
           "step would still update their masks");
  if (o.precision == PrecisionPolicy::fp8 &&
      (weights24 || o.prune > 0.0 || o.qat != QatScheme::none))
    refuse("precision", "fp8",
           "with 2:4 weights, pruning or int8 QAT is not supported yet: the "
           "weights would be quantized twice");
  if (o.qatActivations)
    refuse("qat-activations", "true",
           o.qat == QatScheme::none
               ? "needs qat=int8"
               : "is not supported yet: only the weights are fake-quantized");
  if (o.dp < 1)
    refuse("dp", std::to_string(o.dp), "must be at least 1");
  else if (o.dp > 1)
    refuse("dp", std::to_string(o.dp),
           "is not supported yet: the step runs on one rank");
  if (o.ep < 1)
    refuse("ep", std::to_string(o.ep), "must be at least 1");
  else if (o.ep > 1)
    refuse("ep", std::to_string(o.ep),
           "is not supported yet: the step runs on one rank");
  if (o.zero != 0 && o.zero != 1)
    refuse("zero", std::to_string(o.zero), "must be 0 or 1");
  else if (o.zero == 1)
    refuse("zero", "1",
           "is not supported yet: optimizer state is not sharded");
  return refused;
}

std::string
mlir::dsv3::describeTrainPipelineOptions(const TrainPipelineOptions &o) {
  std::string s = o.target == CompileTarget::cuda
                      ? "cuda sm_" + std::to_string(o.sm)
                      : std::string("cpu");
  s += ", precision " + precisionName(o.precision);
  if (o.precision == PrecisionPolicy::fp16)
    s += " (loss scale " + shortest(o.lossScale) + ", growth every " +
         std::to_string(o.lossScaleGrowthInterval) + " steps)";
  s += std::string(", moments ") +
       (o.moments == MomentsType::bf16 ? "bf16" : "f32");
  for (const std::string &kind : o.sparsity)
    if (kind == "weights-2:4")
      s += ", 2:4 weights";
  if (o.prune > 0)
    s += ", pruning to " + shortest(o.prune);
  if (o.l1 > 0)
    s += ", L1 " + shortest(o.l1);
  if (o.qat == QatScheme::int8)
    s += ", int8 QAT";
  if (o.remat != RematPolicy::none)
    s += ", remat " + rematName(o.remat);
  return s;
}

void mlir::dsv3::buildTrainStepPipeline(OpPassManager &pm,
                                        const TrainPipelineOptions &options) {
  AutodiffOptions autodiff;
  autodiff.moments = options.moments == MomentsType::bf16 ? "bf16" : "f32";
  pm.addPass(createAutodiff(autodiff));
  MixedPrecisionOptions precision;
  precision.policy = precisionName(options.precision);
  precision.lossScale = options.lossScale;
  precision.growthInterval = options.lossScaleGrowthInterval;
  pm.addPass(createMixedPrecision(precision));
  SparsifyOptions sparsify;
  for (const std::string &kind : options.sparsity)
    if (kind == "weights-2:4")
      sparsify.weights = "2:4";
  sparsify.refresh = options.sparseRefresh;
  sparsify.srste = options.srste;
  sparsify.l1 = options.l1;
  sparsify.prune = options.prune;
  sparsify.pruneStart = options.pruneStart;
  sparsify.pruneEnd = options.pruneEnd;
  sparsify.qat = options.qat == QatScheme::int8 ? "int8" : "none";
  sparsify.qatActivations = options.qatActivations;
  sparsify.report = options.report;
  pm.addPass(createSparsify(sparsify));
  RematOptions remat;
  remat.policy = rematName(options.remat);
  remat.budget = options.rematBudget;
  remat.exhaustive = options.rematExhaustive;
  remat.report = options.report;
  remat.libraryAttention =
      options.libraryAttention && options.target != CompileTarget::cuda;
  // policy=budget checks its plans against the memory plan this pipeline
  // gives them.
  auto quiet = std::make_shared<TrainPipelineOptions>();
  quiet->copyOptionValuesFrom(options);
  quiet->report = false;
  quiet->progress = false;
  pm.addPass(createRemat(remat, [quiet](OpPassManager &plan) {
    buildPlanTrainStepPipeline(plan, *quiet);
  }));
}

void mlir::dsv3::buildPlanTrainStepPipeline(
    OpPassManager &pm, const TrainPipelineOptions &options) {
  bool cuda = options.target == CompileTarget::cuda;
  // The step's cost as derived: the model's FLOPs, which the executable
  // reports throughput and MFU against.
  if (options.report)
    pm.addPass(createPrintCost());
  // Attention's GEMMs go to the GEMM library like every other GEMM, or
  // (cpu) attention goes to the runtime whole.
  DecomposeAttentionOptions decompose;
  decompose.keepLibrary = options.libraryAttention && !cuda;
  pm.addPass(createDecomposeAttention(decompose));
  pm.addPass(createFuse());
  pm.addPass(createOutlineKernels());
  pm.addPass(createExtractKernels());
  DedupKernelsOptions dedup;
  dedup.report = options.report;
  dedup.progress = options.progress;
  if (options.dedupKernels)
    pm.addPass(createDedupKernels(dedup));
  // On the GPU a loop over the MoE copies would run on one thread.
  buildBufferizeKernelsPipeline(pm.nest<ModuleOp>(), /*parallelRouting=*/cuda);
  PlanMemoryOptions plan;
  plan.report = options.report;
  pm.addPass(createPlanMemory(plan));
}

void mlir::dsv3::buildLowerTrainStepPipeline(
    OpPassManager &pm, const TrainPipelineOptions &options) {
  bool cuda = options.target == CompileTarget::cuda;
  buildPlanTrainStepPipeline(pm, options);
  DedupKernelsOptions dedup;
  dedup.report = options.report;
  dedup.progress = options.progress;
  OpPassManager &kernels = pm.nest<ModuleOp>();
  if (cuda) {
    buildGpuMapPipeline(kernels);
    buildGpuLowerPipeline(kernels, options.sm, options.cudaPath,
                          options.optLevel,
                          options.dedupKernels ? &dedup : nullptr);
  } else {
    buildLowerBufferizedPipeline(kernels, /*barePtrCallConv=*/true,
                                 options.splitKernelLoops,
                                 options.parallelKernelLoops);
  }
}

void mlir::dsv3::buildTrainPipeline(OpPassManager &pm,
                                    const TrainPipelineOptions &options) {
  buildTrainStepPipeline(pm, options);
  buildLowerTrainStepPipeline(pm, options);
}

void mlir::dsv3::buildBufferizePipeline(OpPassManager &pm,
                                        bool parallelRouting) {
  ConvertDsv3ToLinalgOptions toLinalg;
  toLinalg.parallelRouting = parallelRouting;
  pm.addPass(createConvertDsv3ToLinalg(toLinalg));
  pm.addPass(createLinalgElementwiseOpFusionPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
}

void mlir::dsv3::buildLowerBufferizedPipeline(OpPassManager &pm,
                                              bool barePtrCallConv,
                                              int64_t splitKernelLoops,
                                              bool parallelLoops) {
  // Parallel loops of independent columns (scatter-add) run in order here.
  pm.addPass(createForallToForLoopPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addNestedPass<func::FuncOp>(createPrepareVectorization());
  if (parallelLoops)
    pm.addPass(createConvertLinalgToParallelLoopsPass());
  else
    pm.addPass(createConvertLinalgToLoopsPass());
  SplitLargeKernelsOptions split;
  split.maxLoops = splitKernelLoops;
  split.loopsPerPart = std::min<int64_t>(32, std::max<int64_t>(1, splitKernelLoops / 4));
  pm.addPass(createSplitLargeKernels(split));
  if (parallelLoops)
    pm.addPass(createParallelizeKernelLoops());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  // bf16 conversions as integer arithmetic (round to nearest even): a CPU
  // without AVX512-BF16 would otherwise need compiler-rt's __truncsfbf2,
  // which no kernel library links.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  ConvertFuncToLLVMPassOptions funcOptions;
  funcOptions.useBarePtrCallConv = barePtrCallConv;
  pm.addPass(createConvertFuncToLLVMPass(funcOptions));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (parallelLoops)
    pm.addPass(createLowerParallelCalls());
}

void mlir::dsv3::buildLowerToLLVMPipeline(OpPassManager &pm,
                                          bool barePtrCallConv,
                                          bool parallelRouting) {
  buildBufferizePipeline(pm, parallelRouting);
  buildLowerBufferizedPipeline(pm, barePtrCallConv);
}

void mlir::dsv3::buildFusedModuleToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(createFuse());
  buildLowerToLLVMPipeline(pm);
}

void mlir::dsv3::buildGpuMapPipeline(OpPassManager &pm) {
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
}

void mlir::dsv3::buildGpuLowerPipeline(OpPassManager &pm, int64_t sm,
                                       StringRef cudaPath,
                                       unsigned optLevel,
                                       const DedupKernelsOptions *dedup) {
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createMergeGpuModules());
  if (dedup)
    pm.addPass(createDedupKernels(*dedup));
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
  if (!cudaPath.empty()) {
    llvm::SmallString<128> libdevice(cudaPath);
    llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
    target.linkLibs.push_back(libdevice.str().str());
  }
  pm.addPass(createGpuNVVMAttachTarget(target));
}

void mlir::dsv3::registerPipelineInterfaces(DialectRegistry &registry) {
  // The conversions to LLVM and NVVM work through the dialects'
  // ConvertToLLVM interfaces; the GPU module's target through its model.
  registerAllExtensions(registry);
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  arith::registerBufferDeallocationOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  cf::registerBufferizableOpInterfaceExternalModels(registry);
  cf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  memref::registerAllocationOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
}

namespace {

struct RoutingOptions : PassPipelineOptions<RoutingOptions> {
  Option<bool> parallelRouting{
      *this, "parallel-routing",
      llvm::cl::desc("MoE routing with generics over chunks of copies "
                     "instead of loops over the copies"),
      llvm::cl::init(false)};
};

struct GpuLowerOptions : PassPipelineOptions<GpuLowerOptions> {
  Option<int64_t> sm{*this, "sm", llvm::cl::desc("GPU architecture"),
                     llvm::cl::init(90)};
  Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("The CUDA toolkit whose libdevice is linked (empty: "
                     "none; libdevice calls stay unresolved in the PTX)"),
      llvm::cl::init("/usr/local/cuda")};
  Option<unsigned> optLevel{*this, "opt-level",
                            llvm::cl::desc("Optimization level (0-3)"),
                            llvm::cl::init(2)};
};

} // namespace

void mlir::dsv3::registerDsv3Pipelines() {
  registerPassPipeline(
      "dsv3-train-pipeline",
      "The whole compiler: a forward graph (@forward) to the lowered "
      "training step dsv3-compile serializes (autodiff, precision, fusion, "
      "kernels, the memory plan, the target's code); settings the compiler "
      "cannot honour yet are refused by name",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        TrainPipelineOptions options;
        if (failed(options.parseFromString(text)))
          return failure();
        std::vector<Refusal> refused = checkTrainPipelineOptions(options);
        for (const Refusal &r : refused)
          (void)errorHandler("dsv3-train-pipeline: " + r.option + "=" +
                             r.value + " " + r.reason);
        if (!refused.empty())
          return failure();
        buildTrainPipeline(pm, options);
        return success();
      },
      [](function_ref<void(const mlir::detail::PassOptions &)> optHandler) {
        optHandler(TrainPipelineOptions());
      });
  PassPipelineRegistration<RoutingOptions>(
      "dsv3-bufferize-kernels",
      "Bufferize kernels (tensors in, tensors out) into destination-passing "
      "functions of memrefs with their temporaries hoisted into arguments: "
      "the kernel module's stage of dsv3-train-pipeline",
      [](OpPassManager &pm, const RoutingOptions &options) {
        buildBufferizeKernelsPipeline(pm, options.parallelRouting);
      });
  PassPipelineRegistration<RoutingOptions>(
      "dsv3-lower-to-llvm",
      "Lower dsv3 on tensors to the LLVM dialect for the CPU: "
      "convert-dsv3-to-linalg, elementwise fusion, one-shot bufferization "
      "across function boundaries, deallocation, loops, then LLVM",
      [](OpPassManager &pm, const RoutingOptions &options) {
        buildLowerToLLVMPipeline(pm, /*barePtrCallConv=*/false,
                                 options.parallelRouting);
      });
  PassPipelineRegistration<>(
      "dsv3-gpu-map",
      "Map bufferized functions onto GPU launches: foralls and linalg ops "
      "to parallel loops, dsv3-map-generics-to-gpu, dsv3-map-to-gpu",
      [](OpPassManager &pm) { buildGpuMapPipeline(pm); });
  PassPipelineRegistration<GpuLowerOptions>(
      "dsv3-gpu-lower",
      "Outline GPU launches into one GPU module, lower it to NVVM and "
      "attach the sm target with libdevice",
      [](OpPassManager &pm, const GpuLowerOptions &options) {
        buildGpuLowerPipeline(pm, options.sm, options.cudaPath,
                              options.optLevel);
      });
}
