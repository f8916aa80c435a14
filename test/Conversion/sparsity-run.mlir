// The 2:4 mask (ties to the lower position), the magnitude mask (ties at
// the threshold pruned together, fraction 0 keeps all, fractions clamped,
// per expert of stacked experts)
// and fake quantization (per tensor, per row, an all-zero row): lowered to
// LLVM and run, they match the interpreter.
// RUN: %compare_with_interpreter %s | FileCheck %s
// CHECK: 12 results, 0 mismatches

// Masks are returned as 0.0 / 1.0.
func.func @compute() -> (tensor<2x8xf32>, tensor<2x2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>,
                         tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>,
                         tensor<3x4xf32>, tensor<3x4xf32>, tensor<2x4xf32>, tensor<2x2x4xf32>) {
  %w = dsv3.constant dense<[[0.5, -2.0, 1.0, 0.25, 1.0, 1.0, -1.0, 0.0],
                            [0.0, 0.0, 0.0, 0.0, -3.0, 2.0, 2.5, -2.5]]> : tensor<2x8xf32>
  %m = dsv3.prune_2_4 %w : tensor<2x8xf32> -> tensor<2x8xi1>
  %e = dsv3.constant dense<[[[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]],
                            [[-1.0, 1.0, -1.0, 1.0], [0.1, -0.2, 0.3, -0.4]]]> : tensor<2x2x4xf32>
  %me = dsv3.prune_2_4 %e : tensor<2x2x4xf32> -> tensor<2x2x4xi1>
  %x = dsv3.constant dense<[[0.5, -0.1, 0.3, -0.3], [0.0, 2.0, -0.7, 0.3]]> : tensor<2x4xf32>
  %f0 = dsv3.constant dense<0.0> : tensor<f32>
  %f1 = dsv3.constant dense<0.3> : tensor<f32>
  %f2 = dsv3.constant dense<0.5> : tensor<f32>
  %f3 = dsv3.constant dense<1.5> : tensor<f32>
  %f4 = dsv3.constant dense<0.62> : tensor<f32>
  %k0 = dsv3.magnitude_mask %x, %f0 : tensor<2x4xf32>, tensor<f32> -> tensor<2x4xi1>
  %k1 = dsv3.magnitude_mask %x, %f1 : tensor<2x4xf32>, tensor<f32> -> tensor<2x4xi1>
  %k2 = dsv3.magnitude_mask %x, %f2 : tensor<2x4xf32>, tensor<f32> -> tensor<2x4xi1>
  %k3 = dsv3.magnitude_mask %x, %f3 : tensor<2x4xf32>, tensor<f32> -> tensor<2x4xi1>
  %k4 = dsv3.magnitude_mask %x, %f4 : tensor<2x4xf32>, tensor<f32> -> tensor<2x4xi1>
  %q = dsv3.fake_quant %x, bits = 4 : tensor<2x4xf32>
  %r = dsv3.constant dense<[[0.5, -0.1, 0.3, -0.3], [0.0, 0.0, 0.0, 0.0], [100.0, 1.0, -0.6, 0.41]]> : tensor<3x4xf32>
  %qr = dsv3.fake_quant %r, bits = 8 per_row : tensor<3x4xf32>
  %q3 = dsv3.fake_quant %r, bits = 3 per_row : tensor<3x4xf32>
  %neg = dsv3.constant dense<[[-0.0, 1.0e-30, -1.0e-30, 0.0], [3.0e38, -3.0e38, 1.0, -1.0]]> : tensor<2x4xf32>
  %kn = dsv3.magnitude_mask %neg, %f2 : tensor<2x4xf32>, tensor<f32> -> tensor<2x4xi1>
  %kb = dsv3.magnitude_mask %e, %f1 {batch_dims = 1 : i64} : tensor<2x2x4xf32>, tensor<f32> -> tensor<2x2x4xi1>
  %kbf = dsv3.cast %kb : tensor<2x2x4xi1> to tensor<2x2x4xf32>
  %mf = dsv3.cast %m : tensor<2x8xi1> to tensor<2x8xf32>
  %mef = dsv3.cast %me : tensor<2x2x4xi1> to tensor<2x2x4xf32>
  %k0f = dsv3.cast %k0 : tensor<2x4xi1> to tensor<2x4xf32>
  %k1f = dsv3.cast %k1 : tensor<2x4xi1> to tensor<2x4xf32>
  %k2f = dsv3.cast %k2 : tensor<2x4xi1> to tensor<2x4xf32>
  %k3f = dsv3.cast %k3 : tensor<2x4xi1> to tensor<2x4xf32>
  %k4f = dsv3.cast %k4 : tensor<2x4xi1> to tensor<2x4xf32>
  %knf = dsv3.cast %kn : tensor<2x4xi1> to tensor<2x4xf32>
  return %mf, %mef, %k0f, %k1f, %k2f, %k3f, %k4f, %q, %qr, %q3, %knf, %kbf
      : tensor<2x8xf32>, tensor<2x2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>,
        tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<3x4xf32>, tensor<3x4xf32>,
        tensor<2x4xf32>, tensor<2x2x4xf32>
}
