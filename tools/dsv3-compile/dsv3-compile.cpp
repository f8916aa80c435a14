//===- dsv3-compile.cpp - model description in, dsv3 IR or report out -----===//
//
// The one-shot driver: reads a ModelSpec (.pbtxt) or a DeepSeek config.json,
// validates it, builds the forward graph and prints it (--emit=forward) or
// the training step (--emit=train) or a parameter and FLOP summary
// (--summary); or lowers the fused training step for the host CPU and
// writes it as LLVM IR (--emit=llvm) or an object file (--emit=object).
//
//===----------------------------------------------------------------------===//

#include "Analysis/ModelSummary.h"
#include "Conversion/Passes.h"
#include "Spec/Spec.h"
#include "Target/Executable.h"
#include "Target/HostCodegen.h"
#include "Transforms/Passes.h"
#include "dsv3/Dsv3Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/IR/Module.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Timer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace cl = llvm::cl;

namespace {

enum class Emit { None, Forward, Train, LLVM, Object, Executable, PTX };

cl::OptionCategory category("dsv3-compile options");

cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<model: .pbtxt ModelSpec or DeepSeek "
                                        "config.json>"),
                               cl::cat(category));

cl::opt<std::string> outputPath("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));

cl::opt<Emit> emit(
    "emit", cl::desc("What to produce"), cl::init(Emit::None),
    cl::values(clEnumValN(Emit::Forward, "forward",
                          "the forward graph in the dsv3 dialect"),
               clEnumValN(Emit::Train, "train",
                          "the forward graph and the training step "
                          "(dsv3-autodiff)"),
               clEnumValN(Emit::LLVM, "llvm",
                          "the fused training step lowered for the host "
                          "CPU (dsv3-lower-to-llvm), as optimized LLVM IR"),
               clEnumValN(Emit::Object, "object",
                          "the same, compiled to a host object file "
                          "(one function per graph function, memref "
                          "calling convention)"),
               clEnumValN(Emit::Executable, "executable",
                          "the training step as an executable for dsv3-run "
                          "(the default with --target)"),
               clEnumValN(Emit::PTX, "ptx",
                          "with --target=cuda: the PTX of every GPU "
                          "function of the executable")),
    cl::cat(category));

cl::opt<std::string> target(
    "target",
    cl::desc("Compile an executable for dsv3-run (write it with -o): cpu "
             "(kernels as a shared object for this CPU, GEMMs through "
             "OpenBLAS) or cuda (kernels as one cubin for --sm, with their "
             "PTX; GEMMs as library commands)"),
    cl::value_desc("cpu|cuda"), cl::cat(category));

cl::opt<int> sm("sm",
                cl::desc("GPU architecture for --target=cuda: 80, 90 "
                         "(default) or 100"),
                cl::init(90), cl::cat(category));

cl::opt<std::string> cudaPath(
    "cuda-path",
    cl::desc("The CUDA toolkit for --target=cuda (ptxas, libdevice)"),
    cl::value_desc("dir"), cl::init("/usr/local/cuda"), cl::cat(category));

cl::opt<bool> summary("summary",
                      cl::desc("Print total and activated parameters, "
                               "training FLOPs per token and a per-layer "
                               "table"),
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

cl::opt<bool> report("report",
                     cl::desc("Print the training step's cost and memory "
                              "plan (after fusion): FLOPs and bytes per op "
                              "kind, arena size, peak and largest live set"),
                     cl::cat(category));

cl::opt<std::string> moments("moments",
                             cl::desc("Element type of the AdamW moments "
                                      "with --emit=train: f32 (default) or "
                                      "bf16"),
                             cl::init("f32"), cl::cat(category));

cl::opt<unsigned> optLevel("O",
                           cl::desc("LLVM optimization level for "
                                    "--emit=llvm, --emit=object and the "
                                    "executable's kernels (0-3)"),
                           cl::init(2), cl::Prefix, cl::cat(category));

cl::opt<bool> timing("time", cl::desc("Print how long each stage took"),
                     cl::cat(category));

/// Lowers the training step to the LLVM dialect, translates it to LLVM IR
/// for the host and optimizes it; then prints the IR or compiles it to an
/// object file on `os`.
LogicalResult emitNative(ModuleOp module, llvm::raw_pwrite_stream &os,
                         bool object) {
  PassManager pm(module.getContext());
  pm.addPass(createFuse());
  if (failed(pm.run(module)))
    return failure();

  FailureOr<std::unique_ptr<llvm::TargetMachine>> machine =
      createHostTargetMachine();
  if (failed(machine))
    return failure();
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      lowerForHost(module, llvmContext, **machine, /*barePtrCallConv=*/false);
  if (!llvmModule || failed(optimizeForHost(*llvmModule, **machine, optLevel)))
    return failure();
  if (!object) {
    llvmModule->print(os, nullptr);
    return success();
  }
  return emitObject(*llvmModule, **machine, os);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "dsv3 compiler driver\n\n"
      "Reads a model description (a ModelSpec in protobuf text format, or a\n"
      "DeepSeek-V2/V3 config.json), validates it and builds its training\n"
      "graph. Use --emit=forward to print the forward graph, --emit=train\n"
      "for the training step too, --emit=llvm or --emit=object for the\n"
      "step compiled for this CPU, --summary for parameter and FLOP counts,\n"
      "--report for the fused step's cost and memory plan, and\n"
      "--target=cpu|cuda -o MODEL.dsv3 for an executable that dsv3-run\n"
      "trains.\n");

  if (target.getNumOccurrences()) {
    if (target != "cpu" && target != "cuda") {
      llvm::errs() << "dsv3-compile: --target=" << target
                   << ": the targets are cpu and cuda\n";
      return 2;
    }
    if (sm != 80 && sm != 90 && sm != 100) {
      llvm::errs() << "dsv3-compile: --sm=" << sm
                   << ": the architectures are 80, 90 and 100\n";
      return 2;
    }
    if (emit == Emit::None)
      emit = Emit::Executable;
  }
  if (emit == Emit::PTX && target != "cuda") {
    llvm::errs() << "dsv3-compile: --emit=ptx needs --target=cuda\n";
    return 2;
  }
  if (emit == Emit::Executable) {
    if (target.empty()) {
      llvm::errs() << "dsv3-compile: --emit=executable needs --target=cpu "
                      "or --target=cuda\n";
      return 2;
    }
    if (outputPath == "-") {
      llvm::errs() << "dsv3-compile: an executable is binary: name the "
                      "output file with -o (e.g. -o model.dsv3)\n";
      return 2;
    }
  }

  if (emit == Emit::None && !summary && !report) {
    llvm::errs() << "dsv3-compile: nothing to do: pass --emit=forward, "
                    "--emit=train, --emit=llvm, --emit=object, --summary or "
                    "--report\n";
    return 2;
  }
  bool native = emit == Emit::LLVM || emit == Emit::Object ||
                emit == Emit::Executable || emit == Emit::PTX;
  if (native && summary) {
    llvm::errs() << "dsv3-compile: --summary prints text; it cannot share "
                    "the output with a compiled step\n";
    return 2;
  }
  if (optLevel > 3) {
    llvm::errs() << "dsv3-compile: -O" << optLevel << ": the level is 0 to 3\n";
    return 2;
  }

  llvm::TimerGroup timers("dsv3-compile", "dsv3-compile stages");
  llvm::Timer loadTimer("load", "load and validate the description", timers);
  llvm::Timer buildTimer("build", "build the forward graph", timers);
  llvm::Timer verifyTimer("verify", "verify the IR", timers);
  llvm::Timer autodiffTimer("autodiff", "derive the training step", timers);
  // Timers report when the group is destroyed; only with --time.
  llvm::scope_exit quiet([&] {
    if (!timing)
      timers.clear();
  });

  SpecOverrides overrides;
  if (microBatch.getNumOccurrences())
    overrides.microBatch = microBatch;
  if (seqLen.getNumOccurrences())
    overrides.seqLen = seqLen;
  if (mtpDepth.getNumOccurrences())
    overrides.mtpDepth = mtpDepth;

  loadTimer.startTimer();
  FailureOr<LoadedSpec> loaded =
      loadModelSpec(inputPath, overrides, llvm::errs());
  loadTimer.stopTimer();
  if (failed(loaded))
    return 1;

  MLIRContext context;
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  buildTimer.startTimer();
  OwningOpRef<ModuleOp> module = buildForwardModule(loaded->spec, &context);
  buildTimer.stopTimer();
  verifyTimer.startTimer();
  LogicalResult verified = verify(*module);
  verifyTimer.stopTimer();
  if (failed(verified)) {
    llvm::errs() << inputPath << ": the built forward graph does not verify "
                 << "(a bug in dsv3-compile; please report it with this "
                 << "description)\n";
    return 3;
  }

  if (emit == Emit::Train || native || report) {
    PassManager pm(&context);
    AutodiffOptions options;
    options.moments = moments;
    pm.addPass(createAutodiff(options));
    autodiffTimer.startTimer();
    LogicalResult trained = pm.run(*module);
    autodiffTimer.stopTimer();
    if (failed(trained))
      return 1;
  }
  if (report) {
    // On a copy, so that --emit still prints the unfused step.
    OwningOpRef<ModuleOp> planned = module->clone();
    PassManager pm(&context);
    pm.addPass(createFuse());
    pm.addPass(createPrintCost());
    PlanMemoryOptions options;
    options.report = true;
    pm.addPass(createPlanMemory(options));
    if (failed(pm.run(*planned)))
      return 1;
  }

  // Written to a temporary file and renamed only on success, so a failed
  // run never leaves a partial output behind.
  std::string error;
  auto output = openOutputFile(outputPath, &error);
  if (!output) {
    llvm::errs() << "dsv3-compile: " << error << "\n";
    return 1;
  }
  if (emit == Emit::Executable || emit == Emit::PTX) {
    ExecutableOptions options;
    options.target = target;
    options.sm = sm;
    options.cudaPath = cudaPath;
    options.optLevel = optLevel;
    options.specText = loaded->spec.DebugString();
    options.progress = &llvm::errs();
    std::string ptx;
    if (emit == Emit::PTX)
      options.ptx = &ptx;
    FailureOr<std::string> executable = buildExecutable(*module, options);
    if (failed(executable))
      return 1;
    output->os() << (emit == Emit::PTX ? ptx : *executable);
  } else if (native) {
    if (failed(emitNative(*module, output->os(), emit == Emit::Object)))
      return 1;
  } else if (emit != Emit::None) {
    module->print(output->os());
  }
  if (summary) {
    auto forward = module->lookupSymbol<func::FuncOp>("forward");
    printModelSummary(output->os(), module->getOperation()
                                        ->getAttrOfType<StringAttr>("dsv3.model")
                                        .strref(),
                      summarizeForward(forward));
  }
  output->keep();
  return 0;
}
