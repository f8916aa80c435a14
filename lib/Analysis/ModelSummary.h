//===- ModelSummary.h - parameter and FLOP summary of a forward graph -*- C++ -*-===//
//
// Counts parameters (total and activated per token) from the parameter
// arguments of @forward and FLOPs from the cost interface, per layer.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_ANALYSIS_MODELSUMMARY_H
#define DSV3_ANALYSIS_MODELSUMMARY_H

#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::dsv3 {

struct LayerSummary {
  /// Scope, e.g. "model.layers.3", "model.embed_tokens", "lm_head".
  std::string scope;
  /// "embedding", "dense", "moe", "mtp", "norm" or "head".
  std::string kind;
  int64_t params = 0;
  int64_t activated = 0;
  int64_t forwardFlops = 0;
};

struct ModelSummary {
  int64_t tokens = 0;
  /// Main model (MTP modules excluded).
  int64_t params = 0;
  int64_t activated = 0;
  int64_t inputEmbedding = 0;
  /// MTP modules' own weights (they share the embedding and head).
  int64_t mtpParams = 0;
  int64_t mtpActivated = 0;
  int64_t forwardFlops = 0;
  std::vector<LayerSummary> layers;
};

/// Summarizes a forward function built by the spec importer: parameters
/// are the arguments with a `dsv3.name`; stacked experts (names containing
/// "experts.{e}.") count top_k / experts of their size as activated, with
/// top_k taken from the layer's router; `tokens` is the batch size.
ModelSummary summarizeForward(FunctionOpInterface forward);

void printModelSummary(llvm::raw_ostream &os, llvm::StringRef model,
                       const ModelSummary &summary);

} // namespace mlir::dsv3

#endif // DSV3_ANALYSIS_MODELSUMMARY_H
