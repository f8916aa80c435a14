//===- Dsv3ToLinalg.cpp - the convert-dsv3-to-linalg pass -----------------===//
//
// Applies the pointwise, reduction and structural patterns as a partial
// conversion with the whole dsv3 dialect illegal: an op without a lowering
// is an error naming it.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"
#include "Conversion/Passes.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_CONVERTDSV3TOLINALG
#define GEN_PASS_DEF_DECOMPOSEATTENTION
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The dsv3 ops the patterns lower (all but fp8 GEMMs, E5M2, compressed
/// 2:4 tensors, sparse GEMMs and collectives).
bool hasLowering(Operation *op) {
  if (isa<QuantizeOp, DequantizeOp, TransposeQuantizedOp>(op))
    return llvm::all_of(op->getOperandTypes(),
                        [](Type t) {
                          return !isa<Float8E5M2Type>(getElementTypeOrSelf(t));
                        }) &&
           llvm::all_of(op->getResultTypes(), [](Type t) {
             return !isa<Float8E5M2Type>(getElementTypeOrSelf(t));
           });
  return isa<AddOp, SubOp, MulOp, DivOp, NegOp, ExpOp, LogOp, RsqrtOp,
             SigmoidOp, SiluOp, SelectOp, CompareOp, CastOp, ScaleOp,
             UnscaleOp, ReduceOp, SoftmaxOp, LogSoftmaxOp, ConstantOp,
             ReshapeOp, TransposeOp, BroadcastOp, SliceOp, PadOp, ConcatOp,
             MatmulOp, FusionOp, YieldOp, RmsNormOp, RmsNormGradOp,
             EmbeddingOp, GatherOp, CrossEntropyOp, CrossEntropyGradOp, RopeOp,
             AdamWOp, LrScheduleOp, ClipByGlobalNormOp, ExpertLoadOp,
             UpdateRouterBiasOp, AllFiniteOp, ScatterAddOp, AttentionOp,
             AttentionGradOp, MoeDispatchOp, MoeCombineOp, MoeCombineGradOp,
             GroupedMatmulOp, GroupedMatmulWgradOp, RouterOp, RouterGradOp,
             BalanceLossOp, BalanceLossGradOp, Prune24Op, MagnitudeMaskOp,
             FakeQuantOp, UpdateLossScaleOp>(op);
}

struct ConvertDsv3ToLinalgPass
    : dsv3::impl::ConvertDsv3ToLinalgBase<ConvertDsv3ToLinalgPass> {
  using dsv3::impl::ConvertDsv3ToLinalgBase<
      ConvertDsv3ToLinalgPass>::ConvertDsv3ToLinalgBase;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    populateDsv3PointwiseToLinalgPatterns(context, patterns);
    populateDsv3ReduceToLinalgPatterns(context, patterns);
    populateDsv3StructuralToLinalgPatterns(context, patterns);
    populateDsv3LayersToLinalgPatterns(context, patterns);
    populateDsv3OptimizerToLinalgPatterns(context, patterns);
    populateDsv3AttentionDecompositionPatterns(context, patterns);
    populateDsv3MoEToLoopsPatterns(context, patterns, parallelRouting);
    populateDsv3RoutingToLinalgPatterns(context, patterns);
    populateDsv3SparsityToLinalgPatterns(context, patterns);
    populateDsv3Fp8ToLinalgPatterns(context, patterns);

    // Every dsv3 op must go: one without a lowering is an error naming it,
    // not an op left for later passes to trip over.
    ConversionTarget target(*context);
    target.addIllegalDialect<Dsv3Dialect>();
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           scf::SCFDialect, func::FuncDialect,
                           bufferization::BufferizationDialect>();
    target.addLegalOp<ModuleOp>();
    bool unsupported = false;
    getOperation()->walk([&](Operation *op) {
      if (!isa<Dsv3Dialect>(op->getDialect()) || hasLowering(op))
        return;
      unsupported = true;
      op->emitError("convert-dsv3-to-linalg: ")
          << op->getName() << " has no lowering to linalg"
          << (isa<AllReduceOp, ReduceScatterOp, AllGatherOp, AllToAllOp>(op)
                  ? " (collectives are not compiled yet: the step runs on "
                    "one rank)"
                  : " (fp8 GEMMs (dsv3.scaled_matmul), E5M2 fp8, "
                    "compressed 2:4 tensors and sparse GEMMs are not "
                    "compiled yet)");
    });
    if (unsupported)
      return signalPassFailure();
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

struct DecomposeAttentionPass
    : dsv3::impl::DecomposeAttentionBase<DecomposeAttentionPass> {
  using dsv3::impl::DecomposeAttentionBase<
      DecomposeAttentionPass>::DecomposeAttentionBase;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    populateDsv3AttentionDecompositionPatterns(context, patterns);
    ConversionTarget target(*context);
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addDynamicallyLegalOp<AttentionOp, AttentionGradOp>(
        [&](Operation *op) { return keepLibrary && isLibraryAttention(op); });
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
