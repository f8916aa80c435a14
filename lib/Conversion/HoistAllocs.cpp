//===- HoistAllocs.cpp - the dsv3-hoist-allocs pass -----------------------===//
//
// Replaces each static `memref.alloc` of a kernel's entry block by a new
// argument, so that the caller (the executable's arena) provides every
// temporary buffer.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"

#include "dsv3/Dsv3Attributes.h"

#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_HOISTALLOCS
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Whether `alloc` can take memory that lives for the whole function: it is
/// in the entry block, or only inside sequential loops and branches (each
/// iteration then reuses the one buffer, which is what a fresh allocation
/// per iteration amounts to as long as nothing carries it to the next
/// iteration), never inside a parallel loop, whose iterations would share
/// it.
bool isHoistable(memref::AllocOp alloc, func::FuncOp fn) {
  MemRefType type = alloc.getType();
  if (!type.hasStaticShape() || !type.getLayout().isIdentity())
    return false;
  for (Operation *parent = alloc->getParentOp(); parent != fn;
       parent = parent->getParentOp())
    if (!isa<scf::ForOp, scf::IfOp, scf::WhileOp>(parent))
      return false;
  if (alloc->getBlock() == &fn.getBody().front())
    return true;
  // The buffer, or a view of it, must not leave its iteration.
  SmallVector<Value> worklist = {alloc.getResult()};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (user->hasTrait<OpTrait::IsTerminator>())
        return false;
      if (isa<ViewLikeOpInterface>(user))
        llvm::append_range(worklist, user->getResults());
    }
  }
  return true;
}

struct HoistAllocsPass : dsv3::impl::HoistAllocsBase<HoistAllocsPass> {
  using dsv3::impl::HoistAllocsBase<HoistAllocsPass>::HoistAllocsBase;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (fn.isExternal() || (!all && !dsv3::isKernel(fn)))
      return;
    SmallVector<memref::AllocOp> allocs;
    fn.walk([&](memref::AllocOp alloc) {
      if (isHoistable(alloc, fn))
        allocs.push_back(alloc);
    });
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
