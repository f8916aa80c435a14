// A module with function declarations: every pass skips them or says why
// it needs a body, and none crashes.
// RUN: dsv3-opt %s --dsv3-fuse | FileCheck %s --check-prefix=FUSE
// RUN: not dsv3-opt %s --dsv3-autodiff="function=f" 2>&1 | FileCheck %s --check-prefix=AUTODIFF
// RUN: not dsv3-opt %s --dsv3-interpret="function=f" 2>&1 | FileCheck %s --check-prefix=INTERPRET
// RUN: not dsv3-opt %s --dsv3-interpret="function=g" 2>&1 | FileCheck %s --check-prefix=CALL

// FUSE: func.func private @f(tensor<4xf32>) -> tensor<f32>
// AUTODIFF: error: dsv3-autodiff: @f is a declaration; it needs a body to differentiate
// INTERPRET: error: dsv3-interpret: @f is a declaration; it has no body to run
// CALL: error: interpreter: @f is a declaration; it has no body to run
func.func private @f(tensor<4xf32>) -> tensor<f32>
func.func @g(%a: tensor<4xf32>) -> tensor<f32> {
  %0 = func.call @f(%a) : (tensor<4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}
