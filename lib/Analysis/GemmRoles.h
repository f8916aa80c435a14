//===- GemmRoles.h - what each GEMM of a step computes ----------*- C++ -*-===//
//
// The recipes treat GEMMs by what they compute: the router's gate
// projection and the output head keep precisions of their own. One
// classification serves the precision policy and its checker.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_ANALYSIS_GEMMROLES_H
#define DSV3_ANALYSIS_GEMMROLES_H

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::dsv3 {

enum class GemmRole { linear, router, head };

/// `v` before any reshapes and casts (a narrowed GEMM's operands are
/// narrowed by casts, its result widened by one).
Value throughViews(Value v);

/// Is `v` (through views) a parameter of `fn`: a weight?
bool isParameter(func::FuncOp fn, Value v);

/// The dequantize of E4M3 that `v` is (through reshapes and transposes):
/// a GEMM operand that `policy=fp8` placed; null if none.
DequantizeOp dequantizedFp8(Value v);
inline bool isDequantizedFp8(Value v) {
  return static_cast<bool>(dequantizedFp8(v));
}

/// The GEMMs of `fn` that are not a linear layer's: the router's gate
/// projection (it computes a `dsv3.router`'s logits) and the two GEMMs of
/// the logits' gradient (`dsv3.router_grad`), and likewise the output head
/// (`dsv3.cross_entropy`, `dsv3.cross_entropy_grad`). Every other GEMM is
/// `linear` and absent from the map.
llvm::DenseMap<Operation *, GemmRole> classifyGemms(func::FuncOp fn);

} // namespace mlir::dsv3

#endif // DSV3_ANALYSIS_GEMMROLES_H
