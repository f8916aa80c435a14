// RUN: dsv3-opt %s --dsv3-parallelize-kernel-loops | FileCheck %s
// RUN: dsv3-opt %s --dsv3-parallelize-kernel-loops --convert-scf-to-cf \
// RUN:   --convert-arith-to-llvm --finalize-memref-to-llvm \
// RUN:   --convert-func-to-llvm="use-bare-ptr-memref-call-conv=1" \
// RUN:   --convert-cf-to-llvm --reconcile-unrealized-casts \
// RUN:   --dsv3-lower-parallel-calls | FileCheck %s --check-prefix=LLVM
// RUN: dsv3-opt %s --dsv3-parallelize-kernel-loops="min-work=1000000" | FileCheck %s --check-prefix=LARGE

// A large parallel loop moves into a function of a range of its first
// dimension, called with the whole range; the constants it reads are
// copied in, the buffers passed.
// CHECK-LABEL: func.func @big(
// CHECK: call @big_loop_0(%arg0, %arg1, %{{.*}}, %{{.*}}) : (memref<64x256xf32>, memref<64x256xf32>, index, index) -> ()
// CHECK-NOT: scf.parallel
// CHECK: return
// CHECK: func.func private @big_loop_0(%[[A:.*]]: memref<64x256xf32>, %[[B:.*]]: memref<64x256xf32>, %[[LO:.*]]: index, %[[HI:.*]]: index) attributes {dsv3.parallel_body}
// CHECK: %[[FIRST:.*]] = arith.addi %{{.*}}, %{{.*}}
// CHECK: %[[END:.*]] = arith.minsi
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%[[FIRST]], %{{.*}}) to (%[[END]], %{{.*}})
// CHECK: memref.store %{{.*}}, %[[B]]
// LARGE-LABEL: func.func @big(
// LARGE-NOT: call
// LARGE: scf.parallel
func.func @big(%a: memref<64x256xf32>, %b: memref<64x256xf32>) attributes {dsv3.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %two = arith.constant 2.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c256) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<64x256xf32>
    %y = arith.mulf %x, %two : f32
    memref.store %y, %b[%i, %j] : memref<64x256xf32>
    scf.reduce
  }
  return
}

// A first dimension of one iteration: the range is of the second.
// CHECK-LABEL: func.func @unit_first(
// CHECK: call @unit_first_loop_0(%arg0, %arg1, %{{.*}}, %{{.*}})
// CHECK: func.func private @unit_first_loop_0(
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %[[FIRST:.*]]) to (%{{.*}}, %[[END:.*]])
func.func @unit_first(%a: memref<1x32768xf32>, %b: memref<1x32768xf32>) attributes {dsv3.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 32768 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c1, %n) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<1x32768xf32>
    memref.store %x, %b[%i, %j] : memref<1x32768xf32>
    scf.reduce
  }
  return
}

// Too little work for threads, a store that every iteration makes to the
// same element, a buffer the kernel allocated, and a scatter through
// loaded indices: the loops stay.
// CHECK-LABEL: func.func @stay(
// CHECK-NOT: call
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: return
func.func @stay(%a: memref<64x256xf32>, %b: memref<64x256xf32>, %s: memref<8xf32>, %idx: memref<64xindex>) attributes {dsv3.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    %x = memref.load %s[%i] : memref<8xf32>
    memref.store %x, %s[%i] : memref<8xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c256) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<64x256xf32>
    memref.store %x, %b[%c0, %j] : memref<64x256xf32>
    scf.reduce
  }
  %t = memref.alloca() : memref<64x256xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c256) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<64x256xf32>
    memref.store %x, %t[%i, %j] : memref<64x256xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c256) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<64x256xf32>
    %r = memref.load %idx[%i] : memref<64xindex>
    memref.store %x, %b[%r, %j] : memref<64x256xf32>
    scf.reduce
  }
  return
}

// On the LLVM dialect: the body's entry takes the buffers as an array; the
// call stores them in one on the stack and hands both to the runtime.
// LLVM-DAG: llvm.func @dsv3ParallelFor(!llvm.ptr, !llvm.ptr, i64, i64)
// LLVM-LABEL: llvm.func @big(
// LLVM: %[[ARGS:.*]] = llvm.alloca %{{.*}} x !llvm.array<2 x ptr>
// LLVM-COUNT-2: llvm.store %{{.*}}, %{{.*}} : !llvm.ptr, !llvm.ptr
// LLVM: %[[FN:.*]] = llvm.mlir.addressof @big_loop_0_range
// LLVM: llvm.call @dsv3ParallelFor(%[[FN]], %[[ARGS]], %{{.*}}, %{{.*}})
// LLVM-NOT: llvm.call @big_loop_0(
// LLVM-LABEL: llvm.func @big_loop_0_range(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// LLVM-COUNT-2: llvm.load
// LLVM: llvm.call @big_loop_0(
