//===- ir_fuzzer.cpp - the IR parser and the dsv3 verifiers ---------------===//
//
// Any text: parse it as a module (which runs every verifier) with the
// dialects dsv3-opt reads. A module that parses must print and parse back:
// a custom printer whose output its parser refuses is a bug.
//
//===----------------------------------------------------------------------===//

#include "fuzz_registry.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: uniqued types and attributes would
  // otherwise accumulate over millions of inputs.
  MLIRContext context(dsv3fuzz::registry(), MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  ScopedDiagnosticHandler quiet(&context, [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });
  // NUL-terminated, as a file read from disk is: MLIR's lexer reads up to
  // the terminator.
  std::string text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  if (!module)
    return 0;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  module->print(os);
  diagnostics.clear();
  OwningOpRef<ModuleOp> again = parseSourceString<ModuleOp>(printed, &context);
  if (!again) {
    std::fprintf(stderr, "ir_fuzzer: the printed module does not parse:\n%s\n"
                         "--- printed:\n%s\n", diagnostics.c_str(),
                 printed.c_str());
    std::abort();
  }
  return 0;
}
