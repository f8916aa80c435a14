// RUN: dsv3-opt %s --dsv3-autodiff -split-input-file -verify-diagnostics
// RUN: not dsv3-opt %s --dsv3-autodiff="moments=f16" -split-input-file 2>&1 | FileCheck %s --check-prefix=MOMENTS

// MOMENTS: dsv3-autodiff: moments must be f32 or bf16, got f16

// expected-error @below {{dsv3-autodiff: no function @forward to differentiate}}
module {
  func.func @model(%x: tensor<f32>) -> tensor<f32> {
    return %x : tensor<f32>
  }
}

// -----

// expected-error @below {{dsv3-autodiff: the module already has a @train_step}}
module {
  func.func @forward(%x: tensor<f32>) -> tensor<f32> {
    return %x : tensor<f32>
  }
  func.func @train_step() {
    return
  }
}

// -----

module {
  // expected-error @below {{dsv3-autodiff: @forward must return one scalar loss}}
  func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}

// -----

module {
  func.func @forward(%w: tensor<4x128xf32> {dsv3.name = "w"}) -> tensor<f32> {
    %q, %s = dsv3.quantize %w tile_1x128 : tensor<4x128xf32> -> tensor<4x128xf8E4M3FN>, tensor<4x1xf32>
    // expected-error @below {{dsv3-autodiff: the loss depends on this op, which has no gradient rule}}
    %d = dsv3.dequantize %q, %s tile_1x128 : tensor<4x128xf8E4M3FN>, tensor<4x1xf32> -> tensor<4x128xf32>
    %l = dsv3.reduce sum %d, dims = [0, 1] : tensor<4x128xf32> -> tensor<f32>
    return %l : tensor<f32>
  }
}
