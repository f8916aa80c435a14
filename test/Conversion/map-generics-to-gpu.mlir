// RUN: dsv3-opt %s --dsv3-map-generics-to-gpu | FileCheck %s
// The launches outline and compile to PTX for sm_90: butterfly shuffles in
// the reductions, shared memory and a barrier where a block shares a row,
// 64-bit values shuffled as two halves, and 16-byte vector accesses in the
// elementwise launch.
// RUN: dsv3-opt %s --dsv3-gpu-map --dsv3-gpu-lower="cuda-path=" --gpu-module-to-binary="format=isa" | FileCheck %s --check-prefix=PTX
// RUN: dsv3-opt %s --dsv3-map-generics-to-gpu='vector-width=1 warp-reduce-min=100000' | FileCheck %s --check-prefix=OFF

// PTX: .visible .entry long_rows_kernel(
// PTX-COUNT-5: shfl.sync.bfly.b32
// PTX: st.shared.b32
// PTX: bar.sync
// PTX: ld.shared.b32
// PTX-COUNT-5: shfl.sync.bfly.b32
// PTX: .visible .entry norm_kernel(
// PTX-COUNT-10: shfl.sync.bfly.b32
// PTX: st.shared.b64
// PTX: .visible .entry row_max_kernel(
// PTX-COUNT-5: shfl.sync.bfly.b32
// PTX: .visible .entry elementwise_kernel(
// PTX: ld.global.v4.b32
// PTX: st.global.v4.b32

// OFF-NOT: gpu.shuffle
// OFF-NOT: vector.load

#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#scalar = affine_map<(d0, d1) -> ()>
#transposed = affine_map<(d0, d1) -> (d1, d0)>

// Rows of 8192 get a block of 256 threads each, with a slot per warp in
// shared memory; each thread takes every 256th element, the warps combine
// by shuffles, and the first warp combines the warps' results.
// CHECK-LABEL: func.func @long_rows(
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c16{{.*}}) threads({{.*}}) in ({{.*}} = %c256{{.*}}) workgroup(%[[SHARED:.*]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK:         %[[LANE:.*]] = arith.remui %[[TID:.*]], %c32
// CHECK:         %[[WARP:.*]] = arith.divui %[[TID]], %c32
// CHECK:         %[[SUM:.*]] = scf.for %[[K:.*]] = %[[TID]] to %c8192 step %c256{{.*}} iter_args(%[[ACC:.*]] = %cst)
// CHECK:           memref.load %arg0[%{{.*}}, %[[K]]]
// CHECK:           math.exp
// CHECK:           arith.addf %{{.*}}, %[[ACC]]
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK:         memref.store %{{.*}}, %[[SHARED]][%[[WARP]]]
// CHECK:         gpu.barrier
// CHECK:         memref.load %[[SHARED]]
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK:         %[[OLD:.*]] = memref.load %arg1
// CHECK:         arith.addf %{{.*}}, %[[OLD]]
// CHECK:         memref.store
// CHECK-NOT:   linalg.generic
func.func @long_rows(%x: memref<16x8192xf32>, %s: memref<16xf32>) {
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<16x8192xf32>) outs(%s : memref<16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    %a = arith.addf %e, %out : f32
    linalg.yield %a : f32
  }
  return
}

// A whole tensor reduced into an f64: one row, one block, f64 shuffles.
// CHECK-LABEL: func.func @norm(
// CHECK:       gpu.launch {{.*}} workgroup({{.*}} : memref<8xf64, #gpu.address_space<workgroup>>)
// CHECK:         scf.for {{.*}} -> (f64)
// CHECK:         gpu.shuffle  xor {{.*}} : f64
func.func @norm(%x: memref<64x64xf32>, %s: memref<f64>) {
  linalg.generic {indexing_maps = [#rows, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<64x64xf32>) outs(%s : memref<f64>) {
  ^bb0(%in: f32, %out: f64):
    %m = arith.mulf %in, %in : f32
    %w = arith.extf %m : f32 to f64
    %a = arith.addf %w, %out : f64
    linalg.yield %a : f64
  }
  return
}

// Rows of 100 get a warp each, 8 to a block; the warps past the last row
// (44 rows in 6 blocks) skip it as a whole. The maximum starts at -inf.
// CHECK-LABEL: func.func @row_max(
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c6{{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK-NOT:     workgroup
// CHECK:         %[[ROW:.*]] = arith.addi
// CHECK:         arith.cmpi ult, %[[ROW]], %c44
// CHECK:         scf.if
// CHECK:           scf.for {{.*}} step %c32{{.*}} iter_args({{.*}} = %cst)
// CHECK:             arith.maximumf
// CHECK-COUNT-5:   gpu.shuffle  xor
func.func @row_max(%x: memref<44x100xf32>, %m: memref<44xf32>) {
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<44x100xf32>) outs(%m : memref<44xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.maximumf %in, %out : f32
    linalg.yield %a : f32
  }
  return
}

// A reduction over the outer loop (a weight gradient summed over tokens)
// gets a thread per output, reading along a row across the threads and
// summing in order from the output's value.
// CHECK-LABEL: func.func @column_sum(
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c64
// CHECK:         %[[J:.*]] = arith.addi
// CHECK:         %[[INIT:.*]] = memref.load %arg1[%[[J]]]
// CHECK:         %[[SUM:.*]] = scf.for %[[I:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32)
// CHECK:           %[[X:.*]] = memref.load %arg0[%[[I]], %[[J]]]
// CHECK:           arith.addf %[[X]], %[[ACC]]
// CHECK:         memref.store %[[SUM]], %arg1[%[[J]]]
// CHECK-NOT:   linalg.generic
func.func @column_sum(%x: memref<64x64xf32>, %s: memref<64xf32>) {
  linalg.generic {indexing_maps = [#rows, #col], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<64x64xf32>) outs(%s : memref<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  return
}

// Rows shorter than a warp get a thread per row.
// CHECK-LABEL: func.func @short_rows(
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c64
// CHECK-NOT:     gpu.shuffle
// CHECK:         scf.for {{.*}} -> (f32)
// CHECK-NOT:   linalg.generic
func.func @short_rows(%x: memref<64x16xf32>, %s: memref<64xf32>) {
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x16xf32>) outs(%s : memref<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  return
}

// Four adjacent elements per thread: vector accesses for the contiguous
// operands, one load per element for the transposed one, one load for the
// row's bias, and linalg.index at each element's position.
// CHECK-LABEL: func.func @elementwise(
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c2{{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK:         %[[COL:.*]] = arith.remui %{{.*}}, %c64
// CHECK:         %[[ROW:.*]] = arith.divui %{{.*}}, %c64
// CHECK:         %[[COL1:.*]] = arith.addi %[[COL]], %c1
// CHECK:         %[[X:.*]] = vector.load %arg0[%[[ROW]], %[[COL]]] {alignment = 16 : i64} : memref<32x64xf32>, vector<4xf32>
// CHECK:         vector.extract %[[X]][3]
// CHECK:         memref.load %arg1[%[[COL]], %[[ROW]]]
// CHECK:         memref.load %arg1[%[[COL1]], %[[ROW]]]
// CHECK:         memref.load %arg2[%[[ROW]]]
// CHECK-NOT:     memref.load %arg2
// CHECK:         arith.index_cast %[[COL]] : index to i32
// CHECK:         arith.index_cast %[[COL1]] : index to i32
// CHECK:         %[[Y:.*]] = vector.from_elements
// CHECK:         vector.store %[[Y]], %arg3[%[[ROW]], %[[COL]]] {alignment = 16 : i64}
func.func @elementwise(%x: memref<32x64xf32>, %t: memref<64x32xf32>, %b: memref<32xf32>, %o: memref<32x64xf32>) {
  linalg.generic {indexing_maps = [#rows, #transposed, #row, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %t, %b : memref<32x64xf32>, memref<64x32xf32>, memref<32xf32>) outs(%o : memref<32x64xf32>) {
  ^bb0(%in: f32, %tr: f32, %bias: f32, %out: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %jf = arith.sitofp %ji : i32 to f32
    %a = arith.addf %in, %tr : f32
    %c = arith.mulf %a, %bias : f32
    %d = arith.addf %c, %jf : f32
    linalg.yield %d : f32
  }
  return
}

// An innermost loop that is not a multiple of 4 stays an element per
// thread.
// CHECK-LABEL: func.func @odd_rows(
// CHECK-NOT:   gpu.launch
// CHECK:       linalg.generic
func.func @odd_rows(%x: memref<32x6xf32>, %o: memref<32x6xf32>) {
  linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<32x6xf32>) outs(%o : memref<32x6xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  }
  return
}

// An output indexed by a reduction loop is written at every step of it:
// not a reduction any mapping here applies to.
// CHECK-LABEL: func.func @written_while_reducing(
// CHECK-NOT:   gpu.launch
// CHECK:       linalg.generic
func.func @written_while_reducing(%x: memref<8x64xf32>, %o: memref<8x64xf32>, %s: memref<f32>) {
  linalg.generic {indexing_maps = [#rows, #rows, #scalar], iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<8x64xf32>) outs(%o, %s : memref<8x64xf32>, memref<f32>) {
  ^bb0(%in: f32, %out: f32, %acc: f32):
    %h = arith.mulf %in, %out : f32
    %a = arith.addf %h, %acc : f32
    linalg.yield %h, %a : f32, f32
  }
  return
}
