//===- dsv3-opt.cpp - MLIR in, MLIR out, with every dsv3 pass -------------===//
//
// Registers the dsv3 dialect and passes and the upstream dialects and
// passes the pipeline uses; lit tests drive the compiler through it.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"
#include "Pipelines/Pipelines.h"
#include "Transforms/Passes.h"
#include "dsv3/Dsv3Dialect.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::dsv3::Dsv3Dialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::math::MathDialect,
                  mlir::tensor::TensorDialect, mlir::linalg::LinalgDialect,
                  mlir::scf::SCFDialect, mlir::memref::MemRefDialect,
                  mlir::bufferization::BufferizationDialect,
                  mlir::gpu::GPUDialect, mlir::NVVM::NVVMDialect,
                  mlir::LLVM::LLVMDialect>();
  // Every upstream dialect, interface extension and pass: the lowering
  // pipeline runs through bufferization, linalg, scf and LLVM passes.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates GPU modules to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::registerAllPasses();
  mlir::dsv3::registerDsv3Passes();
  mlir::dsv3::registerDsv3ConversionPasses();
  mlir::dsv3::registerDsv3Pipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "dsv3 optimizer driver\n", registry));
}
