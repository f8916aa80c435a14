// RUN: dsv3-opt %s --convert-dsv3-to-linalg -split-input-file -verify-diagnostics

// The whole dialect is illegal: an op without a lowering is an error that
// names it, not an op left for bufferization to trip over.

func.func @collective(%g: tensor<64xf32>) -> tensor<64xf32> {
  // expected-error @below {{convert-dsv3-to-linalg: dsv3.all_reduce has no lowering to linalg (collectives are not compiled yet: the step runs on one rank)}}
  %o = dsv3.all_reduce sum %g, group = "dp" : tensor<64xf32>
  return %o : tensor<64xf32>
}

// -----

func.func @fp8_gemm(%a: tensor<16x256xf8E4M3FN>, %as: tensor<16x2xf32>, %b: tensor<128x256xf8E4M3FN>, %bs: tensor<1x2xf32>) -> tensor<16x128xf32> {
  // expected-error @below {{dsv3.scaled_matmul has no lowering to linalg (fp8 GEMMs (dsv3.scaled_matmul), E5M2 fp8, compressed 2:4 tensors and sparse GEMMs are not compiled yet)}}
  %y = dsv3.scaled_matmul %a, %as, %b, %bs transpose_rhs : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x128xf32>
  return %y : tensor<16x128xf32>
}

// -----

func.func @e5m2(%x: tensor<16x256xbf16>) -> tensor<16x256xf8E5M2> {
  // expected-error @below {{dsv3.quantize has no lowering to linalg}}
  %q, %qs = dsv3.quantize %x tile_1x128 : tensor<16x256xbf16> -> tensor<16x256xf8E5M2>, tensor<16x2xf32>
  return %q : tensor<16x256xf8E5M2>
}

// -----

func.func @sparse_matmul(%x: tensor<16x64xbf16>, %v: tensor<128x32xbf16>, %i: tensor<128x32xi8>) -> tensor<16x128xbf16> {
  // expected-error @below {{dsv3.sparse_matmul has no lowering to linalg}}
  %y = dsv3.sparse_matmul %x, %v, %i : tensor<16x64xbf16>, tensor<128x32xbf16>, tensor<128x32xi8> -> tensor<16x128xbf16>
  return %y : tensor<16x128xbf16>
}

// -----

func.func @compress(%w: tensor<64x64xbf16>) -> tensor<64x32xbf16> {
  // expected-error @below {{dsv3.compress_2_4 has no lowering to linalg}}
  %v, %i = dsv3.compress_2_4 %w : tensor<64x64xbf16> -> tensor<64x32xbf16>, tensor<64x32xi8>
  return %v : tensor<64x32xbf16>
}
