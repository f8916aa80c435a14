//===- PrepareVectorization.cpp - the dsv3-prepare-vectorization pass -----===//
//
// Polynomial math, reassociable reduction combiners and strided copies as
// loops, so that LLVM's loop vectorizer vectorizes a CPU kernel's loops.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_PREPAREVECTORIZATION
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Marks the ops that fold a value into a reduction's output: the op that
/// defines what the body yields for an output its iteration drops a
/// reduction dimension of, when that op reads the output's block argument.
void reassociateCombiners(linalg::GenericOp generic) {
  if (generic.getNumReductionLoops() == 0)
    return;
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  for (OpOperand &init : generic.getDpsInitsMutable()) {
    BlockArgument acc = generic.getMatchingBlockArgument(&init);
    Value yielded =
        yield.getOperand(init.getOperandNumber() - generic.getNumDpsInputs());
    auto combiner =
        dyn_cast_or_null<arith::ArithFastMathInterface>(yielded.getDefiningOp());
    if (!combiner || !llvm::is_contained(combiner->getOperands(), acc))
      continue;
    if (!isa<arith::AddFOp, arith::MulFOp, arith::MaximumFOp,
             arith::MinimumFOp, arith::MaxNumFOp, arith::MinNumFOp>(
            combiner.getOperation()))
      continue;
    auto flags = combiner.getFastMathFlagsAttr();
    arith::FastMathFlags merged =
        (flags ? flags.getValue() : arith::FastMathFlags::none) |
        arith::FastMathFlags::reassoc;
    combiner->setAttr(combiner.getFastMathAttrName(),
                      arith::FastMathFlagsAttr::get(generic.getContext(),
                                                    merged));
  }
}

/// A copy between strided views becomes loops the vectorizer sees (LLVM
/// turns contiguous ones back into memcpy), instead of a call to the
/// runtime's element-by-element memrefCopy.
void copiesToLoops(memref::CopyOp copy) {
  auto source = dyn_cast<MemRefType>(copy.getSource().getType());
  auto target = dyn_cast<MemRefType>(copy.getTarget().getType());
  if (!source || !target || !source.hasStaticShape() ||
      !target.hasStaticShape())
    return;
  OpBuilder b(copy);
  linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                         copy.getTarget());
  copy.erase();
}

struct PrepareVectorizationPass
    : dsv3::impl::PrepareVectorizationBase<PrepareVectorizationPass> {
  using PrepareVectorizationBase::PrepareVectorizationBase;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (loopCopies)
      fn.walk(copiesToLoops);
    if (reassociateReductions)
      fn.walk(reassociateCombiners);
    if (approximateMath) {
      RewritePatternSet patterns(&getContext());
      populateMathPolynomialApproximationPatterns(patterns);
      if (failed(applyPatternsGreedily(fn, std::move(patterns))))
        return signalPassFailure();
    }
  }
};

} // namespace
