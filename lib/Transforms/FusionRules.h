//===- FusionRules.h - What dsv3-fuse puts in one kernel --------*- C++ -*-===//
//
// The rules dsv3-fuse groups ops by, shared with dsv3-remat's model of the
// fused step's buffers.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TRANSFORMS_FUSIONRULES_H
#define DSV3_TRANSFORMS_FUSIONRULES_H

#include "dsv3/Dsv3Ops.h"

namespace mlir::dsv3 {

/// Ops that run one element at a time over their result shape.
inline bool isElementwise(Operation *op) {
  return op->hasTrait<OpTrait::Elementwise>() ||
         isa<CastOp, ScaleOp, UnscaleOp>(op);
}

/// Ops fused with their consumer: elementwise ones, and reductions (which
/// end a group).
inline bool isFusible(Operation *op) {
  return op->getNumResults() == 1 && (isElementwise(op) || isa<ReduceOp>(op));
}

/// The shape an op iterates over: its operand's for a reduction, its
/// result's otherwise.
inline ArrayRef<int64_t> iterationShape(Operation *op) {
  if (auto reduce = dyn_cast<ReduceOp>(op))
    return reduce.getInput().getType().getShape();
  return cast<RankedTensorType>(op->getResult(0).getType()).getShape();
}

/// The library calls a group is not moved past.
inline bool isGemm(Operation *op) {
  return isa<MatmulOp, GroupedMatmulOp, GroupedMatmulWgradOp, ScaledMatmulOp,
             SparseMatmulOp, AttentionOp, AttentionGradOp>(op);
}

} // namespace mlir::dsv3

#endif // DSV3_TRANSFORMS_FUSIONRULES_H
