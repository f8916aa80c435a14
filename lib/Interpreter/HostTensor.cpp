//===- HostTensor.cpp - host tensors and element-type rounding ------------===//

#include "Interpreter/HostTensor.h"

#include "llvm/ADT/APFloat.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::dsv3;

static double roundBf16(double v) {
  float f = static_cast<float>(v);
  if (std::isnan(f))
    return v;
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits += 0x7FFF + ((bits >> 16) & 1);
  bits &= 0xFFFF0000u;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

double mlir::dsv3::fp8Max(Type elementType) {
  if (isa<Float8E4M3FNType>(elementType))
    return 448.0;
  if (isa<Float8E5M2Type>(elementType))
    return 57344.0;
  return INFINITY;
}

double mlir::dsv3::roundToElementType(Type elementType, double v) {
  if (elementType.isF64())
    return v;
  if (elementType.isF32())
    return static_cast<double>(static_cast<float>(v));
  if (elementType.isBF16())
    return roundBf16(v);
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    // f16 and fp8 through APFloat; E4M3FN has no infinity and saturates.
    if (isa<Float8E4M3FNType>(elementType) && std::isfinite(v))
      v = std::max(-448.0, std::min(448.0, v));
    llvm::APFloat f(v);
    bool lost;
    f.convert(floatType.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    return f.convertToDouble();
  }
  if (elementType.isInteger(1))
    return v != 0.0 ? 1.0 : 0.0;
  if (auto intType = dyn_cast<IntegerType>(elementType)) {
    if (!std::isfinite(v))
      return 0.0;
    double t = std::trunc(v);
    unsigned width = intType.getWidth();
    if (width < 64) {
      double range = std::ldexp(1.0, width);
      double half = range / 2;
      t = std::fmod(t + half, range);
      if (t < 0)
        t += range;
      t -= half;
    }
    return t;
  }
  return v;
}

HostTensor::HostTensor(RankedTensorType type, double fill)
    : HostTensor(type.getElementType(), type.getShape(), fill) {}

HostTensor::HostTensor(Type elementType, llvm::ArrayRef<int64_t> shape,
                       double fill)
    : elementType(elementType), shape(shape.begin(), shape.end()) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  data.assign(n, roundToElementType(elementType, fill));
}

llvm::SmallVector<int64_t> HostTensor::strides() const {
  llvm::SmallVector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

void HostTensor::round() {
  if (elementType.isF64())
    return;
  for (double &v : data)
    v = roundToElementType(elementType, v);
}
