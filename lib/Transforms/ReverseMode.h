//===- ReverseMode.h - reverse-mode differentiation of a block --*- C++ -*-===//
//
// The core of dsv3-autodiff, shared with the gradient checks: given the ops
// of a block and a scalar loss, appends the backward pass built from each
// op's GradientOpInterface and returns the cotangents of requested values.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TRANSFORMS_REVERSEMODE_H
#define DSV3_TRANSFORMS_REVERSEMODE_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

namespace mlir::dsv3 {

/// Differentiates `loss` (a 0-d float tensor computed by `ops`, in program
/// order) with respect to `wrt`, building the backward ops with `builder`
/// at its insertion point: the gradients of `seed * loss`, from a constant
/// `seed` marked `dsv3.loss_seed`. Values `loss` does not depend on get a
/// zero cotangent. Fails (with a diagnostic at the op) when the loss
/// depends on a float result of an op without a gradient rule.
FailureOr<SmallVector<Value>> buildGradients(OpBuilder &builder,
                                             ArrayRef<Operation *> ops,
                                             Value loss, ValueRange wrt,
                                             double seed = 1.0);

} // namespace mlir::dsv3

#endif // DSV3_TRANSFORMS_REVERSEMODE_H
