//===- SpecOptions.cpp - a description's compile {} as pipeline options ---===//

#include "Pipelines/SpecOptions.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::dsv3;
namespace spec = ::dsv3::spec;

void mlir::dsv3::applyCompileSettings(const spec::Compile &c,
                                      TrainPipelineOptions &o) {
  o.target = c.target() == spec::Compile::CUDA ? CompileTarget::cuda
                                               : CompileTarget::cpu;
  o.sm = c.sm();
  switch (c.precision()) {
  case spec::Compile::BF16:
    o.precision = PrecisionPolicy::bf16;
    break;
  case spec::Compile::FP16:
    o.precision = PrecisionPolicy::fp16;
    break;
  case spec::Compile::FP8:
    o.precision = PrecisionPolicy::fp8;
    break;
  default:
    o.precision = PrecisionPolicy::fp32;
  }
  switch (c.remat()) {
  case spec::Compile::FULL:
    o.remat = RematPolicy::full;
    break;
  case spec::Compile::SQRT:
    o.remat = RematPolicy::sqrt;
    break;
  case spec::Compile::SELECTIVE:
    o.remat = RematPolicy::selective;
    break;
  case spec::Compile::BUDGET:
    o.remat = RematPolicy::budget;
    break;
  default:
    o.remat = RematPolicy::none;
  }
  o.lossScale = c.loss_scale();
  o.lossScaleGrowthInterval = c.loss_scale_growth_interval();
  o.rematBudget = c.remat_budget_bytes();
  o.sparsity.clear();
  if (c.sparse_weights_2_4())
    o.sparsity.push_back("weights-2:4");
  if (c.sparse_grads_2_4())
    o.sparsity.push_back("grads-2:4");
  o.qat = c.qat_int8() ? QatScheme::int8 : QatScheme::none;
  o.qatActivations = c.qat_activations();
  o.l1 = c.l1();
  o.sparseRefresh = c.sparse_refresh_steps();
  o.srste = c.srste();
  o.prune = c.prune_fraction();
  o.pruneStart = c.prune_start_step();
  o.pruneEnd = c.prune_end_step();
  o.dp = c.dp();
  o.ep = c.ep();
  o.zero = c.zero();
}

std::string mlir::dsv3::compileFieldOf(StringRef option, StringRef value) {
  if (option == "sparsity")
    return value == "grads-2:4" ? "compile.sparse_grads_2_4"
                                : "compile.sparse_weights_2_4";
  return llvm::StringSwitch<std::string>(option)
      .Case("target", "compile.target")
      .Case("sm", "compile.sm")
      .Case("precision", "compile.precision")
      .Case("loss-scale", "compile.loss_scale")
      .Case("loss-scale-growth-interval", "compile.loss_scale_growth_interval")
      .Case("remat", "compile.remat")
      .Case("remat-budget", "compile.remat_budget_bytes")
      .Case("qat", "compile.qat_int8")
      .Case("l1", "compile.l1")
      .Case("sparse-refresh", "compile.sparse_refresh_steps")
      .Case("srste", "compile.srste")
      .Case("prune", "compile.prune_fraction")
      .Case("prune-start", "compile.prune_start_step")
      .Case("prune-end", "compile.prune_end_step")
      .Case("qat-activations", "compile.qat_activations")
      .Case("dp", "compile.dp")
      .Case("ep", "compile.ep")
      .Case("zero", "compile.zero")
      .Default("");
}

std::string mlir::dsv3::compileValueOf(const spec::Compile &c,
                                       StringRef option,
                                       StringRef refusedValue) {
  if (option == "sparsity")
    return "true";
  if (option == "precision")
    return spec::Compile::Precision_Name(c.precision());
  if (option == "remat")
    return spec::Compile::Remat_Name(c.remat());
  if (option == "target")
    return spec::Compile::Target_Name(c.target());
  if (option == "qat")
    return c.qat_int8() ? "true" : "false";
  if (option == "qat-activations")
    return c.qat_activations() ? "true" : "false";
  return refusedValue.str();
}
