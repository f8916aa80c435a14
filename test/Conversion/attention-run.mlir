// Attention (causal, packed segments, grouped KV heads) and its gradient,
// decomposed into GEMMs and a masked softmax, lowered to LLVM and run:
// they match the interpreter element by element.
// RUN: %compare_with_interpreter %s | FileCheck %s
// CHECK: 5 results, 0 mismatches

func.func @compute() -> (tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4x2x3xf32>) {
  %q = dsv3.constant dense<[[[[0.1, -0.2, 0.3], [1.0, 0.5, -0.5]], [[0.7, 0.2, -0.1], [0.0, -1.0, 0.4]],
                             [[-0.3, 0.8, 0.5], [0.2, 0.2, 0.2]], [[1.5, -0.5, 0.0], [-0.4, 0.9, 1.1]]]]> : tensor<1x4x2x3xf32>
  %k = dsv3.constant dense<[[[[0.5, 0.1, -0.3]], [[-0.2, 0.6, 0.9]], [[1.0, -1.0, 0.5]], [[0.3, 0.3, -0.8]]]]> : tensor<1x4x1x3xf32>
  %v = dsv3.constant dense<[[[[1.0, 2.0, 3.0]], [[-1.0, 0.5, 2.0]], [[0.0, 1.0, -1.0]], [[2.0, -2.0, 0.5]]]]> : tensor<1x4x1x3xf32>
  %seg = dsv3.constant dense<[[0, 0, 1, 1]]> : tensor<1x4xi32>
  %o = dsv3.attention %q, %k, %v segments %seg causal scale = 0.57735 : tensor<1x4x2x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4xi32> -> tensor<1x4x2x3xf32>
  %do = dsv3.constant dense<[[[[0.3, -0.1, 0.2], [1.0, 0.0, -1.0]], [[0.5, 0.5, 0.5], [-0.2, 0.4, 0.1]],
                              [[0.0, 1.0, 0.0], [0.9, -0.3, 0.2]], [[-0.5, 0.2, 0.7], [0.1, 0.1, -0.6]]]]> : tensor<1x4x2x3xf32>
  %dq, %dk, %dv = dsv3.attention_grad %q, %k, %v, %do segments %seg causal scale = 0.57735 : tensor<1x4x2x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4x2x3xf32>, tensor<1x4xi32>
  %full = dsv3.attention %q, %q, %q scale = 0.5 : tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32> -> tensor<1x4x2x3xf32>
  return %o, %dq, %dk, %dv, %full : tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4x1x3xf32>, tensor<1x4x2x3xf32>
}
