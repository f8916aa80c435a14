// Both group rules (the sum of a group's top two, DeepSeek-V3; its best
// score with group_max, DeepSeek-V2), on logits where they pick different
// experts: lowered and run, they match the interpreter.
// RUN: %compare_with_interpreter %s | FileCheck %s
// CHECK: 4 results, 0 mismatches

func.func @compute() -> (tensor<2x1xi32>, tensor<2x1xf32>, tensor<2x1xi32>, tensor<2x1xf32>) {
  %l = dsv3.constant dense<[[2.2, -5.0, 0.4, 0.4], [0.1, 0.2, -1.0, 0.3]]> : tensor<2x4xf32>
  %w, %i, %s = dsv3.router sigmoid %l {top_k = 1 : i64, n_group = 2 : i64, topk_group = 1 : i64}
      : tensor<2x4xf32> -> tensor<2x1xf32>, tensor<2x1xi32>, tensor<2x4xf32>
  %wm, %im, %sm = dsv3.router sigmoid %l {top_k = 1 : i64, n_group = 2 : i64, topk_group = 1 : i64, group_max}
      : tensor<2x4xf32> -> tensor<2x1xf32>, tensor<2x1xi32>, tensor<2x4xf32>
  return %i, %w, %im, %wm : tensor<2x1xi32>, tensor<2x1xf32>, tensor<2x1xi32>, tensor<2x1xf32>
}
