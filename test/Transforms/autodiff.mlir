// RUN: dsv3-opt %s --dsv3-autodiff -split-input-file | FileCheck %s
// RUN: dsv3-opt %s --dsv3-autodiff="moments=bf16" -split-input-file | FileCheck %s --check-prefix=BF16

// A tied-embedding model: the backward reuses the forward values (logits,
// the normalized and the embedded activations), the two uses of the
// embedding add up, and every parameter gets exactly one AdamW update.
module attributes {dsv3.training = {lr = 1.0e-03 : f64, min_lr = 1.0e-04 : f64, warmup_steps = 10 : i64, total_steps = 100 : i64, clip_norm = 1.0 : f64, weight_decay = 1.0e-01 : f64}} {
  func.func @forward(%emb: tensor<8x4xf32> {dsv3.name = "embed"}, %norm: tensor<4xf32> {dsv3.name = "norm"},
                     %tokens: tensor<2x3xi32> {dsv3.batch = "tokens"}, %targets: tensor<2x3xi32> {dsv3.batch = "targets"}) -> tensor<f32> {
    %h = dsv3.embedding %emb[%tokens] : tensor<8x4xf32>, tensor<2x3xi32> -> tensor<2x3x4xf32>
    %n = dsv3.rms_norm %h, %norm, eps = 1.0e-06 : tensor<2x3x4xf32>, tensor<4xf32>
    %logits = dsv3.matmul %n, %emb transpose_rhs : tensor<2x3x4xf32>, tensor<8x4xf32> -> tensor<2x3x8xf32>
    %loss = dsv3.cross_entropy %logits, %targets : tensor<2x3x8xf32>, tensor<2x3xi32> -> tensor<f32>
    return %loss : tensor<f32>
  }
}

// The forward function stays.
// CHECK-LABEL: func.func @forward(
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[EMB:[^:]+]]: tensor<8x4xf32> {dsv3.name = "embed", dsv3.role = "param"}
// CHECK-SAME: %[[NORM:[^:]+]]: tensor<4xf32> {dsv3.name = "norm", dsv3.role = "param"}
// CHECK-SAME: %[[MEMB:[^:]+]]: tensor<8x4xf32> {dsv3.init = "zeros", dsv3.name = "embed.exp_avg", dsv3.role = "opt_state"}
// CHECK-SAME: %[[MNORM:[^:]+]]: tensor<4xf32> {dsv3.init = "zeros", dsv3.name = "norm.exp_avg", dsv3.role = "opt_state"}
// CHECK-SAME: %[[VEMB:[^:]+]]: tensor<8x4xf32> {dsv3.init = "zeros", dsv3.name = "embed.exp_avg_sq", dsv3.role = "opt_state"}
// CHECK-SAME: %[[VNORM:[^:]+]]: tensor<4xf32> {dsv3.init = "zeros", dsv3.name = "norm.exp_avg_sq", dsv3.role = "opt_state"}
// CHECK-SAME: %[[TOK:[^:]+]]: tensor<2x3xi32> {dsv3.batch = "tokens", dsv3.role = "batch"}
// CHECK-SAME: %[[TGT:[^:]+]]: tensor<2x3xi32> {dsv3.batch = "targets", dsv3.role = "batch"}
// CHECK-SAME: %[[STEP:[^:]+]]: tensor<i64> {dsv3.role = "step"})
// CHECK-SAME: -> (tensor<f32> {dsv3.name = "loss", dsv3.role = "loss"}, tensor<8x4xf32> {dsv3.name = "embed", dsv3.role = "param"}
// CHECK-SAME: tensor<f32> {dsv3.name = "grad_norm", dsv3.role = "metric"}, tensor<f32> {dsv3.name = "lr", dsv3.role = "metric"})
// Forward.
// CHECK: %[[H:.*]] = dsv3.embedding %[[EMB]][%[[TOK]]]
// CHECK: %[[N:.*]] = dsv3.rms_norm %[[H]], %[[NORM]]
// CHECK: %[[LOGITS:.*]] = dsv3.matmul %[[N]], %[[EMB]] transpose_rhs
// CHECK: %[[LOSS:.*]] = dsv3.cross_entropy %[[LOGITS]], %[[TGT]]
// Backward, seeded with d loss = 1 (marked: loss scaling replaces it),
// from the forward's own values.
// CHECK: %[[ONE:.*]] = dsv3.constant {dsv3.loss_seed} dense<1.000000e+00> : tensor<f32>
// CHECK: %[[DLOGITS:.*]] = dsv3.cross_entropy_grad %[[LOGITS]], %[[TGT]], %[[ONE]]
// CHECK: %[[DN:.*]] = dsv3.matmul %[[DLOGITS]], %[[EMB]] : tensor<2x3x8xf32>, tensor<8x4xf32> -> tensor<2x3x4xf32>
// CHECK: %[[N2:.*]] = dsv3.reshape %[[N]] : tensor<2x3x4xf32> -> tensor<6x4xf32>
// CHECK: %[[D2:.*]] = dsv3.reshape %[[DLOGITS]] : tensor<2x3x8xf32> -> tensor<6x8xf32>
// CHECK: %[[DHEAD:.*]] = dsv3.matmul %[[D2]], %[[N2]] transpose_lhs : tensor<6x8xf32>, tensor<6x4xf32> -> tensor<8x4xf32>
// CHECK: %[[DH:.*]], %[[DNORM:.*]] = dsv3.rms_norm_grad %[[H]], %[[NORM]], %[[DN]]
// CHECK: %[[DTABLE:.*]] = dsv3.scatter_add %[[DH]][%[[TOK]]] dim = 0 : tensor<2x3x4xf32>, tensor<2x3xi32> -> tensor<8x4xf32>
// CHECK: %[[DEMB:.*]] = dsv3.add %[[DHEAD]], %[[DTABLE]] : tensor<8x4xf32>
// Optimizer.
// CHECK: %[[CLIPPED:.*]]:2, %[[GNORM:.*]] = dsv3.clip_by_global_norm %[[DEMB]], %[[DNORM]] max_norm = 1.000000e+00
// CHECK: %[[LR:.*]] = dsv3.lr_schedule %[[STEP]] {min_lr = 1.000000e-04 : f64, peak_lr = 1.000000e-03 : f64, total_steps = 100 : i64, warmup_steps = 10 : i64}
// CHECK: %[[T:.*]] = dsv3.add %[[STEP]], %{{.*}} : tensor<i64>
// CHECK: %[[PEMB:.*]], %[[MEMB2:.*]], %[[VEMB2:.*]] = dsv3.adamw %[[EMB]], %[[CLIPPED]]#0, %[[MEMB]], %[[VEMB]], %[[LR]], %[[T]] :
// CHECK: %[[PNORM:.*]], %[[MNORM2:.*]], %[[VNORM2:.*]] = dsv3.adamw %[[NORM]], %[[CLIPPED]]#1, %[[MNORM]], %[[VNORM]], %[[LR]], %[[T]] {weight_decay = 0.000000e+00 : f64}
// CHECK-NOT: dsv3.adamw
// CHECK: return %[[LOSS]], %[[PEMB]], %[[PNORM]], %[[MEMB2]], %[[MNORM2]], %[[VEMB2]], %[[VNORM2]], %[[GNORM]], %[[LR]]

// With moments=bf16 the optimizer state is bf16.
// BF16-LABEL: func.func @train_step(
// BF16-SAME: tensor<8x4xbf16> {dsv3.init = "zeros", dsv3.name = "embed.exp_avg", dsv3.role = "opt_state"}
// BF16: dsv3.adamw {{.*}} : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xbf16>, tensor<8x4xbf16>, tensor<f32>, tensor<i64>

// -----

// Aux-loss-free balancing: the frozen router bias gets no gradient and no
// optimizer state; it moves by gamma against the expert load, which is
// also a metric.
module attributes {dsv3.training = {bias_update_speed = 1.0e-03 : f64}} {
  func.func @forward(%x: tensor<6x4xf32> {dsv3.name = "x"}, %gate: tensor<3x4xf32> {dsv3.name = "layers.1.mlp.gate.weight"},
                     %bias: tensor<3xf32> {dsv3.name = "layers.1.mlp.gate.e_score_correction_bias", dsv3.trainable = false},
                     %t: tensor<6xi32> {dsv3.batch = "targets"}) -> tensor<f32> {
    %logits = dsv3.matmul %x, %gate transpose_rhs : tensor<6x4xf32>, tensor<3x4xf32> -> tensor<6x3xf32>
    %w, %idx, %s = dsv3.router sigmoid %logits bias %bias {top_k = 1 : i64} : tensor<6x3xf32>, tensor<3xf32> -> tensor<6x1xf32>, tensor<6x1xi32>, tensor<6x3xf32>
    %l = dsv3.cross_entropy %s, %t : tensor<6x3xf32>, tensor<6xi32> -> tensor<f32>
    return %l : tensor<f32>
  }
}

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]+]]: tensor<6x4xf32> {dsv3.name = "x", dsv3.role = "param"}
// CHECK-SAME: %[[GATE:[^:]+]]: tensor<3x4xf32>
// CHECK-SAME: %[[BIAS:[^:]+]]: tensor<3xf32> {dsv3.name = "layers.1.mlp.gate.e_score_correction_bias", dsv3.role = "param", dsv3.trainable = false}
// CHECK-NOT: e_score_correction_bias.exp_avg
// CHECK-SAME: tensor<3xf32> {dsv3.name = "layers.1.expert_load", dsv3.role = "metric"}
// CHECK: %{{.*}}, %[[IDX:.*]], %{{.*}} = dsv3.router sigmoid %{{.*}} bias %[[BIAS]]
// CHECK: dsv3.router_grad sigmoid %{{.*}}, %[[IDX]], %{{.*}} scores %{{.*}}
// CHECK-COUNT-2: dsv3.adamw
// CHECK-NOT: dsv3.adamw
// CHECK: %[[LOAD:.*]] = dsv3.expert_load %[[IDX]] {num_experts = 3 : i64} : tensor<6x1xi32> -> tensor<3xf32>
// CHECK: %[[NEWBIAS:.*]] = dsv3.update_router_bias %[[BIAS]], %[[LOAD]], gamma = 1.000000e-03
// CHECK: return {{.*}}, %[[NEWBIAS]], {{.*}}, %[[LOAD]] :

// -----

// Gradient accumulation: the batch stacks two micro-batches; the forward
// and its backward run on each half in turn (each backward seeded with
// 1/2), the gradients add up, and the loss is their mean.
module attributes {dsv3.training = {grad_accum = 2 : i64}} {
  func.func @forward(%e: tensor<8x4xf32> {dsv3.name = "e"}, %w: tensor<4x5xf32> {dsv3.name = "w"},
                     %tok: tensor<3xi32> {dsv3.batch = "tokens"},
                     %t: tensor<3xi32> {dsv3.batch = "targets"}) -> tensor<f32> {
    %x = dsv3.embedding %e[%tok] : tensor<8x4xf32>, tensor<3xi32> -> tensor<3x4xf32>
    %y = dsv3.matmul %x, %w : tensor<3x4xf32>, tensor<4x5xf32> -> tensor<3x5xf32>
    %l = dsv3.cross_entropy %y, %t : tensor<3x5xf32>, tensor<3xi32> -> tensor<f32>
    return %l : tensor<f32>
  }
}

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[^:]+]]: tensor<4x5xf32>
// CHECK-SAME: %[[X:[^:]+]]: tensor<6xi32> {dsv3.batch = "tokens", dsv3.role = "batch"}
// CHECK-SAME: %[[T:[^:]+]]: tensor<6xi32> {dsv3.batch = "targets", dsv3.role = "batch"}
// CHECK: %[[X0:.*]] = dsv3.slice %[[X]], start = [0], limit = [3]
// CHECK: %[[T0:.*]] = dsv3.slice %[[T]], start = [0], limit = [3]
// CHECK: %[[E0:.*]] = dsv3.embedding %{{.*}}[%[[X0]]]
// CHECK: %[[L0:.*]] = dsv3.cross_entropy %{{.*}}, %[[T0]]
// CHECK: %[[SEED0:.*]] = dsv3.constant {dsv3.loss_seed} dense<5.000000e-01> : tensor<f32>
// CHECK: dsv3.cross_entropy_grad %{{.*}}, %[[T0]], %[[SEED0]]
// CHECK: %[[G0:.*]] = dsv3.matmul %[[E0]], %{{.*}} transpose_lhs
// CHECK: %[[X1:.*]] = dsv3.slice %[[X]], start = [3], limit = [6]
// CHECK: %[[T1:.*]] = dsv3.slice %[[T]], start = [3], limit = [6]
// CHECK: %[[E1:.*]] = dsv3.embedding %{{.*}}[%[[X1]]]
// CHECK: %[[L1:.*]] = dsv3.cross_entropy %{{.*}}, %[[T1]]
// CHECK: %[[SEED1:.*]] = dsv3.constant {dsv3.loss_seed} dense<5.000000e-01> : tensor<f32>
// CHECK: dsv3.cross_entropy_grad %{{.*}}, %[[T1]], %[[SEED1]]
// CHECK: %[[G1:.*]] = dsv3.matmul %[[E1]], %{{.*}} transpose_lhs
// Both micro-batches' weight gradients add up.
// CHECK: %[[G:.*]] = dsv3.add %[[G0]], %[[G1]] : tensor<4x5xf32>
// CHECK: %[[SUM:.*]] = dsv3.add %[[L0]], %[[L1]] : tensor<f32>
// CHECK: %[[HALF:.*]] = dsv3.constant dense<5.000000e-01> : tensor<f32>
// CHECK: %[[LOSS:.*]] = dsv3.mul %[[SUM]], %[[HALF]] : tensor<f32>
// CHECK: dsv3.clip_by_global_norm %{{.*}}, %[[G]]
// CHECK: return %[[LOSS]]

// -----

// The cotangents of adjacent slices of one value are joined by a concat,
// not summed as zero-padded tensors (what each slice's VJP makes alone).
module attributes {dsv3.training = {}} {
  func.func @forward(%e: tensor<8x4xf32> {dsv3.name = "e"}, %w: tensor<4x8xf32> {dsv3.name = "w"},
                     %tok: tensor<3xi32> {dsv3.batch = "tokens"},
                     %t: tensor<3xi32> {dsv3.batch = "targets"}) -> tensor<f32> {
    %x = dsv3.embedding %e[%tok] : tensor<8x4xf32>, tensor<3xi32> -> tensor<3x4xf32>
    %y = dsv3.matmul %x, %w : tensor<3x4xf32>, tensor<4x8xf32> -> tensor<3x8xf32>
    %p = dsv3.slice %y, start = [0, 0], limit = [3, 2] : tensor<3x8xf32> -> tensor<3x2xf32>
    %q = dsv3.slice %y, start = [0, 2], limit = [3, 5] : tensor<3x8xf32> -> tensor<3x3xf32>
    %r = dsv3.slice %y, start = [0, 5], limit = [3, 8] : tensor<3x8xf32> -> tensor<3x3xf32>
    %z = dsv3.concat %r, %p, %q dim = 1 : tensor<3x3xf32>, tensor<3x2xf32>, tensor<3x3xf32> -> tensor<3x8xf32>
    %l = dsv3.cross_entropy %z, %t : tensor<3x8xf32>, tensor<3xi32> -> tensor<f32>
    return %l : tensor<f32>
  }
}

// CHECK-LABEL: func.func @train_step(
// CHECK: %[[DZ:.*]] = dsv3.cross_entropy_grad
// CHECK-NOT: dsv3.pad
// CHECK: %[[DP:.*]] = dsv3.slice %[[DZ]], start = [0, 3], limit = [3, 5]
// CHECK: %[[JOINED:.*]] = dsv3.concat %{{.*}}, %{{.*}} dim = 1 : tensor<3x3xf32>, tensor<3x3xf32> -> tensor<3x6xf32>
// CHECK-NOT: dsv3.pad
// CHECK: %[[DY:.*]] = dsv3.concat %[[DP]], %[[JOINED]] dim = 1 : tensor<3x2xf32>, tensor<3x6xf32> -> tensor<3x8xf32>
// CHECK-NOT: dsv3.pad
// CHECK: dsv3.matmul %[[DY]], %{{.*}} transpose_rhs
