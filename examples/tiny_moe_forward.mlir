// A 2-layer Mixture-of-Experts transformer, written by hand in the dsv3 dialect:
// a model description in its own right, which dsv3-compile and dsv3-opt's
// dsv3-train-pipeline turn into an executable, like the ModelSpec
// examples/tiny_moe_forward.pbtxt of the same model (their executables train
// identically).
//
// batch 2, sequence 16, hidden 32, 4 heads of 8, byte vocabulary 256;
// every layer: RMSNorm -> causal attention with RoPE (not across documents:
// the segment ids) -> residual -> RMSNorm -> MoE (softmax router over 4
// experts, top-2, SwiGLU experts of width 16) plus one shared SwiGLU expert of
// width 16 -> residual; then final RMSNorm, output head and cross entropy.
//
// What makes a forward graph a model description:
// - parameters carry their Hugging Face DeepSeek names (`dsv3.name`; stacked
//   experts have `{e}` for the expert index) and initializers (`dsv3.init`,
//   with `dsv3.init_std` for `normal`);
// - the batch inputs say which part of a packed batch they are (`dsv3.batch`);
// - the module names the model and its training knobs (`dsv3.training`).
//
//   dsv3-compile examples/tiny_moe_forward.mlir --target=cpu -o tiny_moe_forward.dsv3
//   dsv3-opt examples/tiny_moe_forward.mlir --dsv3-train-pipeline="target=cpu"
//   dsv3-opt examples/tiny_moe_forward.mlir --dsv3-print-cost -o /dev/null

module attributes {
    dsv3.model = "tiny_moe_forward",
    dsv3.training = {micro_batch = 2 : i64, seq_len = 16 : i64, grad_accum = 1 : i64,
                     lr = 3.0e-03 : f64, min_lr = 3.0e-04 : f64, beta1 = 0.9 : f64,
                     beta2 = 0.95 : f64, eps = 1.0e-08 : f64, weight_decay = 0.01 : f64,
                     warmup_steps = 10 : i64, total_steps = 100 : i64, clip_norm = 1.0 : f64,
                     seed = 1 : i64, bias_update_speed = 0.0 : f64}} {
func.func @forward(
    %embed: tensor<256x32xf32> {dsv3.name = "model.embed_tokens.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_ln1: tensor<32xf32> {dsv3.name = "model.layers.0.input_layernorm.weight", dsv3.init = "ones"},
    %l0_ln2: tensor<32xf32> {dsv3.name = "model.layers.0.post_attention_layernorm.weight", dsv3.init = "ones"},
    %l0_wq: tensor<32x32xf32> {dsv3.name = "model.layers.0.self_attn.q_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_wk: tensor<32x32xf32> {dsv3.name = "model.layers.0.self_attn.k_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_wv: tensor<32x32xf32> {dsv3.name = "model.layers.0.self_attn.v_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_wo: tensor<32x32xf32> {dsv3.name = "model.layers.0.self_attn.o_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_router: tensor<4x32xf32> {dsv3.name = "model.layers.0.mlp.gate.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_exp_gate: tensor<4x16x32xf32> {dsv3.name = "model.layers.0.mlp.experts.{e}.gate_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_exp_up: tensor<4x16x32xf32> {dsv3.name = "model.layers.0.mlp.experts.{e}.up_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_exp_down: tensor<4x32x16xf32> {dsv3.name = "model.layers.0.mlp.experts.{e}.down_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_sh_gate: tensor<16x32xf32> {dsv3.name = "model.layers.0.mlp.shared_experts.gate_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_sh_up: tensor<16x32xf32> {dsv3.name = "model.layers.0.mlp.shared_experts.up_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l0_sh_down: tensor<32x16xf32> {dsv3.name = "model.layers.0.mlp.shared_experts.down_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_ln1: tensor<32xf32> {dsv3.name = "model.layers.1.input_layernorm.weight", dsv3.init = "ones"},
    %l1_ln2: tensor<32xf32> {dsv3.name = "model.layers.1.post_attention_layernorm.weight", dsv3.init = "ones"},
    %l1_wq: tensor<32x32xf32> {dsv3.name = "model.layers.1.self_attn.q_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_wk: tensor<32x32xf32> {dsv3.name = "model.layers.1.self_attn.k_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_wv: tensor<32x32xf32> {dsv3.name = "model.layers.1.self_attn.v_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_wo: tensor<32x32xf32> {dsv3.name = "model.layers.1.self_attn.o_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_router: tensor<4x32xf32> {dsv3.name = "model.layers.1.mlp.gate.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_exp_gate: tensor<4x16x32xf32> {dsv3.name = "model.layers.1.mlp.experts.{e}.gate_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_exp_up: tensor<4x16x32xf32> {dsv3.name = "model.layers.1.mlp.experts.{e}.up_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_exp_down: tensor<4x32x16xf32> {dsv3.name = "model.layers.1.mlp.experts.{e}.down_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_sh_gate: tensor<16x32xf32> {dsv3.name = "model.layers.1.mlp.shared_experts.gate_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_sh_up: tensor<16x32xf32> {dsv3.name = "model.layers.1.mlp.shared_experts.up_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %l1_sh_down: tensor<32x16xf32> {dsv3.name = "model.layers.1.mlp.shared_experts.down_proj.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %norm: tensor<32xf32> {dsv3.name = "model.norm.weight", dsv3.init = "ones"},
    %head: tensor<256x32xf32> {dsv3.name = "lm_head.weight", dsv3.init = "normal", dsv3.init_std = 0.02},
    %tokens: tensor<2x16xi32> {dsv3.batch = "tokens"},
    %targets: tensor<2x16xi32> {dsv3.batch = "targets"},
    %positions: tensor<2x16xi32> {dsv3.batch = "positions"},
    %segments: tensor<2x16xi32> {dsv3.batch = "segment_ids"}) -> tensor<f32> {
  %h0 = dsv3.embedding %embed[%tokens] : tensor<256x32xf32>, tensor<2x16xi32> -> tensor<2x16x32xf32>

  // Layer 0: attention.
  %l0_xn = dsv3.rms_norm %h0, %l0_ln1, eps = 1.0e-06 : tensor<2x16x32xf32>, tensor<32xf32>
  %l0_q = dsv3.matmul %l0_xn, %l0_wq transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l0_q4 = dsv3.reshape %l0_q : tensor<2x16x32xf32> -> tensor<2x16x4x8xf32>
  %l0_k = dsv3.matmul %l0_xn, %l0_wk transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l0_k4 = dsv3.reshape %l0_k : tensor<2x16x32xf32> -> tensor<2x16x4x8xf32>
  %l0_v = dsv3.matmul %l0_xn, %l0_wv transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l0_v4 = dsv3.reshape %l0_v : tensor<2x16x32xf32> -> tensor<2x16x4x8xf32>
  %l0_qr = dsv3.rope %l0_q4, %positions, theta = 1.0e+04 : tensor<2x16x4x8xf32>, tensor<2x16xi32>
  %l0_kr = dsv3.rope %l0_k4, %positions, theta = 1.0e+04 : tensor<2x16x4x8xf32>, tensor<2x16xi32>
  %l0_att = dsv3.attention %l0_qr, %l0_kr, %l0_v4 segments %segments causal scale = 0.35355339059327373
      : tensor<2x16x4x8xf32>, tensor<2x16x4x8xf32>, tensor<2x16x4x8xf32>, tensor<2x16xi32> -> tensor<2x16x4x8xf32>
  %l0_att3 = dsv3.reshape %l0_att : tensor<2x16x4x8xf32> -> tensor<2x16x32xf32>
  %l0_o = dsv3.matmul %l0_att3, %l0_wo transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l0_h1 = dsv3.add %h0, %l0_o : tensor<2x16x32xf32>

  // Layer 0: mixture of experts over the 32 tokens, plus the shared expert.
  %l0_yn = dsv3.rms_norm %l0_h1, %l0_ln2, eps = 1.0e-06 : tensor<2x16x32xf32>, tensor<32xf32>
  %l0_tok = dsv3.reshape %l0_yn : tensor<2x16x32xf32> -> tensor<32x32xf32>
  %l0_logits = dsv3.matmul %l0_tok, %l0_router transpose_rhs : tensor<32x32xf32>, tensor<4x32xf32> -> tensor<32x4xf32>
  %l0_gw, %l0_idx, %l0_scores = dsv3.router softmax %l0_logits {top_k = 2 : i64, norm_topk_prob}
      : tensor<32x4xf32> -> tensor<32x2xf32>, tensor<32x2xi32>, tensor<32x4xf32>
  %l0_rows, %l0_sizes = dsv3.moe_dispatch %l0_tok, %l0_idx {num_experts = 4 : i64}
      : tensor<32x32xf32>, tensor<32x2xi32> -> tensor<64x32xf32>, tensor<4xi32>
  %l0_eg = dsv3.grouped_matmul %l0_rows, %l0_exp_gate, %l0_sizes transpose_rhs
      : tensor<64x32xf32>, tensor<4x16x32xf32>, tensor<4xi32> -> tensor<64x16xf32>
  %l0_eu = dsv3.grouped_matmul %l0_rows, %l0_exp_up, %l0_sizes transpose_rhs
      : tensor<64x32xf32>, tensor<4x16x32xf32>, tensor<4xi32> -> tensor<64x16xf32>
  %l0_ea = dsv3.silu %l0_eg : tensor<64x16xf32>
  %l0_em = dsv3.mul %l0_ea, %l0_eu : tensor<64x16xf32>
  %l0_ed = dsv3.grouped_matmul %l0_em, %l0_exp_down, %l0_sizes transpose_rhs
      : tensor<64x16xf32>, tensor<4x32x16xf32>, tensor<4xi32> -> tensor<64x32xf32>
  %l0_moe = dsv3.moe_combine %l0_ed, %l0_gw, %l0_idx {num_experts = 4 : i64}
      : tensor<64x32xf32>, tensor<32x2xf32>, tensor<32x2xi32> -> tensor<32x32xf32>
  %l0_sg = dsv3.matmul %l0_tok, %l0_sh_gate transpose_rhs : tensor<32x32xf32>, tensor<16x32xf32> -> tensor<32x16xf32>
  %l0_sa = dsv3.silu %l0_sg : tensor<32x16xf32>
  %l0_su = dsv3.matmul %l0_tok, %l0_sh_up transpose_rhs : tensor<32x32xf32>, tensor<16x32xf32> -> tensor<32x16xf32>
  %l0_sm = dsv3.mul %l0_sa, %l0_su : tensor<32x16xf32>
  %l0_sd = dsv3.matmul %l0_sm, %l0_sh_down transpose_rhs : tensor<32x16xf32>, tensor<32x16xf32> -> tensor<32x32xf32>
  %l0_ffn = dsv3.add %l0_moe, %l0_sd : tensor<32x32xf32>
  %l0_ffn3 = dsv3.reshape %l0_ffn : tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l0_h2 = dsv3.add %l0_h1, %l0_ffn3 : tensor<2x16x32xf32>

  // Layer 1: attention.
  %l1_xn = dsv3.rms_norm %l0_h2, %l1_ln1, eps = 1.0e-06 : tensor<2x16x32xf32>, tensor<32xf32>
  %l1_q = dsv3.matmul %l1_xn, %l1_wq transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l1_q4 = dsv3.reshape %l1_q : tensor<2x16x32xf32> -> tensor<2x16x4x8xf32>
  %l1_k = dsv3.matmul %l1_xn, %l1_wk transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l1_k4 = dsv3.reshape %l1_k : tensor<2x16x32xf32> -> tensor<2x16x4x8xf32>
  %l1_v = dsv3.matmul %l1_xn, %l1_wv transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l1_v4 = dsv3.reshape %l1_v : tensor<2x16x32xf32> -> tensor<2x16x4x8xf32>
  %l1_qr = dsv3.rope %l1_q4, %positions, theta = 1.0e+04 : tensor<2x16x4x8xf32>, tensor<2x16xi32>
  %l1_kr = dsv3.rope %l1_k4, %positions, theta = 1.0e+04 : tensor<2x16x4x8xf32>, tensor<2x16xi32>
  %l1_att = dsv3.attention %l1_qr, %l1_kr, %l1_v4 segments %segments causal scale = 0.35355339059327373
      : tensor<2x16x4x8xf32>, tensor<2x16x4x8xf32>, tensor<2x16x4x8xf32>, tensor<2x16xi32> -> tensor<2x16x4x8xf32>
  %l1_att3 = dsv3.reshape %l1_att : tensor<2x16x4x8xf32> -> tensor<2x16x32xf32>
  %l1_o = dsv3.matmul %l1_att3, %l1_wo transpose_rhs : tensor<2x16x32xf32>, tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l1_h1 = dsv3.add %l0_h2, %l1_o : tensor<2x16x32xf32>

  // Layer 1: mixture of experts over the 32 tokens, plus the shared expert.
  %l1_yn = dsv3.rms_norm %l1_h1, %l1_ln2, eps = 1.0e-06 : tensor<2x16x32xf32>, tensor<32xf32>
  %l1_tok = dsv3.reshape %l1_yn : tensor<2x16x32xf32> -> tensor<32x32xf32>
  %l1_logits = dsv3.matmul %l1_tok, %l1_router transpose_rhs : tensor<32x32xf32>, tensor<4x32xf32> -> tensor<32x4xf32>
  %l1_gw, %l1_idx, %l1_scores = dsv3.router softmax %l1_logits {top_k = 2 : i64, norm_topk_prob}
      : tensor<32x4xf32> -> tensor<32x2xf32>, tensor<32x2xi32>, tensor<32x4xf32>
  %l1_rows, %l1_sizes = dsv3.moe_dispatch %l1_tok, %l1_idx {num_experts = 4 : i64}
      : tensor<32x32xf32>, tensor<32x2xi32> -> tensor<64x32xf32>, tensor<4xi32>
  %l1_eg = dsv3.grouped_matmul %l1_rows, %l1_exp_gate, %l1_sizes transpose_rhs
      : tensor<64x32xf32>, tensor<4x16x32xf32>, tensor<4xi32> -> tensor<64x16xf32>
  %l1_eu = dsv3.grouped_matmul %l1_rows, %l1_exp_up, %l1_sizes transpose_rhs
      : tensor<64x32xf32>, tensor<4x16x32xf32>, tensor<4xi32> -> tensor<64x16xf32>
  %l1_ea = dsv3.silu %l1_eg : tensor<64x16xf32>
  %l1_em = dsv3.mul %l1_ea, %l1_eu : tensor<64x16xf32>
  %l1_ed = dsv3.grouped_matmul %l1_em, %l1_exp_down, %l1_sizes transpose_rhs
      : tensor<64x16xf32>, tensor<4x32x16xf32>, tensor<4xi32> -> tensor<64x32xf32>
  %l1_moe = dsv3.moe_combine %l1_ed, %l1_gw, %l1_idx {num_experts = 4 : i64}
      : tensor<64x32xf32>, tensor<32x2xf32>, tensor<32x2xi32> -> tensor<32x32xf32>
  %l1_sg = dsv3.matmul %l1_tok, %l1_sh_gate transpose_rhs : tensor<32x32xf32>, tensor<16x32xf32> -> tensor<32x16xf32>
  %l1_sa = dsv3.silu %l1_sg : tensor<32x16xf32>
  %l1_su = dsv3.matmul %l1_tok, %l1_sh_up transpose_rhs : tensor<32x32xf32>, tensor<16x32xf32> -> tensor<32x16xf32>
  %l1_sm = dsv3.mul %l1_sa, %l1_su : tensor<32x16xf32>
  %l1_sd = dsv3.matmul %l1_sm, %l1_sh_down transpose_rhs : tensor<32x16xf32>, tensor<32x16xf32> -> tensor<32x32xf32>
  %l1_ffn = dsv3.add %l1_moe, %l1_sd : tensor<32x32xf32>
  %l1_ffn3 = dsv3.reshape %l1_ffn : tensor<32x32xf32> -> tensor<2x16x32xf32>
  %l1_h2 = dsv3.add %l1_h1, %l1_ffn3 : tensor<2x16x32xf32>

  // Final norm, output head, loss.
  %hn = dsv3.rms_norm %l1_h2, %norm, eps = 1.0e-06 : tensor<2x16x32xf32>, tensor<32xf32>
  %logits = dsv3.matmul %hn, %head transpose_rhs : tensor<2x16x32xf32>, tensor<256x32xf32> -> tensor<2x16x256xf32>
  %loss = dsv3.cross_entropy %logits, %targets : tensor<2x16x256xf32>, tensor<2x16xi32> -> tensor<f32>
  return %loss : tensor<f32>
}
}
