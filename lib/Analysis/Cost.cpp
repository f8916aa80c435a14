//===- Cost.cpp - FLOP and byte totals of dsv3 functions ------------------===//

#include "Analysis/Cost.h"

#include "dsv3/Dsv3Ops.h"

#include "llvm/Support/Format.h"

using namespace mlir;
using namespace mlir::dsv3;

CostTotals &CostTotals::operator+=(const CostTotals &other) {
  count += other.count;
  flops += other.flops;
  bytesRead += other.bytesRead;
  bytesWritten += other.bytesWritten;
  return *this;
}

CostTotals mlir::dsv3::getOpCost(Operation *op) {
  auto costOp = dyn_cast<CostOpInterface>(op);
  if (!costOp)
    return {};
  return {1, costOp.getFlops(), costOp.getBytesRead(),
          costOp.getBytesWritten()};
}

FunctionCost mlir::dsv3::computeFunctionCost(Operation *function) {
  FunctionCost cost;
  function->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (!isa<CostOpInterface>(op))
      return WalkResult::advance();
    CostTotals c = getOpCost(op);
    cost.total += c;
    cost.byKind[op->getName().getStringRef().str()] += c;
    // A fusion's body is already in the fusion's own cost.
    return isa<FusionOp>(op) ? WalkResult::skip() : WalkResult::advance();
  });
  return cost;
}

void mlir::dsv3::printFunctionCost(llvm::raw_ostream &os, StringRef name,
                                   const FunctionCost &cost) {
  const CostTotals &t = cost.total;
  os << "cost of @" << name << ": " << t.count << " ops, " << t.flops
     << " FLOPs, " << t.bytesRead << " bytes read, " << t.bytesWritten
     << " bytes written\n";
  for (const auto &[kind, c] : cost.byKind)
    os << "  " << llvm::left_justify(kind, 28) << " count " << c.count
       << "  flops " << c.flops << "  read " << c.bytesRead << "  written "
       << c.bytesWritten << "\n";
}
