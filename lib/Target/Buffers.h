//===- Buffers.h - an executable's buffers, from the memory plan -*- C++ -*-===//
//
// Buffer assignment: one executable buffer per SSA value of the planned
// step (views share their offsets) and per scratch buffer of each kernel
// call, placed at the offsets dsv3-plan-memory wrote, with the roles,
// names and initializers of the step's arguments.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_BUFFERS_H
#define DSV3_TARGET_BUFFERS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

namespace dsv3::runtime {
class Executable;
} // namespace dsv3::runtime

namespace mlir::dsv3 {

struct StepBuffers {
  /// The buffer of each value of the step.
  llvm::DenseMap<Value, int> of;
  /// The scratch buffers of each kernel call, in its kernel's order.
  llvm::DenseMap<Operation *, SmallVector<int>> scratch;
};

/// Adds the buffers of `step` (planned) to `exe` and sets its arena size
/// and peak; fails, naming the value, on anything the plan does not cover
/// or the runtime cannot hold.
FailureOr<StepBuffers> assignBuffers(func::FuncOp step,
                                     ::dsv3::runtime::Executable &exe);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_BUFFERS_H
