// RUN: dsv3-opt %s --dsv3-plan-memory | FileCheck %s
// RUN: dsv3-opt %s --dsv3-plan-memory="report=true" -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: not dsv3-opt %s --dsv3-plan-memory="function=missing" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not dsv3-opt %s --dsv3-plan-memory="alignment=48" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ALIGN

// A training step in miniature (256-byte parameter, 64-byte alignment).
// The updated parameter and moments land in their inputs' buffers; the
// reshape shares its input's; the gradient and the scaled gradient are
// live at the same time, so they do not overlap; the step's new value
// reuses nothing, its input being returned unchanged.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %{{[^:]+}}: tensor<8x8xf32> {dsv3.name = "w", dsv3.offset = [[W:[0-9]+]] : i64, dsv3.role = "param"}
// CHECK-SAME: %{{[^:]+}}: tensor<8x8xf32> {dsv3.name = "w", dsv3.offset = [[M:[0-9]+]] : i64, dsv3.role = "opt_state"}
// CHECK-SAME: %{{[^:]+}}: tensor<8x8xf32> {dsv3.name = "w.sq", dsv3.offset = [[V:[0-9]+]] : i64, dsv3.role = "opt_state"}
// CHECK-SAME: attributes {dsv3.arena_bytes = [[ARENA:[0-9]+]] : i64, dsv3.peak_live_bytes = [[ARENA]] : i64}
// CHECK: %[[G:.*]] = dsv3.mul {{.*}} {dsv3.offsets = array<i64: [[G_OFF:[0-9]+]]>}
// CHECK: dsv3.reshape %[[G]] {dsv3.offsets = array<i64: [[G_OFF]]>}
// CHECK: dsv3.adamw {{.*}} {dsv3.offsets = array<i64: [[W]], [[M]], [[V]]>}
module {
  func.func @train_step(%w: tensor<8x8xf32> {dsv3.role = "param", dsv3.name = "w"},
                        %m: tensor<8x8xf32> {dsv3.role = "opt_state", dsv3.name = "w"},
                        %v: tensor<8x8xf32> {dsv3.role = "opt_state", dsv3.name = "w.sq"},
                        %x: tensor<8x8xf32> {dsv3.role = "batch"}, %lr: tensor<f32>, %t: tensor<i64>)
      -> (tensor<8x8xf32> {dsv3.role = "param", dsv3.name = "w"},
          tensor<8x8xf32> {dsv3.role = "opt_state", dsv3.name = "w"},
          tensor<8x8xf32> {dsv3.role = "opt_state", dsv3.name = "w.sq"}, tensor<i64>) {
    %g = dsv3.mul %w, %x : tensor<8x8xf32>
    %g2 = dsv3.reshape %g : tensor<8x8xf32> -> tensor<64xf32>
    %g3 = dsv3.reshape %g2 : tensor<64xf32> -> tensor<8x8xf32>
    %p, %m2, %v2 = dsv3.adamw %w, %g3, %m, %v, %lr, %t : tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<f32>, tensor<i64>
    return %p, %m2, %v2, %t : tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<i64>
  }
}

// Arguments (4 x 256 bytes + two 64-byte scalars) and the gradient, all
// live at the update: 1408 bytes, which is also the arena.
// REPORT: memory plan of @train_step: 7 buffers in an arena of 1408 bytes (0.00 MiB); peak live 1408 bytes (the lower bound, 1.000x); 3 updated states donated onto their inputs
// REPORT: largest live set, at op 0 (dsv3.mul):
// REPORT:   256  w
// REPORT:   256  dsv3.mul
// REPORT-NOT: not donated
// MISSING: dsv3-plan-memory: no function @missing
// ALIGN: dsv3-plan-memory: alignment must be a power of two, got 48
