// AdamW (f32 and bf16 moments), the schedule in warmup and in decay,
// clipping, expert loads, the router bias update, the finiteness check,
// the loss-scale update (a non-finite step, a finite one that counts, one
// that grows the scale) and scatter-add: lowered to LLVM and run, they
// match the interpreter.
// RUN: %compare_with_interpreter %s | FileCheck %s
// CHECK: 19 results, 0 mismatches

func.func @compute() -> (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<f32>, tensor<f32>,
                         tensor<3xf32>, tensor<2xf32>, tensor<f32>, tensor<4xf32>, tensor<4xf32>,
                         tensor<5x3xf32>, tensor<2x2xf32>, tensor<f32>,
                         tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>) {
  %p = dsv3.constant dense<[[1.0, -2.0], [0.5, 3.0]]> : tensor<2x2xf32>
  %g = dsv3.constant dense<[[0.5, 0.1], [-0.3, 2.0]]> : tensor<2x2xf32>
  %m = dsv3.constant dense<[[0.1, 0.0], [0.05, -0.2]]> : tensor<2x2xf32>
  %v = dsv3.constant dense<[[0.01, 0.0], [0.02, 0.5]]> : tensor<2x2xf32>
  %lr = dsv3.constant dense<0.01> : tensor<f32>
  %t = dsv3.constant dense<3> : tensor<i64>
  %p2, %m2, %v2 = dsv3.adamw %p, %g, %m, %v, %lr, %t : tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<f32>, tensor<i64>
  %mb = dsv3.cast %m : tensor<2x2xf32> to tensor<2x2xbf16>
  %vb = dsv3.cast %v : tensor<2x2xf32> to tensor<2x2xbf16>
  %p3, %m3, %v3 = dsv3.adamw %p, %g, %mb, %vb, %lr, %t {weight_decay = 0.0 : f64} : tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xbf16>, tensor<2x2xbf16>, tensor<f32>, tensor<i64>
  %s4 = dsv3.constant dense<4> : tensor<i64>
  %s60 = dsv3.constant dense<60> : tensor<i64>
  %lr4 = dsv3.lr_schedule %s4 {peak_lr = 1.0e-03 : f64, min_lr = 1.0e-04 : f64, warmup_steps = 10 : i64, total_steps = 110 : i64} : tensor<i64>
  %lr60 = dsv3.lr_schedule %s60 {peak_lr = 1.0e-03 : f64, min_lr = 1.0e-04 : f64, warmup_steps = 10 : i64, total_steps = 110 : i64} : tensor<i64>
  %a = dsv3.constant dense<[3.0, 4.0, 12.0]> : tensor<3xf32>
  %b = dsv3.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %ca, %cb, %norm = dsv3.clip_by_global_norm %a, %b max_norm = 6.5 : tensor<3xf32>, tensor<2xf32>
  %idx = dsv3.constant dense<[[0, 3], [3, 1], [3, 0]]> : tensor<3x2xi32>
  %load = dsv3.expert_load %idx {num_experts = 4 : i64} : tensor<3x2xi32> -> tensor<4xf32>
  %bias = dsv3.constant dense<[0.0, 0.5, 0.0, -0.5]> : tensor<4xf32>
  %bias2 = dsv3.update_router_bias %bias, %load, gamma = 1.0e-03 : tensor<4xf32>
  %ids = dsv3.constant dense<[[1, 4], [1, 0]]> : tensor<2x2xi32>
  %dy = dsv3.constant dense<[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[0.5, 0.5, 0.5], [-1.0, 0.0, 1.0]]]> : tensor<2x2x3xf32>
  %sc = dsv3.scatter_add %dy[%ids] dim = 0 : tensor<2x2x3xf32>, tensor<2x2xi32> -> tensor<5x3xf32>
  %ok = dsv3.all_finite %p, %g : tensor<2x2xf32>, tensor<2x2xf32>
  %okf = dsv3.cast %ok : tensor<i1> to tensor<f32>
  %m3f = dsv3.cast %m3 : tensor<2x2xbf16> to tensor<2x2xf32>
  %scale = dsv3.constant dense<65536.0> : tensor<f32>
  %n1 = dsv3.constant dense<1> : tensor<i64>
  %n2 = dsv3.constant dense<2> : tensor<i64>
  %yes = dsv3.constant dense<true> : tensor<i1>
  %no = dsv3.constant dense<false> : tensor<i1>
  %sb, %nb = dsv3.update_loss_scale %scale, %n2, %no {growth_interval = 3 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
  %sk, %nk = dsv3.update_loss_scale %scale, %n1, %yes {growth_interval = 3 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
  %sg, %ng = dsv3.update_loss_scale %scale, %n2, %yes {growth_interval = 3 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
  %nbf = dsv3.cast %nb : tensor<i64> to tensor<f32>
  %nkf = dsv3.cast %nk : tensor<i64> to tensor<f32>
  %ngf = dsv3.cast %ng : tensor<i64> to tensor<f32>
  return %p2, %m2, %v2, %lr4, %lr60, %ca, %cb, %norm, %load, %bias2, %sc, %m3f, %okf,
         %sb, %nbf, %sk, %nkf, %sg, %ngf
      : tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>, tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<2xf32>,
        tensor<f32>, tensor<4xf32>, tensor<4xf32>, tensor<5x3xf32>, tensor<2x2xf32>, tensor<f32>,
        tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>
}
