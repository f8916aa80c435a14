//===- Dsv3Dialect.h - the dsv3 dialect -------------------------*- C++ -*-===//
//
// Declares the dsv3 dialect, its enums and attributes.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_DSV3DIALECT_H
#define DSV3_DSV3DIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/Operation.h"

#include "dsv3/Dsv3Dialect.h.inc"

#endif // DSV3_DSV3DIALECT_H
