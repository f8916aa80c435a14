//===- OpRuns.h - runs of consecutive ops of a block ------------*- C++ -*-===//
//
// What dsv3-map-to-gpu, dsv3-split-large-kernels and
// dsv3-parallelize-kernel-loops share: they move runs of a function's
// top-level ops elsewhere (a launch, a function), may cut a run only where
// no value crosses the cut, and hand a moved run what it reads.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_CONVERSION_OPRUNS_H
#define DSV3_CONVERSION_OPRUNS_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Operation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <functional>

namespace mlir::dsv3 {

/// Whether no value `ops` (consecutive ops of one block) compute is read by
/// an op outside them: where a run of them can end.
inline bool isSelfContained(ArrayRef<Operation *> ops) {
  llvm::SmallPtrSet<Operation *, 16> members(ops.begin(), ops.end());
  for (Operation *op : ops)
    for (Operation *user : op->getUsers())
      if (!members.contains(op->getBlock()->findAncestorOpInBlock(*user)))
        return false;
  return true;
}

/// Ops that stay where they are and are copied into each function a run
/// moves to that reads them: constants, views, index arithmetic.
inline bool isCopied(Operation *op) {
  return op->getNumRegions() == 0 && isMemoryEffectFree(op);
}

/// What a run of top-level ops reads from outside it: the values handed
/// to the function it moves to, and the ops copied in (in block order).
struct RunInputs {
  llvm::SetVector<Value> arguments;
  SmallVector<Operation *> copied;
};

/// The inputs of `ops` (consecutive ops of one block): a value defined
/// outside them is copied with its defining op when that op isCopied (and
/// its own inputs can be had), and is an argument when `passable` accepts
/// it. Fails when a value is neither.
inline FailureOr<RunInputs>
collectRunInputs(ArrayRef<Operation *> ops,
                 llvm::function_ref<bool(Value)> passable) {
  llvm::SmallPtrSet<Operation *, 16> members(ops.begin(), ops.end());
  Block &block = *ops.front()->getBlock();
  RunInputs inputs;
  llvm::SetVector<Operation *> copied;
  std::function<bool(Value)> need = [&](Value v) {
    Operation *def = v.getDefiningOp();
    if (def && members.contains(block.findAncestorOpInBlock(*def)))
      return true;
    if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getOwner() != &block)
      return true; // Defined in a region of a member.
    if (def && isCopied(def)) {
      if (copied.contains(def))
        return true;
      for (Value operand : def->getOperands())
        if (!need(operand))
          return false;
      copied.insert(def);
      return true;
    }
    if (!passable(v))
      return false;
    inputs.arguments.insert(v);
    return true;
  };
  for (Operation *op : ops) {
    WalkResult walked = op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (!need(operand))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walked.wasInterrupted())
      return failure();
  }
  inputs.copied.assign(copied.begin(), copied.end());
  llvm::sort(inputs.copied, [](Operation *x, Operation *y) {
    return x->isBeforeInBlock(y);
  });
  return inputs;
}

/// Clones the copied inputs at `b`'s insertion point, each after its
/// operands; `mapping` maps the arguments already.
inline void cloneCopiedInputs(OpBuilder &b, const RunInputs &inputs,
                              IRMapping &mapping) {
  for (Operation *op : inputs.copied)
    b.clone(*op, mapping);
}

} // namespace mlir::dsv3

#endif // DSV3_CONVERSION_OPRUNS_H
