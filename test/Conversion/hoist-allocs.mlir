// RUN: dsv3-opt %s --convert-dsv3-to-linalg --one-shot-bufferize --dsv3-hoist-allocs | FileCheck %s
// RUN: dsv3-opt %s --convert-dsv3-to-linalg --one-shot-bufferize --dsv3-hoist-allocs="all=true" | FileCheck %s --check-prefix=ALL

// A kernel's temporaries become trailing arguments: none is allocated.
// CHECK-LABEL: func.func @kernel(
// CHECK-SAME: %{{[^:]+}}: memref<4x8xf32>, %{{[^:]+}}: memref<4xf32>, %[[T0:[^:]+]]: memref<4x8xf32>
// CHECK-NOT: memref.alloc
// CHECK: linalg.generic {{.*}} outs(%[[T0]] : memref<4x8xf32>)
// CHECK: return
func.func @kernel(%a: memref<4x8xf32>, %o: memref<4xf32>) attributes {dsv3.kernel} {
  %t = bufferization.to_tensor %a restrict : memref<4x8xf32> to tensor<4x8xf32>
  %e = dsv3.exp %t : tensor<4x8xf32>
  %r = dsv3.reduce max %e, dims = [1] : tensor<4x8xf32> -> tensor<4xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<4xf32>, memref<4xf32>) -> ()
  return
}

// Other functions keep their allocations unless `all` is set.
// CHECK-LABEL: func.func @other(
// CHECK-SAME: %{{[^:]+}}: memref<4x8xf32>, %{{[^:]+}}: memref<4xf32>)
// CHECK: memref.alloc
// ALL-LABEL: func.func @other(
// ALL-SAME: %{{[^:]+}}: memref<4x8xf32>, %{{[^:]+}}: memref<4xf32>, %{{[^:]+}}: memref<4x8xf32>, %{{[^:]+}}: memref<4xf32>)
// ALL-NOT: memref.alloc
func.func @other(%a: memref<4x8xf32>, %o: memref<4xf32>) {
  %t = bufferization.to_tensor %a restrict : memref<4x8xf32> to tensor<4x8xf32>
  %e = dsv3.exp %t : tensor<4x8xf32>
  %r = dsv3.reduce max %e, dims = [1] : tensor<4x8xf32> -> tensor<4xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<4xf32>, memref<4xf32>) -> ()
  return
}

// Inside a sequential loop a buffer that stays in its iteration is hoisted;
// one the loop carries to the next iteration, or one inside a parallel
// loop, is not.
// CHECK-LABEL: func.func @loops(
// ALL-LABEL: func.func @loops(
// CHECK-SAME: %{{[^:]+}}: memref<8xf32>, %[[T:[^:]+]]: memref<4xf32>, %{{[^:]+}}: memref<2xf32>)
// CHECK: scf.for
// CHECK-NOT: memref.alloc() : memref<4xf32>
// CHECK: memref.store %{{.*}}, %[[T]]
// CHECK: scf.for {{.*}} iter_args
// CHECK: memref.alloc() : memref<2xf32>
// CHECK: scf.parallel
// CHECK: memref.alloc() : memref<3xf32>
func.func @loops(%m: memref<8xf32>) attributes {dsv3.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %f = arith.constant 1.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    %t = memref.alloc() : memref<4xf32>
    memref.store %f, %t[%c0] : memref<4xf32>
    %v = memref.load %t[%c0] : memref<4xf32>
    memref.store %v, %m[%i] : memref<8xf32>
  }
  %init = memref.alloc() : memref<2xf32>
  %r = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %init) -> (memref<2xf32>) {
    %n = memref.alloc() : memref<2xf32>
    memref.copy %acc, %n : memref<2xf32> to memref<2xf32>
    scf.yield %n : memref<2xf32>
  }
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    %p = memref.alloc() : memref<3xf32>
    memref.store %f, %p[%c0] : memref<3xf32>
    scf.reduce
  }
  return
}
