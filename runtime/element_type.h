//===- element_type.h - sizes of the executable's element types -*- C++ -*-===//
//
// Header only, so that the compiler that writes executables and the runtime
// that reads them size buffers the same way.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_ELEMENT_TYPE_H
#define DSV3_RUNTIME_ELEMENT_TYPE_H

#include "runtime/executable.pb.h"

#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstring>

namespace dsv3::runtime {

/// Bytes of one element, 0 for an unknown type.
inline size_t elementBytes(ElementType type) {
  switch (type) {
  case TYPE_F32:
  case TYPE_I32:
    return 4;
  case TYPE_I64:
  case TYPE_F64:
    return 8;
  case TYPE_BF16:
  case TYPE_F16:
    return 2;
  case TYPE_I8:
  case TYPE_F8E4M3FN:
    return 1;
  default:
    return 0;
  }
}

/// A bf16 value as f32: exact.
inline float bf16ToFloat(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

/// An f32 value rounded to bf16, to nearest even as LLVM's fptrunc and the
/// GPU's cvt.rn.bf16.f32 do; a NaN stays a (quiet) NaN.
inline uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

/// An f16 value as f32: exact.
inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13); // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: normalize.
    int shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) |
           ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

/// An f32 value rounded to f16, to nearest even; overflow is infinity, a
/// NaN stays a (quiet) NaN.
inline uint16_t floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u)
    return sign | 0x7e00u;
  if (magnitude >= 0x477ff000u) // rounds to 65520 or more
    return sign | 0x7c00u;
  if (magnitude < 0x38800000u) {
    // A subnormal f16 (or zero): the value in units of 2^-24, rounded.
    if (magnitude < 0x33000000u)
      return sign;
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exponent; // 14..24
    uint32_t half = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1), midpoint = 1u << (shift - 1);
    if (rest > midpoint || (rest == midpoint && (half & 1u)))
      ++half;
    return sign | static_cast<uint16_t>(half);
  }
  uint32_t rounded = magnitude - 0x38000000u; // rebias 127 -> 15
  rounded += 0xfffu + ((rounded >> 13) & 1u);
  return sign | static_cast<uint16_t>(rounded >> 13);
}

/// Element `i` of float data of `type` (f32, f64, bf16, f16; integers
/// too) as a double.
inline double loadElement(ElementType type, const void *data, int64_t i) {
  switch (type) {
  case TYPE_F32:
    return static_cast<const float *>(data)[i];
  case TYPE_F64:
    return static_cast<const double *>(data)[i];
  case TYPE_BF16:
    return bf16ToFloat(static_cast<const uint16_t *>(data)[i]);
  case TYPE_F16:
    return halfToFloat(static_cast<const uint16_t *>(data)[i]);
  case TYPE_I32:
    return static_cast<const int32_t *>(data)[i];
  case TYPE_I64:
    return static_cast<double>(static_cast<const int64_t *>(data)[i]);
  case TYPE_I8:
    return static_cast<const int8_t *>(data)[i];
  default:
    return 0;
  }
}

inline bool isFloatType(ElementType type) {
  return type == TYPE_F32 || type == TYPE_F64 || type == TYPE_BF16 ||
         type == TYPE_F16;
}

/// `v` rounded to f32 by round-to-odd (truncate, then set the last bit if
/// anything was dropped): rounding that to bf16 or f16 to nearest even
/// gives the same as rounding `v` to them directly, which rounding `v` to
/// the nearest f32 first would not always.
inline float roundToOddFloat(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) == v || !std::isfinite(f))
    return f;
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::fabs(static_cast<double>(f)) > std::fabs(v))
    --bits; // one step toward zero: the magnitude is in the low bits
  bits |= 1;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// Stores `v` as element `i` of float data of `type`, rounded once to
/// nearest even; false (and nothing written) for a type that is not a
/// float.
inline bool storeElement(ElementType type, void *data, int64_t i, double v) {
  switch (type) {
  case TYPE_F32:
    static_cast<float *>(data)[i] = static_cast<float>(v);
    return true;
  case TYPE_F64:
    static_cast<double *>(data)[i] = v;
    return true;
  case TYPE_BF16:
    static_cast<uint16_t *>(data)[i] = floatToBf16(roundToOddFloat(v));
    return true;
  case TYPE_F16:
    static_cast<uint16_t *>(data)[i] = floatToHalf(roundToOddFloat(v));
    return true;
  default:
    return false;
  }
}

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_ELEMENT_TYPE_H
