//===- Sparsify.cpp - the dsv3-sparsify pass ------------------------------===//
//
// Makes the training step train a sparse or quantized model: 2:4 masks on
// the weights (the pruned part kept as optimizer state, SR-STE optional),
// gradual magnitude pruning with an L1 term, and int8 fake quantization.
// Every mask is state of the step, so a checkpoint resumes it exactly.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Cost.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_SPARSIFY
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The weights the schemes act on: the matrices of attention and of the
/// MLPs (dense, shared and routed experts), not the router's gate; f32
/// master weights (f64 in gradient checks).
bool isSparsifiable(StringRef name, RankedTensorType type) {
  if (type.getRank() < 2 ||
      !(type.getElementType().isF32() || type.getElementType().isF64()))
    return false;
  if (name.ends_with(".mlp.gate.weight"))
    return false;
  return name.contains(".self_attn.") || name.contains(".mlp.");
}

struct Weight {
  unsigned arg;
  RankedTensorType type;
  std::string name;
  AdamWOp update;
  std::string scheme;
  /// 2:4-masked (its K holds whole groups of four).
  bool masked24;
};

struct SparsifyPass : dsv3::impl::SparsifyBase<SparsifyPass> {
  using dsv3::impl::SparsifyBase<SparsifyPass>::SparsifyBase;

  void runOnOperation() override;

private:
  LogicalResult checkOptions();
  Value constant(OpBuilder &b, Location loc, RankedTensorType type,
                 double value);
  Value scalarI64(OpBuilder &b, Location loc, int64_t v);
  /// `step % every == 0` as an i1 scalar.
  Value isMultiple(OpBuilder &b, Location loc, Value step, int64_t every);
  /// The fraction pruning reaches at this step where the magnitude masks
  /// grow now, and 0 where they do not.
  Value pruneFraction(OpBuilder &b, Location loc, Value step);
  /// A new opt_state argument after the existing state.
  BlockArgument addState(func::FuncOp fn, Type type, StringRef name,
                         InitKind init);

  unsigned nextStateArg = 0;
  SmallVector<std::pair<Value, std::string>> newStateResults;
};

LogicalResult SparsifyPass::checkOptions() {
  ModuleOp module = getOperation();
  auto fail = [&](const Twine &what) {
    module.emitError("dsv3-sparsify: ") << what;
    return failure();
  };
  if (weights != "none" && weights != "2:4")
    return fail("weights must be none or 2:4, got '" + weights + "'");
  if (qat != "none" && qat != "int8")
    return fail("qat must be none or int8, got '" + qat + "'");
  if (refresh < 1)
    return fail("refresh must be at least 1, got " + Twine(refresh));
  if (!(srste >= 0.0) || !(l1 >= 0.0))
    return fail("srste and l1 must be >= 0");
  if (srste > 0.0 && weights != "2:4")
    return fail("srste decays what a 2:4 mask prunes; it needs weights=2:4");
  if (!(prune >= 0.0 && prune < 1.0))
    return fail(llvm::formatv("prune must be in [0, 1), got {0}", prune.getValue()).str());
  if (prune > 0.0 && weights == "2:4")
    return fail("prune and weights=2:4 would mask the same weights twice");
  if (prune > 0.0 && !(pruneStart >= 0 && pruneEnd > pruneStart))
    return fail("prune-end (" + Twine(pruneEnd) +
                ") must be after prune-start (" + Twine(pruneStart) + ")");
  if (qatActivations)
    return fail("qat-activations is not supported yet: only the weights "
                "are fake-quantized");
  return success();
}

Value SparsifyPass::constant(OpBuilder &b, Location loc, RankedTensorType type,
                             double value) {
  Type elem = type.getElementType();
  Attribute attr = isa<FloatType>(elem)
                       ? Attribute(b.getFloatAttr(elem, value))
                       : Attribute(b.getIntegerAttr(
                             elem, static_cast<int64_t>(value)));
  return ConstantOp::create(b, loc, DenseElementsAttr::get(type, attr));
}

Value SparsifyPass::scalarI64(OpBuilder &b, Location loc, int64_t v) {
  return constant(b, loc, RankedTensorType::get({}, b.getI64Type()),
                  static_cast<double>(v));
}

Value SparsifyPass::isMultiple(OpBuilder &b, Location loc, Value step,
                               int64_t every) {
  auto i1 = RankedTensorType::get({}, b.getI1Type());
  if (every == 1)
    return constant(b, loc, i1, 1);
  Value k = scalarI64(b, loc, every);
  Value rem = SubOp::create(b, loc, step,
                            MulOp::create(b, loc, DivOp::create(b, loc, step, k),
                                          k));
  return CompareOp::create(b, loc, ComparePredicate::eq, rem,
                           scalarI64(b, loc, 0));
}

Value SparsifyPass::pruneFraction(OpBuilder &b, Location loc, Value step) {
  auto f32 = RankedTensorType::get({}, b.getF32Type());
  auto i1 = RankedTensorType::get({}, b.getI1Type());
  Value start = scalarI64(b, loc, pruneStart), end = scalarI64(b, loc, pruneEnd);
  // p = clamp((step - S) / (E - S), 0, 1); fraction = F (1 - (1 - p)^3).
  Value since = CastOp::create(b, loc, f32, SubOp::create(b, loc, step, start));
  Value p = MulOp::create(
      b, loc, since,
      constant(b, loc, f32, 1.0 / static_cast<double>(pruneEnd - pruneStart)));
  Value zero = constant(b, loc, f32, 0.0), one = constant(b, loc, f32, 1.0);
  p = SelectOp::create(b, loc,
                       CompareOp::create(b, loc, ComparePredicate::lt, p, zero),
                       zero, p);
  p = SelectOp::create(b, loc,
                       CompareOp::create(b, loc, ComparePredicate::gt, p, one),
                       one, p);
  Value u = SubOp::create(b, loc, one, p);
  Value cube = MulOp::create(b, loc, MulOp::create(b, loc, u, u), u);
  Value fraction = MulOp::create(b, loc, SubOp::create(b, loc, one, cube),
                                 constant(b, loc, f32, prune));
  // Active from S to E, every `refresh` steps counted from S ...
  Value no = constant(b, loc, i1, 0);
  Value active = CompareOp::create(b, loc, ComparePredicate::ge, step, start);
  active = SelectOp::create(
      b, loc, active,
      CompareOp::create(b, loc, ComparePredicate::le, step, end), no);
  // ... and at E itself, so that the fraction is reached there.
  Value onSchedule = SelectOp::create(
      b, loc, CompareOp::create(b, loc, ComparePredicate::eq, step, end),
      constant(b, loc, i1, 1),
      isMultiple(b, loc, SubOp::create(b, loc, step, start), refresh));
  active = SelectOp::create(b, loc, active, onSchedule, no);
  return SelectOp::create(b, loc, active, fraction, zero);
}

BlockArgument SparsifyPass::addState(func::FuncOp fn, Type type,
                                     StringRef name, InitKind init) {
  Builder b(fn.getContext());
  DictionaryAttr attrs = b.getDictionaryAttr(
      {getRoleAttr(b, Role::opt_state), getNameAttr(b, name),
       getInitAttr(b, init)});
  unsigned index = nextStateArg++;
  (void)fn.insertArgument(index, type, attrs, fn.getLoc());
  return fn.getArgument(index);
}

void SparsifyPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (failed(checkOptions()))
    return signalPassFailure();
  bool sparse24 = weights == "2:4", pruning = prune > 0.0,
       quantize = qat == "int8";
  if (!sparse24 && !pruning && !quantize && l1 == 0.0)
    return;
  newStateResults.clear();
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn || fn.isExternal()) {
    module.emitError("dsv3-sparsify: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }

  // The step, the weights and where the new state goes (after the last
  // optimizer state, results likewise).
  std::optional<unsigned> stepArg;
  nextStateArg = 0;
  for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i) {
    std::optional<Role> role = getArgRole(fn, i);
    if (role == Role::step)
      stepArg = i;
    if (role == Role::param || role == Role::opt_state)
      nextStateArg = i + 1;
  }
  if (!stepArg) {
    fn.emitError("dsv3-sparsify: @")
        << fn.getName() << " has no step argument (run dsv3-autodiff first)";
    return signalPassFailure();
  }
  SmallVector<Weight> chosen;
  SmallVector<std::string> leftDense;
  for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i) {
    if (getArgRole(fn, i) != Role::param)
      continue;
    auto type = cast<RankedTensorType>(fn.getArgument(i).getType());
    StringRef name = getArgName(fn, i);
    if (!isSparsifiable(name, type))
      continue;
    AdamWOp update;
    for (Operation *user : fn.getArgument(i).getUsers())
      if (auto adamw = dyn_cast<AdamWOp>(user))
        if (adamw.getParam() == fn.getArgument(i))
          update = adamw;
    if (!update)
      continue;
    // A K that is not a multiple of 4 has no 2:4 groups: that weight
    // stays dense, and the other schemes still apply to it.
    bool groups = type.getShape().back() % 4 == 0;
    if (sparse24 && !groups)
      leftDense.push_back(name.str());
    chosen.push_back({i, type, name.str(), update, "", sparse24 && groups});
  }
  if (chosen.empty()) {
    fn.emitError("dsv3-sparsify: @")
        << fn.getName()
        << " has no weight of attention or an MLP to act on (f32 matrices "
           "named *.self_attn.* or *.mlp.*)";
    return signalPassFailure();
  }

  Block &body = fn.getBody().front();
  Operation *firstOp = &body.front();
  OpBuilder b(&getContext());
  b.setInsertionPoint(firstOp);
  Location loc = fn.getLoc();
  // Shared scalars; the step argument's index moves as state is added.
  Value step = fn.getArgument(*stepArg);
  Value refreshNow = sparse24 ? isMultiple(b, loc, step, refresh) : Value();
  Value fraction = pruning ? pruneFraction(b, loc, step) : Value();

  int64_t maskedGemmFlops = 0;
  llvm::DenseSet<Operation *> countedGemms;
  for (Weight &w : chosen) {
    // Arguments shift as state is inserted before them; the weight's own
    // index is read through the value.
    BlockArgument weight = fn.getArgument(w.arg);
    auto type = cast<RankedTensorType>(weight.getType());
    auto maskType = RankedTensorType::get(type.getShape(), b.getI1Type());
    Location wloc = weight.getLoc();
    AdamWOp update = w.update;
    // What the forward and backward read instead of the weight: not its
    // update, nor fp16's choice of the old weight on a skipped step.
    SmallVector<OpOperand *> reads;
    for (OpOperand &use : weight.getUses()) {
      auto select = dyn_cast<SelectOp>(use.getOwner());
      bool keepsOld = select && use.getOperandNumber() == 2 &&
                      select.getOnTrue() == update.getNewParam();
      if (use.getOwner() != update.getOperation() && !keepsOld)
        reads.push_back(&use);
    }

    b.setInsertionPoint(firstOp);
    Value zeros = constant(b, wloc, type, 0.0);
    Value read = weight, dense = weight, mask;
    if (w.masked24) {
      BlockArgument pruned = addState(fn, type, w.name + ".sparse_pruned",
                                      InitKind::zeros);
      BlockArgument oldMask =
          addState(fn, maskType, w.name + ".sparse_mask", InitKind::zeros);
      dense = AddOp::create(b, wloc, weight, pruned);
      Value fresh = Prune24Op::create(b, wloc, dense);
      mask = refresh == 1
                 ? fresh
                 : Value(SelectOp::create(
                       b, wloc,
                       BroadcastOp::create(b, wloc, maskType, refreshNow,
                                           ArrayRef<int64_t>{}),
                       fresh, oldMask));
      read = SelectOp::create(b, wloc, mask, dense, zeros);
      w.scheme = "2:4 (50% pruned)";
    }
    Value pruneMask;
    if (pruning) {
      pruneMask =
          addState(fn, maskType, w.name + ".prune_mask", InitKind::ones);
      w.scheme = llvm::formatv("magnitude pruning to {0}% by step {1}",
                               prune * 100, pruneEnd.getValue())
                     .str();
    }
    if (quantize) {
      read = FakeQuantOp::create(b, wloc, read, b.getI64IntegerAttr(8),
                                 b.getUnitAttr());
      fn.setArgAttr(weight.getArgNumber(), kQuantizedAttr,
                    b.getStringAttr("int8"));
      w.scheme += w.scheme.empty() ? "int8 per channel" : ", int8 per channel";
    }
    if (l1 > 0.0)
      w.scheme += w.scheme.empty() ? "L1" : ", L1";
    for (OpOperand *use : reads)
      use->set(read);
    if (w.masked24 && report)
      for (Operation *user : read.getUsers()) {
        SmallVector<Operation *> gemms = {user};
        if (isa<CastOp>(user))
          gemms.assign(user->getUsers().begin(), user->getUsers().end());
        for (Operation *gemm : gemms)
          if (isa<MatmulOp, GroupedMatmulOp>(gemm) &&
              countedGemms.insert(gemm).second)
            maskedGemmFlops += getOpCost(gemm).flops / 2;
      }

    // The gradient: masked where pruning holds weights at zero, before
    // clipping (so that the norm is the surviving weights'); SR-STE and L1
    // terms added after it.
    if (pruning) {
      OpOperand *clipped = nullptr;
      if (auto clip = update.getGrad().getDefiningOp<ClipByGlobalNormOp>())
        clipped = &clip->getOpOperand(
            cast<OpResult>(update.getGrad()).getResultNumber());
      b.setInsertionPoint(clipped ? clipped->getOwner() : update.getOperation());
      OpOperand &target = clipped ? *clipped : update.getGradMutable();
      target.set(SelectOp::create(b, wloc, pruneMask, target.get(), zeros));
    }
    b.setInsertionPoint(update);
    Value grad = update.getGrad();
    if (w.masked24 && srste > 0.0) {
      Value prunedPart = SelectOp::create(b, wloc, mask, zeros, dense);
      grad = AddOp::create(
          b, wloc, grad,
          MulOp::create(b, wloc, prunedPart, constant(b, wloc, type, srste)));
    }
    if (l1 > 0.0) {
      Value one = constant(b, wloc, type, 1.0);
      Value sign = SelectOp::create(
          b, wloc, CompareOp::create(b, wloc, ComparePredicate::gt, dense, zeros),
          one,
          SelectOp::create(
              b, wloc,
              CompareOp::create(b, wloc, ComparePredicate::lt, dense, zeros),
              constant(b, wloc, type, -1.0), zeros));
      grad = AddOp::create(b, wloc, grad,
                           MulOp::create(b, wloc, sign,
                                         constant(b, wloc, type, l1)));
    }
    update.getGradMutable().assign(grad);
    update.getParamMutable().assign(dense);

    // The new state.
    b.setInsertionPointAfter(update);
    Value updated = update.getNewParam();
    Value newWeight = updated;
    if (w.masked24) {
      newWeight = SelectOp::create(b, wloc, mask, updated, zeros);
      Value newPruned = SelectOp::create(b, wloc, mask, zeros, updated);
      newStateResults.push_back({newPruned, w.name + ".sparse_pruned"});
      newStateResults.push_back({mask, w.name + ".sparse_mask"});
    }
    if (pruning) {
      Value no = constant(b, wloc, maskType, 0);
      Value kept = SelectOp::create(b, wloc, pruneMask, updated, zeros);
      // Stacked experts are pruned expert by expert, each its own matrix.
      int64_t perExpert = StringRef(w.name).contains("{e}") ? 1 : 0;
      Value grown = MagnitudeMaskOp::create(b, wloc, kept, fraction,
                                            b.getI64IntegerAttr(perExpert));
      Value newMask = SelectOp::create(b, wloc, pruneMask, grown, no);
      newWeight = SelectOp::create(b, wloc, newMask, updated, zeros);
      newStateResults.push_back({newMask, w.name + ".prune_mask"});
    }
    // The step returns the masked weight; the masks read the unmasked one.
    if (newWeight != updated)
      updated.replaceUsesWithIf(newWeight, [](OpOperand &use) {
        return isa<func::ReturnOp>(use.getOwner());
      });
  }
  // Every new state after the last state result.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Value> results(ret.getOperands());
  SmallVector<DictionaryAttr> resultAttrs;
  unsigned insertAt = 0;
  for (unsigned r = 0; r < results.size(); ++r) {
    resultAttrs.push_back(fn.getResultAttrDict(r));
    std::optional<Role> role = getResultRole(fn, r);
    if (role == Role::param || role == Role::opt_state || role == Role::loss)
      insertAt = r + 1;
  }
  for (auto [n, state] : llvm::enumerate(newStateResults)) {
    results.insert(results.begin() + insertAt + n, state.first);
    resultAttrs.insert(resultAttrs.begin() + insertAt + n,
                       b.getDictionaryAttr({getRoleAttr(b, Role::opt_state),
                                            getNameAttr(b, state.second)}));
  }
  b.setInsertionPoint(ret);
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  fn.setType(b.getFunctionType(fn.getArgumentTypes(),
                               ValueRange(results).getTypes()));
  fn.setAllResultAttrs(resultAttrs);

  if (!report)
    return;
  int64_t elements = 0;
  for (const Weight &w : chosen)
    elements += w.type.getNumElements();
  llvm::outs() << "sparsify: " << chosen.size() << " weights, " << elements
               << " parameters\n";
  for (const Weight &w : chosen) {
    llvm::outs() << "  " << w.name << " [";
    llvm::interleave(w.type.getShape(), llvm::outs(), ", ");
    llvm::outs() << "]  " << w.scheme << "\n";
  }
  if (sparse24) {
    int64_t gemmFlops = 0;
    fn.walk([&](Operation *op) {
      if (isa<MatmulOp, GroupedMatmulOp, GroupedMatmulWgradOp>(op))
        gemmFlops += getOpCost(op).flops;
    });
    llvm::outs() << "sparsify: 2:4 leaves " << maskedGemmFlops
                 << " GEMM FLOPs per step to a sparse GEMM ("
                 << llvm::format("%.1f", gemmFlops ? 100.0 * maskedGemmFlops /
                                                         gemmFlops
                                                   : 0.0)
                 << "% of the step's " << gemmFlops
                 << "); this pipeline runs them as masked dense GEMMs\n";
  }
  for (const std::string &name : leftDense)
    llvm::outs() << "  " << name << "  dense (K is not a multiple of 4)\n";
}

} // namespace
