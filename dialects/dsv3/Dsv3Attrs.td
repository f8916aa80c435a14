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

//===----------------------------------------------------------------------===//
// The contract between passes: what the attributes on functions, their
// arguments and results mean. Each is a string in the IR (readable, and
// what a hand-written model description spells) whose value the dialect
// verifies against these enums.
//===----------------------------------------------------------------------===//

def Dsv3_RoleAttr : I32EnumAttr<"Role",
    "what a training-step argument or result is (`dsv3.role`)", [
    I32EnumAttrCase<"param", 0>,
    I32EnumAttrCase<"opt_state", 1>,
    I32EnumAttrCase<"batch", 2>,
    I32EnumAttrCase<"step", 3>,
    I32EnumAttrCase<"loss", 4>,
    I32EnumAttrCase<"metric", 5>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_BatchFieldAttr : I32EnumAttr<"BatchField",
    "which part of a packed batch an input is (`dsv3.batch`)", [
    I32EnumAttrCase<"tokens", 0>,
    I32EnumAttrCase<"targets", 1>,
    I32EnumAttrCase<"positions", 2>,
    I32EnumAttrCase<"segment_ids", 3>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_InitKindAttr : I32EnumAttr<"InitKind",
    "how a parameter or moment starts (`dsv3.init`)", [
    I32EnumAttrCase<"normal", 0>,
    I32EnumAttrCase<"ones", 1>,
    I32EnumAttrCase<"zeros", 2>,
    I32EnumAttrCase<"constant", 3>,
  ]> {
  let cppNamespace = "::mlir::dsv3";
}

#endif // DSV3_ATTRS_TD
