// RUN: dsv3-opt %s --dsv3-mixed-precision="policy=fp8" -split-input-file | FileCheck %s
// RUN: dsv3-opt %s --dsv3-mixed-precision="policy=fp8" -split-input-file | dsv3-opt --dsv3-verify-precision="recipe=deepseek-v3 errors=true" -split-input-file -o /dev/null

// The three GEMMs of a linear layer y = x W^T under policy=fp8, with K 200
// and 200 tokens (a whole and a partial tile each way) and N 136:
// - forward: x per 1x128 tile along K, W per 128x128 block;
// - input gradient: dy per tile along N (its contraction), the same fp8 W
//   dequantized transposed (a copy of its own: the forward's f32 copy is
//   not kept for the backward);
// - weight gradient (contracting the tokens): dy transposed and tiled
//   along the tokens, and the forward's fp8 x re-tiled along them, so the
//   backward reads x only as fp8.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:[^:]+]]: tensor<2x100x200xf32>, %[[W:[^:]+]]: tensor<136x200xf32>
// CHECK: %[[XQ:.*]], %[[XS:.*]] = dsv3.quantize %[[X]] tile_1x128 : tensor<2x100x200xf32> -> tensor<2x100x200xf8E4M3FN>, tensor<2x100x2xf32>
// CHECK: %[[XD:.*]] = dsv3.dequantize %[[XQ]], %[[XS]] tile_1x128 : {{.*}} -> tensor<2x100x200xf32>
// CHECK: %[[WQ:.*]], %[[WS:.*]] = dsv3.quantize %[[W]] block_128x128 : tensor<136x200xf32> -> tensor<136x200xf8E4M3FN>, tensor<2x2xf32>
// CHECK: %[[WD:.*]] = dsv3.dequantize %[[WQ]], %[[WS]] block_128x128
// CHECK: %[[Y:.*]] = dsv3.matmul %[[XD]], %[[WD]] transpose_rhs : tensor<2x100x200xf32>, tensor<136x200xf32> -> tensor<2x100x136xf32>
// CHECK: %[[SEED:.*]] = dsv3.constant
// CHECK: %[[DY:.*]] = dsv3.broadcast %[[SEED]]
// CHECK: %[[DYQ:.*]], %[[DYS:.*]] = dsv3.quantize %[[DY]] tile_1x128 : tensor<2x100x136xf32> -> tensor<2x100x136xf8E4M3FN>, tensor<2x100x2xf32>
// CHECK: %[[DYD:.*]] = dsv3.dequantize %[[DYQ]], %[[DYS]]
// CHECK: %[[WDT:.*]] = dsv3.dequantize %[[WQ]], %[[WS]] block_128x128 transposed : tensor<136x200xf8E4M3FN>, tensor<2x2xf32> -> tensor<200x136xf32>
// CHECK: %[[DX:.*]] = dsv3.matmul %[[DYD]], %[[WDT]] transpose_rhs : tensor<2x100x136xf32>, tensor<200x136xf32> -> tensor<2x100x200xf32>
// CHECK: %[[DY2:.*]] = dsv3.reshape %[[DY]] : tensor<2x100x136xf32> -> tensor<200x136xf32>
// CHECK: %[[DYT:.*]] = dsv3.transpose %[[DY2]], perm = [1, 0] : tensor<200x136xf32> -> tensor<136x200xf32>
// CHECK: %[[DYTQ:.*]], %[[DYTS:.*]] = dsv3.quantize %[[DYT]] tile_1x128 : tensor<136x200xf32> -> tensor<136x200xf8E4M3FN>, tensor<136x2xf32>
// CHECK: %[[DYTD:.*]] = dsv3.dequantize %[[DYTQ]], %[[DYTS]]
// CHECK: %[[XQ2:.*]] = dsv3.reshape %[[XQ]] : tensor<2x100x200xf8E4M3FN> -> tensor<200x200xf8E4M3FN>
// CHECK: %[[XS2:.*]] = dsv3.reshape %[[XS]] : tensor<2x100x2xf32> -> tensor<200x2xf32>
// CHECK: %[[XTQ:.*]], %[[XTS:.*]] = dsv3.transpose_quantized %[[XQ2]], %[[XS2]] : tensor<200x200xf8E4M3FN>, tensor<200x2xf32> -> tensor<200x200xf8E4M3FN>, tensor<200x2xf32>
// CHECK: %[[XTD:.*]] = dsv3.dequantize %[[XTQ]], %[[XTS]]
// CHECK: %[[DW:.*]] = dsv3.matmul %[[DYTD]], %[[XTD]] transpose_rhs : tensor<136x200xf32>, tensor<200x200xf32> -> tensor<136x200xf32>
// CHECK: return %[[Y]], %[[DX]], %[[DW]]
func.func @train_step(%x: tensor<2x100x200xf32>,
                      %w: tensor<136x200xf32> {dsv3.role = "param", dsv3.name = "w"})
    -> (tensor<2x100x136xf32>, tensor<2x100x200xf32>, tensor<136x200xf32>) {
  %y = dsv3.matmul %x, %w transpose_rhs : tensor<2x100x200xf32>, tensor<136x200xf32> -> tensor<2x100x136xf32>
  %seed = dsv3.constant {dsv3.loss_seed} dense<1.0> : tensor<f32>
  %dy = dsv3.broadcast %seed, dims = [] : tensor<f32> -> tensor<2x100x136xf32>
  %dx = dsv3.matmul %dy, %w : tensor<2x100x136xf32>, tensor<136x200xf32> -> tensor<2x100x200xf32>
  %dy2 = dsv3.reshape %dy : tensor<2x100x136xf32> -> tensor<200x136xf32>
  %x2 = dsv3.reshape %x : tensor<2x100x200xf32> -> tensor<200x200xf32>
  %dw = dsv3.matmul %dy2, %x2 transpose_lhs : tensor<200x136xf32>, tensor<200x200xf32> -> tensor<136x200xf32>
  return %y, %dx, %dw : tensor<2x100x136xf32>, tensor<2x100x200xf32>, tensor<136x200xf32>
}

// -----

// An expert layer: the stacked weights per expert in 128x128 blocks; the
// weight gradient's operands (the dispatched rows and their gradient)
// tiled along the 130 rows and transposed back for the grouped GEMM.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[R:[^:]+]]: tensor<130x136xf32>, %[[E:[^:]+]]: tensor<2x8x136xf32>
// CHECK: %[[RQ:.*]], %[[RS:.*]] = dsv3.quantize %[[R]] tile_1x128 : tensor<130x136xf32> -> tensor<130x136xf8E4M3FN>, tensor<130x2xf32>
// CHECK: %[[EQ:.*]], %[[ES:.*]] = dsv3.quantize %[[E]] block_128x128 : tensor<2x8x136xf32> -> tensor<2x8x136xf8E4M3FN>, tensor<2x1x2xf32>
// CHECK: dsv3.grouped_matmul {{.*}} transpose_rhs : tensor<130x136xf32>, tensor<2x8x136xf32>, tensor<2xi32> -> tensor<130x8xf32>
// CHECK: dsv3.quantize %{{.*}} tile_1x128 : tensor<130x8xf32> -> tensor<130x8xf8E4M3FN>, tensor<130x1xf32>
// CHECK: dsv3.dequantize %[[EQ]], %[[ES]] block_128x128 transposed : tensor<2x8x136xf8E4M3FN>, tensor<2x1x2xf32> -> tensor<2x136x8xf32>
// CHECK: dsv3.grouped_matmul {{.*}} transpose_rhs : tensor<130x8xf32>, tensor<2x136x8xf32>, tensor<2xi32> -> tensor<130x136xf32>
// CHECK: %[[RTQ:.*]], %[[RTS:.*]] = dsv3.transpose_quantized %[[RQ]], %[[RS]] : tensor<130x136xf8E4M3FN>, tensor<130x2xf32> -> tensor<136x130xf8E4M3FN>, tensor<136x2xf32>
// CHECK: %[[RTD:.*]] = dsv3.dequantize %[[RTQ]], %[[RTS]]
// CHECK: %[[RB:.*]] = dsv3.transpose %[[RTD]], perm = [1, 0] : tensor<136x130xf32> -> tensor<130x136xf32>
// CHECK: %[[DT:.*]] = dsv3.transpose %{{.*}}, perm = [1, 0] : tensor<130x8xf32> -> tensor<8x130xf32>
// CHECK: dsv3.quantize %[[DT]] tile_1x128 : tensor<8x130xf32> -> tensor<8x130xf8E4M3FN>, tensor<8x2xf32>
// CHECK: %[[DB:.*]] = dsv3.transpose %{{.*}}, perm = [1, 0] : tensor<8x130xf32> -> tensor<130x8xf32>
// CHECK: dsv3.grouped_matmul_wgrad %[[RB]], %[[DB]], %{{.*}} transpose_rhs : tensor<130x136xf32>, tensor<130x8xf32>, tensor<2xi32> -> tensor<2x8x136xf32>
func.func @train_step(%rows: tensor<130x136xf32>,
                      %e: tensor<2x8x136xf32> {dsv3.role = "param", dsv3.name = "e"},
                      %sizes: tensor<2xi32>)
    -> (tensor<130x8xf32>, tensor<130x136xf32>, tensor<2x8x136xf32>) {
  %y = dsv3.grouped_matmul %rows, %e, %sizes transpose_rhs : tensor<130x136xf32>, tensor<2x8x136xf32>, tensor<2xi32> -> tensor<130x8xf32>
  %seed = dsv3.constant {dsv3.loss_seed} dense<1.0> : tensor<f32>
  %dy = dsv3.broadcast %seed, dims = [] : tensor<f32> -> tensor<130x8xf32>
  %dx = dsv3.grouped_matmul %dy, %e, %sizes : tensor<130x8xf32>, tensor<2x8x136xf32>, tensor<2xi32> -> tensor<130x136xf32>
  %dw = dsv3.grouped_matmul_wgrad %rows, %dy, %sizes transpose_rhs : tensor<130x136xf32>, tensor<130x8xf32>, tensor<2xi32> -> tensor<2x8x136xf32>
  return %y, %dx, %dw : tensor<130x8xf32>, tensor<130x136xf32>, tensor<2x8x136xf32>
}
