//===- ModelSummary.cpp - parameter and FLOP summary of a forward graph ---===//

#include "Analysis/ModelSummary.h"

#include "Analysis/Cost.h"
#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// "model.layers.12.mlp.gate.weight" -> "model.layers.12"; other names
/// keep their first two components ("model.embed_tokens", "lm_head").
std::string scopeOf(StringRef name) {
  SmallVector<StringRef> parts;
  name.split(parts, '.');
  if (parts.size() >= 3 && parts[0] == "model" && parts[1] == "layers")
    return (parts[0] + "." + parts[1] + "." + parts[2]).str();
  if (parts.size() >= 2 && parts[0] == "model")
    return (parts[0] + "." + parts[1]).str();
  return parts[0].str();
}

std::string scopeOf(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return scopeOf(name.getName().strref());
  return "other";
}

std::string human(int64_t n) {
  double v = static_cast<double>(n);
  const char *unit = "";
  if (v >= 1e12) {
    v /= 1e12;
    unit = "T";
  } else if (v >= 1e9) {
    v /= 1e9;
    unit = "B";
  } else if (v >= 1e6) {
    v /= 1e6;
    unit = "M";
  } else if (v >= 1e3) {
    v /= 1e3;
    unit = "K";
  } else {
    return std::to_string(n);
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.2f", v) << unit;
  return s;
}

} // namespace

ModelSummary mlir::dsv3::summarizeForward(FunctionOpInterface forward) {
  ModelSummary summary;
  llvm::StringMap<size_t> index;
  auto layerFor = [&](const std::string &scope) -> LayerSummary & {
    auto [it, inserted] = index.try_emplace(scope, summary.layers.size());
    if (inserted)
      summary.layers.push_back({scope, "", 0, 0, 0});
    return summary.layers[it->second];
  };

  // top_k / experts of each layer's router, and the FLOPs of every scope.
  llvm::StringMap<std::pair<int64_t, int64_t>> routing;
  for (Operation &op : forward.getFunctionBody().front()) {
    std::string scope = scopeOf(op.getLoc());
    if (auto router = dyn_cast<RouterOp>(op))
      routing[scope] = {static_cast<int64_t>(router.getTopK()),
                        router.getLogits().getType().getDimSize(1)};
    if (isa<CostOpInterface>(op)) {
      int64_t flops = getOpCost(&op).flops;
      summary.forwardFlops += flops;
      if (scope != "loss")
        layerFor(scope).forwardFlops += flops;
    }
  }

  llvm::StringMap<bool> isMtp;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    if (getBatchField(forward, i) == BatchField::tokens)
      summary.tokens =
          cast<ShapedType>(forward.getArgument(i).getType()).getNumElements();
    StringRef name = getArgName(forward, i);
    if (name.empty())
      continue;
    int64_t numel =
        cast<ShapedType>(forward.getArgument(i).getType()).getNumElements();
    std::string scope = scopeOf(name);
    LayerSummary &layer = layerFor(scope);
    int64_t activated = numel;
    if (name.contains(".experts.{e}.")) {
      auto it = routing.find(scope);
      if (it != routing.end() && it->second.second > 0)
        activated = numel / it->second.second * it->second.first;
      layer.kind = "moe";
    }
    if (name.ends_with(".eh_proj.weight"))
      isMtp[scope] = true;
    if (name == "model.embed_tokens.weight") {
      layer.kind = "embedding";
      summary.inputEmbedding = numel;
    }
    layer.params += numel;
    layer.activated += activated;
  }

  for (LayerSummary &layer : summary.layers) {
    if (isMtp.lookup(layer.scope))
      layer.kind = "mtp";
    else if (layer.kind.empty())
      layer.kind = StringRef(layer.scope).starts_with("model.layers.") ? "dense"
                   : layer.scope == "model.norm"                      ? "norm"
                                                                      : "head";
    if (layer.kind == "mtp") {
      summary.mtpParams += layer.params;
      summary.mtpActivated += layer.activated;
    } else {
      summary.params += layer.params;
      summary.activated += layer.activated;
    }
  }
  return summary;
}

void mlir::dsv3::printModelSummary(llvm::raw_ostream &os, StringRef model,
                                   const ModelSummary &s) {
  os << "model " << model << ": " << s.tokens << " tokens per micro-batch\n";
  os << "parameters: " << human(s.params) << " total (" << s.params << "), "
     << human(s.activated) << " activated per token (" << s.activated
     << "); " << human(s.activated - s.inputEmbedding)
     << " activated without the input embedding\n";
  if (s.mtpParams > 0)
    os << "MTP modules: " << human(s.mtpParams) << " more (" << s.mtpParams
       << ", " << human(s.mtpActivated) << " activated); with MTP "
       << human(s.params + s.mtpParams) << " total, "
       << human(s.params + s.mtpParams + 2 * s.inputEmbedding)
       << " as Hugging Face stores it (the MTP layers keep copies of the "
          "embedding and head)\n";
  double perToken = s.tokens ? static_cast<double>(s.forwardFlops) / s.tokens
                             : 0.0;
  os << "training FLOPs per token: " << human(static_cast<int64_t>(3 * perToken))
     << " (3 x forward " << human(static_cast<int64_t>(perToken)) << ")\n";
  os << llvm::left_justify("scope", 24) << llvm::left_justify("kind", 11)
     << llvm::right_justify("params", 16) << llvm::right_justify("activated", 16)
     << llvm::right_justify("fwd FLOPs/token", 18) << "\n";
  for (const LayerSummary &layer : s.layers) {
    int64_t flops = s.tokens ? layer.forwardFlops / s.tokens : 0;
    os << llvm::left_justify(layer.scope, 24)
       << llvm::left_justify(layer.kind, 11)
       << llvm::right_justify(std::to_string(layer.params), 16)
       << llvm::right_justify(std::to_string(layer.activated), 16)
       << llvm::right_justify(std::to_string(flops), 18) << "\n";
  }
}
