//===- Donation.cpp - updated state written over the state it replaces ----===//
//
// An update may take its input's buffer only if nothing can observe the old
// value afterwards: no reader after the update, through the input itself or
// any view of it (a reshape shares its input's bytes), in the step and, for
// a kernel, inside the kernel; and the buffer is the update's alone (one
// result, one argument, one call of the kernel).
//
//===----------------------------------------------------------------------===//

#include "Analysis/Donation.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

#include <map>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// `v` and every reshape of it, transitively: the values that share its
/// bytes.
llvm::SetVector<Value> viewsOf(Value v) {
  llvm::SetVector<Value> views;
  views.insert(v);
  for (size_t i = 0; i < views.size(); ++i)
    for (Operation *user : views[i].getUsers())
      if (auto reshape = dyn_cast<ReshapeOp>(user))
        views.insert(reshape.getResult());
  return views;
}

/// The op of `block` that last reads any of `values` (through any nested
/// op; a reshape only makes a view, it reads nothing), or null.
Operation *lastReader(Block &block, ArrayRef<Value> values) {
  Operation *last = nullptr;
  for (Value v : values)
    for (Operation *user : v.getUsers()) {
      if (isa<ReshapeOp>(user))
        continue;
      Operation *top = block.findAncestorOpInBlock(*user);
      if (top && (!last || last->isBeforeInBlock(top)))
        last = top;
    }
  return last;
}

/// Whether `op` updates `input` element by element into `result`: an
/// AdamW or router-bias update reading it, or the choice between such an
/// update and `input` itself that fp16's loss scaling makes.
bool isElementwiseUpdateOf(Operation *op, Value input) {
  if (auto select = dyn_cast_or_null<SelectOp>(op))
    return select.getOnFalse() == input &&
           isElementwiseUpdateOf(select.getOnTrue().getDefiningOp(), input);
  return op && isa<AdamWOp, UpdateRouterBiasOp>(op) &&
         llvm::is_contained(op->getOperands(), input);
}

/// Why kernel `callee`'s result `result` cannot be written over its
/// argument `argument`, or "" when it can.
std::string kernelWhyNot(func::FuncOp callee, unsigned result,
                         unsigned argument) {
  if (!callee || callee.isExternal())
    return "the kernel's body is not at hand";
  Block &body = callee.getBody().front();
  Operation *ret = body.getTerminator();
  Value inner = ret->getOperand(result);
  BlockArgument arg = body.getArgument(argument);
  llvm::SetVector<Value> views = viewsOf(arg);
  Operation *update = inner.getDefiningOp();
  if (!isElementwiseUpdateOf(update, arg))
    return "not computed by an elementwise update in its kernel";
  if (lastReader(body, views.getArrayRef()) != update)
    return "its kernel reads the input after the update";
  if (llvm::any_of(ret->getOperands(),
                   [&](Value v) { return views.contains(v); }))
    return "its kernel returns the input too";
  return "";
}

} // namespace

llvm::StringMap<size_t> mlir::dsv3::callCounts(ModuleOp module) {
  llvm::StringMap<size_t> counts;
  module.walk([&](func::CallOp call) { ++counts[call.getCallee()]; });
  return counts;
}

SmallVector<std::pair<unsigned, unsigned>>
mlir::dsv3::findInPlaceClips(func::CallOp call, func::FuncOp kernel,
                             const llvm::StringMap<size_t> &calls) {
  SmallVector<std::pair<unsigned, unsigned>> pairs;
  if (!kernel || kernel.isExternal() || calls.lookup(call.getCallee()) != 1)
    return pairs;
  Block &body = kernel.getBody().front();
  Operation *ret = body.getTerminator();
  Block &step = *call->getBlock();
  for (auto clip : body.getOps<ClipByGlobalNormOp>()) {
    for (auto [i, input] : llvm::enumerate(clip.getInputs())) {
      auto arg = dyn_cast<BlockArgument>(input);
      if (!arg || arg.getOwner() != &body || !arg.hasOneUse())
        continue;
      Value operand = call.getOperand(arg.getArgNumber());
      // A reshape shares its source's bytes, and a reshaped operand its
      // source's: either may live on.
      if (isa<BlockArgument>(operand) || operand.getDefiningOp<ReshapeOp>() ||
          viewsOf(operand).size() != 1 ||
          llvm::count(call.getOperands(), operand) != 1 ||
          lastReader(step, operand) != call)
        continue;
      Value clipped = clip.getClipped()[i];
      for (OpOperand &use : ret->getOpOperands())
        if (use.get() == clipped && clipped.getType() == input.getType()) {
          pairs.push_back({use.getOperandNumber(), arg.getArgNumber()});
          break;
        }
    }
  }
  return pairs;
}

SmallVector<Donation>
mlir::dsv3::findDonations(func::FuncOp step,
                          SmallVectorImpl<std::string> *notDonated) {
  SmallVector<Donation> donations;
  if (step.isExternal())
    return donations;
  Block &body = step.getBody().front();
  Operation *ret = body.getTerminator();
  auto module = step->getParentOfType<ModuleOp>();
  // Computed once: a model has thousands of updated states.
  std::optional<llvm::StringMap<size_t>> calls;
  std::optional<SymbolTable> symbols;
  std::map<std::pair<std::optional<Role>, StringRef>, unsigned> argsNamed;
  for (unsigned i = 0, e = step.getNumArguments(); i < e; ++i)
    ++argsNamed[{getArgRole(step, i), getArgName(step, i)}];
  for (auto [r, value] : llvm::enumerate(ret->getOperands())) {
    std::optional<unsigned> a = getUpdatedArgument(step, r);
    if (!a)
      continue;
    BlockArgument input = body.getArgument(*a);
    if (value == input)
      continue; // Passed through: already the same buffer.
    llvm::SetVector<Value> views = viewsOf(input);
    std::string why;
    Operation *producer = value.getDefiningOp();
    Donation d{static_cast<unsigned>(r), *a, {}, 0, 0};
    bool sharedName =
        argsNamed[{getArgRole(step, *a), getArgName(step, *a)}] > 1;
    if (input.getType() != value.getType())
      why = "its type differs from the input's";
    else if (sharedName)
      why = "another argument has its role and name";
    else if (llvm::count(ret->getOperands(), value) > 1)
      why = "the update is returned more than once";
    else if (llvm::any_of(ret->getOperands(),
                          [&](Value v) { return views.contains(v); }))
      why = "the input is returned too";
    else if (!producer || lastReader(body, views.getArrayRef()) != producer)
      why = "the input is read after the update";
    else if (auto call = dyn_cast<func::CallOp>(producer)) {
      unsigned k = cast<OpResult>(value).getResultNumber();
      SmallVector<unsigned> positions;
      for (auto [j, operand] : llvm::enumerate(call.getOperands()))
        if (views.contains(operand))
          positions.push_back(j);
      auto recorded = call->getAttrOfType<DenseI64ArrayAttr>(
          Dsv3Dialect::DonationsAttrHelper::getNameStr());
      if (positions.size() != 1) {
        why = "the kernel reads the input more than once";
      } else if (call.getOperand(positions.front()) != input) {
        why = "the kernel reads the input through a view";
      } else if (recorded) {
        if (recorded[k] != static_cast<int64_t>(positions.front()))
          why = "its kernel does not update it in place";
      } else if (module && (calls ? *calls : *(calls = callCounts(module)))
                                   .lookup(call.getCallee()) != 1) {
        // One kernel's code writes over its argument for every call.
        why = "its kernel has more than one call";
      } else {
        if (module && !symbols)
          symbols.emplace(module);
        why = kernelWhyNot(module ? symbols->lookup<func::FuncOp>(
                                        call.getCallee())
                                  : func::FuncOp(),
                           k, positions.front());
      }
      d.call = call;
      d.callResult = k;
      d.callOperand = positions.empty() ? 0 : positions.front();
    } else if (!isElementwiseUpdateOf(producer, input)) {
      why = "not computed by an elementwise update";
    }
    if (!why.empty()) {
      if (notDonated)
        notDonated->push_back((getResultName(step, r) + ": " + why).str());
      continue;
    }
    donations.push_back(d);
  }
  return donations;
}
