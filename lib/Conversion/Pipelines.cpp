//===- Pipelines.cpp - from dsv3 on tensors to the LLVM dialect -----------===//
//
// `dsv3-lower-to-llvm`: the CPU code-generation pipeline as one name, so
// that tests, docs and users run the same sequence of passes.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void mlir::dsv3::buildLowerToLLVMPipeline(OpPassManager &pm,
                                          bool barePtrCallConv,
                                          bool parallelRouting) {
  buildBufferizePipeline(pm, parallelRouting);
  buildLowerBufferizedPipeline(pm, barePtrCallConv);
}

void mlir::dsv3::buildBufferizePipeline(OpPassManager &pm,
                                        bool parallelRouting) {
  ConvertDsv3ToLinalgOptions toLinalg;
  toLinalg.parallelRouting = parallelRouting;
  pm.addPass(createConvertDsv3ToLinalg(toLinalg));
  pm.addPass(createLinalgElementwiseOpFusionPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
}

void mlir::dsv3::buildLowerBufferizedPipeline(OpPassManager &pm,
                                              bool barePtrCallConv) {
  // Parallel loops of independent columns (scatter-add) run in order here.
  pm.addPass(createForallToForLoopPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  ConvertFuncToLLVMPassOptions funcOptions;
  funcOptions.useBarePtrCallConv = barePtrCallConv;
  pm.addPass(createConvertFuncToLLVMPass(funcOptions));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::dsv3::registerLowerToLLVMInterfaces(DialectRegistry &registry) {
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  arith::registerBufferDeallocationOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  cf::registerBufferizableOpInterfaceExternalModels(registry);
  cf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  memref::registerAllocationOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
}

namespace {
struct Dsv3LowerOptions : PassPipelineOptions<Dsv3LowerOptions> {
  Option<bool> parallelRouting{
      *this, "parallel-routing",
      llvm::cl::desc("MoE routing with generics over chunks of copies "
                     "instead of loops over the copies"),
      llvm::cl::init(false)};
};
} // namespace

void mlir::dsv3::registerDsv3Pipelines() {
  PassPipelineRegistration<Dsv3LowerOptions>(
      "dsv3-lower-to-llvm",
      "Lower dsv3 on tensors to the LLVM dialect for the CPU: "
      "convert-dsv3-to-linalg, elementwise fusion, one-shot bufferization "
      "across function boundaries, deallocation, loops, then LLVM",
      [](OpPassManager &pm, const Dsv3LowerOptions &options) {
        buildLowerToLLVMPipeline(pm, /*barePtrCallConv=*/false,
                                 options.parallelRouting);
      });
}
