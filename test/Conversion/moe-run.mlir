// Dispatch (dropless and capacity-limited), grouped GEMMs in both weight
// layouts and their weight gradients, combine and its gradient: lowered to
// loops over tensors and run, they match the interpreter.
// RUN: %compare_with_interpreter %s | FileCheck %s
// The same with the GPU's routing (generics over chunks of copies).
// RUN: %compare_with_interpreter %s --lower-options=parallel-routing=1 | FileCheck %s
// CHECK: 11 results, 0 mismatches

func.func @compute() -> (tensor<8x2xf32>, tensor<3xi32>, tensor<8x3xf32>, tensor<4x2xf32>, tensor<8x2xf32>, tensor<4x2xf32>,
                         tensor<3x2x3xf32>, tensor<3x3x2xf32>, tensor<6x2xf32>, tensor<3xi32>, tensor<4x2xf32>) {
  %x = dsv3.constant dense<[[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 1.0]]> : tensor<4x2xf32>
  %idx = dsv3.constant dense<[[2, 0], [0, 1], [2, 1], [0, 2]]> : tensor<4x2xi32>
  %gw = dsv3.constant dense<[[0.7, 0.3], [0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]> : tensor<4x2xf32>
  %w = dsv3.constant dense<[[[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]], [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0]], [[2.0, -1.0, 0.5], [0.0, 0.5, 1.5]]]> : tensor<3x2x3xf32>
  %wt = dsv3.constant dense<[[[1.0, 0.5], [0.0, -1.0], [2.0, 1.0]], [[0.0, 1.0], [1.0, 1.0], [0.0, 1.0]], [[2.0, 0.0], [-1.0, 0.5], [0.5, 1.5]]]> : tensor<3x3x2xf32>
  %rows, %sizes = dsv3.moe_dispatch %x, %idx {num_experts = 3 : i64} : tensor<4x2xf32>, tensor<4x2xi32> -> tensor<8x2xf32>, tensor<3xi32>
  %h = dsv3.grouped_matmul %rows, %w, %sizes : tensor<8x2xf32>, tensor<3x2x3xf32>, tensor<3xi32> -> tensor<8x3xf32>
  %d = dsv3.grouped_matmul %h, %wt, %sizes : tensor<8x3xf32>, tensor<3x3x2xf32>, tensor<3xi32> -> tensor<8x2xf32>
  %y = dsv3.moe_combine %d, %gw, %idx {num_experts = 3 : i64} : tensor<8x2xf32>, tensor<4x2xf32>, tensor<4x2xi32> -> tensor<4x2xf32>
  %dy = dsv3.constant dense<[[0.3, -0.1], [1.0, 0.0], [-0.5, 0.5], [0.2, 0.2]]> : tensor<4x2xf32>
  %drows, %dgw = dsv3.moe_combine_grad %d, %gw, %idx, %dy {num_experts = 3 : i64} : tensor<8x2xf32>, tensor<4x2xf32>, tensor<4x2xi32>, tensor<4x2xf32>
  %dw = dsv3.grouped_matmul_wgrad %rows, %h, %sizes : tensor<8x2xf32>, tensor<8x3xf32>, tensor<3xi32> -> tensor<3x2x3xf32>
  %dwt = dsv3.grouped_matmul_wgrad %h, %rows, %sizes transpose_rhs : tensor<8x3xf32>, tensor<8x2xf32>, tensor<3xi32> -> tensor<3x2x3xf32>
  %dwt2 = dsv3.reshape %dwt : tensor<3x2x3xf32> -> tensor<3x3x2xf32>
  %rc, %sc = dsv3.moe_dispatch %x, %idx policy = drop {num_experts = 3 : i64, capacity = 2 : i64} : tensor<4x2xf32>, tensor<4x2xi32> -> tensor<6x2xf32>, tensor<3xi32>
  %yc = dsv3.moe_combine %rc, %gw, %idx policy = drop {num_experts = 3 : i64, capacity = 2 : i64} : tensor<6x2xf32>, tensor<4x2xf32>, tensor<4x2xi32> -> tensor<4x2xf32>
  return %rows, %sizes, %h, %y, %drows, %dgw, %dw, %dwt2, %rc, %sc, %yc
      : tensor<8x2xf32>, tensor<3xi32>, tensor<8x3xf32>, tensor<4x2xf32>, tensor<8x2xf32>, tensor<4x2xf32>,
        tensor<3x2x3xf32>, tensor<3x3x2xf32>, tensor<6x2xf32>, tensor<3xi32>, tensor<4x2xf32>
}
