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

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_ELEMENT_TYPE_H
