//===- CostTest.cpp - cost formulas against hand-computed values ----------===//
//
// Builds IR from strings and checks the cost interface of the ops whose
// formulas matter most for MFU and remat: matmul, grouped_matmul, attention
// and rms_norm, plus the per-function totals.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Cost.h"
#include "dsv3/Dsv3Dialect.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

class CostTest : public ::testing::Test {
protected:
  CostTest() { context.loadDialect<Dsv3Dialect, func::FuncDialect>(); }

  /// Parses `body` as the module and returns the first op named `name`.
  Operation *parseAndFind(StringRef source, StringRef name) {
    module = parseSourceString<ModuleOp>(source, &context);
    EXPECT_TRUE(module) << "failed to parse:\n" << source.str();
    if (!module)
      return nullptr;
    Operation *found = nullptr;
    module->walk([&](Operation *op) {
      if (!found && op->getName().getStringRef() == name)
        found = op;
    });
    EXPECT_NE(found, nullptr) << "no " << name.str();
    return found;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(CostTest, MatmulWithSharedWeight) {
  // [2, 8, 64] x [128, 64]^T: batch 2, M 8, K 64, N 128.
  Operation *op = parseAndFind(R"mlir(
    func.func @f(%x: tensor<2x8x64xf32>, %w: tensor<128x64xf32>) -> tensor<2x8x128xf32> {
      %y = dsv3.matmul %x, %w transpose_rhs : tensor<2x8x64xf32>, tensor<128x64xf32> -> tensor<2x8x128xf32>
      return %y : tensor<2x8x128xf32>
    })mlir",
                               "dsv3.matmul");
  ASSERT_TRUE(op);
  CostTotals c = getOpCost(op);
  EXPECT_EQ(c.flops, 2 * 2 * 8 * 128 * 64);           // 262144
  EXPECT_EQ(c.bytesRead, (2 * 8 * 64 + 128 * 64) * 4); // 36864
  EXPECT_EQ(c.bytesWritten, 2 * 8 * 128 * 4);         // 8192
}

TEST_F(CostTest, MatmulTransposedLhsBatched) {
  // lhs [4, 32, 16]^T -> M 16, K 32; rhs [4, 32, 8]: N 8.
  Operation *op = parseAndFind(R"mlir(
    func.func @f(%a: tensor<4x32x16xbf16>, %b: tensor<4x32x8xbf16>) -> tensor<4x16x8xbf16> {
      %y = dsv3.matmul %a, %b transpose_lhs : tensor<4x32x16xbf16>, tensor<4x32x8xbf16> -> tensor<4x16x8xbf16>
      return %y : tensor<4x16x8xbf16>
    })mlir",
                               "dsv3.matmul");
  ASSERT_TRUE(op);
  CostTotals c = getOpCost(op);
  EXPECT_EQ(c.flops, 2 * 4 * 16 * 8 * 32);
  EXPECT_EQ(c.bytesRead, (4 * 32 * 16 + 4 * 32 * 8) * 2);
  EXPECT_EQ(c.bytesWritten, 4 * 16 * 8 * 2);
}

TEST_F(CostTest, GroupedMatmul) {
  // 32 rows of K 64 times 8 experts' [64, 32]: every row counted.
  Operation *op = parseAndFind(R"mlir(
    func.func @f(%x: tensor<32x64xbf16>, %w: tensor<8x64x32xbf16>, %g: tensor<8xi32>) -> tensor<32x32xbf16> {
      %y = dsv3.grouped_matmul %x, %w, %g : tensor<32x64xbf16>, tensor<8x64x32xbf16>, tensor<8xi32> -> tensor<32x32xbf16>
      return %y : tensor<32x32xbf16>
    })mlir",
                               "dsv3.grouped_matmul");
  ASSERT_TRUE(op);
  CostTotals c = getOpCost(op);
  EXPECT_EQ(c.flops, 2 * 32 * 64 * 32); // 131072
  EXPECT_EQ(c.bytesRead, 32 * 64 * 2 + 8 * 64 * 32 * 2 + 8 * 4);
  EXPECT_EQ(c.bytesWritten, 32 * 32 * 2);
}

TEST_F(CostTest, CausalAttention) {
  // B 2, S 8, H 4, Dqk = Dv = 16; causal: P = 8 * 9 / 2 = 36 pairs.
  Operation *op = parseAndFind(R"mlir(
    func.func @f(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>) -> tensor<2x8x4x16xf32> {
      %o = dsv3.attention %q, %k, %v causal scale = 0.25 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32> -> tensor<2x8x4x16xf32>
      return %o : tensor<2x8x4x16xf32>
    })mlir",
                               "dsv3.attention");
  ASSERT_TRUE(op);
  EXPECT_EQ(getOpCost(op).flops, 2 * 2 * 4 * 36 * (16 + 16) + 5 * 2 * 4 * 36);
  EXPECT_EQ(getOpCost(op).flops, 19872);
}

TEST_F(CostTest, GroupedQueryAttentionNotCausal) {
  // B 1, S 4, H 4 query heads over 2 kv heads, Dqk 16, Dv 8; P = 16.
  Operation *op = parseAndFind(R"mlir(
    func.func @f(%q: tensor<1x4x4x16xf32>, %k: tensor<1x4x2x16xf32>, %v: tensor<1x4x2x8xf32>) -> tensor<1x4x4x8xf32> {
      %o = dsv3.attention %q, %k, %v scale = 0.25 : tensor<1x4x4x16xf32>, tensor<1x4x2x16xf32>, tensor<1x4x2x8xf32> -> tensor<1x4x4x8xf32>
      return %o : tensor<1x4x4x8xf32>
    })mlir",
                               "dsv3.attention");
  ASSERT_TRUE(op);
  CostTotals c = getOpCost(op);
  EXPECT_EQ(c.flops, 3392); // 2*1*4*16*(16+8) + 5*1*4*16
  EXPECT_EQ(c.bytesWritten, 1 * 4 * 4 * 8 * 4);
}

TEST_F(CostTest, RmsNorm) {
  Operation *op = parseAndFind(R"mlir(
    func.func @f(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>) -> tensor<2x8x64xf32> {
      %y = dsv3.rms_norm %x, %w, eps = 1.0e-06 : tensor<2x8x64xf32>, tensor<64xf32>
      return %y : tensor<2x8x64xf32>
    })mlir",
                               "dsv3.rms_norm");
  ASSERT_TRUE(op);
  CostTotals c = getOpCost(op);
  EXPECT_EQ(c.flops, 4 * 2 * 8 * 64);
  EXPECT_EQ(c.bytesRead, (2 * 8 * 64 + 64) * 4);
  EXPECT_EQ(c.bytesWritten, 2 * 8 * 64 * 4);
}

TEST_F(CostTest, FunctionTotalsCountFusionOnce) {
  // The fusion counts its body's FLOPs (add 32 + silu 32) but only its own
  // bytes; the standalone exp adds 32 more FLOPs.
  Operation *op = parseAndFind(R"mlir(
    func.func @f(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
      %y = dsv3.fusion ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
      ^bb0(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>):
        %s = dsv3.add %x, %z : tensor<4x8xf32>
        %t = dsv3.silu %s : tensor<4x8xf32>
        dsv3.yield %t : tensor<4x8xf32>
      }
      %e = dsv3.exp %y : tensor<4x8xf32>
      return %e : tensor<4x8xf32>
    })mlir",
                               "func.func");
  ASSERT_TRUE(op);
  FunctionCost cost = computeFunctionCost(op);
  EXPECT_EQ(cost.total.count, 2);
  EXPECT_EQ(cost.total.flops, 96);
  EXPECT_EQ(cost.byKind["dsv3.fusion"].flops, 64);
  EXPECT_EQ(cost.byKind["dsv3.fusion"].bytesRead, 2 * 32 * 4);
  EXPECT_EQ(cost.byKind.count("dsv3.add"), 0u);
}

} // namespace
