//===- GemmRoles.cpp - what each GEMM of a step computes ------------------===//

#include "Analysis/GemmRoles.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

using namespace mlir;
using namespace mlir::dsv3;

Value mlir::dsv3::throughViews(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<ReshapeOp, CastOp>(def))
      break;
    v = def->getOperand(0);
  }
  return v;
}

bool mlir::dsv3::isParameter(func::FuncOp fn, Value v) {
  auto arg = dyn_cast<BlockArgument>(throughViews(v));
  return arg && arg.getOwner()->getParentOp() == fn &&
         getArgRole(fn, arg.getArgNumber()) == Role::param;
}

DequantizeOp mlir::dsv3::dequantizedFp8(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<ReshapeOp, TransposeOp>(def))
      break;
    v = def->getOperand(0);
  }
  auto dq = v.getDefiningOp<DequantizeOp>();
  if (!dq || !isa<Float8E4M3FNType>(dq.getInput().getType().getElementType()))
    return nullptr;
  return dq;
}

llvm::DenseMap<Operation *, GemmRole>
mlir::dsv3::classifyGemms(func::FuncOp fn) {
  llvm::DenseMap<Operation *, GemmRole> roles;
  fn.walk([&](Operation *op) {
    auto producer = [](Value logits) {
      return throughViews(logits).getDefiningOp<MatmulOp>();
    };
    if (auto r = dyn_cast<RouterOp>(op))
      if (MatmulOp gate = producer(r.getLogits()))
        roles[gate] = GemmRole::router;
    if (auto ce = dyn_cast<CrossEntropyOp>(op))
      if (MatmulOp head = producer(ce.getLogits()))
        roles[head] = GemmRole::head;
    if (isa<MatmulOp>(op))
      for (Value operand : op->getOperands()) {
        Operation *def = throughViews(operand).getDefiningOp();
        if (isa_and_nonnull<RouterGradOp>(def))
          roles[op] = GemmRole::router;
        else if (isa_and_nonnull<CrossEntropyGradOp>(def))
          roles[op] = GemmRole::head;
      }
  });
  return roles;
}
