//===- PrintCost.cpp - the dsv3-print-cost report -------------------------===//
//
// Prints the cost-interface totals of every function; leaves the IR as is.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Cost.h"
#include "Transforms/Passes.h"

#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_PRINTCOST
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {
struct PrintCostPass : dsv3::impl::PrintCostBase<PrintCostPass> {
  using dsv3::impl::PrintCostBase<PrintCostPass>::PrintCostBase;

  void runOnOperation() override {
    getOperation()->walk([](FunctionOpInterface function) {
      printFunctionCost(llvm::outs(), function.getName(),
                        computeFunctionCost(function));
    });
    markAllAnalysesPreserved();
  }
};
} // namespace
