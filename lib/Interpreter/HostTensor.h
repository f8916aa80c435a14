//===- HostTensor.h - tensors on the host for the reference interpreter -*- C++ -*-===//
//
// Values are held as doubles and rounded to their element type (f32, bf16,
// f16, fp8 with round-to-nearest-even; integers truncated) whenever they are
// written, so an f64 graph is evaluated exactly and a mixed-precision graph
// sees the rounding it would see on hardware.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_INTERPRETER_HOSTTENSOR_H
#define DSV3_INTERPRETER_HOSTTENSOR_H

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <vector>

namespace mlir::dsv3 {

/// Rounds `v` to a value representable in `elementType`.
double roundToElementType(Type elementType, double v);

/// Largest finite value of an fp8 type (448 for E4M3FN, 57344 for E5M2).
double fp8Max(Type elementType);

struct HostTensor {
  Type elementType;
  llvm::SmallVector<int64_t> shape;
  std::vector<double> data;

  HostTensor() = default;
  HostTensor(RankedTensorType type, double fill = 0.0);
  HostTensor(Type elementType, llvm::ArrayRef<int64_t> shape,
             double fill = 0.0);

  RankedTensorType getType() const {
    return RankedTensorType::get(shape, elementType);
  }
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  /// Row-major strides.
  llvm::SmallVector<int64_t> strides() const;
  /// Rounds every value to the element type.
  void round();
  /// Scalar of a 0-d (or single-element) tensor.
  double scalar() const { return data.front(); }
};

} // namespace mlir::dsv3

#endif // DSV3_INTERPRETER_HOSTTENSOR_H
