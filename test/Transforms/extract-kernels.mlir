// RUN: dsv3-opt %s --dsv3-extract-kernels | FileCheck %s
// RUN: dsv3-opt %s --dsv3-plan-memory="report=true" -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: dsv3-opt %s --dsv3-extract-kernels --dsv3-plan-memory="report=true" -o /dev/null | FileCheck %s --check-prefix=AFTER

// Kernels move into the nested module @kernels; declarations stay behind
// for the step's calls. An update computed by AdamW that is the last reader
// of the old value, in its kernel and in the step, overwrites it: the
// kernel's result names the argument, the call hands the operand's buffer
// on. Here w and its moments qualify; u does not (its kernel reads u after
// the update), nor does b (the step reads b after the update).
// CHECK-LABEL: func.func @train_step(
// CHECK: call @train_step_kernel_0(%arg0, %arg1, %arg2, %arg4, %arg5, %arg6, %arg7) {dsv3.donations = array<i64: 0, 1, 2, -1, -1>}
// CHECK: %[[B:.*]] = call @train_step_kernel_1(%arg3, %arg4, %arg6, %arg7) :
// CHECK: dsv3.add %arg3, %[[B]]
// CHECK: func.func private @train_step_kernel_0(tensor<8xf32>, {{.*}}) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) attributes {dsv3.kernel}
// CHECK: func.func private @train_step_kernel_1(
// CHECK: module @kernels attributes {dsv3.kernels} {
// CHECK: func.func private @train_step_kernel_0(%{{[^:]+}}: tensor<8xf32>, {{.*}}) -> (tensor<8xf32> {dsv3.overwrites = 0 : i64}, tensor<8xf32> {dsv3.overwrites = 1 : i64}, tensor<8xf32> {dsv3.overwrites = 2 : i64}, tensor<8xf32>, tensor<8xf32>) attributes {dsv3.kernel}
// CHECK: dsv3.adamw
// CHECK: func.func private @train_step_kernel_1(%{{[^:]+}}: tensor<8xf32>, {{.*}}) -> tensor<8xf32> attributes {dsv3.kernel}

// The planner reaches the same decisions from the kernels' bodies, and,
// once they are code, from what the calls record.
// REPORT: 3 updated states donated onto their inputs
// REPORT-DAG: not donated: b: the input is read after the update
// REPORT-DAG: not donated: u: its kernel reads the input after the update
// AFTER: 3 updated states donated onto their inputs
// AFTER-DAG: not donated: b: the input is read after the update
// AFTER-DAG: not donated: u: its kernel does not update it in place
module {
  func.func @train_step(%w: tensor<8xf32> {dsv3.role = "param", dsv3.name = "w"},
                        %m: tensor<8xf32> {dsv3.role = "opt_state", dsv3.name = "w.exp_avg"},
                        %v: tensor<8xf32> {dsv3.role = "opt_state", dsv3.name = "w.exp_avg_sq"},
                        %b: tensor<8xf32> {dsv3.role = "param", dsv3.name = "b"},
                        %g: tensor<8xf32>,
                        %u: tensor<8xf32> {dsv3.role = "param", dsv3.name = "u"},
                        %lr: tensor<f32>, %t: tensor<i64> {dsv3.role = "step"})
      -> (tensor<8xf32> {dsv3.role = "param", dsv3.name = "w"},
          tensor<8xf32> {dsv3.role = "opt_state", dsv3.name = "w.exp_avg"},
          tensor<8xf32> {dsv3.role = "opt_state", dsv3.name = "w.exp_avg_sq"},
          tensor<8xf32> {dsv3.role = "param", dsv3.name = "u"},
          tensor<8xf32> {dsv3.role = "param", dsv3.name = "b"},
          tensor<8xf32> {dsv3.role = "metric", dsv3.name = "late"},
          tensor<8xf32> {dsv3.role = "metric", dsv3.name = "sum"}) {
    %0:5 = func.call @train_step_kernel_0(%w, %m, %v, %g, %u, %lr, %t)
        : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i64>)
        -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
    %1 = func.call @train_step_kernel_1(%b, %g, %lr, %t)
        : (tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i64>) -> tensor<8xf32>
    %2 = dsv3.add %b, %1 : tensor<8xf32>
    return %0#0, %0#1, %0#2, %0#3, %1, %0#4, %2
        : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
  func.func private @train_step_kernel_0(%w: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>,
                                         %g: tensor<8xf32>, %u: tensor<8xf32>, %lr: tensor<f32>, %t: tensor<i64>)
      -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) attributes {dsv3.kernel} {
    %p, %m2, %v2 = dsv3.adamw %w, %g, %m, %v, %lr, %t : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i64>
    %q, %mq, %vq = dsv3.adamw %u, %g, %g, %g, %lr, %t : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i64>
    %late = dsv3.mul %u, %q : tensor<8xf32>
    return %p, %m2, %v2, %q, %late : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
  func.func private @train_step_kernel_1(%b: tensor<8xf32>, %g: tensor<8xf32>, %lr: tensor<f32>, %t: tensor<i64>)
      -> tensor<8xf32> attributes {dsv3.kernel} {
    %p, %m2, %v2 = dsv3.adamw %b, %g, %g, %g, %lr, %t : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i64>
    return %p : tensor<8xf32>
  }
}
