// fp8 E4M3FN quantization lowered to LLVM and run matches the interpreter
// (to the 6 digits printed, which tell fp8 values apart): rounding ties to
// even (normal and subnormal), a NaN, an amax so small that amax / 448
// underflows (the scale stops at 2^-126), partial tiles and blocks,
// per-expert blocks of a stacked weight, read transposed too, re-tiling
// along the tokens, and dequantization to f32 and bf16. The fp8 values
// are compared as themselves (dequantized with a scale of 1).
// RUN: %compare_with_interpreter %s --exact | FileCheck %s
// CHECK: 9 results, 0 mismatches

func.func @compute() -> (tensor<1x12xf32>, tensor<1x1xf32>, tensor<2x3x130xf32>, tensor<2x1x2xf32>,
                         tensor<130x3xf32>, tensor<130x1xf32>, tensor<2x130x3xf32>,
                         tensor<1x3xf32>, tensor<1x1xf32>) {
  // amax 448: scale 1. 1.0625 and 1.1875 are ties (to 1.0 and 1.25),
  // 232 a tie between 224 and 240 (to 224), 2^-10 and 1.5 * 2^-9 subnormal
  // ties (to 0 and 2^-8), 7.5 * 2^-9 a tie that rounds up into the normal
  // range (2^-6); -0.0 keeps its sign.
  %x = dsv3.constant dense<[[448.0, 1.0625, 1.1875, -1.0625, 232.0, 0x3A800000, 0x3B400000,
                             0x3C700000, 0x3C000000, -0.0, 0x7FC00000, 3.0e-5]]> : tensor<1x12xf32>
  %q, %s = dsv3.quantize %x tile_1x128 : tensor<1x12xf32> -> tensor<1x12xf8E4M3FN>, tensor<1x1xf32>
  %one = dsv3.constant dense<1.0> : tensor<1x1xf32>
  %qv = dsv3.dequantize %q, %one tile_1x128 : tensor<1x12xf8E4M3FN>, tensor<1x1xf32> -> tensor<1x12xf32>

  // Two experts' [3, 130] weights: one block row, two block columns (the
  // second 2 wide); amax 900.5 and 0.013 give scales that are not powers
  // of two, and a value of the second block above the first's amax.
  %w0 = dsv3.constant dense<0.0> : tensor<2x3x130xf32>
  %wr = dsv3.constant dense<[[[900.5, -3.3, 0.7], [0.001, 12.25, -0.013]],
                             [[0.013, 0.0077, -0.0041], [7.0e-6, 0.0, 1.0e-4]]]> : tensor<2x2x3xf32>
  %wt = dsv3.reshape %wr : tensor<2x2x3xf32> -> tensor<2x6xf32>
  %wp = dsv3.pad %wt, low = [0, 0], high = [0, 384], interior = [0, 0] : tensor<2x6xf32> -> tensor<2x390xf32>
  %w = dsv3.reshape %wp : tensor<2x390xf32> -> tensor<2x3x130xf32>
  %wq, %ws = dsv3.quantize %w block_128x128 : tensor<2x3x130xf32> -> tensor<2x3x130xf8E4M3FN>, tensor<2x1x2xf32>
  %wd = dsv3.dequantize %wq, %ws block_128x128 : tensor<2x3x130xf8E4M3FN>, tensor<2x1x2xf32> -> tensor<2x3x130xf32>
  // The same, read transposed (as an input gradient reads it).
  %wdt = dsv3.dequantize %wq, %ws block_128x128 transposed : tensor<2x3x130xf8E4M3FN>, tensor<2x1x2xf32> -> tensor<2x130x3xf32>

  // The activation [3, 130] (tiles along its 130 columns) re-tiled as its
  // transpose [130, 3], and dequantized to bf16.
  %a = dsv3.reshape %w : tensor<2x3x130xf32> -> tensor<6x130xf32>
  %a3 = dsv3.slice %a, start = [0, 0], limit = [3, 130], strides = [1, 1] : tensor<6x130xf32> -> tensor<3x130xf32>
  %aq, %as = dsv3.quantize %a3 tile_1x128 : tensor<3x130xf32> -> tensor<3x130xf8E4M3FN>, tensor<3x2xf32>
  %tq, %ts = dsv3.transpose_quantized %aq, %as : tensor<3x130xf8E4M3FN>, tensor<3x2xf32> -> tensor<130x3xf8E4M3FN>, tensor<130x1xf32>
  %tb = dsv3.dequantize %tq, %ts tile_1x128 : tensor<130x3xf8E4M3FN>, tensor<130x1xf32> -> tensor<130x3xbf16>
  %td = dsv3.cast %tb : tensor<130x3xbf16> to tensor<130x3xf32>

  // amax 1e-40 (an f32 subnormal): amax / 448 underflows to a subnormal
  // scale, which stops at 2^-126; the quotients are fp8 subnormals.
  %u = dsv3.constant dense<[[1.0e-40, -5.0e-41, 0.0]]> : tensor<1x3xf32>
  %uq, %us = dsv3.quantize %u tile_1x128 : tensor<1x3xf32> -> tensor<1x3xf8E4M3FN>, tensor<1x1xf32>
  %uv = dsv3.dequantize %uq, %one tile_1x128 : tensor<1x3xf8E4M3FN>, tensor<1x1xf32> -> tensor<1x3xf32>
  return %qv, %s, %wd, %ws, %td, %ts, %wdt, %uv, %us : tensor<1x12xf32>, tensor<1x1xf32>, tensor<2x3x130xf32>, tensor<2x1x2xf32>, tensor<130x3xf32>, tensor<130x1xf32>, tensor<2x130x3xf32>, tensor<1x3xf32>, tensor<1x1xf32>
}
