// RUN: dsv3-opt %s --dsv3-interpret="function=uniform_loss" -o /dev/null | FileCheck %s --check-prefix=UNIFORM
// RUN: dsv3-opt %s --dsv3-interpret="function=constants" -o /dev/null | FileCheck %s --check-prefix=CONST
// RUN: dsv3-opt %s --dsv3-interpret="function=bf16_rounding" -o /dev/null | FileCheck %s --check-prefix=BF16
// RUN: dsv3-opt %s --dsv3-interpret="function=fp8" -o /dev/null | FileCheck %s --check-prefix=FP8
// RUN: dsv3-opt %s --dsv3-interpret="function=routing" -o /dev/null | FileCheck %s --check-prefix=ROUTE
// RUN: dsv3-opt %s --dsv3-interpret="function=group_rules" -o /dev/null | FileCheck %s --check-prefix=GROUPS
// RUN: not dsv3-opt %s --dsv3-interpret="function=bad_token" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADTOKEN
// RUN: not dsv3-opt %s --dsv3-interpret="function=missing" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MISSING

// Zero logits over 8 classes: the loss is ln 8 whatever the targets.
// UNIFORM: result 0: tensor<f32> sum 2.07944 [2.07944]
func.func @uniform_loss(%t: tensor<2x3xi32>) -> tensor<f32> {
  %z = dsv3.constant dense<0.0> : tensor<2x3x8xf32>
  %l = dsv3.cross_entropy %z, %t : tensor<2x3x8xf32>, tensor<2x3xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// [[1, 2], [3, 4]] @ [[1, 0], [1, 1]] = [[3, 2], [7, 4]]; softmax of [3, 2]
// is [0.731059, 0.268941]; transposing gives [[3, 7], [2, 4]].
// CONST: result 0: tensor<2x2xf32> sum 16 [3, 2, 7, 4]
// CONST: result 1: tensor<2x2xf32> sum 2 [0.731059, 0.268941, 0.952574, 0.0474259]
// CONST: result 2: tensor<2x2xf32> sum 16 [3, 7, 2, 4]
func.func @constants() -> (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) {
  %a = dsv3.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %b = dsv3.constant dense<[[1.0, 0.0], [1.0, 1.0]]> : tensor<2x2xf32>
  %c = dsv3.matmul %a, %b : tensor<2x2xf32>, tensor<2x2xf32> -> tensor<2x2xf32>
  %s = dsv3.softmax %c, dim = 1 : tensor<2x2xf32>
  %t = dsv3.transpose %c, perm = [1, 0] : tensor<2x2xf32> -> tensor<2x2xf32>
  return %c, %s, %t : tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>
}

// bf16 keeps 8 significant bits: 1 + 2^-9 rounds to 1 (ties to even),
// 1 + 3 * 2^-9 rounds up to 1 + 2^-7. f16 keeps 11: 1 + 2^-12 rounds to 1,
// 1 + 3 * 2^-12 to 1 + 2^-10; 70000 overflows to inf.
// BF16: result 0: tensor<2xbf16> sum 2.00781 [1, 1.00781]
// BF16: result 1: tensor<3xf16> sum inf [1, 1.00098, inf]
func.func @bf16_rounding() -> (tensor<2xbf16>, tensor<3xf16>) {
  %x = dsv3.constant dense<[1.001953125, 1.005859375]> : tensor<2xf32>
  %y = dsv3.cast %x : tensor<2xf32> to tensor<2xbf16>
  %h = dsv3.constant dense<[1.000244140625, 1.000732421875, 70000.0]> : tensor<3xf32>
  %z = dsv3.cast %h : tensor<3xf32> to tensor<3xf16>
  return %y, %z : tensor<2xbf16>, tensor<3xf16>
}

// One 1x128 tile with amax 896: scale 896 / 448 = 2; 3.0 / 2 = 1.5 is
// representable; dequantized back exactly.
// FP8: result 0: tensor<1x128xf8E4M3FN> sum 449.5 [448, 1.5, 0, 0, ...]
// FP8: result 1: tensor<1x1xf32> sum 2 [2]
// FP8: result 2: tensor<1x128xf32> sum 899 [896, 3, 0, 0, ...]
func.func @fp8() -> (tensor<1x128xf8E4M3FN>, tensor<1x1xf32>, tensor<1x128xf32>) {
  %x = dsv3.constant dense<[[896.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x128xf32>
  %q, %s = dsv3.quantize %x tile_1x128 : tensor<1x128xf32> -> tensor<1x128xf8E4M3FN>, tensor<1x1xf32>
  %d = dsv3.dequantize %q, %s tile_1x128 : tensor<1x128xf8E4M3FN>, tensor<1x1xf32> -> tensor<1x128xf32>
  return %q, %s, %d : tensor<1x128xf8E4M3FN>, tensor<1x1xf32>, tensor<1x128xf32>
}

// Group-limited routing: the bias steers the choice, weights come from the
// unbiased scores. Scores [0.9, 0.8, 0.3, 0.2] plus bias [-0.9, -0.5, 0,
// 0.4] give [0, 0.3, 0.3, 0.6]; groups {0,1} and {2,3} score 0.3 and 0.9,
// so the second group is kept and expert 3 (0.6) beats expert 2 (0.3),
// where without the bias expert 0 would win. Weight 0.2 / 0.2 * 2 = 2.
// ROUTE: result 0: tensor<1x1xf32> sum 2 [2]
// ROUTE: result 1: tensor<1x1xi32> sum 3 [3]
// ROUTE: result 2: tensor<4xf32> sum 1 [0, 0, 0, 1]
func.func @routing() -> (tensor<1x1xf32>, tensor<1x1xi32>, tensor<4xf32>) {
  // Logits whose sigmoid is [0.9, 0.8, 0.3, 0.2].
  %l = dsv3.constant dense<[[2.1972246, 1.3862944, -0.84729786, -1.3862944]]> : tensor<1x4xf32>
  %b = dsv3.constant dense<[-0.9, -0.5, 0.0, 0.4]> : tensor<4xf32>
  %w, %i, %s = dsv3.router sigmoid %l bias %b {top_k = 1 : i64, n_group = 2 : i64, topk_group = 1 : i64, route_scale = 2.0 : f64, norm_topk_prob}
      : tensor<1x4xf32>, tensor<4xf32> -> tensor<1x1xf32>, tensor<1x1xi32>, tensor<1x4xf32>
  %load = dsv3.expert_load %i {num_experts = 4 : i64} : tensor<1x1xi32> -> tensor<4xf32>
  return %w, %i, %load : tensor<1x1xf32>, tensor<1x1xi32>, tensor<4xf32>
}

// A token id outside the table is a run-time error at the op.
// BADTOKEN: error: interpreter: token id 9 is outside the vocabulary [0, 4)
func.func @bad_token(%t: tensor<4x2xf32>) -> tensor<1x2xf32> {
  %ids = dsv3.constant dense<[9]> : tensor<1xi32>
  %e = dsv3.embedding %t[%ids] : tensor<4x2xf32>, tensor<1xi32> -> tensor<1x2xf32>
  return %e : tensor<1x2xf32>
}

// MISSING: error: dsv3-interpret: no function @missing

// RUN: not dsv3-opt %s --dsv3-interpret="function=huge" -o /dev/null 2>&1 | FileCheck %s --check-prefix=HUGE
// HUGE: error: interpreter: 'tensor<100000x100000x100xf32>' is too large to interpret (more than 268435456 elements)
func.func @huge(%x: tensor<100000x100000x100xf32>) -> tensor<100000x100000x100xf32> {
  %y = dsv3.exp %x : tensor<100000x100000x100xf32>
  return %y : tensor<100000x100000x100xf32>
}

// Negative integer constants keep their sign (an ignored target of -100).
// RUN: dsv3-opt %s --dsv3-interpret="function=negative_ints" -o /dev/null | FileCheck %s --check-prefix=NEG
// NEG: result 0: tensor<3xi32> sum -96 [0, -100, 4]
func.func @negative_ints() -> tensor<3xi32> {
  %t = dsv3.constant dense<[0, -100, 4]> : tensor<3xi32>
  return %t : tensor<3xi32>
}

// Sigmoid scores [0.90, 0.0067 | 0.60, 0.60]: by the sum of its top two the
// second group wins (1.20 vs 0.91) and expert 2 is picked (ties to the
// lower index); by its best score (group_max, DeepSeek-V2) the first group
// wins and expert 0 is picked.
// GROUPS: result 0: tensor<1x1xi32> sum 2 [2]
// GROUPS: result 1: tensor<1x1xi32> sum 0 [0]
func.func @group_rules() -> (tensor<1x1xi32>, tensor<1x1xi32>) {
  %l = dsv3.constant dense<[[2.2, -5.0, 0.4, 0.4]]> : tensor<1x4xf32>
  %w, %i, %s = dsv3.router sigmoid %l {top_k = 1 : i64, n_group = 2 : i64, topk_group = 1 : i64}
      : tensor<1x4xf32> -> tensor<1x1xf32>, tensor<1x1xi32>, tensor<1x4xf32>
  %wm, %im, %sm = dsv3.router sigmoid %l {top_k = 1 : i64, n_group = 2 : i64, topk_group = 1 : i64, group_max}
      : tensor<1x4xf32> -> tensor<1x1xf32>, tensor<1x1xi32>, tensor<1x4xf32>
  return %i, %im : tensor<1x1xi32>, tensor<1x1xi32>
}
