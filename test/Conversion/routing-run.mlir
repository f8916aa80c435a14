// The router (softmax top-k; sigmoid with bias, groups and scaling), its
// gradient with and without score cotangents, the balance loss and its
// gradient: lowered and run, they match the interpreter.
// RUN: %compare_with_interpreter %s | FileCheck %s
// CHECK: 10 results, 0 mismatches

func.func @compute() -> (tensor<3x2xf32>, tensor<3x2xi32>, tensor<3x4xf32>, tensor<3x2xf32>, tensor<3x2xi32>,
                         tensor<3x4xf32>, tensor<3x4xf32>, tensor<f32>, tensor<1x3x4xf32>, tensor<3x4xf32>) {
  %l = dsv3.constant dense<[[0.5, 2.0, -1.0, 1.0], [1.5, 0.2, 0.3, -0.5], [-2.0, 0.0, 1.0, 0.9]]> : tensor<3x4xf32>
  %w, %i, %s = dsv3.router softmax %l {top_k = 2 : i64, norm_topk_prob} : tensor<3x4xf32> -> tensor<3x2xf32>, tensor<3x2xi32>, tensor<3x4xf32>
  %bias = dsv3.constant dense<[0.0, -0.3, 0.2, 0.4]> : tensor<4xf32>
  %w2, %i2, %s2 = dsv3.router sigmoid %l bias %bias {top_k = 2 : i64, n_group = 2 : i64, topk_group = 1 : i64, route_scale = 2.5 : f64, norm_topk_prob} : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x2xf32>, tensor<3x2xi32>, tensor<3x4xf32>
  %dw = dsv3.constant dense<[[0.3, -0.2], [1.0, 0.5], [-0.4, 0.1]]> : tensor<3x2xf32>
  %ds = dsv3.constant dense<[[0.1, 0.0, -0.1, 0.2], [0.0, 0.3, 0.0, 0.0], [0.5, -0.5, 0.0, 0.1]]> : tensor<3x4xf32>
  %g1 = dsv3.router_grad softmax %l, %i, %dw scores %ds {norm_topk_prob} : tensor<3x4xf32>, tensor<3x2xi32>, tensor<3x2xf32>, tensor<3x4xf32>
  %g2 = dsv3.router_grad sigmoid %l, %i2, %dw {route_scale = 2.5 : f64, norm_topk_prob} : tensor<3x4xf32>, tensor<3x2xi32>, tensor<3x2xf32>
  %s3 = dsv3.reshape %s2 : tensor<3x4xf32> -> tensor<1x3x4xf32>
  %i3 = dsv3.reshape %i2 : tensor<3x2xi32> -> tensor<1x3x2xi32>
  %bl = dsv3.balance_loss %s3, %i3, alpha = 0.1 : tensor<1x3x4xf32>, tensor<1x3x2xi32> -> tensor<f32>
  %dl = dsv3.constant dense<2.0> : tensor<f32>
  %bg = dsv3.balance_loss_grad %s3, %i3, %dl, alpha = 0.1 : tensor<1x3x4xf32>, tensor<1x3x2xi32>, tensor<f32>
  return %w, %i, %s, %w2, %i2, %g1, %g2, %bl, %bg, %s2
      : tensor<3x2xf32>, tensor<3x2xi32>, tensor<3x4xf32>, tensor<3x2xf32>, tensor<3x2xi32>,
        tensor<3x4xf32>, tensor<3x4xf32>, tensor<f32>, tensor<1x3x4xf32>, tensor<3x4xf32>
}
