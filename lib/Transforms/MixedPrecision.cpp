//===- MixedPrecision.cpp - the dsv3-mixed-precision pass -----------------===//
//
// Applies a precision policy to the training step: under bf16 (or fp16)
// every f32 GEMM (forward, and the backward GEMMs autodiff derived from it)
// reads bf16 (fp16) operands, accumulates in f32 and yields bf16 (fp16),
// widened again for the f32 ops around it. fp16 adds dynamic loss scaling
// inside the step: the backward starts from the scale instead of 1, the
// gradients are unscaled before clipping, and a step with a non-finite
// gradient returns every parameter and moment as it was. fp8 is
// DeepSeek-V3's recipe: every GEMM of a linear layer reads E4M3 operands
// (activations and gradients per 1x128 tile along the contraction, weights
// per 128x128 block), dequantized to f32 for an f32 GEMM, so each
// operand's values are the fp8 ones exactly.
//
//===----------------------------------------------------------------------===//

#include "Analysis/GemmRoles.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

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
  /// Every f32 GEMM of `fn` but the router's (or only those of `only`) on
  /// `narrowType` operands and result.
  void narrowGemms(func::FuncOp fn, Type narrowType,
                   std::optional<GemmRole> only = std::nullopt);
  /// `v` as `narrowType`: the value a widening cast came from, or one cast
  /// of `v` placed before `user`, its first GEMM, and shared by every later
  /// one.
  Value narrow(Value v, Type narrowType, Operation *user);
  /// fp16's dynamic loss scaling (see the pass description).
  LogicalResult scaleLoss(func::FuncOp fn);
  /// fp8: the linear layers' GEMMs on block-scaled E4M3 operands, the
  /// output head's in bf16.
  void fp8Gemms(func::FuncOp fn);
  /// `v` (f32, contracted along its last dimension) through E4M3 with
  /// `layout` scales, as f32, for the GEMM `user` and those after it: one
  /// quantize and one dequantize per value, placed before the first. With
  /// `transposed` (a weight, for a GEMM that reads it untransposed) the
  /// dequantized copy swaps the last two dimensions: a copy of its own,
  /// made where the input gradient needs it, not the forward's kept until
  /// then.
  Value fp8(Value v, ScaleLayout layout, Operation *user,
            bool transposed = false);
  /// The rank-2 `v` (f32, contracted along its first dimension: tokens)
  /// transposed and through E4M3 with tiles along the tokens, as f32. The
  /// forward's fp8 copy of `v` is re-tiled when there is one, so that the
  /// backward keeps `v` in fp8 only.
  Value fp8Transposed(Value v, Operation *user);

  llvm::DenseMap<Value, Value> narrowed;
  /// fp8 copies, by value and layout: (values, scales).
  llvm::DenseMap<std::pair<Value, unsigned>, std::pair<Value, Value>> quantized;
  llvm::DenseMap<std::pair<Value, unsigned>, Value> dequantized;
  llvm::DenseMap<Value, Value> transposedFp8;
  /// The ops the loss is computed from (forward values); empty when the
  /// function has no loss result, and then the forward is what comes
  /// before the backward's first seed (`backwardStart`; null when none).
  llvm::DenseSet<Operation *> forwardOps;
  Operation *backwardStart = nullptr;
};

/// `v` before reshapes that keep its last dimension (tiles along it are
/// the same tiles).
Value beforeRowReshapes(Value v) {
  while (auto reshape = v.getDefiningOp<ReshapeOp>()) {
    auto in = cast<RankedTensorType>(reshape.getInput().getType());
    if (in.getRank() == 0 ||
        in.getShape().back() !=
            cast<RankedTensorType>(v.getType()).getShape().back())
      break;
    v = reshape.getInput();
  }
  return v;
}

RankedTensorType scalesType(RankedTensorType type, ScaleLayout layout) {
  return RankedTensorType::get(getScaleShape(type.getShape(), layout),
                               Float32Type::get(type.getContext()));
}

/// The rank-2 `v` transposed.
Value transposeMatrix(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  auto transposed = RankedTensorType::get(
      {type.getDimSize(1), type.getDimSize(0)}, type.getElementType());
  return TransposeOp::create(b, loc, transposed, v, ArrayRef<int64_t>{1, 0});
}

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

void MixedPrecisionPass::narrowGemms(func::FuncOp fn, Type narrowType,
                                     std::optional<GemmRole> only) {
  // The router stays f32: the gate projection that computes its logits,
  // and the two backward GEMMs of the logits' gradient.
  llvm::DenseMap<Operation *, GemmRole> roles = classifyGemms(fn);
  SmallVector<Operation *> gemms;
  fn.walk([&](Operation *op) {
    GemmRole role = roles.lookup(op);
    if (isF32Gemm(op) && role != GemmRole::router && (!only || role == *only))
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

Value MixedPrecisionPass::fp8(Value v, ScaleLayout layout, Operation *user,
                              bool transposed) {
  auto key = std::make_pair(v, static_cast<unsigned>(layout) * 2 + transposed);
  if (Value d = dequantized.lookup(key))
    return d;
  // One fp8 copy of a value and of its reshapes along rows.
  Value base = layout == ScaleLayout::tile_1x128 ? beforeRowReshapes(v) : v;
  auto baseKey = std::make_pair(base, static_cast<unsigned>(layout));
  Location loc = v.getLoc();
  auto f8 = Float8E4M3FNType::get(v.getContext());
  OpBuilder b(user);
  if (!quantized.count(baseKey)) {
    auto type = cast<RankedTensorType>(base.getType());
    auto q = QuantizeOp::create(b, loc, type.clone(f8),
                                scalesType(type, layout), base, layout);
    quantized[baseKey] = {q.getResult(), q.getScales()};
  }
  auto [q, scales] = quantized[baseKey];
  auto type = cast<RankedTensorType>(v.getType());
  if (base != v) {
    q = ReshapeOp::create(b, loc, type.clone(f8), q);
    scales = ReshapeOp::create(b, loc, scalesType(type, layout), scales);
  }
  SmallVector<int64_t> shape(type.getShape());
  if (transposed)
    std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  Value d = DequantizeOp::create(b, loc, type.clone(shape), q, scales, layout,
                                 transposed);
  dequantized[key] = d;
  return d;
}

Value MixedPrecisionPass::fp8Transposed(Value v, Operation *user) {
  if (Value d = transposedFp8.lookup(v))
    return d;
  auto type = cast<RankedTensorType>(v.getType());
  Location loc = v.getLoc();
  auto f8 = Float8E4M3FNType::get(v.getContext());
  auto transposedType = RankedTensorType::get(
      {type.getDimSize(1), type.getDimSize(0)}, type.getElementType());
  auto tile = static_cast<unsigned>(ScaleLayout::tile_1x128);
  Value base = beforeRowReshapes(v);
  // Right before the weight gradient: only the fp8 copy lives until then.
  OpBuilder b(user);
  Value q, scales;
  // A forward value's fp8 copy is re-tiled, so the backward keeps only
  // fp8. A gradient is quantized along the tokens from f32 directly.
  Operation *def = base.getDefiningOp();
  bool forward =
      !def || (forwardOps.empty()
                   ? !backwardStart || def->isBeforeInBlock(backwardStart)
                   : forwardOps.contains(def));
  auto it = quantized.find({base, tile});
  if (forward && it != quantized.end()) {
    auto [fq, fs] = it->second;
    if (base != v) {
      fq = ReshapeOp::create(b, loc, type.clone(f8), fq);
      fs = ReshapeOp::create(b, loc, scalesType(type, ScaleLayout::tile_1x128),
                             fs);
    }
    auto t = TransposeQuantizedOp::create(
        b, loc, transposedType.clone(f8),
        scalesType(transposedType, ScaleLayout::tile_1x128), fq, fs);
    q = t.getResult();
    scales = t.getResultScales();
  } else {
    Value t = transposeMatrix(b, loc, v);
    auto quantize =
        QuantizeOp::create(b, loc, transposedType.clone(f8),
                           scalesType(transposedType, ScaleLayout::tile_1x128),
                           t, ScaleLayout::tile_1x128);
    q = quantize.getResult();
    scales = quantize.getScales();
  }
  Value d = DequantizeOp::create(b, loc, transposedType, q, scales,
                                 ScaleLayout::tile_1x128);
  transposedFp8[v] = d;
  return d;
}

void MixedPrecisionPass::fp8Gemms(func::FuncOp fn) {
  llvm::DenseMap<Operation *, GemmRole> roles = classifyGemms(fn);
  Block &body = fn.getBody().front();
  SmallVector<Operation *> linear;
  fn.walk([&](Operation *op) {
    if (isF32Gemm(op) && op->getBlock() == &body &&
        roles.lookup(op) == GemmRole::linear)
      linear.push_back(op);
  });
  quantized.clear();
  dequantized.clear();
  transposedFp8.clear();
  forwardOps.clear();
  backwardStart = nullptr;
  fn.walk([&](ConstantOp c) {
    if (!backwardStart &&
        c->hasAttr(Dsv3Dialect::LossSeedAttrHelper::getNameStr()))
      backwardStart = c;
  });
  Operation *ret = body.getTerminator();
  for (unsigned r = 0, e = fn.getNumResults(); r < e; ++r)
    if (getResultRole(fn, r) == Role::loss)
      if (Operation *loss = ret->getOperand(r).getDefiningOp()) {
        SetVector<Operation *> slice;
        BackwardSliceOptions options;
        options.omitBlockArguments = true;
        (void)getBackwardSlice(loss, &slice, options);
        forwardOps.insert(slice.begin(), slice.end());
        forwardOps.insert(loss);
      }
  auto rank = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getRank();
  };
  // Program order (one block): a forward GEMM quantizes an activation
  // before the weight gradient that re-tiles it.
  for (Operation *op : linear) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value replacement;
    if (auto mm = dyn_cast<MatmulOp>(op)) {
      Value lhs = mm.getLhs(), rhs = mm.getRhs();
      bool transposeLhs = mm.getTransposeLhs(),
           transposeRhs = mm.getTransposeRhs();
      bool weight = isParameter(fn, rhs) && rank(rhs) == 2;
      // An operand contracted along its first dimension (an activation or
      // a gradient in a weight gradient, contracted over the tokens) is
      // tiled along it, so it is read transposed; that needs rank 2.
      // A weight on the left is not a linear layer's form: left as it is
      // (dsv3-verify-precision reports it).
      if ((transposeLhs && rank(lhs) != 2) ||
          (!weight && !transposeRhs && rank(rhs) != 2) || isParameter(fn, lhs))
        continue;
      lhs = transposeLhs ? fp8Transposed(lhs, op)
                         : fp8(lhs, ScaleLayout::tile_1x128, op);
      // A weight read untransposed (an input gradient) is read as its
      // transposed copy.
      if (weight)
        rhs = fp8(rhs, ScaleLayout::block_128x128, op, !transposeRhs);
      else
        rhs = transposeRhs ? fp8(rhs, ScaleLayout::tile_1x128, op)
                           : fp8Transposed(rhs, op);
      replacement = MatmulOp::create(b, loc, mm.getType(), lhs, rhs,
                                     /*transpose_lhs=*/false,
                                     /*transpose_rhs=*/true);
    } else if (auto gm = dyn_cast<GroupedMatmulOp>(op)) {
      // In this order, so that the ops are placed in it.
      Value input = fp8(gm.getInput(), ScaleLayout::tile_1x128, op);
      Value weight = fp8(gm.getWeight(), ScaleLayout::block_128x128, op,
                         !gm.getTransposeRhs());
      replacement = GroupedMatmulOp::create(b, loc, gm.getType(), input, weight,
                                            gm.getGroupSizes(),
                                            /*transpose_rhs=*/true);
    } else {
      // Both operands of an expert's weight gradient are contracted along
      // the rows (tokens): tiled along them, then transposed back for the
      // grouped GEMM.
      auto wg = cast<GroupedMatmulWgradOp>(op);
      Value input = transposeMatrix(b, loc, fp8Transposed(wg.getInput(), op));
      Value dResult =
          transposeMatrix(b, loc, fp8Transposed(wg.getDResult(), op));
      replacement = GroupedMatmulWgradOp::create(b, loc, wg.getType(), input,
                                                 dResult, wg.getGroupSizes(),
                                                 wg.getTransposeRhs());
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }
  // The output head in bf16, as under the bf16 policy.
  narrowGemms(fn, BFloat16Type::get(&getContext()), GemmRole::head);
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
  if (seeds.empty() || clips.size() != 1)
    return fail("@") << fn.getName() << " has " << seeds.size()
                     << " backward seeds (dsv3.loss_seed) and " << clips.size()
                     << " gradient clippings; loss scaling needs a seed per "
                        "micro-batch and one clipping (the step dsv3-autodiff "
                        "builds)";

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

  // Each backward starts from its seed times the scale: every gradient is
  // scaled by it. The seed stays, marked, where the backward starts.
  for (ConstantOp seed : seeds) {
    b.setInsertionPointAfter(seed);
    Value s = scale;
    if (s.getType() != seed.getType())
      s = CastOp::create(b, seed.getLoc(), seed.getType(), scale);
    auto scaledSeed = MulOp::create(b, seed.getLoc(), s, seed);
    seed.getResult().replaceAllUsesExcept(scaledSeed, scaledSeed);
  }

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
  if (policy != "fp32" && policy != "bf16" && policy != "fp16" &&
      policy != "fp8") {
    module.emitError("dsv3-mixed-precision: unknown policy '")
        << policy.getValue() << "' (fp32, bf16, fp16 or fp8)";
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
  if (policy == "fp8")
    fp8Gemms(fn);
}

} // namespace
