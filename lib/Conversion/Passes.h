//===- Passes.h - dsv3 conversion passes ------------------------*- C++ -*-===//

#ifndef DSV3_CONVERSION_PASSES_H
#define DSV3_CONVERSION_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::dsv3 {

#define GEN_PASS_DECL
#include "Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Conversion/Passes.h.inc"

/// Adds the CPU code-generation pipeline, dsv3 on tensors to the LLVM
/// dialect, to `pm` (a module pass manager): buildBufferizePipeline, then
/// buildLowerBufferizedPipeline. With `barePtrCallConv`,
/// memref arguments are passed as bare pointers (static shapes only): the
/// calling convention of an executable's kernels.
void buildLowerToLLVMPipeline(OpPassManager &pm, bool barePtrCallConv = false,
                              bool parallelRouting = false);

/// dsv3 on tensors to linalg on memrefs: convert-dsv3-to-linalg (with
/// `parallelRouting`, MoE routing without loops over the copies, for the
/// GPU), elementwise fusion, one-shot bufferization.
void buildBufferizePipeline(OpPassManager &pm, bool parallelRouting = false);

/// Bufferized code to the LLVM dialect: deallocation, loops, LLVM.
void buildLowerBufferizedPipeline(OpPassManager &pm, bool barePtrCallConv);

/// Adds the external interface models the pipeline relies on
/// (bufferization and deallocation of arith, cf, func, linalg, memref, scf
/// and tensor ops) to `registry`; a tool that does not register every
/// upstream extension calls this before running the pipeline.
void registerLowerToLLVMInterfaces(DialectRegistry &registry);

/// Registers `dsv3-lower-to-llvm`, the pipeline above, by name.
void registerDsv3Pipelines();

} // namespace mlir::dsv3

#endif // DSV3_CONVERSION_PASSES_H
