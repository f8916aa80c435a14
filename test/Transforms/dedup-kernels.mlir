// RUN: dsv3-opt %s --split-input-file --dsv3-dedup-kernels | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-dedup-kernels="report=true" -o /dev/null | FileCheck %s --check-prefix=REPORT

// Kernels with the same code up to names and locations become the first
// of them; the calls name it and the other declarations go. A kernel that
// differs in one attribute (the constant), in which argument an op reads,
// or in which argument it overwrites keeps its own name.
// CHECK-LABEL: func.func @train_step(
// CHECK: call @k0(%arg0, %arg1)
// CHECK: call @k0(%arg1, %arg0)
// CHECK: call @k2(%arg0, %arg1)
// CHECK: call @k3(%arg0, %arg1)
// CHECK: call @k4(%arg0, %arg1)
// CHECK: call @k0(%arg1, %arg1)
// CHECK-NOT: func.func private @k1(
// CHECK-NOT: func.func private @k5(
// CHECK: module @kernels
// CHECK: func.func private @k0(
// CHECK-NOT: func.func private @k1(
// CHECK: func.func private @k2(
// CHECK: func.func private @k3(
// CHECK: func.func private @k4(
// CHECK-NOT: func.func private @k5(
// REPORT: kernels: 6 outlined, 4 distinct after deduplication
module {
  func.func @train_step(%a: tensor<8xf32>, %b: tensor<8xf32>)
      -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
    %0 = func.call @k0(%a, %b) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    %1 = func.call @k1(%b, %a) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    %2 = func.call @k2(%a, %b) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    %3 = func.call @k3(%a, %b) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    %4 = func.call @k4(%a, %b) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    %5 = func.call @k5(%b, %b) : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    return %0, %1, %2, %3, %4, %5 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
  func.func private @k0(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel}
  func.func private @k1(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel}
  func.func private @k2(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel}
  func.func private @k3(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel}
  func.func private @k4(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel}
  func.func private @k5(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel}
  module @kernels attributes {dsv3.kernels} {
    func.func private @k0(%x: tensor<8xf32>, %y: tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel} {
      %c = dsv3.constant dense<2.0> : tensor<8xf32>
      %0 = dsv3.mul %x, %c : tensor<8xf32> loc("layers.0")
      %1 = dsv3.add %0, %y : tensor<8xf32>
      return %1 : tensor<8xf32>
    }
    // The same as @k0 but for names and locations.
    func.func private @k1(%p: tensor<8xf32>, %q: tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel} {
      %c = dsv3.constant dense<2.0> : tensor<8xf32>
      %0 = dsv3.mul %p, %c : tensor<8xf32> loc("layers.1")
      %1 = dsv3.add %0, %q : tensor<8xf32>
      return %1 : tensor<8xf32>
    }
    // Another constant.
    func.func private @k2(%x: tensor<8xf32>, %y: tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel} {
      %c = dsv3.constant dense<3.0> : tensor<8xf32>
      %0 = dsv3.mul %x, %c : tensor<8xf32>
      %1 = dsv3.add %0, %y : tensor<8xf32>
      return %1 : tensor<8xf32>
    }
    // The same ops, reading the arguments the other way round.
    func.func private @k3(%x: tensor<8xf32>, %y: tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel} {
      %c = dsv3.constant dense<2.0> : tensor<8xf32>
      %0 = dsv3.mul %y, %c : tensor<8xf32>
      %1 = dsv3.add %0, %x : tensor<8xf32>
      return %1 : tensor<8xf32>
    }
    // The same code, writing its result over its first argument.
    func.func private @k4(%x: tensor<8xf32>, %y: tensor<8xf32>) -> (tensor<8xf32> {dsv3.overwrites = 0 : i64}) attributes {dsv3.kernel} {
      %c = dsv3.constant dense<2.0> : tensor<8xf32>
      %0 = dsv3.mul %x, %c : tensor<8xf32>
      %1 = dsv3.add %0, %y : tensor<8xf32>
      return %1 : tensor<8xf32>
    }
    func.func private @k5(%x: tensor<8xf32>, %y: tensor<8xf32>) -> tensor<8xf32> attributes {dsv3.kernel} {
      %c = dsv3.constant dense<2.0> : tensor<8xf32>
      %0 = dsv3.mul %x, %c : tensor<8xf32>
      %1 = dsv3.add %0, %y : tensor<8xf32>
      return %1 : tensor<8xf32>
    }
  }
}

// -----

// GPU functions with the same code and the same launch configuration
// become one; one launched with another block size keeps its name.
// CHECK-LABEL: func.func @kernel_a(
// CHECK: gpu.launch_func @gpu::@f0 blocks
// CHECK: gpu.launch_func @gpu::@f0 blocks
// CHECK: gpu.launch_func @gpu::@f2 blocks
// CHECK: gpu.module @gpu
// CHECK: gpu.func @f0(
// CHECK-NOT: gpu.func @f1(
// CHECK: gpu.func @f2(
// REPORT: GPU functions: 3 mapped, 2 distinct after deduplication
module attributes {gpu.container_module} {
  func.func @kernel_a(%a: memref<8xf32>, %b: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @gpu::@f0 blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%a : memref<8xf32>)
    gpu.launch_func @gpu::@f1 blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%b : memref<8xf32>)
    gpu.launch_func @gpu::@f2 blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%b : memref<8xf32>)
    return
  }
  gpu.module @gpu {
    gpu.func @f0(%x: memref<8xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %x[%i] : memref<8xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %x[%i] : memref<8xf32>
      gpu.return
    }
    gpu.func @f1(%x: memref<8xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %x[%i] : memref<8xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %x[%i] : memref<8xf32>
      gpu.return
    }
    gpu.func @f2(%x: memref<8xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %x[%i] : memref<8xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %x[%i] : memref<8xf32>
      gpu.return
    }
  }
}
