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
