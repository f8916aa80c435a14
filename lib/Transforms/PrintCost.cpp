//===- PrintCost.cpp - the dsv3-print-cost report -------------------------===//
//
// Prints the cost-interface totals of every function and, for a training
// step, its GEMM FLOPs and the bytes its backward keeps per element type;
// leaves the IR as is.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Cost.h"
#include "Analysis/GemmRoles.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_PRINTCOST
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

int64_t bytesOf(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped || !shaped.hasStaticShape())
    return 0;
  int64_t bits = shaped.getElementType().getIntOrFloatBitWidth();
  return shaped.getNumElements() * std::max<int64_t>(bits, 8) / 8;
}

/// "bf16 123 (45.6%), f32 ..." of `byType`, largest first.
void printShares(llvm::raw_ostream &os,
                 const std::map<std::string, int64_t> &byType) {
  int64_t total = 0;
  for (const auto &[type, n] : byType)
    total += n;
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (const auto &[type, n] : byType)
    sorted.push_back({-n, type});
  llvm::sort(sorted);
  llvm::interleaveComma(sorted, os, [&](const auto &entry) {
    os << entry.second << " " << -entry.first << " ("
       << llvm::format("%.1f", total ? -100.0 * entry.first / total : 0.0)
       << "%)";
  });
}

/// For a function with a loss result (a training step): the FLOPs of its
/// GEMMs per operand type, and the bytes of forward values (those the loss
/// is computed from) that a later op reads, per element type.
void printPrecision(llvm::raw_ostream &os, FunctionOpInterface fn) {
  if (fn.isExternal())
    return;
  Value loss;
  Operation *ret = fn.getFunctionBody().front().getTerminator();
  for (unsigned r = 0, e = fn.getNumResults(); r < e; ++r)
    if (getResultRole(fn, r) == Role::loss)
      loss = ret->getOperand(r);
  if (!loss || !loss.getDefiningOp())
    return;
  std::map<std::string, int64_t> gemmFlops, kept;
  fn.walk([&](Operation *op) {
    if (isa<MatmulOp, GroupedMatmulOp, GroupedMatmulWgradOp, ScaledMatmulOp>(
            op))
      gemmFlops[isDequantizedFp8(op->getOperand(0)) &&
                        isDequantizedFp8(op->getOperand(1))
                    ? std::string("fp8 E4M3 (dequantized)")
                    : llvm::formatv("{0}",
                                    getElementTypeOrSelf(op->getOperand(0)))
                          .str()] += getOpCost(op).flops;
  });
  SetVector<Operation *> forward;
  BackwardSliceOptions options;
  options.omitBlockArguments = true;
  (void)getBackwardSlice(loss.getDefiningOp(), &forward, options);
  forward.insert(loss.getDefiningOp());
  for (Operation *op : forward)
    for (Value v : op->getResults())
      if (llvm::any_of(v.getUsers(), [&](Operation *user) {
            return !forward.contains(user) && user != ret;
          }))
        kept[llvm::formatv("{0}", getElementTypeOrSelf(v)).str()] +=
            bytesOf(v.getType());
  os << "precision of @" << fn.getName() << ":\n  GEMM FLOPs by operand type: ";
  printShares(os, gemmFlops);
  os << "\n  kept for the backward (bytes): ";
  printShares(os, kept);
  os << "\n";
}

struct PrintCostPass : dsv3::impl::PrintCostBase<PrintCostPass> {
  using dsv3::impl::PrintCostBase<PrintCostPass>::PrintCostBase;

  void runOnOperation() override {
    getOperation()->walk([](FunctionOpInterface function) {
      printFunctionCost(llvm::outs(), function.getName(),
                        computeFunctionCost(function));
      printPrecision(llvm::outs(), function);
    });
    markAllAnalysesPreserved();
  }
};
} // namespace
