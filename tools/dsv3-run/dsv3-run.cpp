//===- dsv3-run.cpp - train a compiled model ------------------------------===//
//
// Loads a .dsv3 executable (dsv3-compile MODEL --target=cpu -o FILE.dsv3),
// initializes or resumes the parameters, and runs training steps on packed
// batches from a text file, a token file or synthetic tokens: one progress
// line per step, a summary at the end, optional JSONL metrics, a Chrome
// trace and crash-safe checkpoints. No MLIR or LLVM in this binary.
//
//===----------------------------------------------------------------------===//

#include "checkpoint.h"
#include "data.h"
#include "executable.h"
#include "hf_checkpoint.h"
#include "int8_export.h"
#include "metrics.h"
#include "report.h"
#include "tensorboard.h"
#include "trainer.h"

#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <sys/resource.h>

using namespace dsv3::runtime;

namespace {

const char *kUsage = R"(usage: dsv3-run MODEL.dsv3 [options]

Trains a model compiled with `dsv3-compile MODEL -o MODEL.dsv3` on the CPU
or a GPU: one line per step (loss, learning rate, gradient norm, tokens/s,
TFLOP/s, peak memory) and, at the end, a summary, where the step's time
went (per command category and the ten slowest commands; on a GPU from
the last step, each command waited for) and the MFU. Checkpoints of a
model transformers can compute carry its config.json, so a checkpoint
directory loads with AutoModelForCausalLM.from_pretrained. An executable whose planned
arena does not fit in the memory available (host RAM, or the GPU's free
memory) is refused before anything runs.

options:
  --steps N          train until step N (default: the model's total_steps)
  --data FILE        training data (default: synthetic tokens); text is
                     read as bytes, an empty line ends a document
  --data-format F    auto (default: .u16 and .u32 files are token files,
                     anything else text), text, uint16 or uint32
  --eos ID           with a token file: the token that ends a document
  --seed S           initialization and synthetic-data seed (default: the
                     model's training.seed)
  --device D         auto (default: where the executable was compiled for),
                     cpu or cuda; cuda without a visible GPU is an error
  --threads N        CPU threads for the step's GEMMs and kernel loops
                     (default: one per core this process may use); the
                     work is split by shape, so results are the same to
                     the bit for any N
  --memory-limit B   refuse an executable whose planned arena exceeds B
                     bytes (K, M, G suffixes: powers of 1024), as it is
                     refused when it exceeds the memory available
  --save DIR         write checkpoints under DIR (step-N directories and a
                     `latest` file; the last two are kept)
  --save-every K     checkpoint every K steps (default: only at the end)
  --resume DIR       continue from the latest checkpoint under DIR
  --init-from DIR    start from the weights of a Hugging Face model
                     directory (model.safetensors, or the shards its
                     model.safetensors.index.json names; f32, bf16, f16,
                     and fp8 with weight_scale_inv dequantized): every
                     tensor is checked by name and shape, none may be left
                     over; moments start at zero
  --export-int8 DIR  after the last step, write the weights of a model
                     compiled with --qat=int8 as int8 values and one f32
                     scale per output channel (DIR/model.safetensors, with
                     every other parameter as trained, and
                     DIR/quantization.json saying how to dequantize); DIR
                     must be new or empty
  --metrics FILE     append one JSON line of metrics per step
  --tensorboard DIR  write the step metrics as TensorBoard scalars (a new
                     events.out.tfevents.* file in DIR)
  --trace FILE       write a Chrome trace (one event per command)
  --peak-tflops X    the peak MFU is measured against, in TFLOP/s
                     (default: on the CPU, the best rate of an f32 GEMM
                     measured at the start; on a GPU, none)
  --on-nonfinite M   what a step whose loss or gradient norm is not finite
                     does: stop (default: the run ends with an error before
                     that step's parameters are saved) or skip (the step is
                     undone, parameters and moments as they were before it,
                     and counted: `skipped` in the progress line and the
                     metrics; costs a copy of that state every step).
                     An executable compiled with --precision=fp16 skips
                     such steps itself (loss scaling): they are counted
                     the same way, `loss_scale` beside them, and do not
                     stop the run, unless the gradients overflow even at a
                     loss scale below 1
  --log-every K      print every K-th step (default 1)
  --sync-each-command
                     wait for every command and check it before the next:
                     slower on a GPU, but an error names the command that
                     failed (GPU work is asynchronous otherwise)
  --dump             print the executable's buffers and commands, then exit
  --help             this text
)";

struct Options {
  std::string model;
  int64_t steps = -1;
  std::string data, dataFormat = "auto";
  int64_t eos = -1;
  int64_t seed = -1;
  std::string device = "auto";
  uint64_t memoryLimit = 0;
  int64_t threads = 0;
  std::string save;
  int64_t saveEvery = 0;
  std::string resume, initFrom, exportInt8;
  std::string metrics, trace, tensorboard;
  double peakTflops = 0;
  int64_t logEvery = 1;
  bool skipNonFinite = false;
  bool syncEachCommand = false;
  bool dump = false;
};

[[noreturn]] void usageError(const std::string &message) {
  std::fprintf(stderr, "dsv3-run: %s\n(see dsv3-run --help)\n",
               message.c_str());
  std::exit(2);
}

int64_t parseInt(const std::string &flag, const char *value, int64_t min) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(value, &end, 10);
  if (errno || !*value || *end || v < min)
    usageError(flag + " " + value + ": expected an integer >= " +
               std::to_string(min));
  return v;
}

Options parseOptions(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool inlineValue = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      inlineValue = true;
    }
    auto next = [&]() -> const char * {
      if (inlineValue)
        return argv[i] + (std::strlen(argv[i]) - value.size());
      if (i + 1 >= argc)
        usageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--steps") {
      o.steps = parseInt(arg, next(), 0);
    } else if (arg == "--data") {
      o.data = next();
    } else if (arg == "--data-format") {
      o.dataFormat = next();
      if (o.dataFormat != "auto" && o.dataFormat != "text" &&
          o.dataFormat != "uint16" && o.dataFormat != "uint32")
        usageError("--data-format " + o.dataFormat +
                   ": expected auto, text, uint16 or uint32");
    } else if (arg == "--eos") {
      o.eos = parseInt(arg, next(), 0);
    } else if (arg == "--seed") {
      o.seed = parseInt(arg, next(), 0);
    } else if (arg == "--device") {
      o.device = next();
      if (o.device != "auto" && o.device != "cpu" && o.device != "cuda")
        usageError("--device " + o.device + ": expected auto, cpu or cuda");
    } else if (arg == "--threads") {
      o.threads = parseInt(arg, next(), 1);
    } else if (arg == "--memory-limit") {
      const char *value = next();
      char *end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(value, &end, 10);
      uint64_t scale = 1;
      if (end && *end && !end[1]) {
        scale = *end == 'K' ? 1ull << 10 : *end == 'M' ? 1ull << 20
              : *end == 'G' ? 1ull << 30 : 0;
        ++end;
      }
      if (errno || !*value || *end || !scale || v == 0 ||
          v > UINT64_MAX / scale)
        usageError("--memory-limit " + std::string(value) +
                   ": expected a positive number of bytes (K, M or G "
                   "suffix allowed)");
      o.memoryLimit = v * scale;
    } else if (arg == "--save") {
      o.save = next();
    } else if (arg == "--save-every") {
      o.saveEvery = parseInt(arg, next(), 1);
    } else if (arg == "--resume") {
      o.resume = next();
    } else if (arg == "--init-from") {
      o.initFrom = next();
    } else if (arg == "--export-int8") {
      o.exportInt8 = next();
    } else if (arg == "--tensorboard") {
      o.tensorboard = next();
    } else if (arg == "--peak-tflops") {
      const char *value = next();
      char *end = nullptr;
      errno = 0;
      o.peakTflops = std::strtod(value, &end);
      if (errno || !*value || *end || !(o.peakTflops > 0) ||
          !std::isfinite(o.peakTflops))
        usageError(std::string("--peak-tflops ") + value +
                   ": expected a positive number");
    } else if (arg == "--metrics") {
      o.metrics = next();
    } else if (arg == "--trace") {
      o.trace = next();
    } else if (arg == "--on-nonfinite") {
      std::string mode = next();
      if (mode != "stop" && mode != "skip")
        usageError("--on-nonfinite " + mode + ": expected stop or skip");
      o.skipNonFinite = mode == "skip";
    } else if (arg == "--log-every") {
      o.logEvery = parseInt(arg, next(), 1);
    } else if (arg == "--sync-each-command") {
      o.syncEachCommand = true;
    } else if (arg == "--dump") {
      o.dump = true;
    } else if (arg.rfind("-", 0) == 0) {
      usageError("unknown option " + arg);
    } else if (o.model.empty()) {
      o.model = arg;
    } else {
      usageError("one executable only (got " + o.model + " and " + arg + ")");
    }
  }
  if (o.model.empty())
    usageError("no executable given");
  if (o.saveEvery && o.save.empty())
    usageError("--save-every needs --save DIR");
  if (!o.exportInt8.empty() &&
      (o.exportInt8 == o.save || o.exportInt8 == o.resume))
    usageError("--export-int8 needs a directory of its own, not the "
               "checkpoints'");
  if (!o.initFrom.empty() && !o.resume.empty())
    usageError("--init-from and --resume both set the weights; give one");
  if (o.eos >= 0 && o.data.empty())
    usageError("--eos applies to a token file given with --data");
  return o;
}

std::string shapeString(const Buffer &b) {
  std::string s = "[";
  for (int i = 0; i < b.shape_size(); ++i)
    s += (i ? "x" : "") + std::to_string(b.shape(i));
  return s + "]";
}

void dump(const Executable &exe) {
  bool cuda = exe.target() == "cuda";
  std::string target = cuda ? "cuda sm_" + std::to_string(exe.sm()) : exe.target();
  std::printf("executable of %s for %s: %d buffers, %d commands, arena "
              "%.1f MiB (%" PRId64 " bytes; peak live %.1f MiB), %s %.1f KiB, "
              "%.3f GFLOP per step\n",
              exe.model().c_str(), target.c_str(), exe.buffers_size(),
              exe.commands_size(), exe.arena_bytes() / 1048576.0,
              exe.arena_bytes(),
              exe.peak_live_bytes() / 1048576.0,
              cuda ? "cubin" : "kernel library",
              (cuda ? exe.cubin().size() : exe.kernel_library().size()) / 1024.0,
              exe.flops_per_step() / 1e9);
  std::printf("batch %" PRId64 " x %" PRId64 ", vocabulary %" PRId64 "\n",
              exe.micro_batch(), exe.seq_len(), exe.vocab_size());
  std::printf("buffers (id role dtype shape offset bytes name):\n");
  for (int i = 0; i < exe.buffers_size(); ++i) {
    const Buffer &b = exe.buffers(i);
    if (b.role() == ACTIVATION)
      continue;
    std::printf("  %4d %-10s %-4s %-16s %10" PRId64 " %10" PRId64 " %s\n", i,
                roleName(b.role()), elementTypeName(b.dtype()),
                shapeString(b).c_str(), b.offset(), b.bytes(),
                b.name().empty() ? b.batch_field().c_str() : b.name().c_str());
  }
  int activations = 0;
  for (const Buffer &b : exe.buffers())
    activations += b.role() == ACTIVATION;
  std::printf("  (and %d activations)\n", activations);
  std::printf("commands:\n");
  auto ids = [](const auto &list) {
    std::string s;
    for (int id : list)
      s += (s.empty() ? "" : ",") + std::to_string(id);
    return s;
  };
  for (int i = 0; i < exe.commands_size(); ++i) {
    const Command &c = exe.commands(i);
    switch (c.kind_case()) {
    case Command::kLaunch:
      std::printf("  %4d launch %s (%s) -> (%s)%s%s\n", i,
                  c.launch().kernel().c_str(), ids(c.launch().inputs()).c_str(),
                  ids(c.launch().outputs()).c_str(),
                  c.launch().scratch_size() ? " scratch " : "",
                  ids(c.launch().scratch()).c_str());
      break;
    case Command::kGemm: {
      const Gemm &g = c.gemm();
      std::printf("  %4d gemm %s %" PRId64 "x[%" PRId64 "x%" PRId64
                  "x%" PRId64 "]%s%s %d,%d -> %d\n",
                  i, elementTypeName(exe.buffers(g.c()).dtype()), g.batch(),
                  g.m(), g.n(), g.k(), g.trans_a() ? " transA" : "",
                  g.trans_b() ? " transB" : "", g.a(), g.b(), g.c());
      break;
    }
    case Command::kGroupedGemm: {
      const GroupedGemm &g = c.grouped_gemm();
      std::printf("  %4d grouped_gemm%s %s %" PRId64 " rows, %" PRId64
                  " experts, k %" PRId64 ", n %" PRId64 "%s %d,%d,%d -> %d\n",
                  i, g.weight_grad() ? "_wgrad" : "",
                  elementTypeName(exe.buffers(g.y()).dtype()), g.rows(),
                  g.experts(),
                  g.k(), g.n(), g.trans_w() ? " transW" : "", g.x(), g.w(),
                  g.group_sizes(), g.y());
      break;
    }
    case Command::kAttention: {
      const Attention &a = c.attention();
      std::string operands = std::to_string(a.query()) + "," +
                             std::to_string(a.key()) + "," +
                             std::to_string(a.value());
      if (a.backward())
        operands += "," + std::to_string(a.d_output());
      if (a.has_segments())
        operands += " segments " + std::to_string(a.segments());
      std::string results =
          a.backward() ? std::to_string(a.d_query()) + "," +
                             std::to_string(a.d_key()) + "," +
                             std::to_string(a.d_value())
                       : std::to_string(a.output());
      std::printf("  %4d %s %s -> %s\n", i,
                  commandName(exe, c).c_str(), operands.c_str(),
                  results.c_str());
      break;
    }
    case Command::kCopy:
      std::printf("  %4d copy %d -> %d\n", i, c.copy().src(), c.copy().dst());
      break;
    case Command::kGpuLaunch: {
      const GpuLaunch &l = c.gpu_launch();
      std::string args;
      for (const GpuArg &a : l.args()) {
        args += args.empty() ? "" : ",";
        if (a.value_case() == GpuArg::kBuffer)
          args += std::to_string(a.buffer());
        else if (a.value_case() == GpuArg::kI64)
          args += "i64:" + std::to_string(a.i64());
        else if (a.value_case() == GpuArg::kI32)
          args += "i32:" + std::to_string(a.i32());
        else if (a.value_case() == GpuArg::kF64)
          args += "f64:" + std::to_string(a.f64());
        else
          args += "f32:" + std::to_string(a.f32());
      }
      std::printf("  %4d gpu_launch %s grid [%" PRId64 ",%" PRId64 ",%" PRId64
                  "] block [%" PRId64 ",%" PRId64 ",%" PRId64 "] (%s)\n",
                  i, l.function().c_str(), l.grid(0), l.grid(1), l.grid(2),
                  l.block(0), l.block(1), l.block(2), args.c_str());
      break;
    }
    default:
      std::printf("  %4d ?\n", i);
    }
  }
}

double peakMemoryMiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

int fail(const Status &s) {
  std::fprintf(stderr, "dsv3-run: %s\n", s.message().c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  Options opt = parseOptions(argc, argv);
  Expected<Executable> exe = loadExecutable(opt.model);
  if (!exe)
    return fail(exe.status());
  if (opt.dump) {
    dump(*exe);
    return 0;
  }
  // Refused before any work, so that a long run cannot end unexported.
  if (!opt.exportInt8.empty()) {
    if (countInt8Weights(*exe) == 0)
      return fail(Status::error(
          "--export-int8: " + opt.model +
          " has no int8-quantized weights (compile it with --qat=int8)"));
    if (Status s = checkExportDirectory(opt.exportInt8); !s)
      return fail(s);
  }
  uint64_t seed = opt.seed >= 0 ? opt.seed : exe->seed();
  int64_t steps = opt.steps >= 0 ? opt.steps : exe->total_steps();
  std::string model = exe->model();
  int64_t batch = exe->micro_batch(), seq = exe->seq_len();
  double flopsPerStep = exe->flops_per_step();

  // Data.
  std::unique_ptr<TokenSource> source;
  if (opt.data.empty()) {
    source = makeSyntheticSource(seed, exe->vocab_size(), seq);
  } else {
    std::string format = opt.dataFormat;
    if (format == "auto") {
      auto endsWith = [&](const char *suffix) {
        size_t n = std::strlen(suffix);
        return opt.data.size() >= n &&
               opt.data.compare(opt.data.size() - n, n, suffix) == 0;
      };
      format = endsWith(".u16") ? "uint16" : endsWith(".u32") ? "uint32" : "text";
    }
    Expected<std::unique_ptr<TokenSource>> opened =
        format == "text" ? openTextFile(opt.data)
                         : openTokenFile(opt.data, format == "uint16" ? 2 : 4,
                                         exe->vocab_size(), opt.eos);
    if (!opened)
      return fail(opened.status());
    source = std::move(*opened);
  }
  Packer packer(*source, batch, seq);

  BackendOptions backendOptions;
  backendOptions.device = opt.device;
  backendOptions.memoryLimit = opt.memoryLimit;
  backendOptions.threads = static_cast<int>(opt.threads);
  Expected<std::unique_ptr<Trainer>> created =
      Trainer::create(std::move(*exe), backendOptions);
  if (!created)
    return fail(Status::error(opt.model + ": " + created.status().message()));
  Trainer &trainer = **created;
  trainer.synchronizeEachCommand(opt.syncEachCommand);

  int64_t first = 0;
  if (!opt.resume.empty()) {
    Expected<LoadedCheckpoint> ckpt = CheckpointStore(opt.resume).loadLatest();
    if (!ckpt)
      return fail(ckpt.status());
    if (ckpt->state.model != model)
      return fail(Status::error(ckpt->dir + ": a checkpoint of model '" +
                                ckpt->state.model + "', the executable is '" +
                                model + "'"));
    if (Status s = trainer.restore(ckpt->params, ckpt->optimizer); !s)
      return fail(s);
    if (Status s = packer.seek(ckpt->state.dataCursor); !s)
      return fail(Status::error(ckpt->dir + ": data cursor " +
                                std::to_string(ckpt->state.dataCursor) + ": " +
                                s.message()));
    first = ckpt->state.step;
    std::printf("resumed %s from %s at step %" PRId64 "\n", model.c_str(),
                ckpt->dir.c_str(), first);
  } else if (!opt.initFrom.empty()) {
    Expected<HuggingFaceCheckpoint> hf =
        HuggingFaceCheckpoint::open(opt.initFrom);
    if (!hf)
      return fail(hf.status());
    if (Status s = trainer.initializeFrom(*hf, seed); !s)
      return fail(s);
    std::printf("initialized %s from %s\n", model.c_str(),
                opt.initFrom.c_str());
  } else if (Status s = trainer.initialize(seed); !s) {
    return fail(s);
  }

  auto exportWeights = [&](int64_t completed) -> Status {
    if (opt.exportInt8.empty())
      return Status::ok();
    if (Status s = exportInt8(trainer, opt.exportInt8, completed); !s)
      return s;
    std::printf("exported int8 weights of step %" PRId64 " to %s\n",
                completed, opt.exportInt8.c_str());
    return Status::ok();
  };
  if (first >= steps) {
    std::printf("nothing to run: already at step %" PRId64 "\n", first);
    if (Status s = exportWeights(first); !s)
      return fail(s);
    return 0;
  }

  std::unique_ptr<MetricsWriter> metrics;
  if (!opt.metrics.empty()) {
    auto opened = MetricsWriter::open(opt.metrics);
    if (!opened)
      return fail(opened.status());
    metrics = std::move(*opened);
  }
  std::unique_ptr<TraceWriter> trace;
  if (!opt.trace.empty())
    trace = std::make_unique<TraceWriter>(opt.trace);
  bool onGpu = trainer.executable().target() == "cuda";
  // The peak MFU is stated against.
  double peakFlops = opt.peakTflops * 1e12;
  std::string peakSource =
      opt.peakTflops > 0 ? "given by --peak-tflops"
      : onGpu            ? "give the GPU's peak for the step's precision "
                           "with --peak-tflops"
                         : "";
  if (peakFlops == 0 && !onGpu) {
    peakFlops = measureCpuGemmPeak();
    peakSource = "an f32 GEMM of 1024^3 measured on this CPU";
  }
  std::unique_ptr<TensorBoardWriter> tensorboard;
  if (!opt.tensorboard.empty()) {
    auto opened = TensorBoardWriter::open(opt.tensorboard);
    if (!opened)
      return fail(opened.status());
    tensorboard = std::move(*opened);
  }
  if (!opt.save.empty() && trainer.executable().hf_config().empty())
    std::printf("note: checkpoints get no config.json for transformers: "
                "%s\n",
                trainer.executable().hf_config_missing().empty()
                    ? "the executable has none"
                    : trainer.executable().hf_config_missing().c_str());
  std::unique_ptr<CheckpointStore> store;
  if (!opt.save.empty())
    store = std::make_unique<CheckpointStore>(opt.save);
  auto save = [&](int64_t completed) -> Status {
    CheckpointState state;
    state.model = model;
    state.step = completed;
    state.rng = std::to_string(seed);
    state.dataCursor = packer.cursor();
    state.hfConfig = trainer.executable().hf_config();
    auto params = trainer.state(PARAM);
    if (!params)
      return params.status();
    std::vector<TensorView> paramViews = *params;
    auto moments = trainer.state(OPT_STATE);
    if (!moments)
      return moments.status();
    Status s = store->save(state, paramViews, *moments);
    if (s)
      std::printf("saved %s/%s\n", opt.save.c_str(),
                  checkpointDirName(completed).c_str());
    return s;
  };

  std::printf("training %s on %s: steps %" PRId64 "..%" PRId64
              ", batch %" PRId64 " x %" PRId64 " tokens, data: %s, seed %" PRIu64
              "\n",
              model.c_str(), trainer.backend().describe().c_str(), first + 1,
              steps, batch, seq, source->describe().c_str(), seed);
  std::fflush(stdout);
  using Clock = std::chrono::steady_clock;
  Clock::time_point origin = Clock::now();
  double firstLoss = NAN, lastLoss = NAN, totalSeconds = 0, lastSeconds = 0;
  int64_t ran = 0, undone = 0;
  // With loss scaling the step counts its skipped steps in its own state
  // (`skipped` in its metrics); a resumed run starts from the saved count.
  double stepSkipped = 0;
  const Executable &compiled = trainer.executable();
  bool scaler = std::any_of(
      compiled.buffers().begin(), compiled.buffers().end(),
      [](const Buffer &b) {
        return b.role() == OPT_STATE && b.name() == "loss_scaler.skipped";
      });
  if (scaler) {
    auto views = trainer.state(OPT_STATE);
    if (!views)
      return fail(views.status());
    for (const TensorView &v : *views)
      if (v.name == "loss_scaler.skipped" && v.dtype == DType::I64)
        stepSkipped =
            static_cast<double>(*static_cast<const int64_t *>(v.data));
  }
  Batch b;
  for (int64_t step = first; step < steps; ++step) {
    if (Status s = packer.next(b); !s)
      return fail(s);
    if (Status s = trainer.setBatch(b); !s)
      return fail(Status::error((opt.data.empty() ? "synthetic data" : opt.data) +
                                ": " + s.message()));
    // The CPU is timed on every step (it runs one command at a time
    // anyway); a GPU on the last, where waiting for each command costs
    // that step only.
    trainer.profile(!onGpu || step + 1 == steps);
    if (opt.skipNonFinite)
      if (Status s = trainer.snapshotState(); !s)
        return fail(s);
    Clock::time_point start = Clock::now();
    if (Status s = trainer.step(step, trace.get(), origin); !s)
      return fail(s);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    totalSeconds += seconds;
    lastSeconds = seconds;
    ++ran;
    Expected<float> lossOr = trainer.loss();
    if (!lossOr)
      return fail(lossOr.status());
    float loss = *lossOr;
    if (std::isnan(firstLoss))
      firstLoss = loss;
    lastLoss = loss;
    double tokensPerSecond = batch * seq / seconds;
    double tflops = flopsPerStep / seconds / 1e12;
    auto valuesOr = trainer.metrics();
    if (!valuesOr)
      return fail(valuesOr.status());
    auto values = *valuesOr;
    std::map<std::string, double> byName(values.begin(), values.end());
    // A step with loss scaling (fp16) skips its own update on an inf/NaN
    // gradient and says so; the parameters are as they were.
    bool scaled = byName.count("loss_scale") && byName.count("skipped");
    bool skippedInStep = scaled && byName["skipped"] > stepSkipped;
    if (scaled)
      stepSkipped = byName["skipped"];
    // Gradients that overflow fp16 even unscaled never train.
    double lossScale = byName["loss_scale"];
    if (skippedInStep && !(lossScale >= 1.0 && std::isfinite(lossScale))) {
      char scaleText[32];
      std::snprintf(scaleText, sizeof scaleText, "%g", lossScale);
      return fail(Status::error(
          "step " + std::to_string(step + 1) +
          ": the gradients are not finite in fp16 even at loss scale " +
          scaleText + ", after " +
          std::to_string(static_cast<int64_t>(stepSkipped)) +
          " skipped steps: the model does not train in fp16 (compile it "
          "with --precision=bf16 or fp32)"));
    }
    // Otherwise non-finite gradients have already reached the parameters,
    // even when the loss (computed before the update) is finite.
    bool finite = skippedInStep ||
                  (std::isfinite(loss) && (!byName.count("grad_norm") ||
                                           std::isfinite(byName["grad_norm"])));
    if (!finite && opt.skipNonFinite) {
      if (Status s = trainer.restoreSnapshot(); !s)
        return fail(s);
      ++undone;
    }
    int64_t skipped = undone + static_cast<int64_t>(stepSkipped);
    if ((step + 1) % opt.logEvery == 0 || step + 1 == steps || step == first ||
        (!finite && opt.skipNonFinite) || skippedInStep) {
      std::printf("step %5" PRId64 "/%" PRId64 "  loss %.4f  lr %.3e  "
                  "grad_norm %.3f  %.0f tok/s  %.3f TFLOP/s  peak %.0f MiB",
                  step + 1, steps, loss, byName["lr"], byName["grad_norm"],
                  tokensPerSecond, tflops, peakMemoryMiB());
      if (scaled)
        std::printf("  loss_scale %g", byName["loss_scale"]);
      if (skipped > 0)
        std::printf("  skipped %" PRId64 "%s", skipped,
                    skippedInStep ? " (this step: inf/NaN gradient)"
                    : finite      ? ""
                                  : " (this step undone)");
      std::printf("\n");
      std::fflush(stdout);
    }
    if (!finite && !opt.skipNonFinite)
      return fail(Status::error(
          "step " + std::to_string(step + 1) + ": the " +
          (std::isfinite(loss) ? "gradient norm is " +
                                     std::to_string(byName["grad_norm"])
                               : "loss is " + std::to_string(loss)) +
          "; stopping before this step is saved (--on-nonfinite=skip undoes "
          "such steps instead)"));
    // `skipped` in the metrics counts every skipped step so far: the
    // step's own and the undone ones.
    if (scaled) {
      for (auto &[name, value] : values)
        if (name == "skipped")
          value = static_cast<double>(skipped);
    } else if (opt.skipNonFinite) {
      values.emplace_back("skipped", static_cast<double>(skipped));
    }
    if (metrics || tensorboard) {
      std::vector<std::pair<std::string, double>> row = {
          {"loss", loss},
          {"tokens_per_s", tokensPerSecond},
          {"tflops", tflops},
          {"step_s", seconds},
          {"peak_memory_mib", peakMemoryMiB()}};
      if (peakFlops > 0)
        row.emplace_back("mfu", flopsPerStep / seconds / peakFlops);
      row.insert(row.end(), values.begin(), values.end());
      if (metrics)
        if (Status s = metrics->write(step + 1, row); !s)
          return fail(s);
      if (tensorboard)
        if (Status s = tensorboard->write(step + 1, row); !s)
          return fail(s);
    }
    if (store && opt.saveEvery && (step + 1) % opt.saveEvery == 0)
      if (Status s = save(step + 1); !s)
        return fail(s);
  }
  if (store && (!opt.saveEvery || steps % opt.saveEvery != 0))
    if (Status s = save(steps); !s)
      return fail(s);
  if (Status s = exportWeights(steps); !s)
    return fail(s);
  if (trace)
    if (Status s = trace->close(); !s)
      return fail(s);
  std::printf("done: %" PRId64 " steps in %.1f s, %.0f tok/s, %.3f TFLOP/s; "
              "loss %.4f (step %" PRId64 ") -> %.4f (step %" PRId64 ")\n",
              ran, totalSeconds, ran * batch * seq / totalSeconds,
              ran * flopsPerStep / totalSeconds / 1e12, firstLoss, first + 1,
              lastLoss, steps);
  RunReport report;
  report.commandSeconds = trainer.commandSeconds();
  report.profiledSteps = trainer.profiledSteps();
  report.timing = onGpu ? "the last step, each command waited for"
                        : "every step";
  // On a GPU the profiled last step waited for every command: the MFU is
  // over the others when there are any.
  report.stepSeconds = onGpu && ran > 1 ? (totalSeconds - lastSeconds) / (ran - 1)
                                        : totalSeconds / ran;
  report.peakFlops = peakFlops;
  report.peakSource = peakSource;
  printRunReport(stdout, trainer.executable(), report);
  return 0;
}
