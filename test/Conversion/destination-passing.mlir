// RUN: dsv3-opt %s --dsv3-destination-passing | FileCheck %s
// RUN: dsv3-opt %s --dsv3-bufferize-kernels | FileCheck %s --check-prefix=BUF
// RUN: dsv3-opt %s --dsv3-destination-passing -o %t.once.mlir
// RUN: dsv3-opt %t.once.mlir --dsv3-destination-passing -o %t.twice.mlir
// RUN: diff %t.once.mlir %t.twice.mlir

// Inputs become memrefs read through restrict to_tensor ops; a result gets
// a memref of its own, after the inputs; the result marked dsv3.overwrites
// gets none: it materializes in the input's writable tensor.
// CHECK-LABEL: func.func @kernel(
// CHECK-SAME: %[[P:[^:]+]]: memref<64xf32>, %[[G:[^:]+]]: memref<64xf32>, %[[OUT:[^:]+]]: memref<f32>)
// CHECK-SAME: attributes {dsv3.kernel}
// CHECK: %[[PT:.*]] = bufferization.to_tensor %[[P]] restrict writable
// CHECK: %[[GT:.*]] = bufferization.to_tensor %[[G]] restrict :
// CHECK: %[[NEW:.*]] = linalg.generic {{.*}} ins(%[[PT]], %[[GT]] :
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[GT]] :
// CHECK: bufferization.materialize_in_destination %[[NEW]] in %[[PT]] : (tensor<64xf32>, tensor<64xf32>) -> tensor<64xf32>
// CHECK: bufferization.materialize_in_destination %[[SUM]] in restrict writable %[[OUT]]
// CHECK: return
// CHECK-NOT: return %

// Bufferized as the kernel module is (dsv3-bufferize-kernels), both
// results are computed where they belong: the update in the input's
// buffer, the sum in the output's; nothing is allocated, and the copies of
// each result onto itself fold away. Run again, the pass leaves a function
// already in destination-passing form as it is.
// BUF-LABEL: func.func @kernel(
// BUF-SAME: %[[P:[^:]+]]: memref<64xf32>, %[[G:[^:]+]]: memref<64xf32>, %[[OUT:[^:]+]]: memref<f32>)
// BUF-NOT: memref.alloc
// BUF-NOT: memref.copy
// BUF: linalg.generic {{.*}} ins(%[[P]], %[[G]] : memref<64xf32>, memref<64xf32>) outs(%[[P]] : memref<64xf32>)
// BUF-NOT: memref.alloc
// BUF: outs(%[[OUT]] : memref<f32>)
// BUF-NOT: memref.copy

#id = affine_map<(i) -> (i)>
#sum = affine_map<(i) -> ()>
func.func @kernel(%p: tensor<64xf32>, %g: tensor<64xf32>)
    -> (tensor<64xf32> {dsv3.overwrites = 0 : i64}, tensor<f32>) attributes {dsv3.kernel} {
  %e = tensor.empty() : tensor<64xf32>
  %new = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%p, %g : tensor<64xf32>, tensor<64xf32>) outs(%e : tensor<64xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<64xf32>
  %zero = arith.constant 0.0 : f32
  %z = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%zero : f32) outs(%z : tensor<f32>) -> tensor<f32>
  %sum = linalg.generic {indexing_maps = [#id, #sum], iterator_types = ["reduction"]}
      ins(%g : tensor<64xf32>) outs(%init : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %new, %sum : tensor<64xf32>, tensor<f32>
}
