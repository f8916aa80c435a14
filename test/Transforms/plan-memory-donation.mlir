// RUN: dsv3-opt %s --dsv3-plan-memory="report=true" -split-input-file -o /dev/null | FileCheck %s

// An update takes its input's buffer only if nothing can see the old value
// afterwards, and the buffer is the update's alone. Each case below keeps
// the update in a buffer of its own, and the report says why.

// A view of the input (a reshape shares its bytes) is read after the update.
// CHECK: 0 updated states donated onto their inputs
// CHECK: not donated: w: the input is read after the update
func.func @train_step(%w: tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
                      %g: tensor<16xf32>, %lr: tensor<f32>, %t: tensor<i64>)
    -> (tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
        tensor<4x4xf32> {dsv3.role = "metric", dsv3.name = "old"}) {
  %view = dsv3.reshape %w : tensor<16xf32> -> tensor<4x4xf32>
  %p, %m, %v = dsv3.adamw %w, %g, %g, %g, %lr, %t : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<f32>, tensor<i64>
  %old = dsv3.neg %view : tensor<4x4xf32>
  return %p, %old : tensor<16xf32>, tensor<4x4xf32>
}

// -----

// The update is returned twice: two results would share one buffer.
// CHECK: 0 updated states donated onto their inputs
// CHECK: not donated: w: the update is returned more than once
func.func @train_step(%w: tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
                      %g: tensor<16xf32>, %lr: tensor<f32>, %t: tensor<i64>)
    -> (tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
        tensor<16xf32> {dsv3.role = "metric", dsv3.name = "copy"}) {
  %p, %m, %v = dsv3.adamw %w, %g, %g, %g, %lr, %t : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<f32>, tensor<i64>
  return %p, %p : tensor<16xf32>, tensor<16xf32>
}

// -----

// Two arguments share a role and a name: which one the update replaces is
// not clear.
// CHECK: 0 updated states donated onto their inputs
// CHECK: not donated: w: another argument has its role and name
func.func @train_step(%w: tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
                      %w2: tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
                      %g: tensor<16xf32>, %lr: tensor<f32>, %t: tensor<i64>)
    -> (tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"}) {
  %p, %m, %v = dsv3.adamw %w, %g, %g, %g, %lr, %t : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<f32>, tensor<i64>
  return %p : tensor<16xf32>
}

// -----

// A kernel called twice: its code would overwrite its argument on every
// call, so neither call may donate.
// CHECK: 0 updated states donated onto their inputs
// CHECK-DAG: not donated: a: its kernel has more than one call
// CHECK-DAG: not donated: b: its kernel has more than one call
module {
  func.func @train_step(%a: tensor<16xf32> {dsv3.role = "param", dsv3.name = "a"},
                        %b: tensor<16xf32> {dsv3.role = "param", dsv3.name = "b"},
                        %g: tensor<16xf32>, %lr: tensor<f32>, %t: tensor<i64>)
      -> (tensor<16xf32> {dsv3.role = "param", dsv3.name = "a"},
          tensor<16xf32> {dsv3.role = "param", dsv3.name = "b"}) {
    %0 = func.call @update(%a, %g, %lr, %t) : (tensor<16xf32>, tensor<16xf32>, tensor<f32>, tensor<i64>) -> tensor<16xf32>
    %1 = func.call @update(%b, %g, %lr, %t) : (tensor<16xf32>, tensor<16xf32>, tensor<f32>, tensor<i64>) -> tensor<16xf32>
    return %0, %1 : tensor<16xf32>, tensor<16xf32>
  }
  func.func private @update(%p: tensor<16xf32>, %g: tensor<16xf32>, %lr: tensor<f32>, %t: tensor<i64>)
      -> tensor<16xf32> attributes {dsv3.kernel} {
    %q, %m, %v = dsv3.adamw %p, %g, %g, %g, %lr, %t : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<f32>, tensor<i64>
    return %q : tensor<16xf32>
  }
}
