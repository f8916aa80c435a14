// RUN: dsv3-opt %s --dsv3-verify-precision=recipe=deepseek-v3 -o /dev/null 2>&1 | FileCheck %s
// RUN: not dsv3-opt %s --dsv3-verify-precision="recipe=deepseek-v3 errors=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ERRORS

// Under the deepseek-v3 recipe a linear layer's GEMM reads dequantized
// E4M3 operands. The input gradient below reads its weight as a bf16 cast
// instead (a misplaced cast): it is the one departure.
// CHECK-NOT: warning
// CHECK: verify-precision-fp8.mlir:[[@LINE+12]]:9: warning: [gemm-precision] dsv3.matmul runs in bf16; the deepseek-v3 recipe runs a linear layer's GEMMs (forward, input and weight gradient) in fp8 E4M3
// CHECK: remark: dsv3-verify-precision: 1 departure of @train_step from the deepseek-v3 recipe: gemm-precision 1
// ERRORS: error: [gemm-precision]
func.func @train_step(%x: tensor<16x256xf32>, %w: tensor<128x256xf32> {dsv3.role = "param", dsv3.name = "w"},
                      %dy: tensor<16x128xf32>) -> (tensor<16x128xf32>, tensor<16x256xbf16>) {
  %xq, %xs = dsv3.quantize %x tile_1x128 : tensor<16x256xf32> -> tensor<16x256xf8E4M3FN>, tensor<16x2xf32>
  %xd = dsv3.dequantize %xq, %xs tile_1x128 : tensor<16x256xf8E4M3FN>, tensor<16x2xf32> -> tensor<16x256xf32>
  %wq, %ws = dsv3.quantize %w block_128x128 : tensor<128x256xf32> -> tensor<128x256xf8E4M3FN>, tensor<1x2xf32>
  %wd = dsv3.dequantize %wq, %ws block_128x128 : tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<128x256xf32>
  %y = dsv3.matmul %xd, %wd transpose_rhs : tensor<16x256xf32>, tensor<128x256xf32> -> tensor<16x128xf32>
  %dyb = dsv3.cast %dy : tensor<16x128xf32> to tensor<16x128xbf16>
  %wb = dsv3.cast %w : tensor<128x256xf32> to tensor<128x256xbf16>
  %dx = dsv3.matmul %dyb, %wb : tensor<16x128xbf16>, tensor<128x256xbf16> -> tensor<16x256xbf16>
  return %y, %dx : tensor<16x128xf32>, tensor<16x256xbf16>
}
