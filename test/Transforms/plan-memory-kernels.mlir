// RUN: dsv3-opt %s --dsv3-plan-memory | FileCheck %s
// RUN: dsv3-opt %s --dsv3-plan-memory="report=true" -o /dev/null | FileCheck %s --check-prefix=REPORT

// A step of kernel calls, as the pipeline plans it once the kernels'
// code is destination-passing with hoisted temporaries (@kernels): the
// kernel's trailing memref arguments are its scratch, live for the call;
// the result the call writes over its operand (dsv3.donations) shares that
// operand's buffer; the parameter persists across steps, so nothing reuses
// its buffer even though the step reads it only once.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %{{[^:]+}}: tensor<16xf32> {dsv3.name = "w", dsv3.offset = [[W:[0-9]+]] : i64, dsv3.role = "param"}
// CHECK: call @k0({{.*}}) {dsv3.donations = array<i64: 0, -1>, dsv3.offsets = array<i64: [[W]], [[H:[0-9]+]]>, dsv3.scratch_bytes = array<i64: 256, 8>, dsv3.scratch_offsets = array<i64: [[S0:[0-9]+]], [[S1:[0-9]+]]>}
// CHECK: call @k1({{.*}}) {dsv3.offsets = array<i64: [[Y:[0-9]+]]>}
// CHECK-NOT: dsv3.offsets = array<i64: [[W]]>
module {
  func.func @train_step(%w: tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
                        %x: tensor<16xf32> {dsv3.role = "batch", dsv3.batch = "tokens"})
      -> (tensor<16xf32> {dsv3.role = "param", dsv3.name = "w"},
          tensor<16xf32> {dsv3.role = "metric", dsv3.name = "y"}) {
    %0:2 = func.call @k0(%w, %x) {dsv3.donations = array<i64: 0, -1>}
        : (tensor<16xf32>, tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>)
    %1 = func.call @k1(%0#1) : (tensor<16xf32>) -> tensor<16xf32>
    return %0#0, %1 : tensor<16xf32>, tensor<16xf32>
  }
  func.func private @k0(tensor<16xf32>, tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>) attributes {dsv3.kernel}
  func.func private @k1(tensor<16xf32>) -> tensor<16xf32> attributes {dsv3.kernel}
  module @kernels attributes {dsv3.kernels} {
    // Inputs (w, x), the result without a donated buffer, then scratch.
    func.func @k0(%w: memref<16xf32>, %x: memref<16xf32>, %h: memref<16xf32>,
                  %s0: memref<64xf32>, %s1: memref<index>) attributes {dsv3.kernel} {
      return
    }
    func.func @k1(%h: memref<16xf32>, %y: memref<16xf32>) attributes {dsv3.kernel} {
      return
    }
  }
}

// REPORT: memory plan of @train_step: {{.*}}; 1 updated states donated onto their inputs
// REPORT: kernel scratch 264 bytes in total
