//===- Rewriters.h - dsv3 to linalg patterns, by op family ------*- C++ -*-===//

#ifndef DSV3_CONVERSION_DSV3TOLINALG_REWRITERS_H
#define DSV3_CONVERSION_DSV3TOLINALG_REWRITERS_H

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::dsv3 {

/// Elementwise ops: one parallel linalg.generic each.
void populateDsv3PointwiseToLinalgPatterns(MLIRContext *context,
                                           RewritePatternSet &patterns);
/// Reductions, softmax and log-softmax.
void populateDsv3ReduceToLinalgPatterns(MLIRContext *context,
                                        RewritePatternSet &patterns);
/// RMSNorm and its gradient, embedding and gather, cross entropy and its
/// gradient, RoPE.
void populateDsv3LayersToLinalgPatterns(MLIRContext *context,
                                        RewritePatternSet &patterns);
/// AdamW, the learning-rate schedule, clipping, expert loads, the router
/// bias update, the finiteness check, and scatter-add (as a loop).
void populateDsv3OptimizerToLinalgPatterns(MLIRContext *context,
                                           RewritePatternSet &patterns);
/// Attention and its gradient as dsv3 GEMMs, masking and softmax (lowered
/// in turn by the other patterns).
void populateDsv3AttentionDecompositionPatterns(MLIRContext *context,
                                                RewritePatternSet &patterns);
/// MoE dispatch, combine (and its gradient) as generics that gather by
/// the positions the routing assigns (with loops over the copies, or with
/// `parallelRouting` generics over chunks of them); grouped GEMMs (and the
/// weight gradient) as scf loops over experts.
void populateDsv3MoEToLoopsPatterns(MLIRContext *context,
                                    RewritePatternSet &patterns,
                                    bool parallelRouting);
/// The router (its selection a parallel generic over (token, pick)), its
/// gradient, the balance
/// loss and its gradient.
void populateDsv3RoutingToLinalgPatterns(MLIRContext *context,
                                         RewritePatternSet &patterns);
/// The 2:4 mask, the magnitude mask and fake quantization.
void populateDsv3SparsityToLinalgPatterns(MLIRContext *context,
                                          RewritePatternSet &patterns);
/// fp8 (E4M3FN) quantize, dequantize and transpose_quantized.
void populateDsv3Fp8ToLinalgPatterns(MLIRContext *context,
                                     RewritePatternSet &patterns);
/// Constants, reshape, transpose, broadcast, slice, pad, concat, matmul,
/// and the inlining of fusion regions.
void populateDsv3StructuralToLinalgPatterns(MLIRContext *context,
                                            RewritePatternSet &patterns);

/// The GEMM `lhs * rhs` as one contraction generic over `maps` (lhs, rhs,
/// result; the last loop reduces) into a result shaped like `zeroInit`, a
/// tensor of zeros. A GEMM in a type narrower than f32 (bf16, f16)
/// accumulates in f32, as dsv3's GEMMs do, and rounds once at the end.
Value buildContraction(OpBuilder &b, Location loc, Value lhs, Value rhs,
                       Value zeroInit, ArrayRef<AffineMap> maps);

/// Float scalar `v` narrowed to the float type `to`, rounded to nearest
/// even once. An f64 bound for bf16 goes to f32 by round-to-odd first
/// (truncate, and set the lowest bit when that lost anything), which keeps
/// enough of the discarded bits for the rounding to bf16 to give the one
/// correct result, and which no target needs a libcall for.
Value truncateFloat(OpBuilder &b, Location loc, Value v, Type to);

} // namespace mlir::dsv3

#endif // DSV3_CONVERSION_DSV3TOLINALG_REWRITERS_H
