// RUN: dsv3-opt %s --dsv3-mixed-precision="policy=bf16" -split-input-file | FileCheck %s
// RUN: dsv3-opt %s --dsv3-mixed-precision -split-input-file | FileCheck %s --check-prefix=FP32
// RUN: not dsv3-opt %s --dsv3-mixed-precision="policy=fp16" -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=FP16
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

// FP16: dsv3-mixed-precision: policy=fp16 is not supported yet (the policies are fp32 and bf16)
// UNKNOWN: dsv3-mixed-precision: unknown policy 'int4' (fp32 or bf16)
// MISSING: dsv3-mixed-precision: no function @missing with a body
