//===- Passes.td - dsv3 conversion passes ---------------------------------===//

#ifndef DSV3_CONVERSION_PASSES_TD
#define DSV3_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertDsv3ToLinalg : Pass<"convert-dsv3-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower dsv3 ops to linalg, tensor, arith and math on tensors";
  let description = [{
    The first step of code generation. Elementwise ops (arithmetic,
    transcendental, select, compare, cast, loss scaling) become
    `linalg.generic`s with parallel iterators; reductions, softmax and
    log-softmax become reduction generics; RMSNorm, embedding, gather, cross
    entropy, RoPE (with YaRN; angles in f64) and their gradients become
    row-statistics generics followed by parallel maps; transpose,
    broadcast, reshape, slice, pad, concat, scatter-add and constants become
    linalg and tensor ops; matmul becomes one contraction generic (on the
    CPU these later become BLAS commands instead). Attention and its
    gradient are decomposed into batched GEMMs and a masked softmax. MoE
    routing assigns every (token, k) copy its row, and every row its copy,
    in counting loops over the copies (with `parallel-routing`, generics
    over chunks of copies instead: more work, but no sequential loop for
    the GPU to run on one thread); dispatch, combine and combine's gradient are then
    parallel generics that gather by those positions (the weight gradient
    a reduction along the hidden dimension). Grouped GEMMs and their weight
    gradient are `scf.for` loops over experts driven by the group sizes;
    the router's selection (group limit, then top-k by biased score, ties to
    the lower index) is a generic over (token, pick), and its scores, gradient, the
    balance loss and expert loads are generics. The optimizer (AdamW in f64 with the
    moments rounded as stored, the learning-rate schedule, global-norm
    clipping, the router bias update, all-finite) becomes generics too.
    `dsv3.fusion` regions are inlined so that upstream elementwise fusion
    can merge their generics.

    The whole dialect is illegal: an op without a lowering (collectives,
    fp8 quantization and scaled matmul, 2:4 sparsity, fake quantization and
    the dynamic loss-scale update, none of which the compiler generates
    code for yet) is an error naming it.

    After this pass the upstream pipeline (one-shot bufferization, linalg
    to loops, lowering to LLVM) produces code that runs; the pipeline
    `dsv3-lower-to-llvm` is this pass followed by those. The integration
    tests in `test/Conversion` execute its output with `mlir-runner` and
    compare against the reference interpreter.
  }];
  let options = [
    Option<"parallelRouting", "parallel-routing", "bool", /*default=*/"false",
           "Assign MoE rows with parallel generics over chunks of copies "
           "instead of loops over the copies (for the GPU, where a loop is "
           "one thread)">,
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def DecomposeAttention : Pass<"dsv3-decompose-attention", "mlir::ModuleOp"> {
  let summary = "Rewrite attention and its gradient as GEMMs and a softmax";
  let description = [{
    Replaces every `dsv3.attention` and `dsv3.attention_grad` with the dsv3
    ops that compute it: heads moved before the sequence (`dsv3.transpose`),
    grouped key/value heads broadcast to the query heads, batched
    `dsv3.matmul`s for the scores, the output and each gradient, and a
    masked `dsv3.softmax` (causal and same-segment masks by
    `dsv3.compare`/`dsv3.select`). The executable pipeline runs it first so
    that the attention GEMMs go to the GEMM library like every other GEMM;
    `convert-dsv3-to-linalg` applies the same rewrite on its own. With
    `keep-library`, attention of static shape on f32 operands stays whole:
    the cpu runtime computes it as one command (tiled over query blocks,
    no [B, H, S, S] buffer), and only the others are rewritten.
  }];
  let options = [
    Option<"keepLibrary", "keep-library", "bool", /*default=*/"false",
           "Leave f32 attention and its gradient whole, for the cpu "
           "runtime's attention command">,
  ];
  let dependentDialects = ["::mlir::dsv3::Dsv3Dialect"];
}

def DestinationPassing : Pass<"dsv3-destination-passing", "mlir::ModuleOp"> {
  let summary = "Give kernels on tensors memref arguments for their results";
  let description = [{
    Rewrites every function with a body (the kernels, on tensors, after
    `convert-dsv3-to-linalg`) into the calling convention of an
    executable's kernels: one memref argument per input, then one per
    result, and no results. Inputs are read through
    `bufferization.to_tensor restrict`, and each result is materialized in
    its memref (`bufferization.materialize_in_destination`), which
    `eliminate-empty-tensors` turns into computing it there directly.

    A result marked `dsv3.overwrites = i` (see `dsv3-extract-kernels`)
    gets no argument of its own: it is materialized in the tensor of input
    `i`, which is `writable`, so that one-shot bufferization computes it in
    that buffer (an updated parameter written over the old one). A function
    that already takes memrefs and returns nothing is left as it is.

    ```mlir
    func.func @k(%p: tensor<64xf32>, %g: tensor<64xf32>)
        -> (tensor<64xf32> {dsv3.overwrites = 0 : i64}, tensor<f32>)
    // becomes
    func.func @k(%p: memref<64xf32>, %g: memref<64xf32>, %out: memref<f32>)
    ```
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def HoistAllocs : Pass<"dsv3-hoist-allocs", "mlir::func::FuncOp"> {
  let summary = "Turn a kernel's temporary buffers into arguments";
  let description = [{
    After bufferization, every `memref.alloc` with a static shape and an
    identity layout becomes a new argument, appended after the existing
    ones: the caller provides the memory (the executable writer places it
    in the arena, live for that one launch), so a step allocates nothing
    at run time and the arena holds every buffer. An allocation inside
    sequential loops (`scf.for`, `scf.while`) or branches is hoisted too
    when neither it nor a view of it is yielded, so no iteration sees
    another's buffer; one inside a parallel loop stays, as its iterations
    need a buffer each. Runs on functions marked `dsv3.kernel`, or on
    every function with `all`.
  }];
  let options = [
    Option<"all", "all", "bool", /*default=*/"false",
           "Hoist in every function, not only dsv3.kernel ones">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def MapGenericsToGpu : Pass<"dsv3-map-generics-to-gpu", "mlir::func::FuncOp"> {
  let summary = "Map row reductions and elementwise generics to GPU launches";
  let description = [{
    Runs on bufferized kernels before `convert-linalg-to-parallel-loops`
    and maps two kinds of top-level `linalg.generic` to `gpu.launch` ops
    with a thread mapping that suits them; every other op is left for
    `dsv3-map-to-gpu`.

    A row reduction (the innermost loop is a reduction, one output, and the
    body yields `combiner(f(inputs), out)` with an associative combiner:
    `addf`, `mulf`, `maximumf`, `maxnumf`, `minimumf`, `minnumf` or `addi`)
    of at least `warp-reduce-min` elements per row gets a warp per row, or
    a block of `block-size` threads per row from `block-reduce-min`
    elements on. Each thread accumulates every 32nd (or `block-size`th)
    element of the row, so that neighbouring threads read neighbouring
    elements; the warp combines the partial results with butterfly
    shuffles (`gpu.shuffle xor`, `shfl.sync.bfly` in PTX), and a block
    combines its warps' results through shared memory. Lane 0 then folds
    the row's result into the output's value, as the generic would. The
    order of the combination differs from the sequential loop, so
    floating-point sums round differently.

    An elementwise generic (parallel loops only) whose innermost loop is a
    multiple of `vector-width` gets `vector-width` adjacent elements per
    thread: each operand that is contiguous along the innermost loop (an
    identity layout, 16-, 32- or 64-bit elements) is read and written with
    one aligned `vector.load`/`vector.store` (`ld.global.v4.f32` in PTX),
    one that does not depend on it with one load, and any other with a
    load per element. The alignment holds for buffers aligned to the
    vector's size, as the executable's arena places them.

    Every other reduction (over outer dimensions, such as a weight gradient
    summed over tokens; rows shorter than `warp-reduce-min`; several
    outputs) gets a thread per output element, which carries the output's
    value through the reduction loops in their order, so neighbouring
    threads read neighbouring elements when the output's dimension is
    innermost. Without this, such a generic would become a loop around a
    parallel loop, which `dsv3-map-to-gpu` runs on one thread.

    Generics with dynamic shapes, ones whose body writes memory, and ones
    nested in other ops are left alone.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"4",
           "Adjacent elements per thread in elementwise launches (1 turns "
           "them off)">,
    Option<"warpReduceMin", "warp-reduce-min", "int64_t", /*default=*/"32",
           "The shortest row that gets a warp">,
    Option<"blockReduceMin", "block-reduce-min", "int64_t",
           /*default=*/"4096", "The shortest row that gets a whole block">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def MapToGpu : Pass<"dsv3-map-to-gpu", "mlir::func::FuncOp"> {
  let summary = "Put a kernel's loops on the GPU as gpu.launch ops";
  let description = [{
    For a bufferized kernel whose linalg ops are parallel loops
    (`convert-linalg-to-parallel-loops`): each top-level `scf.parallel`
    becomes a `gpu.launch` with one thread per iteration, the iteration
    space linearized over blocks of `block-size` threads and
    bounds-checked; each run of other top-level ops that touch memory
    (sequential loops, loads, stores, copies) becomes a single-thread
    launch. A run ends before an op that would make it read more than
    `max-buffers` buffers, where no value it computes is read after that
    point (otherwise it goes on to the next such point), so that a
    launch's arguments (one pointer per buffer) fit a GPU function's
    parameter space: the scalar tail of the gradient clipping reads a
    partial sum per parameter. Pure ops stay
    outside, for `gpu-kernel-outlining` to copy into the kernels or pass
    as arguments. Reductions run sequentially in each thread (a row per
    thread for row-wise reductions).
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block of a parallel loop's launch">,
    Option<"maxBuffers", "max-buffers", "int64_t", /*default=*/"256",
           "Buffers one single-thread launch reads or writes at most">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def SplitLargeKernels : Pass<"dsv3-split-large-kernels", "mlir::ModuleOp"> {
  let summary = "Move runs of a large kernel's loops into functions of their own";
  let description = [{
    For the CPU, on kernels lowered to loops on memrefs: a kernel (a
    function marked `dsv3.kernel`) with more than `max-loops` top-level
    loops (the gradient clipping of a deep model has two per parameter)
    has its top-level ops moved, in runs of about `loops-per-part` loops,
    into private functions `@<kernel>_part_<n>` marked `no_inline` and
    called in their place. A run ends only where none of its values is
    read after it; constants and views it reads are copied in, buffers
    passed. LLVM's dominator-tree and scalar-evolution updates grow with
    the square of a long chain of loops in one function (minutes for
    DeepSeek-V3); short functions keep them linear. The same ops run in
    the same order.
  }];
  let options = [
    Option<"maxLoops", "max-loops", "int64_t", /*default=*/"256",
           "Top-level loops a kernel may have before it is split">,
    Option<"loopsPerPart", "loops-per-part", "int64_t", /*default=*/"32",
           "Top-level loops per part">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def ParallelizeKernelLoops : Pass<"dsv3-parallelize-kernel-loops", "mlir::ModuleOp"> {
  let summary = "Move a CPU kernel's large parallel loops into functions of a range";
  let description = [{
    For the CPU, on kernels lowered to loops on memrefs (linalg's parallel
    iterators as `scf.parallel`): each top-level `scf.parallel` of a
    function with constant bounds and at least `min-work` innermost
    iterations moves into a private function `@<fn>_loop_<n>(buffers...,
    lo, hi)` marked `dsv3.parallel_body`, which runs iterations [lo, hi)
    of its outermost dimension of more than one iteration, and is called
    with the whole range in the loop's place. A loop moves only when each
    iteration writes its own elements (every store to memory the loop did
    not allocate indexes by that dimension; no calls) and it reads only
    the function's buffers and values it can recompute (constants, views).
    Until dsv3-lower-parallel-calls, the program is the same.
  }];
  let options = [
    Option<"minWork", "min-work", "int64_t", /*default=*/"16384",
           "Innermost iterations below which a loop stays on one thread">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect"];
}

def LowerParallelCalls : Pass<"dsv3-lower-parallel-calls", "mlir::ModuleOp"> {
  let summary = "Run the calls of parallel bodies on the runtime's threads";
  let description = [{
    On the LLVM dialect, after dsv3-parallelize-kernel-loops and the
    bare-pointer lowering of functions: each function marked
    `dsv3.parallel_body`, `(ptr..., i64 lo, i64 hi)`, gets an entry
    `@<body>_range(ptr args, i64 lo, i64 hi)` that loads its buffers from
    the array `args`; each call of it becomes
    `dsv3ParallelFor(@<body>_range, args, lo, hi)`, with the buffers stored
    in an array on the caller's stack. The runtime (which programs that
    load kernels export) runs [lo, hi) in pieces on its threads.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def MergeGpuModules : Pass<"dsv3-merge-gpu-modules", "mlir::ModuleOp"> {
  let summary = "Merge the outlined GPU modules into one";
  let description = [{
    After `gpu-kernel-outlining`, which makes one `gpu.module` per launch:
    moves every GPU function into one `gpu.module @<name>`, each named
    after the module it came from (unique within the module), copies each
    global the functions read once (outlined modules of one function share
    their globals' names), and points every `gpu.launch_func` at the merged
    module. The executable then carries one cubin, loaded once.
  }];
  let options = [
    Option<"name", "name", "std::string", /*default=*/"\"dsv3_kernels\"",
           "Name of the merged GPU module">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def PrepareVectorization
    : Pass<"dsv3-prepare-vectorization", "mlir::func::FuncOp"> {
  let summary = "Make a CPU kernel's loops vectorizable for LLVM";
  let description = [{
    Runs on bufferized kernels before their linalg ops become loops. LLVM's
    loop vectorizer leaves a loop scalar when it calls a transcendental
    (`expf`, `logf`, `tanhf`: opaque library calls) or when it carries a
    floating-point sum or product from one iteration to the next (that
    would reorder the additions). This pass:

    - replaces f32 `math` ops (exp, log, tanh, erf, ...) by their
      polynomial approximations in `arith` (upstream's
      `populateMathPolynomialApproximationPatterns`; a few ulp from libm),
      which vectorize;
    - marks the combiner of every reduction (the op of a `linalg.generic`
      with reduction iterators that folds a value into its output) with
      the `reassoc` fast-math flag, so that LLVM may keep several partial
      sums in a vector;
    - turns `memref.copy` between static views (slices, concatenation,
      transposes) into `linalg.copy`, that is loops, instead of a call to
      the runtime's element-by-element `memrefCopy` (LLVM makes the
      contiguous ones `memcpy` again).

    Only the reduction's own combiner is reassociated; every other
    operation keeps IEEE semantics. The order a reduction takes is then a
    property of its kernel's code, fixed when it is compiled: the same for
    every run and every thread count, though not the interpreter's order
    (which accumulates in f64).
  }];
  let options = [
    Option<"approximateMath", "approximate-math", "bool", /*default=*/"true",
           "Replace f32 math ops by polynomial approximations">,
    Option<"reassociateReductions", "reassociate-reductions", "bool",
           /*default=*/"true",
           "Mark reduction combiners reassociable">,
    Option<"loopCopies", "loop-copies", "bool", /*default=*/"true",
           "Copy static strided views in loops">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::linalg::LinalgDialect"];
}

#endif // DSV3_CONVERSION_PASSES_TD
