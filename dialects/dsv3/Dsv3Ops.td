//===- Dsv3Ops.td - operations of the dsv3 dialect -------------------------===//
//
// The op set of DESIGN §4. Every op declares its verifier (shapes, ranks,
// element types, attribute ranges), infers its result types where they
// follow from the operands, and documents its cost formula.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_OPS_TD
#define DSV3_OPS_TD

include "dsv3/Dsv3Dialect.td"
include "dsv3/Dsv3Types.td"
include "dsv3/Dsv3Attrs.td"
include "dsv3/Dsv3Interfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

// Ops with a gradient rule (buildVjp in Dsv3Gradients.cpp).
def Dsv3_Differentiable : DeclareOpInterfaceMethods<Dsv3_GradientOpInterface>;

// Ops whose cost is the interface default (0 FLOPs, or one per element for
// elementwise ops).
class Dsv3_Op<string mnemonic, list<Trait> traits = []> :
    Op<Dsv3_Dialect, mnemonic, !listconcat([Dsv3_CostOpInterface], traits)>;

// Ops with their own FLOP formula (`getFlops` in Dsv3Cost.cpp).
class Dsv3_FlopsOp<string mnemonic, list<Trait> traits = []> :
    Op<Dsv3_Dialect, mnemonic, !listconcat(
        [DeclareOpInterfaceMethods<Dsv3_CostOpInterface, ["getFlops"]>],
        traits)>;

//===----------------------------------------------------------------------===//
// Tensor basics
//===----------------------------------------------------------------------===//

def Dsv3_ConstantOp : Dsv3_Op<"constant",
    [Pure, ConstantLike, AllTypesMatch<["value", "result"]>]> {
  let summary = "a tensor constant";
  let description = [{
    A dense tensor literal. Costs nothing: constants are materialized once,
    when the executable is loaded.

    ```mlir
    func.func @example() -> tensor<2xf32> {
      %c = dsv3.constant dense<[1.0, 2.0]> : tensor<2xf32>
      return %c : tensor<2xf32>
    }
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

def Dsv3_CastOp : Dsv3_Op<"cast", [Dsv3_Differentiable,
    Pure, SameOperandsAndResultShape]> {
  let summary = "element type conversion";
  let description = [{
    Converts every element to the result's element type. Float to float
    rounds to nearest even and saturates to the largest finite value for
    fp8 E4M3; float to integer truncates toward zero; integer to float is
    exact where representable.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%x: tensor<4x8xf32>) -> tensor<4x8xbf16> {
      %y = dsv3.cast %x : tensor<4x8xf32> to tensor<4x8xbf16>
      return %y : tensor<4x8xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
}

def Dsv3_ReshapeOp : Dsv3_Op<"reshape", [Dsv3_Differentiable, Pure]> {
  let summary = "reinterprets a tensor with a new shape";
  let description = [{
    Same elements in row-major order, new shape. The element count and
    element type are unchanged.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%x: tensor<2x8x16xf32>) -> tensor<16x16xf32> {
      %y = dsv3.reshape %x : tensor<2x8x16xf32> -> tensor<16x16xf32>
      return %y : tensor<16x16xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Dsv3_TransposeOp : Dsv3_Op<"transpose", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "permutes the dimensions of a tensor";
  let description = [{
    `result.shape[i] = input.shape[perm[i]]`. `perm` is a permutation of
    `[0, rank)`.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%x: tensor<2x8x4x16xf32>) -> tensor<2x4x8x16xf32> {
      %y = dsv3.transpose %x, perm = [0, 2, 1, 3]
          : tensor<2x8x4x16xf32> -> tensor<2x4x8x16xf32>
      return %y : tensor<2x4x8x16xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $input `,` `perm` `=` $perm attr-dict `:` type($input) `->` type($result)
  }];
}

def Dsv3_BroadcastOp : Dsv3_Op<"broadcast", [Dsv3_Differentiable, Pure]> {
  let summary = "broadcasts a tensor to a larger shape";
  let description = [{
    `dims[i]` names the result dimension that input dimension `i` maps to;
    `dims` is strictly increasing and each mapped input dimension is 1 or
    equal to the result dimension. Result dimensions not named are
    replicated.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%b: tensor<16xf32>) -> tensor<8x16xf32> {
      %y = dsv3.broadcast %b, dims = [1] : tensor<16xf32> -> tensor<8x16xf32>
      return %y : tensor<8x16xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input, DenseI64ArrayAttr:$dims);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $input `,` `dims` `=` $dims attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dsv3_SliceOp : Dsv3_Op<"slice", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "a strided slice";
  let description = [{
    Takes elements `start[d], start[d] + strides[d], ...` below `limit[d]` in
    every dimension `d`; `strides` defaults to all ones. Requires
    `0 <= start <= limit <= shape` and `strides >= 1`.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%x: tensor<2x8x16xf32>) -> tensor<2x7x16xf32> {
      %y = dsv3.slice %x, start = [0, 1, 0], limit = [2, 8, 16]
          : tensor<2x8x16xf32> -> tensor<2x7x16xf32>
      return %y : tensor<2x7x16xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input, DenseI64ArrayAttr:$start,
                       DenseI64ArrayAttr:$limit,
                       OptionalAttr<DenseI64ArrayAttr>:$strides);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $input `,` `start` `=` $start `,` `limit` `=` $limit
    (`,` `strides` `=` $strides^)? attr-dict `:` type($input) `->` type($result)
  }];
}

def Dsv3_ConcatOp : Dsv3_Op<"concat", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "concatenates tensors along a dimension";
  let description = [{
    All inputs have the same rank, element type and shape except along
    `dim`.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%a: tensor<4x8xf32>, %b: tensor<4x4xf32>) -> tensor<4x12xf32> {
      %y = dsv3.concat %a, %b dim = 1 : tensor<4x8xf32>, tensor<4x4xf32> -> tensor<4x12xf32>
      return %y : tensor<4x12xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Dsv3_Tensor>:$inputs, I64Attr:$dim);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $inputs `dim` `=` $dim attr-dict `:` type($inputs) `->` type($result)
  }];
}

def Dsv3_GatherOp : Dsv3_Op<"gather", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "takes slices of a tensor at integer indices";
  let description = [{
    `result[a..., i..., b...] = input[a..., indices[i...], b...]` along
    `dim`: the result shape is `input.shape[:dim] ++ indices.shape ++
    input.shape[dim+1:]`. Indices outside `[0, input.shape[dim])` are an
    error at run time.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%x: tensor<16x64xf32>, %i: tensor<4xi32>) -> tensor<4x64xf32> {
      %y = dsv3.gather %x[%i] dim = 0 : tensor<16x64xf32>, tensor<4xi32> -> tensor<4x64xf32>
      return %y : tensor<4x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input, Dsv3_IndexTensor:$indices,
                       I64Attr:$dim);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $input `[` $indices `]` `dim` `=` $dim attr-dict `:` type($input) `,`
    type($indices) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Dsv3_BinaryOp<string mnemonic, string doc, string expr> :
    Dsv3_Op<mnemonic, [Pure, Elementwise, SameOperandsAndResultType,
                       InferTypeOpInterface, Dsv3_Differentiable]> {
  let summary = doc;
  let description = "`result = " # expr # "`, elementwise over operands of "
    # "the same type (broadcast explicitly with `dsv3.broadcast`).\n\n"
    # "Cost: 1 FLOP per element.\n\n"
    # "```mlir\n"
    # "func.func @example(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {\n"
    # "  %y = dsv3." # mnemonic # " %a, %b : tensor<4x8xf32>\n"
    # "  return %y : tensor<4x8xf32>\n"
    # "}\n```";
  let arguments = (ins Dsv3_NumericTensor:$lhs, Dsv3_NumericTensor:$rhs);
  let results = (outs Dsv3_NumericTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Dsv3_AddOp : Dsv3_BinaryOp<"add", "elementwise addition", "lhs + rhs">;
def Dsv3_SubOp : Dsv3_BinaryOp<"sub", "elementwise subtraction", "lhs - rhs">;
def Dsv3_MulOp : Dsv3_BinaryOp<"mul", "elementwise multiplication",
                               "lhs * rhs">;
def Dsv3_DivOp : Dsv3_BinaryOp<"div", "elementwise division", "lhs / rhs">;

class Dsv3_UnaryOp<string mnemonic, string doc, string expr> :
    Dsv3_Op<mnemonic, [Pure, Elementwise, SameOperandsAndResultType,
                       InferTypeOpInterface, Dsv3_Differentiable]> {
  let summary = doc;
  let description = "`result = " # expr # "`, elementwise.\n\n"
    # "Cost: 1 FLOP per element.\n\n"
    # "```mlir\n"
    # "func.func @example(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {\n"
    # "  %y = dsv3." # mnemonic # " %x : tensor<4x8xf32>\n"
    # "  return %y : tensor<4x8xf32>\n"
    # "}\n```";
  let arguments = (ins Dsv3_FloatTensor:$input);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Dsv3_NegOp : Dsv3_UnaryOp<"neg", "elementwise negation", "-x">;
def Dsv3_ExpOp : Dsv3_UnaryOp<"exp", "elementwise exponential", "exp(x)">;
def Dsv3_LogOp : Dsv3_UnaryOp<"log", "elementwise natural logarithm",
                              "log(x)">;
def Dsv3_RsqrtOp : Dsv3_UnaryOp<"rsqrt", "elementwise reciprocal square root",
                                "1 / sqrt(x)">;
def Dsv3_SigmoidOp : Dsv3_UnaryOp<"sigmoid", "elementwise logistic function",
                                  "1 / (1 + exp(-x))">;
def Dsv3_SiluOp : Dsv3_UnaryOp<"silu", "elementwise SiLU (swish)",
                               "x * sigmoid(x)">;

def Dsv3_SelectOp : Dsv3_Op<"select", [Dsv3_Differentiable, Pure, Elementwise,
    AllTypesMatch<["on_true", "on_false"]>,
    AllShapesMatch<["condition", "on_true"]>, InferTypeOpAdaptor]> {
  let summary = "elementwise choice between two tensors";
  let description = [{
    `result = condition ? on_true : on_false`, elementwise; the condition is
    an `i1` tensor of the same shape.

    Cost: 1 FLOP per element.

    ```mlir
    func.func @example(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
      %y = dsv3.select %c, %a, %b : tensor<4xi1>, tensor<4xf32>
      return %y : tensor<4xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_BoolTensor:$condition, Dsv3_Tensor:$on_true,
                       Dsv3_Tensor:$on_false);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $condition `,` $on_true `,` $on_false attr-dict `:` type($condition) `,`
    type($on_true)
  }];
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

def Dsv3_ReduceOp : Dsv3_FlopsOp<"reduce", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "sum, max or mean over dimensions";
  let description = [{
    Reduces `input` over `dims` (strictly increasing, in range) and drops
    them from the shape. Reducing every dimension gives a 0-d tensor.

    Cost: one FLOP per input element (plus one per result element for
    `mean`).

    ```mlir
    func.func @example(%x: tensor<4x8xf32>) -> tensor<4xf32> {
      %y = dsv3.reduce sum %x, dims = [1] : tensor<4x8xf32> -> tensor<4xf32>
      return %y : tensor<4xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_ReduceKindAttr:$kind, Dsv3_NumericTensor:$input,
                       DenseI64ArrayAttr:$dims);
  let results = (outs Dsv3_NumericTensor:$result);
  let assemblyFormat = [{
    $kind $input `,` `dims` `=` $dims attr-dict `:` type($input) `->`
    type($result)
  }];
}

class Dsv3_SoftmaxLikeOp<string mnemonic, string doc, string expr> :
    Dsv3_FlopsOp<mnemonic, [Pure, SameOperandsAndResultType,
                            InferTypeOpInterface, Dsv3_Differentiable]> {
  let summary = doc;
  let description = "`result = " # expr # "` along dimension `dim`, "
    # "computed stably (the maximum is subtracted first).\n\n"
    # "Cost: 5 FLOPs per element.\n\n"
    # "```mlir\n"
    # "func.func @example(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {\n"
    # "  %y = dsv3." # mnemonic # " %x, dim = 1 : tensor<4x8xf32>\n"
    # "  return %y : tensor<4x8xf32>\n"
    # "}\n```";
  let arguments = (ins Dsv3_FloatTensor:$input, I64Attr:$dim);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = "$input `,` `dim` `=` $dim attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Dsv3_SoftmaxOp : Dsv3_SoftmaxLikeOp<"softmax", "softmax along a dimension",
    "exp(x - max(x)) / sum(exp(x - max(x)))">;
def Dsv3_LogSoftmaxOp : Dsv3_SoftmaxLikeOp<"log_softmax",
    "log-softmax along a dimension",
    "x - max(x) - log(sum(exp(x - max(x))))">;

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

def Dsv3_EmbeddingOp : Dsv3_Op<"embedding", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "token embedding lookup";
  let description = [{
    `result[t..., :] = table[ids[t...], :]` for a `[vocab, hidden]` table;
    the result shape is `ids.shape ++ [hidden]`. Ids outside `[0, vocab)`
    are an error at run time.

    Cost: 0 FLOPs; reads only the gathered rows:
    `bytes_read = ids bytes + numel(result) * elem bytes`.

    ```mlir
    func.func @example(%table: tensor<256x64xf32>, %ids: tensor<2x8xi32>) -> tensor<2x8x64xf32> {
      %h = dsv3.embedding %table[%ids] : tensor<256x64xf32>, tensor<2x8xi32> -> tensor<2x8x64xf32>
      return %h : tensor<2x8x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$table, Dsv3_IndexTensor:$ids);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->`
    type($result)
  }];
  let extraClassDeclaration = [{ int64_t getBytesRead(); }];
}

def Dsv3_RmsNormOp : Dsv3_FlopsOp<"rms_norm", [Dsv3_Differentiable, Pure,
    InferTypeOpAdaptor]> {
  let summary = "RMS normalization over the last dimension";
  let description = [{
    `result = x * rsqrt(mean(x^2, last dim) + eps) * weight`, where `weight`
    has the size of the last dimension. `eps` must be positive.

    Cost: 4 FLOPs per element of `input` (square, sum, normalize, scale).

    ```mlir
    func.func @example(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>) -> tensor<2x8x64xf32> {
      %y = dsv3.rms_norm %x, %w, eps = 1.0e-06 : tensor<2x8x64xf32>, tensor<64xf32>
      return %y : tensor<2x8x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_FloatTensor:$weight,
                       F64Attr:$eps);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` `eps` `=` $eps attr-dict `:` type($input) `,`
    type($weight)
  }];
  let hasVerifier = 1;
}

def Dsv3_MatmulOp : Dsv3_FlopsOp<"matmul", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "batched matrix multiplication";
  let description = [{
    `lhs` is `[batch..., M, K]` (or `[batch..., K, M]` with
    `transpose_lhs`), `rhs` is `[batch..., K, N]` (or `[batch..., N, K]`
    with `transpose_rhs`) with the same batch dimensions, or a rank-2 `rhs`
    shared by every batch (the weight of a linear layer). Both operands have
    the same element type, which the result keeps; accumulation is in f32.

    Cost: `2 * batch * M * N * K` FLOPs.

    ```mlir
    func.func @example(%x: tensor<2x8x64xbf16>, %w: tensor<128x64xbf16>) -> tensor<2x8x128xbf16> {
      %y = dsv3.matmul %x, %w transpose_rhs : tensor<2x8x64xbf16>, tensor<128x64xbf16> -> tensor<2x8x128xbf16>
      return %y : tensor<2x8x128xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$lhs, Dsv3_FloatTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`transpose_lhs` $transpose_lhs^)?
    (`transpose_rhs` $transpose_rhs^)? attr-dict `:` type($lhs) `,`
    type($rhs) `->` type($result)
  }];
}

def Dsv3_RopeOp : Dsv3_FlopsOp<"rope", [Dsv3_Differentiable, Pure,
    InferTypeOpAdaptor]> {
  let summary = "rotary position embedding, with optional YaRN scaling";
  let description = [{
    Rotates pairs of the last dimension (size `D`, even) of `input`
    (`[batch, seq, D]` or `[batch, seq, heads, D]`) by angle
    `positions[b, s] * inv_freq[i]`, `inv_freq[i] = theta^(-2i/D)`. Pairs
    are `(x[i], x[i + D/2])`, or `(x[2i], x[2i+1])` with `interleaved`.
    Positions are explicit so packed sequences restart at 0.

    YaRN (`yarn_factor > 1`): frequencies whose wavelength exceeds
    `yarn_original_max_position / yarn_beta_slow` rotations are divided by
    `yarn_factor`, those below `/ yarn_beta_fast` are kept, with a linear
    ramp between, and cos/sin are multiplied by
    `mscale(yarn_mscale) / mscale(yarn_mscale_all_dim)` where
    `mscale(m) = 0.1 * m * ln(factor) + 1` (and 1 for `m = 0`), as in
    DeepSeek-V2/V3.

    With `inverse`, the rotation angle is negated while the YaRN scale is
    kept: the transpose of the forward map, which is its gradient.

    Cost: 3 FLOPs per element.

    ```mlir
    func.func @example(%q: tensor<2x8x4x16xf32>, %pos: tensor<2x8xi32>) -> tensor<2x8x4x16xf32> {
      %y = dsv3.rope %q, %pos, theta = 1.0e+04 {yarn_factor = 40.0 : f64, yarn_original_max_position = 4096 : i64}
          : tensor<2x8x4x16xf32>, tensor<2x8xi32>
      return %y : tensor<2x8x4x16xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_IndexTensor:$positions,
      F64Attr:$theta,
      UnitAttr:$interleaved,
      UnitAttr:$inverse,
      DefaultValuedAttr<F64Attr, "1.0">:$yarn_factor,
      DefaultValuedAttr<I64Attr, "0">:$yarn_original_max_position,
      DefaultValuedAttr<F64Attr, "32.0">:$yarn_beta_fast,
      DefaultValuedAttr<F64Attr, "1.0">:$yarn_beta_slow,
      DefaultValuedAttr<F64Attr, "1.0">:$yarn_mscale,
      DefaultValuedAttr<F64Attr, "0.0">:$yarn_mscale_all_dim);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions `,` `theta` `=` $theta
    (`interleaved` $interleaved^)? (`inverse` $inverse^)? attr-dict `:`
    type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The D/2 rotation frequencies (with the YaRN correction) and the
    /// factor cos/sin are scaled by; shared by every implementation.
    std::vector<double> getFrequencies(double &scale);
  }];
}

def Dsv3_AttentionOp : Dsv3_FlopsOp<"attention", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "scaled dot-product attention (causal, packed, grouped)";
  let description = [{
    `query` is `[B, S, H, Dqk]`, `key` `[B, S, Hkv, Dqk]`, `value`
    `[B, S, Hkv, Dv]` with `H` a multiple of `Hkv` (grouped-query
    attention); the result is `[B, S, H, Dv]`:
    `softmax(scale * q k^T + mask) v` per head. With `causal`, position `s`
    sees keys `<= s`; with `segments` (an `[B, S]` integer tensor), only
    keys of the same segment, so packed documents never attend to each
    other. `scale > 0`.

    Cost, with `P = S*S` score entries per head (`S*(S+1)/2` when causal):
    `2*B*H*P*(Dqk + Dv) + 5*B*H*P` FLOPs.

    ```mlir
    func.func @example(%q: tensor<2x8x4x16xbf16>, %k: tensor<2x8x4x16xbf16>, %v: tensor<2x8x4x16xbf16>,
                       %seg: tensor<2x8xi32>) -> tensor<2x8x4x16xbf16> {
      %o = dsv3.attention %q, %k, %v segments %seg causal scale = 2.500000e-01
          : tensor<2x8x4x16xbf16>, tensor<2x8x4x16xbf16>, tensor<2x8x4x16xbf16>, tensor<2x8xi32>
          -> tensor<2x8x4x16xbf16>
      return %o : tensor<2x8x4x16xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$query, Dsv3_FloatTensor:$key,
                       Dsv3_FloatTensor:$value,
                       Optional<Dsv3_IndexTensor>:$segment_ids,
                       UnitAttr:$causal, F64Attr:$scale);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`segments` $segment_ids^)?
    (`causal` $causal^)? `scale` `=` $scale attr-dict `:` type($query) `,`
    type($key) `,` type($value) (`,` type($segment_ids)^)? `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Mixture of experts
//===----------------------------------------------------------------------===//

def Dsv3_RouterOp : Dsv3_FlopsOp<"router", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "top-k expert selection with optional group limit and bias";
  let description = [{
    Takes the router logits `[T, E]` of T tokens over E experts and returns
    the gate weights `[T, top_k]`, the selected expert indices `[T, top_k]`
    (i32) and the unbiased scores `[T, E]` (for the balance loss); weights
    and scores are f32 (f64 for f64 logits, in reference checks):

    1. `scores = softmax(logits)` or `sigmoid(logits)` (`scoring`).
    2. `biased = scores + bias` when the optional `bias` `[E]` is given
       (aux-loss-free balancing); the bias only steers selection.
    3. With `n_group > 1`, experts form `n_group` equal groups; a group's
       score is the sum of its top-2 biased scores (top-1 for groups of one
       expert; DeepSeek-V3), or with `group_max` its best biased score
       (DeepSeek-V2); only the best `topk_group` groups stay eligible.
    4. The `top_k` eligible experts with the highest biased scores are
       selected (ties to the lower index).
    5. `weights` are their unbiased scores, divided by their sum with
       `norm_topk_prob`, times `route_scale`.

    Requires `1 <= top_k <= E`, `E % n_group == 0`,
    `1 <= topk_group <= n_group`, `top_k <= topk_group * E / n_group`,
    `route_scale > 0`. The selection is not differentiable; gradients flow
    through `weights`.

    Cost: 5 FLOPs per logit.

    ```mlir
    func.func @example(%logits: tensor<16x8xf32>, %bias: tensor<8xf32>)
        -> (tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>) {
      %w, %idx, %s = dsv3.router sigmoid %logits bias %bias {top_k = 2 : i64,
          n_group = 4 : i64, topk_group = 2 : i64, route_scale = 2.5 : f64, norm_topk_prob}
          : tensor<16x8xf32>, tensor<8xf32> -> tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
      return %w, %idx, %s : tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x8xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$logits,
      Optional<Dsv3_FloatTensor>:$bias,
      I64Attr:$top_k,
      DefaultValuedAttr<I64Attr, "1">:$n_group,
      DefaultValuedAttr<I64Attr, "1">:$topk_group,
      Dsv3_ScoringFuncAttr:$scoring,
      DefaultValuedAttr<F64Attr, "1.0">:$route_scale,
      UnitAttr:$norm_topk_prob,
      UnitAttr:$group_max);
  let results = (outs Dsv3_F32Tensor:$weights, Dsv3_I32Tensor:$indices,
                      Dsv3_F32Tensor:$scores);
  let assemblyFormat = [{
    $scoring $logits (`bias` $bias^)? attr-dict `:` type($logits)
    (`,` type($bias)^)?
    `->` type($weights) `,` type($indices) `,` type($scores)
  }];
  let hasVerifier = 1;
}

def Dsv3_MoeDispatchOp : Dsv3_Op<"moe_dispatch", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "groups token copies by expert";
  let description = [{
    Given tokens `[T, H]` and their expert `indices` `[T, K]`, returns the
    token copies ordered by expert (`rows`) and how many rows each expert
    owns (`group_sizes`, `[num_experts]` i32), ready for
    `dsv3.grouped_matmul`. Order within an expert is token order, then k.

    - `dropless` (default): `rows` is `[T*K, H]`, every copy is kept.
    - `drop` with `capacity = C`: `rows` is `[num_experts*C, H]`, expert `e`
      owns rows `[e*C, (e+1)*C)`; copies beyond `C` are dropped and unused
      rows are zero; `group_sizes` is `C` for every expert.

    `dsv3.moe_combine` with the same indices and policy inverts the
    permutation.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%x: tensor<16x64xf32>, %idx: tensor<16x2xi32>) -> (tensor<32x64xf32>, tensor<8xi32>) {
      %rows, %sizes = dsv3.moe_dispatch %x, %idx {num_experts = 8 : i64}
          : tensor<16x64xf32>, tensor<16x2xi32> -> tensor<32x64xf32>, tensor<8xi32>
      return %rows, %sizes : tensor<32x64xf32>, tensor<8xi32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_IndexTensor:$indices,
      I64Attr:$num_experts,
      DefaultValuedAttr<Dsv3_CapacityPolicyAttr,
                        "CapacityPolicy::dropless">:$policy,
      DefaultValuedAttr<I64Attr, "0">:$capacity);
  let results = (outs Dsv3_FloatTensor:$rows, Dsv3_I32Tensor:$group_sizes);
  let assemblyFormat = [{
    $input `,` $indices (`policy` `=` $policy^)? attr-dict `:` type($input)
    `,` type($indices) `->` type($rows) `,` type($group_sizes)
  }];
}

def Dsv3_GroupedMatmulOp : Dsv3_FlopsOp<"grouped_matmul",
    [Dsv3_Differentiable, Pure, InferTypeOpAdaptor]> {
  let summary = "one matrix multiplication per expert over grouped rows";
  let description = [{
    `input` is `[R, K]`, rows grouped by expert with `group_sizes` `[E]`
    (consecutive segments; rows past their sum are ignored and give zeros);
    `weight` is `[E, K, N]` (or `[E, N, K]` with `transpose_rhs`). The rows
    of group `e` are multiplied by `weight[e]`; the result is `[R, N]`.

    Cost: `2 * R * K * N` FLOPs (every row counted).

    ```mlir
    func.func @example(%rows: tensor<32x64xbf16>, %w: tensor<8x64x32xbf16>, %sizes: tensor<8xi32>) -> tensor<32x32xbf16> {
      %y = dsv3.grouped_matmul %rows, %w, %sizes : tensor<32x64xbf16>, tensor<8x64x32xbf16>, tensor<8xi32> -> tensor<32x32xbf16>
      return %y : tensor<32x32xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_FloatTensor:$weight,
                       Dsv3_I32Tensor:$group_sizes, UnitAttr:$transpose_rhs);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $group_sizes (`transpose_rhs` $transpose_rhs^)?
    attr-dict `:` type($input) `,` type($weight) `,` type($group_sizes) `->`
    type($result)
  }];
}

def Dsv3_MoeCombineOp : Dsv3_FlopsOp<"moe_combine", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "weighted sum of expert outputs back in token order";
  let description = [{
    Inverse of `dsv3.moe_dispatch`: `result[t] = sum_k weights[t, k] *
    rows[row(t, k)]` with the row each copy was dispatched to (dropped
    copies contribute nothing). `rows` is `[R, H]`, `weights` `[T, K]`,
    `indices` `[T, K]`; the result is `[T, H]`. `num_experts`, `policy` and
    `capacity` must match the dispatch.

    Cost: `2 * T * K * H` FLOPs.

    ```mlir
    func.func @example(%rows: tensor<32x64xf32>, %w: tensor<16x2xf32>, %idx: tensor<16x2xi32>) -> tensor<16x64xf32> {
      %y = dsv3.moe_combine %rows, %w, %idx {num_experts = 8 : i64}
          : tensor<32x64xf32>, tensor<16x2xf32>, tensor<16x2xi32> -> tensor<16x64xf32>
      return %y : tensor<16x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$rows, Dsv3_FloatTensor:$weights,
      Dsv3_IndexTensor:$indices, I64Attr:$num_experts,
      DefaultValuedAttr<Dsv3_CapacityPolicyAttr,
                        "CapacityPolicy::dropless">:$policy,
      DefaultValuedAttr<I64Attr, "0">:$capacity);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $rows `,` $weights `,` $indices (`policy` `=` $policy^)? attr-dict `:`
    type($rows) `,` type($weights) `,` type($indices) `->` type($result)
  }];
}

def Dsv3_ExpertLoadOp : Dsv3_FlopsOp<"expert_load", [Pure, InferTypeOpAdaptor]> {
  let summary = "how many token copies each expert received";
  let description = [{
    Counts the entries of `indices` (`[..., K]`) equal to each expert id;
    the result is `[num_experts]` f32. Feeds the aux-loss-free bias update
    and the load metrics.

    Cost: one FLOP per index.

    ```mlir
    func.func @example(%idx: tensor<16x2xi32>) -> tensor<8xf32> {
      %load = dsv3.expert_load %idx {num_experts = 8 : i64} : tensor<16x2xi32> -> tensor<8xf32>
      return %load : tensor<8xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_IndexTensor:$indices, I64Attr:$num_experts);
  let results = (outs Dsv3_ScaleTensor:$result);
  let assemblyFormat = [{
    $indices attr-dict `:` type($indices) `->` type($result)
  }];
}

def Dsv3_BalanceLossOp : Dsv3_FlopsOp<"balance_loss",
    [Dsv3_Differentiable, Pure, InferTypeOpAdaptor]> {
  let summary = "sequence-wise expert balance loss (DeepSeek-V3)";
  let description = [{
    `scores` is `[B, S, E]` (the router's unbiased scores), `indices`
    `[B, S, K]` (the selected experts). Per sequence,
    `f_i = E / (K * S) * count_i`, `P_i = mean_s(scores[s, i] /
    sum_j scores[s, j])`, `loss = alpha * sum_i f_i * P_i`; the result
    (`tensor<f32>`, or f64 for f64 scores) is the mean over the batch.
    `alpha >= 0`.

    Cost: `3 * B * S * E` FLOPs.

    ```mlir
    func.func @example(%s: tensor<2x8x8xf32>, %idx: tensor<2x8x2xi32>) -> tensor<f32> {
      %l = dsv3.balance_loss %s, %idx, alpha = 1.0e-04 : tensor<2x8x8xf32>, tensor<2x8x2xi32> -> tensor<f32>
      return %l : tensor<f32>
    }
    ```
  }];
  let arguments = (ins Dsv3_F32Tensor:$scores, Dsv3_IndexTensor:$indices,
                       F64Attr:$alpha);
  let results = (outs Dsv3_FloatScalar:$result);
  let assemblyFormat = [{
    $scores `,` $indices `,` `alpha` `=` $alpha attr-dict `:` type($scores)
    `,` type($indices) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def Dsv3_CrossEntropyOp : Dsv3_FlopsOp<"cross_entropy",
    [Dsv3_Differentiable, Pure, InferTypeOpAdaptor]> {
  let summary = "mean softmax cross entropy over tokens";
  let description = [{
    `logits` is `[..., V]`, `targets` `[...]` (integers); the result
    (`tensor<f32>`, or f64 for f64 logits) is the mean of
    `-log_softmax(logits)[target]` over the
    tokens whose target is not `ignore_index` (default -100), each weighted
    by `mask` (same shape as `targets`, f32) when given: `sum(w * nll) /
    sum(w)`. A batch with no counted token gives 0.

    Cost: 5 FLOPs per logit.

    ```mlir
    func.func @example(%logits: tensor<2x8x256xf32>, %t: tensor<2x8xi32>) -> tensor<f32> {
      %loss = dsv3.cross_entropy %logits, %t : tensor<2x8x256xf32>, tensor<2x8xi32> -> tensor<f32>
      return %loss : tensor<f32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$logits, Dsv3_IndexTensor:$targets,
      Optional<Dsv3_ScaleTensor>:$mask,
      DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs Dsv3_FloatScalar:$result);
  let assemblyFormat = [{
    $logits `,` $targets (`mask` $mask^)? attr-dict `:` type($logits) `,`
    type($targets) (`,` type($mask)^)? `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Precision
//===----------------------------------------------------------------------===//

def Dsv3_QuantizeOp : Dsv3_FlopsOp<"quantize", [Pure]> {
  let summary = "fp8 quantization with tile or block scales";
  let description = [{
    Quantizes a float tensor `[..., M, K]` to fp8 with one f32 scale per
    `1x128` tile (scales `[..., M, ceil(K/128)]`, for activations) or per
    `128x128` block of the last two dimensions (scales
    `[..., ceil(M/128), ceil(K/128)]`, for weights: one set per expert of a
    stacked `[E, N, K]` weight). A dimension that is not a multiple of 128
    ends in a partial tile or block. `scale = amax / fp8_max` of the tile or
    block, rounded to f32 and at least 2^-126 (1 when the amax is 0), and
    `result = x / scale` computed in f32 (in f64 and rounded once to f32
    for an f64 input) and rounded to nearest even, saturating at
    `fp8_max`, as in DeepSeek-V3.

    Cost: 3 FLOPs per element (abs-max, divide, convert).

    ```mlir
    func.func @example(%x: tensor<16x256xbf16>) -> (tensor<16x256xf8E4M3FN>, tensor<16x2xf32>) {
      %q, %s = dsv3.quantize %x tile_1x128 : tensor<16x256xbf16> -> tensor<16x256xf8E4M3FN>, tensor<16x2xf32>
      return %q, %s : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_ScaleLayoutAttr:$layout);
  let results = (outs Dsv3_F8Tensor:$result, Dsv3_ScaleTensor:$scales);
  let assemblyFormat = [{
    $input $layout attr-dict `:` type($input) `->` type($result) `,`
    type($scales)
  }];
  let hasVerifier = 1;
}

def Dsv3_DequantizeOp : Dsv3_Op<"dequantize", [Pure]> {
  let summary = "fp8 to a wider float with tile or block scales";
  let description = [{
    `result = cast(input) * scale` of the element's tile or block, computed
    in f32 (exactly in f64 for an f64 result) and rounded to the result's
    type; `scales` has the shape `dsv3.quantize` gives for `layout`. The
    result has the
    input's shape, or with `transposed` its last two dimensions swapped
    (an input gradient reads a `[N, K]` weight as `[K, N]`), and a wider
    float element type.

    Cost: 1 FLOP per element.

    ```mlir
    func.func @example(%q: tensor<256x256xf8E4M3FN>, %s: tensor<2x2xf32>) -> tensor<256x256xbf16> {
      %w = dsv3.dequantize %q, %s block_128x128 : tensor<256x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<256x256xbf16>
      return %w : tensor<256x256xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_F8Tensor:$input, Dsv3_ScaleTensor:$scales,
                       Dsv3_ScaleLayoutAttr:$layout, UnitAttr:$transposed);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scales $layout (`transposed` $transposed^)? attr-dict `:`
    type($input) `,` type($scales) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dsv3_TransposeQuantizedOp : Dsv3_FlopsOp<"transpose_quantized", [Pure]> {
  let summary = "an fp8 matrix's transpose, tiled again along its new rows";
  let description = [{
    Takes fp8 `[M, K]` with `tile_1x128` scales `[M, ceil(K/128)]` and
    returns its transpose `[K, M]` quantized with `tile_1x128` scales
    `[K, ceil(M/128)]`: `quantize(transpose(dequantize(input, scales)))`
    with the dequantized values in f32. A weight gradient contracts over
    the tokens, so its activation operand needs tiles along them;
    DeepSeek-V3 keeps the forward's fp8 copy of the activation and
    re-tiles it for the backward, which this op does.

    Cost: 4 FLOPs per element.

    ```mlir
    func.func @example(%q: tensor<256x64xf8E4M3FN>, %s: tensor<256x1xf32>) -> (tensor<64x256xf8E4M3FN>, tensor<64x2xf32>) {
      %t, %ts = dsv3.transpose_quantized %q, %s : tensor<256x64xf8E4M3FN>, tensor<256x1xf32> -> tensor<64x256xf8E4M3FN>, tensor<64x2xf32>
      return %t, %ts : tensor<64x256xf8E4M3FN>, tensor<64x2xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_F8Tensor:$input, Dsv3_ScaleTensor:$scales);
  let results = (outs Dsv3_F8Tensor:$result, Dsv3_ScaleTensor:$result_scales);
  let assemblyFormat = [{
    $input `,` $scales attr-dict `:` type($input) `,` type($scales) `->`
    type($result) `,` type($result_scales)
  }];
  let hasVerifier = 1;
}

def Dsv3_ScaledMatmulOp : Dsv3_FlopsOp<"scaled_matmul", [Pure]> {
  let summary = "fp8 matrix multiplication with per-tile/per-block scales";
  let description = [{
    `result = dequantize(lhs) @ dequantize(rhs)` with f32 accumulation:
    `lhs` is fp8 `[M, K]` with `tile_1x128` scales `[M, ceil(K/128)]`;
    `rhs` is fp8 `[K, N]` (or `[N, K]` with `transpose_rhs`) with
    `block_128x128` scales over its stored shape. The result is f32 or bf16
    `[M, N]`.

    Cost: `2 * M * N * K` FLOPs.

    ```mlir
    func.func @example(%a: tensor<16x256xf8E4M3FN>, %as: tensor<16x2xf32>,
                       %b: tensor<128x256xf8E4M3FN>, %bs: tensor<1x2xf32>) -> tensor<16x128xbf16> {
      %y = dsv3.scaled_matmul %a, %as, %b, %bs transpose_rhs
          : tensor<16x256xf8E4M3FN>, tensor<16x2xf32>, tensor<128x256xf8E4M3FN>, tensor<1x2xf32> -> tensor<16x128xbf16>
      return %y : tensor<16x128xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_F8Tensor:$lhs, Dsv3_ScaleTensor:$lhs_scales,
                       Dsv3_F8Tensor:$rhs, Dsv3_ScaleTensor:$rhs_scales,
                       UnitAttr:$transpose_rhs);
  let results = (outs StaticShapeTensorOf<[F32, BF16]>:$result);
  let assemblyFormat = [{
    $lhs `,` $lhs_scales `,` $rhs `,` $rhs_scales
    (`transpose_rhs` $transpose_rhs^)? attr-dict `:` type($lhs) `,`
    type($lhs_scales) `,` type($rhs) `,` type($rhs_scales) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dsv3_FakeQuantOp : Dsv3_FlopsOp<"fake_quant", [Dsv3_Differentiable, Pure,
    SameOperandsAndResultType, InferTypeOpInterface]> {
  let summary = "symmetric integer fake quantization (QAT)";
  let description = [{
    `result = clamp(round(x / s), -q, q) * s` with `q = 2^(bits-1) - 1` and
    `s = max|x| / q` (1 when all zero); `2 <= bits <= 8`; `round` to nearest,
    ties to even. The maximum is over the tensor, or with `per_row` over
    each row of the last dimension: per output channel for a linear
    layer's `[N, K]` weight (each of its `N` rows), per token for an
    activation `[..., K]`. Its gradient is the straight-through estimator
    (identity).

    Cost: 4 FLOPs per element.

    ```mlir
    func.func @example(%w: tensor<64x64xf32>) -> tensor<64x64xf32> {
      %q = dsv3.fake_quant %w, bits = 8 per_row : tensor<64x64xf32>
      return %q : tensor<64x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, I64Attr:$bits,
                       UnitAttr:$per_row);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` `bits` `=` $bits (`per_row` $per_row^)? attr-dict `:`
    type($result)
  }];
  let hasVerifier = 1;
}

def Dsv3_ScaleOp : Dsv3_FlopsOp<"scale", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "multiplies by the dynamic loss scale";
  let description = [{
    `result = input * scale` with a scalar f32 `scale` (fp16 loss scaling
    of the loss before the backward pass).

    Cost: 1 FLOP per element.

    ```mlir
    func.func @example(%loss: tensor<f32>, %s: tensor<f32>) -> tensor<f32> {
      %y = dsv3.scale %loss, %s : tensor<f32>, tensor<f32>
      return %y : tensor<f32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_FloatScalar:$scale);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` type($input) `,` type($scale)
  }];
}

def Dsv3_UnscaleOp : Dsv3_FlopsOp<"unscale", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "divides a gradient by the dynamic loss scale";
  let description = [{
    `result = input / scale` with a scalar f32 `scale`.

    Cost: 1 FLOP per element.

    ```mlir
    func.func @example(%g: tensor<64x64xf16>, %s: tensor<f32>) -> tensor<64x64xf16> {
      %y = dsv3.unscale %g, %s : tensor<64x64xf16>, tensor<f32>
      return %y : tensor<64x64xf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_FloatScalar:$scale);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` type($input) `,` type($scale)
  }];
}

def Dsv3_AllFiniteOp : Dsv3_FlopsOp<"all_finite", [Pure, InferTypeOpAdaptor]> {
  let summary = "whether every element of every input is finite";
  let description = [{
    A `tensor<i1>` that is true when no input holds an inf or NaN; decides
    whether an fp16 step is applied or skipped. At least one input.

    Cost: 1 FLOP per input element.

    ```mlir
    func.func @example(%a: tensor<64xf16>, %b: tensor<8x8xf16>) -> tensor<i1> {
      %ok = dsv3.all_finite %a, %b : tensor<64xf16>, tensor<8x8xf16>
      return %ok : tensor<i1>
    }
    ```
  }];
  let arguments = (ins Variadic<Dsv3_FloatTensor>:$inputs);
  let results = (outs Dsv3_BoolScalar:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs)";
}

def Dsv3_UpdateLossScaleOp : Dsv3_Op<"update_loss_scale",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "dynamic loss-scale update";
  let description = [{
    Given the current `scale` (f32), the count of consecutive finite steps
    `good_steps` (i64) and whether this step was `finite`, returns the next
    scale and count: on a non-finite step the scale is multiplied by
    `backoff` and the count reset; after `growth_interval` finite steps the
    scale is multiplied by `growth` and the count reset. Defaults: 2.0,
    0.5, 2000. Requires `growth > 1`, `0 < backoff < 1`,
    `growth_interval >= 1`.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%s: tensor<f32>, %n: tensor<i64>, %ok: tensor<i1>) -> (tensor<f32>, tensor<i64>) {
      %s2, %n2 = dsv3.update_loss_scale %s, %n, %ok : tensor<f32>, tensor<i64>, tensor<i1>
      return %s2, %n2 : tensor<f32>, tensor<i64>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatScalar:$scale, Dsv3_IndexScalar:$good_steps,
      Dsv3_BoolScalar:$finite,
      DefaultValuedAttr<F64Attr, "2.0">:$growth,
      DefaultValuedAttr<F64Attr, "0.5">:$backoff,
      DefaultValuedAttr<I64Attr, "2000">:$growth_interval);
  let results = (outs Dsv3_FloatScalar:$new_scale,
                      Dsv3_IndexScalar:$new_good_steps);
  let assemblyFormat = [{
    $scale `,` $good_steps `,` $finite attr-dict `:` type($scale) `,`
    type($good_steps) `,` type($finite)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// 2:4 sparsity
//===----------------------------------------------------------------------===//

def Dsv3_Prune24Op : Dsv3_FlopsOp<"prune_2_4", [Pure, InferTypeOpAdaptor]> {
  let summary = "2:4 magnitude mask";
  let description = [{
    An `i1` mask of the input's shape that keeps the two largest-magnitude
    elements of every group of four consecutive elements of the last
    dimension (ties to the lower index). The last dimension is a multiple
    of 4.

    Cost: 1 FLOP per element.

    ```mlir
    func.func @example(%w: tensor<64x64xf32>) -> tensor<64x64xi1> {
      %m = dsv3.prune_2_4 %w : tensor<64x64xf32> -> tensor<64x64xi1>
      return %m : tensor<64x64xi1>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input);
  let results = (outs Dsv3_BoolTensor:$mask);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($mask)";
}

def Dsv3_MagnitudeMaskOp : Dsv3_FlopsOp<"magnitude_mask",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "mask that prunes the smallest magnitudes of a tensor";
  let description = [{
    An `i1` mask of the input's shape that is false for the `k` elements of
    smallest magnitude, `k = ceil(fraction * numel)` (in f64, the fraction
    clamped to [0, 1]: at least that fraction is pruned), and true
    elsewhere. Precisely: with `t` the `k`-th smallest
    `|x|`, an element is kept when `|x| > t`, so ties at `t` are pruned
    together and at least `k` elements are. `k = 0` keeps every element.
    With `batch_dims = n`, each index of the first `n` dimensions is a
    tensor of its own (one expert of stacked experts), with its own `k`
    and `t`. The input is f32 (master weights); the fraction is an f32
    scalar.

    Cost: 32 FLOPs per element (a bisection over the bits of `|x|`).

    ```mlir
    func.func @example(%w: tensor<64x64xf32>, %f: tensor<f32>) -> tensor<64x64xi1> {
      %m = dsv3.magnitude_mask %w, %f : tensor<64x64xf32>, tensor<f32> -> tensor<64x64xi1>
      return %m : tensor<64x64xi1>
    }
    ```
  }];
  let arguments = (ins Dsv3_F32Tensor:$input, Dsv3_FloatScalar:$fraction,
                       DefaultValuedAttr<I64Attr, "0">:$batch_dims);
  let results = (outs Dsv3_BoolTensor:$mask);
  let assemblyFormat = [{
    $input `,` $fraction attr-dict `:` type($input) `,` type($fraction) `->`
    type($mask)
  }];
  let hasVerifier = 1;
}

def Dsv3_Compress24Op : Dsv3_Op<"compress_2_4", [Pure, InferTypeOpAdaptor]> {
  let summary = "packs a 2:4-sparse tensor into values and positions";
  let description = [{
    For every group of four along the last dimension, keeps the two
    largest-magnitude values (`values`, `[..., K/2]`) and their positions
    0..3 within the group (`indices`, `[..., K/2]` i8), in ascending
    position order. Applied to a tensor already masked 2:4 it is lossless.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%w: tensor<64x64xbf16>) -> (tensor<64x32xbf16>, tensor<64x32xi8>) {
      %v, %i = dsv3.compress_2_4 %w : tensor<64x64xbf16> -> tensor<64x32xbf16>, tensor<64x32xi8>
      return %v, %i : tensor<64x32xbf16>, tensor<64x32xi8>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input);
  let results = (outs Dsv3_FloatTensor:$values, Dsv3_I8Tensor:$indices);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($values) `,` type($indices)
  }];
}

def Dsv3_Decompress24Op : Dsv3_Op<"decompress_2_4",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "expands packed 2:4 values back to a dense tensor";
  let description = [{
    Inverse of `dsv3.compress_2_4`: `[..., K/2]` values and positions give
    `[..., K]` with zeros in the pruned positions. Positions are in 0..3.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%v: tensor<64x32xbf16>, %i: tensor<64x32xi8>) -> tensor<64x64xbf16> {
      %w = dsv3.decompress_2_4 %v, %i : tensor<64x32xbf16>, tensor<64x32xi8> -> tensor<64x64xbf16>
      return %w : tensor<64x64xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$values, Dsv3_I8Tensor:$indices);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $values `,` $indices attr-dict `:` type($values) `,` type($indices) `->`
    type($result)
  }];
}

def Dsv3_SparseMatmulOp : Dsv3_FlopsOp<"sparse_matmul",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "matrix multiplication by a 2:4-sparse weight";
  let description = [{
    `result = lhs @ W^T` where `W` (`[N, K]`, the layout of a linear
    layer's weight) is given compressed along `K` as `values` `[N, K/2]`
    and `indices` `[N, K/2]` (see `dsv3.compress_2_4`). `lhs` is
    `[..., M, K]`; the result is `[..., M, N]` in the element type of
    `lhs`.

    Cost: `batch * M * N * K` FLOPs (half the dense count).

    ```mlir
    func.func @example(%x: tensor<16x64xbf16>, %v: tensor<128x32xbf16>, %i: tensor<128x32xi8>) -> tensor<16x128xbf16> {
      %y = dsv3.sparse_matmul %x, %v, %i : tensor<16x64xbf16>, tensor<128x32xbf16>, tensor<128x32xi8> -> tensor<16x128xbf16>
      return %y : tensor<16x128xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$lhs, Dsv3_FloatTensor:$values,
                       Dsv3_I8Tensor:$indices);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $values `,` $indices attr-dict `:` type($lhs) `,` type($values)
    `,` type($indices) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

def Dsv3_AllReduceOp : Dsv3_FlopsOp<"all_reduce", [Pure,
    SameOperandsAndResultType, InferTypeOpInterface]> {
  let summary = "all-reduce over a mesh axis";
  let description = [{
    Every rank of the `group` mesh axis (e.g. `"dp"`) receives the sum,
    mean or max of all ranks' inputs.

    Cost: 1 FLOP per element; the bytes are the local tensor's.

    ```mlir
    func.func @example(%g: tensor<64x64xf32>) -> tensor<64x64xf32> {
      %y = dsv3.all_reduce mean %g, group = "dp" : tensor<64x64xf32>
      return %y : tensor<64x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_ReduceKindAttr:$reduction,
                       Dsv3_NumericTensor:$input, StrAttr:$group);
  let results = (outs Dsv3_NumericTensor:$result);
  let assemblyFormat = [{
    $reduction $input `,` `group` `=` $group attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Dsv3_ReduceScatterOp : Dsv3_FlopsOp<"reduce_scatter",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "reduce-scatter over a mesh axis";
  let description = [{
    Reduces the inputs of the `group_size` ranks of `group` and leaves rank
    `r` the `r`-th of `group_size` equal slices along `dim`, which must be
    divisible by `group_size`.

    Cost: 1 FLOP per input element.

    ```mlir
    func.func @example(%g: tensor<64x64xf32>) -> tensor<32x64xf32> {
      %y = dsv3.reduce_scatter sum %g, group = "dp", group_size = 2, dim = 0
          : tensor<64x64xf32> -> tensor<32x64xf32>
      return %y : tensor<32x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_ReduceKindAttr:$reduction,
                       Dsv3_NumericTensor:$input, StrAttr:$group,
                       I64Attr:$group_size, I64Attr:$dim);
  let results = (outs Dsv3_NumericTensor:$result);
  let assemblyFormat = [{
    $reduction $input `,` `group` `=` $group `,` `group_size` `=` $group_size
    `,` `dim` `=` $dim attr-dict `:` type($input) `->` type($result)
  }];
}

def Dsv3_AllGatherOp : Dsv3_Op<"all_gather", [Pure, InferTypeOpAdaptor]> {
  let summary = "all-gather over a mesh axis";
  let description = [{
    Concatenates the inputs of the `group_size` ranks of `group` along
    `dim`, in rank order; every rank receives the result.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%p: tensor<32x64xbf16>) -> tensor<64x64xbf16> {
      %y = dsv3.all_gather %p, group = "dp", group_size = 2, dim = 0
          : tensor<32x64xbf16> -> tensor<64x64xbf16>
      return %y : tensor<64x64xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input, StrAttr:$group,
                       I64Attr:$group_size, I64Attr:$dim);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $input `,` `group` `=` $group `,` `group_size` `=` $group_size `,` `dim`
    `=` $dim attr-dict `:` type($input) `->` type($result)
  }];
}

def Dsv3_AllToAllOp : Dsv3_Op<"all_to_all", [Pure, InferTypeOpAdaptor]> {
  let summary = "all-to-all over a mesh axis (expert-parallel dispatch)";
  let description = [{
    Splits the input into `group_size` slices along `split_dim`, sends
    slice `r` to rank `r` of `group` (e.g. `"ep"`), and concatenates the
    received slices along `concat_dim` in rank order.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%rows: tensor<32x64xbf16>) -> tensor<32x64xbf16> {
      %y = dsv3.all_to_all %rows, group = "ep", group_size = 4, split_dim = 0, concat_dim = 0
          : tensor<32x64xbf16> -> tensor<32x64xbf16>
      return %y : tensor<32x64xbf16>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input, StrAttr:$group,
                       I64Attr:$group_size, I64Attr:$split_dim,
                       I64Attr:$concat_dim);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $input `,` `group` `=` $group `,` `group_size` `=` $group_size `,`
    `split_dim` `=` $split_dim `,` `concat_dim` `=` $concat_dim attr-dict `:`
    type($input) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def Dsv3_AdamWOp : Dsv3_FlopsOp<"adamw", [Pure, InferTypeOpAdaptor]> {
  let summary = "one AdamW update with bias correction";
  let description = [{
    With `t = step` (1-based), `m' = b1*m + (1-b1)*g`,
    `v' = b2*v + (1-b2)*g^2`, `p' = p - lr * (m'/(1-b1^t) /
    (sqrt(v'/(1-b2^t)) + eps) + weight_decay * p)` (decoupled weight
    decay). Moments may be f32 or bf16 and keep their type; `grad` has the
    parameter's shape. Requires `0 <= beta < 1`, `eps > 0`,
    `weight_decay >= 0`.

    Cost: 12 FLOPs per parameter element.

    ```mlir
    func.func @example(%p: tensor<64xf32>, %g: tensor<64xf32>, %m: tensor<64xf32>, %v: tensor<64xf32>,
                       %lr: tensor<f32>, %step: tensor<i64>) -> (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) {
      %p2, %m2, %v2 = dsv3.adamw %p, %g, %m, %v, %lr, %step {beta1 = 0.9 : f64, beta2 = 0.95 : f64, eps = 1.0e-08 : f64, weight_decay = 0.1 : f64}
          : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<i64>
      return %p2, %m2, %v2 : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$param, Dsv3_FloatTensor:$grad,
      Dsv3_FloatTensor:$m, Dsv3_FloatTensor:$v, Dsv3_FloatScalar:$lr,
      Dsv3_IndexScalar:$step,
      DefaultValuedAttr<F64Attr, "0.9">:$beta1,
      DefaultValuedAttr<F64Attr, "0.95">:$beta2,
      DefaultValuedAttr<F64Attr, "1.0e-8">:$eps,
      DefaultValuedAttr<F64Attr, "0.1">:$weight_decay);
  let results = (outs Dsv3_FloatTensor:$new_param, Dsv3_FloatTensor:$new_m,
                      Dsv3_FloatTensor:$new_v);
  let assemblyFormat = [{
    $param `,` $grad `,` $m `,` $v `,` $lr `,` $step attr-dict `:`
    type($param) `,` type($grad) `,` type($m) `,` type($v) `,` type($lr) `,`
    type($step)
  }];
  let hasVerifier = 1;
}

def Dsv3_ClipByGlobalNormOp : Dsv3_FlopsOp<"clip_by_global_norm",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "scales gradients so that their global L2 norm is bounded";
  let description = [{
    `norm = sqrt(sum of squares of all inputs)`; every input is multiplied
    by `min(1, max_norm / (norm + 1e-6))`. Returns the clipped tensors (same
    types) followed by the norm before clipping (`tensor<f32>`).
    `max_norm > 0`; at least one input.

    Cost: 3 FLOPs per element.

    ```mlir
    func.func @example(%a: tensor<64xf32>, %b: tensor<8x8xf32>) -> (tensor<64xf32>, tensor<8x8xf32>, tensor<f32>) {
      %ca, %cb, %norm = dsv3.clip_by_global_norm %a, %b max_norm = 1.0 : tensor<64xf32>, tensor<8x8xf32>
      return %ca, %cb, %norm : tensor<64xf32>, tensor<8x8xf32>, tensor<f32>
    }
    ```
  }];
  let arguments = (ins Variadic<Dsv3_FloatTensor>:$inputs, F64Attr:$max_norm);
  let results = (outs Variadic<Dsv3_FloatTensor>:$clipped,
                      Dsv3_FloatScalar:$norm);
  let assemblyFormat = [{
    $inputs `max_norm` `=` $max_norm attr-dict `:` type($inputs)
  }];
}

def Dsv3_LrScheduleOp : Dsv3_Op<"lr_schedule", [Pure, InferTypeOpAdaptor]> {
  let summary = "linear warmup then cosine decay";
  let description = [{
    For `step < warmup_steps`: `peak_lr * (step + 1) / warmup_steps`; then
    cosine decay from `peak_lr` to `min_lr` over the remaining
    `total_steps - warmup_steps` steps, and `min_lr` after. Requires
    `peak_lr >= min_lr >= 0` and `0 <= warmup_steps <= total_steps`,
    `total_steps >= 1`.

    Cost: 0 FLOPs (one scalar).

    ```mlir
    func.func @example(%step: tensor<i64>) -> tensor<f32> {
      %lr = dsv3.lr_schedule %step {peak_lr = 3.0e-04 : f64, min_lr = 3.0e-05 : f64,
                                    warmup_steps = 100 : i64, total_steps = 1000 : i64} : tensor<i64>
      return %lr : tensor<f32>
    }
    ```
  }];
  let arguments = (ins Dsv3_IndexScalar:$step, F64Attr:$peak_lr,
                       DefaultValuedAttr<F64Attr, "0.0">:$min_lr,
                       I64Attr:$warmup_steps, I64Attr:$total_steps);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$step attr-dict `:` type($step)";
  let hasVerifier = 1;
}

def Dsv3_UpdateRouterBiasOp : Dsv3_FlopsOp<"update_router_bias",
    [Pure, AllTypesMatch<["bias", "load"]>, InferTypeOpAdaptor]> {
  let summary = "aux-loss-free balancing: bias step against the load";
  let description = [{
    `result[e] = bias[e] + gamma * sign(mean(load) - load[e])`: overloaded
    experts become less attractive, underloaded ones more. `bias` and
    `load` are `[E]`; `gamma >= 0` (DeepSeek-V3: 0.001).

    Cost: 3 FLOPs per expert.

    ```mlir
    func.func @example(%bias: tensor<8xf32>, %load: tensor<8xf32>) -> tensor<8xf32> {
      %b = dsv3.update_router_bias %bias, %load, gamma = 1.0e-03 : tensor<8xf32>
      return %b : tensor<8xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_F32Tensor:$bias, Dsv3_F32Tensor:$load,
                       F64Attr:$gamma);
  let results = (outs Dsv3_F32Tensor:$result);
  let assemblyFormat = [{
    $bias `,` $load `,` `gamma` `=` $gamma attr-dict `:` type($bias)
  }];
}

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

def Dsv3_FusionOp : Dsv3_FlopsOp<"fusion", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">, RecursiveMemoryEffects]> {
  let summary = "a group of ops compiled into one kernel";
  let description = [{
    The body takes the fusion's inputs as block arguments (same types, same
    order) and yields its results; it is isolated from above so it can be
    outlined into a kernel as is. Produced by `dsv3-fuse`.

    Cost: the sum of the body's FLOPs; bytes are only the fusion's inputs
    and results (intermediates stay in registers).

    ```mlir
    func.func @example(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
      %y = dsv3.fusion ins(%a, %b : tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
      ^bb0(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>):
        %s = dsv3.add %x, %z : tensor<4x8xf32>
        %t = dsv3.silu %s : tensor<4x8xf32>
        dsv3.yield %t : tensor<4x8xf32>
      }
      return %y : tensor<4x8xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Dsv3_Tensor>:$inputs);
  let results = (outs Variadic<Dsv3_Tensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    (`ins` `(` $inputs^ `:` type($inputs) `)`)? attr-dict-with-keyword
    (`->` type($results)^)? $body
  }];
  let hasVerifier = 1;
}

def Dsv3_YieldOp : Dsv3_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"FusionOp">]> {
  let summary = "returns the results of a fusion body";
  let description = [{
    Terminates a `dsv3.fusion` body; its operands become the fusion's
    results (types must match).

    ```mlir
    func.func @example(%a: tensor<4xf32>) -> tensor<4xf32> {
      %y = dsv3.fusion ins(%a : tensor<4xf32>) -> tensor<4xf32> {
      ^bb0(%x: tensor<4xf32>):
        %e = dsv3.exp %x : tensor<4xf32>
        dsv3.yield %e : tensor<4xf32>
      }
      return %y : tensor<4xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Dsv3_Tensor>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

//===----------------------------------------------------------------------===//
// Comparison and padding
//===----------------------------------------------------------------------===//

def Dsv3_ComparePredicateAttr : I32EnumAttr<"ComparePredicate",
    "comparison predicate", [
    I32EnumAttrCase<"eq", 0>,
    I32EnumAttrCase<"ne", 1>,
    I32EnumAttrCase<"lt", 2>,
    I32EnumAttrCase<"le", 3>,
    I32EnumAttrCase<"gt", 4>,
    I32EnumAttrCase<"ge", 5>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_CompareOp : Dsv3_Op<"compare", [Pure, Elementwise,
    AllTypesMatch<["lhs", "rhs"]>, InferTypeOpAdaptor]> {
  let summary = "elementwise comparison";
  let description = [{
    `result = lhs <predicate> rhs`, elementwise, as an `i1` tensor of the
    operands' shape.

    Cost: 1 FLOP per element.

    ```mlir
    func.func @example(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xi1> {
      %m = dsv3.compare ge %a, %b : tensor<4xf32>
      return %m : tensor<4xi1>
    }
    ```
  }];
  let arguments = (ins Dsv3_ComparePredicateAttr:$predicate,
                       Dsv3_NumericTensor:$lhs, Dsv3_NumericTensor:$rhs);
  let results = (outs Dsv3_BoolTensor:$result);
  let assemblyFormat = "$predicate $lhs `,` $rhs attr-dict `:` type($lhs)";
}

def Dsv3_PadOp : Dsv3_Op<"pad", [Dsv3_Differentiable,
    Pure, InferTypeOpAdaptor]> {
  let summary = "zero padding, with optional interior padding";
  let description = [{
    Places `input[i]` at `low[d] + i * (interior[d] + 1)` of a zero tensor
    of size `low + size + (size - 1) * interior + high` in every dimension
    `d`; `interior` defaults to zeros. All padding amounts are >= 0. It is
    the gradient of `dsv3.slice`.

    Cost: 0 FLOPs.

    ```mlir
    func.func @example(%x: tensor<2x7xf32>) -> tensor<2x8xf32> {
      %y = dsv3.pad %x, low = [0, 1], high = [0, 0] : tensor<2x7xf32> -> tensor<2x8xf32>
      return %y : tensor<2x8xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_Tensor:$input, DenseI64ArrayAttr:$low,
                       DenseI64ArrayAttr:$high,
                       OptionalAttr<DenseI64ArrayAttr>:$interior);
  let results = (outs Dsv3_Tensor:$result);
  let assemblyFormat = [{
    $input `,` `low` `=` $low `,` `high` `=` $high
    (`,` `interior` `=` $interior^)? attr-dict `:` type($input) `->`
    type($result)
  }];
}

def Dsv3_ScatterAddOp : Dsv3_Op<"scatter_add", [Pure]> {
  let summary = "sums slices into a zero tensor at integer indices";
  let description = [{
    The gradient of `dsv3.gather` (and of `dsv3.embedding`, a gather along
    dimension 0): starting from zeros of the result type,
    `result[a..., indices[i...], b...] += updates[a..., i..., b...]` along
    `dim`. `updates` has the shape `dsv3.gather` would produce from the
    result shape and `indices`.

    Cost: one FLOP per update element.

    ```mlir
    func.func @example(%dy: tensor<2x8x64xf32>, %ids: tensor<2x8xi32>) -> tensor<256x64xf32> {
      %g = dsv3.scatter_add %dy[%ids] dim = 0 : tensor<2x8x64xf32>, tensor<2x8xi32> -> tensor<256x64xf32>
      return %g : tensor<256x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_NumericTensor:$updates, Dsv3_IndexTensor:$indices,
                       I64Attr:$dim);
  let results = (outs Dsv3_NumericTensor:$result);
  let assemblyFormat = [{
    $updates `[` $indices `]` `dim` `=` $dim attr-dict `:` type($updates) `,`
    type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Backward ops: gradients that are kernels of their own
//===----------------------------------------------------------------------===//

def Dsv3_RmsNormGradOp : Dsv3_FlopsOp<"rms_norm_grad",
    [Pure, AllTypesMatch<["input", "d_result"]>, InferTypeOpAdaptor]> {
  let summary = "gradient of dsv3.rms_norm";
  let description = [{
    With `r = rsqrt(mean(x^2) + eps)` over the last dimension and
    `y = x * r * weight`: `d_input = r * (g - x * r^2 * mean(g * x))` where
    `g = d_result * weight`, and `d_weight = sum over rows of
    d_result * x * r`.

    Cost: 8 FLOPs per element of `input`.

    ```mlir
    func.func @example(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>, %dy: tensor<2x8x64xf32>)
        -> (tensor<2x8x64xf32>, tensor<64xf32>) {
      %dx, %dw = dsv3.rms_norm_grad %x, %w, %dy, eps = 1.0e-06 : tensor<2x8x64xf32>, tensor<64xf32>
      return %dx, %dw : tensor<2x8x64xf32>, tensor<64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_FloatTensor:$weight,
                       Dsv3_FloatTensor:$d_result, F64Attr:$eps);
  let results = (outs Dsv3_FloatTensor:$d_input, Dsv3_FloatTensor:$d_weight);
  let assemblyFormat = [{
    $input `,` $weight `,` $d_result `,` `eps` `=` $eps attr-dict `:`
    type($input) `,` type($weight)
  }];
}

def Dsv3_AttentionGradOp : Dsv3_FlopsOp<"attention_grad",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "gradient of dsv3.attention";
  let description = [{
    Given the forward operands and the cotangent of the output, returns
    the cotangents of query, key and value (key/value heads shared by a
    query group receive the sum over the group). Same masking as the
    forward op.

    Cost, with `P` as for `dsv3.attention`: `4*B*H*P*Dqk + 4*B*H*P*Dv +
    6*B*H*P` FLOPs (the scores are recomputed).

    ```mlir
    func.func @example(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x8x4x16xf32>,
                       %do: tensor<2x8x4x16xf32>) -> (tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>) {
      %dq, %dk, %dv = dsv3.attention_grad %q, %k, %v, %do causal scale = 2.500000e-01
          : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>
      return %dq, %dk, %dv : tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$query, Dsv3_FloatTensor:$key,
                       Dsv3_FloatTensor:$value, Dsv3_FloatTensor:$d_result,
                       Optional<Dsv3_IndexTensor>:$segment_ids,
                       UnitAttr:$causal, F64Attr:$scale);
  let results = (outs Dsv3_FloatTensor:$d_query, Dsv3_FloatTensor:$d_key,
                      Dsv3_FloatTensor:$d_value);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $d_result (`segments` $segment_ids^)?
    (`causal` $causal^)? `scale` `=` $scale attr-dict `:` type($query) `,`
    type($key) `,` type($value) `,` type($d_result)
    (`,` type($segment_ids)^)?
  }];
}

def Dsv3_CrossEntropyGradOp : Dsv3_FlopsOp<"cross_entropy_grad",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "gradient of dsv3.cross_entropy";
  let description = [{
    `d_logits = d_loss * w * (softmax(logits) - onehot(target)) / sum(w)`
    per counted token (`w` the mask or 1, 0 for ignored targets), with the
    logits' type.

    Cost: 5 FLOPs per logit.

    ```mlir
    func.func @example(%logits: tensor<2x8x256xf32>, %t: tensor<2x8xi32>, %dl: tensor<f32>) -> tensor<2x8x256xf32> {
      %g = dsv3.cross_entropy_grad %logits, %t, %dl : tensor<2x8x256xf32>, tensor<2x8xi32>, tensor<f32>
      return %g : tensor<2x8x256xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$logits, Dsv3_IndexTensor:$targets,
      Dsv3_FloatScalar:$d_loss, Optional<Dsv3_ScaleTensor>:$mask,
      DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs Dsv3_FloatTensor:$d_logits);
  let assemblyFormat = [{
    $logits `,` $targets `,` $d_loss (`mask` $mask^)? attr-dict `:`
    type($logits) `,` type($targets) `,` type($d_loss) (`,` type($mask)^)?
  }];
}

def Dsv3_RouterGradOp : Dsv3_FlopsOp<"router_grad",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "gradient of dsv3.router with respect to the logits";
  let description = [{
    The selection (`indices`, from the forward router) is held fixed; the
    gate weights are the selected unbiased scores (normalized when
    `norm_topk_prob`, times `route_scale`) and `scores` is
    `softmax(logits)` or `sigmoid(logits)`. Returns `d_logits` `[T, E]`
    from the cotangents of the weights and, optionally, of the scores.
    Attributes as on the forward router.

    Cost: 8 FLOPs per logit.

    ```mlir
    func.func @example(%logits: tensor<16x8xf32>, %idx: tensor<16x2xi32>, %dw: tensor<16x2xf32>) -> tensor<16x8xf32> {
      %g = dsv3.router_grad sigmoid %logits, %idx, %dw {route_scale = 2.5 : f64, norm_topk_prob}
          : tensor<16x8xf32>, tensor<16x2xi32>, tensor<16x2xf32>
      return %g : tensor<16x8xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_ScoringFuncAttr:$scoring,
      Dsv3_FloatTensor:$logits, Dsv3_I32Tensor:$indices,
      Dsv3_F32Tensor:$d_weights, Optional<Dsv3_F32Tensor>:$d_scores,
      DefaultValuedAttr<F64Attr, "1.0">:$route_scale,
      UnitAttr:$norm_topk_prob);
  let results = (outs Dsv3_FloatTensor:$d_logits);
  let assemblyFormat = [{
    $scoring $logits `,` $indices `,` $d_weights (`scores` $d_scores^)?
    attr-dict `:` type($logits) `,` type($indices) `,` type($d_weights)
    (`,` type($d_scores)^)?
  }];
}

def Dsv3_MoeCombineGradOp : Dsv3_FlopsOp<"moe_combine_grad",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "gradient of dsv3.moe_combine";
  let description = [{
    `d_rows[row(t, k)] = weights[t, k] * d_result[t]` (zero for unused
    rows) and `d_weights[t, k] = <rows[row(t, k)], d_result[t]>` (zero for
    dropped copies). `num_experts`, `policy` and `capacity` as on the
    forward op.

    Cost: `4 * T * K * H` FLOPs.

    ```mlir
    func.func @example(%rows: tensor<32x64xf32>, %w: tensor<16x2xf32>, %idx: tensor<16x2xi32>,
                       %dy: tensor<16x64xf32>) -> (tensor<32x64xf32>, tensor<16x2xf32>) {
      %dr, %dw = dsv3.moe_combine_grad %rows, %w, %idx, %dy {num_experts = 8 : i64}
          : tensor<32x64xf32>, tensor<16x2xf32>, tensor<16x2xi32>, tensor<16x64xf32>
      return %dr, %dw : tensor<32x64xf32>, tensor<16x2xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$rows, Dsv3_FloatTensor:$weights,
      Dsv3_IndexTensor:$indices, Dsv3_FloatTensor:$d_result,
      I64Attr:$num_experts,
      DefaultValuedAttr<Dsv3_CapacityPolicyAttr,
                        "CapacityPolicy::dropless">:$policy,
      DefaultValuedAttr<I64Attr, "0">:$capacity);
  let results = (outs Dsv3_FloatTensor:$d_rows, Dsv3_FloatTensor:$d_weights);
  let assemblyFormat = [{
    $rows `,` $weights `,` $indices `,` $d_result (`policy` `=` $policy^)?
    attr-dict `:` type($rows) `,` type($weights) `,` type($indices) `,`
    type($d_result)
  }];
}

def Dsv3_GroupedMatmulWgradOp : Dsv3_FlopsOp<"grouped_matmul_wgrad",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "weight gradient of dsv3.grouped_matmul";
  let description = [{
    `result[e] = input_e^T @ d_result_e` over the rows of group `e`
    (`[E, K, N]`), or its transpose `[E, N, K]` with `transpose_rhs`
    (matching the forward weight's layout). `input` is `[R, K]`,
    `d_result` `[R, N]`.

    Cost: `2 * R * K * N` FLOPs.

    ```mlir
    func.func @example(%x: tensor<32x64xf32>, %dy: tensor<32x16xf32>, %sizes: tensor<8xi32>) -> tensor<8x16x64xf32> {
      %dw = dsv3.grouped_matmul_wgrad %x, %dy, %sizes transpose_rhs : tensor<32x64xf32>, tensor<32x16xf32>, tensor<8xi32> -> tensor<8x16x64xf32>
      return %dw : tensor<8x16x64xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_FloatTensor:$d_result,
                       Dsv3_I32Tensor:$group_sizes, UnitAttr:$transpose_rhs);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $d_result `,` $group_sizes (`transpose_rhs` $transpose_rhs^)?
    attr-dict `:` type($input) `,` type($d_result) `,` type($group_sizes)
    `->` type($result)
  }];
}

def Dsv3_BalanceLossGradOp : Dsv3_FlopsOp<"balance_loss_grad",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "gradient of dsv3.balance_loss with respect to the scores";
  let description = [{
    The expert counts `f_i` are held fixed (they come from the
    selection); the cotangent flows through the normalized scores.

    Cost: `4 * B * S * E` FLOPs.

    ```mlir
    func.func @example(%s: tensor<2x8x8xf32>, %idx: tensor<2x8x2xi32>, %dl: tensor<f32>) -> tensor<2x8x8xf32> {
      %g = dsv3.balance_loss_grad %s, %idx, %dl, alpha = 1.0e-04 : tensor<2x8x8xf32>, tensor<2x8x2xi32>, tensor<f32>
      return %g : tensor<2x8x8xf32>
    }
    ```
  }];
  let arguments = (ins Dsv3_F32Tensor:$scores, Dsv3_IndexTensor:$indices,
                       Dsv3_FloatScalar:$d_loss, F64Attr:$alpha);
  let results = (outs Dsv3_F32Tensor:$d_scores);
  let assemblyFormat = [{
    $scores `,` $indices `,` $d_loss `,` `alpha` `=` $alpha attr-dict `:`
    type($scores) `,` type($indices) `,` type($d_loss)
  }];
}

#endif // DSV3_OPS_TD
