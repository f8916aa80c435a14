//===- Dsv3Types.td - type constraints of the dsv3 dialect -----------------===//
//
// dsv3 uses builtin ranked tensors; this file names the element types and
// tensor kinds that its ops accept.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_TYPES_TD
#define DSV3_TYPES_TD

include "mlir/IR/CommonTypeConstraints.td"

def Dsv3_Float : AnyTypeOf<[F64, F32, BF16, F16, F8E4M3FN, F8E5M2],
                           "dsv3 floating-point">;
def Dsv3_F8 : AnyTypeOf<[F8E4M3FN, F8E5M2], "fp8">;
def Dsv3_Int : AnyTypeOf<[I64, I32, I8], "dsv3 integer">;
def Dsv3_Index : AnyTypeOf<[I64, I32], "32- or 64-bit integer index">;
def Dsv3_Element : AnyTypeOf<[F64, F32, BF16, F16, F8E4M3FN, F8E5M2,
                              I64, I32, I8, I1], "dsv3 element">;

def Dsv3_Tensor : StaticShapeTensorOf<[Dsv3_Element]>;
def Dsv3_NumericTensor : StaticShapeTensorOf<[F64, F32, BF16, F16, F8E4M3FN,
                                              F8E5M2, I64, I32, I8]>;
def Dsv3_FloatTensor : StaticShapeTensorOf<[Dsv3_Float]>;
def Dsv3_F8Tensor : StaticShapeTensorOf<[Dsv3_F8]>;
def Dsv3_IndexTensor : StaticShapeTensorOf<[Dsv3_Index]>;
def Dsv3_I32Tensor : StaticShapeTensorOf<[I32]>;
def Dsv3_I8Tensor : StaticShapeTensorOf<[I8]>;
def Dsv3_BoolTensor : StaticShapeTensorOf<[I1]>;
def Dsv3_F32Tensor : StaticShapeTensorOf<[F32, F64]>;
def Dsv3_ScaleTensor : StaticShapeTensorOf<[F32]>;
def Dsv3_FloatScalar : 0DTensorOf<[F64, F32]>;
def Dsv3_IndexScalar : 0DTensorOf<[I64, I32]>;
def Dsv3_BoolScalar : 0DTensorOf<[I1]>;

#endif // DSV3_TYPES_TD
