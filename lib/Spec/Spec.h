//===- Spec.h - model descriptions: load, validate, build -------*- C++ -*-===//
//
// A model description (a ModelSpec in protobuf text format, or a DeepSeek
// config.json translated into one) is loaded, validated with errors that
// point at the file, line and field, and built into the dsv3 forward graph.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_SPEC_SPEC_H
#define DSV3_SPEC_SPEC_H

#include "Spec/model_spec.pb.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <optional>
#include <string>

namespace mlir::dsv3 {

namespace spec = ::dsv3::spec;

/// Values given on the command line that override the description (a
/// config.json has no training knobs of its own).
struct SpecOverrides {
  std::optional<int64_t> microBatch;
  std::optional<int64_t> seqLen;
  std::optional<int64_t> mtpDepth;
};

/// A loaded description and a way to point at its fields.
struct LoadedSpec {
  spec::ModelSpec spec;
  std::string path;
  /// "file:line: path" for a ModelSpec field path such as "moe.top_k",
  /// using the source's own field names (config.json keys for JSON).
  std::function<std::string(llvm::StringRef fieldPath)> locate;
  /// The source's own name for a ModelSpec field path.
  std::function<std::string(llvm::StringRef fieldPath)> fieldName;
  /// Fields the description left out whose values were derived (config.json:
  /// from its model_type), as "key = value (why)".
  std::vector<std::string> derived;
};

/// The model as a Hugging Face config.json (model_type deepseek_v3 for
/// sigmoid routing, deepseek_v2 for softmax) that transformers' DeepSeek
/// classes load to compute the same function; fails with the reason when
/// the model uses something they cannot express.
FailureOr<std::string> huggingFaceConfig(const spec::ModelSpec &spec,
                                         std::string &whyNot);

/// Fails, printing "path:line: ..." to `errs`, unless `text` is UTF-8: the
/// executable keeps the description and the names in it as UTF-8 strings.
LogicalResult checkUtf8Text(llvm::StringRef path, llvm::StringRef text,
                            llvm::raw_ostream &errs);

/// Reads `path` (`.json`: a DeepSeek config.json; anything else: ModelSpec
/// text format), applies `overrides` and validates the result. Every
/// problem is printed to `errs` as "file:line: field: message"; returns
/// failure if there was any.
FailureOr<LoadedSpec> loadModelSpec(llvm::StringRef path,
                                    const SpecOverrides &overrides,
                                    llvm::raw_ostream &errs);

/// Checks the consistency of a description; prints every problem.
LogicalResult validateModelSpec(const LoadedSpec &loaded,
                                llvm::raw_ostream &errs);

/// Builds `func.func @forward(params..., tokens, targets, positions,
/// segment_ids) -> loss` for a validated spec. Parameters carry their
/// Hugging Face DeepSeek names (`dsv3.name`) and initializers
/// (`dsv3.init`); ops carry the name of the layer they belong to as their
/// location; the module carries the training knobs (`dsv3.training`).
/// Parameters and activations are f32 unless `floatType` says otherwise
/// (f64 for reference checks).
OwningOpRef<ModuleOp> buildForwardModule(const spec::ModelSpec &spec,
                                         MLIRContext *context,
                                         Type floatType = {});

} // namespace mlir::dsv3

#endif // DSV3_SPEC_SPEC_H
