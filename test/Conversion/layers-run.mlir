// RMSNorm and its gradient, embedding and gather, cross entropy (with an
// ignored token and a mask) and its gradient, RoPE (plain, interleaved
// with YaRN, inverse): lowered to LLVM and run, they match the interpreter
// element by element.
// RUN: %compare_with_interpreter %s | FileCheck %s
// CHECK: 13 results, 0 mismatches

func.func @compute() -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<3x4xf32>, tensor<2x2xf32>,
                         tensor<f32>, tensor<f32>, tensor<3x5xf32>, tensor<1x3x2x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>,
                         tensor<2x4xf32>, tensor<3x5xf32>) {
  %x = dsv3.constant dense<[[1.0, -2.0, 3.0, 0.5], [0.25, 4.0, -1.5, 2.0]]> : tensor<2x4xf32>
  %w = dsv3.constant dense<[1.0, 0.5, -1.0, 2.0]> : tensor<4xf32>
  %dy = dsv3.constant dense<[[0.3, -0.7, 1.1, 0.2], [-1.0, 0.4, 0.6, -0.2]]> : tensor<2x4xf32>
  %n = dsv3.rms_norm %x, %w, eps = 1.0e-06 : tensor<2x4xf32>, tensor<4xf32>
  %dx, %dw = dsv3.rms_norm_grad %x, %w, %dy, eps = 1.0e-06 : tensor<2x4xf32>, tensor<4xf32>

  %table = dsv3.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0], [-1.0, -2.0, -3.0, -4.0]]> : tensor<4x4xf32>
  %ids = dsv3.constant dense<[3, 0, 2]> : tensor<3xi32>
  %e = dsv3.embedding %table[%ids] : tensor<4x4xf32>, tensor<3xi32> -> tensor<3x4xf32>
  %cols = dsv3.constant dense<[[1, 3], [0, 0]]> : tensor<2x2xi32>
  %g0 = dsv3.slice %table, start = [0, 0], limit = [1, 4] : tensor<4x4xf32> -> tensor<1x4xf32>
  %g = dsv3.gather %g0[%cols] dim = 1 : tensor<1x4xf32>, tensor<2x2xi32> -> tensor<1x2x2xf32>
  %g2 = dsv3.reshape %g : tensor<1x2x2xf32> -> tensor<2x2xf32>

  %logits = dsv3.constant dense<[[2.0, 1.0, 0.1, -1.0, 0.5], [0.0, 3.0, -2.0, 1.0, 1.0], [1.5, 1.5, 0.0, 0.0, -3.0]]> : tensor<3x5xf32>
  %t = dsv3.constant dense<[0, -100, 4]> : tensor<3xi32>
  %mask = dsv3.constant dense<[1.0, 1.0, 0.5]> : tensor<3xf32>
  %ce = dsv3.cross_entropy %logits, %t : tensor<3x5xf32>, tensor<3xi32> -> tensor<f32>
  %cem = dsv3.cross_entropy %logits, %t mask %mask : tensor<3x5xf32>, tensor<3xi32>, tensor<3xf32> -> tensor<f32>
  %dl = dsv3.constant dense<2.0> : tensor<f32>
  %dlogits = dsv3.cross_entropy_grad %logits, %t, %dl mask %mask : tensor<3x5xf32>, tensor<3xi32>, tensor<f32>, tensor<3xf32>

  %q = dsv3.constant dense<[[[[1.0, 0.0, 2.0, -1.0], [0.5, 0.5, -0.5, 1.5]], [[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]], [[-1.0, 1.0, -1.0, 1.0], [2.0, 0.0, 0.0, 2.0]]]]> : tensor<1x3x2x4xf32>
  %pos = dsv3.constant dense<[[0, 5, 1000]]> : tensor<1x3xi32>
  %r = dsv3.rope %q, %pos, theta = 1.0e+04 : tensor<1x3x2x4xf32>, tensor<1x3xi32>
  %q3 = dsv3.reshape %q : tensor<1x3x2x4xf32> -> tensor<1x3x8xf32>
  %q34 = dsv3.slice %q3, start = [0, 0, 0], limit = [1, 3, 4] : tensor<1x3x8xf32> -> tensor<1x3x4xf32>
  %ry = dsv3.rope %q34, %pos, theta = 1.0e+04 interleaved {yarn_factor = 40.0 : f64, yarn_original_max_position = 64 : i64, yarn_mscale = 1.0 : f64, yarn_mscale_all_dim = 0.5 : f64} : tensor<1x3x4xf32>, tensor<1x3xi32>
  %ri = dsv3.rope %ry, %pos, theta = 1.0e+04 interleaved inverse {yarn_factor = 40.0 : f64, yarn_original_max_position = 64 : i64, yarn_mscale = 1.0 : f64, yarn_mscale_all_dim = 0.5 : f64} : tensor<1x3x4xf32>, tensor<1x3xi32>
  return %n, %dx, %dw, %e, %g2, %ce, %cem, %dlogits, %r, %ry, %ri, %dy, %logits
      : tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<3x4xf32>, tensor<2x2xf32>, tensor<f32>, tensor<f32>,
        tensor<3x5xf32>, tensor<1x3x2x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<2x4xf32>, tensor<3x5xf32>
}
