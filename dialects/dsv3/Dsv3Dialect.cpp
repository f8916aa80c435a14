//===- Dsv3Dialect.cpp - the dsv3 dialect ---------------------------------===//
//
// Registers the dsv3 ops and attributes.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Dsv3Dialect.h"
#include "dsv3/Dsv3Ops.h"


using namespace mlir;
using namespace mlir::dsv3;

#include "dsv3/Dsv3Dialect.cpp.inc"
#include "dsv3/Dsv3Enums.cpp.inc"

void Dsv3Dialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dsv3/Dsv3Ops.cpp.inc"
      >();
}

Operation *Dsv3Dialect::materializeConstant(OpBuilder &builder,
                                            Attribute value, Type type,
                                            Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, elements);
}
