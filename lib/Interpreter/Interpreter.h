//===- Interpreter.h - reference evaluator of dsv3 functions ----*- C++ -*-===//
//
// Evaluates a function of dsv3 ops (plus func.call/return and tensor
// constants) on host tensors. It is the oracle every transformation is
// checked against: slow, simple, exact in f64.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_INTERPRETER_INTERPRETER_H
#define DSV3_INTERPRETER_INTERPRETER_H

#include "Interpreter/HostTensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir::dsv3 {

/// Largest tensor the interpreter holds (elements; 2 GiB of doubles).
constexpr int64_t kMaxInterpretedElements = int64_t(1) << 28;

/// Fails with a diagnostic at `loc` when a tensor of `type` is too large
/// for the interpreter.
LogicalResult checkInterpretable(Location loc, Type type);

/// Runs `function` on `args`. Errors (a bad index at run time, an op the
/// interpreter does not know, an argument of the wrong shape) are emitted
/// as diagnostics at the op and make the call fail.
FailureOr<llvm::SmallVector<HostTensor>>
interpret(FunctionOpInterface function, llvm::ArrayRef<HostTensor> args);

/// Deterministic pseudo-random inputs for `function`'s arguments: floats
/// normal(0, std) (`dsv3.init` attributes are honoured: ones, zeros,
/// normal with `dsv3.init_std`), integer batch inputs uniform in
/// [0, `intBound`), positions 0..seq-1 and one segment per sequence.
llvm::SmallVector<HostTensor> randomArguments(FunctionOpInterface function,
                                              uint64_t seed, double std = 1.0,
                                              int64_t intBound = 8);

} // namespace mlir::dsv3

#endif // DSV3_INTERPRETER_INTERPRETER_H
