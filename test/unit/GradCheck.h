//===- GradCheck.h - finite-difference checks of dsv3 gradients -*- C++ -*-===//
//
// Shared by the gradient-check tests: scalarizes a function's float
// results with fixed random weights, differentiates it with the same
// reverse-mode core dsv3-autodiff uses, and compares against central
// differences in f64 through the interpreter.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TEST_UNIT_GRADCHECK_H
#define DSV3_TEST_UNIT_GRADCHECK_H

#include "Interpreter/HostTensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>
#include <vector>

namespace mlir::dsv3::test {

struct ArgError {
  unsigned arg;
  double relativeError;
  double norm;
};

/// Random arguments for `fn`: normal floats, or uniform in [0.5, 1.5] with
/// `test.positive`; integers uniform in [0, `test.bound`) (default 2).
std::vector<HostTensor> testArguments(func::FuncOp fn, uint64_t seed);

/// Rewrites @name in `module` to return one f64 scalar: the sum of its
/// float results times fixed random weights; returns the new function.
func::FuncOp scalarize(ModuleOp module, StringRef name, uint64_t seed);

/// Adds @<fn>_grad to `fn`'s module: `fn` followed by its backward
/// (the reverse-mode core of dsv3-autodiff), returning the cotangents of
/// the arguments `wrt` selects, in order. Returns null on failure.
func::FuncOp buildGradientFunction(
    func::FuncOp fn, llvm::function_ref<bool(BlockArgument)> wrt);

/// Central-difference check of d loss / d arg for every float argument of
/// the scalar function `fn` (but those marked `test.nograd`: selection-only
/// inputs such as a router bias or a loss mask); `directional` uses one random direction per
/// argument instead of every element (for large arguments).
FailureOr<std::vector<ArgError>> checkGradients(func::FuncOp fn,
                                                std::vector<HostTensor> args,
                                                double step, bool directional,
                                                uint64_t seed);

} // namespace mlir::dsv3::test

#endif // DSV3_TEST_UNIT_GRADCHECK_H
