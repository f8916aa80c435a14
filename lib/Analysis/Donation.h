//===- Donation.h - updated state written over the state it replaces -*- C++ -*-===//
//
// Which results of a training step may take the buffer of the argument they
// update (a parameter or a moment, matched by `dsv3.role` and `dsv3.name`):
// the update is elementwise, and nothing reads the old value after it. The
// one analysis that dsv3-extract-kernels (which then compiles the kernel to
// write in place) and dsv3-plan-memory (which then gives both one buffer)
// share.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_ANALYSIS_DONATION_H
#define DSV3_ANALYSIS_DONATION_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

#include <string>

namespace mlir::dsv3 {

struct Donation {
  /// The step's result and the argument it updates.
  unsigned result, argument;
  /// When a kernel call computes the update: its result and the operand
  /// (and so the kernel argument) whose buffer that result takes.
  func::CallOp call;
  unsigned callResult = 0, callOperand = 0;
};

/// The donations of `step`. An update qualifies when the op computing it is the
/// argument's last reader in the step and either is a `dsv3.adamw` or
/// `dsv3.update_router_bias` reading the argument (or a `dsv3.select` between
/// such an update and the argument: a step loss scaling may skip), or is a call
/// whose `dsv3.donations` hands it that operand's buffer, or is a call of a
/// kernel (with its body) in which such an update, the argument's last reader
/// there, computes it. Each update that does not qualify is described in
/// `notDonated` ("name: why"), when given.
SmallVector<Donation>
findDonations(func::FuncOp step,
              SmallVectorImpl<std::string> *notDonated = nullptr);

/// How many calls of each callee `module` holds.
llvm::StringMap<size_t> callCounts(ModuleOp module);

/// The results of `call` (of `kernel`, with its body) that may be written
/// over an operand, as (result, operand) pairs: a gradient clipped by the
/// kernel's `dsv3.clip_by_global_norm`, over the gradient, where nothing
/// else can observe the gradient. In the kernel its only reader is the
/// clipping, which reads every input before it writes a result; in the
/// step this call is its last reader, and it is neither a view nor an
/// argument or result of the step. The kernel's code writes in place for
/// every call, so it must have only this one (`calls`, from `callCounts`).
/// Without this, every gradient and its clipped copy would be live at once
/// at the end of the step: the peak of a model whose parameters dominate.
SmallVector<std::pair<unsigned, unsigned>>
findInPlaceClips(func::CallOp call, func::FuncOp kernel,
                 const llvm::StringMap<size_t> &calls);

} // namespace mlir::dsv3

#endif // DSV3_ANALYSIS_DONATION_H
