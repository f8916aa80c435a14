//===- Passes.td - dsv3 conversion passes ---------------------------------===//

#ifndef DSV3_CONVERSION_PASSES_TD
#define DSV3_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertDsv3ToLinalg : Pass<"convert-dsv3-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower dsv3 ops to linalg, tensor, arith and math on tensors";
  let description = [{
    The first step of code generation. Converted so far: elementwise ops
    (arithmetic, transcendental, select, compare, cast, loss scaling) as
    `linalg.generic` with parallel iterators; reductions (sum, max, mean)
    and softmax / log-softmax as reduction `linalg.generic`s; RMSNorm and
    its gradient (row statistics, then a parallel map); embedding and
    gather (a generic that extracts from the table); cross entropy and its
    gradient (per-token max and sum of exponentials, masked mean); RoPE
    (with YaRN; angles in f64); transpose, broadcast, reshape, slice, pad,
    concat and constants as linalg and tensor ops; matmul as one
    contraction `linalg.generic` (on the CPU these later become BLAS
    commands instead); and `dsv3.fusion` regions, whose bodies are inlined
    so that upstream elementwise fusion can merge their generics. Other
    dsv3 ops (attention, the MoE ops, the optimizer) are left as they are;
    the pass fails on none of them.

    After this pass the upstream pipeline (one-shot bufferization, linalg
    to loops, lowering to LLVM) produces code that runs, which the
    integration tests in `test/Conversion` execute with `mlir-runner` and
    compare against the reference interpreter.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
  ];
}

#endif // DSV3_CONVERSION_PASSES_TD
