//===- Remat.cpp - the dsv3-remat pass ------------------------------------===//
//
// Decides which forward values of a training step its backward keeps and
// which it recomputes. The forward is what the loss is computed from; each
// backward (one per micro-batch) starts at the seed dsv3-autodiff marks,
// and a forward value read after the start of the backward that follows
// it is kept for that backward. The forward's ops are grouped into the
// model's layers by their locations (`model.layers.N`, as the importer
// names them; one run of consecutive ops per layer and micro-batch). A
// rematerialized group of layers keeps only what enters it and what
// leaves it (its output, the next group's input): just before the first
// backward op that reads one of its values, the ops those values are
// computed from are cloned, and every later reader reads the clones. The
// clones compute what the originals did from the same operands, so the
// step's results are the same to the bit.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Cost.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Format.h"

#include <cmath>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_REMAT
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

struct RematPass : dsv3::impl::RematBase<RematPass> {
  using dsv3::impl::RematBase<RematPass>::RematBase;

  void runOnOperation() override;
};

int64_t bytesOf(Type type) {
  auto shaped = dyn_cast<RankedTensorType>(type);
  if (!shaped || !shaped.hasStaticShape())
    return 0;
  return shaped.getNumElements() * getElementBytes(shaped.getElementType());
}

/// The layer an op belongs to: "model.layers.N" of its name location, or
/// "" for ops outside the layers (embedding, final norm, head, loss).
StringRef layerOf(Operation *op) {
  Location loc = op->getLoc();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      loc = fused.getLocations().front();
  auto name = dyn_cast<NameLoc>(loc);
  if (!name)
    return "";
  StringRef text = name.getName().strref();
  StringRef prefix = "model.layers.";
  if (!text.starts_with(prefix))
    return "";
  // An MTP module's shared head is the output head's, not a layer's.
  if (text.ends_with(".shared_head"))
    return "";
  size_t end = text.find('.', prefix.size());
  return end == StringRef::npos ? text : text.take_front(end);
}

/// Is `v`, through casts, reshapes and fp8 copies, the parameter of `fn`
/// named `*.<suffix>`?
bool isWeightNamed(func::FuncOp fn, Value v, ArrayRef<StringRef> suffixes) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<ReshapeOp, CastOp, TransposeOp, QuantizeOp, DequantizeOp,
            FakeQuantOp, AddOp>(def))
      v = def->getOperand(0);
    else if (auto select = dyn_cast<SelectOp>(def)) // a masked weight
      v = select->getOperand(1);
    else
      break;
  }
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || arg.getOwner()->getParentOp() != fn)
    return false;
  StringRef name = getArgName(fn, arg.getArgNumber());
  return llvm::any_of(suffixes,
                      [&](StringRef suffix) { return name.ends_with(suffix); });
}

/// What `policy=selective` recomputes (DeepSeek-V3's choice): RMSNorm
/// outputs, the SwiGLU activation (SiLU and its product with the up
/// projection), MLA's up-projections (q_b_proj, kv_b_proj), and the
/// slices, RoPE, concats, casts, reshapes and fp8 copies made of those
/// alone (the queries and keys). Everything else (the other GEMMs'
/// outputs, the router's results, copies of kept values) is kept.
class Selection {
public:
  explicit Selection(func::FuncOp fn) : fn(fn) {}

  bool contains(Operation *op) {
    auto it = memo.find(op);
    if (it != memo.end())
      return it->second;
    bool selected = compute(op);
    memo[op] = selected;
    return selected;
  }

private:
  bool compute(Operation *op) {
    if (isa<RmsNormOp, SiluOp>(op))
      return true;
    if (auto matmul = dyn_cast<MatmulOp>(op))
      return isWeightNamed(fn, matmul.getRhs(),
                           {".q_b_proj.weight", ".kv_b_proj.weight"});
    if (isa<MulOp>(op))
      return llvm::any_of(op->getOperands(), [](Value v) {
        return static_cast<bool>(v.getDefiningOp<SiluOp>());
      });
    // A copy or view is recomputed when what it is made of is: rebuilding
    // a copy of a kept value would keep its source instead.
    if (isa<SliceOp, ConcatOp, RopeOp, ReshapeOp, CastOp, TransposeOp,
            BroadcastOp, QuantizeOp, DequantizeOp>(op)) {
      bool any = false;
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (!def || isa<ConstantOp>(def) ||
            getElementTypeOrSelf(operand).isInteger())
          continue;
        if (!contains(def))
          return false;
        any = true;
      }
      return any;
    }
    return false;
  }

  func::FuncOp fn;
  llvm::DenseMap<Operation *, bool> memo;
};

/// The forward of a training step and what the backward keeps of it.
struct Forward {
  /// The ops the loss is computed from.
  llvm::DenseSet<Operation *> ops;
  /// Where each backward starts: the seeds dsv3-autodiff marks (one per
  /// micro-batch), in program order; the loss's op when there are none.
  SmallVector<Operation *> starts;
  /// Forward results the backward reads, in program order.
  SmallVector<Value> kept;

  /// The start of the backward that follows `op`: its readers after it are
  /// the backward's.
  Operation *backwardAfter(Operation *op) const {
    for (Operation *start : starts)
      if (op->isBeforeInBlock(start))
        return start;
    return starts.back();
  }
  /// Does `user`, a reader of a result of forward op `def`, read it in
  /// the backward?
  bool isBackwardRead(Operation *def, Operation *user) const {
    user = def->getBlock()->findAncestorOpInBlock(*user);
    Operation *start = backwardAfter(def);
    return user && start->isBeforeInBlock(user) && !isa<func::ReturnOp>(user);
  }
};

Forward findForward(func::FuncOp fn, Value loss) {
  Forward f;
  SetVector<Operation *> slice;
  BackwardSliceOptions options;
  options.omitBlockArguments = true;
  (void)getBackwardSlice(loss.getDefiningOp(), &slice, options);
  f.ops.insert(slice.begin(), slice.end());
  f.ops.insert(loss.getDefiningOp());
  Block &block = fn.getBody().front();
  for (Operation &op : block)
    if (op.hasAttr(Dsv3Dialect::LossSeedAttrHelper::getNameStr()))
      f.starts.push_back(&op);
  if (f.starts.empty())
    f.starts.push_back(loss.getDefiningOp());
  for (Operation &op : block)
    if (f.ops.contains(&op))
      for (Value v : op.getResults())
        if (llvm::any_of(v.getUsers(), [&](Operation *user) {
              return f.isBackwardRead(&op, user);
            }))
          f.kept.push_back(v);
  return f;
}

/// The most bytes live at once in `fn`'s block, one buffer per tensor
/// result (a reshape shares its operand's), arguments live throughout: the
/// model of memory the policies are compared by before fusion and
/// placement.
int64_t peakLiveBytes(func::FuncOp fn) {
  Block &block = fn.getBody().front();
  llvm::DenseMap<Operation *, int64_t> index;
  int64_t n = 0;
  for (Operation &op : block)
    index[&op] = n++;
  // The buffer each value lives in, and that buffer's last reader.
  llvm::DenseMap<Value, Value> buffer;
  llvm::DenseMap<Value, int64_t> last;
  auto bufferOf = [&](Value v) {
    auto it = buffer.find(v);
    return it == buffer.end() ? v : it->second;
  };
  for (Operation &op : block) {
    for (Value operand : op.getOperands()) {
      Value b = bufferOf(operand);
      last[b] = std::max(last.lookup(b), index[&op]);
    }
    if (auto reshape = dyn_cast<ReshapeOp>(op))
      buffer[reshape.getResult()] = bufferOf(reshape.getOperand());
  }
  std::vector<int64_t> delta(n + 1, 0);
  int64_t always = 0;
  for (BlockArgument arg : block.getArguments())
    always += bytesOf(arg.getType());
  for (Operation &op : block)
    for (Value v : op.getResults()) {
      if (bufferOf(v) != v)
        continue;
      int64_t start = index[&op];
      int64_t end = std::max(start, last.lookup(v));
      delta[start] += bytesOf(v.getType());
      delta[end + 1] -= bytesOf(v.getType());
    }
  int64_t live = 0, peak = 0;
  for (int64_t d : delta) {
    live += d;
    peak = std::max(peak, live);
  }
  return always + peak;
}

std::string mib(int64_t bytes) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << bytes << " bytes (" << llvm::format("%.2f MiB", bytes / 1048576.0)
     << ")";
  return s;
}

/// A run of consecutive forward ops of one layer (and micro-batch).
struct LayerRun {
  StringRef layer;
  /// The backward that reads its values.
  Operation *backward;
  SmallVector<Operation *> ops;
};

void RematPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (policy != "none" && policy != "full" && policy != "sqrt" &&
      policy != "selective") {
    module.emitError(
        "dsv3-remat: policy must be none, full, sqrt or selective, got ")
        << policy.getValue();
    return signalPassFailure();
  }
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn || fn.isExternal()) {
    module.emitError("dsv3-remat: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }
  Value loss;
  Operation *ret = fn.getBody().front().getTerminator();
  for (unsigned r = 0, e = fn.getNumResults(); r < e; ++r)
    if (getResultRole(fn, r) == Role::loss)
      loss = ret->getOperand(r);
  if (!loss || !loss.getDefiningOp()) {
    fn.emitError("dsv3-remat: @")
        << fn.getName()
        << " has no loss result computed in its body; it needs the "
           "training step of dsv3-autodiff";
    return signalPassFailure();
  }

  Forward before = findForward(fn, loss);
  int64_t peakBefore = report ? peakLiveBytes(fn) : 0;
  int64_t stepFlops = report ? computeFunctionCost(fn).total.flops : 0;
  llvm::MapVector<StringRef, std::pair<int64_t, int64_t>> keptBefore;
  for (Value v : before.kept) {
    auto &entry = keptBefore[layerOf(v.getDefiningOp())];
    entry.first += bytesOf(v.getType());
    entry.second += 1;
  }

  // The layers' runs, in program order; a run and a group never span two
  // micro-batches (two backwards).
  SmallVector<LayerRun> runs;
  for (Operation &op : fn.getBody().front()) {
    if (!before.ops.contains(&op))
      continue;
    StringRef layer = layerOf(&op);
    if (layer.empty())
      continue;
    Operation *start = before.backwardAfter(&op);
    if (runs.empty() || runs.back().layer != layer ||
        runs.back().backward != start)
      runs.push_back({layer, start, {}});
    runs.back().ops.push_back(&op);
  }

  if (policy != "none" && runs.empty()) {
    fn.emitError("dsv3-remat: policy=")
        << policy.getValue() << " recomputes layers, and no op of @"
        << fn.getName()
        << "'s forward is located in one (a name location "
           "\"model.layers.N\", as the importer and `dsv3-compile "
           "--emit=forward|train` write them)";
    return signalPassFailure();
  }

  // Groups of consecutive runs of one micro-batch, each recomputed as a
  // whole from what enters it: none, one per layer (full), or ~sqrt(L) of
  // a micro-batch's L layers each (sqrt: L/k kept inputs plus k layers
  // recomputed at a time is least near k = sqrt(L)).
  bool selective = policy == "selective";
  SmallVector<SmallVector<Operation *>> groups;
  SmallVector<std::string> groupNames;
  for (size_t first = 0, next = 0; policy != "none" && first < runs.size();
       first = next) {
    next = first;
    while (next < runs.size() && runs[next].backward == runs[first].backward)
      ++next;
    int64_t perGroup =
        policy == "sqrt"
            ? std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                       std::sqrt(double(next - first)))))
            : 1;
    for (size_t r = first; r < next; r += perGroup) {
      groups.emplace_back();
      size_t end = std::min(next, r + perGroup);
      for (size_t s = r; s < end; ++s)
        groups.back().append(runs[s].ops);
      groupNames.push_back(
          end - r == 1 ? runs[r].layer.str()
                       : (runs[r].layer + " .. " + runs[end - 1].layer).str());
    }
  }

  // Rematerialize each group. Readers are the backward's own ops as
  // autodiff built them: the clones of one group read what enters it as
  // kept (another group's values included), never another group's clones.
  llvm::DenseSet<Operation *> original;
  for (Operation &op : fn.getBody().front())
    original.insert(&op);
  int64_t recomputedFlops = 0, recomputedOps = 0;
  OpBuilder b(&getContext());
  Selection selection(fn);
  for (ArrayRef<Operation *> group : groups) {
    llvm::DenseSet<Operation *> members(group.begin(), group.end());
    // What may be recomputed: the whole group, or the selected ops of it.
    auto recomputable = [&](Operation *op) {
      return members.contains(op) && (!selective || selection.contains(op));
    };
    // The group's values the backward reads, and its first such reader.
    SetVector<Value> needed;
    Operation *first = nullptr;
    for (Operation *op : group)
      for (Value v : op->getResults()) {
        if (!recomputable(op))
          continue;
        // What leaves the group in the forward (a layer's output: the
        // next one's input) is kept, as what enters the next group.
        if (llvm::any_of(v.getUsers(), [&](Operation *user) {
              return before.ops.contains(user) && !members.contains(user);
            }))
          continue;
        for (Operation *user : v.getUsers()) {
          if (!original.contains(user) || !before.isBackwardRead(op, user))
            continue;
          needed.insert(v);
          if (!first || user->isBeforeInBlock(first))
            first = user;
        }
      }
    if (needed.empty())
      continue;
    // The group's ops those values are computed from, in program order.
    llvm::DenseSet<Operation *> recompute;
    SmallVector<Operation *> worklist;
    for (Value v : needed)
      worklist.push_back(v.getDefiningOp());
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      if (!recompute.insert(op).second)
        continue;
      for (Value operand : op->getOperands())
        if (Operation *def = operand.getDefiningOp())
          if (recomputable(def))
            worklist.push_back(def);
    }
    b.setInsertionPoint(first);
    IRMapping map;
    for (Operation *op : group) {
      if (!recompute.contains(op))
        continue;
      b.clone(*op, map);
      recomputedFlops += getOpCost(op).flops;
      ++recomputedOps;
    }
    for (Value v : needed) {
      Value clone = map.lookup(v);
      v.replaceUsesWithIf(clone, [&](OpOperand &use) {
        Operation *user = use.getOwner();
        return original.contains(user) &&
               before.isBackwardRead(v.getDefiningOp(), user);
      });
    }
  }

  if (!report)
    return;
  Forward after = findForward(fn, loss);
  llvm::MapVector<StringRef, std::pair<int64_t, int64_t>> keptAfter;
  int64_t keptBytesBefore = 0, keptBytesAfter = 0;
  for (auto &[layer, entry] : keptBefore)
    keptBytesBefore += entry.first;
  for (Value v : after.kept) {
    auto &entry = keptAfter[layerOf(v.getDefiningOp())];
    entry.first += bytesOf(v.getType());
    entry.second += 1;
    keptBytesAfter += bytesOf(v.getType());
  }
  llvm::raw_ostream &os = llvm::outs();
  os << "remat of @" << fn.getName() << ": policy " << policy << ", "
     << runs.size() << " layer runs in " << groups.size()
     << (selective ? " groups recomputing norms, SwiGLU and MLA "
                     "up-projections\n"
                   : " recomputed groups\n");
  os << "  peak live (one buffer per value, before fusion): " << mib(peakBefore)
     << " -> " << mib(peakLiveBytes(fn)) << "\n";
  os << "  kept for the backward: " << mib(keptBytesBefore) << " -> "
     << mib(keptBytesAfter) << "\n";
  os << "  recomputed: " << recomputedOps << " ops, " << recomputedFlops
     << " FLOPs ("
     << llvm::format("%.1f",
                     stepFlops ? 100.0 * recomputedFlops / stepFlops : 0.0)
     << "% of the step's " << stepFlops << ")\n";
  for (const std::string &name : groupNames)
    os << "  recomputes " << name << "\n";
  for (auto &[layer, entry] : keptBefore) {
    auto now = keptAfter[layer];
    os << "  " << (layer.empty() ? "outside the layers" : layer) << " keeps "
       << now.second << " values, " << mib(now.first) << " (was "
       << entry.second << ", " << mib(entry.first) << ")\n";
  }
}

} // namespace
