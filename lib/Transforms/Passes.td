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
    interface (the formulas are in the dialect reference). For a function
    with a `loss` result (the training step) two more lines follow: the
    FLOPs of its GEMMs per operand element type, and the bytes of the
    forward values (those the loss is computed from) that the backward or
    the optimizer reads later, per element type: what the step keeps for
    its backward. The IR is left unchanged.

    ```
    cost of @forward: 73 ops, 1234 FLOPs, 5678 bytes read, 910 bytes written
      dsv3.matmul                  count 8  flops 1024  read 4096  written 512
    precision of @train_step:
      GEMM FLOPs by operand type: bf16 2048 (66.7%), f32 1024 (33.3%)
      kept for the backward (bytes): f32 4096 (80.0%), bf16 1024 (20.0%)
    ```
  }];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

def Autodiff : Pass<"dsv3-autodiff", "mlir::ModuleOp"> {
  let summary = "Derive the training step from the forward graph";
  let description = [{
    Builds `@train_step` next to `@forward` (which is kept):

    ```
    func.func @train_step(params..., exp_avg..., exp_avg_sq..., batch...,
                          step: tensor<i64>)
        -> (loss, params'..., exp_avg'..., exp_avg_sq'..., grad_norm, lr,
            expert loads...)
    ```

    - the forward graph, once per micro-batch when the module's
      `dsv3.training.grad_accum` is above 1 (the batch arguments then
      stack the micro-batches along their first dimension); the loss is
      the mean over micro-batches;
    - reverse-mode gradients of the loss with respect to every trainable
      parameter, from each op's gradient rule (forward values are reused
      by the backward ops; rematerialization decides later what to keep);
    - global-norm clipping (`clip_norm`), the warmup + cosine learning rate
      of `step` (0-based), and one `dsv3.adamw` per trainable parameter
      (bias correction with the 1-based step; weight decay on matrices
      only);
    - the aux-loss-free router bias update: each parameter marked
      `dsv3.trainable = false` that feeds a router's bias moves by
      `+-bias_update_speed` against that router's expert load, which is
      also returned as a metric.

    Arguments and results carry `dsv3.role` (param, opt_state, batch, step,
    loss, metric) and `dsv3.name`. Training knobs come from the module's
    `dsv3.training` dictionary (the spec importer writes it).
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "Name of the forward function to differentiate">,
    Option<"moments", "moments", "std::string", /*default=*/"\"f32\"",
           "Element type of the AdamW moments: f32 or bf16">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect",
                           "::mlir::func::FuncDialect"];
}

def MixedPrecision : Pass<"dsv3-mixed-precision", "mlir::ModuleOp"> {
  let summary = "Run the training step's GEMMs in a narrower precision";
  let description = [{
    Applies a precision policy to `function` (the training step, after
    `dsv3-autodiff`, so that the forward GEMMs and the backward GEMMs
    derived from them are treated alike):

    - `fp32`: nothing changes.
    - `bf16`: every `dsv3.matmul`, `dsv3.grouped_matmul` and
      `dsv3.grouped_matmul_wgrad` whose operands are f32 reads them as
      bf16 (one `dsv3.cast` per value, placed before the first GEMM that
      reads it and shared by the others; a value that is itself a widened
      bf16 result is read as that bf16 value, so no f32 -> bf16 -> f32 ->
      bf16 chain appears), accumulates in f32, rounds its result to bf16
      and widens it again: the projections, the experts and the output
      head. Everything else stays f32: the master weights, the AdamW
      moments (unless `dsv3-autodiff` made them bf16), RMSNorm, attention
      and its softmax, the router (its gate projection's GEMMs, scoring and
      selection), the loss, gradient sums and the optimizer. This is what
      `torch.autocast(dtype=torch.bfloat16)` does for linear layers, with
      the attention GEMMs left in f32.
    - `fp16`: the same GEMMs in fp16, with dynamic loss scaling inside the step.
      Three optimizer states are added, `loss_scaler.scale` (f32, starting at
      `loss-scale`), `loss_scaler.good_steps` and `loss_scaler.skipped` (i64),
      so a checkpoint resumes them exactly. Each backward starts from the
      scale times its seed (the constant `dsv3-autodiff` marks
      `dsv3.loss_seed`: 1, or 1/k for each of k micro-batches), so every
      gradient is scaled by it; each gradient is divided by it again
      (`dsv3.unscale`) before clipping, and `dsv3.all_finite` of the unscaled
      gradients decides the step. On a finite step the update is applied; on any
      inf or NaN every parameter and optimizer state result is its argument, bit
      for bit (`dsv3.select`). Then `dsv3.update_loss_scale` halves the scale on
      a non-finite step and doubles it after `growth-interval` finite steps in a
      row. The step reports the scale it used (`loss_scale`) and the steps
      skipped so far (`skipped`) as metrics. A skipped step still advances the
      step counter: the learning-rate schedule and AdamW's bias correction count
      it (PyTorch's `GradScaler` leaves Adam's count behind).

    - `fp8`: DeepSeek-V3's recipe. Every GEMM of a linear layer (the
      attention projections, the dense MLP, the shared and routed experts;
      forward, input gradient and weight gradient) reads E4M3 operands:
      activations and gradients quantized per 1x128 tile along the
      contraction, weights per 128x128 block (per expert for stacked
      experts), each scale the tile's or block's current amax / 448
      (`dsv3.quantize`), dequantized to f32 (`dsv3.dequantize`) for a GEMM
      that accumulates in f32 and yields f32. A weight gradient contracts
      over the tokens, so its operands are tiled along them: the gradient
      is transposed and quantized, and the activation's fp8 copy from the
      forward is re-tiled (`dsv3.transpose_quantized`), so the backward
      keeps a linear layer's input in fp8 with its scales. A value is
      quantized once per layout it is read in (a gradient along its last
      dimension for the input gradient, along the tokens for the weight
      gradient); the input gradient reads the weight's fp8 copy
      dequantized transposed. The output head
      runs in bf16 as under `bf16`; the embedding, the router, norms,
      attention, the loss and the optimizer stay f32. The dequantized
      operands make every target compute with the fp8 values exactly
      (the interpreter's); the GEMMs themselves run in f32.

    ```mlir
    %y = dsv3.matmul %x, %w transpose_rhs
        : tensor<8x16xf32>, tensor<4x16xf32> -> tensor<8x4xf32>
    // policy=bf16:
    %xb = dsv3.cast %x : tensor<8x16xf32> to tensor<8x16xbf16>
    %wb = dsv3.cast %w : tensor<4x16xf32> to tensor<4x16xbf16>
    %yb = dsv3.matmul %xb, %wb transpose_rhs
        : tensor<8x16xbf16>, tensor<4x16xbf16> -> tensor<8x4xbf16>
    %y = dsv3.cast %yb : tensor<8x4xbf16> to tensor<8x4xf32>
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "Function whose GEMMs the policy applies to">,
    Option<"policy", "policy", "std::string", /*default=*/"\"fp32\"",
           "Precision policy: fp32, bf16, fp16 or fp8">,
    Option<"lossScale", "loss-scale", "double", /*default=*/"65536.0",
           "fp16: the loss scale of the first step">,
    Option<"growthInterval", "growth-interval", "int64_t",
           /*default=*/"2000",
           "fp16: consecutive finite steps after which the scale doubles">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

def VerifyPrecision : Pass<"dsv3-verify-precision", "mlir::ModuleOp"> {
  let summary = "List the ops of a training step that depart from a precision recipe";
  let description = [{
    Checks `function` (the training step, after `dsv3-mixed-precision`)
    against a precision recipe and reports every op whose precision
    departs from it, at the op's location, with the rule it breaks:

    | rule | what the recipes ask |
    |---|---|
    | `master-weights-f32` | every parameter is f32 |
    | `norm-f32` | RMSNorm and its gradient in f32 |
    | `softmax-f32` | softmax, log-softmax and the attention core in f32 |
    | `router-f32` | the router: its gate projection's GEMMs, scoring, selection, gradient and bias update in f32 |
    | `loss-f32` | the cross-entropy and its gradient in f32 |
    | `optimizer-f32` | AdamW's weights and gradients, and the clipping, in f32 (the moments may be bf16) |
    | `gemm-precision` | `bf16`, `fp16`: every other GEMM (the linear layers, the experts, the output head) in bf16 or f16; `deepseek-v3`: every linear layer's GEMMs in fp8: a `dsv3.scaled_matmul`, or both operands dequantized E4M3 (1x128 activation tiles and 128x128 weight blocks, as `policy=fp8` places them); the output head in bf16 or f32 |
    | `cast-chain` | no value is rounded again to the type it was widened from |
    | `fp16-loss-scaling` | `fp16`: the step updates a loss scale |

    Each departure is a warning (`errors=true`: an error, and the pass
    fails), and a remark on the function sums them up per rule, or says
    that every op follows the recipe. `dsv3-compile --emit=train` gives the
    step to check:

    ```
    dsv3-compile model.pbtxt --precision=bf16 --emit=train | \
        dsv3-opt --dsv3-verify-precision=recipe=bf16 -o /dev/null
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The training step to check">,
    Option<"recipe", "recipe", "std::string", /*default=*/"\"bf16\"",
           "The recipe: bf16, fp16 or deepseek-v3">,
    Option<"errors", "errors", "bool", /*default=*/"false",
           "Report each departure as an error and fail">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

def Sparsify : Pass<"dsv3-sparsify", "mlir::ModuleOp"> {
  let summary = "2:4 weights, L1 and magnitude pruning, int8 QAT";
  let description = [{
    Rewrites `function` (the training step, after `dsv3-autodiff` and
    `dsv3-mixed-precision`) so that the model trains sparse or quantized.
    The weights it acts on are the matrices of attention (`*.self_attn.*`)
    and of every dense, shared and routed expert MLP (`*.mlp.*`): not the
    embedding, the output head, the router's gate, the norms or the MTP
    projection. Each such weight `W` is `[..., N, K]`, so its last
    dimension is the GEMMs' contraction.

    - `weights=2:4`: the parameter holds the masked weight (what the model
      computes with, and what a checkpoint holds); the weights the mask
      prunes live on in the optimizer state `W.sparse_pruned` (so that
      `W + W.sparse_pruned` is the dense weight), beside the mask
      `W.sparse_mask` (i1). Every `refresh` steps (step 0 included) the
      mask is recomputed from the dense weight (`dsv3.prune_2_4`: the two
      largest magnitudes of every group of four along K). The forward and
      backward read the masked weight, its gradient updates the dense one
      (straight-through), and `srste > 0` adds SR-STE's decay
      `srste * (pruned part)` to that gradient (Zhou et al., 2021).
    - `prune=F prune-start=S prune-end=E`: gradual magnitude pruning. The
      mask `W.prune_mask` (i1, all true at first) loses the smallest
      magnitudes of the weight (`dsv3.magnitude_mask`) every `refresh`
      steps from step S to step E, to the fraction
      `F * (1 - (1 - (t - S) / (E - S))^3)` (Zhu and Gupta, 2017). Pruned
      weights are zero and their gradient is masked, so they stay zero.
    - `l1=L`: adds `L * sign(W)` to those weights' gradients.
    - `qat=int8`: the forward and backward read `dsv3.fake_quant` of the
      weight (8 bits, symmetric, per output channel); the gradient passes
      straight through to the f32 master weight. The parameter carries
      `dsv3.quantized = "int8"` for `dsv3-run --export-int8`.

    Clipping sees the loss's gradient; the SR-STE and L1 terms are added
    after it, before AdamW. With `report`, prints each weight's scheme and
    the GEMM FLOPs a 2:4 sparse GEMM would skip.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The training step to rewrite">,
    Option<"weights", "weights", "std::string", /*default=*/"\"none\"",
           "Structured weight sparsity: none or 2:4">,
    Option<"refresh", "refresh", "int64_t", /*default=*/"1",
           "Recompute the 2:4 masks and grow the pruning masks every this "
           "many steps">,
    Option<"srste", "srste", "double", /*default=*/"0.0",
           "SR-STE decay of the pruned weights (weights=2:4)">,
    Option<"l1", "l1", "double", /*default=*/"0.0",
           "L1 regularization strength">,
    Option<"prune", "prune", "double", /*default=*/"0.0",
           "Fraction of each weight pruned by prune-end (0: off)">,
    Option<"pruneStart", "prune-start", "int64_t", /*default=*/"0",
           "First step of gradual magnitude pruning">,
    Option<"pruneEnd", "prune-end", "int64_t", /*default=*/"0",
           "Step at which pruning reaches its fraction">,
    Option<"qat", "qat", "std::string", /*default=*/"\"none\"",
           "Quantization-aware training: none or int8">,
    Option<"qatActivations", "qat-activations", "bool", /*default=*/"false",
           "With qat=int8, quantize the layers' inputs too, per token (not "
           "supported yet: refused)">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print each weight's scheme and the FLOPs 2:4 removes">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect",
                           "::mlir::func::FuncDialect"];
}

def Remat : Pass<"dsv3-remat", "mlir::ModuleOp"> {
  let summary = "Recompute forward values in the backward instead of keeping them";
  let description = [{
    Decides which forward values of `function` (a training step) the
    backward keeps and which it recomputes: the forward is what its loss
    result is computed from, and each backward (one per micro-batch)
    starts at the seed `dsv3-autodiff` marks (`dsv3.loss_seed`). The
    forward's ops are grouped by the layer their location names
    (`model.layers.N`, as the importer writes it; an MTP module is a layer
    of its own), one run of consecutive ops per layer and micro-batch; ops
    outside the layers (embedding, final norm, output and MTP heads, loss)
    are always kept. A forward without such locations is refused under
    every policy but `none`.

    - `policy=none`: every forward value the backward reads is kept.
    - `policy=full`: each layer keeps only what enters it (its input, the
      weights and the batch); the rest is recomputed just before the
      first backward op that reads it.
    - `policy=sqrt`: a micro-batch's L layers are recomputed in groups of
      ceil(sqrt(L)) consecutive layers, each group keeping only its input:
      about sqrt(L) inputs kept plus one group's values at a time.
    - `policy=selective`: DeepSeek-V3's choice, per layer: RMSNorm
      outputs, the SwiGLU activation (SiLU and its product with the up
      projection), MLA's up-projections (`q_b_proj`, `kv_b_proj` GEMMs),
      and the slices, RoPE, concats, casts, reshapes and fp8 copies made
      of those alone (queries and keys) are recomputed; the other GEMMs'
      outputs, the router's results and copies of kept values are kept. (Attention
      keeps only its inputs under every policy: its gradient recomputes
      the probabilities.)
    - `policy=budget budget=B`: per layer run none, selective or full,
      recomputing the fewest FLOPs with a peak of at most B bytes (B <= 1:
      that fraction of the peak without remat). A model of the step's
      live bytes (values and clones in order, with dsv3-fuse's fusions,
      donated updates and attention's scratch, counting only buffers the
      memory plan has too) is minimised exactly by a dynamic program over
      each micro-batch's chain of layers. Inside `dsv3-train-pipeline` the
      model's plans are checked against `dsv3-plan-memory`'s arena (the
      pipeline's passes on a copy of the module): cheapest first, then,
      after a miss, the plan of the least modelled peak, plans below the
      budget by the slack seen, and cheaper plans until the rest are
      within 1% (at most 12 checks); on its own the pass plans to the
      model's peak. The program's optimum at B is a lower bound on the
      recompute of any per-layer plan that fits, and the report prints it,
      the gap and the ratio the checks prove. When even the plan of the
      least modelled peak does not fit, the budget is an error that prints
      the least arena planned, its plan and the least modelled peak.

    The clones compute what the originals did from the same operands, so
    the step's results are bit-identical to those without remat. With
    `report`, prints the peak of live bytes before and after (one buffer
    per value before fusion; the executable's arena is what
    `dsv3-plan-memory` reports), the bytes kept for the backward, the
    recomputed FLOPs (absolute and as a share of the step) and what each
    layer keeps; under `policy=budget`, also the plan's peak, its
    recompute beside the lower bound, the solve time and each layer's
    choice, and with `exhaustive` how far budget's and sqrt's recompute
    are from the least of every per-layer plan.

    Example (`dsv3-opt --dsv3-autodiff --dsv3-remat=policy=full`): a
    layer's `dsv3.rms_norm` and `dsv3.matmul` appear a second time after
    the backward's first op of that layer, and the backward reads them.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The training step to rewrite">,
    Option<"policy", "policy", "std::string", /*default=*/"\"none\"",
           "What the backward recomputes: none, full, sqrt, selective or "
           "budget">,
    Option<"budget", "budget", "double", /*default=*/"0",
           "policy=budget's limit: bytes, or a fraction in (0, 1] of the "
           "peak without remat">,
    Option<"exhaustive", "exhaustive", "bool", /*default=*/"false",
           "With policy=budget and report: plan every per-layer choice "
           "too (at most 8 layer runs) and print how far budget's and "
           "sqrt's recompute are from the least">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print memory before and after, recomputed FLOPs and what each "
           "layer keeps">,
    Option<"libraryAttention", "library-attention", "bool",
           /*default=*/"false",
           "f32 attention stays whole for the runtime "
           "(dsv3-decompose-attention{keep-library}): no [B, H, S, S] "
           "scratch in the model of live bytes">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect",
                           "::mlir::func::FuncDialect"];
}

def Fuse : Pass<"dsv3-fuse", "mlir::ModuleOp"> {
  let summary = "Fuse elementwise ops and reductions into dsv3.fusion regions";
  let description = [{
    Producer/consumer fusion: an elementwise op (or cast, scale, unscale)
    joins the group of its consumer when that consumer is its only user
    and iterates over the same shape; a reduction can end a group (it
    absorbs the elementwise chain that computes its input) but nothing
    after it joins, since that runs over a smaller shape. Each group of two
    or more ops becomes one `dsv3.fusion` whose inputs are the values it
    reads from outside (splat constants are copied in) and whose single
    result is the group's last op. A group runs where its last op is, so
    a producer does not join a consumer past a GEMM or attention: its
    inputs would live until there (the running sums of gradient
    accumulation would keep every micro-batch's gradients). GEMMs, attention, normalization and the
    MoE ops stay as they are: they are library calls or kernels of their
    own.

    The interpreter gives bit-identical results before and after the pass.
  }];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

def OutlineKernels : Pass<"dsv3-outline-kernels", "mlir::ModuleOp"> {
  let summary = "Split a step into generated kernels and library GEMMs";
  let description = [{
    Turns `function` into the command list of an executable. Every
    `dsv3.matmul`, `dsv3.grouped_matmul` and `dsv3.grouped_matmul_wgrad`
    in f32, or in bf16 throughout, stays in place: the runtime serves them
    with a BLAS (or cuBLASLt), accumulating in f32. A
    `dsv3.reshape` of a value computed before the current kernel stays too:
    it is a view of its input's buffer. Every run of other ops between two
    GEMMs is moved into a private function `@<function>_kernel_<n>` marked
    `dsv3.kernel`, called once in its place; its arguments are the values
    the run reads from outside and its results the values read after it.
    Each `dsv3.adamw` and `dsv3.update_router_bias` is a kernel of its own
    (one per parameter: the same code for every layer of one shape, which
    `dsv3-dedup-kernels` then compiles once).
    Constants are copied into every kernel that reads them.

    ```mlir
    %0 = dsv3.matmul %x, %w : ...
    %1:2 = func.call @train_step_kernel_0(%0, %b) : (...) -> (...)
    ```

    The interpreter gives bit-identical results before and after the pass.
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "Function to split">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect",
                           "::mlir::func::FuncDialect"];
}

def ExtractKernels : Pass<"dsv3-extract-kernels", "mlir::ModuleOp"> {
  let summary = "Move kernel code into a nested module, deciding in-place updates";
  let description = [{
    Runs after `dsv3-outline-kernels`. Moves every function marked
    `dsv3.kernel` into the nested module `@kernels` (marked `dsv3.kernels`,
    created when absent), where code generation lowers it without touching
    the step, and leaves a private declaration of the same name and type
    behind, so that the step's calls still verify.

    On the way it decides which updated parameters and moments are
    written over the state they replace (the analysis of
    `dsv3-plan-memory`): where a call of `function` computes such an
    update with a `dsv3.adamw` or `dsv3.update_router_bias` that is the
    last reader of the old value, both in the kernel and in the step, the
    kernel's result gets `dsv3.overwrites = <argument>` (so that
    `dsv3-destination-passing` compiles it to write into that argument's
    buffer) and the call gets `dsv3.donations` (one operand index, or -1,
    per result; the memory planner gives the two values one buffer).

    In the same way, a gradient clipped by a kernel's
    `dsv3.clip_by_global_norm` is written over the gradient when nothing
    else reads it: in the kernel only the clipping (which reads every
    input before it writes a result), in the step nothing after the call,
    and not an argument or result of the step. Otherwise every gradient
    and its clipped copy would be live at once at the end of the step, the
    peak of a model whose parameters dominate its memory.

    ```mlir
    %p2 = func.call @train_step_kernel_3(%p, %g) {dsv3.donations = array<i64: 0>}
        : (tensor<64xf32>, tensor<64xf32>) -> tensor<64xf32>
    func.func private @train_step_kernel_3(tensor<64xf32>, tensor<64xf32>)
        -> tensor<64xf32> attributes {dsv3.kernel}
    module @kernels attributes {dsv3.kernels} {
      func.func private @train_step_kernel_3(%p: tensor<64xf32>, ...)
          -> (tensor<64xf32> {dsv3.overwrites = 0 : i64}) ...
    }
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The step whose kernels' in-place updates are decided">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect",
                           "::mlir::func::FuncDialect"];
}

def DedupKernels : Pass<"dsv3-dedup-kernels", "mlir::ModuleOp"> {
  let summary = "Merge kernels and GPU functions whose code is the same";
  let description = [{
    Every layer of the same shape outlines the same kernels; this pass
    keeps one of each, so that compile time follows the number of distinct
    layer shapes rather than the depth. Runs after `dsv3-extract-kernels`
    on the module of the step, and after `dsv3-merge-gpu-modules` on the
    kernel module.

    - Kernels: the functions marked `dsv3.kernel` in the nested
      `dsv3.kernels` module whose code is the same up to names and
      locations (the same ops, attributes, types and use-def structure;
      the same argument and result attributes, so that kernels writing in
      place are merged only with kernels writing in place into the same
      argument) become the first of them. The calls of the module's
      functions name it, and the step's declarations of the others go.
    - GPU functions: the `gpu.func`s of the module's GPU modules whose
      code is the same and whose launches use the same grid, block and
      constant operands (the one signature the executable records for a
      GPU function) become the first of them, and the launches name it.

    What a call or launch computes is unchanged: only which copy of the
    same code it names.

    ```mlir
    %1 = func.call @train_step_kernel_7(%a, %b) : ...
    %2 = func.call @train_step_kernel_12(%c, %d) : ...  // same code as _7
    // becomes
    %1 = func.call @train_step_kernel_7(%a, %b) : ...
    %2 = func.call @train_step_kernel_7(%c, %d) : ...
    ```

    With `report`, prints the counts before and after:
    `kernels: 2768 outlined, 84 distinct after deduplication` (DeepSeek-V3),
    and, once the kernels are GPU launches,
    `GPU functions: ... mapped, ... distinct after deduplication`. With
    `progress`, prints them as `dsv3-compile` progress lines.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print how many kernels and GPU functions there were before and "
           "after">,
    Option<"progress", "progress", "bool", /*default=*/"false",
           "Print the same counts as progress lines on stderr">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::gpu::GPUDialect"];
}

def PlanMemory : Pass<"dsv3-plan-memory", "mlir::ModuleOp"> {
  let summary = "Place every tensor of the step in one arena";
  let description = [{
    The one memory plan: the executable writer copies its offsets as they
    are, and `dsv3-compile --report` prints it. Liveness-based static
    placement: every SSA tensor value of `function` is a buffer (a reshape
    shares its input's buffer; values inside fusion regions and kernels
    never reach memory), live from its definition to its last use, or to
    the end when it is returned. Parameters and optimizer state persist
    across steps, so their buffers are live for the whole function; the
    batch's and the step number's are reused once read.

    An updated parameter or moment (a result with the `dsv3.role` and
    `dsv3.name` of an argument) is donated onto its input's buffer when it
    is written in place: computed by `dsv3.adamw` or
    `dsv3.update_router_bias` that is the last reader of the input and of
    every view of it, or by a kernel call whose `dsv3.donations` (from
    `dsv3-extract-kernels`) hands it that operand's buffer. A call's other
    recorded donations must end their operand's buffer, or the plan fails.
    A kernel call's scratch buffers (its code's trailing memref arguments
    in the nested `dsv3.kernels` module) are live for that call. Buffers
    are placed largest first, each at the lowest `alignment`-aligned
    offset free for its whole live range.

    Writes `dsv3.offset` on arguments, `dsv3.offsets` on ops (one per
    result), `dsv3.scratch_offsets` and `dsv3.scratch_bytes` on kernel
    calls, and `dsv3.arena_bytes` and `dsv3.peak_live_bytes` (the most
    bytes live at once, a lower bound for any placement) on the function.
    With `report`, prints the arena size, the peak and the largest buffers
    live at the peak:

    ```
    memory plan of @train_step: 912 buffers in an arena of 1234 bytes ...
    largest live set, at op 412 (dsv3.attention_grad):
             1048576  model.embed_tokens.weight
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "Function to plan">,
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Alignment of every buffer, in bytes (a power of two)">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the plan's peak and largest live set">,
    Option<"topN", "top", "int64_t", /*default=*/"10",
           "Buffers listed in the report">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

def Interpret : Pass<"dsv3-interpret", "mlir::ModuleOp"> {
  let summary = "Run a function in the reference interpreter and print it";
  let description = [{
    Evaluates `function` on deterministic pseudo-random arguments (floats
    normal with standard deviation `std`, or as their `dsv3.init` says;
    integers uniform in [0, `int-bound`); positions 0..seq-1; one segment
    per sequence) and prints, for every result, its type, the sum of its
    elements and its first values. With `steps` > 1 and a `@train_step`-
    shaped function, feeds each step's updated parameters and optimizer
    state into the next and prints the loss of every step. The IR is left
    unchanged. For tests and debugging; it is slow.

    ```
    result 0: tensor<f32> sum 5.545 [5.545]
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "Function to run">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the random arguments">,
    Option<"stddev", "std", "double", /*default=*/"1.0",
           "Standard deviation of float arguments without dsv3.init">,
    Option<"intBound", "int-bound", "int64_t", /*default=*/"8",
           "Integer arguments are drawn from [0, int-bound)">,
    Option<"steps", "steps", "int64_t", /*default=*/"1",
           "Training steps to run (train_step-shaped functions)">,
    Option<"all", "all", "bool", /*default=*/"false",
           "Print every element instead of the first four">,
    Option<"digest", "digest", "bool", /*default=*/"false",
           "Also print a hash of every result's exact bits, to compare "
           "runs bit for bit">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

#endif // DSV3_TRANSFORMS_PASSES_TD
