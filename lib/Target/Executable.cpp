//===- Executable.cpp - the lowered training step as an executable --------===//
//
// Serialization only: every decision (what is a kernel, where each buffer
// lives, what is written in place) was made by dsv3-train-pipeline.
//
//===----------------------------------------------------------------------===//

#include "Target/Executable.h"

#include "Target/Buffers.h"
#include "Target/Commands.h"
#include "Target/CpuKernels.h"
#include "Target/GpuKernels.h"

#include "dsv3/Dsv3Attributes.h"
#include "runtime/executable.pb.h"
#include "runtime/executable_format.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/Format.h"

using namespace mlir;
using namespace mlir::dsv3;
namespace rt = ::dsv3::runtime;

FailureOr<std::string>
mlir::dsv3::buildExecutable(ModuleOp module,
                            const ExecutableOptions &options) {
  bool cuda = options.target == "cuda";
  if (!cuda && options.target != "cpu") {
    module.emitError("dsv3-compile: unknown target ") << options.target;
    return failure();
  }
  auto step = module.lookupSymbol<func::FuncOp>("train_step");
  if (!step || step.isExternal()) {
    module.emitError("dsv3-compile: no @train_step to compile (a forward "
                     "graph goes through dsv3-train-pipeline first)");
    return failure();
  }
  ModuleOp kernels = getKernelModule(module);
  if (!kernels) {
    module.emitError("dsv3-compile: no kernel module (dsv3-extract-kernels, "
                     "part of dsv3-train-pipeline, makes it)");
    return failure();
  }

  rt::Executable exe;
  exe.set_format_version(rt::kExecutableFormatVersion);
  exe.set_target(options.target);
  exe.set_spec(options.specText);
  exe.set_hf_config(options.huggingFaceConfig);
  exe.set_hf_config_missing(options.huggingFaceConfigMissing);
  exe.set_model(getModelName(module).str());
  TrainingConfig training = TrainingConfig::get(module);
  exe.set_micro_batch(training.microBatch);
  exe.set_seq_len(training.seqLen);
  exe.set_total_steps(training.totalSteps);
  exe.set_seed(training.seed);

  FailureOr<StepBuffers> buffers = assignBuffers(step, exe);
  if (failed(buffers))
    return failure();
  // The batch the data loader packs is the tokens' shape: every
  // micro-batch of the step stacked.
  for (const rt::Buffer &buffer : exe.buffers())
    if (buffer.role() == rt::BATCH && buffer.batch_field() == "tokens" &&
        buffer.shape_size() == 2) {
      exe.set_micro_batch(buffer.shape(0));
      exe.set_seq_len(buffer.shape(1));
    }
  // The runtime checks every token against the vocabulary, which is the
  // embedding table's rows.
  for (const rt::Buffer &buffer : exe.buffers())
    if (buffer.name() == "model.embed_tokens.weight" && buffer.shape_size() == 2)
      exe.set_vocab_size(buffer.shape(0));
  if (exe.vocab_size() <= 0) {
    step.emitError("dsv3-compile: no parameter model.embed_tokens.weight "
                   "[vocab, hidden]: the executable takes its vocabulary "
                   "from the embedding table of that name (dsv3.name)");
    return failure();
  }

  std::optional<GpuKernels> gpu;
  if (cuda) {
    FailureOr<GpuKernels> compiled =
        compileGpuKernels(kernels, options.cudaPath, options.progress,
                          options.gpuParamBytes);
    if (failed(compiled))
      return failure();
    gpu = std::move(*compiled);
    exe.set_sm(options.sm);
    if (options.ptx)
      *options.ptx = gpu->ptx;
    exe.set_cubin(std::move(gpu->cubin));
    exe.set_ptx(std::move(gpu->ptx));
  } else {
    FailureOr<std::string> library =
        compileCpuKernels(kernels, options.optLevel, options.progress);
    if (failed(library))
      return failure();
    exe.set_kernel_library(std::move(*library));
  }
  if (failed(emitCommands(step, *buffers, gpu ? &*gpu : nullptr, exe)))
    return failure();

  if (options.progress) {
    int copies = 0;
    for (const rt::Command &c : exe.commands())
      copies += c.kind_case() == rt::Command::kCopy;
    *options.progress
        << "dsv3-compile: " << exe.commands_size() << " commands ("
        << llvm::range_size(step.getOps<func::CallOp>()) << " kernels, "
        << copies << " copies), " << exe.buffers_size() << " buffers, arena "
        << llvm::format("%.1f", exe.arena_bytes() / 1048576.0) << " MiB, "
        << (cuda ? "cubin " : "kernel library ")
        << llvm::format("%.1f", (cuda ? exe.cubin().size()
                                      : exe.kernel_library().size()) /
                                    1048576.0)
        << " MiB\n";
  }
  std::string bytes;
  if (!exe.SerializeToString(&bytes)) {
    module.emitError("dsv3-compile: the executable does not serialize");
    return failure();
  }
  return rt::frameExecutable(bytes);
}
