// RUN: dsv3-opt %s --dsv3-verify-precision=recipe=bf16 -split-input-file -o /dev/null 2>&1 | FileCheck %s
// RUN: not dsv3-opt %s --dsv3-verify-precision="recipe=bf16 errors=true" -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=ERRORS
// RUN: dsv3-opt %s --dsv3-verify-precision=recipe=fp16 -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=FP16
// RUN: not dsv3-opt %s --dsv3-verify-precision=recipe=fp4 -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// The bf16 placement: the projections in bf16, the router and its gate
// projection, the norm, the loss and the optimizer in f32. It follows the
// bf16 recipe; under fp16 every bf16 GEMM departs, and loss scaling is
// missing.
// CHECK: remark: dsv3-verify-precision: every op of @train_step follows the bf16 recipe
// FP16: warning: [gemm-precision] dsv3.matmul runs in bf16; the fp16 recipe runs linear layers in f16
// FP16: warning: [gemm-precision] dsv3.matmul runs in bf16; the fp16 recipe runs the output head in f16
// FP16: warning: [fp16-loss-scaling] @train_step updates no loss scale
// FP16: remark: dsv3-verify-precision: 3 departures of @train_step from the fp16 recipe: gemm-precision 2 fp16-loss-scaling 1
func.func @train_step(
    %x: tensor<8x16xf32> {dsv3.role = "batch"},
    %norm: tensor<16xf32> {dsv3.init = "ones", dsv3.name = "norm.weight", dsv3.role = "param"},
    %gate: tensor<4x16xf32> {dsv3.init = "ones", dsv3.name = "mlp.gate.weight", dsv3.role = "param"},
    %w: tensor<16x16xf32> {dsv3.init = "ones", dsv3.name = "up.weight", dsv3.role = "param"},
    %head: tensor<32x16xf32> {dsv3.init = "ones", dsv3.name = "lm_head.weight", dsv3.role = "param"},
    %targets: tensor<8xi32> {dsv3.role = "batch"}) -> tensor<f32> {
  %h = dsv3.rms_norm %x, %norm, eps = 1.0e-6 : tensor<8x16xf32>, tensor<16xf32>
  %logits = dsv3.matmul %h, %gate transpose_rhs : tensor<8x16xf32>, tensor<4x16xf32> -> tensor<8x4xf32>
  %weights, %indices, %scores = dsv3.router sigmoid %logits {top_k = 2 : i64} : tensor<8x4xf32> -> tensor<8x2xf32>, tensor<8x2xi32>, tensor<8x4xf32>
  %hb = dsv3.cast %h : tensor<8x16xf32> to tensor<8x16xbf16>
  %wb = dsv3.cast %w : tensor<16x16xf32> to tensor<16x16xbf16>
  %ub = dsv3.matmul %hb, %wb : tensor<8x16xbf16>, tensor<16x16xbf16> -> tensor<8x16xbf16>
  %u = dsv3.cast %ub : tensor<8x16xbf16> to tensor<8x16xf32>
  %headb = dsv3.cast %head : tensor<32x16xf32> to tensor<32x16xbf16>
  %yb = dsv3.matmul %ub, %headb transpose_rhs : tensor<8x16xbf16>, tensor<32x16xbf16> -> tensor<8x32xbf16>
  %y = dsv3.cast %yb : tensor<8x32xbf16> to tensor<8x32xf32>
  %loss = dsv3.cross_entropy %y, %targets : tensor<8x32xf32>, tensor<8xi32> -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// A cast placed where the recipe keeps f32: the norm reads bf16 values,
// the router's logits come from a bf16 GEMM and their gradient goes into
// one, a widened value is rounded to bf16 again, and a GEMM is left in
// f32.
// ERRORS: error: [norm-f32] dsv3.rms_norm runs in bf16
// ERRORS: remark: dsv3-verify-precision: 5 departures
func.func @train_step(
    %x: tensor<8x16xf32> {dsv3.role = "batch"},
    %norm: tensor<16xf32> {dsv3.init = "ones", dsv3.name = "norm.weight", dsv3.role = "param"},
    %gate: tensor<4x16xf32> {dsv3.init = "ones", dsv3.name = "mlp.gate.weight", dsv3.role = "param"},
    %w: tensor<16x16xf32> {dsv3.init = "ones", dsv3.name = "up.weight", dsv3.role = "param"})
    -> (tensor<8x2xf32>, tensor<8x16xf32>, tensor<8x16xbf16>) {
  %xb = dsv3.cast %x : tensor<8x16xf32> to tensor<8x16xbf16>
  %nb = dsv3.cast %norm : tensor<16xf32> to tensor<16xbf16>
  // CHECK: verify-precision.mlir:[[@LINE+1]]:8: warning: [norm-f32] dsv3.rms_norm runs in bf16; the bf16 recipe keeps norms in f32
  %h = dsv3.rms_norm %xb, %nb, eps = 1.0e-6 : tensor<8x16xbf16>, tensor<16xbf16>
  %gb = dsv3.cast %gate : tensor<4x16xf32> to tensor<4x16xbf16>
  // CHECK: verify-precision.mlir:[[@LINE+1]]:9: warning: [router-f32] dsv3.matmul runs in bf16; the bf16 recipe keeps the router's gate projection in f32
  %lb = dsv3.matmul %h, %gb transpose_rhs : tensor<8x16xbf16>, tensor<4x16xbf16> -> tensor<8x4xbf16>
  %logits = dsv3.cast %lb : tensor<8x4xbf16> to tensor<8x4xf32>
  %weights, %indices, %scores = dsv3.router sigmoid %logits {top_k = 2 : i64} : tensor<8x4xf32> -> tensor<8x2xf32>, tensor<8x2xi32>, tensor<8x4xf32>
  %dl = dsv3.router_grad sigmoid %logits, %indices, %weights scores %scores : tensor<8x4xf32>, tensor<8x2xi32>, tensor<8x2xf32>, tensor<8x4xf32>
  %dlb = dsv3.cast %dl : tensor<8x4xf32> to tensor<8x4xbf16>
  // CHECK: verify-precision.mlir:[[@LINE+1]]:10: warning: [router-f32] dsv3.matmul runs in bf16; the bf16 recipe keeps the router's gate projection in f32
  %dxb = dsv3.matmul %dlb, %gb : tensor<8x4xbf16>, tensor<4x16xbf16> -> tensor<8x16xbf16>
  %hw = dsv3.cast %h : tensor<8x16xbf16> to tensor<8x16xf32>
  // CHECK: verify-precision.mlir:[[@LINE+1]]:12: warning: [cast-chain] rounds to bf16 a value widened from bf16; the narrow value is already there
  %again = dsv3.cast %hw : tensor<8x16xf32> to tensor<8x16xbf16>
  // CHECK: verify-precision.mlir:[[@LINE+1]]:8: warning: [gemm-precision] dsv3.matmul runs in f32; the bf16 recipe runs linear layers in bf16
  %u = dsv3.matmul %x, %w : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
  %s = dsv3.cast %again : tensor<8x16xbf16> to tensor<8x16xf32>
  %sum = dsv3.add %u, %s : tensor<8x16xf32>
  return %weights, %sum, %dxb : tensor<8x2xf32>, tensor<8x16xf32>, tensor<8x16xbf16>
}
// CHECK: remark: dsv3-verify-precision: 5 departures of @train_step from the bf16 recipe: norm-f32 1 router-f32 2 cast-chain 1 gemm-precision 1

// UNKNOWN: dsv3-verify-precision: unknown recipe 'fp4' (bf16, fp16 or deepseek-v3)
