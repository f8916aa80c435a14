//===- HoistAllocs.cpp - the dsv3-hoist-allocs pass -----------------------===//
//
// Replaces each static `memref.alloc` of a kernel's entry block by a new
// argument, so that the caller (the executable's arena) provides every
// temporary buffer.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_HOISTALLOCS
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

struct HoistAllocsPass : dsv3::impl::HoistAllocsBase<HoistAllocsPass> {
  using dsv3::impl::HoistAllocsBase<HoistAllocsPass>::HoistAllocsBase;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal() || (!all && !fn->hasAttr("dsv3.kernel")))
      return;
    Block &entry = fn.getBody().front();
    SmallVector<memref::AllocOp> allocs;
    for (auto alloc : entry.getOps<memref::AllocOp>())
      if (alloc.getType().hasStaticShape() &&
          alloc.getType().getLayout().isIdentity())
        allocs.push_back(alloc);
    for (memref::AllocOp alloc : allocs) {
      unsigned index = fn.getNumArguments();
      if (failed(fn.insertArgument(index, alloc.getType(), {}, alloc.getLoc())))
        return signalPassFailure();
      alloc.getResult().replaceAllUsesWith(fn.getArgument(index));
      alloc.erase();
    }
  }
};

} // namespace
