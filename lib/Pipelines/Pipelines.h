//===- Pipelines.h - dsv3-train-pipeline and its stages ---------*- C++ -*-===//
//
// The one place the compiler's stages are assembled (DESIGN §2): from a
// forward graph to the training step (autodiff, precision, and the stages
// later work adds), and from the step to the lowered module the executable
// writer serializes (attention decomposition, fusion, kernels, bufferized
// destination-passing kernels, the memory plan, and the target's code).
// dsv3-opt, dsv3-compile, the executable tests and the lit tests all build
// their pipelines here.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_PIPELINES_PIPELINES_H
#define DSV3_PIPELINES_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>
#include <vector>

namespace mlir::dsv3 {

struct DedupKernelsOptions;

enum class CompileTarget { cpu, cuda };
enum class PrecisionPolicy { fp32, bf16, fp16, fp8 };
enum class MomentsType { f32, bf16 };
enum class RematPolicy { none, full, sqrt, selective, budget };
enum class QatScheme { none, int8 };

/// Options of `dsv3-train-pipeline`: every setting of a model
/// description's `compile {}` block has one (SpecOptions.cpp maps them).
struct TrainPipelineOptions : PassPipelineOptions<TrainPipelineOptions> {
  Option<CompileTarget> target{
      *this, "target",
      llvm::cl::desc("What the kernels are compiled for"),
      llvm::cl::init(CompileTarget::cpu),
      llvm::cl::values(
          clEnumValN(CompileTarget::cpu, "cpu",
                     "this CPU: kernels in the LLVM dialect, GEMMs as BLAS "
                     "commands"),
          clEnumValN(CompileTarget::cuda, "cuda",
                     "an NVIDIA GPU: kernels as launches in one GPU module "
                     "lowered to NVVM, GEMMs as cuBLASLt commands"))};
  Option<int64_t> sm{*this, "sm",
                     llvm::cl::desc("GPU architecture with target=cuda: 80, "
                                    "90 or 100"),
                     llvm::cl::init(90)};
  Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("The CUDA toolkit whose libdevice the GPU kernels link"),
      llvm::cl::init("/usr/local/cuda")};
  Option<unsigned> optLevel{
      *this, "opt-level",
      llvm::cl::desc("Optimization level of the GPU kernels' code (0-3)"),
      llvm::cl::init(2)};
  Option<PrecisionPolicy> precision{
      *this, "precision",
      llvm::cl::desc("Precision policy (dsv3-mixed-precision)"),
      llvm::cl::init(PrecisionPolicy::fp32),
      llvm::cl::values(
          clEnumValN(PrecisionPolicy::fp32, "fp32", "everything in f32"),
          clEnumValN(PrecisionPolicy::bf16, "bf16",
                     "every GEMM but attention's and the router's in bf16 "
                     "(projections, experts, the head), accumulating in "
                     "f32; everything else f32"),
          clEnumValN(PrecisionPolicy::fp16, "fp16",
                     "the same GEMMs in fp16, with dynamic loss scaling "
                     "inside the step (a non-finite step is skipped)"),
          clEnumValN(PrecisionPolicy::fp8, "fp8",
                     "DeepSeek-V3's recipe: the linear layers' GEMMs "
                     "(forward, input and weight gradient, experts too) "
                     "on E4M3 operands with 1x128 tile and 128x128 block "
                     "scales, f32 accumulation; the head in bf16, the "
                     "router, norms and attention in f32"))};
  Option<double> lossScale{
      *this, "loss-scale",
      llvm::cl::desc("precision=fp16: the loss scale of the first step"),
      llvm::cl::init(65536.0)};
  Option<int64_t> lossScaleGrowthInterval{
      *this, "loss-scale-growth-interval",
      llvm::cl::desc("precision=fp16: consecutive finite steps after which "
                     "the loss scale doubles"),
      llvm::cl::init(2000)};
  Option<MomentsType> moments{
      *this, "moments",
      llvm::cl::desc("Element type of the AdamW moments (dsv3-autodiff)"),
      llvm::cl::init(MomentsType::f32),
      llvm::cl::values(clEnumValN(MomentsType::f32, "f32", "f32 moments"),
                       clEnumValN(MomentsType::bf16, "bf16",
                                  "bf16 moments, updated in f64 and rounded "
                                  "as stored"))};
  Option<RematPolicy> remat{
      *this, "remat",
      llvm::cl::desc("What the backward recomputes instead of keeping "
                     "(dsv3-remat)"),
      llvm::cl::init(RematPolicy::none),
      llvm::cl::values(
          clEnumValN(RematPolicy::none, "none", "keep every forward value"),
          clEnumValN(RematPolicy::full, "full",
                     "keep each layer's input, recompute the rest"),
          clEnumValN(RematPolicy::sqrt, "sqrt",
                     "recompute groups of ceil(sqrt(layers)) layers from "
                     "their inputs"),
          clEnumValN(RematPolicy::selective, "selective",
                     "recompute norms, SwiGLU and MLA up-projections "
                     "(DeepSeek-V3)"),
          clEnumValN(RematPolicy::budget, "budget",
                     "per layer none, selective or full: the least "
                     "recomputed FLOPs whose planned arena is within "
                     "remat-budget"))};
  Option<double> rematBudget{
      *this, "remat-budget",
      llvm::cl::desc("The arena remat=budget plans within: bytes, or a "
                     "fraction in (0, 1] of the arena without remat"),
      llvm::cl::init(0)};
  Option<bool> rematExhaustive{
      *this, "remat-exhaustive",
      llvm::cl::desc("With remat=budget and report: plan every per-layer "
                     "choice too (at most 8 layer runs) and print how far "
                     "budget's and sqrt's recompute are from the least"),
      llvm::cl::init(false)};
  ListOption<std::string> sparsity{
      *this, "sparsity",
      llvm::cl::desc("Structured sparsity (dsv3-sparsify): weights-2:4 "
                     "masks the weights of attention and the MLPs 2:4 "
                     "along K (grads-2:4 is not supported yet)")};
  Option<int64_t> sparseRefresh{
      *this, "sparse-refresh",
      llvm::cl::desc("Recompute the 2:4 masks (and grow the pruning masks) "
                     "every this many steps"),
      llvm::cl::init(1)};
  Option<double> srste{
      *this, "srste",
      llvm::cl::desc("SR-STE decay of the weights a 2:4 mask prunes (0: "
                     "plain straight-through)"),
      llvm::cl::init(0.0)};
  Option<QatScheme> qat{
      *this, "qat",
      llvm::cl::desc("Quantization-aware training (dsv3-sparsify)"),
      llvm::cl::init(QatScheme::none),
      llvm::cl::values(clEnumValN(QatScheme::none, "none", "none"),
                       clEnumValN(QatScheme::int8, "int8",
                                  "int8 fake quantization of the weights "
                                  "of attention and the MLPs, per output "
                                  "channel"))};
  Option<bool> qatActivations{
      *this, "qat-activations",
      llvm::cl::desc("With qat=int8: fake-quantize those layers' inputs "
                     "too, per token (not supported yet: refused)"),
      llvm::cl::init(false)};
  Option<double> l1{*this, "l1",
                    llvm::cl::desc("L1 regularization strength on the "
                                   "weights of attention and the MLPs (0: "
                                   "off)"),
                    llvm::cl::init(0.0)};
  Option<double> prune{
      *this, "prune",
      llvm::cl::desc("Gradual magnitude pruning: the fraction of each of "
                     "those weights pruned by prune-end (0: off)"),
      llvm::cl::init(0.0)};
  Option<int64_t> pruneStart{
      *this, "prune-start",
      llvm::cl::desc("The step pruning starts at (0-based)"),
      llvm::cl::init(0)};
  Option<int64_t> pruneEnd{
      *this, "prune-end",
      llvm::cl::desc("The step pruning reaches its fraction at"),
      llvm::cl::init(0)};
  Option<int64_t> dp{*this, "dp",
                     llvm::cl::desc("Data-parallel ranks (only 1 is supported "
                                    "yet)"),
                     llvm::cl::init(1)};
  Option<int64_t> ep{*this, "ep",
                     llvm::cl::desc("Expert-parallel ranks (only 1 is "
                                    "supported yet)"),
                     llvm::cl::init(1)};
  Option<int64_t> zero{*this, "zero",
                       llvm::cl::desc("ZeRO stage, 0 or 1 (only 0 is "
                                      "supported yet)"),
                       llvm::cl::init(0)};
  Option<bool> report{
      *this, "report",
      llvm::cl::desc("Print the step's cost per op kind (before lowering), "
                     "the kernels before and after deduplication and the "
                     "memory plan the executable carries"),
      llvm::cl::init(false)};
  Option<int64_t> splitKernelLoops{
      *this, "split-kernel-loops",
      llvm::cl::desc("With target=cpu: a kernel of more top-level loops is "
                     "compiled in parts (dsv3-split-large-kernels)"),
      llvm::cl::init(64)};
  Option<bool> parallelKernelLoops{
      *this, "parallel-kernel-loops",
      llvm::cl::desc("With target=cpu: run kernels' large parallel loops on "
                     "the runtime's threads (dsv3-parallelize-kernel-loops)"),
      llvm::cl::init(true)};
  Option<bool> libraryAttention{
      *this, "library-attention",
      llvm::cl::desc("With target=cpu: f32 attention and its gradient run "
                     "whole in the runtime (one tiled command each) instead "
                     "of as batched GEMMs around a masked softmax"),
      llvm::cl::init(true)};
  Option<bool> dedupKernels{
      *this, "dedup-kernels",
      llvm::cl::desc("Compile kernels (and GPU functions) with the same code "
                     "once (dsv3-dedup-kernels)"),
      llvm::cl::init(true)};

  /// Print the deduplication's counts as progress lines (dsv3-compile).
  bool progress = false;
};

/// A setting the pipeline cannot honour: the option, its value as the
/// option spells it, and why ("is not supported yet: ...").
struct Refusal {
  std::string option, value, reason;
};

/// Every refused setting of `options`; empty when all can be honoured.
std::vector<Refusal> checkTrainPipelineOptions(
    const TrainPipelineOptions &options);

/// The settings in a line, for progress messages: "cuda sm_90, precision
/// bf16, moments f32".
std::string describeTrainPipelineOptions(const TrainPipelineOptions &options);

/// From a forward graph (`@forward`) to the training step: dsv3-autodiff,
/// dsv3-mixed-precision, dsv3-sparsify, dsv3-remat.
void buildTrainStepPipeline(OpPassManager &pm,
                            const TrainPipelineOptions &options);

/// From the training step to its memory plan: dsv3-decompose-attention,
/// dsv3-fuse, dsv3-outline-kernels, dsv3-extract-kernels,
/// dsv3-dedup-kernels, the kernels bufferized (dsv3-bufferize-kernels),
/// dsv3-plan-memory. The first part of buildLowerTrainStepPipeline, and
/// what dsv3-remat's policy=budget checks its plans against.
void buildPlanTrainStepPipeline(OpPassManager &pm,
                                const TrainPipelineOptions &options);

/// From the training step to the lowered module: dsv3-decompose-attention,
/// dsv3-fuse, dsv3-outline-kernels, dsv3-extract-kernels,
/// dsv3-dedup-kernels; in the kernel
/// module convert-dsv3-to-linalg, elementwise fusion,
/// dsv3-destination-passing, eliminate-empty-tensors, one-shot
/// bufferization and dsv3-hoist-allocs; dsv3-plan-memory on the step; then
/// the kernels' code for the target (the LLVM dialect for the CPU; GPU
/// launches and one NVVM module for CUDA).
void buildLowerTrainStepPipeline(OpPassManager &pm,
                                 const TrainPipelineOptions &options);

/// Both of the above: `dsv3-train-pipeline`.
void buildTrainPipeline(OpPassManager &pm, const TrainPipelineOptions &options);

/// `dsv3-bufferize-kernels`: the kernels of a kernel module (tensors in,
/// tensors out) to bufferized destination-passing functions:
/// convert-dsv3-to-linalg, elementwise fusion, dsv3-destination-passing,
/// eliminate-empty-tensors, one-shot bufferization, canonicalization (the
/// copies of results onto themselves), dsv3-hoist-allocs.
void buildBufferizeKernelsPipeline(OpPassManager &pm, bool parallelRouting);

/// dsv3 on tensors to linalg on memrefs, for every function of the module:
/// convert-dsv3-to-linalg (with `parallelRouting`, MoE routing without a
/// loop over the copies, for the GPU), elementwise fusion, one-shot
/// bufferization across function boundaries.
void buildBufferizePipeline(OpPassManager &pm, bool parallelRouting = false);

/// Bufferized code to the LLVM dialect for the CPU: deallocation, loops,
/// dsv3-split-large-kernels (kernels of more than `splitKernelLoops`
/// top-level loops), LLVM. With `barePtrCallConv`, memrefs are passed as
/// bare pointers (static shapes only), the calling convention of an
/// executable's kernels. With `parallelLoops`, large parallel loops run on
/// the runtime's threads (dsv3-parallelize-kernel-loops,
/// dsv3-lower-parallel-calls): the kernels then call `dsv3ParallelFor`.
void buildLowerBufferizedPipeline(OpPassManager &pm, bool barePtrCallConv,
                                  int64_t splitKernelLoops = 256,
                                  bool parallelLoops = false);

/// `dsv3-lower-to-llvm`: both of the above on a whole module.
void buildLowerToLLVMPipeline(OpPassManager &pm, bool barePtrCallConv = false,
                              bool parallelRouting = false);

/// What `dsv3-compile --emit=llvm|object` compiles: every function of a
/// module with its training step, fused (dsv3-fuse), then
/// dsv3-lower-to-llvm (memref calling convention).
void buildFusedModuleToLLVMPipeline(OpPassManager &pm);

/// `dsv3-gpu-map`: bufferized functions onto GPU launches (parallel loops
/// from foralls and linalg, dsv3-map-generics-to-gpu, dsv3-map-to-gpu).
void buildGpuMapPipeline(OpPassManager &pm);

/// `dsv3-gpu-lower`: the launches outlined into one GPU module
/// (gpu-kernel-outlining, dsv3-merge-gpu-modules, and dsv3-dedup-kernels
/// when `dedup`), lowered to NVVM, with the sm_`sm` target and the
/// toolkit's libdevice (none when `cudaPath` is empty) attached.
void buildGpuLowerPipeline(OpPassManager &pm, int64_t sm,
                           StringRef cudaPath, unsigned optLevel,
                           const DedupKernelsOptions *dedup = nullptr);

/// The external models the pipelines rely on (every upstream extension,
/// and bufferization and deallocation of arith, cf, func, linalg, memref,
/// scf and tensor ops); a tool that does not register all of them calls
/// this.
void registerPipelineInterfaces(DialectRegistry &registry);

/// Registers dsv3-train-pipeline, dsv3-bufferize-kernels,
/// dsv3-lower-to-llvm, dsv3-gpu-map and dsv3-gpu-lower by name.
void registerDsv3Pipelines();

} // namespace mlir::dsv3

#endif // DSV3_PIPELINES_PIPELINES_H
