//===- VerifyPrecision.cpp - the dsv3-verify-precision pass ---------------===//
//
// Checks a training step against a precision recipe and lists every op
// whose precision departs from it, with its location and the rule: a
// norm, softmax, router, loss or optimizer op that is not f32, a master
// weight that is not f32, a linear layer's GEMM that does not run in the
// recipe's precision, a value rounded again after it was widened from the
// same narrow type, fp16 without loss scaling.
//
//===----------------------------------------------------------------------===//

#include "Analysis/GemmRoles.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_VERIFYPRECISION
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

Type elementTypeOf(Value v) {
  if (auto shaped = dyn_cast<ShapedType>(v.getType()))
    return shaped.getElementType();
  return v.getType();
}

/// The narrowest float element type among `values`, or null.
FloatType narrowestFloat(ValueRange values) {
  FloatType narrowest;
  for (Value v : values)
    if (auto f = dyn_cast<FloatType>(elementTypeOf(v)))
      if (!narrowest || f.getWidth() < narrowest.getWidth())
        narrowest = f;
  return narrowest;
}

std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

struct VerifyPrecisionPass
    : dsv3::impl::VerifyPrecisionBase<VerifyPrecisionPass> {
  using dsv3::impl::VerifyPrecisionBase<
      VerifyPrecisionPass>::VerifyPrecisionBase;

  void runOnOperation() override;

private:
  /// Reports one departure from the recipe at `op`.
  void depart(Operation *op, StringRef rule, const Twine &what);

  /// Each rule's count of departures, in the order first seen.
  llvm::StringMap<int64_t> counts;
  SmallVector<std::string> order;
};

void VerifyPrecisionPass::depart(Operation *op, StringRef rule,
                                 const Twine &what) {
  if (counts[rule]++ == 0)
    order.push_back(rule.str());
  // At the op's location, without the op printed after it: one line each.
  InFlightDiagnostic d =
      errors ? emitError(op->getLoc()) : emitWarning(op->getLoc());
  d << "[" << rule << "] " << what;
}

void VerifyPrecisionPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (recipe != "bf16" && recipe != "fp16" && recipe != "deepseek-v3") {
    module.emitError("dsv3-verify-precision: unknown recipe '")
        << recipe.getValue() << "' (bf16, fp16 or deepseek-v3)";
    return signalPassFailure();
  }
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn || fn.isExternal()) {
    module.emitError("dsv3-verify-precision: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }
  counts.clear();
  order.clear();
  std::string name = recipe.getValue();
  MLIRContext *ctx = &getContext();
  Type narrow = recipe == "fp16" ? Type(Float16Type::get(ctx))
                                 : Type(BFloat16Type::get(ctx));

  // The GEMMs that are not a linear layer's: the router's and the head's.
  llvm::DenseMap<Operation *, GemmRole> roles = classifyGemms(fn);

  auto mustBeF32 = [&](Operation *op, ValueRange values, StringRef rule,
                       StringRef what) {
    FloatType t = narrowestFloat(values);
    if (t && t.getWidth() < 32)
      depart(op, rule,
             op->getName().getStringRef() + " runs in " + typeName(t) +
                 "; the " + name + " recipe keeps " + what + " in f32");
  };

  for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i) {
    if (getArgRole(fn, i) != Role::param)
      continue;
    Type t = elementTypeOf(fn.getArgument(i));
    if (isa<FloatType>(t) && !t.isF32() && !t.isF64())
      depart(fn, "master-weights-f32",
             "parameter " + getArgName(fn, i) + " is " + typeName(t) +
                 "; the " + name + " recipe keeps master weights in f32");
  }

  bool lossScaled = false;
  fn.walk([&](Operation *op) {
    if (isa<UpdateLossScaleOp>(op))
      lossScaled = true;
    if (isa<RmsNormOp, RmsNormGradOp>(op))
      return mustBeF32(op, op->getOperands(), "norm-f32", "norms");
    if (isa<SoftmaxOp, LogSoftmaxOp, AttentionOp, AttentionGradOp>(op))
      return mustBeF32(op, op->getOperands(), "softmax-f32",
                       "softmax and the attention core");
    if (isa<RouterOp, RouterGradOp, UpdateRouterBiasOp>(op))
      return mustBeF32(op, op->getOperands(), "router-f32",
                       "the router (logits, scores, bias)");
    if (isa<CrossEntropyOp, CrossEntropyGradOp>(op))
      return mustBeF32(op, op->getOperands(), "loss-f32", "the loss");
    if (auto adamw = dyn_cast<AdamWOp>(op))
      // The moments may be bf16 (moments=bf16); weight and gradient not.
      return mustBeF32(op, op->getOperands().take_front(2), "optimizer-f32",
                       "the optimizer's weights and gradients");
    if (isa<ClipByGlobalNormOp>(op))
      return mustBeF32(op, op->getOperands(), "optimizer-f32",
                       "the gradients the optimizer clips");
    if (auto cast = dyn_cast<CastOp>(op)) {
      // Rounding again a value widened from the same type: use the
      // narrow value.
      auto widen = cast.getInput().getDefiningOp<CastOp>();
      Type to = elementTypeOf(cast.getResult());
      auto width = [](Type t) { return t.getIntOrFloatBitWidth(); };
      if (widen && isa<FloatType>(to) &&
          width(to) < width(elementTypeOf(cast.getInput())) &&
          cast.getResult().getType() == widen.getInput().getType())
        depart(op, "cast-chain",
               "rounds to " + typeName(to) + " a value widened from " +
                   typeName(to) + "; the narrow value is already there");
      return;
    }
    if (isa<ScaledMatmulOp>(op)) {
      if (recipe != "deepseek-v3")
        depart(op, "gemm-precision",
               "an fp8 GEMM; the " + name + " recipe runs GEMMs in " +
                   typeName(narrow));
      return;
    }
    if (!isa<MatmulOp, GroupedMatmulOp, GroupedMatmulWgradOp>(op))
      return;
    GemmRole kind = roles.lookup(op);
    FloatType t = narrowestFloat(op->getOperands().take_front(2));
    if (!t)
      return;
    if (kind == GemmRole::router) {
      mustBeF32(op, op->getOperands().take_front(2), "router-f32",
                "the router's gate projection");
      return;
    }
    if (recipe == "deepseek-v3") {
      if (kind == GemmRole::head)
        return; // bf16 or f32
      // Emulated fp8: both operands dequantized E4M3, a weight (a
      // parameter) in 128x128 blocks and anything else in 1x128 tiles.
      auto fp8Operand = [&](Value v) {
        DequantizeOp dq = dequantizedFp8(v);
        if (!dq)
          return false;
        Value q = dq.getInput();
        while (auto reshape = q.getDefiningOp<ReshapeOp>())
          q = reshape.getInput();
        auto quantize = q.getDefiningOp<QuantizeOp>();
        bool weight = quantize && isParameter(fn, quantize.getInput());
        return dq.getLayout() ==
               (weight ? ScaleLayout::block_128x128 : ScaleLayout::tile_1x128);
      };
      if (fp8Operand(op->getOperand(0)) && fp8Operand(op->getOperand(1)))
        return;
      depart(op, "gemm-precision",
             op->getName().getStringRef() + " runs in " + typeName(t) +
                 "; the deepseek-v3 recipe runs a linear layer's GEMMs "
                 "(forward, input and weight gradient) in fp8 E4M3 with "
                 "1x128 and 128x128 scales (dsv3.scaled_matmul, or "
                 "dequantized dsv3.quantize operands)");
      return;
    }
    if (t != narrow)
      depart(
          op, "gemm-precision",
          op->getName().getStringRef() + " runs in " + typeName(t) + "; the " +
              name + " recipe runs " +
              (kind == GemmRole::head ? "the output head" : "linear layers") +
              " in " + typeName(narrow));
  });
  if (recipe == "fp16" && !lossScaled)
    depart(fn, "fp16-loss-scaling",
           "@" + fn.getName() +
               " updates no loss scale; fp16 gradients "
               "underflow without loss scaling");

  int64_t total = 0;
  for (const std::string &rule : order)
    total += counts[rule];
  InFlightDiagnostic summary = emitRemark(fn.getLoc());
  if (total == 0) {
    summary << "dsv3-verify-precision: every op of @" << fn.getName()
            << " follows the " << name << " recipe";
    summary.report();
    return;
  }
  summary << "dsv3-verify-precision: " << total << " departure"
          << (total == 1 ? "" : "s") << " of @" << fn.getName() << " from the "
          << name << " recipe:";
  for (const std::string &rule : order)
    summary << " " << rule << " " << counts[rule];
  summary.report();
  if (errors)
    signalPassFailure();
}

} // namespace
