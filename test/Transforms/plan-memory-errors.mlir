// RUN: dsv3-opt %s --dsv3-plan-memory -split-input-file -verify-diagnostics

// A donation the plan cannot honour: the operand is read after the call.
module {
  func.func @train_step(%x: tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>) {
    // expected-error @below {{dsv3-plan-memory: result 0 overwrites operand 0, whose buffer is read after this op}}
    %0 = func.call @k(%x) {dsv3.donations = array<i64: 0>} : (tensor<16xf32>) -> tensor<16xf32>
    %1 = dsv3.add %x, %0 : tensor<16xf32>
    return %0, %1 : tensor<16xf32>, tensor<16xf32>
  }
  func.func private @k(tensor<16xf32>) -> tensor<16xf32> attributes {dsv3.kernel}
}

// -----

// Nor through a view of it.
module {
  func.func @train_step(%x: tensor<16xf32>) -> (tensor<16xf32>, tensor<4x4xf32>) {
    %v = dsv3.reshape %x : tensor<16xf32> -> tensor<4x4xf32>
    // expected-error @below {{dsv3-plan-memory: result 0 overwrites operand 0, whose buffer is read after this op}}
    %0 = func.call @k(%x) {dsv3.donations = array<i64: 0>} : (tensor<16xf32>) -> tensor<16xf32>
    %1 = dsv3.neg %v : tensor<4x4xf32>
    return %0, %1 : tensor<16xf32>, tensor<4x4xf32>
  }
  func.func private @k(tensor<16xf32>) -> tensor<16xf32> attributes {dsv3.kernel}
}

// -----

// Nor a parameter, which lives on after the step.
module {
  func.func @train_step(%w: tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"}) -> tensor<16xf32> {
    // expected-error @below {{dsv3-plan-memory: result 0 overwrites operand 0, whose buffer is read after this op}}
    %0 = func.call @k(%w) {dsv3.donations = array<i64: 0>} : (tensor<16xf32>) -> tensor<16xf32>
    return %0 : tensor<16xf32>
  }
  func.func private @k(tensor<16xf32>) -> tensor<16xf32> attributes {dsv3.kernel}
}
