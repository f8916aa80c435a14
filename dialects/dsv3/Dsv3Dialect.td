//===- Dsv3Dialect.td - the dsv3 dialect ----------------------------------===//
//
// The dialect that describes MoE training graphs: tensors in, tensors out,
// every op pure, so autodiff, remat and fusion can move values freely.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_DIALECT_TD
#define DSV3_DIALECT_TD

include "mlir/IR/OpBase.td"

def Dsv3_Dialect : Dialect {
  let name = "dsv3";
  let cppNamespace = "::mlir::dsv3";
  let summary = "Training graphs of Mixture-of-Experts transformers";
  let description = [{
    The `dsv3` dialect describes the forward and training graphs of
    Mixture-of-Experts transformers of the DeepSeek-V3 family. Values are
    builtin ranked tensors with static shapes; element types are `f64`
    (reference checks only), `f32`, `bf16`, `f16`, `f8E4M3FN`, `f8E5M2`,
    `i64`, `i32`, `i8` and `i1`.

    Every op is side-effect free: parameters, optimizer state and the batch
    are function arguments and updated state is returned, so autodiff,
    rematerialization and fusion can reorder and duplicate values freely.
    Collectives name the mesh axis they run over (`"dp"`, `"ep"`).

    Every op implements the cost interface (`CostOpInterface`): FLOPs, bytes
    read and bytes written as formulas of the static shapes. Bytes read are
    the sizes of all tensor operands, bytes written the sizes of all
    results, unless an op says otherwise; FLOP formulas are given in each
    op's description.
  }];
  let hasConstantMaterializer = 1;
}

#endif // DSV3_DIALECT_TD
