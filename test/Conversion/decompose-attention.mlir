// RUN: dsv3-opt %s --dsv3-decompose-attention | FileCheck %s
// With keep-library (the cpu pipeline), f32 attention stays whole for the
// runtime's attention command; other element types are still rewritten.
// RUN: dsv3-opt %s --dsv3-decompose-attention=keep-library | FileCheck %s --check-prefix=KEEP
// The interpreter gives the same results before and after, to f64
// rounding (the order of the sums changes).
// RUN: dsv3-opt %s --dsv3-interpret="function=attention" -o /dev/null > %t.before
// RUN: dsv3-opt %s --dsv3-decompose-attention --dsv3-interpret="function=attention" -o /dev/null > %t.after
// RUN: %python %S/close_results.py %t.before %t.after
// RUN: dsv3-opt %s --dsv3-interpret="function=attention_grad" -o /dev/null > %t.grad.before
// RUN: dsv3-opt %s --dsv3-decompose-attention --dsv3-interpret="function=attention_grad" -o /dev/null > %t.grad.after
// RUN: %python %S/close_results.py %t.grad.before %t.grad.after

// Grouped key/value heads (2 for 4 query heads), causal, with segments:
// heads move before the sequence, K and V are broadcast to the query heads,
// the scores and the output are batched GEMMs around a masked softmax.
// CHECK-LABEL: func.func @attention(
// CHECK-NOT: dsv3.attention
// CHECK: dsv3.transpose
// CHECK: dsv3.broadcast
// CHECK: dsv3.matmul {{.*}} transpose_rhs : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x8xf32>
// CHECK: dsv3.select
// CHECK: dsv3.softmax
// CHECK: dsv3.matmul {{.*}} : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: dsv3.transpose
func.func @attention(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x2x16xf32>, %v: tensor<2x8x2x16xf32>, %seg: tensor<2x8xi32>) -> tensor<2x8x4x16xf32> {
  %o = dsv3.attention %q, %k, %v segments %seg causal scale = 2.5e-01 : tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8xi32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// The gradient: five GEMMs (dV, dP, dQ, dK and the recomputed scores
// before them), the softmax backward in between, and the key/value head
// gradients summed back over their groups.
// CHECK-LABEL: func.func @attention_grad(
// CHECK-NOT: dsv3.attention_grad
// CHECK: dsv3.matmul {{.*}} transpose_rhs : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x8xf32>
// CHECK: dsv3.softmax
// CHECK: dsv3.matmul {{.*}} transpose_lhs : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: dsv3.matmul {{.*}} transpose_rhs : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x8xf32>
// CHECK: dsv3.reduce sum
// CHECK: dsv3.matmul {{.*}} : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: dsv3.matmul {{.*}} transpose_lhs : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: dsv3.reduce sum {{.*}} -> tensor<2x2x8x16xf32>
// CHECK: return
func.func @attention_grad(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x2x16xf32>, %v: tensor<2x8x2x16xf32>, %do: tensor<2x8x4x16xf32>, %seg: tensor<2x8xi32>) -> (tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>) {
  %dq, %dk, %dv = dsv3.attention_grad %q, %k, %v, %do segments %seg causal scale = 2.5e-01 : tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8xi32>
  return %dq, %dk, %dv : tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>
}

// KEEP-LABEL: func.func @attention(
// KEEP: dsv3.attention %{{.*}} segments %{{.*}} causal
// KEEP-LABEL: func.func @attention_grad(
// KEEP: dsv3.attention_grad %{{.*}} segments %{{.*}} causal
// KEEP-LABEL: func.func @attention_bf16(
// KEEP-NOT: dsv3.attention
// KEEP: dsv3.softmax
// CHECK-LABEL: func.func @attention_bf16(
// CHECK-NOT: dsv3.attention
// CHECK: dsv3.softmax
func.func @attention_bf16(%q: tensor<2x8x4x16xbf16>, %k: tensor<2x8x4x16xbf16>, %v: tensor<2x8x4x16xbf16>) -> tensor<2x8x4x16xbf16> {
  %o = dsv3.attention %q, %k, %v causal scale = 2.5e-01 : tensor<2x8x4x16xbf16>, tensor<2x8x4x16xbf16>, tensor<2x8x4x16xbf16> -> tensor<2x8x4x16xbf16>
  return %o : tensor<2x8x4x16xbf16>
}
