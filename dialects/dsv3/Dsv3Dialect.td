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

    Passes exchange what they know through `dsv3.*` attributes, which the
    dialect declares and verifies (an unknown `dsv3.*` attribute, or one
    of the wrong kind or value, is an error naming it):

    | attribute | on | meaning |
    |---|---|---|
    | `dsv3.model` | module | the model's name (a string) |
    | `dsv3.training` | module | training knobs: `micro_batch`, `seq_len`, `grad_accum`, `warmup_steps`, `total_steps`, `seed` (integers), `lr`, `min_lr`, `beta1`, `beta2`, `eps`, `weight_decay`, `clip_norm`, `bias_update_speed` (floats) |
    | `dsv3.role` | argument, result | `param`, `opt_state`, `batch`, `step`, `loss` or `metric` |
    | `dsv3.name` | argument, result | the Hugging Face name of a parameter, its moment's name, a metric's name |
    | `dsv3.batch` | argument | `tokens`, `targets`, `positions` or `segment_ids` |
    | `dsv3.init` | argument | `normal` (with `dsv3.init_std`, a positive float), `ones`, `zeros` or `constant` (with `dsv3.init_value`, a finite float) |
    | `dsv3.trainable` | argument | `false` for a parameter the optimizer leaves alone (a router bias) |
    | `dsv3.quantized` | argument | `"int8"`: the forward reads the parameter fake-quantized per output channel (`dsv3-sparsify`), so `dsv3-run --export-int8` exports it |
    | `dsv3.loss_seed` | constant | the cotangent of the loss a backward starts from (`dsv3-autodiff`, one per micro-batch), which `dsv3-mixed-precision` multiplies by the loss scale under fp16 and `dsv3-remat` finds each backward by |
    | `dsv3.kernel` | function | a generated kernel (`dsv3-outline-kernels`) |
    | `dsv3.kernels` | module | the nested module holding the kernels' code (`dsv3-extract-kernels`) |
    | `dsv3.parallel_body` | function | a CPU kernel's parallel loop over a range of its iterations, run on the runtime's threads (`dsv3-parallelize-kernel-loops`) |
    | `dsv3.overwrites` | kernel result | the index of the argument whose buffer the result is written into |
    | `dsv3.donations` | call | per result, the operand whose buffer it takes, or -1 |
    | `dsv3.offset` | argument | its offset in the arena (`dsv3-plan-memory`) |
    | `dsv3.offsets` | op | one arena offset per result |
    | `dsv3.flops` | function, call | the model's FLOPs per training step (`dsv3-autodiff`); the FLOPs of the ops a kernel call stands for (`dsv3-outline-kernels`) |
    | `dsv3.scratch_offsets`, `dsv3.scratch_bytes` | call | the arena offsets and sizes of the kernel's scratch buffers |
    | `dsv3.arena_bytes`, `dsv3.peak_live_bytes` | function | the arena's size and the most bytes live at once |
  }];
  let discardableAttrs = (ins
    "::mlir::StringAttr":$model,
    "::mlir::DictionaryAttr":$training,
    "::mlir::UnitAttr":$loss_seed,
    "::mlir::UnitAttr":$kernel,
    "::mlir::UnitAttr":$kernels,
    "::mlir::UnitAttr":$parallel_body,
    "::mlir::DenseI64ArrayAttr":$donations,
    "::mlir::DenseI64ArrayAttr":$offsets,
    "::mlir::DenseI64ArrayAttr":$scratch_offsets,
    "::mlir::DenseI64ArrayAttr":$scratch_bytes,
    "::mlir::IntegerAttr":$flops,
    "::mlir::IntegerAttr":$arena_bytes,
    "::mlir::IntegerAttr":$peak_live_bytes
  );
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let hasConstantMaterializer = 1;
}

#endif // DSV3_DIALECT_TD
