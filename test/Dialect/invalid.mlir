// Every diagnostic a dsv3 verifier or type inference can emit, one per case.
// RUN: dsv3-opt %s -split-input-file -verify-diagnostics

// Static shapes only: the whole compiler plans memory ahead of time.
func.func @dynamic_shape(%x: tensor<?x8xf32>) {
  // expected-error @below {{must be statically shaped tensor}}
  %y = dsv3.exp %x : tensor<?x8xf32>
  return
}

// -----

func.func @unsupported_element_type(%x: tensor<4xf80>) {
  // expected-error @below {{dsv3 floating-point values}}
  %y = dsv3.exp %x : tensor<4xf80>
  return
}

// -----

func.func @inferred_type_mismatch(%x: tensor<2x3xf32>) {
  // expected-error @below {{'dsv3.transpose' op inferred type(s) 'tensor<3x2xf32>' are incompatible with return type(s) of operation 'tensor<2x3xf32>'}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.transpose %x, perm = [1, 0] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @reshape_element_type(%x: tensor<2x3xf32>) {
  // expected-error @below {{element type changes from 'f32' to 'bf16'; use dsv3.cast}}
  %y = dsv3.reshape %x : tensor<2x3xf32> -> tensor<6xbf16>
  return
}

// -----

func.func @reshape_count(%x: tensor<2x3xf32>) {
  // expected-error @below {{element count changes from 6 to 8}}
  %y = dsv3.reshape %x : tensor<2x3xf32> -> tensor<8xf32>
  return
}

// -----

func.func @cast_shape(%x: tensor<2x3xf32>) {
  // expected-error @below {{requires the same shape for all operands and results}}
  %y = dsv3.cast %x : tensor<2x3xf32> to tensor<3x2xbf16>
  return
}

// -----

func.func @transpose_perm_size(%x: tensor<2x3xf32>) {
  // expected-error @below {{perm has 3 entries for an input of rank 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.transpose %x, perm = [0, 1, 2] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @transpose_not_permutation(%x: tensor<2x3xf32>) {
  // expected-error @below {{perm [0, 0] is not a permutation of [0, 2)}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.transpose %x, perm = [0, 0] : tensor<2x3xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @broadcast_element_type(%x: tensor<3xf32>) {
  // expected-error @below {{element type changes from 'f32' to 'bf16'}}
  %y = dsv3.broadcast %x, dims = [1] : tensor<3xf32> -> tensor<2x3xbf16>
  return
}

// -----

func.func @broadcast_dims_size(%x: tensor<3xf32>) {
  // expected-error @below {{dims has 2 entries for an input of rank 1}}
  %y = dsv3.broadcast %x, dims = [0, 1] : tensor<3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @broadcast_dims_range(%x: tensor<3xf32>) {
  // expected-error @below {{dims[0] = 2 is out of range for result rank 2}}
  %y = dsv3.broadcast %x, dims = [2] : tensor<3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @broadcast_dims_order(%x: tensor<3x1xf32>) {
  // expected-error @below {{dims must be strictly increasing, got [1, 0]}}
  %y = dsv3.broadcast %x, dims = [1, 0] : tensor<3x1xf32> -> tensor<3x3xf32>
  return
}

// -----

func.func @broadcast_size(%x: tensor<4xf32>) {
  // expected-error @below {{input dimension 0 (size 4) cannot broadcast to result dimension 1 (size 3)}}
  %y = dsv3.broadcast %x, dims = [1] : tensor<4xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @slice_entries(%x: tensor<4x8xf32>) {
  // expected-error @below {{start, limit and strides need one entry per input dimension (2)}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.slice %x, start = [0], limit = [4] : tensor<4x8xf32> -> tensor<4xf32>
  return
}

// -----

func.func @slice_stride(%x: tensor<4x8xf32>) {
  // expected-error @below {{strides[1] = 0 must be >= 1}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.slice %x, start = [0, 0], limit = [4, 8], strides = [1, 0] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @slice_bounds(%x: tensor<4x8xf32>) {
  // expected-error @below {{dimension 1: need 0 <= start (2) <= limit (9) <= size (8)}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.slice %x, start = [0, 2], limit = [4, 9] : tensor<4x8xf32> -> tensor<4x7xf32>
  return
}

// -----

func.func @concat_empty() {
  // expected-error @below {{needs at least one input}}
  // expected-error @below {{failed to infer returned types}}
  %y = "dsv3.concat"() <{dim = 0 : i64}> : () -> tensor<4xf32>
  return
}

// -----

func.func @concat_dim(%a: tensor<4xf32>) {
  // expected-error @below {{dim 1 is out of range for rank 1}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.concat %a, %a dim = 1 : tensor<4xf32>, tensor<4xf32> -> tensor<8xf32>
  return
}

// -----

func.func @concat_rank(%a: tensor<4xf32>, %b: tensor<4x1xf32>) {
  // expected-error @below {{input 1 differs from input 0 in rank or element type}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.concat %a, %b dim = 0 : tensor<4xf32>, tensor<4x1xf32> -> tensor<8xf32>
  return
}

// -----

func.func @concat_size(%a: tensor<4x2xf32>, %b: tensor<4x3xf32>) {
  // expected-error @below {{input 1 has size 3 in dimension 1, input 0 has 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.concat %a, %b dim = 0 : tensor<4x2xf32>, tensor<4x3xf32> -> tensor<8x2xf32>
  return
}

// -----

func.func @gather_dim(%x: tensor<4x8xf32>, %i: tensor<2xi32>) {
  // expected-error @below {{dim 2 is out of range for rank 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.gather %x[%i] dim = 2 : tensor<4x8xf32>, tensor<2xi32> -> tensor<2x8xf32>
  return
}

// -----

func.func @select_shape(%c: tensor<3xi1>, %a: tensor<4xf32>) {
  // expected-error @below {{all of {condition, on_true} have same shape}}
  %y = dsv3.select %c, %a, %a : tensor<3xi1>, tensor<4xf32>
  return
}

// -----

func.func @reduce_no_dims(%x: tensor<4x8xf32>) {
  // expected-error @below {{dims must name at least one dimension}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.reduce sum %x, dims = [] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @reduce_dim_range(%x: tensor<4x8xf32>) {
  // expected-error @below {{reduced dimension 2 is out of range for rank 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.reduce max %x, dims = [2] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @reduce_dim_order(%x: tensor<4x8xf32>) {
  // expected-error @below {{dims must be strictly increasing, got [1, 0]}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.reduce mean %x, dims = [1, 0] : tensor<4x8xf32> -> tensor<f32>
  return
}

// -----

func.func @softmax_dim(%x: tensor<4x8xf32>) {
  // expected-error @below {{'dsv3.softmax' op dim 2 is out of range for rank 2}}
  %y = dsv3.softmax %x, dim = 2 : tensor<4x8xf32>
  return
}

// -----

func.func @log_softmax_dim(%x: tensor<4x8xf32>) {
  // expected-error @below {{'dsv3.log_softmax' op dim -1 is out of range for rank 2}}
  %y = dsv3.log_softmax %x, dim = -1 : tensor<4x8xf32>
  return
}

// -----

func.func @embedding_table(%t: tensor<256xf32>, %ids: tensor<2x8xi32>) {
  // expected-error @below {{table must be [vocab, hidden], got rank 1}}
  // expected-error @below {{failed to infer returned types}}
  %h = dsv3.embedding %t[%ids] : tensor<256xf32>, tensor<2x8xi32> -> tensor<2x8xf32>
  return
}

// -----

func.func @rms_norm_rank(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @below {{input must have rank >= 1}}
  %y = dsv3.rms_norm %x, %w, eps = 1.0e-06 : tensor<f32>, tensor<1xf32>
  return
}

// -----

func.func @rms_norm_weight(%x: tensor<2x64xf32>, %w: tensor<32xf32>) {
  // expected-error @below {{weight must be [64] (the last input dimension), got [32]}}
  %y = dsv3.rms_norm %x, %w, eps = 1.0e-06 : tensor<2x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @rms_norm_eps(%x: tensor<2x64xf32>, %w: tensor<64xf32>) {
  // expected-error @below {{eps must be positive, got 0}}
  %y = dsv3.rms_norm %x, %w, eps = 0.0 : tensor<2x64xf32>, tensor<64xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<8xf32>, %b: tensor<8x4xf32>) {
  // expected-error @below {{operands need rank >= 2, got 1 and 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.matmul %a, %b : tensor<8xf32>, tensor<8x4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @matmul_element_types(%a: tensor<2x8xf32>, %b: tensor<8x4xbf16>) {
  // expected-error @below {{operand element types differ: 'f32' vs 'bf16'}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.matmul %a, %b : tensor<2x8xf32>, tensor<8x4xbf16> -> tensor<2x4xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<3x2x8xf32>, %b: tensor<2x8x4xf32>) {
  // expected-error @below {{batch dimensions differ: [3] vs [2]}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.matmul %a, %b : tensor<3x2x8xf32>, tensor<2x8x4xf32> -> tensor<3x2x4xf32>
  return
}

// -----

func.func @matmul_contracting(%a: tensor<2x8xf32>, %b: tensor<4x8xf32>) {
  // expected-error @below {{contracting dimensions differ: lhs has K = 8, rhs has K = 4}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.matmul %a, %b : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @rope_rank(%x: tensor<2x8xf32>, %p: tensor<2x8xi32>) {
  // expected-error @below {{input must be [batch, seq, D] or [batch, seq, heads, D], got rank 2}}
  %y = dsv3.rope %x, %p, theta = 1.0e+04 : tensor<2x8xf32>, tensor<2x8xi32>
  return
}

// -----

func.func @rope_odd(%x: tensor<2x8x15xf32>, %p: tensor<2x8xi32>) {
  // expected-error @below {{rotary dimension must be even, got 15}}
  %y = dsv3.rope %x, %p, theta = 1.0e+04 : tensor<2x8x15xf32>, tensor<2x8xi32>
  return
}

// -----

func.func @rope_positions(%x: tensor<2x8x16xf32>, %p: tensor<2x4xi32>) {
  // expected-error @below {{positions must be [batch, seq] = [2, 8], got [2, 4]}}
  %y = dsv3.rope %x, %p, theta = 1.0e+04 : tensor<2x8x16xf32>, tensor<2x4xi32>
  return
}

// -----

func.func @rope_theta(%x: tensor<2x8x16xf32>, %p: tensor<2x8xi32>) {
  // expected-error @below {{theta must be positive}}
  %y = dsv3.rope %x, %p, theta = 0.0 : tensor<2x8x16xf32>, tensor<2x8xi32>
  return
}

// -----

func.func @rope_yarn_factor(%x: tensor<2x8x16xf32>, %p: tensor<2x8xi32>) {
  // expected-error @below {{yarn_factor must be >= 1, got 5.000000e-01}}
  %y = dsv3.rope %x, %p, theta = 1.0e+04 {yarn_factor = 0.5 : f64} : tensor<2x8x16xf32>, tensor<2x8xi32>
  return
}

// -----

func.func @rope_yarn_original(%x: tensor<2x8x16xf32>, %p: tensor<2x8xi32>) {
  // expected-error @below {{yarn_factor > 1 needs yarn_original_max_position > 0}}
  %y = dsv3.rope %x, %p, theta = 1.0e+04 {yarn_factor = 40.0 : f64} : tensor<2x8x16xf32>, tensor<2x8xi32>
  return
}

// -----

func.func @rope_yarn_betas(%x: tensor<2x8x16xf32>, %p: tensor<2x8xi32>) {
  // expected-error @below {{yarn_beta_fast must exceed yarn_beta_slow}}
  %y = dsv3.rope %x, %p, theta = 1.0e+04 {yarn_beta_fast = 1.0 : f64} : tensor<2x8x16xf32>, tensor<2x8xi32>
  return
}

// -----

func.func @attention_rank(%q: tensor<2x8x16xf32>) {
  // expected-error @below {{query, key and value must be [batch, seq, heads, head_dim]}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %q, %q scale = 1.0 : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32> -> tensor<2x8x16xf32>
  return
}

// -----

func.func @attention_seq(%q: tensor<2x8x4x16xf32>, %k: tensor<2x4x4x16xf32>) {
  // expected-error @below {{batch and sequence sizes differ: query [2, 8, 4, 16], key [2, 4, 4, 16], value [2, 4, 4, 16]}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %k, %k scale = 1.0 : tensor<2x8x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32> -> tensor<2x8x4x16xf32>
  return
}

// -----

func.func @attention_kv_heads(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x2x16xf32>, %v: tensor<2x8x4x16xf32>) {
  // expected-error @below {{key and value head counts differ: 2 vs 4}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %k, %v scale = 1.0 : tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32>, tensor<2x8x4x16xf32> -> tensor<2x8x4x16xf32>
  return
}

// -----

func.func @attention_gqa(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x3x16xf32>) {
  // expected-error @below {{query heads (4) must be a multiple of key/value heads (3)}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %k, %k scale = 1.0 : tensor<2x8x4x16xf32>, tensor<2x8x3x16xf32>, tensor<2x8x3x16xf32> -> tensor<2x8x4x16xf32>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x8xf32>) {
  // expected-error @below {{query and key head dims differ: 16 vs 8}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %k, %k scale = 1.0 : tensor<2x8x4x16xf32>, tensor<2x8x4x8xf32>, tensor<2x8x4x8xf32> -> tensor<2x8x4x8xf32>
  return
}

// -----

func.func @attention_element_types(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xbf16>) {
  // expected-error @below {{query, key and value element types differ}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %k, %k scale = 1.0 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xbf16>, tensor<2x8x4x16xbf16> -> tensor<2x8x4x16xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<2x8x4x16xf32>) {
  // expected-error @below {{scale must be positive}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %q, %q scale = -1.0 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32> -> tensor<2x8x4x16xf32>
  return
}

// -----

func.func @attention_segments(%q: tensor<2x8x4x16xf32>, %s: tensor<2x4xi32>) {
  // expected-error @below {{segment ids must be [batch, seq] = [2, 8]}}
  // expected-error @below {{failed to infer returned types}}
  %o = dsv3.attention %q, %q, %q segments %s scale = 1.0 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x4xi32> -> tensor<2x8x4x16xf32>
  return
}

// -----

func.func @router_rank(%l: tensor<16xf32>) {
  // expected-error @below {{logits must be [tokens, experts], got rank 1}}
  %w, %i, %s = dsv3.router softmax %l {top_k = 2 : i64} : tensor<16xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16xf32>
  return
}

// -----

func.func @router_top_k(%l: tensor<16x8xf32>) {
  // expected-error @below {{top_k = 9 must be in [1, 8] (the number of experts)}}
  %w, %i, %s = dsv3.router softmax %l {top_k = 9 : i64} : tensor<16x8xf32> -> tensor<16x9xf32>, tensor<16x9xi32>, tensor<16x8xf32>
  return
}

// -----

func.func @router_n_group(%l: tensor<16x8xf32>) {
  // expected-error @below {{n_group = 3 must divide the number of experts 8}}
  %w, %i, %s = dsv3.router sigmoid %l {top_k = 2 : i64, n_group = 3 : i64} : tensor<16x8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
  return
}

// -----

func.func @router_topk_group(%l: tensor<16x8xf32>) {
  // expected-error @below {{topk_group = 5 must be in [1, 4] (n_group)}}
  %w, %i, %s = dsv3.router sigmoid %l {top_k = 2 : i64, n_group = 4 : i64, topk_group = 5 : i64} : tensor<16x8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
  return
}

// -----

func.func @router_group_limit(%l: tensor<16x8xf32>) {
  // expected-error @below {{top_k = 3 exceeds the 2 experts in the topk_group groups kept}}
  %w, %i, %s = dsv3.router sigmoid %l {top_k = 3 : i64, n_group = 4 : i64, topk_group = 1 : i64} : tensor<16x8xf32> -> tensor<16x3xf32>, tensor<16x3xi32>, tensor<16x8xf32>
  return
}

// -----

func.func @router_route_scale(%l: tensor<16x8xf32>) {
  // expected-error @below {{route_scale must be positive}}
  %w, %i, %s = dsv3.router sigmoid %l {top_k = 2 : i64, route_scale = 0.0 : f64} : tensor<16x8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
  return
}

// -----

func.func @router_bias(%l: tensor<16x8xf32>, %b: tensor<4xf32>) {
  // expected-error @below {{bias must be [8] (one per expert)}}
  %w, %i, %s = dsv3.router sigmoid %l bias %b {top_k = 2 : i64} : tensor<16x8xf32>, tensor<4xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
  return
}

// -----

func.func @dispatch_num_experts(%x: tensor<16x64xf32>, %i: tensor<16x2xi32>) {
  // expected-error @below {{num_experts must be >= 1, got 0}}
  // expected-error @below {{failed to infer returned types}}
  %r, %g = dsv3.moe_dispatch %x, %i {num_experts = 0 : i64} : tensor<16x64xf32>, tensor<16x2xi32> -> tensor<32x64xf32>, tensor<0xi32>
  return
}

// -----

func.func @dispatch_dropless_capacity(%x: tensor<16x64xf32>, %i: tensor<16x2xi32>) {
  // expected-error @below {{capacity is only meaningful with the 'drop' policy}}
  // expected-error @below {{failed to infer returned types}}
  %r, %g = dsv3.moe_dispatch %x, %i {num_experts = 8 : i64, capacity = 4 : i64} : tensor<16x64xf32>, tensor<16x2xi32> -> tensor<32x64xf32>, tensor<8xi32>
  return
}

// -----

func.func @dispatch_drop_capacity(%x: tensor<16x64xf32>, %i: tensor<16x2xi32>) {
  // expected-error @below {{the 'drop' policy needs capacity >= 1, got 0}}
  // expected-error @below {{failed to infer returned types}}
  %r, %g = dsv3.moe_dispatch %x, %i policy = drop {num_experts = 8 : i64} : tensor<16x64xf32>, tensor<16x2xi32> -> tensor<32x64xf32>, tensor<8xi32>
  return
}

// -----

func.func @dispatch_rank(%x: tensor<2x16x64xf32>, %i: tensor<16x2xi32>) {
  // expected-error @below {{input must be [tokens, hidden] and indices [tokens, top_k]}}
  // expected-error @below {{failed to infer returned types}}
  %r, %g = dsv3.moe_dispatch %x, %i {num_experts = 8 : i64} : tensor<2x16x64xf32>, tensor<16x2xi32> -> tensor<32x64xf32>, tensor<8xi32>
  return
}

// -----

func.func @dispatch_tokens(%x: tensor<8x64xf32>, %i: tensor<16x2xi32>) {
  // expected-error @below {{input has 8 tokens but indices has 16}}
  // expected-error @below {{failed to infer returned types}}
  %r, %g = dsv3.moe_dispatch %x, %i {num_experts = 8 : i64} : tensor<8x64xf32>, tensor<16x2xi32> -> tensor<32x64xf32>, tensor<8xi32>
  return
}

// -----

func.func @grouped_matmul_rank(%x: tensor<32x64xf32>, %w: tensor<64x32xf32>, %g: tensor<8xi32>) {
  // expected-error @below {{input must be [rows, K] and weight [experts, K, N]}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.grouped_matmul %x, %w, %g : tensor<32x64xf32>, tensor<64x32xf32>, tensor<8xi32> -> tensor<32x32xf32>
  return
}

// -----

func.func @grouped_matmul_element_types(%x: tensor<32x64xf32>, %w: tensor<8x64x32xbf16>, %g: tensor<8xi32>) {
  // expected-error @below {{input and weight element types differ}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.grouped_matmul %x, %w, %g : tensor<32x64xf32>, tensor<8x64x32xbf16>, tensor<8xi32> -> tensor<32x32xf32>
  return
}

// -----

func.func @grouped_matmul_contracting(%x: tensor<32x64xf32>, %w: tensor<8x64x32xf32>, %g: tensor<8xi32>) {
  // expected-error @below {{contracting dimensions differ: input has K = 64, weight has K = 32}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.grouped_matmul %x, %w, %g transpose_rhs : tensor<32x64xf32>, tensor<8x64x32xf32>, tensor<8xi32> -> tensor<32x64xf32>
  return
}

// -----

func.func @grouped_matmul_groups(%x: tensor<32x64xf32>, %w: tensor<8x64x32xf32>, %g: tensor<4xi32>) {
  // expected-error @below {{group_sizes must be [8] (one per expert)}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.grouped_matmul %x, %w, %g : tensor<32x64xf32>, tensor<8x64x32xf32>, tensor<4xi32> -> tensor<32x32xf32>
  return
}

// -----

func.func @combine_shapes(%r: tensor<32x64xf32>, %w: tensor<16x2xf32>, %i: tensor<16x1xi32>) {
  // expected-error @below {{rows must be [rows, hidden], weights and indices the same [tokens, top_k]}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.moe_combine %r, %w, %i {num_experts = 8 : i64} : tensor<32x64xf32>, tensor<16x2xf32>, tensor<16x1xi32> -> tensor<16x64xf32>
  return
}

// -----

func.func @combine_rows(%r: tensor<30x64xf32>, %w: tensor<16x2xf32>, %i: tensor<16x2xi32>) {
  // expected-error @below {{rows has 30 rows but the dispatch produces 32}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.moe_combine %r, %w, %i {num_experts = 8 : i64} : tensor<30x64xf32>, tensor<16x2xf32>, tensor<16x2xi32> -> tensor<16x64xf32>
  return
}

// -----

func.func @expert_load(%i: tensor<16x2xi32>) {
  // expected-error @below {{num_experts must be >= 1, got 0}}
  // expected-error @below {{failed to infer returned types}}
  %l = dsv3.expert_load %i {num_experts = 0 : i64} : tensor<16x2xi32> -> tensor<0xf32>
  return
}

// -----

func.func @balance_loss_shapes(%s: tensor<16x8xf32>, %i: tensor<16x2xi32>) {
  // expected-error @below {{scores must be [batch, seq, experts] and indices [batch, seq, top_k]}}
  // expected-error @below {{failed to infer returned types}}
  %l = dsv3.balance_loss %s, %i, alpha = 1.0e-04 : tensor<16x8xf32>, tensor<16x2xi32> -> tensor<f32>
  return
}

// -----

func.func @balance_loss_alpha(%s: tensor<2x8x8xf32>, %i: tensor<2x8x2xi32>) {
  // expected-error @below {{alpha must be >= 0}}
  // expected-error @below {{failed to infer returned types}}
  %l = dsv3.balance_loss %s, %i, alpha = -1.0 : tensor<2x8x8xf32>, tensor<2x8x2xi32> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_targets(%l: tensor<2x8x256xf32>, %t: tensor<2x4xi32>) {
  // expected-error @below {{targets must have the logits' shape without the vocabulary dimension, i.e. [2, 8]}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.cross_entropy %l, %t : tensor<2x8x256xf32>, tensor<2x4xi32> -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_mask(%l: tensor<2x8x256xf32>, %t: tensor<2x8xi32>, %m: tensor<16xf32>) {
  // expected-error @below {{mask must have the targets' shape [2, 8]}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.cross_entropy %l, %t mask %m : tensor<2x8x256xf32>, tensor<2x8xi32>, tensor<16xf32> -> tensor<f32>
  return
}

// -----

func.func @quantize_shape(%x: tensor<16x256xbf16>) {
  // expected-error @below {{result shape [16, 128] differs from input shape [16, 256]}}
  %q, %s = dsv3.quantize %x tile_1x128 : tensor<16x256xbf16> -> tensor<16x128xf8E4M3FN>, tensor<16x2xf32>
  return
}

// -----

func.func @quantize_fp8(%x: tensor<16x256xf8E5M2>) {
  // expected-error @below {{input is already fp8}}
  %q, %s = dsv3.quantize %x tile_1x128 : tensor<16x256xf8E5M2> -> tensor<16x256xf8E4M3FN>, tensor<16x2xf32>
  return
}

// -----

func.func @quantize_rank0(%x: tensor<f32>) {
  // expected-error @below {{quantized tensors need rank >= 1}}
  %q, %s = dsv3.quantize %x tile_1x128 : tensor<f32> -> tensor<f8E4M3FN>, tensor<f32>
  return
}

// -----

func.func @quantize_block_rank(%x: tensor<256xbf16>) {
  // expected-error @below {{block_128x128 scales need rank >= 2, got rank 1}}
  %q, %s = dsv3.quantize %x block_128x128 : tensor<256xbf16> -> tensor<256xf8E4M3FN>, tensor<2xf32>
  return
}

// -----

func.func @quantize_scales(%x: tensor<16x300xbf16>) {
  // expected-error @below {{scales must be [16, 3] for tile_1x128, got [16, 2]}}
  %q, %s = dsv3.quantize %x tile_1x128 : tensor<16x300xbf16> -> tensor<16x300xf8E4M3FN>, tensor<16x2xf32>
  return
}

// -----

func.func @dequantize_shape(%q: tensor<256x256xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @below {{result shape [256, 128] differs from input shape [256, 256]}}
  %w = dsv3.dequantize %q, %s block_128x128 : tensor<256x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<256x128xbf16>
  return
}

// -----

func.func @dequantize_fp8(%q: tensor<256x256xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @below {{result must be a wider float than fp8}}
  %w = dsv3.dequantize %q, %s block_128x128 : tensor<256x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<256x256xf8E5M2>
  return
}

// -----

func.func @dequantize_scales(%q: tensor<256x256xf8E4M3FN>, %s: tensor<256x2xf32>) {
  // expected-error @below {{scales must be [2, 2] for block_128x128, got [256, 2]}}
  %w = dsv3.dequantize %q, %s block_128x128 : tensor<256x256xf8E4M3FN>, tensor<256x2xf32> -> tensor<256x256xbf16>
  return
}

// -----

func.func @quantize_block_batch(%w: tensor<2x256x200xbf16>) {
  // expected-error @below {{scales must be [2, 2, 2] for block_128x128, got [2, 2]}}
  %q, %s = dsv3.quantize %w block_128x128 : tensor<2x256x200xbf16> -> tensor<2x256x200xf8E4M3FN>, tensor<2x2xf32>
  return
}

// -----

func.func @dequantize_transposed(%q: tensor<256x200xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @below {{result shape [256, 200] is not the transposed input shape [200, 256]}}
  %w = dsv3.dequantize %q, %s block_128x128 transposed : tensor<256x200xf8E4M3FN>, tensor<2x2xf32> -> tensor<256x200xf32>
  return
}

// -----

func.func @transpose_quantized_layout(%q: tensor<256x200xf8E4M3FN>, %s: tensor<256x2xf32>) {
  // expected-error @below {{result scales must be [200, 2] (1x128 tiles of the transpose), got [200, 1]}}
  %t, %ts = dsv3.transpose_quantized %q, %s : tensor<256x200xf8E4M3FN>, tensor<256x2xf32> -> tensor<200x256xf8E4M3FN>, tensor<200x1xf32>
  return
}

// -----

func.func @scaled_matmul_rank(%a: tensor<2x16x256xf8E4M3FN>, %as: tensor<16x2xf32>, %b: tensor<128x256xf8E4M3FN>, %bs: tensor<1x2xf32>) {
  // expected-error @below {{lhs and rhs must be rank 2}}
  %y = dsv3.scaled_matmul %a, %as, %b, %bs transpose_rhs : tensor<2x16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x128xf32>
  return
}

// -----

func.func @scaled_matmul_contracting(%a: tensor<16x256xf8E4M3FN>, %as: tensor<16x2xf32>, %b: tensor<128x256xf8E4M3FN>, %bs: tensor<1x2xf32>) {
  // expected-error @below {{contracting dimensions differ: lhs has K = 256, rhs has K = 128}}
  %y = dsv3.scaled_matmul %a, %as, %b, %bs : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x256xf32>
  return
}

// -----

func.func @scaled_matmul_lhs_scales(%a: tensor<16x256xf8E4M3FN>, %as: tensor<1x2xf32>, %b: tensor<128x256xf8E4M3FN>, %bs: tensor<1x2xf32>) {
  // expected-error @below {{lhs_scales must be [16, 2] (1x128 tiles), got [1, 2]}}
  %y = dsv3.scaled_matmul %a, %as, %b, %bs transpose_rhs : tensor<16x256xf8E4M3FN>, tensor<1x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x128xf32>
  return
}

// -----

func.func @scaled_matmul_rhs_scales(%a: tensor<16x256xf8E4M3FN>, %as: tensor<16x2xf32>, %b: tensor<128x256xf8E4M3FN>, %bs: tensor<128x2xf32>) {
  // expected-error @below {{rhs_scales must be [1, 2] (128x128 blocks), got [128, 2]}}
  %y = dsv3.scaled_matmul %a, %as, %b, %bs transpose_rhs : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<128x2xf32> -> tensor<16x128xf32>
  return
}

// -----

func.func @scaled_matmul_result(%a: tensor<16x256xf8E4M3FN>, %as: tensor<16x2xf32>, %b: tensor<128x256xf8E4M3FN>, %bs: tensor<1x2xf32>) {
  // expected-error @below {{result must be [16, 128], got [16, 256]}}
  %y = dsv3.scaled_matmul %a, %as, %b, %bs transpose_rhs : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x256xf32>
  return
}

// -----

func.func @fake_quant_bits(%w: tensor<64xf32>) {
  // expected-error @below {{bits must be in [2, 8], got 16}}
  %q = dsv3.fake_quant %w, bits = 16 : tensor<64xf32>
  return
}

// -----

func.func @all_finite_empty() {
  // expected-error @below {{needs at least one input}}
  // expected-error @below {{failed to infer returned types}}
  %ok = "dsv3.all_finite"() : () -> tensor<i1>
  return
}

// -----

func.func @loss_scale_growth(%s: tensor<f32>, %n: tensor<i64>, %ok: tensor<i1>) {
  // expected-error @below {{growth must be > 1}}
  %s2, %n2 = dsv3.update_loss_scale %s, %n, %ok {growth = 1.0 : f64} : tensor<f32>, tensor<i64>, tensor<i1>
  return
}

// -----

func.func @loss_scale_backoff(%s: tensor<f32>, %n: tensor<i64>, %ok: tensor<i1>) {
  // expected-error @below {{backoff must be in (0, 1), got 1.5}}
  %s2, %n2 = dsv3.update_loss_scale %s, %n, %ok {backoff = 1.5 : f64} : tensor<f32>, tensor<i64>, tensor<i1>
  return
}

// -----

func.func @loss_scale_interval(%s: tensor<f32>, %n: tensor<i64>, %ok: tensor<i1>) {
  // expected-error @below {{growth_interval must be >= 1}}
  %s2, %n2 = dsv3.update_loss_scale %s, %n, %ok {growth_interval = 0 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
  return
}

// -----

func.func @prune_groups(%w: tensor<64x6xf32>) {
  // expected-error @below {{2:4 pruning needs a last dimension that is a multiple of 4, got [64, 6]}}
  // expected-error @below {{failed to infer returned types}}
  %m = dsv3.prune_2_4 %w : tensor<64x6xf32> -> tensor<64x6xi1>
  return
}

// -----

func.func @compress_groups(%w: tensor<64x6xf32>) {
  // expected-error @below {{2:4 compression needs a last dimension that is a multiple of 4, got [64, 6]}}
  // expected-error @below {{failed to infer returned types}}
  %v, %i = dsv3.compress_2_4 %w : tensor<64x6xf32> -> tensor<64x3xf32>, tensor<64x3xi8>
  return
}

// -----

func.func @decompress_shapes(%v: tensor<64x32xf32>, %i: tensor<64x16xi8>) {
  // expected-error @below {{values [64, 32] and indices [64, 16] differ in shape}}
  // expected-error @below {{failed to infer returned types}}
  %w = dsv3.decompress_2_4 %v, %i : tensor<64x32xf32>, tensor<64x16xi8> -> tensor<64x64xf32>
  return
}

// -----

func.func @decompress_odd(%v: tensor<64x3xf32>, %i: tensor<64x3xi8>) {
  // expected-error @below {{packed last dimension must be even}}
  // expected-error @below {{failed to infer returned types}}
  %w = dsv3.decompress_2_4 %v, %i : tensor<64x3xf32>, tensor<64x3xi8> -> tensor<64x6xf32>
  return
}

// -----

func.func @sparse_matmul_shapes(%x: tensor<64xf32>, %v: tensor<128x32xf32>, %i: tensor<128x32xi8>) {
  // expected-error @below {{lhs must be [..., M, K], values and indices the same [N, K/2]}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.sparse_matmul %x, %v, %i : tensor<64xf32>, tensor<128x32xf32>, tensor<128x32xi8> -> tensor<128xf32>
  return
}

// -----

func.func @sparse_matmul_k(%x: tensor<16x64xf32>, %v: tensor<128x16xf32>, %i: tensor<128x16xi8>) {
  // expected-error @below {{values must hold K/2 = 32 entries per row for K = 64 (a multiple of 4), got 16}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.sparse_matmul %x, %v, %i : tensor<16x64xf32>, tensor<128x16xf32>, tensor<128x16xi8> -> tensor<16x128xf32>
  return
}

// -----

func.func @sparse_matmul_element_types(%x: tensor<16x64xf32>, %v: tensor<128x32xbf16>, %i: tensor<128x32xi8>) {
  // expected-error @below {{lhs and values element types differ}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.sparse_matmul %x, %v, %i : tensor<16x64xf32>, tensor<128x32xbf16>, tensor<128x32xi8> -> tensor<16x128xf32>
  return
}

// -----

func.func @all_reduce_group(%g: tensor<64xf32>) {
  // expected-error @below {{group must name a mesh axis (e.g. "dp")}}
  %y = dsv3.all_reduce sum %g, group = "" : tensor<64xf32>
  return
}

// -----

func.func @reduce_scatter_size(%g: tensor<64xf32>) {
  // expected-error @below {{group_size must be >= 1, got 0}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.reduce_scatter sum %g, group = "dp", group_size = 0, dim = 0 : tensor<64xf32> -> tensor<64xf32>
  return
}

// -----

func.func @reduce_scatter_dim(%g: tensor<64xf32>) {
  // expected-error @below {{dim 1 is out of range for rank 1}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.reduce_scatter sum %g, group = "dp", group_size = 2, dim = 1 : tensor<64xf32> -> tensor<32xf32>
  return
}

// -----

func.func @reduce_scatter_divisible(%g: tensor<63xf32>) {
  // expected-error @below {{dimension 0 (size 63) is not divisible by group_size 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.reduce_scatter sum %g, group = "dp", group_size = 2, dim = 0 : tensor<63xf32> -> tensor<31xf32>
  return
}

// -----

func.func @all_gather_dim(%p: tensor<32xf32>) {
  // expected-error @below {{dim -1 is out of range for rank 1}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.all_gather %p, group = "dp", group_size = 2, dim = -1 : tensor<32xf32> -> tensor<64xf32>
  return
}

// -----

func.func @all_to_all_split(%x: tensor<32x8xf32>) {
  // expected-error @below {{split_dim 2 is out of range for rank 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.all_to_all %x, group = "ep", group_size = 4, split_dim = 2, concat_dim = 0 : tensor<32x8xf32> -> tensor<32x8xf32>
  return
}

// -----

func.func @all_to_all_concat(%x: tensor<32x8xf32>) {
  // expected-error @below {{concat_dim 2 is out of range for rank 2}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.all_to_all %x, group = "ep", group_size = 4, split_dim = 0, concat_dim = 2 : tensor<32x8xf32> -> tensor<32x8xf32>
  return
}

// -----

func.func @all_to_all_divisible(%x: tensor<30x8xf32>) {
  // expected-error @below {{split dimension 0 (size 30) is not divisible by group_size 4}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.all_to_all %x, group = "ep", group_size = 4, split_dim = 0, concat_dim = 0 : tensor<30x8xf32> -> tensor<30x8xf32>
  return
}

// -----

func.func @adamw_shape(%p: tensor<64xf32>, %g: tensor<32xf32>, %lr: tensor<f32>, %t: tensor<i64>) {
  // expected-error @below {{grad has shape [32], the parameter [64]}}
  %p2, %m2, %v2 = dsv3.adamw %p, %g, %p, %p, %lr, %t : tensor<64xf32>, tensor<32xf32>, tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<i64>
  return
}

// -----

func.func @adamw_betas(%p: tensor<64xf32>, %lr: tensor<f32>, %t: tensor<i64>) {
  // expected-error @below {{beta1 and beta2 must be in [0, 1), got 1.000000e+00 and 9.500000e-01}}
  %p2, %m2, %v2 = dsv3.adamw %p, %p, %p, %p, %lr, %t {beta1 = 1.0 : f64} : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<i64>
  return
}

// -----

func.func @adamw_eps(%p: tensor<64xf32>, %lr: tensor<f32>, %t: tensor<i64>) {
  // expected-error @below {{eps must be positive}}
  %p2, %m2, %v2 = dsv3.adamw %p, %p, %p, %p, %lr, %t {eps = 0.0 : f64} : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<i64>
  return
}

// -----

func.func @adamw_weight_decay(%p: tensor<64xf32>, %lr: tensor<f32>, %t: tensor<i64>) {
  // expected-error @below {{weight_decay must be >= 0}}
  %p2, %m2, %v2 = dsv3.adamw %p, %p, %p, %p, %lr, %t {weight_decay = -0.1 : f64} : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<i64>
  return
}

// -----

func.func @clip_empty() {
  // expected-error @below {{needs at least one input}}
  // expected-error @below {{failed to infer returned types}}
  %n = "dsv3.clip_by_global_norm"() <{max_norm = 1.0 : f64}> : () -> tensor<f32>
  return
}

// -----

func.func @clip_max_norm(%g: tensor<64xf32>) {
  // expected-error @below {{max_norm must be positive, got 0}}
  %c, %n = dsv3.clip_by_global_norm %g max_norm = 0.0 : tensor<64xf32>
  return
}

// -----

func.func @lr_schedule_lr(%t: tensor<i64>) {
  // expected-error @below {{need peak_lr (1.000000e-04) >= min_lr (1.000000e-03) >= 0}}
  %lr = dsv3.lr_schedule %t {peak_lr = 1.0e-04 : f64, min_lr = 1.0e-03 : f64, warmup_steps = 10 : i64, total_steps = 100 : i64} : tensor<i64>
  return
}

// -----

func.func @lr_schedule_steps(%t: tensor<i64>) {
  // expected-error @below {{need 0 <= warmup_steps (200) <= total_steps (100) and total_steps >= 1}}
  %lr = dsv3.lr_schedule %t {peak_lr = 1.0e-04 : f64, warmup_steps = 200 : i64, total_steps = 100 : i64} : tensor<i64>
  return
}

// -----

func.func @router_bias_shape(%b: tensor<2x4xf32>) {
  // expected-error @below {{bias and load must both be [experts]}}
  %y = dsv3.update_router_bias %b, %b, gamma = 1.0e-03 : tensor<2x4xf32>
  return
}

// -----

func.func @router_bias_gamma(%b: tensor<8xf32>) {
  // expected-error @below {{gamma must be >= 0}}
  %y = dsv3.update_router_bias %b, %b, gamma = -1.0 : tensor<8xf32>
  return
}

// -----

func.func @fusion_arguments(%a: tensor<4xf32>) {
  // expected-error @below {{body arguments must match the inputs' types}}
  %y = dsv3.fusion ins(%a : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<8xf32>):
    dsv3.yield %a : tensor<4xf32>
  }
  return
}

// -----

func.func @fusion_results(%a: tensor<4xf32>) {
  // expected-error @below {{yielded types must match the results' types}}
  %y = dsv3.fusion ins(%a : tensor<4xf32>) -> tensor<8xf32> {
  ^bb0(%x: tensor<4xf32>):
    dsv3.yield %x : tensor<4xf32>
  }
  return
}

// -----

func.func @fusion_isolated(%a: tensor<4xf32>) {
  // expected-note @below {{required by region isolation constraints}}
  %y = dsv3.fusion ins(%a : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    // expected-error @below {{using value defined outside the region}}
    %e = dsv3.exp %a : tensor<4xf32>
    dsv3.yield %e : tensor<4xf32>
  }
  return
}

// -----

func.func @yield_outside(%a: tensor<4xf32>) {
  // expected-error @below {{expects parent op 'dsv3.fusion'}}
  dsv3.yield %a : tensor<4xf32>
}

// -----

func.func @pad_entries(%x: tensor<2x3xf32>) {
  // expected-error @below {{low, high and interior need one entry per input dimension (2)}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.pad %x, low = [0], high = [0] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @pad_negative(%x: tensor<2x3xf32>) {
  // expected-error @below {{padding of dimension 1 must be >= 0}}
  // expected-error @below {{failed to infer returned types}}
  %y = dsv3.pad %x, low = [0, -1], high = [0, 0] : tensor<2x3xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @scatter_add_dim(%u: tensor<4x2xf32>, %i: tensor<4xi32>) {
  // expected-error @below {{'dsv3.scatter_add' op dim 2 is out of range for rank 2}}
  %y = dsv3.scatter_add %u[%i] dim = 2 : tensor<4x2xf32>, tensor<4xi32> -> tensor<8x2xf32>
  return
}

// -----

func.func @scatter_add_types(%u: tensor<4x2xf32>, %i: tensor<4xi32>) {
  // expected-error @below {{'dsv3.scatter_add' op updates and result element types differ}}
  %y = dsv3.scatter_add %u[%i] dim = 0 : tensor<4x2xf32>, tensor<4xi32> -> tensor<8x2xbf16>
  return
}

// -----

func.func @scatter_add_shape(%u: tensor<4x3xf32>, %i: tensor<4xi32>) {
  // expected-error @below {{'dsv3.scatter_add' op updates must be [4, 2] for this result and indices, got [4, 3]}}
  %y = dsv3.scatter_add %u[%i] dim = 0 : tensor<4x3xf32>, tensor<4xi32> -> tensor<8x2xf32>
  return
}

// -----

func.func @wgrad_shapes(%x: tensor<32x64xf32>, %dy: tensor<16x8xf32>, %g: tensor<4xi32>) {
  // expected-error @below {{input must be [rows, K], d_result [rows, N] and group_sizes [experts]}}
  // expected-error @below {{failed to infer returned types}}
  %w = dsv3.grouped_matmul_wgrad %x, %dy, %g : tensor<32x64xf32>, tensor<16x8xf32>, tensor<4xi32> -> tensor<4x64x8xf32>
  return
}
