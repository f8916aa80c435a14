//===- GradCheckTest.cpp - every gradient rule against finite differences -===//
//
// Each case is a small f64 function around one differentiable op; its float
// results are weighted by fixed random weights and summed, differentiated
// with the reverse-mode core of dsv3-autodiff, and compared per argument
// with central differences through the interpreter. A dropped term or a
// wrong sign gives a relative error near 1; the bound is 1e-6.
//
//===----------------------------------------------------------------------===//

#include "GradCheck.h"

#include "dsv3/Dsv3Dialect.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

struct Case {
  const char *name;
  const char *ir;
  double tolerance = 1e-6;
  double step = 1e-5;
};

std::ostream &operator<<(std::ostream &os, const Case &c) { return os << c.name; }

class GradCheck : public ::testing::TestWithParam<Case> {};

TEST_P(GradCheck, MatchesCentralDifferences) {
  const Case &c = GetParam();
  MLIRContext context;
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(c.ir, &context);
  ASSERT_TRUE(module) << c.ir;
  func::FuncOp fn = test::scalarize(*module, "f", /*seed=*/7);
  std::vector<HostTensor> args = test::testArguments(fn, /*seed=*/11);
  auto errors = test::checkGradients(fn, args, c.step, /*directional=*/false,
                                     /*seed=*/3);
  ASSERT_TRUE(succeeded(errors));
  ASSERT_FALSE(errors->empty());
  for (const test::ArgError &e : *errors) {
    EXPECT_GT(e.norm, 1e-9) << c.name << ": argument " << e.arg
                            << " has no gradient to check";
    EXPECT_LT(e.relativeError, c.tolerance)
        << c.name << ": argument " << e.arg << " (|grad| " << e.norm << ")";
  }
}

const Case cases[] = {
    // Elementwise.
    {"add", R"(func.func @f(%a: tensor<3x4xf64>, %b: tensor<3x4xf64>) -> tensor<3x4xf64> {
      %y = dsv3.add %a, %b : tensor<3x4xf64>
      return %y : tensor<3x4xf64> })"},
    {"sub", R"(func.func @f(%a: tensor<3x4xf64>, %b: tensor<3x4xf64>) -> tensor<3x4xf64> {
      %y = dsv3.sub %a, %b : tensor<3x4xf64>
      return %y : tensor<3x4xf64> })"},
    {"mul", R"(func.func @f(%a: tensor<3x4xf64>, %b: tensor<3x4xf64>) -> tensor<3x4xf64> {
      %y = dsv3.mul %a, %b : tensor<3x4xf64>
      return %y : tensor<3x4xf64> })"},
    {"div", R"(func.func @f(%a: tensor<3x4xf64>, %b: tensor<3x4xf64> {test.positive}) -> tensor<3x4xf64> {
      %y = dsv3.div %a, %b : tensor<3x4xf64>
      return %y : tensor<3x4xf64> })"},
    {"neg", R"(func.func @f(%a: tensor<5xf64>) -> tensor<5xf64> {
      %y = dsv3.neg %a : tensor<5xf64>
      return %y : tensor<5xf64> })"},
    {"exp", R"(func.func @f(%a: tensor<5xf64>) -> tensor<5xf64> {
      %y = dsv3.exp %a : tensor<5xf64>
      return %y : tensor<5xf64> })"},
    {"log", R"(func.func @f(%a: tensor<5xf64> {test.positive}) -> tensor<5xf64> {
      %y = dsv3.log %a : tensor<5xf64>
      return %y : tensor<5xf64> })"},
    {"rsqrt", R"(func.func @f(%a: tensor<5xf64> {test.positive}) -> tensor<5xf64> {
      %y = dsv3.rsqrt %a : tensor<5xf64>
      return %y : tensor<5xf64> })"},
    {"sigmoid", R"(func.func @f(%a: tensor<5xf64>) -> tensor<5xf64> {
      %y = dsv3.sigmoid %a : tensor<5xf64>
      return %y : tensor<5xf64> })"},
    {"silu", R"(func.func @f(%a: tensor<5xf64>) -> tensor<5xf64> {
      %y = dsv3.silu %a : tensor<5xf64>
      return %y : tensor<5xf64> })"},
    {"select", R"(func.func @f(%c: tensor<8xi1>, %a: tensor<8xf64>, %b: tensor<8xf64>) -> tensor<8xf64> {
      %y = dsv3.select %c, %a, %b : tensor<8xi1>, tensor<8xf64>
      return %y : tensor<8xf64> })"},
    {"scale_unscale", R"(func.func @f(%a: tensor<6xf64>, %s: tensor<f64> {test.positive}) -> tensor<6xf64> {
      %y = dsv3.scale %a, %s : tensor<6xf64>, tensor<f64>
      %z = dsv3.unscale %y, %s : tensor<6xf64>, tensor<f64>
      %w = dsv3.mul %z, %y : tensor<6xf64>
      return %w : tensor<6xf64> })"},
    // The scale itself gets no gradient (it is a constant of the step).
    // Tensor basics.
    {"cast_f32", R"(func.func @f(%a: tensor<6xf64>) -> tensor<6xf32> {
      %y = dsv3.cast %a : tensor<6xf64> to tensor<6xf32>
      return %y : tensor<6xf32> })", 1e-4, 1e-2},
    {"reshape", R"(func.func @f(%a: tensor<2x6xf64>) -> tensor<3x4xf64> {
      %y = dsv3.reshape %a : tensor<2x6xf64> -> tensor<3x4xf64>
      %z = dsv3.mul %y, %y : tensor<3x4xf64>
      return %z : tensor<3x4xf64> })"},
    {"transpose", R"(func.func @f(%a: tensor<2x3x4xf64>) -> tensor<4x2x3xf64> {
      %y = dsv3.transpose %a, perm = [2, 0, 1] : tensor<2x3x4xf64> -> tensor<4x2x3xf64>
      return %y : tensor<4x2x3xf64> })"},
    {"broadcast", R"(func.func @f(%a: tensor<3x1xf64>) -> tensor<2x3x4xf64> {
      %y = dsv3.broadcast %a, dims = [1, 2] : tensor<3x1xf64> -> tensor<2x3x4xf64>
      return %y : tensor<2x3x4xf64> })"},
    {"slice_strided", R"(func.func @f(%a: tensor<4x9xf64>) -> tensor<2x3xf64> {
      %y = dsv3.slice %a, start = [1, 1], limit = [3, 9], strides = [1, 3] : tensor<4x9xf64> -> tensor<2x3xf64>
      return %y : tensor<2x3xf64> })"},
    // Slices of one value: their cotangents are summed as one concat
    // (three adjacent slices), or a padded concat (two of them, the rest
    // of the value unread).
    {"slices_joined", R"(func.func @f(%a: tensor<3x8xf64>) -> tensor<3x8xf64> {
      %x = dsv3.mul %a, %a : tensor<3x8xf64>
      %p = dsv3.slice %x, start = [0, 0], limit = [3, 2] : tensor<3x8xf64> -> tensor<3x2xf64>
      %q = dsv3.slice %x, start = [0, 2], limit = [3, 5] : tensor<3x8xf64> -> tensor<3x3xf64>
      %r = dsv3.slice %x, start = [0, 5], limit = [3, 8] : tensor<3x8xf64> -> tensor<3x3xf64>
      %y = dsv3.concat %r, %p, %q dim = 1 : tensor<3x3xf64>, tensor<3x2xf64>, tensor<3x3xf64> -> tensor<3x8xf64>
      %z = dsv3.mul %y, %y : tensor<3x8xf64>
      return %z : tensor<3x8xf64> })"},
    {"slices_joined_padded", R"(func.func @f(%a: tensor<3x8xf64>) -> tensor<3x5xf64> {
      %x = dsv3.mul %a, %a : tensor<3x8xf64>
      %p = dsv3.slice %x, start = [0, 1], limit = [3, 3] : tensor<3x8xf64> -> tensor<3x2xf64>
      %q = dsv3.slice %x, start = [0, 3], limit = [3, 6] : tensor<3x8xf64> -> tensor<3x3xf64>
      %y = dsv3.concat %q, %p dim = 1 : tensor<3x3xf64>, tensor<3x2xf64> -> tensor<3x5xf64>
      %z = dsv3.mul %y, %y : tensor<3x5xf64>
      return %z : tensor<3x5xf64> })"},
    // One pad the cotangent of two operands (an add's VJP hands both the
    // same): joined for one, still read for the other.
    {"slices_joined_shared", R"(func.func @f(%a: tensor<3x8xf64>, %b: tensor<3x8xf64>) -> tensor<3x8xf64> {
      %s = dsv3.add %a, %b : tensor<3x8xf64>
      %p = dsv3.slice %s, start = [0, 0], limit = [3, 2] : tensor<3x8xf64> -> tensor<3x2xf64>
      %q = dsv3.slice %a, start = [0, 2], limit = [3, 8] : tensor<3x8xf64> -> tensor<3x6xf64>
      %y = dsv3.concat %p, %q dim = 1 : tensor<3x2xf64>, tensor<3x6xf64> -> tensor<3x8xf64>
      %z = dsv3.mul %y, %y : tensor<3x8xf64>
      return %z : tensor<3x8xf64> })"},
    {"pad", R"(func.func @f(%a: tensor<2x3xf64>) -> tensor<4x8xf64> {
      %y = dsv3.pad %a, low = [1, 0], high = [1, 1], interior = [0, 2] : tensor<2x3xf64> -> tensor<4x8xf64>
      return %y : tensor<4x8xf64> })"},
    {"concat", R"(func.func @f(%a: tensor<2x3xf64>, %b: tensor<2x2xf64>) -> tensor<2x5xf64> {
      %y = dsv3.concat %a, %b dim = 1 : tensor<2x3xf64>, tensor<2x2xf64> -> tensor<2x5xf64>
      return %y : tensor<2x5xf64> })"},
    {"gather", R"(func.func @f(%a: tensor<3x5xf64>, %i: tensor<2x4xi32> {test.bound = 5}) -> tensor<3x2x4xf64> {
      %y = dsv3.gather %a[%i] dim = 1 : tensor<3x5xf64>, tensor<2x4xi32> -> tensor<3x2x4xf64>
      return %y : tensor<3x2x4xf64> })"},
    // Reductions.
    {"reduce_sum", R"(func.func @f(%a: tensor<2x3x4xf64>) -> tensor<3xf64> {
      %y = dsv3.reduce sum %a, dims = [0, 2] : tensor<2x3x4xf64> -> tensor<3xf64>
      return %y : tensor<3xf64> })"},
    {"reduce_mean", R"(func.func @f(%a: tensor<2x3x4xf64>) -> tensor<2x4xf64> {
      %y = dsv3.reduce mean %a, dims = [1] : tensor<2x3x4xf64> -> tensor<2x4xf64>
      return %y : tensor<2x4xf64> })"},
    {"reduce_max", R"(func.func @f(%a: tensor<3x5xf64>) -> tensor<3xf64> {
      %y = dsv3.reduce max %a, dims = [1] : tensor<3x5xf64> -> tensor<3xf64>
      return %y : tensor<3xf64> })"},
    {"softmax", R"(func.func @f(%a: tensor<3x5xf64>) -> tensor<3x5xf64> {
      %y = dsv3.softmax %a, dim = 0 : tensor<3x5xf64>
      return %y : tensor<3x5xf64> })"},
    {"log_softmax", R"(func.func @f(%a: tensor<3x5xf64>) -> tensor<3x5xf64> {
      %y = dsv3.log_softmax %a, dim = 1 : tensor<3x5xf64>
      return %y : tensor<3x5xf64> })"},
    // Layers.
    {"embedding", R"(func.func @f(%t: tensor<6x4xf64>, %ids: tensor<2x3xi32> {test.bound = 6}) -> tensor<2x3x4xf64> {
      %y = dsv3.embedding %t[%ids] : tensor<6x4xf64>, tensor<2x3xi32> -> tensor<2x3x4xf64>
      return %y : tensor<2x3x4xf64> })"},
    {"rms_norm", R"(func.func @f(%x: tensor<2x3x8xf64>, %w: tensor<8xf64>) -> tensor<2x3x8xf64> {
      %y = dsv3.rms_norm %x, %w, eps = 1.0e-06 : tensor<2x3x8xf64>, tensor<8xf64>
      return %y : tensor<2x3x8xf64> })"},
    {"matmul_batched", R"(func.func @f(%a: tensor<2x3x4xf64>, %b: tensor<2x4x5xf64>) -> tensor<2x3x5xf64> {
      %y = dsv3.matmul %a, %b : tensor<2x3x4xf64>, tensor<2x4x5xf64> -> tensor<2x3x5xf64>
      return %y : tensor<2x3x5xf64> })"},
    {"matmul_shared_transposed_rhs", R"(func.func @f(%a: tensor<2x3x4xf64>, %w: tensor<5x4xf64>) -> tensor<2x3x5xf64> {
      %y = dsv3.matmul %a, %w transpose_rhs : tensor<2x3x4xf64>, tensor<5x4xf64> -> tensor<2x3x5xf64>
      return %y : tensor<2x3x5xf64> })"},
    {"matmul_transposed_lhs", R"(func.func @f(%a: tensor<2x4x3xf64>, %b: tensor<2x4x5xf64>) -> tensor<2x3x5xf64> {
      %y = dsv3.matmul %a, %b transpose_lhs : tensor<2x4x3xf64>, tensor<2x4x5xf64> -> tensor<2x3x5xf64>
      return %y : tensor<2x3x5xf64> })"},
    {"matmul_both_transposed", R"(func.func @f(%a: tensor<4x3xf64>, %b: tensor<5x4xf64>) -> tensor<3x5xf64> {
      %y = dsv3.matmul %a, %b transpose_lhs transpose_rhs : tensor<4x3xf64>, tensor<5x4xf64> -> tensor<3x5xf64>
      return %y : tensor<3x5xf64> })"},
    {"matmul_shared_transposed_lhs", R"(func.func @f(%a: tensor<2x4x3xf64>, %w: tensor<4x5xf64>) -> tensor<2x3x5xf64> {
      %y = dsv3.matmul %a, %w transpose_lhs : tensor<2x4x3xf64>, tensor<4x5xf64> -> tensor<2x3x5xf64>
      return %y : tensor<2x3x5xf64> })"},
    {"rope", R"(func.func @f(%x: tensor<2x3x2x8xf64>, %p: tensor<2x3xi32> {test.bound = 50}) -> tensor<2x3x2x8xf64> {
      %y = dsv3.rope %x, %p, theta = 1.0e+04 : tensor<2x3x2x8xf64>, tensor<2x3xi32>
      return %y : tensor<2x3x2x8xf64> })"},
    {"rope_interleaved_yarn", R"(func.func @f(%x: tensor<2x3x8xf64>, %p: tensor<2x3xi32> {test.bound = 5000}) -> tensor<2x3x8xf64> {
      %y = dsv3.rope %x, %p, theta = 1.0e+04 interleaved {yarn_factor = 40.0 : f64, yarn_original_max_position = 64 : i64, yarn_mscale = 1.0 : f64, yarn_mscale_all_dim = 0.5 : f64} : tensor<2x3x8xf64>, tensor<2x3xi32>
      return %y : tensor<2x3x8xf64> })"},
    {"attention_causal", R"(func.func @f(%q: tensor<2x4x2x3xf64>, %k: tensor<2x4x2x3xf64>, %v: tensor<2x4x2x5xf64>) -> tensor<2x4x2x5xf64> {
      %o = dsv3.attention %q, %k, %v causal scale = 0.5 : tensor<2x4x2x3xf64>, tensor<2x4x2x3xf64>, tensor<2x4x2x5xf64> -> tensor<2x4x2x5xf64>
      return %o : tensor<2x4x2x5xf64> })"},
    {"attention_grouped_segments", R"(func.func @f(%q: tensor<1x5x4x3xf64>, %k: tensor<1x5x2x3xf64>, %v: tensor<1x5x2x3xf64>,
                    %s: tensor<1x5xi32> {test.bound = 2}) -> tensor<1x5x4x3xf64> {
      %o = dsv3.attention %q, %k, %v segments %s causal scale = 0.7 : tensor<1x5x4x3xf64>, tensor<1x5x2x3xf64>, tensor<1x5x2x3xf64>, tensor<1x5xi32> -> tensor<1x5x4x3xf64>
      return %o : tensor<1x5x4x3xf64> })"},
    {"attention_full", R"(func.func @f(%q: tensor<1x3x1x4xf64>, %k: tensor<1x3x1x4xf64>, %v: tensor<1x3x1x4xf64>) -> tensor<1x3x1x4xf64> {
      %o = dsv3.attention %q, %k, %v scale = 0.5 : tensor<1x3x1x4xf64>, tensor<1x3x1x4xf64>, tensor<1x3x1x4xf64> -> tensor<1x3x1x4xf64>
      return %o : tensor<1x3x1x4xf64> })"},
    {"cross_entropy", R"(func.func @f(%l: tensor<2x3x7xf64>, %t: tensor<2x3xi32> {test.bound = 7}) -> tensor<f64> {
      %y = dsv3.cross_entropy %l, %t : tensor<2x3x7xf64>, tensor<2x3xi32> -> tensor<f64>
      return %y : tensor<f64> })"},
    {"cross_entropy_masked", R"(func.func @f(%l: tensor<4x7xf64>, %t: tensor<4xi32> {test.bound = 7}, %m: tensor<4xf32> {test.positive, test.nograd}) -> tensor<f64> {
      %y = dsv3.cross_entropy %l, %t mask %m {ignore_index = 3 : i64} : tensor<4x7xf64>, tensor<4xi32>, tensor<4xf32> -> tensor<f64>
      return %y : tensor<f64> })"},
    // Mixture of experts.
    {"router_softmax", R"(func.func @f(%l: tensor<5x6xf64>) -> (tensor<5x2xf64>, tensor<5x6xf64>) {
      %w, %i, %s = dsv3.router softmax %l {top_k = 2 : i64, norm_topk_prob} : tensor<5x6xf64> -> tensor<5x2xf64>, tensor<5x2xi32>, tensor<5x6xf64>
      return %w, %s : tensor<5x2xf64>, tensor<5x6xf64> })"},
    {"router_sigmoid_groups_bias", R"(func.func @f(%l: tensor<5x8xf64>, %b: tensor<8xf64> {test.nograd}) -> tensor<5x3xf64> {
      %w, %i, %s = dsv3.router sigmoid %l bias %b {top_k = 3 : i64, n_group = 4 : i64, topk_group = 2 : i64, route_scale = 2.5 : f64, norm_topk_prob} : tensor<5x8xf64>, tensor<8xf64> -> tensor<5x3xf64>, tensor<5x3xi32>, tensor<5x8xf64>
      return %w : tensor<5x3xf64> })"},
    {"router_unnormalized", R"(func.func @f(%l: tensor<4x6xf64>) -> tensor<4x2xf64> {
      %w, %i, %s = dsv3.router softmax %l {top_k = 2 : i64, route_scale = 1.5 : f64} : tensor<4x6xf64> -> tensor<4x2xf64>, tensor<4x2xi32>, tensor<4x6xf64>
      return %w : tensor<4x2xf64> })"},
    {"moe_pipeline", R"(func.func @f(%x: tensor<6x4xf64>, %idx: tensor<6x2xi32> {test.bound = 3},
                    %gw: tensor<6x2xf64>, %w: tensor<3x4x5xf64>, %wd: tensor<3x4x5xf64>) -> tensor<6x4xf64> {
      %rows, %sizes = dsv3.moe_dispatch %x, %idx {num_experts = 3 : i64} : tensor<6x4xf64>, tensor<6x2xi32> -> tensor<12x4xf64>, tensor<3xi32>
      %h = dsv3.grouped_matmul %rows, %w, %sizes : tensor<12x4xf64>, tensor<3x4x5xf64>, tensor<3xi32> -> tensor<12x5xf64>
      %a = dsv3.silu %h : tensor<12x5xf64>
      %d = dsv3.grouped_matmul %a, %wd, %sizes transpose_rhs : tensor<12x5xf64>, tensor<3x4x5xf64>, tensor<3xi32> -> tensor<12x4xf64>
      %y = dsv3.moe_combine %d, %gw, %idx {num_experts = 3 : i64} : tensor<12x4xf64>, tensor<6x2xf64>, tensor<6x2xi32> -> tensor<6x4xf64>
      return %y : tensor<6x4xf64> })"},
    {"moe_pipeline_capacity", R"(func.func @f(%x: tensor<6x4xf64>, %idx: tensor<6x2xi32> {test.bound = 3},
                    %gw: tensor<6x2xf64>, %w: tensor<3x5x4xf64>) -> tensor<6x5xf64> {
      %rows, %sizes = dsv3.moe_dispatch %x, %idx policy = drop {num_experts = 3 : i64, capacity = 3 : i64} : tensor<6x4xf64>, tensor<6x2xi32> -> tensor<9x4xf64>, tensor<3xi32>
      %h = dsv3.grouped_matmul %rows, %w, %sizes transpose_rhs : tensor<9x4xf64>, tensor<3x5x4xf64>, tensor<3xi32> -> tensor<9x5xf64>
      %y = dsv3.moe_combine %h, %gw, %idx policy = drop {num_experts = 3 : i64, capacity = 3 : i64} : tensor<9x5xf64>, tensor<6x2xf64>, tensor<6x2xi32> -> tensor<6x5xf64>
      return %y : tensor<6x5xf64> })"},
    {"balance_loss", R"(func.func @f(%s: tensor<2x4x5xf64> {test.positive}, %i: tensor<2x4x2xi32> {test.bound = 5}) -> tensor<f64> {
      %l = dsv3.balance_loss %s, %i, alpha = 0.5 : tensor<2x4x5xf64>, tensor<2x4x2xi32> -> tensor<f64>
      return %l : tensor<f64> })"},
};

INSTANTIATE_TEST_SUITE_P(Ops, GradCheck, ::testing::ValuesIn(cases),
                         [](const auto &info) { return info.param.name; });

// Fake quantization is a step function, so finite differences see zero;
// its rule is the straight-through estimator: the cotangent passes as is.
TEST(GradRules, FakeQuantIsStraightThrough) {
  MLIRContext context;
  context.loadDialect<Dsv3Dialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      R"(func.func @f(%a: tensor<6xf64>) -> tensor<6xf64> {
        %y = dsv3.fake_quant %a, bits = 4 : tensor<6xf64>
        return %y : tensor<6xf64> })",
      &context);
  ASSERT_TRUE(module);
  auto fq = *module->getOps<func::FuncOp>().begin();
  auto op = cast<GradientOpInterface>(&fq.getBody().front().front());
  OpBuilder b(&context);
  b.setInsertionPoint(fq.getBody().front().getTerminator());
  Value dy = fq.getArgument(0);
  SmallVector<Value> dxs;
  ASSERT_TRUE(succeeded(op.buildVjp(b, dy, dxs)));
  ASSERT_EQ(dxs.size(), 1u);
  EXPECT_EQ(dxs[0], dy);
}

} // namespace
