//===- MixedPrecision.cpp - the dsv3-mixed-precision pass -----------------===//
//
// Applies a precision policy to the training step: under bf16 (or fp16)
// every f32 GEMM (forward, and the backward GEMMs autodiff derived from it)
// reads bf16 (fp16) operands, accumulates in f32 and yields bf16 (fp16),
// widened again for the f32 ops around it. fp16 adds dynamic loss scaling
// inside the step: the backward starts from the scale instead of 1, the
// gradients are unscaled before clipping, and a step with a non-finite
// gradient returns every parameter and moment as it was.
//
//===----------------------------------------------------------------------===//

#include "Analysis/GemmRoles.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_MIXEDPRECISION
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

bool hasElementType(Value v, Type element) {
  return cast<RankedTensorType>(v.getType()).getElementType() == element;
}

/// The loss scaler's state (fp16).
constexpr llvm::StringLiteral kScaleName = "loss_scaler.scale";
constexpr llvm::StringLiteral kGoodStepsName = "loss_scaler.good_steps";
constexpr llvm::StringLiteral kSkippedName = "loss_scaler.skipped";

/// The GEMMs a policy narrows: f32 operands (the two matrices) and result.
bool isF32Gemm(Operation *op) {
  if (!isa<MatmulOp, GroupedMatmulOp, GroupedMatmulWgradOp>(op))
    return false;
  Type f32 = Float32Type::get(op->getContext());
  return hasElementType(op->getOperand(0), f32) &&
         hasElementType(op->getOperand(1), f32) &&
         hasElementType(op->getResult(0), f32);
}

struct MixedPrecisionPass
    : dsv3::impl::MixedPrecisionBase<MixedPrecisionPass> {
  using dsv3::impl::MixedPrecisionBase<MixedPrecisionPass>::MixedPrecisionBase;

  void runOnOperation() override;

private:
  /// Every f32 GEMM of `fn` on `narrowType` operands and result.
  void narrowGemms(func::FuncOp fn, Type narrowType);
  /// `v` as `narrowType`: the value a widening cast came from, or one cast
  /// of `v` placed before `user`, its first GEMM, and shared by every later
  /// one.
  Value narrow(Value v, Type narrowType, Operation *user);
  /// fp16's dynamic loss scaling (see the pass description).
  LogicalResult scaleLoss(func::FuncOp fn);

  llvm::DenseMap<Value, Value> narrowed;
};

Value MixedPrecisionPass::narrow(Value v, Type narrowType, Operation *user) {
  if (auto widen = v.getDefiningOp<CastOp>())
    if (hasElementType(widen.getInput(), narrowType))
      return widen.getInput();
  Value &cached = narrowed[v];
  if (cached)
    return cached;
  OpBuilder b(user);
  auto type = cast<RankedTensorType>(v.getType());
  cached = CastOp::create(b, v.getLoc(), type.clone(narrowType), v);
  return cached;
}

void MixedPrecisionPass::narrowGemms(func::FuncOp fn, Type narrowType) {
  // The router stays f32: the gate projection that computes its logits,
  // and the two backward GEMMs of the logits' gradient.
  llvm::DenseMap<Operation *, GemmRole> roles = classifyGemms(fn);
  SmallVector<Operation *> gemms;
  fn.walk([&](Operation *op) {
    if (isF32Gemm(op) && roles.lookup(op) != GemmRole::router)
      gemms.push_back(op);
  });
  narrowed.clear();
  for (Operation *op : gemms) {
    IRMapping mapping;
    for (Value operand : op->getOperands().take_front(2))
      mapping.map(operand, narrow(operand, narrowType, op));
    OpBuilder b(op);
    Operation *narrowGemm = b.clone(*op, mapping);
    Value result = narrowGemm->getResult(0);
    auto type = cast<RankedTensorType>(result.getType());
    result.setType(type.clone(narrowType));
    Value widened = CastOp::create(b, op->getLoc(), type, result);
    op->getResult(0).replaceAllUsesWith(widened);
    op->erase();
  }
}

LogicalResult MixedPrecisionPass::scaleLoss(func::FuncOp fn) {
  auto fail = [&](const Twine &why) {
    return fn.emitError("dsv3-mixed-precision: policy=fp16: ") << why;
  };
  if (!(lossScale >= 1.0 && lossScale <= 3.0e38))
    return fail("loss-scale must be in [1, 3e38], not ") << lossScale;
  if (growthInterval < 1)
    return fail("growth-interval must be at least 1, not ") << growthInterval;

  SmallVector<ConstantOp> seeds;
  SmallVector<ClipByGlobalNormOp> clips;
  fn.walk([&](Operation *op) {
    if (op->hasAttr(Dsv3Dialect::LossSeedAttrHelper::getNameStr()))
      if (auto c = dyn_cast<ConstantOp>(op))
        seeds.push_back(c);
    if (auto clip = dyn_cast<ClipByGlobalNormOp>(op))
      clips.push_back(clip);
  });
  if (seeds.size() != 1 || clips.size() != 1)
    return fail("@") << fn.getName() << " has " << seeds.size()
                     << " backward seeds (dsv3.loss_seed) and " << clips.size()
                     << " gradient clippings; loss scaling needs one of each "
                        "(the step dsv3-autodiff builds)";

  // The scaler's state goes after the last parameter or optimizer state.
  unsigned insertAt = 0;
  for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i) {
    std::optional<Role> role = getArgRole(fn, i);
    if (role == Role::param || role == Role::opt_state)
      insertAt = i + 1;
  }
  OpBuilder b(fn.getContext());
  Location loc = fn.getLoc();
  auto f32Scalar = RankedTensorType::get({}, b.getF32Type());
  auto i64Scalar = RankedTensorType::get({}, b.getI64Type());
  // One optimizer state of the scaler, after those inserted before it.
  auto addState = [&](Type type, StringRef name, InitKind init,
                      std::optional<double> value = std::nullopt) {
    SmallVector<NamedAttribute> attrs = {getRoleAttr(b, Role::opt_state),
                                         getNameAttr(b, name),
                                         getInitAttr(b, init)};
    if (value)
      attrs.push_back(
          b.getNamedAttr(kInitValueAttr, b.getF64FloatAttr(*value)));
    (void)fn.insertArgument(insertAt, type, b.getDictionaryAttr(attrs), loc);
    return fn.getArgument(insertAt++);
  };
  Value scale =
      addState(f32Scalar, kScaleName, InitKind::constant, lossScale.getValue());
  Value goodSteps = addState(i64Scalar, kGoodStepsName, InitKind::zeros);
  Value skippedSoFar = addState(i64Scalar, kSkippedName, InitKind::zeros);
  Block &body = fn.getBody().front();

  // The backward starts from the scale: every gradient is scaled by it.
  ConstantOp seed = seeds.front();
  b.setInsertionPoint(seed);
  Value scaledSeed = scale;
  if (scaledSeed.getType() != seed.getType())
    scaledSeed = CastOp::create(b, seed.getLoc(), seed.getType(), scale);
  seed.getResult().replaceAllUsesWith(scaledSeed);
  seed.erase();

  // Unscaled before clipping; the step is finite when they all are.
  ClipByGlobalNormOp clip = clips.front();
  b.setInsertionPoint(clip);
  SmallVector<Value> unscaled;
  for (OpOperand &g : clip->getOpOperands()) {
    Value u = UnscaleOp::create(b, clip.getLoc(), g.get(), scale);
    g.set(u);
    unscaled.push_back(u);
  }
  Value finite = AllFiniteOp::create(b, clip.getLoc(), unscaled);

  // A skipped step returns the state it was given.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  b.setInsertionPoint(ret);
  SmallVector<Value> results(ret.getOperands());
  SmallVector<DictionaryAttr> resultAttrs;
  unsigned stateEnd = 0;
  // One broadcast of the condition per update and shape.
  llvm::DenseMap<std::pair<Operation *, Type>, Value> conditions;
  for (unsigned r = 0; r < results.size(); ++r) {
    resultAttrs.push_back(fn.getResultAttrDict(r));
    std::optional<unsigned> updated = getUpdatedArgument(fn, r);
    std::optional<Role> role = getResultRole(fn, r);
    if (role == Role::param || role == Role::opt_state || role == Role::loss)
      stateEnd = r + 1;
    if (!updated || results[r] == fn.getArgument(*updated))
      continue;
    // Right after the update (an AdamW's or the router bias's), so that
    // the update's kernel chooses too and can write in place.
    OpBuilder::InsertionGuard guard(b);
    Operation *def = results[r].getDefiningOp();
    if (def)
      b.setInsertionPointAfter(def);
    auto type = cast<RankedTensorType>(results[r].getType());
    Value &condition = conditions[{def, type.clone(b.getI1Type())}];
    if (!condition)
      condition =
          type.getRank() == 0
              ? finite
              : Value(BroadcastOp::create(b, loc, type.clone(b.getI1Type()),
                                          finite, ArrayRef<int64_t>{}));
    else if (Operation *broadcast = condition.getDefiningOp<BroadcastOp>())
      b.setInsertionPointAfter(broadcast);
    results[r] = SelectOp::create(b, loc, condition, results[r],
                                  fn.getArgument(*updated));
  }

  auto update = UpdateLossScaleOp::create(b, loc, scale, goodSteps, finite,
                                          llvm::APFloat(2.0),
                                          llvm::APFloat(0.5), growthInterval);
  auto constant = [&](RankedTensorType type, double v) -> Value {
    return ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(type, b.getFloatAttr(b.getF32Type(), v)));
  };
  // The skipped steps so far: state, so that a resumed run keeps count.
  Value one = ConstantOp::create(
      b, loc, DenseElementsAttr::get(i64Scalar, b.getI64IntegerAttr(1)));
  Value skipped =
      SelectOp::create(b, loc, finite, skippedSoFar,
                       AddOp::create(b, loc, skippedSoFar, one).getResult());
  auto state = [&](StringRef name) {
    return b.getDictionaryAttr(
        {getRoleAttr(b, Role::opt_state), getNameAttr(b, name)});
  };
  auto metric = [&](StringRef name) {
    return b.getDictionaryAttr(
        {getRoleAttr(b, Role::metric), getNameAttr(b, name)});
  };
  results.insert(results.begin() + stateEnd,
                 {update.getNewScale(), update.getNewGoodSteps(), skipped});
  resultAttrs.insert(
      resultAttrs.begin() + stateEnd,
      {state(kScaleName), state(kGoodStepsName), state(kSkippedName)});
  // The scale this step used, as a value of its own: a result that is an
  // argument would give the argument's buffer the metric's role.
  Value used = MulOp::create(b, loc, scale, constant(f32Scalar, 1.0));
  results.append({used, CastOp::create(b, loc, f32Scalar, skipped)});
  resultAttrs.append({metric("loss_scale"), metric("skipped")});
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  fn.setType(
      b.getFunctionType(fn.getArgumentTypes(), ValueRange(results).getTypes()));
  fn.setAllResultAttrs(resultAttrs);
  return success();
}

void MixedPrecisionPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (policy != "fp32" && policy != "bf16" && policy != "fp16") {
    if (policy == "fp8")
      module.emitError("dsv3-mixed-precision: policy=fp8 is not supported "
                       "yet (the policies are fp32, bf16 and fp16)");
    else
      module.emitError("dsv3-mixed-precision: unknown policy '")
          << policy.getValue() << "' (fp32, bf16 or fp16)";
    return signalPassFailure();
  }
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (policy == "fp32" && (!fn || fn.isExternal()))
    return;
  if (!fn || fn.isExternal()) {
    module.emitError("dsv3-mixed-precision: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }

  if (policy == "bf16")
    narrowGemms(fn, BFloat16Type::get(&getContext()));
  if (policy == "fp16") {
    narrowGemms(fn, Float16Type::get(&getContext()));
    if (failed(scaleLoss(fn)))
      return signalPassFailure();
  }
  // The seed's mark has done its work.
  fn.walk([](ConstantOp c) {
    c->removeAttr(Dsv3Dialect::LossSeedAttrHelper::getNameStr());
  });
}

} // namespace
