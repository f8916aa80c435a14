//===- dsv3-compile.cpp - model description in, executable or IR out ------===//
//
// The one-shot driver: reads a model description (a ModelSpec .pbtxt, a
// DeepSeek config.json, or a forward graph in the dsv3 dialect, .mlir),
// builds the forward graph and runs dsv3-train-pipeline on it with the
// options its `compile {}` block and the command line ask for, then writes
// an executable for dsv3-run, or stops early and prints IR, a summary or
// the cost and memory report.
//
//===----------------------------------------------------------------------===//

#include "Analysis/ModelSummary.h"
#include "Pipelines/Pipelines.h"
#include "Pipelines/SpecOptions.h"
#include "Spec/Spec.h"
#include "Target/Executable.h"
#include "Target/GpuKernels.h"
#include "Target/HostCodegen.h"
#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/Timer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace cl = llvm::cl;

namespace {

enum class Emit {
  None,
  Forward,
  Train,
  Lowered,
  LLVM,
  Object,
  Executable,
  PTX,
  HfConfig
};

cl::OptionCategory category("dsv3-compile options");
cl::OptionCategory settings(
    "compile settings (each overrides the description's compile {} field "
    "of the same name)");

cl::opt<std::string> inputPath(
    cl::Positional, cl::Required,
    cl::desc("<model: .pbtxt ModelSpec, DeepSeek config.json, or .mlir "
             "forward graph>"),
    cl::cat(category));

cl::opt<std::string> outputPath(
    "o",
    cl::desc("Output file (default: stdout); a name ending in .dsv3 writes "
             "the executable"),
    cl::value_desc("file"), cl::init("-"), cl::cat(category));

cl::opt<Emit> emit(
    "emit", cl::desc("What to produce"), cl::init(Emit::None),
    cl::values(
        clEnumValN(Emit::Forward, "forward",
                   "the forward graph in the dsv3 dialect, with its "
                   "locations (the layers remat groups by)"),
        clEnumValN(Emit::Train, "train",
                   "the forward graph and the training step (autodiff, "
                   "precision, sparsity and remat), with locations"),
        clEnumValN(Emit::Lowered, "lowered",
                   "the module after the whole dsv3-train-pipeline: the "
                   "planned step and its kernels lowered for the target"),
        clEnumValN(Emit::LLVM, "llvm",
                   "the fused training step lowered for the host CPU "
                   "(dsv3-lower-to-llvm), as optimized LLVM IR"),
        clEnumValN(Emit::Object, "object",
                   "the same, compiled to a host object file (one function "
                   "per graph function, memref calling convention)"),
        clEnumValN(Emit::Executable, "executable",
                   "the training step as an executable for dsv3-run (the "
                   "default with --target or -o FILE.dsv3)"),
        clEnumValN(Emit::PTX, "ptx",
                   "with --target=cuda: the PTX of every GPU function of "
                   "the executable"),
        clEnumValN(Emit::HfConfig, "hf-config",
                   "the model as a Hugging Face config.json (what every "
                   "checkpoint of its executable carries), or why "
                   "transformers cannot compute it")),
    cl::cat(category));

cl::opt<bool> summary("summary",
                      cl::desc("Print total and activated parameters, "
                               "training FLOPs per token and a per-layer "
                               "table"),
                      cl::cat(category));

cl::opt<bool> report(
    "report",
    cl::desc("Print the training step's FLOPs and bytes per op kind, its "
             "kernels and GPU functions before and after deduplication, and "
             "the memory plan the executable carries (arena, peak live, "
             "largest live set, donated state; with --remat, what remat "
             "keeps and recomputes)"),
    cl::cat(category));

cl::opt<bool> rematExhaustive(
    "remat-exhaustive",
    cl::desc("With --remat=budget --report: also plan every per-layer "
             "choice (at most 8 layer runs) and print how far budget's and "
             "sqrt's recompute are from the least that fits"),
    cl::cat(category));

cl::opt<int64_t> microBatch("micro-batch",
                            cl::desc("Sequences per micro-batch (overrides "
                                     "training.micro_batch)"),
                            cl::cat(category));
cl::opt<int64_t> seqLen("seq-len",
                        cl::desc("Tokens per sequence (overrides "
                                 "training.seq_len)"),
                        cl::cat(category));
cl::opt<int64_t> mtpDepth("mtp-depth",
                          cl::desc("Multi-token prediction modules (overrides "
                                   "mtp.depth; 0 disables MTP)"),
                          cl::cat(category));

cl::opt<std::string> cudaPath(
    "cuda-path",
    cl::desc("The CUDA toolkit for --target=cuda (ptxas, libdevice)"),
    cl::value_desc("dir"), cl::init("/usr/local/cuda"), cl::cat(category));

cl::opt<int64_t> gpuParamBytes(
    "gpu-param-bytes",
    cl::desc("With --target=cuda: the parameter space of a GPU function, in "
             "bytes (default 4352, what PTX before ISA 8.1 allows); a "
             "function whose arguments take more is refused before ptxas "
             "runs"),
    cl::init(kGpuParamSpaceBytes), cl::cat(category));

cl::opt<bool> dedupKernels(
    "dedup-kernels",
    cl::desc("Compile kernels and GPU functions whose code is the same (every "
             "layer of one shape) once, launched with each layer's buffers "
             "(default true; --dedup-kernels=false compiles every copy)"),
    cl::init(true), cl::cat(category));

cl::opt<bool> libraryAttention(
    "library-attention",
    cl::desc("With --target=cpu: f32 attention and its gradient run whole "
             "in the runtime, one tiled command each (default true; "
             "--library-attention=false decomposes them into batched GEMMs "
             "around a masked softmax kernel, as for cuda)"),
    cl::init(true), cl::cat(category));

cl::opt<unsigned> optLevel("O",
                           cl::desc("Optimization level of the kernels and of "
                                    "--emit=llvm|object (0-3, default 2)"),
                           cl::init(2), cl::Prefix, cl::cat(category));

cl::opt<bool> timing("time", cl::desc("Print how long each stage took"),
                     cl::cat(category));

// Settings. Each maps to the dsv3-train-pipeline option of the same name.
cl::opt<std::string> target("target",
                            cl::desc("cpu (kernels as a shared object for "
                                     "this CPU, GEMMs through OpenBLAS) or "
                                     "cuda (kernels as one cubin for --sm, "
                                     "GEMMs through cuBLASLt); compile.target"),
                            cl::value_desc("cpu|cuda"), cl::cat(settings));
cl::opt<int64_t> sm("sm",
                    cl::desc("GPU architecture for cuda: 80, 90 or 100 "
                             "(compile.sm, default 90)"),
                    cl::cat(settings));
cl::opt<std::string> precision(
    "precision",
    cl::desc("fp32; bf16 (every GEMM but attention's and the router's in "
             "bf16, accumulating in f32); fp16 (the same GEMMs in fp16, with "
             "dynamic loss scaling: a step with an inf/NaN gradient is "
             "skipped); fp8 (DeepSeek-V3's recipe: the linear layers' and "
             "experts' GEMMs on E4M3 operands with 1x128 tile and 128x128 "
             "block scales, the head in bf16; on cuda sm 90 or 100) "
             "(compile.precision)"),
    cl::value_desc("fp32|bf16|fp16|fp8"), cl::cat(settings));
cl::opt<double> lossScale("loss-scale",
                          cl::desc("With --precision=fp16: the loss scale "
                                   "of the first step (compile.loss_scale, "
                                   "default 65536)"),
                          cl::cat(settings));
cl::opt<int64_t> lossScaleGrowthInterval(
    "loss-scale-growth-interval",
    cl::desc("With --precision=fp16: finite steps in a row after which the "
             "loss scale doubles; a non-finite step halves it "
             "(compile.loss_scale_growth_interval, default 2000)"),
    cl::cat(settings));
cl::opt<std::string> moments("moments",
                             cl::desc("Element type of the AdamW moments: "
                                      "f32 (default) or bf16"),
                             cl::value_desc("f32|bf16"), cl::cat(settings));
cl::opt<std::string> remat(
    "remat",
    cl::desc("What the backward recomputes instead of keeping "
             "(compile.remat): none (default), full (each layer keeps its "
             "input), sqrt (groups of ceil(sqrt(L)) of a micro-batch's L "
             "layers keep "
             "theirs), selective (norms, SwiGLU and MLA up-projections, "
             "as DeepSeek-V3), budget (per layer none, selective or full: "
             "the least recomputed FLOPs whose planned arena is within "
             "--remat-budget; --report prints the plan, its lower bound and "
             "the gap)"),
    cl::value_desc("none|full|sqrt|selective|budget"), cl::cat(settings));
cl::opt<double> rematBudget(
    "remat-budget",
    cl::desc("The arena --remat=budget plans within: bytes, or a fraction in "
             "(0, 1] of the arena without remat "
             "(compile.remat_budget_bytes, in bytes)"),
    cl::value_desc("bytes|fraction"), cl::cat(settings));
cl::list<std::string> sparsity(
    "sparsity",
    cl::desc("weights-2:4: 2:4 masks on the weights of attention and the "
             "MLPs, along K (compile.sparse_weights_2_4); grads-2:4 is "
             "refused (compile.sparse_grads_2_4)"),
    cl::CommaSeparated, cl::cat(settings));
cl::opt<int64_t> sparseRefresh(
    "sparse-refresh",
    cl::desc("Recompute the 2:4 masks, and grow the pruning masks, every N "
             "steps (compile.sparse_refresh_steps, default 1)"),
    cl::cat(settings));
cl::opt<double> srste("srste",
                      cl::desc("SR-STE decay of the weights a 2:4 mask "
                               "prunes (compile.srste, default 0)"),
                      cl::cat(settings));
cl::opt<std::string> qat("qat",
                         cl::desc("none, or int8: fake-quantized weights of "
                                  "attention and the MLPs, per output "
                                  "channel (compile.qat_int8)"),
                         cl::value_desc("none|int8"), cl::cat(settings));
cl::opt<bool> qatActivations(
    "qat-activations",
    cl::desc("With --qat=int8: those layers' inputs too, per token; "
             "refused, not supported yet (compile.qat_activations)"),
    cl::cat(settings));
cl::opt<double> l1("l1",
                   cl::desc("L1 regularization strength on the weights of "
                            "attention and the MLPs (compile.l1)"),
                   cl::cat(settings));
cl::opt<double> prune("prune",
                      cl::desc("Gradual magnitude pruning: the fraction of "
                               "each of those weights pruned by "
                               "--prune-end (compile.prune_fraction)"),
                      cl::cat(settings));
cl::opt<int64_t> pruneStart("prune-start",
                            cl::desc("The step pruning starts at "
                                     "(compile.prune_start_step)"),
                            cl::cat(settings));
cl::opt<int64_t> pruneEnd("prune-end",
                          cl::desc("The step pruning reaches its fraction "
                                   "at (compile.prune_end_step)"),
                          cl::cat(settings));
cl::opt<int64_t> dp("dp",
                    cl::desc("Data-parallel ranks (refused unless 1; "
                             "compile.dp)"),
                    cl::cat(settings));
cl::opt<int64_t> ep("ep",
                    cl::desc("Expert-parallel ranks (refused unless 1; "
                             "compile.ep)"),
                    cl::cat(settings));
cl::opt<int64_t> zero("zero",
                      cl::desc("ZeRO stage (refused unless 0; compile.zero)"),
                      cl::cat(settings));

[[noreturn]] void usage(const Twine &message) {
  llvm::errs() << "dsv3-compile: " << message << "\n";
  std::exit(2);
}

/// Sets the options the command line gives, on top of the description's;
/// returns the names of those it set. A named value (a target, a policy)
/// is parsed by the pipeline option it sets, so both accept the same
/// spellings; a number is the number.
llvm::StringSet<> applyFlags(TrainPipelineOptions &o) {
  llvm::StringSet<> given;
  auto named = [&](cl::opt<std::string> &flag, StringRef option,
                   function_ref<void(const TrainPipelineOptions &)> take) {
    if (!flag.getNumOccurrences())
      return;
    TrainPipelineOptions parsed;
    if (failed(parsed.parseFromString((option + "=" + flag).str())))
      usage("--" + flag.ArgStr + "=" + flag + " is not a valid value (see "
            "--help)");
    take(parsed);
    given.insert(option);
  };
  auto number = [&](auto &flag, StringRef option, auto &into) {
    if (!flag.getNumOccurrences())
      return;
    into = flag.getValue();
    given.insert(option);
  };
  using P = const TrainPipelineOptions &;
  named(target, "target", [&](P p) { o.target = p.target.getValue(); });
  named(precision, "precision",
        [&](P p) { o.precision = p.precision.getValue(); });
  named(moments, "moments", [&](P p) { o.moments = p.moments.getValue(); });
  named(remat, "remat", [&](P p) { o.remat = p.remat.getValue(); });
  named(qat, "qat", [&](P p) { o.qat = p.qat.getValue(); });
  number(sm, "sm", o.sm);
  number(rematBudget, "remat-budget", o.rematBudget);
  number(lossScale, "loss-scale", o.lossScale);
  number(lossScaleGrowthInterval, "loss-scale-growth-interval",
         o.lossScaleGrowthInterval);
  number(l1, "l1", o.l1);
  number(sparseRefresh, "sparse-refresh", o.sparseRefresh);
  number(srste, "srste", o.srste);
  number(prune, "prune", o.prune);
  number(pruneStart, "prune-start", o.pruneStart);
  number(pruneEnd, "prune-end", o.pruneEnd);
  number(qatActivations, "qat-activations", o.qatActivations);
  number(dp, "dp", o.dp);
  number(ep, "ep", o.ep);
  number(zero, "zero", o.zero);
  if (sparsity.getNumOccurrences()) {
    o.sparsity.clear();
    for (const std::string &s : sparsity)
      if (s != "none")
        o.sparsity.push_back(s);
    given.insert("sparsity");
  }
  return given;
}

/// A forward graph written in the dsv3 dialect.
OwningOpRef<ModuleOp> parseForwardGraph(StringRef path, MLIRContext *context,
                                        std::string &source) {
  std::string error;
  auto file = openInputFile(path, &error);
  if (!file) {
    llvm::errs() << path << ": cannot read: " << error << "\n";
    return nullptr;
  }
  source = file->getBuffer().str();
  if (failed(checkUtf8Text(path, source, llvm::errs())))
    return nullptr;
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, context);
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(context));
  if (!module)
    return nullptr;
  if (!module->lookupSymbol<func::FuncOp>("forward")) {
    llvm::errs() << path << ": no func.func @forward: a .mlir model "
                 << "description is the forward graph, returning the loss\n";
    return nullptr;
  }
  return module;
}

/// Lowers the fused step for the host and prints LLVM IR or an object.
LogicalResult emitNative(ModuleOp module, llvm::raw_pwrite_stream &os,
                         bool object) {
  PassManager pm(module.getContext());
  buildFusedModuleToLLVMPipeline(pm);
  if (failed(pm.run(module)))
    return failure();
  FailureOr<HostModule> host = buildHostModule(module, optLevel);
  if (failed(host))
    return failure();
  if (!object) {
    host->module->print(os, nullptr);
    return success();
  }
  return emitObject(*host->module, *host->machine, os);
}

/// The -o file, written to a temporary file and renamed only on keep(), so
/// a failed run never leaves a partial output behind; null (and an error
/// printed) when it cannot be created.
std::unique_ptr<llvm::ToolOutputFile> openOutput() {
  std::string error;
  auto output = openOutputFile(outputPath, &error);
  if (!output)
    llvm::errs() << "dsv3-compile: " << error << "\n";
  return output;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions({&category, &settings});
  cl::ParseCommandLineOptions(
      argc, argv,
      "dsv3 compiler driver\n\n"
      "Reads a model description (a ModelSpec in protobuf text format, a\n"
      "DeepSeek-V2/V3 config.json, or a forward graph in the dsv3 dialect),\n"
      "builds its training step with dsv3-train-pipeline and writes an\n"
      "executable that dsv3-run trains (-o MODEL.dsv3, for the description's\n"
      "compile.target unless --target says otherwise), or prints the forward\n"
      "graph (--emit=forward), the training step (--emit=train), the lowered\n"
      "module (--emit=lowered), the Hugging Face config.json its checkpoints\n"
      "carry (--emit=hf-config), parameter and FLOP counts (--summary) or the\n"
      "cost and memory plan (--report). The compile settings override the\n"
      "description's compile {} block; one the compiler cannot honour yet is\n"
      "refused by name.\n");

  bool toExecutable = StringRef(outputPath).ends_with(".dsv3");
  if (target.getNumOccurrences() && target != "cpu" && target != "cuda")
    usage("--target=" + target + ": the targets are cpu and cuda");
  if (sm.getNumOccurrences() && sm != 80 && sm != 90 && sm != 100)
    usage("--sm=" + std::to_string(sm) + ": the architectures are 80, 90 "
          "and 100");
  if (optLevel > 3)
    usage("-O" + std::to_string(optLevel) + ": the level is 0 to 3");
  if (emit == Emit::None && (target.getNumOccurrences() || toExecutable))
    emit = Emit::Executable;
  if (emit == Emit::None && !summary && !report)
    usage("nothing to do: name an executable with -o MODEL.dsv3, or pass "
          "--emit=forward|train|lowered|llvm|object|ptx|hf-config, "
          "--summary or "
          "--report");
  bool native = emit == Emit::LLVM || emit == Emit::Object ||
                emit == Emit::Executable || emit == Emit::PTX;
  if (native && summary)
    usage("--summary prints text; it cannot share the output with a "
          "compiled step");
  if (emit == Emit::Executable && outputPath == "-")
    usage("an executable is binary: name the output file with -o (e.g. -o "
          "model.dsv3)");

  llvm::TimerGroup timers("dsv3-compile", "dsv3-compile stages");
  llvm::Timer loadTimer("load", "load and validate the description", timers);
  llvm::Timer pipelineTimer("pipeline", "dsv3-train-pipeline", timers);
  llvm::Timer codegenTimer("codegen", "kernel code and the executable",
                           timers);
  // Timers report when the group is destroyed; only with --time.
  llvm::scope_exit quiet([&] {
    if (!timing)
      timers.clear();
  });

  DialectRegistry registry;
  registerAllDialects(registry);
  registerPipelineInterfaces(registry);
  MLIRContext context(registry);
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();

  // The description: a ModelSpec (or config.json), or a forward graph.
  bool isMlir = StringRef(inputPath).ends_with(".mlir");
  std::optional<LoadedSpec> loaded;
  std::string sourceText;
  OwningOpRef<ModuleOp> module;
  loadTimer.startTimer();
  if (isMlir) {
    if (microBatch.getNumOccurrences() || seqLen.getNumOccurrences() ||
        mtpDepth.getNumOccurrences())
      usage("--micro-batch, --seq-len and --mtp-depth change a ModelSpec; a "
            ".mlir forward graph has its shapes written out");
    module = parseForwardGraph(inputPath, &context, sourceText);
    if (!module)
      return 1;
  } else {
    SpecOverrides overrides;
    if (microBatch.getNumOccurrences())
      overrides.microBatch = microBatch;
    if (seqLen.getNumOccurrences())
      overrides.seqLen = seqLen;
    if (mtpDepth.getNumOccurrences())
      overrides.mtpDepth = mtpDepth;
    FailureOr<LoadedSpec> spec =
        loadModelSpec(inputPath, overrides, llvm::errs());
    if (failed(spec))
      return 1;
    loaded = std::move(*spec);
    sourceText = loaded->spec.DebugString();
    module = buildForwardModule(loaded->spec, &context);
    if (failed(verify(*module))) {
      llvm::errs() << inputPath << ": the built forward graph does not "
                   << "verify (a bug in dsv3-compile; please report it with "
                   << "this description)\n";
      return 3;
    }
  }
  loadTimer.stopTimer();

  if (emit == Emit::HfConfig) {
    if (!loaded)
      usage("--emit=hf-config needs a model description (.pbtxt or "
            "config.json), not a forward graph");
    std::string whyNot;
    FailureOr<std::string> config = huggingFaceConfig(loaded->spec, whyNot);
    if (failed(config)) {
      llvm::errs() << inputPath << ": no Hugging Face config: " << whyNot
                   << "\n";
      return 1;
    }
    auto output = openOutput();
    if (!output)
      return 1;
    output->os() << *config;
    output->keep();
    return 0;
  }

  // The pipeline's options: the description's compile {}, then the flags.
  TrainPipelineOptions options;
  if (loaded)
    applyCompileSettings(loaded->spec.compile(), options);
  llvm::StringSet<> given = applyFlags(options);
  options.cudaPath = cudaPath;
  options.optLevel = optLevel;
  options.report = report;
  options.rematExhaustive = rematExhaustive;
  if (rematExhaustive)
    given.insert("remat-exhaustive");
  options.dedupKernels = dedupKernels;
  options.libraryAttention = libraryAttention;
  bool runsPipeline = emit != Emit::None && emit != Emit::Forward;
  if (runsPipeline || report) {
    std::vector<Refusal> refused = checkTrainPipelineOptions(options);
    for (const Refusal &r : refused) {
      if (!loaded || given.contains(r.option))
        llvm::errs() << "dsv3-compile: --" << r.option << "=" << r.value
                     << " " << r.reason << "\n";
      else
        llvm::errs() << loaded->locate(compileFieldOf(r.option, r.value))
                     << ": "
                     << compileValueOf(loaded->spec.compile(), r.option,
                                       r.value)
                     << " " << r.reason << "\n";
    }
    if (!refused.empty())
      return 1;
  }
  bool cuda = options.target == CompileTarget::cuda;
  if (emit == Emit::PTX && !cuda)
    usage("--emit=ptx needs the cuda target (--target=cuda)");
  if (gpuParamBytes.getNumOccurrences() && !cuda)
    usage("--gpu-param-bytes applies to the cuda target (--target=cuda)");
  if (libraryAttention.getNumOccurrences() && libraryAttention && cuda)
    usage("--library-attention applies to the cpu target: for cuda attention "
          "is always decomposed into GEMMs and a softmax kernel");
  if (gpuParamBytes < 1)
    usage("--gpu-param-bytes=" + std::to_string(gpuParamBytes) +
          ": the parameter space must be at least 1 byte");
  bool hostCode = emit == Emit::LLVM || emit == Emit::Object;
  if (hostCode && cuda)
    usage("--emit=llvm and --emit=object compile the step for this CPU; "
          "the cuda target has --emit=ptx");
  // The report and the plan are text on stdout: they cannot share it with
  // IR printed there.
  bool textOnStdout = outputPath == "-" &&
                      (emit == Emit::Forward || emit == Emit::Train ||
                       emit == Emit::Lowered || emit == Emit::LLVM);
  if (report && textOnStdout)
    usage("--report prints to stdout; write the IR with -o FILE");
  // What is written is lowered by the whole pipeline; the report alone (or
  // beside an earlier stage's output) lowers a copy.
  bool lowers = emit == Emit::Lowered || emit == Emit::Executable ||
                emit == Emit::PTX;
  if ((lowers || report) && cuda &&
      failed(checkCudaToolkit(cudaPath, llvm::errs())))
    return 1;

  auto output = openOutput();
  if (!output)
    return 1;

  // The forward graph and the training step print with their locations:
  // the layer names in them (`model.layers.N`) are what dsv3-remat groups
  // the forward by when the printed module is compiled again.
  OpPrintingFlags located;
  located.enableDebugInfo();
  if (emit == Emit::Forward)
    module->print(output->os(), located);
  if (summary) {
    auto forward = module->lookupSymbol<func::FuncOp>("forward");
    printModelSummary(output->os(), getModelName(*module),
                      summarizeForward(forward));
    if (loaded)
      for (const std::string &d : loaded->derived)
        output->os() << "derived: " << d << "\n";
  }
  if (runsPipeline || report) {
    PassManager pm(&context);
    if (timing)
      pm.enableTiming();
    buildTrainStepPipeline(pm, options);
    if (lowers) {
      if (emit == Emit::Executable || emit == Emit::PTX)
        llvm::errs() << "dsv3-compile: compiling " << getModelName(*module)
                     << " for " << describeTrainPipelineOptions(options)
                     << "\n";
      options.progress = emit == Emit::Executable || emit == Emit::PTX;
      buildLowerTrainStepPipeline(pm, options);
    }
    pipelineTimer.startTimer();
    LogicalResult ran = pm.run(*module);
    pipelineTimer.stopTimer();
    if (failed(ran))
      return 1;
    if (report && !lowers) {
      OwningOpRef<ModuleOp> copy = module->clone();
      PassManager lowerPm(&context);
      buildLowerTrainStepPipeline(lowerPm, options);
      if (failed(lowerPm.run(*copy)))
        return 1;
    }
  }

  if (emit == Emit::Train || emit == Emit::Lowered) {
    module->print(output->os(),
                  emit == Emit::Train ? located : OpPrintingFlags());
  } else if (emit == Emit::LLVM || emit == Emit::Object) {
    codegenTimer.startTimer();
    LogicalResult emitted =
        emitNative(*module, output->os(), emit == Emit::Object);
    codegenTimer.stopTimer();
    if (failed(emitted))
      return 1;
  } else if (emit == Emit::Executable || emit == Emit::PTX) {
    ExecutableOptions exeOptions;
    exeOptions.target = cuda ? "cuda" : "cpu";
    exeOptions.sm = options.sm;
    exeOptions.cudaPath = cudaPath;
    exeOptions.gpuParamBytes = gpuParamBytes;
    exeOptions.optLevel = optLevel;
    exeOptions.specText = sourceText;
    if (loaded) {
      FailureOr<std::string> config = huggingFaceConfig(
          loaded->spec, exeOptions.huggingFaceConfigMissing);
      if (succeeded(config))
        exeOptions.huggingFaceConfig = *config;
    } else {
      exeOptions.huggingFaceConfigMissing =
          "it was compiled from a forward graph, not a model description";
    }
    exeOptions.progress = &llvm::errs();
    std::string ptx;
    if (emit == Emit::PTX)
      exeOptions.ptx = &ptx;
    codegenTimer.startTimer();
    FailureOr<std::string> executable = buildExecutable(*module, exeOptions);
    codegenTimer.stopTimer();
    if (failed(executable))
      return 1;
    output->os() << (emit == Emit::PTX ? ptx : *executable);
  }
  output->keep();
  return 0;
}
