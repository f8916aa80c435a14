//===- Autodiff.cpp - the dsv3-autodiff pass ------------------------------===//
//
// Derives @train_step(params, m, v, batch, step) -> (loss, params', m', v',
// grad_norm, lr, expert loads...) from @forward: the forward graph and its
// reverse-mode gradients (once per micro-batch, in turn, when
// accumulating; the loss is their mean), global-norm clipping, the warmup
// + cosine learning rate, AdamW with bias correction and decoupled weight
// decay, and the aux-loss-free router bias step (+-gamma by expert load).
//
//===----------------------------------------------------------------------===//

#include "Analysis/Cost.h"
#include "Transforms/Passes.h"
#include "Transforms/ReverseMode.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_AUTODIFF
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

struct AutodiffPass : dsv3::impl::AutodiffBase<AutodiffPass> {
  using dsv3::impl::AutodiffBase<AutodiffPass>::AutodiffBase;

  void runOnOperation() override;
  LogicalResult buildTrainStep(func::FuncOp forward);
};

void AutodiffPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>(function);
  if (!forward) {
    module.emitError("dsv3-autodiff: no function @") << function.getValue()
                                                     << " to differentiate";
    return signalPassFailure();
  }
  if (forward.isExternal()) {
    forward.emitError("dsv3-autodiff: @")
        << forward.getName() << " is a declaration; it needs a body to "
        << "differentiate";
    return signalPassFailure();
  }
  if (module.lookupSymbol("train_step")) {
    module.emitError("dsv3-autodiff: the module already has a @train_step");
    return signalPassFailure();
  }
  if (moments != "f32" && moments != "bf16") {
    module.emitError("dsv3-autodiff: moments must be f32 or bf16, got ")
        << moments.getValue();
    return signalPassFailure();
  }
  if (failed(buildTrainStep(forward)))
    signalPassFailure();
}

LogicalResult AutodiffPass::buildTrainStep(func::FuncOp forward) {
  ModuleOp module = getOperation();
  MLIRContext *ctx = module.getContext();
  TrainingConfig knobs = TrainingConfig::get(module);
  OpBuilder b(ctx);
  Location loc = forward.getLoc();

  if (forward.getNumResults() != 1 ||
      cast<RankedTensorType>(forward.getResultTypes()[0]).getRank() != 0)
    return forward.emitError("dsv3-autodiff: @")
           << forward.getName() << " must return one scalar loss";

  // Classify the forward arguments.
  SmallVector<unsigned> params, trainable, frozen, batch;
  for (unsigned i = 0, e = forward.getNumArguments(); i < e; ++i) {
    if (getBatchField(forward, i)) {
      batch.push_back(i);
      continue;
    }
    params.push_back(i);
    (isTrainable(forward, i) ? trainable : frozen).push_back(i);
  }
  int64_t accum = knobs.gradAccum;
  for (unsigned i : batch) {
    auto type = cast<RankedTensorType>(forward.getArgument(i).getType());
    if (type.getRank() < 1)
      return forward.emitError("dsv3-autodiff: batch argument ")
             << i << " must have a leading batch dimension";
  }

  // Signature: params, m, v, batch (accum micro-batches stacked), step.
  Type momentType =
      moments == "bf16" ? Type(b.getBF16Type()) : Type(b.getF32Type());
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  auto named = [&](Role role, StringRef name,
                   ArrayRef<NamedAttribute> extra = {}) {
    SmallVector<NamedAttribute> attrs = {getRoleAttr(b, role)};
    if (!name.empty())
      attrs.push_back(getNameAttr(b, name));
    attrs.append(extra.begin(), extra.end());
    return b.getDictionaryAttr(attrs);
  };
  auto paramName = [&](unsigned i) {
    StringRef name = getArgName(forward, i);
    return name.empty() ? "arg" + std::to_string(i) : name.str();
  };
  for (unsigned i : params) {
    argTypes.push_back(forward.getArgument(i).getType());
    SmallVector<NamedAttribute> attrs(forward.getArgAttrDict(i) ? forward.getArgAttrDict(i).getValue() : ArrayRef<NamedAttribute>());
    attrs.push_back(getRoleAttr(b, Role::param));
    argAttrs.push_back(b.getDictionaryAttr(attrs));
  }
  for (StringRef suffix : {".exp_avg", ".exp_avg_sq"})
    for (unsigned i : trainable) {
      auto type = cast<RankedTensorType>(forward.getArgument(i).getType());
      argTypes.push_back(RankedTensorType::get(type.getShape(), momentType));
      argAttrs.push_back(
          named(Role::opt_state, paramName(i) + suffix.str(),
                {getInitAttr(b, InitKind::zeros)}));
    }
  for (unsigned i : batch) {
    auto type = cast<RankedTensorType>(forward.getArgument(i).getType());
    SmallVector<int64_t> shape(type.getShape());
    shape[0] *= accum;
    argTypes.push_back(RankedTensorType::get(shape, type.getElementType()));
    argAttrs.push_back(b.getDictionaryAttr(
        {getRoleAttr(b, Role::batch), getBatchAttr(b, *getBatchField(forward, i))}));
  }
  argTypes.push_back(RankedTensorType::get({}, b.getI64Type()));
  argAttrs.push_back(named(Role::step, ""));

  b.setInsertionPointAfter(forward);
  auto step = func::FuncOp::create(b, loc, "train_step",
                                   b.getFunctionType(argTypes, {}));
  Block *entry = step.addEntryBlock();
  b.setInsertionPointToStart(entry);
  auto arg = [&](unsigned index) { return entry->getArgument(index); };
  unsigned numParams = params.size(), numTrainable = trainable.size();
  unsigned batchBase = numParams + 2 * numTrainable;

  SmallVector<Value> wrt;
  for (unsigned n = 0; n < numParams; ++n)
    if (llvm::is_contained(trainable, params[n]))
      wrt.push_back(arg(n));

  // Forward and backward once per micro-batch, in turn, so that one
  // micro-batch's activations are live at a time. The loss is the mean of
  // theirs: each backward is seeded with 1/k, and the gradients add up.
  SmallVector<Operation *> forwardOps;
  SmallVector<Value> losses;
  SmallVector<Value> grads;
  SmallVector<IRMapping> clones(accum);
  for (int64_t micro = 0; micro < accum; ++micro) {
    IRMapping &map = clones[micro];
    for (auto [n, i] : llvm::enumerate(params))
      map.map(forward.getArgument(i), arg(n));
    for (auto [n, i] : llvm::enumerate(batch)) {
      Value full = arg(batchBase + n);
      if (accum > 1) {
        auto type = cast<RankedTensorType>(forward.getArgument(i).getType());
        SmallVector<int64_t> start(type.getRank(), 0),
            limit(type.getShape());
        start[0] = micro * type.getDimSize(0);
        limit[0] = start[0] + type.getDimSize(0);
        full = SliceOp::create(b, loc, full, start, limit, nullptr);
      }
      map.map(forward.getArgument(i), full);
    }
    SmallVector<Operation *> microOps;
    for (Operation &op : forward.getBody().front().without_terminator())
      microOps.push_back(b.clone(op, map));
    auto ret = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
    losses.push_back(map.lookup(ret.getOperand(0)));
    FailureOr<SmallVector<Value>> microGrads =
        buildGradients(b, microOps, losses.back(), wrt, 1.0 / accum);
    if (failed(microGrads))
      return failure();
    if (grads.empty())
      grads = std::move(*microGrads);
    else
      // Each sum right where its gradient is complete, so that the
      // micro-batch's gradients do not all live beside the running sums.
      for (auto [g, dg] : llvm::zip(grads, *microGrads)) {
        OpBuilder::InsertionGuard guard(b);
        if (Operation *def = dg.getDefiningOp())
          b.setInsertionPointAfter(def);
        g = AddOp::create(b, dg.getLoc(), g, dg);
      }
    forwardOps.append(microOps);
  }
  Value loss = losses.front();
  for (Value l : ArrayRef<Value>(losses).drop_front())
    loss = AddOp::create(b, loc, loss, l);
  if (accum > 1) {
    auto type = cast<RankedTensorType>(loss.getType());
    Value scale = ConstantOp::create(
        b, loc, DenseElementsAttr::get(
                    type, b.getFloatAttr(type.getElementType(), 1.0 / accum)));
    loss = MulOp::create(b, loc, loss, scale);
  }

  // Clipping (or just the norm, for the metrics) and the learning rate.
  double maxNorm = knobs.clipNorm > 0 ? knobs.clipNorm : 3.0e38;
  auto clip = ClipByGlobalNormOp::create(b, loc, grads, llvm::APFloat(maxNorm));
  Value stepArg = arg(argTypes.size() - 1);
  Value lr = LrScheduleOp::create(b, loc, stepArg, llvm::APFloat(knobs.lr),
                                  llvm::APFloat(knobs.minLr), knobs.warmupSteps,
                                  knobs.totalSteps);
  auto i64Scalar = RankedTensorType::get({}, b.getI64Type());
  Value one = ConstantOp::create(
      b, loc, DenseElementsAttr::get(i64Scalar, b.getI64IntegerAttr(1)));
  Value t = AddOp::create(b, loc, stepArg, one);

  // AdamW per trainable parameter; decay only on matrices (not norms).
  SmallVector<Value> newParams(numParams), newM, newV;
  unsigned g = 0;
  for (unsigned n = 0; n < numParams; ++n) {
    if (!llvm::is_contained(trainable, params[n]))
      continue;
    Value p = arg(n);
    double wd = cast<RankedTensorType>(p.getType()).getRank() >= 2
                    ? knobs.weightDecay
                    : 0.0;
    auto update = AdamWOp::create(
        b, p.getLoc(), p, clip.getClipped()[g], arg(numParams + g),
        arg(numParams + numTrainable + g), lr, t, llvm::APFloat(knobs.beta1),
        llvm::APFloat(knobs.beta2), llvm::APFloat(knobs.eps),
        llvm::APFloat(wd));
    newParams[n] = update.getNewParam();
    newM.push_back(update.getNewM());
    newV.push_back(update.getNewV());
    ++g;
  }

  // Aux-loss-free balancing: each router's bias moves by +-gamma against
  // the load it saw, summed over the micro-batches.
  SmallVector<Value> loads;
  SmallVector<std::string> loadNames;
  for (unsigned n = 0; n < numParams; ++n) {
    if (llvm::is_contained(trainable, params[n]))
      continue;
    Value bias = arg(n);
    Value load;
    for (Operation *op : forwardOps) {
      auto router = dyn_cast<RouterOp>(op);
      if (!router || router.getBias() != bias)
        continue;
      Value l = ExpertLoadOp::create(
          b, router.getLoc(), router.getIndices(),
          cast<RankedTensorType>(bias.getType()).getDimSize(0));
      load = load ? Value(AddOp::create(b, router.getLoc(), load, l)) : l;
    }
    if (load && load.getType() != bias.getType())
      load = CastOp::create(b, loc, bias.getType(), load);
    if (load && knobs.biasUpdateSpeed > 0) {
      newParams[n] = UpdateRouterBiasOp::create(b, loc, bias, load,
                                                llvm::APFloat(knobs.biasUpdateSpeed));
      loads.push_back(load);
      loadNames.push_back(paramName(params[n]));
    } else {
      newParams[n] = bias;
    }
  }

  // Results and their roles.
  SmallVector<Value> results = {loss};
  SmallVector<DictionaryAttr> resultAttrs = {named(Role::loss, "loss")};
  for (unsigned n = 0; n < numParams; ++n) {
    results.push_back(newParams[n]);
    resultAttrs.push_back(named(Role::param, paramName(params[n])));
  }
  for (auto [n, m] : llvm::enumerate(newM)) {
    results.push_back(m);
    resultAttrs.push_back(named(Role::opt_state, paramName(trainable[n]) + ".exp_avg"));
  }
  for (auto [n, v] : llvm::enumerate(newV)) {
    results.push_back(v);
    resultAttrs.push_back(
        named(Role::opt_state, paramName(trainable[n]) + ".exp_avg_sq"));
  }
  results.push_back(clip.getNorm());
  resultAttrs.push_back(named(Role::metric, "grad_norm"));
  results.push_back(lr);
  resultAttrs.push_back(named(Role::metric, "lr"));
  for (auto [load, name] : llvm::zip(loads, loadNames)) {
    results.push_back(load);
    resultAttrs.push_back(named(Role::metric, StringRef(name).rsplit(".mlp.").first.str() +
                                              ".expert_load"));
  }
  func::ReturnOp::create(b, loc, results);
  step.setType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
  step.setAllArgAttrs(argAttrs);
  step.setAllResultAttrs(resultAttrs);
  // The model's FLOPs per step, for throughput and MFU: what later passes
  // add (casts) or expand (attention into full GEMMs) does not count.
  ctx->getOrLoadDialect<Dsv3Dialect>()->getFlopsAttrHelper().setAttr(
      step, b.getI64IntegerAttr(computeFunctionCost(step).total.flops));
  return success();
}

} // namespace
