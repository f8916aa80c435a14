// RUN: dsv3-opt %s --split-input-file --dsv3-extract-kernels | FileCheck %s

// A gradient the clipping's call reads last is clipped in place: the kernel
// writes the clipped gradient over it. Not %g1, which the step reads after
// the call, nor the step's argument %arg. (dsv3-plan-memory then gives
// the gradient and its clipped copy one buffer, as it does for every call
// donation: plan-memory-kernels.mlir.)
// CHECK-LABEL: func.func @train_step(
// CHECK: call @train_step_kernel_0(%{{.*}}, %{{.*}}, %arg1) {dsv3.donations = array<i64: 0, -1, -1, -1>}
// CHECK: module @kernels
// CHECK: func.func private @train_step_kernel_0({{.*}}) -> (tensor<8xf32> {dsv3.overwrites = 0 : i64}, tensor<8xf32>, tensor<8xf32>, tensor<f32>)

module {
  func.func @train_step(%x: tensor<8xf32>, %arg: tensor<8xf32>)
      -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<8xf32>) {
    %g0 = dsv3.mul %x, %x : tensor<8xf32>
    %g1 = dsv3.add %x, %x : tensor<8xf32>
    %0:4 = func.call @train_step_kernel_0(%g0, %g1, %arg)
        : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>)
    %late = dsv3.mul %g1, %0#0 : tensor<8xf32>
    return %0#0, %0#1, %0#2, %0#3, %late : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<8xf32>
  }
  func.func private @train_step_kernel_0(%a: tensor<8xf32>, %b: tensor<8xf32>, %c: tensor<8xf32>)
      -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>) attributes {dsv3.kernel} {
    %ca, %cb, %cc, %norm = dsv3.clip_by_global_norm %a, %b, %c max_norm = 1.0 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
    return %ca, %cb, %cc, %norm : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>
  }
}

// -----

// Not in place: a reshape's gradient (its bytes are its source's, read
// after the call), a gradient passed twice, and any call of a kernel
// called twice (its code would write in place for both).
// CHECK-LABEL: func.func @train_step(
// CHECK: call @train_step_kernel_0(%{{.*}}, %{{.*}}, %{{.*}}) :
// CHECK: call @train_step_kernel_1(%{{.*}}, %{{.*}}) :
// CHECK: call @train_step_kernel_1(%{{.*}}, %{{.*}}) :
// CHECK-NOT: dsv3.overwrites
module {
  func.func @train_step(%x: tensor<8xf32>)
      -> (tensor<2x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
    %g = dsv3.mul %x, %x : tensor<8xf32>
    %r = dsv3.reshape %g : tensor<8xf32> -> tensor<2x4xf32>
    %t = dsv3.add %x, %x : tensor<8xf32>
    %0:4 = func.call @train_step_kernel_0(%r, %t, %t)
        : (tensor<2x4xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<2x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>)
    %late = dsv3.mul %g, %x : tensor<8xf32>
    %u = dsv3.sub %x, %x : tensor<8xf32>
    %v = dsv3.sub %x, %late : tensor<8xf32>
    %1:2 = func.call @train_step_kernel_1(%u, %x) : (tensor<8xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>)
    %2:2 = func.call @train_step_kernel_1(%v, %x) : (tensor<8xf32>, tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>)
    return %0#0, %0#1, %0#2, %0#3, %late, %1#0, %2#0, %2#1 : tensor<2x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
  func.func private @train_step_kernel_0(%a: tensor<2x4xf32>, %b: tensor<8xf32>, %c: tensor<8xf32>)
      -> (tensor<2x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>) attributes {dsv3.kernel} {
    %ca, %cb, %cc, %norm = dsv3.clip_by_global_norm %a, %b, %c max_norm = 1.0 : tensor<2x4xf32>, tensor<8xf32>, tensor<8xf32>
    return %ca, %cb, %cc, %norm : tensor<2x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>
  }
  func.func private @train_step_kernel_1(%a: tensor<8xf32>, %b: tensor<8xf32>)
      -> (tensor<8xf32>, tensor<8xf32>) attributes {dsv3.kernel} {
    %ca, %cb, %norm = dsv3.clip_by_global_norm %a, %b max_norm = 1.0 : tensor<8xf32>, tensor<8xf32>
    return %ca, %cb : tensor<8xf32>, tensor<8xf32>
  }
}
