//===- DestinationPassing.cpp - the dsv3-destination-passing pass ---------===//
//
// Kernels on tensors become functions of memrefs, inputs then outputs, the
// convention the runtime calls every kernel by; a result that updates an
// input in place is materialized in that input's buffer instead of an
// output of its own.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"

#include "dsv3/Dsv3Attributes.h"

#include "mlir/IR/IRMapping.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DESTINATIONPASSING
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

MemRefType memrefOf(Type t) {
  auto tensor = cast<RankedTensorType>(t);
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

/// Builds the destination-passing twin of `kernel` before it, then erases
/// `kernel`.
LogicalResult rewrite(func::FuncOp kernel) {
  for (Type t : llvm::concat<const Type>(kernel.getArgumentTypes(),
                                         kernel.getResultTypes()))
    if (!isa<RankedTensorType>(t) ||
        !cast<RankedTensorType>(t).hasStaticShape())
      return kernel.emitError("dsv3-destination-passing: a kernel's "
                              "arguments and results must be statically "
                              "shaped tensors, got ")
             << t;
  unsigned numInputs = kernel.getNumArguments();
  SmallVector<std::optional<unsigned>> overwrites;
  llvm::SmallBitVector written(numInputs);
  for (unsigned r = 0; r < kernel.getNumResults(); ++r) {
    auto attr = kernel.getResultAttrOfType<IntegerAttr>(r, dsv3::kOverwritesAttr);
    if (!attr) {
      overwrites.push_back(std::nullopt);
      continue;
    }
    unsigned i = attr.getInt();
    if (written.test(i))
      return kernel.emitError("dsv3-destination-passing: two results "
                              "overwrite argument ")
             << i;
    written.set(i);
    overwrites.push_back(i);
  }

  OpBuilder b(kernel);
  Location loc = kernel.getLoc();
  SmallVector<Type> argTypes;
  for (Type t : kernel.getArgumentTypes())
    argTypes.push_back(memrefOf(t));
  for (auto [r, t] : llvm::enumerate(kernel.getResultTypes()))
    if (!overwrites[r])
      argTypes.push_back(memrefOf(t));
  auto fn = func::FuncOp::create(b, loc, kernel.getSymName(),
                                 b.getFunctionType(argTypes, {}));
  // Public: the runtime calls it. Private only as a tensor function, so that
  // nothing but the step's calls reached it.
  for (NamedAttribute attr : kernel->getDiscardableAttrs())
    fn->setAttr(attr.getName(), attr.getValue());
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping mapping;
  SmallVector<Value> inputTensors;
  for (BlockArgument arg : kernel.getArguments()) {
    bool isWritten = written.test(arg.getArgNumber());
    Value tensor = bufferization::ToTensorOp::create(
        b, loc, arg.getType(), entry->getArgument(arg.getArgNumber()),
        /*restrict=*/true, /*writable=*/isWritten);
    mapping.map(arg, tensor);
    inputTensors.push_back(tensor);
  }
  Block &body = kernel.getBody().front();
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
  unsigned nextOutput = numInputs;
  for (auto [r, v] : llvm::enumerate(body.getTerminator()->getOperands())) {
    Value value = mapping.lookup(v);
    if (overwrites[r]) {
      // Into the input's own tensor: one-shot bufferization computes the
      // result in that buffer, or fails if the old value is read later.
      bufferization::MaterializeInDestinationOp::create(
          b, loc, value.getType(), value, inputTensors[*overwrites[r]]);
      continue;
    }
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), value, entry->getArgument(nextOutput++),
        /*restrict=*/true, /*writable=*/true);
  }
  func::ReturnOp::create(b, loc);
  kernel.erase();
  return success();
}

struct DestinationPassingPass
    : dsv3::impl::DestinationPassingBase<DestinationPassingPass> {
  using dsv3::impl::DestinationPassingBase<
      DestinationPassingPass>::DestinationPassingBase;

  void runOnOperation() override {
    SmallVector<func::FuncOp> kernels;
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      // Already destination-passing: memrefs in, nothing out.
      bool done = fn.getNumResults() == 0 &&
                  llvm::all_of(fn.getArgumentTypes(), [](Type t) {
                    return isa<MemRefType>(t);
                  });
      if (!fn.isExternal() && !done)
        kernels.push_back(fn);
    }
    for (func::FuncOp kernel : kernels)
      if (failed(rewrite(kernel)))
        return signalPassFailure();
  }
};

} // namespace
