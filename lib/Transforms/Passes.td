//===- Passes.td - dsv3 transformation and analysis passes ----------------===//

#ifndef DSV3_TRANSFORMS_PASSES_TD
#define DSV3_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def PrintCost : Pass<"dsv3-print-cost", "mlir::ModuleOp"> {
  let summary = "Print FLOPs and bytes of every function";
  let description = [{
    For every function in the module, prints one line with the number of
    dsv3 ops, total FLOPs, bytes read and bytes written, then one line per
    op kind, sorted by name. The figures come from each op's cost
    interface (the formulas are in the dialect reference). The IR is left
    unchanged.

    ```
    cost of @forward: 73 ops, 1234 FLOPs, 5678 bytes read, 910 bytes written
      dsv3.matmul                  count 8  flops 1024  read 4096  written 512
    ```
  }];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

#endif // DSV3_TRANSFORMS_PASSES_TD
