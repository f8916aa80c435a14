// RUN: dsv3-opt %s --dsv3-prepare-vectorization | FileCheck %s
// RUN: dsv3-opt %s --dsv3-prepare-vectorization="approximate-math=false reassociate-reductions=false loop-copies=false" | FileCheck %s --check-prefix=OFF

// A reduction's combiner may reassociate; the op feeding it keeps IEEE
// semantics, and the exponential becomes arithmetic LLVM vectorizes.
// CHECK-LABEL: func.func @sum_of_exp(
// CHECK: linalg.generic
// CHECK-NOT: math.exp
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: arith.addf %{{[^,]+}}, %{{[^ ]+}} fastmath<reassoc> : f32
// CHECK-NEXT: linalg.yield
// OFF-LABEL: func.func @sum_of_exp(
// OFF: math.exp
// OFF: arith.addf %{{[^,]+}}, %{{[^ ]+}} : f32
func.func @sum_of_exp(%x: memref<4x8xf32>, %y: memref<4xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
      iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x8xf32>) outs(%y : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %e = math.exp %in : f32
    %s = arith.mulf %e, %e : f32
    %r = arith.addf %s, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// An elementwise map has no combiner: nothing reassociates.
// CHECK-LABEL: func.func @map(
// CHECK-NOT: fastmath
// CHECK: return
func.func @map(%x: memref<8xf32>, %y: memref<8xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
      iterator_types = ["parallel"]}
      ins(%x : memref<8xf32>) outs(%y : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  }
  return
}

// A copy between strided views becomes a linalg.copy (loops later), not a
// call to the runtime's memrefCopy.
// CHECK-LABEL: func.func @slice(
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%{{.*}} : memref<4x2xf32, strided<[8, 1], offset: 2>>) outs(%{{.*}} : memref<4x2xf32>)
// OFF-LABEL: func.func @slice(
// OFF: memref.copy
func.func @slice(%x: memref<4x8xf32>, %y: memref<4x2xf32>) {
  %v = memref.subview %x[0, 2] [4, 2] [1, 1] : memref<4x8xf32> to memref<4x2xf32, strided<[8, 1], offset: 2>>
  memref.copy %v, %y : memref<4x2xf32, strided<[8, 1], offset: 2>> to memref<4x2xf32>
  return
}
