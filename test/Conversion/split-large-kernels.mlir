// RUN: dsv3-opt %s --dsv3-split-large-kernels="max-loops=3 loops-per-part=2" | FileCheck %s
// RUN: dsv3-opt %s --dsv3-split-large-kernels | FileCheck %s --check-prefix=SMALL

// A kernel of four loops, more than max-loops: parts of two loops, called
// in place and never inlined; the constants they read are copied in, the
// buffers passed. The scalar the third loop's run computes is read after
// it, so that run goes on to the end.
// CHECK-LABEL: func.func @k(
// CHECK: call @k_part_0(%arg0, %arg1)
// CHECK-NEXT: call @k_part_1(%arg0, %arg1)
// CHECK-NEXT: return
// CHECK: func.func private @k_part_0(%{{.*}}: memref<8xf32>, %{{.*}}: memref<8xf32>) attributes {no_inline}
// CHECK: arith.constant 0 : index
// CHECK: scf.for
// CHECK: scf.for
// CHECK: return
// CHECK: func.func private @k_part_1(
// CHECK: scf.for
// CHECK: memref.load
// CHECK: scf.for
// CHECK: return

// A kernel of few loops stays as it is.
// SMALL-LABEL: func.func @k(
// SMALL-NOT: call
// SMALL: scf.for
module {
  func.func @k(%a: memref<8xf32>, %b: memref<8xf32>) attributes {dsv3.kernel} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    scf.for %i = %c0 to %c8 step %c1 {
      %x = memref.load %a[%i] : memref<8xf32>
      %y = arith.addf %x, %x : f32
      memref.store %y, %b[%i] : memref<8xf32>
    }
    scf.for %i = %c0 to %c8 step %c1 {
      %x = memref.load %b[%i] : memref<8xf32>
      memref.store %x, %a[%i] : memref<8xf32>
    }
    scf.for %i = %c0 to %c8 step %c1 {
      %x = memref.load %a[%i] : memref<8xf32>
      %y = arith.mulf %x, %x : f32
      memref.store %y, %b[%i] : memref<8xf32>
    }
    %s = memref.load %b[%c0] : memref<8xf32>
    scf.for %i = %c0 to %c8 step %c1 {
      memref.store %s, %a[%i] : memref<8xf32>
    }
    return
  }
}
