// RUN: dsv3-opt %s --dsv3-outline-kernels="function=step" | FileCheck %s
// The interpreter gives bit-identical results before and after the split.
// RUN: dsv3-opt %s --dsv3-interpret="function=step digest=true" -o /dev/null > %t.before
// RUN: dsv3-opt %s --dsv3-outline-kernels="function=step" --dsv3-interpret="function=step digest=true" -o /dev/null > %t.after
// RUN: diff %t.before %t.after
// The tiny model's training step too, after fusion.
// RUN: dsv3-compile %dsv3_src_root/examples/tiny_moe.pbtxt --emit=train --micro-batch=1 --seq-len=16 -o %t.tiny.mlir
// RUN: dsv3-opt %t.tiny.mlir --dsv3-fuse --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.tiny.before
// RUN: dsv3-opt %t.tiny.mlir --dsv3-fuse --dsv3-outline-kernels --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.tiny.after
// RUN: diff %t.tiny.before %t.tiny.after
// RUN: not dsv3-opt %s --dsv3-outline-kernels="function=missing" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: dsv3-outline-kernels: no function @missing with a body

// Two GEMMs with a norm and an activation between them: the GEMMs stay, the
// ops between them become kernels, the reshape of a GEMM result is a view,
// and the constant is copied into the kernel that reads it.
// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x4x8xf32>, %[[W:[^:]+]]: tensor<8x8xf32>, %[[N:[^:]+]]: tensor<8xf32>
// CHECK: %[[K0:.*]] = call @step_kernel_0(%[[X]], %[[N]])
// CHECK: %[[M0:.*]] = dsv3.matmul %[[K0]], %[[W]]
// CHECK: %[[V:.*]] = dsv3.reshape %[[M0]] : tensor<2x4x8xf32> -> tensor<8x8xf32>
// CHECK: %[[K1:.*]]:2 = call @step_kernel_1(%[[V]])
// CHECK: %[[M1:.*]] = dsv3.matmul %[[K1]]#0, %[[W]]
// CHECK: return %[[M1]], %[[K1]]#1
// CHECK: func.func private @step_kernel_1(%{{.*}}: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<f32>) attributes {dsv3.kernel}
// CHECK:   dsv3.constant
// CHECK:   dsv3.silu
// CHECK:   dsv3.mul
// CHECK:   dsv3.reduce
// CHECK:   return
// CHECK: func.func private @step_kernel_0(%{{.*}}: tensor<2x4x8xf32>, %{{.*}}: tensor<8xf32>) -> tensor<2x4x8xf32> attributes {dsv3.kernel}
// CHECK:   dsv3.rms_norm
func.func @step(%x: tensor<2x4x8xf32>, %w: tensor<8x8xf32>, %n: tensor<8xf32>) -> (tensor<8x8xf32>, tensor<f32>) {
  %h = dsv3.rms_norm %x, %n, eps = 1.0e-6 : tensor<2x4x8xf32>, tensor<8xf32>
  %m0 = dsv3.matmul %h, %w : tensor<2x4x8xf32>, tensor<8x8xf32> -> tensor<2x4x8xf32>
  %v = dsv3.reshape %m0 : tensor<2x4x8xf32> -> tensor<8x8xf32>
  %c = dsv3.constant dense<2.0> : tensor<8x8xf32>
  %s = dsv3.silu %v : tensor<8x8xf32>
  %t = dsv3.mul %s, %c : tensor<8x8xf32>
  %r = dsv3.reduce sum %t, dims = [0, 1] : tensor<8x8xf32> -> tensor<f32>
  %m1 = dsv3.matmul %t, %w : tensor<8x8xf32>, tensor<8x8xf32> -> tensor<8x8xf32>
  return %m1, %r : tensor<8x8xf32>, tensor<f32>
}

// bf16 and f16 GEMMs are library GEMMs too; an f64 one has no library
// path and goes into a kernel.
// RUN: dsv3-opt %s --dsv3-outline-kernels="function=mixed" | FileCheck %s --check-prefix=MIXED
// MIXED-LABEL: func.func @mixed(
// MIXED: dsv3.matmul {{.*}} -> tensor<4x8xbf16>
// MIXED: dsv3.matmul {{.*}} -> tensor<4x8xf16>
// MIXED-NOT: dsv3.matmul
// MIXED: call @mixed_kernel_0
// MIXED: func.func private @mixed_kernel_0(
// MIXED: dsv3.matmul {{.*}} -> tensor<4x8xf64>
func.func @mixed(%x: tensor<4x8xbf16>, %w: tensor<8x8xbf16>, %y: tensor<4x8xf16>, %v: tensor<8x8xf16>,
                 %p: tensor<4x8xf64>, %q: tensor<8x8xf64>) -> (tensor<4x8xbf16>, tensor<4x8xf16>, tensor<4x8xf64>) {
  %a = dsv3.matmul %x, %w : tensor<4x8xbf16>, tensor<8x8xbf16> -> tensor<4x8xbf16>
  %b = dsv3.matmul %y, %v : tensor<4x8xf16>, tensor<8x8xf16> -> tensor<4x8xf16>
  %c = dsv3.matmul %p, %q : tensor<4x8xf64>, tensor<8x8xf64> -> tensor<4x8xf64>
  return %a, %b, %c : tensor<4x8xbf16>, tensor<4x8xf16>, tensor<4x8xf64>
}
