//===- Passes.h - dsv3 passes -----------------------------------*- C++ -*-===//

#ifndef DSV3_TRANSFORMS_PASSES_H
#define DSV3_TRANSFORMS_PASSES_H

#include "dsv3/Dsv3Ops.h"

#include "mlir/Pass/Pass.h"

#include <functional>

namespace mlir::dsv3 {

#define GEN_PASS_DECL
#include "Transforms/Passes.h.inc"

/// dsv3-remat whose policy=budget checks each plan it considers against the
/// memory plan the executable gets: `planPipeline` adds the passes from the
/// training step to dsv3-plan-memory.
std::unique_ptr<Pass>
createRemat(const RematOptions &options,
            std::function<void(OpPassManager &)> planPipeline);

#define GEN_PASS_REGISTRATION
#include "Transforms/Passes.h.inc"

} // namespace mlir::dsv3

#endif // DSV3_TRANSFORMS_PASSES_H
