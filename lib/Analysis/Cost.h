//===- Cost.h - FLOP and byte totals of dsv3 functions ----------*- C++ -*-===//
//
// Sums the cost interface over a function, in total and per op kind. The
// cost report, rematerialization and the runtime's MFU all start here.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_ANALYSIS_COST_H
#define DSV3_ANALYSIS_COST_H

#include "mlir/IR/Operation.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <map>
#include <string>

namespace mlir::dsv3 {

struct CostTotals {
  int64_t count = 0;
  int64_t flops = 0;
  int64_t bytesRead = 0;
  int64_t bytesWritten = 0;

  CostTotals &operator+=(const CostTotals &other);
};

struct FunctionCost {
  CostTotals total;
  /// Keyed by op name (e.g. "dsv3.matmul"), sorted for stable reports.
  std::map<std::string, CostTotals> byKind;
};

/// Cost of one op; ops outside the cost interface count zero. A
/// dsv3.fusion counts as one op (its body's FLOPs, its own bytes).
CostTotals getOpCost(Operation *op);

/// Cost of every cost-interface op directly in `function`'s body (fusion
/// bodies are not entered twice).
FunctionCost computeFunctionCost(Operation *function);

/// Prints `cost` as the dsv3-print-cost report of function `name`.
void printFunctionCost(llvm::raw_ostream &os, llvm::StringRef name,
                       const FunctionCost &cost);

} // namespace mlir::dsv3

#endif // DSV3_ANALYSIS_COST_H
