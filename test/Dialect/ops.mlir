// Round trip of every dsv3 op: custom form, and generic form back to custom.
// RUN: dsv3-opt %s | dsv3-opt | FileCheck %s
// RUN: dsv3-opt %s --mlir-print-op-generic | dsv3-opt | FileCheck %s

// Tensor basics: constant, cast, reshape, transpose, broadcast, slice, concat, gather.
// CHECK-LABEL: func.func @tensor_basics(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<2x8x16xf32>, %[[ARG1:[^:]+]]: tensor<16xf32>, %[[ARG2:[^:]+]]: tensor<4xi32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.constant dense<1.000000e+00> : tensor<16xf32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.cast %[[ARG0]] : tensor<2x8x16xf32> to tensor<2x8x16xbf16>
// CHECK: %[[V2:[^ :,]+]] = dsv3.reshape %[[ARG0]] : tensor<2x8x16xf32> -> tensor<16x16xf32>
// CHECK: %[[V3:[^ :,]+]] = dsv3.transpose %[[V2]], perm = [1, 0] : tensor<16x16xf32> -> tensor<16x16xf32>
// CHECK: %[[V4:[^ :,]+]] = dsv3.broadcast %[[ARG1]], dims = [1] : tensor<16xf32> -> tensor<16x16xf32>
// CHECK: %[[V5:[^ :,]+]] = dsv3.slice %[[ARG0]], start = [0, 1, 0], limit = [2, 8, 16], strides = [1, 2, 1] : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
// CHECK: %[[V6:[^ :,]+]] = dsv3.concat %[[V3]], %[[V4]] dim = 0 : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<32x16xf32>
// CHECK: %[[V7:[^ :,]+]] = dsv3.gather %[[V6]][%[[ARG2]]] dim = 0 : tensor<32x16xf32>, tensor<4xi32> -> tensor<4x16xf32>
// CHECK: %[[V8:[^ :,]+]] = dsv3.cast %[[V7]] : tensor<4x16xf32> to tensor<4x16xbf16>
// CHECK: return %[[V8]] : tensor<4x16xbf16>
func.func @tensor_basics(%x: tensor<2x8x16xf32>, %b: tensor<16xf32>, %i: tensor<4xi32>) -> tensor<4x16xbf16> {
  %c = dsv3.constant dense<1.0> : tensor<16xf32>
  %cast = dsv3.cast %x : tensor<2x8x16xf32> to tensor<2x8x16xbf16>
  %r = dsv3.reshape %x : tensor<2x8x16xf32> -> tensor<16x16xf32>
  %t = dsv3.transpose %r, perm = [1, 0] : tensor<16x16xf32> -> tensor<16x16xf32>
  %bc = dsv3.broadcast %b, dims = [1] : tensor<16xf32> -> tensor<16x16xf32>
  %s = dsv3.slice %x, start = [0, 1, 0], limit = [2, 8, 16], strides = [1, 2, 1] : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
  %cat = dsv3.concat %t, %bc dim = 0 : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<32x16xf32>
  %g = dsv3.gather %cat[%i] dim = 0 : tensor<32x16xf32>, tensor<4xi32> -> tensor<4x16xf32>
  %gc = dsv3.cast %g : tensor<4x16xf32> to tensor<4x16xbf16>
  return %gc : tensor<4x16xbf16>
}

// Elementwise ops, on floats and integers.
// CHECK-LABEL: func.func @elementwise(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<4x8xf32>, %[[ARG1:[^:]+]]: tensor<4x8xf32>, %[[ARG2:[^:]+]]: tensor<4x8xi1>, %[[ARG3:[^:]+]]: tensor<4xi32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.add %[[ARG0]], %[[ARG1]] : tensor<4x8xf32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.sub %[[V0]], %[[ARG1]] : tensor<4x8xf32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.mul %[[V1]], %[[ARG1]] : tensor<4x8xf32>
// CHECK: %[[V3:[^ :,]+]] = dsv3.div %[[V2]], %[[ARG1]] : tensor<4x8xf32>
// CHECK: %[[V4:[^ :,]+]] = dsv3.neg %[[V3]] : tensor<4x8xf32>
// CHECK: %[[V5:[^ :,]+]] = dsv3.exp %[[V4]] : tensor<4x8xf32>
// CHECK: %[[V6:[^ :,]+]] = dsv3.log %[[V5]] : tensor<4x8xf32>
// CHECK: %[[V7:[^ :,]+]] = dsv3.rsqrt %[[V6]] : tensor<4x8xf32>
// CHECK: %[[V8:[^ :,]+]] = dsv3.sigmoid %[[V7]] : tensor<4x8xf32>
// CHECK: %[[V9:[^ :,]+]] = dsv3.silu %[[V8]] : tensor<4x8xf32>
// CHECK: %[[V10:[^ :,]+]] = dsv3.select %[[ARG2]], %[[V9]], %[[ARG0]] : tensor<4x8xi1>, tensor<4x8xf32>
// CHECK: %[[V11:[^ :,]+]] = dsv3.add %[[ARG3]], %[[ARG3]] : tensor<4xi32>
// CHECK: return %[[V10]] : tensor<4x8xf32>
func.func @elementwise(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>, %c: tensor<4x8xi1>, %n: tensor<4xi32>) -> tensor<4x8xf32> {
  %0 = dsv3.add %a, %b : tensor<4x8xf32>
  %1 = dsv3.sub %0, %b : tensor<4x8xf32>
  %2 = dsv3.mul %1, %b : tensor<4x8xf32>
  %3 = dsv3.div %2, %b : tensor<4x8xf32>
  %4 = dsv3.neg %3 : tensor<4x8xf32>
  %5 = dsv3.exp %4 : tensor<4x8xf32>
  %6 = dsv3.log %5 : tensor<4x8xf32>
  %7 = dsv3.rsqrt %6 : tensor<4x8xf32>
  %8 = dsv3.sigmoid %7 : tensor<4x8xf32>
  %9 = dsv3.silu %8 : tensor<4x8xf32>
  %10 = dsv3.select %c, %9, %a : tensor<4x8xi1>, tensor<4x8xf32>
  %11 = dsv3.add %n, %n : tensor<4xi32>
  return %10 : tensor<4x8xf32>
}

// Reductions and softmax.
// CHECK-LABEL: func.func @reductions(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<4x8x16xf32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.reduce sum %[[ARG0]], dims = [1, 2] : tensor<4x8x16xf32> -> tensor<4xf32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.reduce max %[[ARG0]], dims = [0, 1, 2] : tensor<4x8x16xf32> -> tensor<f32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.reduce mean %[[ARG0]], dims = [1] : tensor<4x8x16xf32> -> tensor<4x16xf32>
// CHECK: %[[V3:[^ :,]+]] = dsv3.softmax %[[ARG0]], dim = 2 : tensor<4x8x16xf32>
// CHECK: %[[V4:[^ :,]+]] = dsv3.log_softmax %[[ARG0]], dim = 0 : tensor<4x8x16xf32>
// CHECK: return %[[V0]], %[[V1]], %[[V2]], %[[V3]], %[[V4]] : tensor<4xf32>, tensor<f32>, tensor<4x16xf32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>
func.func @reductions(%x: tensor<4x8x16xf32>) -> (tensor<4xf32>, tensor<f32>, tensor<4x16xf32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>) {
  %s = dsv3.reduce sum %x, dims = [1, 2] : tensor<4x8x16xf32> -> tensor<4xf32>
  %m = dsv3.reduce max %x, dims = [0, 1, 2] : tensor<4x8x16xf32> -> tensor<f32>
  %a = dsv3.reduce mean %x, dims = [1] : tensor<4x8x16xf32> -> tensor<4x16xf32>
  %sm = dsv3.softmax %x, dim = 2 : tensor<4x8x16xf32>
  %ls = dsv3.log_softmax %x, dim = 0 : tensor<4x8x16xf32>
  return %s, %m, %a, %sm, %ls : tensor<4xf32>, tensor<f32>, tensor<4x16xf32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>
}

// Layers: embedding, rms_norm, matmul (batched, transposed), rope (YaRN), attention.
// CHECK-LABEL: func.func @layers(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<256x64xf32>, %[[ARG1:[^:]+]]: tensor<2x8xi32>, %[[ARG2:[^:]+]]: tensor<64xf32>, %[[ARG3:[^:]+]]: tensor<64x64xf32>, %[[ARG4:[^:]+]]: tensor<2x8xi32>, %[[ARG5:[^:]+]]: tensor<2x8xi32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.embedding %[[ARG0]][%[[ARG1]]] : tensor<256x64xf32>, tensor<2x8xi32> -> tensor<2x8x64xf32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.rms_norm %[[V0]], %[[ARG2]], eps = 9.9999999999999995E-7 : tensor<2x8x64xf32>, tensor<64xf32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.matmul %[[V1]], %[[ARG3]] transpose_rhs : tensor<2x8x64xf32>, tensor<64x64xf32> -> tensor<2x8x64xf32>
// CHECK: %[[V3:[^ :,]+]] = dsv3.reshape %[[V2]] : tensor<2x8x64xf32> -> tensor<2x8x4x16xf32>
// CHECK: %[[V4:[^ :,]+]] = dsv3.rope %[[V3]], %[[ARG4]], theta = 1.000000e+04 interleaved : tensor<2x8x4x16xf32>, tensor<2x8xi32>
// CHECK: %[[V5:[^ :,]+]] = dsv3.rope %[[V3]], %[[ARG4]], theta = 1.000000e+04 {yarn_factor = 4.000000e+01 : f64, yarn_mscale_all_dim = 1.000000e+00 : f64, yarn_original_max_position = 4096 : i64} : tensor<2x8x4x16xf32>, tensor<2x8xi32>
// CHECK: %[[V6:[^ :,]+]] = dsv3.attention %[[V4]], %[[V5]], %[[V3]] segments %[[ARG5]] causal scale = 2.500000e-01 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8xi32> -> tensor<2x8x4x16xf32>
// CHECK: %[[V7:[^ :,]+]] = dsv3.transpose %[[V3]], perm = [0, 2, 1, 3] : tensor<2x8x4x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: %[[V8:[^ :,]+]] = dsv3.matmul %[[V7]], %[[V7]] transpose_rhs : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x8xf32>
// CHECK: %[[V9:[^ :,]+]] = dsv3.matmul %[[V8]], %[[V7]] transpose_lhs : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
// CHECK: return %[[V6]] : tensor<2x8x4x16xf32>
func.func @layers(%table: tensor<256x64xf32>, %ids: tensor<2x8xi32>, %w: tensor<64xf32>, %wq: tensor<64x64xf32>,
                  %pos: tensor<2x8xi32>, %seg: tensor<2x8xi32>) -> tensor<2x8x4x16xf32> {
  %h = dsv3.embedding %table[%ids] : tensor<256x64xf32>, tensor<2x8xi32> -> tensor<2x8x64xf32>
  %n = dsv3.rms_norm %h, %w, eps = 1.0e-06 : tensor<2x8x64xf32>, tensor<64xf32>
  %q = dsv3.matmul %n, %wq transpose_rhs : tensor<2x8x64xf32>, tensor<64x64xf32> -> tensor<2x8x64xf32>
  %q4 = dsv3.reshape %q : tensor<2x8x64xf32> -> tensor<2x8x4x16xf32>
  %qr = dsv3.rope %q4, %pos, theta = 1.0e+04 interleaved : tensor<2x8x4x16xf32>, tensor<2x8xi32>
  %kr = dsv3.rope %q4, %pos, theta = 1.0e+04 {yarn_factor = 4.0e+01 : f64, yarn_original_max_position = 4096 : i64, yarn_mscale = 1.0 : f64, yarn_mscale_all_dim = 1.0 : f64} : tensor<2x8x4x16xf32>, tensor<2x8xi32>
  %o = dsv3.attention %qr, %kr, %q4 segments %seg causal scale = 2.5e-01 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8xi32> -> tensor<2x8x4x16xf32>
  %bq = dsv3.transpose %q4, perm = [0, 2, 1, 3] : tensor<2x8x4x16xf32> -> tensor<2x4x8x16xf32>
  %sc = dsv3.matmul %bq, %bq transpose_rhs : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x8xf32>
  %ov = dsv3.matmul %sc, %bq transpose_lhs : tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// Mixture of experts: routing, dispatch, grouped GEMMs, combine, load and balance loss,
// dropless and capacity-limited.
// CHECK-LABEL: func.func @moe(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<16x8xf32>, %[[ARG1:[^:]+]]: tensor<8xf32>, %[[ARG2:[^:]+]]: tensor<16x64xbf16>, %[[ARG3:[^:]+]]: tensor<8x64x32xbf16>, %[[ARG4:[^:]+]]: tensor<8x64x32xbf16>
// CHECK: %[[WEIGHTS:[^ :,]+]], %[[INDICES:[^ :,]+]], %[[SCORES:[^ :,]+]] = dsv3.router sigmoid %[[ARG0]] bias %[[ARG1]] {n_group = 4 : i64, norm_topk_prob, route_scale = 2.500000e+00 : f64, top_k = 2 : i64, topk_group = 2 : i64} : tensor<16x8xf32>, tensor<8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
// CHECK: %[[ROWS:[^ :,]+]], %[[GROUP_SIZES:[^ :,]+]] = dsv3.moe_dispatch %[[ARG2]], %[[INDICES]] {num_experts = 8 : i64} : tensor<16x64xbf16>, tensor<16x2xi32> -> tensor<32x64xbf16>, tensor<8xi32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.grouped_matmul %[[ROWS]], %[[ARG3]], %[[GROUP_SIZES]] : tensor<32x64xbf16>, tensor<8x64x32xbf16>, tensor<8xi32> -> tensor<32x32xbf16>
// CHECK: %[[V1:[^ :,]+]] = dsv3.grouped_matmul %[[V0]], %[[ARG4]], %[[GROUP_SIZES]] transpose_rhs : tensor<32x32xbf16>, tensor<8x64x32xbf16>, tensor<8xi32> -> tensor<32x64xbf16>
// CHECK: %[[V2:[^ :,]+]] = dsv3.cast %[[WEIGHTS]] : tensor<16x2xf32> to tensor<16x2xbf16>
// CHECK: %[[V3:[^ :,]+]] = dsv3.moe_combine %[[V1]], %[[V2]], %[[INDICES]] {num_experts = 8 : i64} : tensor<32x64xbf16>, tensor<16x2xbf16>, tensor<16x2xi32> -> tensor<16x64xbf16>
// CHECK: %[[V4:[^ :,]+]] = dsv3.expert_load %[[INDICES]] {num_experts = 8 : i64} : tensor<16x2xi32> -> tensor<8xf32>
// CHECK: %[[V5:[^ :,]+]] = dsv3.reshape %[[SCORES]] : tensor<16x8xf32> -> tensor<2x8x8xf32>
// CHECK: %[[V6:[^ :,]+]] = dsv3.reshape %[[INDICES]] : tensor<16x2xi32> -> tensor<2x8x2xi32>
// CHECK: %[[V7:[^ :,]+]] = dsv3.balance_loss %[[V5]], %[[V6]], alpha = 1.000000e-04 : tensor<2x8x8xf32>, tensor<2x8x2xi32> -> tensor<f32>
// CHECK: %[[ROWS_0:[^ :,]+]], %[[GROUP_SIZES_1:[^ :,]+]] = dsv3.moe_dispatch %[[ARG2]], %[[INDICES]] policy = drop {capacity = 6 : i64, num_experts = 8 : i64} : tensor<16x64xbf16>, tensor<16x2xi32> -> tensor<48x64xbf16>, tensor<8xi32>
// CHECK: %[[V8:[^ :,]+]] = dsv3.moe_combine %[[ROWS_0]], %[[V2]], %[[INDICES]] policy = drop {capacity = 6 : i64, num_experts = 8 : i64} : tensor<48x64xbf16>, tensor<16x2xbf16>, tensor<16x2xi32> -> tensor<16x64xbf16>
// CHECK: %[[WEIGHTS_2:[^ :,]+]], %[[INDICES_3:[^ :,]+]], %[[SCORES_4:[^ :,]+]] = dsv3.router softmax %[[ARG0]] {top_k = 2 : i64} : tensor<16x8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
// CHECK: return %[[V3]], %[[V4]], %[[V7]] : tensor<16x64xbf16>, tensor<8xf32>, tensor<f32>
func.func @moe(%logits: tensor<16x8xf32>, %bias: tensor<8xf32>, %x: tensor<16x64xbf16>, %w: tensor<8x64x32xbf16>,
               %wd: tensor<8x64x32xbf16>) -> (tensor<16x64xbf16>, tensor<8xf32>, tensor<f32>) {
  %gw, %idx, %scores = dsv3.router sigmoid %logits bias %bias {top_k = 2 : i64, n_group = 4 : i64, topk_group = 2 : i64, route_scale = 2.5 : f64, norm_topk_prob} : tensor<16x8xf32>, tensor<8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
  %rows, %sizes = dsv3.moe_dispatch %x, %idx {num_experts = 8 : i64} : tensor<16x64xbf16>, tensor<16x2xi32> -> tensor<32x64xbf16>, tensor<8xi32>
  %up = dsv3.grouped_matmul %rows, %w, %sizes : tensor<32x64xbf16>, tensor<8x64x32xbf16>, tensor<8xi32> -> tensor<32x32xbf16>
  %down = dsv3.grouped_matmul %up, %wd, %sizes transpose_rhs : tensor<32x32xbf16>, tensor<8x64x32xbf16>, tensor<8xi32> -> tensor<32x64xbf16>
  %gwb = dsv3.cast %gw : tensor<16x2xf32> to tensor<16x2xbf16>
  %y = dsv3.moe_combine %down, %gwb, %idx {num_experts = 8 : i64} : tensor<32x64xbf16>, tensor<16x2xbf16>, tensor<16x2xi32> -> tensor<16x64xbf16>
  %load = dsv3.expert_load %idx {num_experts = 8 : i64} : tensor<16x2xi32> -> tensor<8xf32>
  %s3 = dsv3.reshape %scores : tensor<16x8xf32> -> tensor<2x8x8xf32>
  %i3 = dsv3.reshape %idx : tensor<16x2xi32> -> tensor<2x8x2xi32>
  %bl = dsv3.balance_loss %s3, %i3, alpha = 1.0e-04 : tensor<2x8x8xf32>, tensor<2x8x2xi32> -> tensor<f32>
  %r2, %s2 = dsv3.moe_dispatch %x, %idx policy = drop {num_experts = 8 : i64, capacity = 6 : i64} : tensor<16x64xbf16>, tensor<16x2xi32> -> tensor<48x64xbf16>, tensor<8xi32>
  %y2 = dsv3.moe_combine %r2, %gwb, %idx policy = drop {num_experts = 8 : i64, capacity = 6 : i64} : tensor<48x64xbf16>, tensor<16x2xbf16>, tensor<16x2xi32> -> tensor<16x64xbf16>
  %gw2, %idx2, %sc2 = dsv3.router softmax %logits {top_k = 2 : i64} : tensor<16x8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
  return %y, %load, %bl : tensor<16x64xbf16>, tensor<8xf32>, tensor<f32>
}

// Loss: cross entropy with and without a mask.
// CHECK-LABEL: func.func @loss(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<2x8x256xf32>, %[[ARG1:[^:]+]]: tensor<2x8xi64>, %[[ARG2:[^:]+]]: tensor<2x8xf32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.cross_entropy %[[ARG0]], %[[ARG1]] : tensor<2x8x256xf32>, tensor<2x8xi64> -> tensor<f32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.cross_entropy %[[ARG0]], %[[ARG1]] mask %[[ARG2]] {ignore_index = 0 : i64} : tensor<2x8x256xf32>, tensor<2x8xi64>, tensor<2x8xf32> -> tensor<f32>
// CHECK: return %[[V0]], %[[V1]] : tensor<f32>, tensor<f32>
func.func @loss(%logits: tensor<2x8x256xf32>, %t: tensor<2x8xi64>, %mask: tensor<2x8xf32>) -> (tensor<f32>, tensor<f32>) {
  %l = dsv3.cross_entropy %logits, %t : tensor<2x8x256xf32>, tensor<2x8xi64> -> tensor<f32>
  %m = dsv3.cross_entropy %logits, %t mask %mask {ignore_index = 0 : i64} : tensor<2x8x256xf32>, tensor<2x8xi64>, tensor<2x8xf32> -> tensor<f32>
  return %l, %m : tensor<f32>, tensor<f32>
}

// Precision: fp8 quantization, scaled GEMM, fake quant, loss scaling.
// CHECK-LABEL: func.func @precision(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<16x256xbf16>, %[[ARG1:[^:]+]]: tensor<128x256xbf16>, %[[ARG2:[^:]+]]: tensor<f32>, %[[ARG3:[^:]+]]: tensor<f32>, %[[ARG4:[^:]+]]: tensor<64xf16>, %[[ARG5:[^:]+]]: tensor<i64>
// CHECK: %[[RESULT:[^ :,]+]], %[[SCALES:[^ :,]+]] = dsv3.quantize %[[ARG0]] tile_1x128 : tensor<16x256xbf16> -> tensor<16x256xf8E4M3FN>, tensor<16x2xf32>
// CHECK: %[[RESULT_0:[^ :,]+]], %[[SCALES_1:[^ :,]+]] = dsv3.quantize %[[ARG1]] block_128x128 : tensor<128x256xbf16> -> tensor<128x256xf8E4M3FN>, tensor<1x2xf32>
// CHECK: %[[RESULT_2:[^ :,]+]], %[[SCALES_3:[^ :,]+]] = dsv3.quantize %[[ARG0]] tile_1x128 : tensor<16x256xbf16> -> tensor<16x256xf8E5M2>, tensor<16x2xf32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.dequantize %[[RESULT_0]], %[[SCALES_1]] block_128x128 : tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<128x256xbf16>
// CHECK: %[[V1:[^ :,]+]] = dsv3.scaled_matmul %[[RESULT]], %[[SCALES]], %[[RESULT_0]], %[[SCALES_1]] transpose_rhs : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x128xf32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.fake_quant %[[V0]], bits = 8 : tensor<128x256xbf16>
// CHECK: %[[V3:[^ :,]+]] = dsv3.scale %[[ARG2]], %[[ARG3]] : tensor<f32>, tensor<f32>
// CHECK: %[[V4:[^ :,]+]] = dsv3.unscale %[[ARG4]], %[[ARG3]] : tensor<64xf16>, tensor<f32>
// CHECK: %[[V5:[^ :,]+]] = dsv3.all_finite %[[V4]], %[[ARG4]] : tensor<64xf16>, tensor<64xf16>
// CHECK: %[[NEW_SCALE:[^ :,]+]], %[[NEW_GOOD_STEPS:[^ :,]+]] = dsv3.update_loss_scale %[[ARG3]], %[[ARG5]], %[[V5]] {growth_interval = 1000 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
// CHECK: return %[[V1]] : tensor<16x128xf32>
func.func @precision(%x: tensor<16x256xbf16>, %w: tensor<128x256xbf16>, %loss: tensor<f32>, %s: tensor<f32>,
                     %g: tensor<64xf16>, %n: tensor<i64>) -> tensor<16x128xf32> {
  %q, %qs = dsv3.quantize %x tile_1x128 : tensor<16x256xbf16> -> tensor<16x256xf8E4M3FN>, tensor<16x2xf32>
  %wq, %ws = dsv3.quantize %w block_128x128 : tensor<128x256xbf16> -> tensor<128x256xf8E4M3FN>, tensor<1x2xf32>
  %e5, %e5s = dsv3.quantize %x tile_1x128 : tensor<16x256xbf16> -> tensor<16x256xf8E5M2>, tensor<16x2xf32>
  %dq = dsv3.dequantize %wq, %ws block_128x128 : tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<128x256xbf16>
  %y = dsv3.scaled_matmul %q, %qs, %wq, %ws transpose_rhs : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x128xf32>
  %fq = dsv3.fake_quant %dq, bits = 8 : tensor<128x256xbf16>
  %sl = dsv3.scale %loss, %s : tensor<f32>, tensor<f32>
  %ug = dsv3.unscale %g, %s : tensor<64xf16>, tensor<f32>
  %ok = dsv3.all_finite %ug, %g : tensor<64xf16>, tensor<64xf16>
  %s2, %n2 = dsv3.update_loss_scale %s, %n, %ok {growth_interval = 1000 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
  return %y : tensor<16x128xf32>
}

// 2:4 sparsity.
// CHECK-LABEL: func.func @sparsity(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<128x64xbf16>, %[[ARG1:[^:]+]]: tensor<2x16x64xbf16>
// CHECK: %[[V0:[^ :,]+]] = dsv3.prune_2_4 %[[ARG0]] : tensor<128x64xbf16> -> tensor<128x64xi1>
// CHECK: %[[VALUES:[^ :,]+]], %[[INDICES:[^ :,]+]] = dsv3.compress_2_4 %[[ARG0]] : tensor<128x64xbf16> -> tensor<128x32xbf16>, tensor<128x32xi8>
// CHECK: %[[V1:[^ :,]+]] = dsv3.decompress_2_4 %[[VALUES]], %[[INDICES]] : tensor<128x32xbf16>, tensor<128x32xi8> -> tensor<128x64xbf16>
// CHECK: %[[V2:[^ :,]+]] = dsv3.sparse_matmul %[[ARG1]], %[[VALUES]], %[[INDICES]] : tensor<2x16x64xbf16>, tensor<128x32xbf16>, tensor<128x32xi8> -> tensor<2x16x128xbf16>
// CHECK: return %[[V2]], %[[V0]], %[[V1]] : tensor<2x16x128xbf16>, tensor<128x64xi1>, tensor<128x64xbf16>
func.func @sparsity(%w: tensor<128x64xbf16>, %x: tensor<2x16x64xbf16>) -> (tensor<2x16x128xbf16>, tensor<128x64xi1>, tensor<128x64xbf16>) {
  %m = dsv3.prune_2_4 %w : tensor<128x64xbf16> -> tensor<128x64xi1>
  %v, %i = dsv3.compress_2_4 %w : tensor<128x64xbf16> -> tensor<128x32xbf16>, tensor<128x32xi8>
  %d = dsv3.decompress_2_4 %v, %i : tensor<128x32xbf16>, tensor<128x32xi8> -> tensor<128x64xbf16>
  %y = dsv3.sparse_matmul %x, %v, %i : tensor<2x16x64xbf16>, tensor<128x32xbf16>, tensor<128x32xi8> -> tensor<2x16x128xbf16>
  return %y, %m, %d : tensor<2x16x128xbf16>, tensor<128x64xi1>, tensor<128x64xbf16>
}

// Collectives over mesh axes.
// CHECK-LABEL: func.func @collectives(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<64x32xf32>, %[[ARG1:[^:]+]]: tensor<32x32xbf16>
// CHECK: %[[V0:[^ :,]+]] = dsv3.all_reduce sum %[[ARG0]], group = "dp" : tensor<64x32xf32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.all_reduce max %[[ARG0]], group = "dp" : tensor<64x32xf32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.reduce_scatter mean %[[V0]], group = "dp", group_size = 2, dim = 0 : tensor<64x32xf32> -> tensor<32x32xf32>
// CHECK: %[[V3:[^ :,]+]] = dsv3.all_gather %[[ARG1]], group = "dp", group_size = 2, dim = 1 : tensor<32x32xbf16> -> tensor<32x64xbf16>
// CHECK: %[[V4:[^ :,]+]] = dsv3.all_to_all %[[ARG1]], group = "ep", group_size = 4, split_dim = 0, concat_dim = 1 : tensor<32x32xbf16> -> tensor<8x128xbf16>
// CHECK: return %[[V0]] : tensor<64x32xf32>
func.func @collectives(%g: tensor<64x32xf32>, %p: tensor<32x32xbf16>) -> tensor<64x32xf32> {
  %ar = dsv3.all_reduce sum %g, group = "dp" : tensor<64x32xf32>
  %mx = dsv3.all_reduce max %g, group = "dp" : tensor<64x32xf32>
  %rs = dsv3.reduce_scatter mean %ar, group = "dp", group_size = 2, dim = 0 : tensor<64x32xf32> -> tensor<32x32xf32>
  %ag = dsv3.all_gather %p, group = "dp", group_size = 2, dim = 1 : tensor<32x32xbf16> -> tensor<32x64xbf16>
  %a2a = dsv3.all_to_all %p, group = "ep", group_size = 4, split_dim = 0, concat_dim = 1 : tensor<32x32xbf16> -> tensor<8x128xbf16>
  return %ar : tensor<64x32xf32>
}

// Optimizer: clipping, schedule, AdamW with bf16 moments, router bias update.
// CHECK-LABEL: func.func @optimizer(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<64xf32>, %[[ARG1:[^:]+]]: tensor<64xf32>, %[[ARG2:[^:]+]]: tensor<64xbf16>, %[[ARG3:[^:]+]]: tensor<64xbf16>, %[[ARG4:[^:]+]]: tensor<8x8xf32>, %[[ARG5:[^:]+]]: tensor<i64>, %[[ARG6:[^:]+]]: tensor<8xf32>, %[[ARG7:[^:]+]]: tensor<8xf32>
// CHECK: %[[CLIPPED:[^ :,]+]]:2, %[[NORM:[^ :,]+]] = dsv3.clip_by_global_norm %[[ARG1]], %[[ARG4]] max_norm = 1.000000e+00 : tensor<64xf32>, tensor<8x8xf32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.lr_schedule %[[ARG5]] {min_lr = 3.000000e-05 : f64, peak_lr = 3.000000e-04 : f64, total_steps = 1000 : i64, warmup_steps = 100 : i64} : tensor<i64>
// CHECK: %[[NEW_PARAM:[^ :,]+]], %[[NEW_M:[^ :,]+]], %[[NEW_V:[^ :,]+]] = dsv3.adamw %[[ARG0]], %[[CLIPPED]]#0, %[[ARG2]], %[[ARG3]], %[[V0]], %[[ARG5]] {weight_decay = 0.000000e+00 : f64} : tensor<64xf32>, tensor<64xf32>, tensor<64xbf16>, tensor<64xbf16>, tensor<f32>, tensor<i64>
// CHECK: %[[V1:[^ :,]+]] = dsv3.update_router_bias %[[ARG6]], %[[ARG7]], gamma = 1.000000e-03 : tensor<8xf32>
// CHECK: return %[[NEW_PARAM]] : tensor<64xf32>
func.func @optimizer(%p: tensor<64xf32>, %g: tensor<64xf32>, %m: tensor<64xbf16>, %v: tensor<64xbf16>,
                     %g2: tensor<8x8xf32>, %step: tensor<i64>, %bias: tensor<8xf32>, %load: tensor<8xf32>) -> tensor<64xf32> {
  %cg, %cg2, %norm = dsv3.clip_by_global_norm %g, %g2 max_norm = 1.0 : tensor<64xf32>, tensor<8x8xf32>
  %lr = dsv3.lr_schedule %step {peak_lr = 3.0e-04 : f64, min_lr = 3.0e-05 : f64, warmup_steps = 100 : i64, total_steps = 1000 : i64} : tensor<i64>
  %p2, %m2, %v2 = dsv3.adamw %p, %cg, %m, %v, %lr, %step {weight_decay = 0.0 : f64} : tensor<64xf32>, tensor<64xf32>, tensor<64xbf16>, tensor<64xbf16>, tensor<f32>, tensor<i64>
  %b2 = dsv3.update_router_bias %bias, %load, gamma = 1.0e-03 : tensor<8xf32>
  return %p2 : tensor<64xf32>
}

// Structure: a fusion region with two results.
// CHECK-LABEL: func.func @structure(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<4x8xf32>, %[[ARG1:[^:]+]]: tensor<4x8xf32>
// CHECK: %[[V0:[^ :,]+]]:2 = dsv3.fusion ins(%[[ARG0]], %[[ARG1]] : tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>, tensor<4x8xf32> {
// CHECK: ^bb0(%[[BARG2:[^:]+]]: tensor<4x8xf32>, %[[BARG3:[^:]+]]: tensor<4x8xf32>):
// CHECK: %[[V1:[^ :,]+]] = dsv3.add %[[BARG2]], %[[BARG3]] : tensor<4x8xf32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.silu %[[V1]] : tensor<4x8xf32>
// CHECK: dsv3.yield %[[V1]], %[[V2]] : tensor<4x8xf32>, tensor<4x8xf32>
// CHECK: return %[[V0]]#0, %[[V0]]#1 : tensor<4x8xf32>, tensor<4x8xf32>
func.func @structure(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %y:2 = dsv3.fusion ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>, tensor<4x8xf32> {
  ^bb0(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>):
    %s = dsv3.add %x, %z : tensor<4x8xf32>
    %t = dsv3.silu %s : tensor<4x8xf32>
    dsv3.yield %s, %t : tensor<4x8xf32>, tensor<4x8xf32>
  }
  return %y#0, %y#1 : tensor<4x8xf32>, tensor<4x8xf32>
}

// Comparison, padding and scatter (the gradients of slice and gather).
// CHECK-LABEL: func.func @comparison_and_padding(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<4xf32>, %[[ARG1:[^:]+]]: tensor<4xf32>, %[[ARG2:[^:]+]]: tensor<2x3xf32>, %[[ARG3:[^:]+]]: tensor<2x8x4xf32>, %[[ARG4:[^:]+]]: tensor<2x8xi32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.compare lt %[[ARG0]], %[[ARG1]] : tensor<4xf32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.pad %[[ARG2]], low = [0, 1], high = [1, 0], interior = [0, 1] : tensor<2x3xf32> -> tensor<3x6xf32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.scatter_add %[[ARG3]][%[[ARG4]]] dim = 0 : tensor<2x8x4xf32>, tensor<2x8xi32> -> tensor<16x4xf32>
// CHECK: return %[[V0]] : tensor<4xi1>
func.func @comparison_and_padding(%a: tensor<4xf32>, %b: tensor<4xf32>, %x: tensor<2x3xf32>, %dy: tensor<2x8x4xf32>, %ids: tensor<2x8xi32>) -> tensor<4xi1> {
  %m = dsv3.compare lt %a, %b : tensor<4xf32>
  %p = dsv3.pad %x, low = [0, 1], high = [1, 0], interior = [0, 1] : tensor<2x3xf32> -> tensor<3x6xf32>
  %s = dsv3.scatter_add %dy[%ids] dim = 0 : tensor<2x8x4xf32>, tensor<2x8xi32> -> tensor<16x4xf32>
  return %m : tensor<4xi1>
}

// Backward kernels of the layers, and the inverse rotation.
// CHECK-LABEL: func.func @backward_ops(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<2x8x64xf32>, %[[ARG1:[^:]+]]: tensor<64xf32>, %[[ARG2:[^:]+]]: tensor<2x8x64xf32>, %[[ARG3:[^:]+]]: tensor<2x8x4x16xf32>, %[[ARG4:[^:]+]]: tensor<2x8xi32>, %[[ARG5:[^:]+]]: tensor<2x8xi32>, %[[ARG6:[^:]+]]: tensor<2x8x256xf32>, %[[ARG7:[^:]+]]: tensor<2x8xi32>, %[[ARG8:[^:]+]]: tensor<f32>
// CHECK: %[[D_INPUT:[^ :,]+]], %[[D_WEIGHT:[^ :,]+]] = dsv3.rms_norm_grad %[[ARG0]], %[[ARG1]], %[[ARG2]], eps = 9.9999999999999995E-7 : tensor<2x8x64xf32>, tensor<64xf32>
// CHECK: %[[D_QUERY:[^ :,]+]], %[[D_KEY:[^ :,]+]], %[[D_VALUE:[^ :,]+]] = dsv3.attention_grad %[[ARG3]], %[[ARG3]], %[[ARG3]], %[[ARG3]] segments %[[ARG4]] causal scale = 2.500000e-01 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8xi32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.cross_entropy_grad %[[ARG6]], %[[ARG7]], %[[ARG8]] : tensor<2x8x256xf32>, tensor<2x8xi32>, tensor<f32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.rope %[[ARG3]], %[[ARG5]], theta = 1.000000e+04 interleaved inverse : tensor<2x8x4x16xf32>, tensor<2x8xi32>
// CHECK: return %[[D_INPUT]] : tensor<2x8x64xf32>
func.func @backward_ops(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>, %dy: tensor<2x8x64xf32>, %q: tensor<2x8x4x16xf32>,
                        %seg: tensor<2x8xi32>, %pos: tensor<2x8xi32>, %logits: tensor<2x8x256xf32>, %t: tensor<2x8xi32>, %dl: tensor<f32>) -> tensor<2x8x64xf32> {
  %dx, %dw = dsv3.rms_norm_grad %x, %w, %dy, eps = 1.0e-06 : tensor<2x8x64xf32>, tensor<64xf32>
  %dq, %dk, %dv = dsv3.attention_grad %q, %q, %q, %q segments %seg causal scale = 2.5e-01 : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8xi32>
  %dlog = dsv3.cross_entropy_grad %logits, %t, %dl : tensor<2x8x256xf32>, tensor<2x8xi32>, tensor<f32>
  %r = dsv3.rope %q, %pos, theta = 1.0e+04 interleaved inverse : tensor<2x8x4x16xf32>, tensor<2x8xi32>
  return %dx : tensor<2x8x64xf32>
}

// Backward kernels of the MoE ops.
// CHECK-LABEL: func.func @moe_backward(
// CHECK-SAME: %[[ARG0:[^:]+]]: tensor<16x8xf32>, %[[ARG1:[^:]+]]: tensor<16x2xi32>, %[[ARG2:[^:]+]]: tensor<16x2xf32>, %[[ARG3:[^:]+]]: tensor<16x8xf32>, %[[ARG4:[^:]+]]: tensor<32x64xf32>, %[[ARG5:[^:]+]]: tensor<16x64xf32>, %[[ARG6:[^:]+]]: tensor<32x64xf32>, %[[ARG7:[^:]+]]: tensor<32x16xf32>, %[[ARG8:[^:]+]]: tensor<8xi32>, %[[ARG9:[^:]+]]: tensor<2x8x8xf32>, %[[ARG10:[^:]+]]: tensor<2x8x2xi32>, %[[ARG11:[^:]+]]: tensor<f32>
// CHECK: %[[V0:[^ :,]+]] = dsv3.router_grad sigmoid %[[ARG0]], %[[ARG1]], %[[ARG2]] scores %[[ARG3]] {norm_topk_prob, route_scale = 2.500000e+00 : f64} : tensor<16x8xf32>, tensor<16x2xi32>, tensor<16x2xf32>, tensor<16x8xf32>
// CHECK: %[[D_ROWS:[^ :,]+]], %[[D_WEIGHTS:[^ :,]+]] = dsv3.moe_combine_grad %[[ARG4]], %[[ARG2]], %[[ARG1]], %[[ARG5]] {num_experts = 8 : i64} : tensor<32x64xf32>, tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x64xf32>
// CHECK: %[[V1:[^ :,]+]] = dsv3.grouped_matmul_wgrad %[[ARG6]], %[[ARG7]], %[[ARG8]] transpose_rhs : tensor<32x64xf32>, tensor<32x16xf32>, tensor<8xi32> -> tensor<8x16x64xf32>
// CHECK: %[[V2:[^ :,]+]] = dsv3.balance_loss_grad %[[ARG9]], %[[ARG10]], %[[ARG11]], alpha = 1.000000e-04 : tensor<2x8x8xf32>, tensor<2x8x2xi32>, tensor<f32>
// CHECK: return %[[V0]] : tensor<16x8xf32>
func.func @moe_backward(%l: tensor<16x8xf32>, %idx: tensor<16x2xi32>, %dw: tensor<16x2xf32>, %ds: tensor<16x8xf32>,
                        %rows: tensor<32x64xf32>, %dy: tensor<16x64xf32>, %x: tensor<32x64xf32>, %drows: tensor<32x16xf32>,
                        %sizes: tensor<8xi32>, %s: tensor<2x8x8xf32>, %i3: tensor<2x8x2xi32>, %dl: tensor<f32>) -> tensor<16x8xf32> {
  %g = dsv3.router_grad sigmoid %l, %idx, %dw scores %ds {route_scale = 2.5 : f64, norm_topk_prob} : tensor<16x8xf32>, tensor<16x2xi32>, tensor<16x2xf32>, tensor<16x8xf32>
  %dr, %dgw = dsv3.moe_combine_grad %rows, %dw, %idx, %dy {num_experts = 8 : i64} : tensor<32x64xf32>, tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x64xf32>
  %wg = dsv3.grouped_matmul_wgrad %x, %drows, %sizes transpose_rhs : tensor<32x64xf32>, tensor<32x16xf32>, tensor<8xi32> -> tensor<8x16x64xf32>
  %bg = dsv3.balance_loss_grad %s, %i3, %dl, alpha = 1.0e-04 : tensor<2x8x8xf32>, tensor<2x8x2xi32>, tensor<f32>
  return %g : tensor<16x8xf32>
}
