// RUN: dsv3-opt %s --convert-dsv3-to-linalg -split-input-file | FileCheck %s

// Elementwise ops become parallel generics; a 0-d operand (the loss
// scale) is read at every point through an empty map.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[SCALAR:.*]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @pointwise(
// CHECK-SAME: %[[A:[^:]+]]: tensor<2x4xf32>, %[[B:[^:]+]]: tensor<2x4xf32>, %[[S:[^:]+]]: tensor<f32>
// CHECK: %[[SILU:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[A]] : tensor<2x4xf32>)
// CHECK:   arith.negf
// CHECK:   math.exp
// CHECK:   arith.divf
// CHECK:   arith.mulf
// CHECK: %[[MUL:.*]] = linalg.generic {{.*}} ins(%[[SILU]], %[[B]] : tensor<2x4xf32>, tensor<2x4xf32>)
// CHECK:   arith.mulf
// CHECK: %[[SCALED:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[SCALAR]], #[[ID]]], {{.*}} ins(%[[MUL]], %[[S]] : tensor<2x4xf32>, tensor<f32>)
// CHECK: %[[HALF:.*]] = linalg.generic {{.*}} ins(%[[SCALED]] : tensor<2x4xf32>) outs(%{{.*}} : tensor<2x4xbf16>)
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[MASK:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<2x4xi1>)
// CHECK:   arith.cmpf olt
// CHECK: linalg.generic {{.*}} ins(%[[MASK]], %[[A]], %[[B]] : tensor<2x4xi1>, tensor<2x4xf32>, tensor<2x4xf32>)
// CHECK:   arith.select
func.func @pointwise(%a: tensor<2x4xf32>, %b: tensor<2x4xf32>, %s: tensor<f32>) -> (tensor<2x4xbf16>, tensor<2x4xf32>) {
  %0 = dsv3.silu %a : tensor<2x4xf32>
  %1 = dsv3.mul %0, %b : tensor<2x4xf32>
  %2 = dsv3.scale %1, %s : tensor<2x4xf32>, tensor<f32>
  %3 = dsv3.cast %2 : tensor<2x4xf32> to tensor<2x4xbf16>
  %4 = dsv3.compare lt %a, %b : tensor<2x4xf32>
  %5 = dsv3.select %4, %a, %b : tensor<2x4xi1>, tensor<2x4xf32>
  return %3, %5 : tensor<2x4xbf16>, tensor<2x4xf32>
}

// -----

// A max reduction starts from -inf; a mean divides after summing.
// CHECK-LABEL: func.func @reductions(
// CHECK: %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[INIT:.*]] = linalg.fill ins(%[[NINF]] : f32)
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]} {{.*}} outs(%[[INIT]] : tensor<4xf32>)
// CHECK:   arith.maximumf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]}
// CHECK:   arith.addf
// CHECK: linalg.generic
// CHECK:   arith.constant 4.000000e+00 : f32
// CHECK:   arith.divf
func.func @reductions(%x: tensor<3x4xf32>) -> (tensor<4xf32>, tensor<3xf32>) {
  %m = dsv3.reduce max %x, dims = [0] : tensor<3x4xf32> -> tensor<4xf32>
  %a = dsv3.reduce mean %x, dims = [1] : tensor<3x4xf32> -> tensor<3xf32>
  return %m, %a : tensor<4xf32>, tensor<3xf32>
}

// -----

// Softmax: a max, the exponentials once, their sum, one normalizing map
// (no second exponential).
// CHECK-LABEL: func.func @softmax(
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]}
// CHECK:   arith.maximumf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]}
// CHECK:   arith.subf
// CHECK:   math.exp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]}
// CHECK:   arith.addf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]}
// CHECK-NOT: math.exp
// CHECK:   arith.divf
// CHECK: return
func.func @softmax(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %y = dsv3.softmax %x, dim = 1 : tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// Shape ops map onto tensor and linalg ops; a size-1 broadcast dimension
// reads index 0.
// CHECK-DAG: #[[BCAST:.*]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-LABEL: func.func @shapes(
// CHECK: tensor.reshape %{{.*}}(%{{.*}}) : (tensor<2x6xf32>, tensor<2xindex>) -> tensor<3x4xf32>
// CHECK: linalg.transpose ins(%{{.*}} : tensor<3x4xf32>) outs(%{{.*}} : tensor<4x3xf32>) permutation = [1, 0]
// CHECK: linalg.generic {indexing_maps = [#[[BCAST]], #{{.*}}]
// CHECK: tensor.extract_slice %{{.*}}[0, 1] [2, 3] [1, 2] : tensor<2x6xf32> to tensor<2x3xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill
// CHECK: tensor.insert_slice %{{.*}} into %[[ZERO]][1, 0] [2, 3] [1, 2] : tensor<2x3xf32> into tensor<4x6xf32>
// CHECK: %[[C0:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0] [2, 6] [1, 1]
// CHECK: tensor.insert_slice %{{.*}} into %[[C0]][0, 6] [2, 3] [1, 1] : tensor<2x3xf32> into tensor<2x9xf32>
func.func @shapes(%x: tensor<2x6xf32>, %r: tensor<1x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<2x9xf32>) {
  %a = dsv3.reshape %x : tensor<2x6xf32> -> tensor<3x4xf32>
  %t = dsv3.transpose %a, perm = [1, 0] : tensor<3x4xf32> -> tensor<4x3xf32>
  %b = dsv3.broadcast %r, dims = [0, 1] : tensor<1x3xf32> -> tensor<4x3xf32>
  %s = dsv3.slice %x, start = [0, 1], limit = [2, 6], strides = [1, 2] : tensor<2x6xf32> -> tensor<2x3xf32>
  %p = dsv3.pad %s, low = [1, 0], high = [1, 1], interior = [0, 1] : tensor<2x3xf32> -> tensor<4x6xf32>
  %c = dsv3.concat %x, %s dim = 1 : tensor<2x6xf32>, tensor<2x3xf32> -> tensor<2x9xf32>
  return %t, %b, %p, %c : tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x6xf32>, tensor<2x9xf32>
}

// -----

// A linear layer with a shared, transposed weight is one contraction whose
// maps express both.
// CHECK-DAG: #[[LHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[RHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear(
// CHECK: linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK:   arith.mulf
// CHECK:   arith.addf
func.func @linear(%x: tensor<2x3x4xf32>, %w: tensor<5x4xf32>) -> tensor<2x3x5xf32> {
  %y = dsv3.matmul %x, %w transpose_rhs : tensor<2x3x4xf32>, tensor<5x4xf32> -> tensor<2x3x5xf32>
  return %y : tensor<2x3x5xf32>
}

// -----

// A bf16 GEMM accumulates in f32 and rounds its result to bf16 once.
// CHECK-LABEL: func.func @linear_bf16(
// CHECK: %[[ACC:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x3x5xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x3x4xbf16>, tensor<5x4xbf16>) outs(%[[ACC]] : tensor<2x3x5xf32>)
// CHECK:   arith.extf %{{.*}} : bf16 to f32
// CHECK:   arith.extf %{{.*}} : bf16 to f32
// CHECK:   arith.mulf %{{.*}} : f32
// CHECK:   arith.addf %{{.*}} : f32
// CHECK: linalg.generic {{.*}} ins(%[[SUM]] : tensor<2x3x5xf32>) outs(%{{.*}} : tensor<2x3x5xbf16>)
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
func.func @linear_bf16(%x: tensor<2x3x4xbf16>, %w: tensor<5x4xbf16>) -> tensor<2x3x5xbf16> {
  %y = dsv3.matmul %x, %w transpose_rhs : tensor<2x3x4xbf16>, tensor<5x4xbf16> -> tensor<2x3x5xbf16>
  return %y : tensor<2x3x5xbf16>
}

// -----

// Fusion regions are inlined.
// CHECK-LABEL: func.func @fusion(
// CHECK-NOT: dsv3.fusion
// CHECK: math.exp
// CHECK-NOT: dsv3.
func.func @fusion(%x: tensor<64xf32>) -> tensor<64xf32> {
  %f = dsv3.fusion ins(%x : tensor<64xf32>) -> tensor<64xf32> {
  ^bb0(%a: tensor<64xf32>):
    %e = dsv3.exp %a : tensor<64xf32>
    dsv3.yield %e : tensor<64xf32>
  }
  return %f : tensor<64xf32>
}
