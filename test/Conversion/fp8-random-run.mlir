// fp8 E4M3FN on seeded random inputs of several whole and partial tiles:
// an activation [2, 72, 136] tiled along its 136 columns (read as
// [144, 136]), its re-tiling along the 144 tokens, stacked expert weights
// [4, 8, 136] in 128x128 blocks, and a gradient transposed and tiled along
// the tokens. Lowered to LLVM and run, the values match the interpreter's
// (to the 6 digits printed).
// RUN: %compare_with_interpreter %s --wrap=f --exact | FileCheck %s
// CHECK: 4 results, 0 mismatches

func.func @f(%x: tensor<2x72x136xf32> {dsv3.init = "normal", dsv3.init_std = 1.0 : f64},
             %w: tensor<4x8x136xf32> {dsv3.init = "normal", dsv3.init_std = 0.02 : f64},
             %g: tensor<144x160xf32> {dsv3.init = "normal", dsv3.init_std = 0.001 : f64})
    -> (tensor<144x136xf32>, tensor<136x144xf32>, tensor<4x8x136xf32>, tensor<160x144xf32>) {
  %q, %s = dsv3.quantize %x tile_1x128 : tensor<2x72x136xf32> -> tensor<2x72x136xf8E4M3FN>, tensor<2x72x2xf32>
  %q2 = dsv3.reshape %q : tensor<2x72x136xf8E4M3FN> -> tensor<144x136xf8E4M3FN>
  %s2 = dsv3.reshape %s : tensor<2x72x2xf32> -> tensor<144x2xf32>
  %d = dsv3.dequantize %q2, %s2 tile_1x128 : tensor<144x136xf8E4M3FN>, tensor<144x2xf32> -> tensor<144x136xf32>
  %tq, %ts = dsv3.transpose_quantized %q2, %s2 : tensor<144x136xf8E4M3FN>, tensor<144x2xf32> -> tensor<136x144xf8E4M3FN>, tensor<136x2xf32>
  %td = dsv3.dequantize %tq, %ts tile_1x128 : tensor<136x144xf8E4M3FN>, tensor<136x2xf32> -> tensor<136x144xf32>
  %wq, %ws = dsv3.quantize %w block_128x128 : tensor<4x8x136xf32> -> tensor<4x8x136xf8E4M3FN>, tensor<4x1x2xf32>
  %wd = dsv3.dequantize %wq, %ws block_128x128 : tensor<4x8x136xf8E4M3FN>, tensor<4x1x2xf32> -> tensor<4x8x136xf32>
  %gt = dsv3.transpose %g, perm = [1, 0] : tensor<144x160xf32> -> tensor<160x144xf32>
  %gq, %gs = dsv3.quantize %gt tile_1x128 : tensor<160x144xf32> -> tensor<160x144xf8E4M3FN>, tensor<160x2xf32>
  %gd = dsv3.dequantize %gq, %gs tile_1x128 : tensor<160x144xf8E4M3FN>, tensor<160x2xf32> -> tensor<160x144xf32>
  return %d, %td, %wd, %gd : tensor<144x136xf32>, tensor<136x144xf32>, tensor<4x8x136xf32>, tensor<160x144xf32>
}
