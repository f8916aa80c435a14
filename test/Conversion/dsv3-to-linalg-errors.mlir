// RUN: dsv3-opt %s --convert-dsv3-to-linalg -split-input-file -verify-diagnostics

// The whole dialect is illegal: an op without a lowering is an error that
// names it, not an op left for bufferization to trip over.

func.func @collective(%g: tensor<64xf32>) -> tensor<64xf32> {
  // expected-error @below {{convert-dsv3-to-linalg: dsv3.all_reduce has no lowering to linalg (collectives are not compiled yet: the step runs on one rank)}}
  %o = dsv3.all_reduce sum %g, group = "dp" : tensor<64xf32>
  return %o : tensor<64xf32>
}

// -----

func.func @fp8(%x: tensor<16x256xbf16>) -> tensor<16x256xf8E4M3FN> {
  // expected-error @below {{dsv3.quantize has no lowering to linalg (fp8, 2:4 sparsity, quantization-aware training and the loss-scale update are not compiled yet)}}
  %q, %qs = dsv3.quantize %x tile_1x128 : tensor<16x256xbf16> -> tensor<16x256xf8E4M3FN>, tensor<16x2xf32>
  return %q : tensor<16x256xf8E4M3FN>
}

// -----

func.func @sparsity(%w: tensor<128x64xbf16>) -> tensor<128x64xi1> {
  // expected-error @below {{dsv3.prune_2_4 has no lowering to linalg}}
  %m = dsv3.prune_2_4 %w : tensor<128x64xbf16> -> tensor<128x64xi1>
  return %m : tensor<128x64xi1>
}

// -----

func.func @qat(%w: tensor<128x256xbf16>) -> tensor<128x256xbf16> {
  // expected-error @below {{dsv3.fake_quant has no lowering to linalg}}
  %fq = dsv3.fake_quant %w, bits = 8 : tensor<128x256xbf16>
  return %fq : tensor<128x256xbf16>
}

// -----

func.func @loss_scale(%s: tensor<f32>, %n: tensor<i64>, %ok: tensor<i1>) -> tensor<f32> {
  // expected-error @below {{dsv3.update_loss_scale has no lowering to linalg}}
  %s2, %n2 = dsv3.update_loss_scale %s, %n, %ok {growth_interval = 1000 : i64} : tensor<f32>, tensor<i64>, tensor<i1>
  return %s2 : tensor<f32>
}
