//===- ExecutableTest.cpp - the compiled CPU step against the interpreter ---===//
//
// Compiles a model's training step into a CPU executable, runs it through
// the runtime for three steps on packed synthetic batches, and runs the
// interpreter's @train_step on the same initial state and batches. The
// losses, updated parameters and moments must agree to relative 1e-5 at
// every step (bf16 moments to the rounding their storage allows), with
// bf16 GEMMs too: both sides round each GEMM's result to
// bf16 (the executable after an f32 sum, the interpreter after an f64 one),
// which differ only where the two sums straddle a rounding boundary. Each
// tensor is compared by the norm of its difference
// relative to its norm before or after the step. The interpreter
// accumulates in f64 and the executable in f32; where a parameter's
// gradient is so small that AdamW's second moment is within 100x of eps,
// the update follows the gradient's magnitude rather than its sign and
// amplifies that rounding difference, so those few elements are held to
// the learning rate instead (and counted).
//
//===----------------------------------------------------------------------===//

#include "Interpreter/Interpreter.h"
#include "Pipelines/Pipelines.h"
#include "Pipelines/SpecOptions.h"
#include "Spec/Spec.h"
#include "Target/Executable.h"
#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Dialect.h"

#include "data.h"
#include "executable.h"
#include "trainer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>

using namespace mlir;
using namespace mlir::dsv3;
namespace rt = ::dsv3::runtime;

namespace {

struct Model {
  const char *path;
  int64_t microBatch, seqLen;
  /// Relative tolerance of the loss and of each state tensor.
  double tolerance;
  const char *label;
  /// AdamW moments stored in bf16 (dsv3-autodiff moments=bf16).
  bool bf16Moments = false;
  /// Kernels of more top-level loops are compiled in parts (0: the
  /// pipeline's default).
  int64_t splitKernelLoops = 0;
  /// More dsv3-train-pipeline options ("qat=int8 ..."), on top of the
  /// description's.
  const char *pipelineOptions = "";
  /// Under loss scaling: the fewest of the 3 steps that must be skipped.
  int64_t minSkipped = 0;
};

void PrintTo(const Model &model, std::ostream *os) {
  *os << model.path << " at " << model.microBatch << " x " << model.seqLen;
}

class ExecutableTest : public ::testing::TestWithParam<Model> {};

HostTensor fromBuffer(const rt::Buffer &b, const void *data, Type type) {
  auto tensorType = cast<RankedTensorType>(type);
  HostTensor t(tensorType);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data[i] = rt::loadElement(b.dtype(), data, i);
  return t;
}

/// `model` compiled by the pipeline dsv3-compile runs: the training step
/// before it is lowered (precision policy included) into `reference`, the
/// CPU executable returned.
std::optional<rt::Executable> compileModel(const Model &model,
                                           MLIRContext &context,
                                           OwningOpRef<ModuleOp> &reference) {
  SpecOverrides overrides;
  overrides.microBatch = model.microBatch;
  overrides.seqLen = model.seqLen;
  std::string path = std::string(DSV3_SOURCE_DIR) + "/" + model.path;
  FailureOr<LoadedSpec> loaded = loadModelSpec(path, overrides, llvm::errs());
  EXPECT_TRUE(succeeded(loaded));
  if (failed(loaded))
    return std::nullopt;
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = buildForwardModule(loaded->spec, &context);
  TrainPipelineOptions options;
  applyCompileSettings(loaded->spec.compile(), options);
  options.target = CompileTarget::cpu;
  if (model.bf16Moments)
    options.moments = MomentsType::bf16;
  if (model.splitKernelLoops)
    options.splitKernelLoops = model.splitKernelLoops;
  EXPECT_TRUE(succeeded(options.parseFromString(model.pipelineOptions)));
  EXPECT_TRUE(checkTrainPipelineOptions(options).empty());
  PassManager stepPm(&context);
  buildTrainStepPipeline(stepPm, options);
  EXPECT_TRUE(succeeded(stepPm.run(*module)));
  reference = module->clone();

  PassManager lowerPm(&context);
  buildLowerTrainStepPipeline(lowerPm, options);
  EXPECT_TRUE(succeeded(lowerPm.run(*module)));
  FailureOr<std::string> bytes = buildExecutable(*module, {});
  EXPECT_TRUE(succeeded(bytes));
  if (failed(bytes))
    return std::nullopt;
  auto exe = rt::parseExecutable(*bytes, "test.dsv3");
  EXPECT_TRUE(exe) << exe.status().message();
  if (!exe)
    return std::nullopt;
  return *exe;
}

TEST_P(ExecutableTest, ThreeStepsMatchTheInterpreter) {
  Model model = GetParam();
  DialectRegistry registry;
  registerPipelineInterfaces(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> reference;
  std::optional<rt::Executable> exe = compileModel(model, context, reference);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(exe);
  auto step = reference->lookupSymbol<func::FuncOp>("train_step");
  ASSERT_TRUE(step);

  rt::BackendOptions cpu;
  cpu.device = "cpu";
  auto created = rt::Trainer::create(*exe, cpu);
  ASSERT_TRUE(created) << created.status().message();
  rt::Trainer &trainer = **created;
  ASSERT_TRUE(trainer.initialize(7));

  // The interpreter starts from the executable's initial state.
  unsigned numArgs = step.getNumArguments();
  std::vector<HostTensor> args;
  for (unsigned i = 0; i < numArgs; ++i)
    args.push_back(fromBuffer(exe->buffers(i), trainer.bufferData(i),
                              step.getArgument(i).getType()));

  TrainingConfig training = TrainingConfig::get(*reference);
  double beta2 = training.beta2, eps = training.eps, maxLr = training.lr;
  int64_t totalSensitive = 0, totalElements = 0;
  auto source = rt::makeSyntheticSource(3, exe->vocab_size(), 11);
  rt::Packer packer(*source, exe->micro_batch(), exe->seq_len());
  int64_t skipped = 0;
  for (int64_t s = 0; s < 3; ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    rt::Batch batch;
    ASSERT_TRUE(packer.next(batch));
    ASSERT_TRUE(trainer.setBatch(batch));
    // The batch as the runtime laid it out, read before the step: the plan
    // reuses its buffers once the step has read them.
    for (unsigned i = 0; i < numArgs; ++i) {
      rt::Role role = exe->buffers(i).role();
      if (role == rt::BATCH)
        args[i] = fromBuffer(exe->buffers(i), trainer.bufferData(i),
                             step.getArgument(i).getType());
      else if (role == rt::STEP)
        args[i].data[0] = s;
    }
    ASSERT_TRUE(trainer.step(s));
    if (auto values = trainer.metrics())
      for (const auto &[metric, value] : *values)
        if (metric == "skipped")
          skipped = static_cast<int64_t>(value);
    FailureOr<SmallVector<HostTensor>> results = interpret(step, args);
    ASSERT_TRUE(succeeded(results));

    // Results: the loss, then state updates named like the arguments.
    llvm::StringMap<const HostTensor *> byName;
    for (unsigned r = 0; r < results->size(); ++r)
      byName[getResultName(step, r)] = &(*results)[r];
    unsigned compared = 0;
    for (unsigned r = 0; r < results->size(); ++r) {
      std::optional<Role> role = getResultRole(step, r);
      StringRef name = getResultName(step, r);
      const HostTensor &want = (*results)[r];
      if (role == Role::loss) {
        double loss = *trainer.loss();
        EXPECT_NEAR(loss, want.data[0], model.tolerance * std::abs(want.data[0]));
        continue;
      }
      std::optional<unsigned> updated = getUpdatedArgument(step, r);
      if (!updated)
        continue;
      {
        unsigned i = *updated;
        const void *gotData = trainer.bufferData(i);
        rt::ElementType gotType = exe->buffers(i).dtype();
        // Where AdamW's second moment is within 100x of eps the update is
        // lr * g / (|g| + eps): it follows the gradient's magnitude, so f32
        // rounding in a near-zero gradient moves it. Those elements are
        // held to lr instead; there must be very few of them.
        const HostTensor *v = role == Role::param
                                  ? byName.lookup((name + ".exp_avg_sq").str())
                                  : nullptr;
        double correction = 1.0 - std::pow(beta2, s + 1);
        double diff = 0, norm = 0, before = 0;
        int64_t sensitive = 0;
        for (int64_t e = 0; e < want.numel(); ++e) {
          double d = rt::loadElement(gotType, gotData, e) - want.data[e];
          if (v && v->data[e] > 0 &&
              std::sqrt(v->data[e] / correction) < 100 * eps) {
            ++sensitive;
            EXPECT_LE(std::abs(d), maxLr) << name.str() << "[" << e << "]";
            continue;
          }
          diff += d * d;
          norm += want.data[e] * want.data[e];
          before += args[i].data[e] * args[i].data[e];
        }
        // Relative to the tensor's size before or after the step, so that
        // a state that returns to zero is compared to its scale.
        double scale = std::sqrt(std::max(norm, before));
        double err = scale == 0 ? std::sqrt(diff) : std::sqrt(diff) / scale;
        EXPECT_LE(err, model.tolerance) << name.str();

        totalSensitive += sensitive;
        totalElements += want.numel();
        args[i] = want;
        ++compared;
      }
    }
    EXPECT_GT(compared, 0u);
  }
  // The comparison covered a skipped step where the model says it must.
  EXPECT_GE(skipped, model.minSkipped);
  std::cout << "elements held to lr instead (gradient near eps): "
            << totalSensitive << " of " << totalElements << "\n";
  // A guard against a vacuous comparison: most elements are held to the
  // tolerance.
  EXPECT_LE(totalSensitive, totalElements / 20);
}

INSTANTIATE_TEST_SUITE_P(
    Models, ExecutableTest,
    ::testing::Values(
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5, "micro"},
        Model{"test/Conversion/Inputs/micro_moe_bf16.pbtxt", 2, 8, 1e-5,
              "micro_bf16"},
        Model{"examples/tiny_moe.pbtxt", 2, 32, 1e-5, "tiny"},
        // Two micro-batches, each forward and backward in turn, with MLA's
        // query LoRA and MTP.
        Model{"test/Transforms/Inputs/micro_moe_accum.pbtxt", 2, 8, 1e-5,
              "micro_accum"},
        Model{"test/Transforms/Inputs/micro_moe_accum.pbtxt", 2, 8, 1e-5,
              "micro_accum_remat_sqrt", false, 0, "remat=sqrt"},
        // Every kernel of more than 8 top-level loops (the clipping's, the
        // MoE layers') compiled in parts of 2.
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5,
              "micro_split", /*bf16Moments=*/false, /*splitKernelLoops=*/8},
        // Both sides round the moments to bf16 after an f64 update; where
        // the f32 and f64 gradients straddle a bf16 boundary the stored
        // moment moves by 2^-8 of itself, and AdamW passes that on to the
        // parameter (4e-3 of a tensor's norm is the largest seen). A
        // misread or misrounded moment is off by far more.
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-2,
              "micro_bf16_moments", /*bf16Moments=*/true},
        // dsv3-sparsify's schemes: masks and pruned weights are state the
        // comparison covers, so a mask the two sides disagree on fails.
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5,
              "micro_sparse_2_4", false, 0,
              "sparsity=weights-2:4 sparse-refresh=3"},
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5,
              "micro_sparse_2_4_srste", false, 0,
              "sparsity=weights-2:4 srste=0.05"},
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5,
              "micro_prune_l1", false, 0,
              "l1=0.001 prune=0.5 prune-start=0 prune-end=2"},
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5,
              "micro_qat_int8", false, 0, "qat=int8"},
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5,
              "micro_2_4_qat", false, 0, "sparsity=weights-2:4 qat=int8"},
        Model{"test/Conversion/Inputs/micro_moe_bf16.pbtxt", 2, 8, 1e-5,
              "micro_bf16_qat", false, 0, "qat=int8"},
        // fp16 GEMMs and loss scaling: the scale doubles after each finite
        // step until the third step's gradients overflow and it is skipped,
        // so the comparison covers an applied and a skipped update, and the
        // scaler's state. Held to 1e-3: f16 keeps 11 bits, and where the
        // executable's f32 value and the interpreter's f64 value of a GEMM
        // or kernel result straddle an f16 rounding boundary the two round
        // one ulp (2^-11) apart; on this model one such element per step
        // moves the gradients of the layers before it by up to 1e-4 of
        // their norm (seen: 2.4e-4). A scale not divided out again, or a
        // step one side skips and the other applies, is off by far more.
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-3,
              "micro_fp16", false, 0,
              "precision=fp16 loss-scale-growth-interval=1", 1},
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-3,
              "micro_fp16_qat", false, 0,
              "precision=fp16 qat=int8 loss-scale-growth-interval=1", 1},
        // fp8 (E4M3, micro's widths are one partial tile): every operand
        // of the linear layers' GEMMs quantized the same on both sides.
        // Wider models do not hold 1e-5 here: where the executable's f32
        // GEMM and the interpreter's f64 one round an input of a quantize
        // differently near an fp8 rounding boundary, the two differ by an
        // fp8 step (1/8) there, and that spreads (tiny, step 1: 1.5e-3).
        // test/Conversion/fp8-run.mlir holds whole and partial tiles equal
        // on the same inputs.
        Model{"test/Conversion/Inputs/micro_moe.pbtxt", 2, 8, 1e-5, "micro_fp8",
              false, 0, "precision=fp8"}),
    [](const ::testing::TestParamInfo<Model> &info) {
      return std::string(info.param.label);
    });

/// fp16 loss scaling from a scale so large that the first steps overflow:
/// each such step is skipped with every parameter and optimizer state bit
/// for bit as before it, the scale halves on it and doubles after three
/// finite steps in a row, as the scaler's rule says, counted here on the
/// side.
class LossScaleTest : public ::testing::TestWithParam<const char *> {};

TEST_P(LossScaleTest, OverflowSkipsTheStepAndHalvesTheScale) {
  std::string options = std::string("precision=fp16 loss-scale=1e7 "
                                    "loss-scale-growth-interval=3 ") +
                        GetParam();
  Model model{"test/Conversion/Inputs/micro_moe.pbtxt",
              2,
              8,
              0,
              "micro",
              false,
              0,
              options.c_str()};
  DialectRegistry registry;
  registerPipelineInterfaces(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> reference;
  std::optional<rt::Executable> exe = compileModel(model, context, reference);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(exe);
  rt::BackendOptions cpu;
  cpu.device = "cpu";
  auto created = rt::Trainer::create(*exe, cpu);
  ASSERT_TRUE(created) << created.status().message();
  rt::Trainer &trainer = **created;
  ASSERT_TRUE(trainer.initialize(7));

  // The state a skipped step must leave alone: every parameter and
  // optimizer state but the scaler's own.
  std::vector<int> state;
  for (int i = 0; i < exe->buffers_size(); ++i) {
    const rt::Buffer &b = exe->buffers(i);
    if ((b.role() == rt::PARAM || b.role() == rt::OPT_STATE) &&
        b.name().rfind("loss_scaler.", 0) != 0)
      state.push_back(i);
  }
  ASSERT_GT(state.size(), 10u);
  auto snapshot = [&] {
    std::vector<std::string> bytes;
    for (int id : state) {
      const char *data = static_cast<const char *>(trainer.bufferData(id));
      bytes.emplace_back(data, exe->buffers(id).bytes());
    }
    return bytes;
  };

  auto source = rt::makeSyntheticSource(3, exe->vocab_size(), 11);
  rt::Packer packer(*source, exe->micro_batch(), exe->seq_len());
  double expectedScale = 1e7;
  int64_t goodSteps = 0, skipped = 0, applied = 0, grown = 0;
  std::vector<double> scales;
  for (int64_t s = 0; s < 14; ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    rt::Batch batch;
    ASSERT_TRUE(packer.next(batch));
    ASSERT_TRUE(trainer.setBatch(batch));
    std::vector<std::string> before = snapshot();
    ASSERT_TRUE(trainer.step(s));
    auto values = trainer.metrics();
    ASSERT_TRUE(values);
    std::map<std::string, double> metrics(values->begin(), values->end());
    ASSERT_TRUE(metrics.count("loss_scale") && metrics.count("skipped"));
    // The scale this step used, in f32.
    EXPECT_EQ(metrics["loss_scale"], static_cast<float>(expectedScale));
    scales.push_back(metrics["loss_scale"]);
    std::vector<std::string> after = snapshot();
    // `skipped` counts the skipped steps so far.
    if (metrics["skipped"] != static_cast<double>(skipped)) {
      EXPECT_EQ(metrics["skipped"], static_cast<double>(skipped + 1));
      ++skipped;
      for (size_t i = 0; i < state.size(); ++i)
        EXPECT_TRUE(before[i] == after[i])
            << exe->buffers(state[i]).name() << " changed on a skipped step";
      expectedScale *= 0.5;
      goodSteps = 0;
    } else {
      ++applied;
      EXPECT_TRUE(std::isfinite(*trainer.loss()));
      EXPECT_NE(before, after) << "a finite step changed nothing";
      if (++goodSteps == 3) {
        expectedScale *= 2.0;
        goodSteps = 0;
        ++grown;
      }
    }
  }
  std::cout << "loss scales:";
  for (double v : scales)
    std::cout << " " << v;
  std::cout << "\n";
  // 1e7 overflows the fp16 gradients of this model; a few halvings later
  // the steps are finite and the scale grows again, until it overflows.
  EXPECT_GE(skipped, 3);
  EXPECT_GE(applied, 3);
  EXPECT_GE(grown, 1);
}

// With QAT the forward reads the weight fake-quantized; a skipped step
// still keeps the weight itself.
INSTANTIATE_TEST_SUITE_P(Settings, LossScaleTest,
                         ::testing::Values("", "qat=int8"),
                         [](const auto &info) {
                           return std::string(*info.param ? "qat" : "plain");
                         });

} // namespace
