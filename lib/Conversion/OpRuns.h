//===- OpRuns.h - runs of consecutive ops of a block ------------*- C++ -*-===//
//
// What dsv3-map-to-gpu and dsv3-split-large-kernels share: both move runs
// of a function's top-level ops elsewhere (a launch, a function) and may
// cut a run only where no value crosses the cut.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_CONVERSION_OPRUNS_H
#define DSV3_CONVERSION_OPRUNS_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/SmallPtrSet.h"

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

} // namespace mlir::dsv3

#endif // DSV3_CONVERSION_OPRUNS_H
