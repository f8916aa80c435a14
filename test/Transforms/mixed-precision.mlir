// RUN: dsv3-opt %s --dsv3-mixed-precision="policy=bf16" -split-input-file | FileCheck %s
// RUN: dsv3-opt %s --dsv3-mixed-precision -split-input-file | FileCheck %s --check-prefix=FP32
// RUN: not dsv3-opt %s --dsv3-mixed-precision="policy=fp16 loss-scale=1024 growth-interval=7" -split-input-file 2>/dev/null | FileCheck %s --check-prefix=FP16
// RUN: not dsv3-opt %s --dsv3-mixed-precision="policy=fp16" -split-input-file 2>&1 >/dev/null | FileCheck %s --check-prefix=FP16ERR
// RUN: not dsv3-opt %s --dsv3-mixed-precision="policy=fp16 loss-scale=0.5" -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=SCALE
// RUN: not dsv3-opt %s --dsv3-mixed-precision="policy=int4" -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not dsv3-opt %s --dsv3-mixed-precision="policy=bf16 function=missing" -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=MISSING

// A forward GEMM and its two backward GEMMs, as autodiff derives them: each
// reads bf16 operands, one cast per value however many GEMMs read it, and
// is widened again; the f32 sum of the cotangents stays f32.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]+]]: tensor<8x16xf32>, %[[W:[^:]+]]: tensor<4x16xf32>, %[[DY:[^:]+]]: tensor<8x4xf32>
// CHECK: %[[XB:.*]] = dsv3.cast %[[X]] : tensor<8x16xf32> to tensor<8x16xbf16>
// CHECK: %[[WB:.*]] = dsv3.cast %[[W]] : tensor<4x16xf32> to tensor<4x16xbf16>
// CHECK: %[[YB:.*]] = dsv3.matmul %[[XB]], %[[WB]] transpose_rhs : tensor<8x16xbf16>, tensor<4x16xbf16> -> tensor<8x4xbf16>
// CHECK: %[[Y:.*]] = dsv3.cast %[[YB]] : tensor<8x4xbf16> to tensor<8x4xf32>
// CHECK: %[[DYB:.*]] = dsv3.cast %[[DY]] : tensor<8x4xf32> to tensor<8x4xbf16>
// CHECK: %[[DXB:.*]] = dsv3.matmul %[[DYB]], %[[WB]] : tensor<8x4xbf16>, tensor<4x16xbf16> -> tensor<8x16xbf16>
// CHECK: %[[DX:.*]] = dsv3.cast %[[DXB]] : tensor<8x16xbf16> to tensor<8x16xf32>
// CHECK: %[[DWB:.*]] = dsv3.matmul %[[DYB]], %[[XB]] transpose_lhs : tensor<8x4xbf16>, tensor<8x16xbf16> -> tensor<4x16xbf16>
// CHECK: %[[DW:.*]] = dsv3.cast %[[DWB]] : tensor<4x16xbf16> to tensor<4x16xf32>
// CHECK: %[[SUM:.*]] = dsv3.add %[[DX]], %[[X]] : tensor<8x16xf32>
// CHECK: return %[[Y]], %[[SUM]], %[[DW]]
// FP32-LABEL: func.func @train_step(
// FP32-NOT: bf16
func.func @train_step(%x: tensor<8x16xf32>, %w: tensor<4x16xf32>, %dy: tensor<8x4xf32>)
    -> (tensor<8x4xf32>, tensor<8x16xf32>, tensor<4x16xf32>) {
  %y = dsv3.matmul %x, %w transpose_rhs : tensor<8x16xf32>, tensor<4x16xf32> -> tensor<8x4xf32>
  %dx = dsv3.matmul %dy, %w : tensor<8x4xf32>, tensor<4x16xf32> -> tensor<8x16xf32>
  %dw = dsv3.matmul %dy, %x transpose_lhs : tensor<8x4xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %sum = dsv3.add %dx, %x : tensor<8x16xf32>
  return %y, %sum, %dw : tensor<8x4xf32>, tensor<8x16xf32>, tensor<4x16xf32>
}

// -----

// A GEMM of a GEMM's widened result reads the bf16 value itself: no
// bf16 -> f32 -> bf16 round trip. Grouped GEMMs and their weight gradient
// are narrowed too; attention and non-GEMM ops stay f32.
// CHECK-LABEL: func.func @train_step(
// CHECK: %[[AB:.*]] = dsv3.matmul {{.*}} -> tensor<8x16xbf16>
// CHECK: %[[A:.*]] = dsv3.cast %[[AB]] : tensor<8x16xbf16> to tensor<8x16xf32>
// CHECK-NOT: dsv3.cast %[[A]]
// CHECK: dsv3.grouped_matmul %[[AB]], %{{.*}}, %{{.*}} transpose_rhs : tensor<8x16xbf16>, tensor<2x4x16xbf16>, tensor<2xi32> -> tensor<8x4xbf16>
// CHECK: dsv3.grouped_matmul_wgrad %[[AB]], %{{.*}}, %{{.*}} : tensor<8x16xbf16>, tensor<8x4xbf16>, tensor<2xi32> -> tensor<2x16x4xbf16>
// CHECK: dsv3.silu %[[A]] : tensor<8x16xf32>
func.func @train_step(%x: tensor<8x16xf32>, %w: tensor<16x16xf32>, %e: tensor<2x4x16xf32>,
                      %sizes: tensor<2xi32>, %dy: tensor<8x4xf32>)
    -> (tensor<8x4xf32>, tensor<2x16x4xf32>, tensor<8x16xf32>) {
  %a = dsv3.matmul %x, %w : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
  %r = dsv3.grouped_matmul %a, %e, %sizes transpose_rhs : tensor<8x16xf32>, tensor<2x4x16xf32>, tensor<2xi32> -> tensor<8x4xf32>
  %g = dsv3.grouped_matmul_wgrad %a, %dy, %sizes : tensor<8x16xf32>, tensor<8x4xf32>, tensor<2xi32> -> tensor<2x16x4xf32>
  %s = dsv3.silu %a : tensor<8x16xf32>
  return %r, %g, %s : tensor<8x4xf32>, tensor<2x16x4xf32>, tensor<8x16xf32>
}

// -----

// The router stays f32: the gate projection of its logits and the two
// GEMMs of the logits' gradient; the expert GEMM beside it is narrowed.
// CHECK-LABEL: func.func @train_step(
// CHECK: dsv3.matmul %{{.*}}, %{{.*}} transpose_rhs : tensor<8x16xf32>, tensor<4x16xf32> -> tensor<8x4xf32>
// CHECK: dsv3.router
// CHECK: dsv3.matmul {{.*}} : tensor<8x16xbf16>, tensor<16x16xbf16> -> tensor<8x16xbf16>
// CHECK: dsv3.router_grad
// CHECK: dsv3.matmul %{{.*}}, %{{.*}} : tensor<8x4xf32>, tensor<4x16xf32> -> tensor<8x16xf32>
// CHECK: dsv3.matmul %{{.*}}, %{{.*}} transpose_lhs : tensor<8x4xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
func.func @train_step(%x: tensor<8x16xf32>, %gate: tensor<4x16xf32>, %w: tensor<16x16xf32>,
                      %dw: tensor<8x2xf32>)
    -> (tensor<8x2xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<4x16xf32>) {
  %logits = dsv3.matmul %x, %gate transpose_rhs : tensor<8x16xf32>, tensor<4x16xf32> -> tensor<8x4xf32>
  %weights, %indices, %scores = dsv3.router sigmoid %logits {top_k = 2 : i64} : tensor<8x4xf32> -> tensor<8x2xf32>, tensor<8x2xi32>, tensor<8x4xf32>
  %e = dsv3.matmul %x, %w : tensor<8x16xf32>, tensor<16x16xf32> -> tensor<8x16xf32>
  %dlogits = dsv3.router_grad sigmoid %logits, %indices, %dw scores %scores : tensor<8x4xf32>, tensor<8x2xi32>, tensor<8x2xf32>, tensor<8x4xf32>
  %dx = dsv3.matmul %dlogits, %gate : tensor<8x4xf32>, tensor<4x16xf32> -> tensor<8x16xf32>
  %dgate = dsv3.matmul %dlogits, %x transpose_lhs : tensor<8x4xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  return %weights, %e, %dx, %dgate : tensor<8x2xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<4x16xf32>
}

// -----

// fp16 on a training step as dsv3-autodiff builds it: the GEMMs in f16,
// the scaler's two states after the moments, the backward seeded with the
// scale, every gradient unscaled before clipping, every updated state
// chosen between its update and its argument by whether the gradients are
// finite, the scale updated, and what the step used reported.
// FP16-LABEL: func.func @train_step(
// FP16-SAME: %[[W:[^:]+]]: tensor<4x16xf32> {dsv3.init = "normal", dsv3.init_std = 2.000000e-02 : f64, dsv3.name = "w", dsv3.role = "param"}
// FP16-SAME: %[[M:[^:]+]]: tensor<4x16xf32> {dsv3.init = "zeros", dsv3.name = "w.exp_avg", dsv3.role = "opt_state"}
// FP16-SAME: %[[V:[^:]+]]: tensor<4x16xf32> {dsv3.init = "zeros", dsv3.name = "w.exp_avg_sq", dsv3.role = "opt_state"}
// FP16-SAME: %[[S:[^:]+]]: tensor<f32> {dsv3.init = "constant", dsv3.init_value = 1.024000e+03 : f64, dsv3.name = "loss_scaler.scale", dsv3.role = "opt_state"}
// FP16-SAME: %[[N:[^:]+]]: tensor<i64> {dsv3.init = "zeros", dsv3.name = "loss_scaler.good_steps", dsv3.role = "opt_state"}
// FP16-SAME: %[[K:[^:]+]]: tensor<i64> {dsv3.init = "zeros", dsv3.name = "loss_scaler.skipped", dsv3.role = "opt_state"}
// FP16-SAME: %[[X:[^:]+]]: tensor<8x16xf32> {dsv3.role = "batch"}
// FP16-SAME: -> (tensor<f32> {dsv3.role = "loss"}, tensor<4x16xf32> {dsv3.name = "w", dsv3.role = "param"}, {{.*}}, tensor<f32> {dsv3.name = "loss_scaler.scale", dsv3.role = "opt_state"}, tensor<i64> {dsv3.name = "loss_scaler.good_steps", dsv3.role = "opt_state"}, tensor<i64> {dsv3.name = "loss_scaler.skipped", dsv3.role = "opt_state"}, tensor<f32> {dsv3.name = "grad_norm", dsv3.role = "metric"}, tensor<f32> {dsv3.name = "loss_scale", dsv3.role = "metric"}, tensor<f32> {dsv3.name = "skipped", dsv3.role = "metric"})
// FP16: dsv3.matmul {{.*}} : tensor<8x16xf16>, tensor<4x16xf16> -> tensor<8x4xf16>
// FP16: %[[SEED:.*]] = dsv3.constant {dsv3.loss_seed} dense<1.000000e+00> : tensor<f32>
// FP16-NEXT: %[[SCALED:.*]] = dsv3.mul %[[S]], %[[SEED]] : tensor<f32>
// FP16-NEXT: dsv3.broadcast %[[SCALED]], dims = [] : tensor<f32> -> tensor<8x4xf32>
// FP16: %[[DW:.*]] = dsv3.matmul {{.*}} transpose_lhs : tensor<8x4xf16>, tensor<8x16xf16> -> tensor<4x16xf16>
// FP16: %[[DWF:.*]] = dsv3.cast %[[DW]] : tensor<4x16xf16> to tensor<4x16xf32>
// FP16: %[[G:.*]] = dsv3.unscale %[[DWF]], %[[S]] : tensor<4x16xf32>, tensor<f32>
// FP16: %[[OK:.*]] = dsv3.all_finite %[[G]] : tensor<4x16xf32>
// FP16: dsv3.clip_by_global_norm %[[G]]
// FP16: %[[P:.*]], %[[M2:.*]], %[[V2:.*]] = dsv3.adamw %[[W]]
// Right after the update, where its kernel can choose in place.
// FP16-NEXT: dsv3.broadcast %[[OK]], dims = [] : tensor<i1> -> tensor<4x16xi1>
// FP16-DAG: %[[P3:.*]] = dsv3.select %{{.*}}, %[[P]], %[[W]] : tensor<4x16xi1>, tensor<4x16xf32>
// FP16-DAG: %[[M3:.*]] = dsv3.select %{{.*}}, %[[M2]], %[[M]]
// FP16-DAG: %[[V3:.*]] = dsv3.select %{{.*}}, %[[V2]], %[[V]]
// FP16: %[[S2:.*]], %[[N2:.*]] = dsv3.update_loss_scale %[[S]], %[[N]], %[[OK]] {growth_interval = 7 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
// FP16: %[[K1:.*]] = dsv3.add %[[K]], %{{.*}} : tensor<i64>
// FP16: %[[K2:.*]] = dsv3.select %[[OK]], %[[K]], %[[K1]] : tensor<i1>, tensor<i64>
// FP16: %[[USED:.*]] = dsv3.mul %[[S]], %{{.*}} : tensor<f32>
// FP16: %[[SKIP:.*]] = dsv3.cast %[[K2]] : tensor<i64> to tensor<f32>
// FP16: return %{{.*}}, %[[P3]], %[[M3]], %[[V3]], %[[S2]], %[[N2]], %[[K2]], %{{.*}}, %[[USED]], %[[SKIP]]
func.func @train_step(
    %w: tensor<4x16xf32> {dsv3.init = "normal", dsv3.init_std = 2.0e-02 : f64, dsv3.name = "w", dsv3.role = "param"},
    %m: tensor<4x16xf32> {dsv3.init = "zeros", dsv3.name = "w.exp_avg", dsv3.role = "opt_state"},
    %v: tensor<4x16xf32> {dsv3.init = "zeros", dsv3.name = "w.exp_avg_sq", dsv3.role = "opt_state"},
    %x: tensor<8x16xf32> {dsv3.role = "batch"},
    %step: tensor<i64> {dsv3.role = "step"})
    -> (tensor<f32> {dsv3.role = "loss"},
        tensor<4x16xf32> {dsv3.name = "w", dsv3.role = "param"},
        tensor<4x16xf32> {dsv3.name = "w.exp_avg", dsv3.role = "opt_state"},
        tensor<4x16xf32> {dsv3.name = "w.exp_avg_sq", dsv3.role = "opt_state"},
        tensor<f32> {dsv3.name = "grad_norm", dsv3.role = "metric"}) {
  %y = dsv3.matmul %x, %w transpose_rhs : tensor<8x16xf32>, tensor<4x16xf32> -> tensor<8x4xf32>
  %loss = dsv3.reduce sum %y, dims = [0, 1] : tensor<8x4xf32> -> tensor<f32>
  %seed = dsv3.constant {dsv3.loss_seed} dense<1.0> : tensor<f32>
  %dy = dsv3.broadcast %seed, dims = [] : tensor<f32> -> tensor<8x4xf32>
  %dw = dsv3.matmul %dy, %x transpose_lhs : tensor<8x4xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %clipped, %norm = dsv3.clip_by_global_norm %dw max_norm = 1.0 : tensor<4x16xf32>
  %lr = dsv3.lr_schedule %step {min_lr = 1.0e-4 : f64, peak_lr = 1.0e-3 : f64, total_steps = 10 : i64, warmup_steps = 1 : i64} : tensor<i64>
  %one = dsv3.constant dense<1> : tensor<i64>
  %t = dsv3.add %step, %one : tensor<i64>
  %p2, %m2, %v2 = dsv3.adamw %w, %clipped, %m, %v, %lr, %t : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<f32>, tensor<i64>
  return %loss, %p2, %m2, %v2, %norm : tensor<f32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<f32>
}

// FP16ERR: policy=fp16: @train_step has 0 backward seeds (dsv3.loss_seed) and 0 gradient clippings; loss scaling needs a seed per micro-batch and one clipping
// SCALE: dsv3-mixed-precision: policy=fp16: loss-scale must be in [1, 3e38], not 5.000000e-01
// UNKNOWN: dsv3-mixed-precision: unknown policy 'int4' (fp32, bf16, fp16 or fp8)
// MISSING: dsv3-mixed-precision: no function @missing with a body
