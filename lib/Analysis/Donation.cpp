//===- Donation.cpp - updated state written over the state it replaces ----===//

#include "Analysis/Donation.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The op of `block` that last reads `v` (through any nested op), or null.
Operation *lastReader(Block &block, Value v) {
  Operation *last = nullptr;
  for (Operation *user : v.getUsers()) {
    Operation *top = block.findAncestorOpInBlock(*user);
    if (top && (!last || last->isBeforeInBlock(top)))
      last = top;
  }
  return last;
}

/// Whether `op` updates `input` element by element into `result`.
bool isElementwiseUpdateOf(Operation *op, Value input) {
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
  Operation *update = inner.getDefiningOp();
  if (!isElementwiseUpdateOf(update, arg))
    return "not computed by an elementwise update in its kernel";
  if (lastReader(body, arg) != update)
    return "its kernel reads the input after the update";
  return "";
}

} // namespace

SmallVector<Donation>
mlir::dsv3::findDonations(func::FuncOp step,
                          SmallVectorImpl<std::string> *notDonated) {
  SmallVector<Donation> donations;
  if (step.isExternal())
    return donations;
  Block &body = step.getBody().front();
  Operation *ret = body.getTerminator();
  auto module = step->getParentOfType<ModuleOp>();
  for (auto [r, value] : llvm::enumerate(ret->getOperands())) {
    std::optional<unsigned> a = getUpdatedArgument(step, r);
    if (!a)
      continue;
    BlockArgument input = body.getArgument(*a);
    if (value == input)
      continue; // Passed through: already the same buffer.
    std::string why;
    Operation *producer = value.getDefiningOp();
    Donation d{static_cast<unsigned>(r), *a, {}, 0, 0};
    if (input.getType() != value.getType())
      why = "its type differs from the input's";
    else if (llvm::is_contained(ret->getOperands(), input))
      why = "the input is returned too";
    else if (!producer || lastReader(body, input) != producer)
      why = "the input is read after the update";
    else if (auto call = dyn_cast<func::CallOp>(producer)) {
      unsigned k = cast<OpResult>(value).getResultNumber();
      SmallVector<unsigned> positions;
      for (auto [j, operand] : llvm::enumerate(call.getOperands()))
        if (operand == input)
          positions.push_back(j);
      if (positions.size() != 1) {
        why = "the kernel reads the input more than once";
      } else if (auto recorded = call->getAttrOfType<DenseI64ArrayAttr>(
                     Dsv3Dialect::DonationsAttrHelper::getNameStr())) {
        if (recorded[k] != static_cast<int64_t>(positions.front()))
          why = "its kernel does not update it in place";
      } else {
        why = kernelWhyNot(module ? module.lookupSymbol<func::FuncOp>(
                                        call.getCallee())
                                  : func::FuncOp(),
                           k, positions.front());
      }
      d.call = call;
      d.callResult = k;
      d.callOperand = positions.empty() ? 0 : positions.front();
    } else if (!isElementwiseUpdateOf(producer, input))
      why = "not computed by an elementwise update";
    if (!why.empty()) {
      if (notDonated)
        notDonated->push_back((getResultName(step, r) + ": " + why).str());
      continue;
    }
    donations.push_back(d);
  }
  return donations;
}
