//===- Passes.h - dsv3 passes -----------------------------------*- C++ -*-===//

#ifndef DSV3_TRANSFORMS_PASSES_H
#define DSV3_TRANSFORMS_PASSES_H

#include "dsv3/Dsv3Ops.h"

#include "mlir/Pass/Pass.h"

namespace mlir::dsv3 {

#define GEN_PASS_DECL
#include "Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Transforms/Passes.h.inc"

} // namespace mlir::dsv3

#endif // DSV3_TRANSFORMS_PASSES_H
