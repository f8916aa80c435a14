//===- Dsv3Interfaces.td - cost and gradient interfaces --------------------===//
//
// The cost interface is the one source of FLOP and byte counts: the cost
// report, rematerialization, the memory report and MFU all read it.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_INTERFACES_TD
#define DSV3_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Dsv3_CostOpInterface : OpInterface<"CostOpInterface"> {
  let cppNamespace = "::mlir::dsv3";
  let description = [{
    The cost of one execution of an op, as formulas of its static shapes.
    FLOPs count multiply and add separately (a multiply-add is 2 FLOPs).
    Unless an op overrides them, bytes read are the sizes of all tensor
    operands and bytes written the sizes of all tensor results, and
    elementwise ops count one FLOP per result element.
  }];
  let methods = [
    InterfaceMethod<"Floating-point operations of one execution.",
      "int64_t", "getFlops", (ins), [{}],
      [{ return ::mlir::dsv3::detail::defaultFlops($_op); }]>,
    InterfaceMethod<"Bytes read from memory.",
      "int64_t", "getBytesRead", (ins), [{}],
      [{ return ::mlir::dsv3::detail::defaultBytesRead($_op); }]>,
    InterfaceMethod<"Bytes written to memory.",
      "int64_t", "getBytesWritten", (ins), [{}],
      [{ return ::mlir::dsv3::detail::defaultBytesWritten($_op); }]>,
  ];
}

def Dsv3_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::mlir::dsv3";
  let description = [{
    Reverse-mode differentiation rule of a differentiable op. Given the
    cotangents of the op's results (a null Value for a result whose
    cotangent is zero), builds the vector-Jacobian product at the
    builder's insertion point and returns one cotangent per operand (a null
    Value for operands that are not differentiable, such as indices).
  }];
  let methods = [
    InterfaceMethod<"Builds the cotangents of the operands.",
      "::llvm::LogicalResult", "buildVjp",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ValueRange":$resultCotangents,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandCotangents)>,
  ];
}

#endif // DSV3_INTERFACES_TD
