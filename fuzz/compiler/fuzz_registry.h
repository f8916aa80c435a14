//===- fuzz_registry.h - the dialects the compiler's targets read -*- C++ -*-===//
//
// What dsv3-compile registers: every upstream dialect (the pipeline lowers
// through bufferization, linalg, scf, the GPU dialects and LLVM) and the
// interfaces the pipeline's stages need, with the dsv3 dialect.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_FUZZ_COMPILER_FUZZ_REGISTRY_H
#define DSV3_FUZZ_COMPILER_FUZZ_REGISTRY_H

#include "Pipelines/Pipelines.h"
#include "dsv3/Dsv3Dialect.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"

namespace dsv3fuzz {

inline const mlir::DialectRegistry &registry() {
  static const mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    mlir::registerAllDialects(*r);
    r->insert<mlir::dsv3::Dsv3Dialect>();
    mlir::dsv3::registerPipelineInterfaces(*r);
    return r;
  }();
  return *registry;
}

} // namespace dsv3fuzz

#endif // DSV3_FUZZ_COMPILER_FUZZ_REGISTRY_H
