//===- Dsv3Attrs.td - enums and attributes of the dsv3 dialect -------------===//

#ifndef DSV3_ATTRS_TD
#define DSV3_ATTRS_TD

include "dsv3/Dsv3Dialect.td"
include "mlir/IR/EnumAttr.td"

def Dsv3_ReduceKindAttr : I32EnumAttr<"ReduceKind", "reduction kind", [
    I32EnumAttrCase<"sum", 0>,
    I32EnumAttrCase<"max", 1>,
    I32EnumAttrCase<"mean", 2>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_ScoringFuncAttr : I32EnumAttr<"ScoringFunc", "router scoring function", [
    I32EnumAttrCase<"softmax", 0>,
    I32EnumAttrCase<"sigmoid", 1>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_CapacityPolicyAttr : I32EnumAttr<"CapacityPolicy",
    "how many token copies each expert receives", [
    I32EnumAttrCase<"dropless", 0>,
    I32EnumAttrCase<"drop", 1>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_ScaleLayoutAttr : I32EnumAttr<"ScaleLayout",
    "granularity of fp8 scales", [
    I32EnumAttrCase<"tile_1x128", 0>,
    I32EnumAttrCase<"block_128x128", 1>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

#endif // DSV3_ATTRS_TD
