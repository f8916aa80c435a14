//===- Eval.h - per-family evaluators of the interpreter --------*- C++ -*-===//
//
// Internal to lib/Interpreter: each family returns std::nullopt for ops it
// does not handle, else success or failure (with a diagnostic emitted).
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_INTERPRETER_EVAL_H
#define DSV3_INTERPRETER_EVAL_H

#include "Interpreter/HostTensor.h"

#include "mlir/IR/Operation.h"

#include <optional>

namespace mlir::dsv3::interp {

using Inputs = llvm::ArrayRef<const HostTensor *>;
using Outputs = llvm::SmallVectorImpl<HostTensor>;

std::optional<LogicalResult> evalBasic(Operation *op, Inputs in, Outputs &out);
std::optional<LogicalResult> evalLayers(Operation *op, Inputs in, Outputs &out);
std::optional<LogicalResult> evalMoE(Operation *op, Inputs in, Outputs &out);
std::optional<LogicalResult> evalPrecision(Operation *op, Inputs in,
                                           Outputs &out);
std::optional<LogicalResult> evalOptimizer(Operation *op, Inputs in,
                                           Outputs &out);

/// Result `i` of `op` as an empty (zero) host tensor.
HostTensor resultTensor(Operation *op, unsigned i = 0);

/// Multi-index helpers over row-major shapes.
void unflatten(int64_t flat, llvm::ArrayRef<int64_t> shape,
               llvm::SmallVectorImpl<int64_t> &index);
int64_t flatten(llvm::ArrayRef<int64_t> index, llvm::ArrayRef<int64_t> strides);

/// Copies (t, k) of an `indices` [T, K] tensor land in dispatch row
/// `rows[t*K + k]` (-1 when dropped), ordered by expert, then token, then k;
/// `sizes` gets the group size of every expert.
void dispatchLayout(const HostTensor &indices, int64_t numExperts,
                    bool drop, int64_t capacity, std::vector<int64_t> &rows,
                    std::vector<int64_t> &sizes);

} // namespace mlir::dsv3::interp

#endif // DSV3_INTERPRETER_EVAL_H
