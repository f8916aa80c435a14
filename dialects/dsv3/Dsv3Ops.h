//===- Dsv3Ops.h - operations of the dsv3 dialect ---------------*- C++ -*-===//
//
// Declares the dsv3 ops, enums, attributes and the cost and gradient
// interfaces they implement.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_DSV3OPS_H
#define DSV3_DSV3OPS_H

#include "dsv3/Dsv3Dialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <vector>

#include "dsv3/Dsv3Enums.h.inc"

namespace mlir::dsv3 {
namespace detail {
/// Cost-interface defaults: one FLOP per result element for elementwise
/// ops, none otherwise; bytes are the sizes of all tensor operands (read)
/// and results (written).
int64_t defaultFlops(Operation *op);
int64_t defaultBytesRead(Operation *op);
int64_t defaultBytesWritten(Operation *op);
} // namespace detail

/// Bytes of one element as stored (sub-byte types round up to one byte).
int64_t getElementBytes(Type elementType);
/// Bytes of a statically shaped tensor value; 0 for non-tensors.
int64_t getTensorBytes(Type type);
/// The shape of `dsv3.quantize`'s scales for a tensor of `shape` (rank >= 1
/// for tile_1x128, >= 2 for block_128x128): one per 1x128 tile of the last
/// dimension, or per 128x128 block of the last two.
SmallVector<int64_t> getScaleShape(ArrayRef<int64_t> shape, ScaleLayout layout);
} // namespace mlir::dsv3

#include "dsv3/Dsv3Interfaces.h.inc"

#define GET_OP_CLASSES
#include "dsv3/Dsv3Ops.h.inc"

namespace mlir::dsv3 {
/// Whether `op` is a dsv3.attention or dsv3.attention_grad of static
/// shape on f32 operands (i32 or i64 segment ids): what the cpu runtime
/// computes whole, as one command, when the pipeline leaves attention to
/// it (`library-attention`).
bool isLibraryAttention(Operation *op);
} // namespace mlir::dsv3

#endif // DSV3_DSV3OPS_H
