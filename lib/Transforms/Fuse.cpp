//===- Fuse.cpp - the dsv3-fuse pass --------------------------------------===//
//
// Producer/consumer fusion of elementwise ops and reductions into
// dsv3.fusion regions, one kernel each. A producer joins its consumer's
// group when the consumer is its only user and both iterate over the same
// shape (an elementwise op over the operand shape of the consumer); a
// reduction can only end a group, since what follows it runs over a
// smaller shape. A producer does not join a consumer past a GEMM: the
// group runs where its root is, so its inputs would live until there (the
// sums of gradient accumulation would keep every micro-batch's gradients).
// Single-use chains cannot create cycles, and every group has one result:
// its root's. Splat constants are pulled into the region.
//
//===----------------------------------------------------------------------===//

#include "Transforms/FusionRules.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_FUSE
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {


bool isSplatConstant(Operation *op) {
  auto constant = dyn_cast<ConstantOp>(op);
  return constant && isa<SplatElementsAttr>(constant.getValue());
}

struct FusePass : dsv3::impl::FuseBase<FusePass> {
  using dsv3::impl::FuseBase<FusePass>::FuseBase;

  void runOnOperation() override {
    // Declarations have no body to fuse.
    getOperation()->walk([&](func::FuncOp fn) {
      if (!fn.isExternal())
        fuseBlock(fn.getBody().front());
    });
  }

  void fuseBlock(Block &block);
  void outline(ArrayRef<Operation *> group);
};

void FusePass::fuseBlock(Block &block) {
  // group[op] = the root its group ends in; members in program order.
  llvm::DenseMap<Operation *, Operation *> rootOf;
  llvm::DenseMap<Operation *, SmallVector<Operation *>> members;
  // How many GEMMs come before each op.
  llvm::DenseMap<Operation *, int64_t> gemmsBefore;
  int64_t gemms = 0;
  for (Operation &op : block) {
    gemmsBefore[&op] = gemms;
    if (isGemm(&op))
      ++gemms;
  }
  for (Operation &op : block) {
    if (!isFusible(&op))
      continue;
    SmallVector<Operation *> group;
    for (Value operand : op.getOperands()) {
      Operation *producer = operand.getDefiningOp();
      if (!producer || producer->getBlock() != &block || !isFusible(producer) ||
          !producer->getResult(0).hasOneUse() ||
          !rootOf.count(producer) || isa<ReduceOp>(producer) ||
          iterationShape(producer) != iterationShape(&op))
        continue;
      // The whole group would move past a GEMM, not only the producer.
      if (llvm::any_of(members[rootOf[producer]], [&](Operation *member) {
            return gemmsBefore[member] != gemmsBefore[&op];
          }))
        continue;
      Operation *root = rootOf[producer];
      if (root != producer)
        continue;
      for (Operation *member : members[producer])
        if (!llvm::is_contained(group, member))
          group.push_back(member);
      members.erase(producer);
    }
    group.push_back(&op);
    for (Operation *member : group)
      rootOf[member] = &op;
    members[&op] = std::move(group);
  }

  // Outline in program order of the roots.
  SmallVector<Operation *> roots;
  for (Operation &op : block)
    if (members.count(&op) && members[&op].size() > 1)
      roots.push_back(&op);
  for (Operation *root : roots) {
    SmallVector<Operation *> group = members[root];
    llvm::sort(group, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });
    outline(group);
  }
}

void FusePass::outline(ArrayRef<Operation *> group) {
  Operation *root = group.back();
  llvm::SetVector<Value> inputs;
  SmallVector<Operation *> constants;
  for (Operation *op : group)
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && llvm::is_contained(group, def))
        continue;
      if (def && isSplatConstant(def)) {
        if (!llvm::is_contained(constants, def))
          constants.push_back(def);
        continue;
      }
      inputs.insert(operand);
    }

  OpBuilder b(root);
  auto fusion = FusionOp::create(b, root->getLoc(), root->getResultTypes(),
                                 inputs.getArrayRef());
  Block *body = b.createBlock(&fusion.getBody());
  IRMapping map;
  for (Value input : inputs)
    map.map(input, body->addArgument(input.getType(), input.getLoc()));
  b.setInsertionPointToStart(body);
  for (Operation *constant : constants)
    b.clone(*constant, map);
  for (Operation *op : group)
    b.clone(*op, map);
  YieldOp::create(b, root->getLoc(), map.lookup(root->getResult(0)));

  root->getResult(0).replaceAllUsesWith(fusion.getResult(0));
  for (Operation *op : llvm::reverse(group))
    op->erase();
  for (Operation *constant : constants)
    if (constant->use_empty())
      constant->erase();
}

} // namespace
