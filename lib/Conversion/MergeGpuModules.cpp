//===- MergeGpuModules.cpp - the dsv3-merge-gpu-modules pass --------------===//
//
// One GPU module for all outlined launches, so that an executable carries
// one cubin.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"

#include "llvm/ADT/StringMap.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_MERGEGPUMODULES
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

struct MergeGpuModulesPass
    : dsv3::impl::MergeGpuModulesBase<MergeGpuModulesPass> {
  using dsv3::impl::MergeGpuModulesBase<
      MergeGpuModulesPass>::MergeGpuModulesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    SmallVector<gpu::GPUModuleOp> outlined(module.getOps<gpu::GPUModuleOp>());
    if (outlined.empty())
      return;
    if (SymbolTable::lookupSymbolIn(module, name)) {
      module.emitError("dsv3-merge-gpu-modules: the module already has a "
                       "symbol @")
          << name.getValue();
      return signalPassFailure();
    }
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto merged = gpu::GPUModuleOp::create(b, module.getLoc(), name);
    Block &mergedBody = merged.getBodyRegion().front();
    llvm::StringMap<std::string> renamed;
    for (gpu::GPUModuleOp gpuModule : outlined) {
      // Outlining makes a function per module, named by the unique module
      // name; a module of several keeps their names under it.
      bool single = llvm::range_size(gpuModule.getOps<gpu::GPUFuncOp>()) == 1;
      for (Operation &op : llvm::make_early_inc_range(gpuModule.getOps())) {
        if (auto fn = dyn_cast<gpu::GPUFuncOp>(op)) {
          std::string unique =
              single ? gpuModule.getName().str()
                     : (gpuModule.getName() + "_" + fn.getName()).str();
          renamed[(gpuModule.getName() + "::" + fn.getName()).str()] = unique;
          fn.setName(unique);
          fn->moveBefore(&mergedBody, mergedBody.end());
          continue;
        }
        // Globals the function reads (constants): outlining copies a host
        // module's global into each GPU module under its own symbol, the
        // same everywhere, so one copy of each serves them all.
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        if (symbol &&
            !SymbolTable::lookupSymbolIn(merged, symbol.getNameAttr()))
          op.moveBefore(&mergedBody, mergedBody.end());
      }
      gpuModule.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      std::string key = (launch.getKernelModuleName().getValue() + "::" +
                         launch.getKernelName().getValue())
                            .str();
      auto it = renamed.find(key);
      if (it == renamed.end())
        return;
      launch.setKernelAttr(SymbolRefAttr::get(
          context, name, {FlatSymbolRefAttr::get(context, it->second)}));
    });
  }
};

} // namespace
