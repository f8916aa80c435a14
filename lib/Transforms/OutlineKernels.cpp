//===- OutlineKernels.cpp - the dsv3-outline-kernels pass -----------------===//
//
// Splits a step into the command list of an executable: library GEMMs stay
// in place, reshapes of earlier values stay as views, and each run of other
// ops between two GEMMs becomes one private kernel function called in its
// place. The kernels are what code generation compiles; the calls and GEMMs
// left in the step are what the executable writer turns into commands.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Cost.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The element type of a tensor value.
Type elementTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// GEMMs the runtime serves from a library (BLAS, cuBLASLt): operands and
/// result all f32, or all bf16 or all f16 (accumulating in f32); and the
/// attention dsv3-decompose-attention left whole for the cpu runtime.
bool isLibraryGemm(Operation *op) {
  if (isLibraryAttention(op))
    return true;
  if (!isa<MatmulOp, GroupedMatmulOp, GroupedMatmulWgradOp>(op))
    return false;
  Type type = elementTypeOf(op->getResult(0));
  if (!type.isF32() && !type.isBF16() && !type.isF16())
    return false;
  // The group sizes (i32) are the grouped GEMMs' third operand.
  for (Value operand : op->getOperands().take_front(2))
    if (elementTypeOf(operand) != type)
      return false;
  return true;
}

/// fp16's choice between an update's result and the old value `update`
/// read (dsv3-mixed-precision), or the broadcast of its condition that
/// only such choices read.
bool isSkipChoiceOf(Operation *op, Operation *update) {
  auto keepsOld = [&](Operation *user) {
    auto select = dyn_cast<SelectOp>(user);
    return select && select.getOnTrue().getDefiningOp() == update &&
           llvm::is_contained(update->getOperands(), select.getOnFalse());
  };
  if (isa<BroadcastOp>(op))
    return !op->use_empty() && llvm::all_of(op->getUsers(), keepsOld);
  return keepsOld(op);
}

bool isConstant(Operation *op) {
  return isa<ConstantOp, arith::ConstantOp>(op);
}

struct OutlineKernelsPass
    : dsv3::impl::OutlineKernelsBase<OutlineKernelsPass> {
  using dsv3::impl::OutlineKernelsBase<OutlineKernelsPass>::OutlineKernelsBase;

  void runOnOperation() override;

private:
  /// Moves `group` (ops of `body`, in order) into a new kernel function and
  /// calls it right before `before`.
  void outline(func::FuncOp fn, ArrayRef<Operation *> group,
               Operation *before);

  int64_t numKernels = 0;
};

void OutlineKernelsPass::outline(func::FuncOp fn, ArrayRef<Operation *> group,
                                 Operation *before) {
  Block &body = fn.getBody().front();
  llvm::DenseSet<Operation *> members(group.begin(), group.end());
  auto topLevel = [&](Operation *op) { return body.findAncestorOpInBlock(*op); };
  auto definedInside = [&](Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v))
      return arg.getOwner() != &body;
    return members.contains(topLevel(v.getDefiningOp()));
  };

  llvm::SetVector<Value> inputs;
  llvm::SetVector<Operation *> constants;
  for (Operation *op : group) {
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands()) {
        if (definedInside(operand))
          continue;
        Operation *def = operand.getDefiningOp();
        if (def && isConstant(def))
          constants.insert(def);
        else
          inputs.insert(operand);
      }
    });
  }
  SmallVector<Value> outputs;
  for (Operation *op : group)
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !members.contains(topLevel(user));
          }))
        outputs.push_back(result);

  std::string name =
      (fn.getSymName() + "_kernel_" + Twine(numKernels++)).str();
  OpBuilder b(fn.getContext());
  b.setInsertionPointAfter(fn);
  auto kernel = func::FuncOp::create(
      b, group.front()->getLoc(), name,
      b.getFunctionType(ValueRange(inputs.getArrayRef()).getTypes(),
                        ValueRange(outputs).getTypes()));
  kernel.setPrivate();
  Dsv3Dialect *dialect = fn->getContext()->getOrLoadDialect<Dsv3Dialect>();
  dialect->getKernelAttrHelper().setAttr(kernel, b.getUnitAttr());
  Block *entry = kernel.addEntryBlock();
  IRMapping mapping;
  mapping.map(inputs.getArrayRef(), entry->getArguments());
  b.setInsertionPointToStart(entry);
  for (Operation *constant : constants)
    b.clone(*constant, mapping);
  for (Operation *op : group)
    b.clone(*op, mapping);
  SmallVector<Value> returned = llvm::map_to_vector(
      outputs, [&](Value v) { return mapping.lookup(v); });
  func::ReturnOp::create(b, group.back()->getLoc(), returned);

  b.setInsertionPoint(before);
  auto call = func::CallOp::create(b, group.back()->getLoc(), kernel,
                                   inputs.getArrayRef());
  // What the call computes, for the executable's FLOP count once the
  // kernel's ops are code.
  dialect->getFlopsAttrHelper().setAttr(
      call, b.getI64IntegerAttr(computeFunctionCost(kernel).total.flops));
  for (auto [output, result] : llvm::zip(outputs, call.getResults()))
    output.replaceUsesWithIf(result, [&](OpOperand &use) {
      return !members.contains(topLevel(use.getOwner()));
    });
  for (Operation *op : llvm::reverse(group))
    op->erase();
}

void OutlineKernelsPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn || fn.isExternal()) {
    module.emitError("dsv3-outline-kernels: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }
  Block &body = fn.getBody().front();

  SmallVector<Operation *> group;
  llvm::DenseSet<Operation *> members;
  auto flush = [&](Operation *before) {
    if (!group.empty())
      outline(fn, group, before);
    group.clear();
    members.clear();
  };
  // The next op is taken before a flush erases the group before it.
  for (Operation *nextOp = &body.front(); nextOp;) {
    Operation &op = *nextOp;
    nextOp = op.getNextNode();
    if (isa<func::ReturnOp>(op)) {
      flush(&op);
      break;
    }
    if (isConstant(&op))
      continue;
    if (isLibraryGemm(&op)) {
      flush(&op);
      continue;
    }
    // Each parameter's update is a kernel of its own: the same for every
    // layer of one shape, so deduplicated, instead of one kernel over every
    // parameter of the model.
    // With loss scaling, the choices between each result and its old
    // value that follow it (dsv3-mixed-precision) are part of it.
    if (isa<AdamWOp, UpdateRouterBiasOp>(op)) {
      flush(&op);
      group.push_back(&op);
      members.insert(&op);
      Operation *next = op.getNextNode();
      while (next && isSkipChoiceOf(next, &op)) {
        group.push_back(next);
        members.insert(next);
        next = next->getNextNode();
      }
      flush(next);
      nextOp = next;
      continue;
    }
    if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      Operation *def = reshape.getInput().getDefiningOp();
      if (!def || !members.contains(def))
        continue;
    }
    group.push_back(&op);
    members.insert(&op);
  }

  // Constants now read only by kernels are gone from the step; one still
  // read by a GEMM, a view or the return becomes a kernel of its own.
  for (Operation &op : llvm::make_early_inc_range(body)) {
    if (!isConstant(&op))
      continue;
    if (op.use_empty()) {
      op.erase();
      continue;
    }
    Operation *single[] = {&op};
    outline(fn, single, op.getNextNode());
  }
}

} // namespace
