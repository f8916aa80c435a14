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

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_ELEMENT_TYPE_H
