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
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

#include <functional>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_SPLITLARGEKERNELS
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Ops that stay where they are and are copied into each part that reads
/// them: constants, views, index arithmetic.
bool isCopied(Operation *op) {
  return op->getNumRegions() == 0 && isMemoryEffectFree(op);
}

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
  llvm::SmallPtrSet<Operation *, 16> members(ops.begin(), ops.end());
  Block &entry = fn.getBody().front();
  // What the ops read from outside: arguments of the part, or copied.
  llvm::SetVector<Value> arguments;
  llvm::SetVector<Operation *> copied;
  std::function<bool(Value)> need = [&](Value v) {
    Operation *def = v.getDefiningOp();
    if (def && members.contains(entry.findAncestorOpInBlock(*def)))
      return true;
    if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getOwner() != &entry)
      return true; // Defined in a region of a member.
    if (def && isCopied(def)) {
      if (copied.contains(def))
        return true;
      for (Value operand : def->getOperands())
        if (!need(operand))
          return false;
      copied.insert(def);
      return true;
    }
    if (!isPassable(v.getType()))
      return false;
    arguments.insert(v);
    return true;
  };
  for (Operation *op : ops) {
    WalkResult walked = op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (!need(operand))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walked.wasInterrupted())
      return false;
  }

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
  // Copies in their order in the kernel, so that each follows its operands.
  SmallVector<Operation *> order(copied.begin(), copied.end());
  llvm::sort(order, [](Operation *x, Operation *y) {
    return x->isBeforeInBlock(y);
  });
  for (Operation *op : order)
    b.clone(*op, mapping);
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
      if (isCopied(&op))
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
