//===- Commands.h - an executable's command list, per target ----*- C++ -*-===//
//
// Command emission: each op of the planned step becomes commands in order:
// a kernel call a Launch of its CPU entry point, or the GPU launches its
// code makes; a GEMM a Gemm or GroupedGemm; and an updated parameter or
// moment whose buffer the plan did not donate a Copy back onto its
// argument at the end. Reshapes are views and emit nothing.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TARGET_COMMANDS_H
#define DSV3_TARGET_COMMANDS_H

#include "Target/Buffers.h"
#include "Target/GpuKernels.h"

namespace mlir::dsv3 {

/// Appends the commands of `step` to `exe`; `gpu` holds the launches of
/// each kernel for the cuda target, null for the cpu. Also gives the loss
/// and metric buffers their roles and names, and sets the executable's
/// FLOPs per step: the model's (`dsv3.flops` on the step, from autodiff),
/// or else the sum over its commands.
LogicalResult emitCommands(func::FuncOp step, const StepBuffers &buffers,
                           const GpuKernels *gpu,
                           ::dsv3::runtime::Executable &exe);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_COMMANDS_H
