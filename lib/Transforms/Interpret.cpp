//===- Interpret.cpp - the dsv3-interpret test pass -----------------------===//
//
// Runs a function in the reference interpreter on seeded random arguments
// and prints its results, so lit tests can check numbers.
//
//===----------------------------------------------------------------------===//

#include "Interpreter/Interpreter.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"

#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/Support/Format.h"

#include <cstring>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_INTERPRET
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// FNV-1a over the exact bits of every value.
uint64_t bitsDigest(const HostTensor &t) {
  uint64_t h = 1469598103934665603ull;
  for (double v : t.data) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    for (int i = 0; i < 8; ++i) {
      h ^= (bits >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  return h;
}

void printTensor(llvm::raw_ostream &os, const HostTensor &t, bool all) {
  double sum = 0;
  for (double v : t.data)
    sum += v;
  os << t.getType() << " sum " << llvm::format("%.6g", sum) << " [";
  int64_t shown = all ? t.numel() : std::min<int64_t>(4, t.numel());
  for (int64_t i = 0; i < shown; ++i)
    os << (i ? ", " : "") << llvm::format(all ? "%.9g" : "%.6g", t.data[i]);
  os << (t.numel() > shown ? ", ...]" : "]") << "\n";
}

struct InterpretPass : dsv3::impl::InterpretBase<InterpretPass> {
  using dsv3::impl::InterpretBase<InterpretPass>::InterpretBase;

  void runOnOperation() override {
    auto fn = dyn_cast_or_null<FunctionOpInterface>(
        SymbolTable::lookupSymbolIn(getOperation(), function));
    if (!fn) {
      getOperation().emitError("dsv3-interpret: no function @")
          << function.getValue();
      return signalPassFailure();
    }
    if (fn.isExternal()) {
      fn.emitError("dsv3-interpret: @")
          << function.getValue() << " is a declaration; it has no body to run";
      return signalPassFailure();
    }
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      if (failed(checkInterpretable(fn.getArgument(i).getLoc(),
                                    fn.getArgument(i).getType())))
        return signalPassFailure();
    SmallVector<HostTensor> args =
        randomArguments(fn, seed, stddev, intBound);
    for (int64_t s = 0; s < steps; ++s) {
      for (unsigned i = 0; i < args.size(); ++i)
        if (getArgRole(fn, i) == Role::step)
          args[i].data[0] = s;
      auto results = interpret(fn, args);
      if (failed(results))
        return signalPassFailure();
      if (steps > 1) {
        llvm::outs() << "step " << s << " loss "
                     << llvm::format("%.6g", (*results)[0].scalar()) << "\n";
        // Updated state feeds the next step, matched by role and name.
        for (unsigned r = 0; r < results->size(); ++r)
          if (std::optional<unsigned> i = getUpdatedArgument(fn, r))
            args[*i] = (*results)[r];
        continue;
      }
      for (auto [i, t] : llvm::enumerate(*results)) {
        llvm::outs() << "result " << i;
        StringRef n = getResultName(fn, i);
        if (!n.empty())
          llvm::outs() << " (" << n << ")";
        llvm::outs() << ": ";
        printTensor(llvm::outs(), t, all);
        if (digest)
          llvm::outs() << "  digest " << llvm::format_hex(bitsDigest(t), 18)
                       << "\n";
      }
    }
    markAllAnalysesPreserved();
  }
};

} // namespace
