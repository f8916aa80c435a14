//===- SparsifyTest.cpp - dsv3-sparsify's gradients, numerically
//-----------===//
//
// The gradients dsv3-sparsify adds or changes, checked in f64:
// - the GEMM of a masked weight (what the forward and backward read under
//   2:4): its gradients against central differences;
// - the SR-STE term the pass adds to a 2:4 weight's gradient: the
//   difference between the step's AdamW gradient with and without srste,
//   against central differences of the decay it stands for,
//   srste / 2 * |pruned part of the dense weight|^2.
// And the gradient dsv3-mixed-precision's fp16 loss scaling hands the
// optimizer: seeded with the scale and unscaled again, it is the loss's
// gradient, against central differences of the forward.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "Interpreter/Interpreter.h"
#include "Pipelines/Pipelines.h"
#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Dialect.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

TEST(SparsifyGradients, MaskedGemmMatchesCentralDifferences) {
  MLIRContext context;
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      R"(func.func @f(%x: tensor<3x8xf64>, %w: tensor<4x8xf64>, %m: tensor<4x8xi1>) -> tensor<3x4xf64> {
        %zeros = dsv3.constant dense<0.0> : tensor<4x8xf64>
        %read = dsv3.select %m, %w, %zeros : tensor<4x8xi1>, tensor<4x8xf64>
        %y = dsv3.matmul %x, %read transpose_rhs : tensor<3x8xf64>, tensor<4x8xf64> -> tensor<3x4xf64>
        return %y : tensor<3x4xf64> })",
      &context);
  ASSERT_TRUE(module);
  func::FuncOp fn = test::scalarize(*module, "f", /*seed=*/7);
  std::vector<HostTensor> args = test::testArguments(fn, /*seed=*/11);
  auto errors = test::checkGradients(fn, args, 1e-5, /*directional=*/false,
                                     /*seed=*/3);
  ASSERT_TRUE(succeeded(errors));
  ASSERT_EQ(errors->size(), 2u);
  for (const test::ArgError &e : *errors) {
    EXPECT_GT(e.norm, 1e-9) << "argument " << e.arg;
    EXPECT_LT(e.relativeError, 1e-6) << "argument " << e.arg;
  }
}

constexpr const char *kForward = R"(
module attributes {dsv3.training = {lr = 1.0e-03 : f64, min_lr = 1.0e-04 : f64, warmup_steps = 10 : i64, total_steps = 100 : i64, clip_norm = 1.0 : f64}} {
  func.func @forward(%emb: tensor<16x8xf64> {dsv3.name = "model.embed_tokens.weight"},
                     %wq: tensor<8x8xf64> {dsv3.name = "model.layers.0.self_attn.q_proj.weight"},
                     %tokens: tensor<2x3xi32> {dsv3.batch = "tokens"}, %targets: tensor<2x3xi32> {dsv3.batch = "targets"}) -> tensor<f64> {
    %h = dsv3.embedding %emb[%tokens] : tensor<16x8xf64>, tensor<2x3xi32> -> tensor<2x3x8xf64>
    %a = dsv3.matmul %h, %wq transpose_rhs : tensor<2x3x8xf64>, tensor<8x8xf64> -> tensor<2x3x8xf64>
    %logits = dsv3.matmul %a, %emb transpose_rhs : tensor<2x3x8xf64>, tensor<16x8xf64> -> tensor<2x3x16xf64>
    %loss = dsv3.cross_entropy %logits, %targets : tensor<2x3x16xf64>, tensor<2x3xi32> -> tensor<f64>
    return %loss : tensor<f64>
  }
})";

/// The training step under `sparsify`, returning what the 2:4 weight's
/// AdamW reads: its gradient, the dense weight and the mask.
FailureOr<SmallVector<HostTensor>>
adamwInputs(MLIRContext &context, double srste,
            std::vector<HostTensor> *args) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(kForward, &context);
  if (!module)
    return failure();
  // The pipeline's training-step stage: autodiff, precision, sparsify.
  TrainPipelineOptions options;
  options.sparsity.push_back("weights-2:4");
  options.srste = srste;
  PassManager pm(&context);
  buildTrainStepPipeline(pm, options);
  if (failed(pm.run(*module)))
    return failure();
  auto step = module->lookupSymbol<func::FuncOp>("train_step");
  AdamWOp update;
  step.walk([&](AdamWOp op) {
    if (op.getParam().getDefiningOp<AddOp>())
      update = op;
  });
  if (!update)
    return failure();
  // The mask is what selects the weight the forward reads.
  Value mask;
  for (Operation *user : update.getParam().getUsers())
    if (auto select = dyn_cast<SelectOp>(user))
      if (select.getOnTrue() == update.getParam())
        mask = select.getCondition();
  if (!mask)
    return failure();
  Operation *ret = step.getBody().front().getTerminator();
  SmallVector<Value> values = {update.getGrad(), update.getParam(), mask};
  OpBuilder b(ret);
  func::ReturnOp::create(b, ret->getLoc(), values);
  ret->erase();
  step.setType(b.getFunctionType(step.getArgumentTypes(),
                                 ValueRange(values).getTypes()));
  step.setAllResultAttrs(ArrayRef<DictionaryAttr>{});
  if (args->empty())
    *args = test::testArguments(step, /*seed=*/5);
  return interpret(step, *args);
}

TEST(SparsifyGradients, SrsteIsTheGradientOfTheDecay) {
  MLIRContext context;
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  const double lambda = 0.25;
  std::vector<HostTensor> args;
  auto plain = adamwInputs(context, 0.0, &args);
  ASSERT_TRUE(succeeded(plain));
  auto decayed = adamwInputs(context, lambda, &args);
  ASSERT_TRUE(succeeded(decayed));
  const HostTensor &dense = (*decayed)[1], &mask = (*decayed)[2];
  ASSERT_EQ(dense.data, (*plain)[1].data);

  // R(w) = lambda / 2 * sum over pruned positions of w^2.
  auto decay = [&](const std::vector<double> &w) {
    double r = 0;
    for (size_t i = 0; i < w.size(); ++i)
      if (mask.data[i] == 0)
        r += w[i] * w[i];
    return lambda / 2 * r;
  };
  const double h = 1e-5;
  double diff = 0, norm = 0;
  int64_t pruned = 0;
  for (size_t i = 0; i < dense.data.size(); ++i) {
    std::vector<double> up = dense.data, down = dense.data;
    up[i] += h;
    down[i] -= h;
    double fd = (decay(up) - decay(down)) / (2 * h);
    double term = (*decayed)[0].data[i] - (*plain)[0].data[i];
    diff += (term - fd) * (term - fd);
    norm += fd * fd;
    pruned += mask.data[i] == 0;
  }
  // Two of every four are pruned, and the decay reaches them.
  EXPECT_EQ(pruned, static_cast<int64_t>(dense.data.size() / 2));
  ASSERT_GT(norm, 0);
  EXPECT_LT(std::sqrt(diff / norm), 1e-6);
}

TEST(LossScaleGradients, UnscaledGradientMatchesCentralDifferences) {
  MLIRContext context;
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(kForward, &context);
  ASSERT_TRUE(module);
  // f64 GEMMs stay f64 under fp16: what is left is the loss scaling.
  TrainPipelineOptions options;
  options.precision = PrecisionPolicy::fp16;
  options.lossScale = 65536.0;
  PassManager pm(&context);
  buildTrainStepPipeline(pm, options);
  ASSERT_TRUE(succeeded(pm.run(*module)));
  auto step = module->lookupSymbol<func::FuncOp>("train_step");
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  ASSERT_TRUE(step && forward);

  // The gradient of the q projection as clipping reads it (unscaled).
  const char *name = "model.layers.0.self_attn.q_proj.weight";
  std::optional<unsigned> wq, scale;
  for (unsigned i = 0, e = step.getNumArguments(); i < e; ++i) {
    if (getArgRole(step, i) == Role::param && getArgName(step, i) == name)
      wq = i;
    if (getArgName(step, i) == "loss_scaler.scale")
      scale = i;
  }
  ASSERT_TRUE(wq && scale);
  Value grad;
  step.walk([&](AdamWOp op) {
    if (op.getParam() == step.getArgument(*wq))
      grad = op.getGrad();
  });
  auto clip = grad ? grad.getDefiningOp<ClipByGlobalNormOp>() : nullptr;
  ASSERT_TRUE(clip);
  Value unscaled = clip.getInputs()[cast<OpResult>(grad).getResultNumber()];
  ASSERT_TRUE(unscaled.getDefiningOp<UnscaleOp>());
  Operation *ret = step.getBody().front().getTerminator();
  OpBuilder b(ret);
  func::ReturnOp::create(b, ret->getLoc(), ValueRange{unscaled});
  ret->erase();
  step.setType(b.getFunctionType(step.getArgumentTypes(),
                                 TypeRange{unscaled.getType()}));
  step.setAllResultAttrs(ArrayRef<DictionaryAttr>{});

  std::vector<HostTensor> args = test::testArguments(step, /*seed=*/5);
  args[*scale].data[0] = 65536.0;
  auto got = interpret(step, args);
  ASSERT_TRUE(succeeded(got));

  // The forward's arguments, by name and batch field, from the step's.
  std::vector<HostTensor> fwdArgs;
  unsigned wqInForward = 0;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    for (unsigned j = 0, n = step.getNumArguments(); j < n; ++j) {
      bool same = getBatchField(forward, i)
                      ? getBatchField(forward, i) == getBatchField(step, j)
                      : getArgRole(step, j) == Role::param &&
                            getArgName(step, j) == getArgName(forward, i);
      if (same) {
        fwdArgs.push_back(args[j]);
        break;
      }
    }
    if (getArgName(forward, i) == name)
      wqInForward = i;
  }
  ASSERT_EQ(fwdArgs.size(), forward.getNumArguments());
  auto loss = [&](const std::vector<HostTensor> &a) {
    auto r = interpret(forward, a);
    return succeeded(r) ? (*r)[0].data[0] : NAN;
  };
  const double h = 1e-6;
  const HostTensor &g = (*got)[0];
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    std::vector<HostTensor> up = fwdArgs, down = fwdArgs;
    up[wqInForward].data[i] += h;
    down[wqInForward].data[i] -= h;
    double fd = (loss(up) - loss(down)) / (2 * h);
    diff += (g.data[i] - fd) * (g.data[i] - fd);
    norm += fd * fd;
  }
  ASSERT_GT(norm, 0);
  EXPECT_LT(std::sqrt(diff / norm), 1e-6);
}

} // namespace
