//===- pipeline_fuzzer.cpp - the training pipeline on random graphs -------===//
//
// The input's first byte picks the pipeline's settings (precision, moments,
// target); the rest describes a forward graph (graph_generator.h). The
// graph is valid by construction, so each of these is a bug, reported with
// the graph and the pass: the graph does not verify, a pass fails, or a
// pass leaves IR that does not verify. Both targets run to the end of the
// pipeline (for the GPU: NVVM, without libdevice); translating the result
// to machine code is LLVM's back end, which is not fuzzed here.
//
//===----------------------------------------------------------------------===//

#include "fuzz_registry.h"
#include "graph_generator.h"

#include "Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

[[noreturn]] void report(const std::string &what, const std::string &graph,
                         const std::string &diagnostics) {
  std::fprintf(stderr, "pipeline_fuzzer: %s\n%s--- graph:\n%s\n", what.c_str(),
               diagnostics.c_str(), graph.c_str());
  std::abort();
}

/// Verifies after every pass, so a failure names the pass that broke the IR.
struct VerifyEachPass : PassInstrumentation {
  VerifyEachPass(const std::string &graph, const std::string &diagnostics)
      : graph(graph), diagnostics(diagnostics) {}
  void runAfterPass(Pass *pass, Operation *op) override {
    if (failed(verify(op)))
      report(std::string("after ") + pass->getName().str() +
                 ", the IR does not verify",
             graph, diagnostics);
  }
  const std::string &graph;
  const std::string &diagnostics;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t settings = size ? data[0] : 0;
  std::string graph =
      dsv3fuzz::generateForwardGraph(size ? data + 1 : data, size ? size - 1 : 0);

  MLIRContext context(dsv3fuzz::registry(), MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  ScopedDiagnosticHandler collect(&context, [&](Diagnostic &d) {
    llvm::raw_string_ostream os(diagnostics);
    os << d.getLocation() << ": " << d << "\n";
    return success();
  });
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(graph, &context);
  if (!module)
    report("the generated graph does not parse or verify", graph, diagnostics);

  TrainPipelineOptions options;
  options.precision =
      settings & 1 ? PrecisionPolicy::bf16 : PrecisionPolicy::fp32;
  options.moments = settings & 2 ? MomentsType::bf16 : MomentsType::f32;
  options.target = settings & 4 ? CompileTarget::cuda : CompileTarget::cpu;
  // The GPU module is lowered to NVVM without libdevice; the toolkit is
  // needed only to translate it, which dsv3-compile does after the
  // pipeline.
  options.cudaPath = "";

  PassManager pm(&context);
  pm.enableVerifier(false);
  pm.addInstrumentation(std::make_unique<VerifyEachPass>(graph, diagnostics));
  buildTrainPipeline(pm, options);
  if (failed(pm.run(*module)))
    report("the pipeline fails on a valid graph", graph, diagnostics);
  return 0;
}
