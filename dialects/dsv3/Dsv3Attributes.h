//===- Dsv3Attributes.h - the dsv3.* attributes passes exchange -*- C++ -*-===//
//
// Typed access to the attributes that carry the training step's contract
// between passes: argument and result roles, names, initializers, the
// module's training knobs and the memory plan. The dialect verifies every
// one of them (Dsv3Attributes.cpp); passes read and write them only
// through these functions, never by spelling the strings.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_DSV3ATTRIBUTES_H
#define DSV3_DSV3ATTRIBUTES_H

#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <optional>

namespace mlir::dsv3 {

/// Argument and result attributes (operation-level ones are declared in
/// Dsv3Dialect.td and have `Dsv3Dialect::…AttrHelper`s).
inline constexpr llvm::StringLiteral kRoleAttr = "dsv3.role";
inline constexpr llvm::StringLiteral kNameAttr = "dsv3.name";
inline constexpr llvm::StringLiteral kBatchAttr = "dsv3.batch";
inline constexpr llvm::StringLiteral kInitAttr = "dsv3.init";
inline constexpr llvm::StringLiteral kInitStdAttr = "dsv3.init_std";
inline constexpr llvm::StringLiteral kInitValueAttr = "dsv3.init_value";
inline constexpr llvm::StringLiteral kTrainableAttr = "dsv3.trainable";
inline constexpr llvm::StringLiteral kOffsetAttr = "dsv3.offset";
inline constexpr llvm::StringLiteral kOverwritesAttr = "dsv3.overwrites";
inline constexpr llvm::StringLiteral kQuantizedAttr = "dsv3.quantized";

//===----------------------------------------------------------------------===//
// Arguments and results of a training step.
//===----------------------------------------------------------------------===//

std::optional<Role> getArgRole(FunctionOpInterface fn, unsigned i);
std::optional<Role> getResultRole(FunctionOpInterface fn, unsigned i);
/// The `dsv3.name`, or "" when there is none.
StringRef getArgName(FunctionOpInterface fn, unsigned i);
StringRef getResultName(FunctionOpInterface fn, unsigned i);
std::optional<BatchField> getBatchField(FunctionOpInterface fn, unsigned i);
std::optional<InitKind> getInitKind(FunctionOpInterface fn, unsigned i);
/// The standard deviation of a `normal` initializer.
std::optional<double> getInitStd(FunctionOpInterface fn, unsigned i);
/// The value a `constant` initializer fills argument `i` with.
std::optional<double> getInitValue(FunctionOpInterface fn, unsigned i);
/// False only where `dsv3.trainable = false` says so.
bool isTrainable(FunctionOpInterface fn, unsigned i);
/// Persistent state: parameters and optimizer state live across steps.
inline bool isPersistent(std::optional<Role> role) {
  return role == Role::param || role == Role::opt_state;
}

NamedAttribute getRoleAttr(Builder &b, Role role);
NamedAttribute getNameAttr(Builder &b, StringRef name);
NamedAttribute getBatchAttr(Builder &b, BatchField field);
NamedAttribute getInitAttr(Builder &b, InitKind kind);

/// The argument a result updates: the argument with the result's role and
/// name (a parameter or a moment), or none.
std::optional<unsigned> getUpdatedArgument(FunctionOpInterface fn,
                                           unsigned result);

//===----------------------------------------------------------------------===//
// The module.
//===----------------------------------------------------------------------===//

/// The training knobs of `dsv3.training`, with the ModelSpec defaults for
/// anything the dictionary leaves out.
struct TrainingConfig {
  int64_t microBatch = 8, seqLen = 256, gradAccum = 1;
  double lr = 3e-4, minLr = 3e-5, beta1 = 0.9, beta2 = 0.95, eps = 1e-8,
         weightDecay = 0.1, clipNorm = 1.0, biasUpdateSpeed = 0.0;
  int64_t warmupSteps = 100, totalSteps = 1000, seed = 0;

  static TrainingConfig get(ModuleOp module);
  DictionaryAttr toAttr(MLIRContext *context) const;
};

/// `dsv3.model`, or "model".
StringRef getModelName(ModuleOp module);

/// Whether `op` is a kernel function (`dsv3.kernel`).
bool isKernel(Operation *op);
/// The nested module of kernel code (`dsv3.kernels`), if any.
ModuleOp getKernelModule(ModuleOp module);

} // namespace mlir::dsv3

#endif // DSV3_DSV3ATTRIBUTES_H
