//===- TrainStepTest.cpp - the training step: gradients, optimizer, learning ===//
//
// The whole-model gradient of a small DeepSeek-style model against finite
// differences, the optimizer ops against values computed by hand, the
// @train_step update against AdamW applied to those gradients, and a micro
// MoE that memorizes one batch in 100 interpreted steps.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "Interpreter/Interpreter.h"
#include "Spec/Spec.h"
#include "Transforms/Passes.h"
#include "dsv3/Dsv3Dialect.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// MLA with query compression, a dense layer then an MoE layer with a
/// shared expert, sigmoid group-limited routing with the aux-loss-free
/// bias, the sequence balance loss, and one MTP module.
constexpr const char *kSmallMoE = R"pb(
  name: "grad_check_moe"
  arch {
    vocab_size: 16 hidden_size: 8 num_layers: 2 first_k_dense: 1
    dense_intermediate_size: 12 num_heads: 2
    attention {
      kind: MLA q_lora_rank: 6 kv_lora_rank: 4 qk_nope_head_dim: 4
      qk_rope_head_dim: 2 v_head_dim: 4
    }
  }
  moe {
    num_routed_experts: 4 num_shared_experts: 1 intermediate_size: 4
    top_k: 2 scoring: SIGMOID n_group: 2 topk_group: 1
    routed_scaling_factor: 2.5 bias_update_speed: 0.001
    seq_aux_loss_alpha: 0.01
  }
  mtp { depth: 1 loss_weight: 0.3 }
  training { micro_batch: 2 seq_len: 6 clip_norm: 0 warmup_steps: 10 }
)pb";

constexpr const char *kMicroMoE = R"pb(
  name: "micro_moe"
  arch {
    vocab_size: 32 hidden_size: 32 num_layers: 2 first_k_dense: 1
    dense_intermediate_size: 64 num_heads: 2
    attention {
      kind: MLA kv_lora_rank: 16 qk_nope_head_dim: 8 qk_rope_head_dim: 8
      v_head_dim: 8
    }
  }
  moe {
    num_routed_experts: 4 num_shared_experts: 1 intermediate_size: 32
    top_k: 2 scoring: SIGMOID bias_update_speed: 0.001
    seq_aux_loss_alpha: 0.001
  }
  training {
    micro_batch: 2 seq_len: 16 lr: 1e-2 min_lr: 1e-3 warmup_steps: 5
    total_steps: 100 weight_decay: 0 clip_norm: 1.0
  }
)pb";

class TrainStepTest : public ::testing::Test {
protected:
  TrainStepTest() {
    context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  }

  OwningOpRef<ModuleOp> build(const char *text, Type floatType = {}) {
    spec::ModelSpec spec;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec));
    return buildForwardModule(spec, &context, floatType);
  }

  LogicalResult autodiff(ModuleOp module) {
    PassManager pm(&context);
    pm.addPass(createAutodiff());
    return pm.run(module);
  }

  MLIRContext context;
};

/// Arguments for @forward with weights large enough that routing and
/// softmaxes are far from degenerate: normal weights get std 0.5.
std::vector<HostTensor> forwardArguments(func::FuncOp fn, uint64_t seed) {
  SmallVector<HostTensor> args = randomArguments(fn, seed, 1.0, /*intBound=*/16);
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    auto init = fn.getArgAttrOfType<StringAttr>(i, "dsv3.init");
    if (init && init.strref() == "normal")
      for (double &v : args[i].data)
        v *= 25.0;
  }
  return std::vector<HostTensor>(args.begin(), args.end());
}

TEST_F(TrainStepTest, WholeModelGradientMatchesFiniteDifferences) {
  OwningOpRef<ModuleOp> module = build(kSmallMoE, Float64Type::get(&context));
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  ASSERT_TRUE(forward);
  std::vector<HostTensor> args = forwardArguments(forward, 5);
  // The router bias only steers the selection: no gradient by design.
  for (unsigned i = 0; i < forward.getNumArguments(); ++i)
    if (auto flag = forward.getArgAttrOfType<BoolAttr>(i, "dsv3.trainable"))
      if (!flag.getValue())
        forward.setArgAttr(i, "test.nograd", UnitAttr::get(&context));
  auto errors = test::checkGradients(forward, args, /*step=*/1e-6,
                                     /*directional=*/true, /*seed=*/9);
  ASSERT_TRUE(succeeded(errors));
  EXPECT_GT(errors->size(), 30u);
  for (const test::ArgError &e : *errors) {
    auto name = forward.getArgAttrOfType<StringAttr>(e.arg, "dsv3.name");
    EXPECT_GT(e.norm, 1e-9) << name.str() << " gets no gradient";
    EXPECT_LT(e.relativeError, 1e-6) << name.str();
  }
}

TEST_F(TrainStepTest, OptimizerOpsMatchHandComputedValues) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(R"mlir(
    func.func @adamw(%p: tensor<2xf64>, %g: tensor<2xf64>, %m: tensor<2xf64>, %v: tensor<2xf64>,
                     %lr: tensor<f64>, %t: tensor<i64>) -> (tensor<2xf64>, tensor<2xf64>, tensor<2xf64>) {
      %p2, %m2, %v2 = dsv3.adamw %p, %g, %m, %v, %lr, %t {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-08 : f64, weight_decay = 0.1 : f64}
          : tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<f64>, tensor<i64>
      return %p2, %m2, %v2 : tensor<2xf64>, tensor<2xf64>, tensor<2xf64>
    }
    func.func @clip(%a: tensor<2xf64>, %b: tensor<1xf64>) -> (tensor<2xf64>, tensor<1xf64>, tensor<f32>) {
      %ca, %cb, %n = dsv3.clip_by_global_norm %a, %b max_norm = 6.5 : tensor<2xf64>, tensor<1xf64>
      return %ca, %cb, %n : tensor<2xf64>, tensor<1xf64>, tensor<f32>
    }
    func.func @lr(%s: tensor<i64>) -> tensor<f32> {
      %lr = dsv3.lr_schedule %s {peak_lr = 1.0e-03 : f64, min_lr = 1.0e-04 : f64, warmup_steps = 10 : i64, total_steps = 110 : i64} : tensor<i64>
      return %lr : tensor<f32>
    }
    func.func @bias(%b: tensor<4xf32>, %load: tensor<4xf32>) -> tensor<4xf32> {
      %y = dsv3.update_router_bias %b, %load, gamma = 1.0e-03 : tensor<4xf32>
      return %y : tensor<4xf32>
    })mlir",
                                                         &context);
  ASSERT_TRUE(module);
  auto tensor = [](Type type, ArrayRef<int64_t> shape,
                   std::vector<double> values) {
    HostTensor t(type, shape);
    t.data = std::move(values);
    return t;
  };
  Type f64 = Float64Type::get(&context), f32 = Float32Type::get(&context),
       i64 = IntegerType::get(&context, 64);
  auto run = [&](StringRef name, ArrayRef<HostTensor> args) {
    auto results = interpret(module->lookupSymbol<func::FuncOp>(name), args);
    EXPECT_TRUE(succeeded(results));
    return *results;
  };

  // AdamW at t = 3: m' = 0.9 m + 0.1 g, v' = 0.95 v + 0.05 g^2,
  // p' = p - lr (m'/(1 - 0.9^3) / (sqrt(v'/(1 - 0.95^3)) + 1e-8) + 0.1 p).
  // p = 1, g = 0.5, m = 0.1, v = 0.01: m' = 0.14, v' = 0.022, p' = 0.98584638...
  // p = -2, g = 0.1, m = v = 0: m' = 0.01, v' = 0.0005, p' = -2.00423222...
  auto adam = run("adamw", {tensor(f64, {2}, {1.0, -2.0}),
                            tensor(f64, {2}, {0.5, 0.1}),
                            tensor(f64, {2}, {0.1, 0.0}),
                            tensor(f64, {2}, {0.01, 0.0}),
                            tensor(f64, {}, {0.01}), tensor(i64, {}, {3})});
  EXPECT_NEAR(adam[1].data[0], 0.14, 1e-15);
  EXPECT_NEAR(adam[2].data[0], 0.022, 1e-15);
  EXPECT_NEAR(adam[0].data[0], 0.9858463820945416, 1e-12);
  EXPECT_NEAR(adam[1].data[1], 0.01, 1e-15);
  EXPECT_NEAR(adam[2].data[1], 0.0005, 1e-15);
  EXPECT_NEAR(adam[0].data[1], -2.0042322298529722, 1e-12);

  // Norm of [3, 4, 12] is 13; clipping to 6.5 halves every gradient.
  auto clip = run("clip", {tensor(f64, {2}, {3.0, 4.0}), tensor(f64, {1}, {12.0})});
  EXPECT_NEAR(clip[2].data[0], 13.0, 1e-6);
  EXPECT_NEAR(clip[0].data[0], 1.5, 1e-6);
  EXPECT_NEAR(clip[0].data[1], 2.0, 1e-6);
  EXPECT_NEAR(clip[1].data[0], 6.0, 1e-6);

  // Warmup 10 steps to 1e-3, cosine to 1e-4 at step 110.
  auto lrAt = [&](double step) {
    return run("lr", {tensor(i64, {}, {step})})[0].data[0];
  };
  EXPECT_NEAR(lrAt(0), 1e-4, 1e-9);     // 1e-3 * 1/10
  EXPECT_NEAR(lrAt(4), 5e-4, 1e-9);     // 1e-3 * 5/10
  EXPECT_NEAR(lrAt(10), 1e-3, 1e-9);    // cosine starts at the peak
  EXPECT_NEAR(lrAt(60), 5.5e-4, 1e-9);  // halfway: 1e-4 + 0.5 * 9e-4
  EXPECT_NEAR(lrAt(110), 1e-4, 1e-9);   // the floor
  EXPECT_NEAR(lrAt(500), 1e-4, 1e-9);

  // Mean load 2: the overloaded expert 1 loses gamma, the idle expert 0
  // gains it, the balanced ones stay.
  auto bias = run("bias", {tensor(f32, {4}, {0.0, 0.0, 0.5, 0.0}),
                           tensor(f32, {4}, {1.0, 3.0, 2.0, 2.0})});
  EXPECT_FLOAT_EQ(bias[0].data[0], 0.001f);
  EXPECT_FLOAT_EQ(bias[0].data[1], -0.001f);
  EXPECT_FLOAT_EQ(bias[0].data[2], 0.5f);
  EXPECT_FLOAT_EQ(bias[0].data[3], 0.0f);
}

TEST_F(TrainStepTest, TrainStepAppliesAdamWToTheGradients) {
  OwningOpRef<ModuleOp> module = build(kSmallMoE, Float64Type::get(&context));
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  std::vector<HostTensor> fwdArgs = forwardArguments(forward, 5);

  // Reference gradients: the reverse-mode core on a copy of @forward.
  unsigned numParams = 0;
  func::FuncOp grad = test::buildGradientFunction(forward, [&](BlockArgument arg) {
    bool isParam = !forward.getArgAttr(arg.getArgNumber(), "dsv3.batch");
    numParams += isParam;
    return isParam;
  });
  ASSERT_TRUE(grad);
  auto g = interpret(grad, fwdArgs);
  ASSERT_TRUE(succeeded(g));

  ASSERT_TRUE(succeeded(autodiff(*module)));
  auto step = module->lookupSymbol<func::FuncOp>("train_step");
  ASSERT_TRUE(step);
  // Arguments by role: the same parameters and batch, zero moments, step 0.
  unsigned nextBatch = numParams;
  std::vector<HostTensor> args;
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    auto role = step.getArgAttrOfType<StringAttr>(i, "dsv3.role").strref();
    if (role == "param")
      args.push_back(fwdArgs[i]);
    else if (role == "batch")
      args.push_back(fwdArgs[nextBatch++]);
    else
      args.push_back(HostTensor(
          cast<RankedTensorType>(step.getArgument(i).getType())));
  }
  auto results = interpret(step, args);
  ASSERT_TRUE(succeeded(results));

  // At step 0 the new first moment is 0.1 g (so it carries the gradient,
  // to f32 precision), lr = 3e-4 / 10 (warmup, computed in f32), and the
  // bias-corrected update is g / (|g| + eps) plus weight decay on matrices.
  double lr = static_cast<float>(3e-4 / 10);
  unsigned checked = 0, trainable = 0;
  for (unsigned i = 0; i < numParams; ++i) {
    auto flag = step.getArgAttrOfType<BoolAttr>(i, "dsv3.trainable");
    if (!flag || flag.getValue())
      ++trainable;
  }
  for (unsigned i = 0, m = 0; i < numParams; ++i) {
    auto flag = step.getArgAttrOfType<BoolAttr>(i, "dsv3.trainable");
    if (flag && !flag.getValue())
      continue;
    std::string name = step.getArgAttrOfType<StringAttr>(i, "dsv3.name").str();
    const HostTensor &p = args[i], &gi = (*g)[i], &p2 = (*results)[1 + i];
    const HostTensor &m2 = (*results)[1 + numParams + m++];
    double wd = p.rank() >= 2 ? 0.1 : 0.0;
    for (int64_t j = 0; j < p.numel(); ++j) {
      double gj = gi.data[j];
      // The moments are stored in f32.
      ASSERT_NEAR(m2.data[j], 0.1 * gj, 1e-7 * std::fabs(gj) + 1e-30)
          << name << "[" << j << "]";
      double expected =
          p.data[j] - lr * (gj / (std::fabs(gj) + 1e-8) + wd * p.data[j]);
      ASSERT_NEAR(p2.data[j], expected, 1e-11) << name << "[" << j << "]";
    }
    ++checked;
  }
  EXPECT_EQ(checked, trainable);
  EXPECT_GT(checked, 30u);
}

TEST_F(TrainStepTest, MicroMoEMemorizesABatchIn100Steps) {
  OwningOpRef<ModuleOp> module = build(kMicroMoE);
  ASSERT_TRUE(succeeded(autodiff(*module)));
  auto step = module->lookupSymbol<func::FuncOp>("train_step");
  SmallVector<HostTensor> args = randomArguments(step, 1, 1.0, /*intBound=*/32);
  int64_t params = 0;
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    auto role = step.getArgAttrOfType<StringAttr>(i, "dsv3.role");
    if (role && role.strref() == "param")
      params += args[i].numel();
  }
  EXPECT_LT(params, 100000);

  double first = 0, last = 0;
  for (int s = 0; s < 100; ++s) {
    for (unsigned i = 0; i < step.getNumArguments(); ++i) {
      auto role = step.getArgAttrOfType<StringAttr>(i, "dsv3.role");
      if (role && role.strref() == "step")
        args[i].data[0] = s;
    }
    auto results = interpret(step, args);
    ASSERT_TRUE(succeeded(results));
    double loss = (*results)[0].scalar();
    ASSERT_TRUE(std::isfinite(loss)) << "step " << s;
    if (s == 0)
      first = loss;
    last = loss;
    // Results are (loss, params'..., moments'...) in argument order.
    for (unsigned i = 0, r = 1; i < step.getNumArguments(); ++i) {
      auto role = step.getArgAttrOfType<StringAttr>(i, "dsv3.role");
      if (role && (role.strref() == "param" || role.strref() == "opt_state"))
        args[i] = (*results)[r++];
    }
  }
  EXPECT_LT(last, 0.1 * first) << "loss went from " << first << " to " << last;
}

} // namespace
