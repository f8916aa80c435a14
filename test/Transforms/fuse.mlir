// RUN: dsv3-opt %s --dsv3-fuse | FileCheck %s
// The interpreter gives the same numbers before and after fusion.
// RUN: dsv3-opt %s --dsv3-interpret="function=mixed" -o /dev/null > %t.before
// RUN: dsv3-opt %s --dsv3-fuse --dsv3-interpret="function=mixed" -o /dev/null > %t.after
// RUN: diff %t.before %t.after

// A SwiGLU activation: silu feeds only the mul, so both become one kernel.
// CHECK-LABEL: func.func @swiglu(
// CHECK-SAME: %[[G:[^:]+]]: tensor<4x8xf32>, %[[U:[^:]+]]: tensor<4x8xf32>
// CHECK: %[[F:.*]] = dsv3.fusion ins(%[[G]], %[[U]] : tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
// CHECK: ^bb0(%[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<4x8xf32>):
// CHECK:   %[[S:.*]] = dsv3.silu %[[A]]
// CHECK:   %[[M:.*]] = dsv3.mul %[[S]], %[[B]]
// CHECK:   dsv3.yield %[[M]]
// CHECK: return %[[F]]
func.func @swiglu(%g: tensor<4x8xf32>, %u: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = dsv3.silu %g : tensor<4x8xf32>
  %m = dsv3.mul %s, %u : tensor<4x8xf32>
  return %m : tensor<4x8xf32>
}

// A value with a second user is materialized: only the single-use part of
// the chain fuses.
// CHECK-LABEL: func.func @shared_value(
// CHECK: %[[E:.*]] = dsv3.exp
// CHECK: dsv3.fusion ins(%{{.*}}, %[[E]] : tensor<8xf32>, tensor<8xf32>)
// CHECK:   dsv3.neg
// CHECK:   dsv3.add
// CHECK: dsv3.mul %[[E]]
func.func @shared_value(%x: tensor<8xf32>, %y: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %e = dsv3.exp %x : tensor<8xf32>
  %n = dsv3.neg %y : tensor<8xf32>
  %a = dsv3.add %e, %n : tensor<8xf32>
  %m = dsv3.mul %e, %y : tensor<8xf32>
  return %a, %m : tensor<8xf32>, tensor<8xf32>
}

// A reduction absorbs the elementwise chain computing its input and ends
// the group; the division after it runs over another shape and stays out.
// The splat constant is copied into the region.
// CHECK-LABEL: func.func @reduction(
// CHECK: %[[R:.*]] = dsv3.fusion ins(%{{.*}} : tensor<4x8xf32>) -> tensor<4xf32> {
// CHECK:   %[[C:.*]] = dsv3.constant dense<2.000000e+00> : tensor<4x8xf32>
// CHECK:   %[[P:.*]] = dsv3.mul %{{.*}}, %[[C]]
// CHECK:   %[[Q:.*]] = dsv3.exp %[[P]]
// CHECK:   %[[SUM:.*]] = dsv3.reduce sum %[[Q]], dims = [1]
// CHECK:   dsv3.yield %[[SUM]]
// CHECK-NOT: dsv3.constant dense<2.000000e+00> : tensor<4x8xf32>
// CHECK: dsv3.div %[[R]]
func.func @reduction(%x: tensor<4x8xf32>, %d: tensor<4xf32>) -> tensor<4xf32> {
  %two = dsv3.constant dense<2.0> : tensor<4x8xf32>
  %p = dsv3.mul %x, %two : tensor<4x8xf32>
  %q = dsv3.exp %p : tensor<4x8xf32>
  %s = dsv3.reduce sum %q, dims = [1] : tensor<4x8xf32> -> tensor<4xf32>
  %r = dsv3.div %s, %d : tensor<4xf32>
  return %r : tensor<4xf32>
}

// GEMMs, broadcasts and lone elementwise ops stay as they are.
// CHECK-LABEL: func.func @nothing_to_fuse(
// CHECK-NOT: dsv3.fusion
// CHECK: return
func.func @nothing_to_fuse(%a: tensor<4x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %m = dsv3.matmul %a, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %bb = dsv3.broadcast %b, dims = [1] : tensor<8xf32> -> tensor<4x8xf32>
  %y = dsv3.add %m, %bb : tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// A chain does not fuse past a GEMM: fused, the add would run after the
// matmul (where the group's last op is), and its inputs %a and %b would
// live until then instead of its result alone (the running sums of
// gradient accumulation, spread over a micro-batch's backward).
// CHECK-LABEL: func.func @past_gemm(
// CHECK: %[[S:.*]] = dsv3.add
// CHECK-NEXT: %[[M:.*]] = dsv3.matmul
// CHECK-NEXT: dsv3.mul %[[S]], %[[M]]
// CHECK-NOT: dsv3.fusion
// CHECK: return
func.func @past_gemm(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>, %x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %s = dsv3.add %a, %b : tensor<4x8xf32>
  %m = dsv3.matmul %x, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %t = dsv3.mul %s, %m : tensor<4x8xf32>
  return %t : tensor<4x8xf32>
}

// Several groups in one function, checked against the interpreter above.
// CHECK-LABEL: func.func @mixed(
// CHECK-COUNT-2: dsv3.fusion
func.func @mixed(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4xf32>) {
  %a = dsv3.sigmoid %x : tensor<4x8xf32>
  %b = dsv3.mul %a, %y : tensor<4x8xf32>
  %m = dsv3.matmul %b, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %e = dsv3.silu %m : tensor<4x8xf32>
  %s = dsv3.reduce max %e, dims = [1] : tensor<4x8xf32> -> tensor<4xf32>
  return %m, %s : tensor<4x8xf32>, tensor<4xf32>
}

// The tiny model's whole training step: fused or not, every result of one
// interpreted step is the same to the bit.
// RUN: dsv3-compile %dsv3_src_root/examples/tiny_moe.pbtxt --emit=train --micro-batch=1 --seq-len=16 -o %t.tiny.mlir
// RUN: dsv3-opt %t.tiny.mlir --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.tiny.before
// RUN: dsv3-opt %t.tiny.mlir --dsv3-fuse --dsv3-interpret="function=train_step digest=true" -o /dev/null > %t.tiny.after
// RUN: diff %t.tiny.before %t.tiny.after
// RUN: FileCheck %s --check-prefix=DIGEST < %t.tiny.after
// RUN: dsv3-opt %t.tiny.mlir --dsv3-fuse --dsv3-print-cost -o /dev/null | FileCheck %s --check-prefix=TINY
// DIGEST: result 0 (loss): tensor<f32>
// DIGEST-NEXT: digest 0x
// TINY: cost of @train_step: {{[0-9]+}} ops, 178298718 FLOPs
// TINY: dsv3.fusion count {{[1-9][0-9]*}}
