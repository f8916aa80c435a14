//===- SplitLargeKernels.cpp - the dsv3-split-large-kernels pass ----------===//
//
// A kernel over every parameter of a deep model (the gradient clipping: a
// reduction and a scaling loop per parameter) is thousands of loops in one
// function, and LLVM's dominator-tree and scalar-evolution updates grow
// with the square of a chain that long. This pass moves runs of a large
// kernel's loops into functions of their own, called in place and never
// inlined, so that each function LLVM optimizes is short. The ops and
// their order are unchanged: so are the results.
//
//===----------------------------------------------------------------------===//

#include "Conversion/OpRuns.h"
#include "Conversion/Passes.h"

#include "dsv3/Dsv3Attributes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_SPLITLARGEKERNELS
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// A type a part may take as an argument with the bare-pointer calling
/// convention: a static memref of identity layout, or a scalar.
bool isPassable(Type type) {
  if (auto memref = dyn_cast<MemRefType>(type))
    return memref.hasStaticShape() && memref.getLayout().isIdentity();
  return type.isIntOrIndexOrFloat();
}

struct SplitLargeKernelsPass
    : dsv3::impl::SplitLargeKernelsBase<SplitLargeKernelsPass> {
  using dsv3::impl::SplitLargeKernelsBase<
      SplitLargeKernelsPass>::SplitLargeKernelsBase;

  void runOnOperation() override;

private:
  /// Moves `ops` (consecutive top-level ops of `fn`, none of whose results
  /// is read outside them) into a new function called in their place.
  /// Returns false, changing nothing, when an argument it would need
  /// cannot be passed.
  bool outline(func::FuncOp fn, ArrayRef<Operation *> ops, int64_t index);

  /// Where the next part goes: after the kernel's last part, in order.
  Operation *lastPart = nullptr;
};

bool SplitLargeKernelsPass::outline(func::FuncOp fn, ArrayRef<Operation *> ops,
                                    int64_t index) {
  FailureOr<dsv3::RunInputs> inputs = dsv3::collectRunInputs(
      ops, [](Value v) { return isPassable(v.getType()); });
  if (failed(inputs))
    return false;
  const llvm::SetVector<Value> &arguments = inputs->arguments;

  OpBuilder b(fn);
  b.setInsertionPointAfter(lastPart ? lastPart : fn.getOperation());
  Location loc = ops.front()->getLoc();
  auto part = func::FuncOp::create(
      b, loc, (fn.getSymName() + "_part_" + Twine(index)).str(),
      b.getFunctionType(ValueRange(arguments.getArrayRef()).getTypes(), {}));
  part.setPrivate();
  part.setNoInline(true);
  lastPart = part;
  Block *body = part.addEntryBlock();
  IRMapping mapping;
  mapping.map(arguments.getArrayRef(), body->getArguments());
  b.setInsertionPointToStart(body);
  dsv3::cloneCopiedInputs(b, *inputs, mapping);
  for (Operation *op : ops)
    b.clone(*op, mapping);
  func::ReturnOp::create(b, loc);

  b.setInsertionPoint(ops.front());
  func::CallOp::create(b, loc, part, arguments.getArrayRef());
  for (Operation *op : llvm::reverse(ops))
    op->erase();
  return true;
}

void SplitLargeKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  SmallVector<func::FuncOp> kernels;
  for (auto fn : module.getOps<func::FuncOp>())
    if (dsv3::isKernel(fn) && !fn.isExternal())
      kernels.push_back(fn);
  for (func::FuncOp fn : kernels) {
    Block &entry = fn.getBody().front();
    auto isLoop = [](Operation &op) { return op.getNumRegions() != 0; };
    if (llvm::count_if(entry.without_terminator(), isLoop) <= maxLoops)
      continue;
    int64_t parts = 0;
    lastPart = nullptr;
    SmallVector<Operation *> run;
    int64_t loops = 0;
    auto flush = [&] {
      if (run.size() > 1 && outline(fn, run, parts))
        ++parts;
      run.clear();
      loops = 0;
    };
    for (Operation &op : llvm::make_early_inc_range(entry.without_terminator())) {
      if (dsv3::isCopied(&op))
        continue;
      run.push_back(&op);
      loops += isLoop(op);
      if (loops >= loopsPerPart && dsv3::isSelfContained(run))
        flush();
    }
    if (dsv3::isSelfContained(run))
      flush();
  }
}

} // namespace
