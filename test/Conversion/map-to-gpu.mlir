// RUN: dsv3-opt %s --dsv3-bufferize-kernels --convert-linalg-to-parallel-loops --canonicalize --dsv3-map-to-gpu | FileCheck %s
// The launches outline and compile to PTX for sm_90 (and, with ptxas from
// the CUDA toolkit, to a cubin).
// RUN: dsv3-opt %s --dsv3-bufferize-kernels --convert-linalg-to-parallel-loops --canonicalize --dsv3-map-to-gpu | dsv3-opt --dsv3-gpu-lower="cuda-path=" --gpu-module-to-binary="format=isa" | FileCheck %s --check-prefix=PTX

// An RMSNorm row reduction and an elementwise SiLU: the row sums run one
// row per thread (64 threads, one block), the elementwise part one element
// per thread over 32 blocks of 256, the copy into the output likewise.
// CHECK-LABEL: func.func @kernel(
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c64
// CHECK:   scf.for
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c32{{.*}}, {{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK:   arith.cmpi ult
// CHECK:   scf.if
// CHECK:     math.rsqrt
// CHECK: return
// PTX: gpu.binary @dsv3_kernels
// PTX-SAME: .target sm_90
// PTX-SAME: .visible .entry kernel_kernel(
func.func @kernel(%a: memref<64x128xf32>, %w: memref<128xf32>, %o: memref<64x128xf32>) attributes {dsv3.kernel} {
  %t = bufferization.to_tensor %a restrict : memref<64x128xf32> to tensor<64x128xf32>
  %tw = bufferization.to_tensor %w restrict : memref<128xf32> to tensor<128xf32>
  %n = dsv3.rms_norm %t, %tw, eps = 1.0e-6 : tensor<64x128xf32>, tensor<128xf32>
  %y = dsv3.silu %n : tensor<64x128xf32>
  bufferization.materialize_in_destination %y in restrict writable %o : (tensor<64x128xf32>, memref<64x128xf32>) -> ()
  return
}

// A sequential loop at the top level runs on one thread.
// CHECK-LABEL: func.func @sequential(
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c1
// CHECK:   scf.for
func.func @sequential(%m: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c7 = arith.constant 7 : index
  scf.for %i = %c0 to %c7 step %c1 {
    %j = arith.addi %i, %c1 : index
    %v = memref.load %m[%i] : memref<8xf32>
    %u = memref.load %m[%j] : memref<8xf32>
    %s = arith.addf %u, %v : f32
    memref.store %s, %m[%j] : memref<8xf32>
  }
  return
}

// A launch already in the function (from dsv3-map-generics-to-gpu) ends the
// run of sequential ops before it: the store, the launch and the load keep
// their order in three launches.
// CHECK-LABEL: func.func @around_launch(
// CHECK: gpu.launch
// CHECK:   memref.store %{{.*}}, %arg0[%c0
// CHECK: gpu.launch
// CHECK:   memref.store %{{.*}}, %arg0[%c1
// CHECK: gpu.launch
// CHECK:   memref.load %arg0[%c1
// CHECK:   memref.store
func.func @around_launch(%m: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  memref.store %one, %m[%c0] : memref<8xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %m[%c0] : memref<8xf32>
    memref.store %v, %m[%c1] : memref<8xf32>
    gpu.terminator
  }
  %w = memref.load %m[%c1] : memref<8xf32>
  memref.store %w, %m[%c0] : memref<8xf32>
  return
}

// A copy inside sequential code (here between strided columns) becomes a
// loop of loads and stores: the device has no memrefCopy.
// CHECK-LABEL: func.func @nested_copy(
// CHECK: gpu.launch
// CHECK:   scf.for
// CHECK:     %[[COL:.*]] = memref.subview %arg0
// CHECK:     scf.for %[[I:.*]] =
// CHECK:       %[[V:.*]] = memref.load %[[COL]][%[[I]]]
// CHECK:       memref.store %[[V]], %{{.*}}[%[[I]]]
// CHECK-NOT: memref.copy
func.func @nested_copy(%m: memref<5x3xf32>, %n: memref<5x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  scf.for %j = %c0 to %c3 step %c1 {
    %a = memref.subview %m[0, %j] [5, 1] [1, 1] : memref<5x3xf32> to memref<5xf32, strided<[3], offset: ?>>
    %b = memref.subview %n[0, %j] [5, 1] [1, 1] : memref<5x3xf32> to memref<5xf32, strided<[3], offset: ?>>
    memref.copy %a, %b : memref<5xf32, strided<[3], offset: ?>> to memref<5xf32, strided<[3], offset: ?>>
  }
  return
}
