//===- spec_fuzzer.cpp - the model description importer -------------------===//
//
// Any text, read as a config.json when it starts with '{' and as a ModelSpec
// in protobuf text format otherwise: load and validate it. A description
// the validator accepts must build a forward graph that verifies, and its
// Hugging Face config.json (or the reason there is none) must be written
// without a crash. Graphs are built only up to 4 layers and 64 experts,
// which keeps each input fast; the shapes themselves are not bounded.
//
//===----------------------------------------------------------------------===//

#include "fuzz_input.h"
#include "fuzz_registry.h"

#include "Spec/Spec.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace mlir;
using namespace mlir::dsv3;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  size_t first = text.find_first_not_of(" \t\r\n");
  bool json = first != std::string::npos && text[first] == '{';
  static const std::string dir = freshScratchDir("spec-fuzz");
  std::string path = dir + (json ? "/config.json" : "/model.pbtxt");
  if (!::dsv3::runtime::writeFileSynced(path, text))
    return 0;

  std::string errors;
  llvm::raw_string_ostream errs(errors);
  FailureOr<LoadedSpec> loaded = loadModelSpec(path, SpecOverrides(), errs);
  if (failed(loaded))
    return 0;
  std::string whyNot;
  (void)huggingFaceConfig(loaded->spec, whyNot);

  const spec::ModelSpec &s = loaded->spec;
  if (s.arch().num_layers() > 4 || s.mtp().depth() > 2 ||
      s.moe().num_routed_experts() > 64 || s.moe().num_shared_experts() > 4)
    return 0;
  MLIRContext context(dsv3fuzz::registry(), MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  ScopedDiagnosticHandler collect(&context, [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });
  OwningOpRef<ModuleOp> module = buildForwardModule(s, &context);
  if (!module || failed(verify(*module))) {
    std::fprintf(stderr,
                 "spec_fuzzer: a valid description builds %s\n%s--- "
                 "description:\n%s\n",
                 module ? "a graph that does not verify" : "no graph",
                 diagnostics.c_str(), text.c_str());
    std::abort();
  }
  return 0;
}
