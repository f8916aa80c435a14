// Lowered through linalg to LLVM and run, the converted ops compute what
// the reference interpreter computes (the interpreter evaluates @compute,
// mlir-runner evaluates @main, which prints @compute's results).
// RUN: dsv3-opt %s --dsv3-interpret="function=compute" -o /dev/null | FileCheck %s --check-prefix=INTERP
// RUN: dsv3-opt %s %lower_to_llvm | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_libs | FileCheck %s --check-prefix=EXEC

func.func @compute() -> (tensor<2x3xf32>, tensor<2xf32>, tensor<2x3xf32>, tensor<3x2xf32>, tensor<2x2xf32>) {
  %a = dsv3.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %b = dsv3.constant dense<[[0.5, -1.0, 2.0], [1.0, 0.0, -2.0]]> : tensor<2x3xf32>
  %w = dsv3.constant dense<[[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]]> : tensor<2x3xf32>
  %s = dsv3.fusion ins(%a, %b : tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32> {
  ^bb0(%x: tensor<2x3xf32>, %y: tensor<2x3xf32>):
    %e = dsv3.silu %x : tensor<2x3xf32>
    %m = dsv3.mul %e, %y : tensor<2x3xf32>
    dsv3.yield %m : tensor<2x3xf32>
  }
  %r = dsv3.reduce sum %s, dims = [1] : tensor<2x3xf32> -> tensor<2xf32>
  %sm = dsv3.log_softmax %b, dim = 1 : tensor<2x3xf32>
  %t = dsv3.transpose %sm, perm = [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  %l = dsv3.matmul %a, %w transpose_rhs : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x2xf32>
  return %s, %r, %sm, %t, %l : tensor<2x3xf32>, tensor<2xf32>, tensor<2x3xf32>, tensor<3x2xf32>, tensor<2x2xf32>
}

// INTERP: result 0: tensor<2x3xf32> sum -3.72289 [0.365529, -1.76159, 5.71544, 3.92806, ...]
// INTERP: result 1: tensor<2xf32> sum -3.72289 [4.31938, -8.04227]
// INTERP: result 2: tensor<2x3xf32> sum -10.271 [-1.74131, -3.24131, -0.241311, -0.349012, ...]
// INTERP: result 3: tensor<3x2xf32> sum -10.271 [-1.74131, -0.349012, -3.24131, -1.34901, ...]
// INTERP: result 4: tensor<2x2xf32> sum 17.5 [-2, 5.5, -2, 16]

// EXEC: [0.365529, -1.76159, 5.71544],
// EXEC-NEXT: [3.92806, 0, -11.9703]
// EXEC: [4.31938, -8.04227]
// EXEC: [-1.74131, -3.24131, -0.241311],
// EXEC-NEXT: [-0.349012, -1.34901, -3.34901]
// EXEC: [-1.74131, -0.349012],
// EXEC-NEXT: [-3.24131, -1.34901],
// EXEC-NEXT: [-0.241311, -3.34901]
// EXEC: [-2, 5.5],
// EXEC-NEXT: [-2, 16]
func.func @main() {
  %s, %r, %sm, %t, %l = call @compute() : () -> (tensor<2x3xf32>, tensor<2xf32>, tensor<2x3xf32>, tensor<3x2xf32>, tensor<2x2xf32>)
  %0 = tensor.cast %s : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%0) : (tensor<*xf32>) -> ()
  %1 = tensor.cast %r : tensor<2xf32> to tensor<*xf32>
  call @printMemrefF32(%1) : (tensor<*xf32>) -> ()
  %2 = tensor.cast %sm : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%2) : (tensor<*xf32>) -> ()
  %3 = tensor.cast %t : tensor<3x2xf32> to tensor<*xf32>
  call @printMemrefF32(%3) : (tensor<*xf32>) -> ()
  %4 = tensor.cast %l : tensor<2x2xf32> to tensor<*xf32>
  call @printMemrefF32(%4) : (tensor<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(tensor<*xf32>)
