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
#include "Analysis/Donation.h"
#include "Transforms/FusionRules.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <queue>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_REMAT
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

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

/// A group of forward ops recomputed from what enters it: all of them, or
/// (selective) the selected ones.
struct GroupSpec {
  SmallVector<Operation *> ops;
  bool selective = false;
  std::string name;
};

/// What rematerializing one group does: the ops it recomputes and where.
struct GroupPlan {
  /// The recomputed ops, in program order.
  SmallVector<Operation *> recompute;
  /// Their results the backward reads; its readers read the clones.
  SetVector<Value> needed;
  /// The first backward op that reads one: the clones go just before it.
  Operation *first = nullptr;
  int64_t flops = 0;
};

/// Is `user` one of the step's own ops (not a clone) that reads a result
/// of forward op `def` in the backward? Those are the readers a group's
/// clones replace.
bool isReplacedRead(const Forward &forward,
                    const llvm::DenseSet<Operation *> &original, Operation *def,
                    Operation *user) {
  return original.contains(user) && forward.isBackwardRead(def, user);
}

GroupPlan planGroup(const GroupSpec &group, const Forward &forward,
                    const llvm::DenseSet<Operation *> &original,
                    Selection &selection) {
  GroupPlan plan;
  llvm::DenseSet<Operation *> members(group.ops.begin(), group.ops.end());
  auto recomputable = [&](Operation *op) {
    return members.contains(op) &&
           (!group.selective || selection.contains(op));
  };
  for (Operation *op : group.ops) {
    if (!recomputable(op))
      continue;
    for (Value v : op->getResults()) {
      // What leaves the group in the forward (a layer's output: the next
      // one's input) is kept, as what enters the next group.
      if (llvm::any_of(v.getUsers(), [&](Operation *user) {
            return forward.ops.contains(user) && !members.contains(user);
          }))
        continue;
      for (Operation *user : v.getUsers()) {
        if (!isReplacedRead(forward, original, op, user))
          continue;
        plan.needed.insert(v);
        if (!plan.first || user->isBeforeInBlock(plan.first))
          plan.first = user;
      }
    }
  }
  if (plan.needed.empty())
    return plan;
  // The group's ops those values are computed from, in program order.
  llvm::DenseSet<Operation *> recompute;
  SmallVector<Operation *> worklist;
  for (Value v : plan.needed)
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
  for (Operation *op : group.ops)
    if (recompute.contains(op)) {
      plan.recompute.push_back(op);
      plan.flops += getOpCost(op).flops;
    }
  return plan;
}

/// Rewrites the step as `plans` say. They were made of the step before any
/// clone was inserted: the clones of one group read what enters it as
/// kept (another group's values included), never another group's clones.
void applyPlans(ArrayRef<GroupPlan> plans, const Forward &forward,
                const llvm::DenseSet<Operation *> &original) {
  for (const GroupPlan &plan : plans) {
    if (plan.needed.empty())
      continue;
    OpBuilder b(plan.first);
    IRMapping map;
    for (Operation *op : plan.recompute)
      b.clone(*op, map);
    for (Value v : plan.needed)
      v.replaceUsesWithIf(map.lookup(v), [&](OpOperand &use) {
        return isReplacedRead(forward, original, v.getDefiningOp(),
                              use.getOwner());
      });
  }
}

/// The step's live bytes as each candidate plan would leave them, without
/// rewriting it: the model `policy=budget` plans by. One buffer per value (a
/// reshape shares its operand's), live from its definition to its last
/// reader, arguments throughout, as `peakLiveBytes` counts them; the step's
/// ops and the clones of every candidate (before the op it is inserted at)
/// share one timeline of slots, and a candidate is the change it makes to
/// the live bytes of each slot. Candidates of different groups change
/// disjoint values, so the live bytes of any choice of them are the step's
/// plus the sum of their changes.
class Timeline {
public:
  Timeline(func::FuncOp fn, const Forward &forward,
           const llvm::DenseSet<Operation *> &original,
           ArrayRef<const GroupPlan *> candidates, bool libraryAttention);

  int64_t numSlots() const { return static_cast<int64_t>(base.size()); }
  /// Bytes live throughout (the arguments).
  int64_t always = 0;
  /// Live bytes at each slot without remat (arguments aside).
  std::vector<int64_t> base;
  /// Each candidate's change to the live bytes: (slot, delta) steps, in
  /// slot order; the change holds from a step's slot to the next step's.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> changes;

  /// The change candidate `c` makes at every slot in [lo, hi].
  std::vector<int64_t> changeOver(size_t c, int64_t lo, int64_t hi) const;
  /// The peak of live bytes with the candidates `chosen`.
  int64_t peak(ArrayRef<size_t> chosen) const;
};


/// Would dsv3-fuse compute `producer`'s result inside the kernel of its one
/// reader `user`, with `gemmsBetween` library calls between them?
bool fusesInto(Operation *producer, Operation *user, int64_t gemmsBetween) {
  return isFusible(producer) && !isa<ReduceOp>(producer) && isFusible(user) &&
         gemmsBetween == 0 &&
         iterationShape(producer) == iterationShape(user);
}

/// The bytes attention needs at once beyond its operands and results once
/// dsv3-decompose-attention has written it as GEMMs and a softmax (none
/// in the arena when it stays whole for the runtime): the
/// [B, H, S, S] scores and probabilities (two live at once in the forward,
/// three in the gradient: the probabilities, dP and dS).
int64_t attentionScratch(Operation *op, bool libraryAttention) {
  // The runtime's attention keeps a block of rows per thread, outside the
  // arena.
  if (libraryAttention && isLibraryAttention(op))
    return 0;
  int64_t squares = 0;
  Value query, key;
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    squares = 2;
    query = attention.getQuery();
    key = attention.getKey();
  } else if (auto grad = dyn_cast<AttentionGradOp>(op)) {
    squares = 3;
    query = grad.getQuery();
    key = grad.getKey();
  } else {
    return 0;
  }
  auto q = cast<RankedTensorType>(query.getType()); // [B, S, H, D]
  auto k = cast<RankedTensorType>(key.getType());
  if (!q.hasStaticShape() || !k.hasStaticShape())
    return 0;
  int64_t scores = q.getDimSize(0) * q.getDimSize(2) * q.getDimSize(1) *
                   k.getDimSize(1) * getElementBytes(q.getElementType());
  int64_t around = 0;
  for (Value v : op->getOperands())
    around += bytesOf(v.getType());
  for (Value v : op->getResults())
    around += bytesOf(v.getType());
  return std::max<int64_t>(0, squares * scores - around);
}

Timeline::Timeline(func::FuncOp fn, const Forward &forward,
                   const llvm::DenseSet<Operation *> &original,
                   ArrayRef<const GroupPlan *> candidates,
                   bool libraryAttention) {
  Block &block = fn.getBody().front();
  for (BlockArgument arg : block.getArguments())
    always += bytesOf(arg.getType());
  // Slots: each op's, after the clones each candidate inserts before it.
  llvm::DenseMap<Operation *, SmallVector<size_t>> insertedAt;
  for (auto [c, plan] : llvm::enumerate(candidates))
    if (plan->first)
      insertedAt[plan->first].push_back(c);
  llvm::DenseMap<Operation *, int64_t> slotOf, gemmsBefore;
  std::vector<std::vector<int64_t>> cloneSlots(candidates.size());
  int64_t slots = 0, gemms = 0;
  for (Operation &op : block) {
    for (size_t c : insertedAt.lookup(&op))
      for (size_t k = 0; k < candidates[c]->recompute.size(); ++k)
        cloneSlots[c].push_back(slots++);
    slotOf[&op] = slots++;
    gemmsBefore[&op] = gemms;
    if (isGemm(&op))
      ++gemms;
  }
  auto inBlock = [&](Operation *user) {
    return block.findAncestorOpInBlock(*user);
  };

  // dsv3-fuse's groups: an op whose one reader it fuses into runs in that
  // reader's kernel, where the group's last op (its root) is; its result
  // is never a buffer, and what its kernel reads is read there.
  llvm::DenseMap<Operation *, Operation *> fusedInto;
  for (Operation &op : block) {
    if (op.getNumResults() != 1 || !op.getResult(0).hasOneUse())
      continue;
    Operation *user = *op.getResult(0).getUsers().begin();
    if (user->getBlock() == &block &&
        fusesInto(&op, user, gemmsBefore[user] - gemmsBefore[&op]))
      fusedInto[&op] = user;
  }
  llvm::DenseMap<Operation *, Operation *> rootOf;
  for (Operation &op : llvm::reverse(block)) {
    auto it = fusedInto.find(&op);
    rootOf[&op] = it == fusedInto.end() ? &op : rootOf[it->second];
  }
  llvm::DenseMap<Operation *, SmallVector<Operation *>> groupOf;
  for (Operation &op : block)
    groupOf[rootOf[&op]].push_back(&op);
  auto readSlot = [&](Operation *user) {
    Operation *op = inBlock(user);
    return slotOf.lookup(rootOf.lookup(op) ? rootOf.lookup(op) : op);
  };

  // The step's buffers: results of ops that are not fused away (arguments
  // are always live), and what shares them: reshapes, updated state
  // donated onto the state it replaces (in the argument's buffer), clipped
  // gradients written over the gradients, as dsv3-plan-memory places them.
  struct Buffer {
    int64_t bytes, def, last;
    SmallVector<Value> members;
  };
  std::vector<Buffer> buffers;
  constexpr int64_t kNoBuffer = -1; // an argument's, or fused away
  llvm::DenseMap<Value, int64_t> bufferOf;
  for (BlockArgument arg : block.getArguments())
    bufferOf[arg] = kNoBuffer;
  llvm::DenseSet<Value> donated;
  Operation *ret = block.getTerminator();
  for (const Donation &d : findDonations(fn))
    donated.insert(ret->getOperand(d.result));
  for (Operation &op : block)
    for (auto [i, v] : llvm::enumerate(op.getResults())) {
      int64_t id = kNoBuffer;
      if (donated.contains(v))
        id = kNoBuffer;
      else if (auto reshape = dyn_cast<ReshapeOp>(op))
        id = bufferOf.lookup(reshape.getInput());
      else if (isa<ClipByGlobalNormOp>(op) && i < op.getNumOperands() &&
               op.getOperand(i).hasOneUse() &&
               bufferOf.lookup(op.getOperand(i)) >= 0)
        id = bufferOf.lookup(op.getOperand(i));
      else if (!fusedInto.count(&op)) {
        id = static_cast<int64_t>(buffers.size());
        buffers.push_back({bytesOf(v.getType()), slotOf[&op], slotOf[&op], {}});
      }
      bufferOf[v] = id;
      if (id >= 0)
        buffers[id].members.push_back(v);
    }
  for (Buffer &buffer : buffers)
    for (Value v : buffer.members)
      for (Operation *user : v.getUsers())
        buffer.last = std::max(buffer.last, readSlot(user));
  std::vector<int64_t> delta(slots + 1, 0);
  for (const Buffer &buffer : buffers) {
    delta[buffer.def] += buffer.bytes;
    delta[buffer.last + 1] -= buffer.bytes;
  }
  for (Operation &op : block)
    if (int64_t scratch = attentionScratch(&op, libraryAttention)) {
      delta[slotOf[&op]] += scratch;
      delta[slotOf[&op] + 1] -= scratch;
    }
  base.resize(slots);
  int64_t live = 0;
  for (int64_t s = 0; s < slots; ++s)
    base[s] = live += delta[s];

  // Each candidate's change.
  changes.resize(candidates.size());
  for (auto [c, plan] : llvm::enumerate(candidates)) {
    if (plan->needed.empty())
      continue;
    ArrayRef<Operation *> ops = plan->recompute;
    ArrayRef<int64_t> at = cloneSlots[c];
    llvm::DenseMap<Operation *, size_t> cloneIndex;
    for (auto [k, op] : llvm::enumerate(ops))
      cloneIndex[op] = k;
    // GEMMs among the clones from k on, and in the step from the first
    // reader to `user`.
    std::vector<int64_t> gemmsFrom(ops.size() + 1, 0);
    for (size_t k = ops.size(); k-- > 0;)
      gemmsFrom[k] = gemmsFrom[k + 1] + (isGemm(ops[k]) ? 1 : 0);
    auto replaced = [&](Value v, Operation *user) {
      return plan->needed.contains(v) &&
             isReplacedRead(forward, original, v.getDefiningOp(), user);
    };
    // Where each clone's kernel runs: its own slot, a later clone's, or a
    // backward reader's kernel's (the clone fused into it).
    std::vector<int64_t> cloneRoot(ops.size());
    std::vector<bool> cloneFused(ops.size(), false);
    for (size_t k = ops.size(); k-- > 0;) {
      cloneRoot[k] = at[k];
      Operation *op = ops[k];
      if (op->getNumResults() != 1)
        continue;
      Value v = op->getResult(0);
      SmallVector<Operation *> readers;
      for (Operation *user : v.getUsers())
        if (cloneIndex.count(user) || replaced(v, user))
          readers.push_back(user);
      if (readers.size() != 1 || readers[0]->getBlock() != &block)
        continue;
      Operation *user = readers[0];
      auto inClones = cloneIndex.find(user);
      if (inClones != cloneIndex.end()) {
        size_t u = inClones->second;
        if (fusesInto(op, user, gemmsFrom[k + 1] - gemmsFrom[u])) {
          cloneFused[k] = true;
          cloneRoot[k] = cloneRoot[u];
        }
      } else if (fusesInto(op, user,
                           gemmsFrom[k + 1] +
                               (gemmsBefore[user] - gemmsBefore[plan->first]))) {
        cloneFused[k] = true;
        cloneRoot[k] = readSlot(user);
      }
    }
    // A needed value left with one forward reader it fuses into is no
    // longer a buffer; its group then runs in that reader's kernel.
    llvm::DenseSet<int64_t> vanished;
    llvm::DenseMap<Operation *, int64_t> movedRead;
    for (Value v : plan->needed) {
      Operation *op = v.getDefiningOp();
      if (op->getNumResults() != 1 || isa<ReshapeOp>(op))
        continue;
      SmallVector<Operation *> readers;
      for (Operation *user : v.getUsers())
        if (!replaced(v, user))
          readers.push_back(user);
      if (readers.size() != 1 || readers[0]->getBlock() != &block ||
          !fusesInto(op, readers[0],
                     gemmsBefore[readers[0]] - gemmsBefore[op]))
        continue;
      vanished.insert(bufferOf.lookup(v));
      for (Operation *member : groupOf.lookup(op))
        movedRead[member] = readSlot(readers[0]);
    }
    auto readAtSlot = [&](Operation *user) {
      Operation *op = inBlock(user);
      auto it = movedRead.find(op);
      return it != movedRead.end() ? it->second : readSlot(op);
    };

    // A clone's buffer: the step's (a reshape of a kept value), its own,
    // or none (fused away).
    struct CloneBuffer {
      int64_t bytes, def, last;
    };
    std::vector<CloneBuffer> own;
    using Key = std::pair<bool, int64_t>; // own?, id
    llvm::DenseMap<Value, Key> cloneBuffer;
    llvm::DenseMap<int64_t, int64_t> extended; // step's buffer -> last read
    auto readAt = [&](Key buffer, int64_t slot) {
      if (buffer.first)
        own[buffer.second].last = std::max(own[buffer.second].last, slot);
      else if (buffer.second >= 0)
        extended[buffer.second] = std::max(extended[buffer.second], slot);
    };
    auto keyOf = [&](Value v) -> Key {
      Operation *def = v.getDefiningOp();
      if (def && cloneIndex.count(def))
        return cloneBuffer.lookup(v);
      return {false, bufferOf.lookup(v)};
    };
    for (auto [k, op] : llvm::enumerate(ops)) {
      for (Value operand : op->getOperands())
        readAt(keyOf(operand), cloneRoot[k]);
      for (Value v : op->getResults()) {
        if (auto reshape = dyn_cast<ReshapeOp>(op)) {
          cloneBuffer[v] = keyOf(reshape.getInput());
        } else if (cloneFused[k]) {
          cloneBuffer[v] = {false, kNoBuffer};
        } else {
          cloneBuffer[v] = {true, static_cast<int64_t>(own.size())};
          own.push_back({bytesOf(v.getType()), at[k], at[k]});
        }
      }
    }
    // The backward's readers of the needed values read the clones; its
    // reshapes of them (and their readers) are then the clones' too.
    llvm::DenseSet<int64_t> touched;
    llvm::DenseSet<Value> moved;
    for (Value v : plan->needed) {
      touched.insert(bufferOf.lookup(v));
      Key clone = cloneBuffer.lookup(v);
      SmallVector<Value> views;
      for (Operation *user : v.getUsers()) {
        if (!replaced(v, user))
          continue;
        readAt(clone, readSlot(user));
        if (auto reshape = dyn_cast<ReshapeOp>(user))
          views.push_back(reshape.getResult());
      }
      while (!views.empty()) {
        Value view = views.pop_back_val();
        if (!moved.insert(view).second)
          continue;
        for (Operation *user : view.getUsers()) {
          readAt(clone, readSlot(user));
          if (auto reshape = dyn_cast<ReshapeOp>(user))
            views.push_back(reshape.getResult());
        }
      }
    }
    for (auto &entry : extended)
      touched.insert(entry.first);
    for (auto &entry : movedRead)
      for (Value operand : entry.first->getOperands())
        touched.insert(bufferOf.lookup(operand));
    std::map<int64_t, int64_t> steps;
    for (int64_t id : touched) {
      if (id < 0)
        continue;
      const Buffer &buffer = buffers[id];
      if (vanished.contains(id)) {
        steps[buffer.def] -= buffer.bytes;
        steps[buffer.last + 1] += buffer.bytes;
        continue;
      }
      // Its last reader now: the clones' reads, and every read but those
      // the clones took over.
      int64_t last = std::max(buffer.def, extended.lookup(id));
      for (Value v : buffer.members)
        if (!moved.contains(v))
          for (Operation *user : v.getUsers())
            if (!replaced(v, user))
              last = std::max(last, readAtSlot(user));
      if (last < buffer.last) {
        steps[last + 1] -= buffer.bytes;
        steps[buffer.last + 1] += buffer.bytes;
      } else if (last > buffer.last) {
        steps[buffer.last + 1] += buffer.bytes;
        steps[last + 1] -= buffer.bytes;
      }
    }
    for (const CloneBuffer &buffer : own) {
      steps[buffer.def] += buffer.bytes;
      steps[buffer.last + 1] -= buffer.bytes;
    }
    for (auto [k, op] : llvm::enumerate(ops))
      if (int64_t scratch = attentionScratch(op, libraryAttention)) {
        steps[at[k]] += scratch;
        steps[at[k] + 1] -= scratch;
      }
    for (auto [slot, d] : steps)
      if (d != 0)
        changes[c].push_back({slot, d});
  }
}

std::vector<int64_t> Timeline::changeOver(size_t c, int64_t lo,
                                          int64_t hi) const {
  std::vector<int64_t> out(std::max<int64_t>(0, hi - lo + 1), 0);
  int64_t value = 0;
  size_t i = 0;
  const auto &steps = changes[c];
  for (int64_t s = lo; s <= hi; ++s) {
    while (i < steps.size() && steps[i].first <= s)
      value += steps[i++].second;
    out[s - lo] = value;
  }
  return out;
}

int64_t Timeline::peak(ArrayRef<size_t> chosen) const {
  std::vector<int64_t> delta(base.size() + 1, 0);
  for (size_t c : chosen)
    for (auto [slot, d] : changes[c])
      delta[slot] += d;
  int64_t change = 0, peak = 0;
  for (size_t s = 0; s < base.size(); ++s) {
    change += delta[s];
    peak = std::max(peak, base[s] + change);
  }
  return always + peak;
}

/// The options `policy=budget` chooses among for each layer run.
enum Choice : int { keep = 0, selective = 1, recompute = 2 };
constexpr int kChoices = 3;
const char *choiceName(int c) {
  return c == keep ? "none" : c == selective ? "selective" : "full";
}

/// `policy=budget`'s problem: per layer run a choice, least recomputed
/// FLOPs, modelled peak at most a threshold. The runs of one micro-batch
/// nest: a run's candidates change the live bytes from its forward to its
/// backward, around the next run's, and over the next run's span they
/// only save (the bytes the run no longer keeps). So the peak over the
/// slots where run k is the innermost is that run's own peak less what the
/// runs before it save, and a dynamic program over the runs in forward
/// order with the Pareto set of (bytes saved so far, FLOPs so far) as its
/// state is exact for this model.
class BudgetProblem {
public:
  BudgetProblem(const Timeline &timeline, ArrayRef<SmallVector<size_t>> chains,
                ArrayRef<std::array<int64_t, kChoices>> candidateOf,
                ArrayRef<std::array<int64_t, kChoices>> flops);

  /// The least-FLOPs choice per run whose modelled peak is at most
  /// `threshold`, or nothing when none is; with `allowed`, each run's
  /// choice is one of the bits of its mask.
  std::optional<std::vector<int>>
  solve(int64_t threshold, ArrayRef<uint8_t> allowed = {}) const;
  int64_t cost(ArrayRef<int> choice) const;

  /// The smallest threshold any choice meets.
  int64_t minimumPeak() const;

private:
  std::vector<SmallVector<size_t>> chains;
  std::vector<std::array<int64_t, kChoices>> flops;
  /// Per run and choice: its peak where it is the innermost run (arguments
  /// included), and what it saves over the inner runs' span. INT64_MAX:
  /// the choice does not exist (a run selective does not change).
  std::vector<std::array<int64_t, kChoices>> ownPeak, saved;
  /// The peak of the slots outside every micro-batch's runs.
  int64_t outside = 0;
};

BudgetProblem::BudgetProblem(
    const Timeline &timeline, ArrayRef<SmallVector<size_t>> chainsIn,
    ArrayRef<std::array<int64_t, kChoices>> candidateOf,
    ArrayRef<std::array<int64_t, kChoices>> flopsIn)
    : chains(chainsIn.begin(), chainsIn.end()),
      flops(flopsIn.begin(), flopsIn.end()) {
  size_t numRuns = candidateOf.size();
  ownPeak.assign(numRuns, {});
  saved.assign(numRuns, {});
  std::vector<bool> inside(timeline.numSlots(), false);
  for (ArrayRef<size_t> chain : chains) {
    // Each run's span (the slots its candidates change), grown to hold the
    // spans of the runs after it.
    size_t n = chain.size();
    std::vector<std::pair<int64_t, int64_t>> span(n, {INT64_MAX, -1});
    for (size_t i = n; i-- > 0;) {
      size_t run = chain[i];
      for (int c = selective; c < kChoices; ++c) {
        int64_t cand = candidateOf[run][c];
        if (cand < 0 || timeline.changes[cand].empty())
          continue;
        span[i].first =
            std::min(span[i].first, timeline.changes[cand].front().first);
        span[i].second =
            std::max(span[i].second, timeline.changes[cand].back().first - 1);
      }
      if (i + 1 < n) {
        span[i].first = std::min(span[i].first, span[i + 1].first);
        span[i].second = std::max(span[i].second, span[i + 1].second);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      size_t run = chain[i];
      auto [lo, hi] = span[i];
      for (int64_t s = std::max<int64_t>(lo, 0); s <= hi; ++s)
        inside[s] = true;
      std::pair<int64_t, int64_t> inner =
          i + 1 < n ? span[i + 1] : std::make_pair(INT64_MAX, int64_t(-1));
      for (int c = 0; c < kChoices; ++c) {
        int64_t cand = c == keep ? -1 : candidateOf[run][c];
        if (c != keep && cand < 0) {
          ownPeak[run][c] = saved[run][c] = INT64_MAX;
          continue;
        }
        std::vector<int64_t> change =
            cand < 0 ? std::vector<int64_t>(std::max<int64_t>(0, hi - lo + 1))
                     : timeline.changeOver(cand, lo, hi);
        int64_t own = 0, innerChange = INT64_MIN;
        for (int64_t s = lo; s <= hi; ++s) {
          int64_t d = change[s - lo];
          if (s >= inner.first && s <= inner.second)
            innerChange = std::max(innerChange, d);
          else
            own = std::max(own, timeline.base[s] + d);
        }
        ownPeak[run][c] = timeline.always + own;
        saved[run][c] = innerChange == INT64_MIN ? 0 : -innerChange;
      }
    }
  }
  for (int64_t s = 0; s < timeline.numSlots(); ++s)
    if (!inside[s])
      outside = std::max(outside, timeline.base[s]);
  outside += timeline.always;
}

std::optional<std::vector<int>>
BudgetProblem::solve(int64_t threshold, ArrayRef<uint8_t> allowed) const {
  if (outside > threshold)
    return std::nullopt;
  std::vector<int> choice(flops.size(), keep);
  for (ArrayRef<size_t> chain : chains) {
    struct State {
      int64_t saved, flops;
      int32_t parent;
      int8_t choice;
    };
    std::vector<std::vector<State>> layers;
    std::vector<State> frontier = {{0, 0, -1, -1}};
    for (size_t run : chain) {
      std::vector<State> next;
      for (auto [i, state] : llvm::enumerate(frontier))
        for (int c = 0; c < kChoices; ++c) {
          if (ownPeak[run][c] == INT64_MAX ||
              ownPeak[run][c] - state.saved > threshold ||
              (!allowed.empty() && !(allowed[run] & (1u << c))))
            continue;
          next.push_back({state.saved + saved[run][c],
                          state.flops + flops[run][c],
                          static_cast<int32_t>(i), static_cast<int8_t>(c)});
        }
      // Keep the Pareto set: more saved, fewer FLOPs.
      llvm::sort(next, [](const State &a, const State &b) {
        return a.saved != b.saved ? a.saved > b.saved : a.flops < b.flops;
      });
      std::vector<State> pareto;
      for (const State &s : next)
        if (pareto.empty() || s.flops < pareto.back().flops)
          pareto.push_back(s);
      if (pareto.empty())
        return std::nullopt;
      layers.push_back(frontier);
      frontier = std::move(pareto);
    }
    // The least FLOPs (and of those, the most saved: the first).
    size_t best = 0;
    for (size_t i = 1; i < frontier.size(); ++i)
      if (frontier[i].flops < frontier[best].flops)
        best = i;
    State s = frontier[best];
    for (size_t k = chain.size(); k-- > 0;) {
      choice[chain[k]] = s.choice;
      if (k > 0)
        s = layers[k][s.parent];
    }
  }
  return choice;
}

int64_t BudgetProblem::cost(ArrayRef<int> choice) const {
  int64_t total = 0;
  for (auto [run, c] : llvm::enumerate(choice))
    total += flops[run][c];
  return total;
}

int64_t BudgetProblem::minimumPeak() const {
  // Feasibility only grows with the threshold.
  int64_t lo = outside, hi = outside;
  for (const auto &peaks : ownPeak)
    hi = std::max(hi, peaks[keep]);
  if (solve(lo))
    return lo;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    (solve(mid) ? hi : lo) = mid;
  }
  return hi;
}

struct RematPass : dsv3::impl::RematBase<RematPass> {
  using dsv3::impl::RematBase<RematPass>::RematBase;

  void getDependentDialects(DialectRegistry &registry) const override;
  void runOnOperation() override;

  /// The passes from the training step to its memory plan
  /// (dsv3-plan-memory), which policy=budget checks its plans against;
  /// null when the pass runs on its own.
  std::function<void(OpPassManager &)> planPipeline;

private:
  /// The arena dsv3-plan-memory gives a copy of the module with `groups`
  /// rematerialized.
  FailureOr<int64_t> plannedArena(ModuleOp module, func::FuncOp fn,
                                  ArrayRef<GroupSpec> groups);
  /// policy=budget: the groups to recompute, having written what the
  /// report says of them to `out`; nothing after an error.
  std::optional<SmallVector<GroupSpec>>
  planUnderBudget(ModuleOp module, func::FuncOp fn, const Forward &forward,
                  const llvm::DenseSet<Operation *> &original,
                  Selection &selection, ArrayRef<LayerRun> runs,
                  ArrayRef<SmallVector<size_t>> chains,
                  ArrayRef<GroupSpec> sqrtGroups, std::string &out);
};

} // namespace

std::unique_ptr<Pass>
mlir::dsv3::createRemat(const RematOptions &options,
                        std::function<void(OpPassManager &)> planPipeline) {
  auto pass = std::make_unique<RematPass>(options);
  pass->planPipeline = std::move(planPipeline);
  return pass;
}

namespace {

void RematPass::getDependentDialects(DialectRegistry &registry) const {
  RematBase::getDependentDialects(registry);
  if (!planPipeline)
    return;
  OpPassManager pm(ModuleOp::getOperationName());
  planPipeline(pm);
  pm.getDependentDialects(registry);
}

FailureOr<int64_t> RematPass::plannedArena(ModuleOp module, func::FuncOp fn,
                                           ArrayRef<GroupSpec> groups) {
  // A copy of the module, rewritten and planned inside this one (a pass
  // may run a pipeline on what it is nested in only), then dropped.
  IRMapping map;
  auto copy = cast<ModuleOp>(module->clone(map));
  module.getBody()->push_back(copy);
  auto fnCopy = cast<func::FuncOp>(map.lookup(fn.getOperation()));
  Value loss;
  Operation *ret = fnCopy.getBody().front().getTerminator();
  for (unsigned r = 0, e = fnCopy.getNumResults(); r < e; ++r)
    if (getResultRole(fnCopy, r) == Role::loss)
      loss = ret->getOperand(r);
  Forward forward = findForward(fnCopy, loss);
  llvm::DenseSet<Operation *> original;
  for (Operation &op : fnCopy.getBody().front())
    original.insert(&op);
  Selection selection(fnCopy);
  SmallVector<GroupPlan> plans;
  for (const GroupSpec &group : groups) {
    GroupSpec mapped{{}, group.selective, group.name};
    for (Operation *op : group.ops)
      mapped.ops.push_back(map.lookup(op));
    plans.push_back(planGroup(mapped, forward, original, selection));
  }
  applyPlans(plans, forward, original);
  StringRef name = fn.getName();
  OpPassManager pm(ModuleOp::getOperationName());
  planPipeline(pm);
  FailureOr<int64_t> arena = failure();
  bool ok = succeeded(runPipeline(pm, copy));
  if (ok)
    if (auto planned = copy.lookupSymbol<func::FuncOp>(name))
      if (auto attr = planned->getAttrOfType<IntegerAttr>(
              Dsv3Dialect::ArenaBytesAttrHelper::getNameStr()))
        arena = attr.getInt();
  copy.erase();
  return arena;
}

std::optional<SmallVector<GroupSpec>> RematPass::planUnderBudget(
    ModuleOp module, func::FuncOp fn, const Forward &forward,
    const llvm::DenseSet<Operation *> &original, Selection &selection,
    ArrayRef<LayerRun> runs, ArrayRef<SmallVector<size_t>> chains,
    ArrayRef<GroupSpec> sqrtGroups, std::string &out) {
  using Clock = std::chrono::steady_clock;
  auto msSince = [](Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start)
        .count();
  };
  if (exhaustive) {
    if (!planPipeline) {
      fn.emitError("dsv3-remat: exhaustive checks plans against the memory "
                   "plan, which only dsv3-train-pipeline runs");
      return std::nullopt;
    }
    if (runs.size() > 8) {
      fn.emitError("dsv3-remat: exhaustive plans every choice of ")
          << runs.size() << " layer runs (at most 8)";
      return std::nullopt;
    }
  }
  Clock::time_point solveStart = Clock::now();
  // Each run's candidates: selective and full, where they recompute
  // anything.
  SmallVector<GroupSpec> specs;
  SmallVector<GroupPlan> candidates;
  std::vector<std::array<int64_t, kChoices>> candidateOf(runs.size(),
                                                         {-1, -1, -1});
  std::vector<std::array<int64_t, kChoices>> flops(runs.size(), {0, 0, 0});
  for (auto [r, run] : llvm::enumerate(runs))
    for (int c : {selective, recompute}) {
      GroupSpec group{run.ops, c == selective, run.layer.str()};
      GroupPlan plan = planGroup(group, forward, original, selection);
      if (plan.needed.empty())
        continue;
      candidateOf[r][c] = static_cast<int64_t>(specs.size());
      flops[r][c] = plan.flops;
      specs.push_back(std::move(group));
      candidates.push_back(std::move(plan));
    }
  SmallVector<const GroupPlan *> pointers;
  for (const GroupPlan &plan : candidates)
    pointers.push_back(&plan);
  Timeline timeline(fn, forward, original, pointers, libraryAttention);
  BudgetProblem problem(timeline, chains, candidateOf, flops);
  int64_t minimumPeak = problem.minimumPeak();
  double solveMs = msSince(solveStart);

  using Choice = std::vector<int>;
  auto groupsOf = [&](const Choice &choice) {
    SmallVector<GroupSpec> groups;
    for (auto [r, c] : llvm::enumerate(choice))
      if (c != keep) {
        groups.push_back(specs[candidateOf[r][c]]);
        groups.back().name = runs[r].layer.str();
      }
    return groups;
  };
  auto modelPeak = [&](const Choice &choice) {
    SmallVector<size_t> chosen;
    for (auto [r, c] : llvm::enumerate(choice))
      if (c != keep)
        chosen.push_back(candidateOf[r][c]);
    return timeline.peak(chosen);
  };
  // A choice's arena: the memory plan's, or without the pipeline to it
  // (the pass on its own), the model's peak.
  std::map<Choice, int64_t> arenas;
  double checkMs = 0, worstRatio = 0;
  auto arenaOf = [&](const Choice &choice) -> FailureOr<int64_t> {
    auto it = arenas.find(choice);
    if (it != arenas.end())
      return it->second;
    int64_t arena = modelPeak(choice);
    if (planPipeline) {
      Clock::time_point start = Clock::now();
      FailureOr<int64_t> planned = plannedArena(module, fn, groupsOf(choice));
      checkMs += msSince(start);
      if (failed(planned)) {
        fn.emitError("dsv3-remat: could not plan the memory of a candidate "
                     "plan of policy=budget");
        return failure();
      }
      worstRatio = std::max(worstRatio, double(arena) / *planned);
      arena = *planned;
    }
    arenas[choice] = arena;
    return arena;
  };
  auto keepAll = Choice(runs.size(), keep);

  int64_t bytes = static_cast<int64_t>(std::llround(budget));
  if (budget <= 1.0) {
    FailureOr<int64_t> none = arenaOf(keepAll);
    if (failed(none))
      return std::nullopt;
    bytes = static_cast<int64_t>(std::llround(budget * *none));
  }

  // The least-FLOPs plan whose arena fits. The model is a relaxation, so
  // every plan whose arena fits has a modelled peak within the limit too,
  // and the model's plans under the limit, in order of recomputed FLOPs
  // (Lawler's partition: the plans that agree with a popped one on the
  // runs before r and differ at r, each the program's optimum under those
  // constraints), are checked against the memory plan: the first that
  // fits recomputes the least of all that fit. Checking is the expensive
  // part (a memory plan of the whole step), so after the first plan
  // misses: the plan of the least modelled peak is checked (if it does not
  // fit, none is taken to), a plan that fits is found by tightening the
  // model's limit by how far it fell short of the arenas seen, and the
  // cheaper plans are checked only until every plan left is within 1% of
  // it (or kExactChecks have been).
  constexpr int kStaircaseChecks = 6;
  constexpr int kExactChecks = 12;
  constexpr uint8_t kAllChoices = (1u << kChoices) - 1;
  double searchMs = 0;
  Choice leastChoice;
  // How far from the least per-layer plan that fits select's plan is
  // proven to be (1: it is the least), and how many of the model's cheaper
  // plans were checked to show it; 0 when nothing was proven.
  double provenRatio = 0;
  int64_t cheaperChecked = 0;
  auto select = [&](int64_t limit, int64_t &leastSeen,
                    int64_t &checks) -> FailureOr<std::optional<Choice>> {
    leastSeen = INT64_MAX;
    checks = 0;
    provenRatio = 0;
    cheaperChecked = 0;
    int64_t slack = 0; // the most an arena seen exceeds its modelled peak
    auto check = [&](const Choice &choice) -> FailureOr<bool> {
      FailureOr<int64_t> arena = arenaOf(choice);
      if (failed(arena))
        return failure();
      ++checks;
      slack = std::max(slack, *arena - modelPeak(choice));
      if (*arena < leastSeen) {
        leastSeen = *arena;
        leastChoice = choice;
      }
      return *arena <= limit;
    };
    auto solveTimed = [&](int64_t threshold, ArrayRef<uint8_t> allowed) {
      Clock::time_point start = Clock::now();
      std::optional<Choice> choice = problem.solve(threshold, allowed);
      searchMs += msSince(start);
      return choice;
    };
    struct Node {
      int64_t cost;
      Choice choice;
      std::vector<uint8_t> allowed;
    };
    auto worse = [](const Node &a, const Node &b) {
      return a.cost != b.cost ? a.cost > b.cost : a.choice > b.choice;
    };
    std::priority_queue<Node, std::vector<Node>, decltype(worse)> queue(
        worse);
    auto push = [&](std::vector<uint8_t> allowed) {
      if (std::optional<Choice> choice = solveTimed(limit, allowed))
        queue.push({problem.cost(*choice), std::move(*choice),
                    std::move(allowed)});
    };
    int64_t misses = 0;
    // Pops the next cheapest plan and checks it; on a miss, pushes the
    // plans that differ from it.
    auto pop = [&]() -> FailureOr<std::optional<Choice>> {
      Node node = queue.top();
      queue.pop();
      FailureOr<bool> fits = check(node.choice);
      if (failed(fits))
        return failure();
      if (*fits)
        return std::optional<Choice>(node.choice);
      ++misses;
      std::vector<uint8_t> allowed = std::move(node.allowed);
      for (auto [r, c] : llvm::enumerate(node.choice)) {
        uint8_t bit = 1u << c;
        if (allowed[r] != bit) {
          std::vector<uint8_t> branch = allowed;
          branch[r] &= ~bit;
          push(std::move(branch));
        }
        allowed[r] = bit;
      }
      return std::optional<Choice>();
    };

    push(std::vector<uint8_t>(runs.size(), kAllChoices));
    if (!queue.empty()) {
      FailureOr<std::optional<Choice>> first = pop();
      if (failed(first))
        return failure();
      if (*first) {
        provenRatio = 1.0;
        return *first;
      }
    }
    Choice least = *problem.solve(minimumPeak);
    FailureOr<bool> leastFits = check(least);
    if (failed(leastFits))
      return failure();
    if (!*leastFits)
      return std::optional<Choice>();
    // A plan that fits: the model's optimum under the limit less the
    // slack seen, lowered until one fits.
    Choice found = least;
    int64_t threshold = limit - slack;
    for (int k = 0; k < kStaircaseChecks && threshold >= minimumPeak; ++k) {
      std::optional<Choice> choice = solveTimed(threshold, {});
      if (!choice || problem.cost(*choice) >= problem.cost(found))
        break;
      FailureOr<int64_t> arena = arenaOf(*choice);
      FailureOr<bool> fits = check(*choice);
      if (failed(arena) || failed(fits))
        return failure();
      if (*fits) {
        found = *choice;
        break;
      }
      threshold = std::min({limit - slack, modelPeak(*choice) - 1,
                            threshold - (*arena - limit)});
    }
    // The cheaper plans, until the rest are within 1% of it.
    int64_t foundCost = problem.cost(found);
    for (int k = 0; k < kExactChecks; ++k) {
      if (queue.empty() || queue.top().cost >= foundCost) {
        provenRatio = 1.0;
        break;
      }
      if (double(foundCost) <= 1.01 * double(queue.top().cost))
        break;
      FailureOr<std::optional<Choice>> next = pop();
      if (failed(next))
        return failure();
      if (*next) {
        found = **next;
        foundCost = problem.cost(found);
        provenRatio = 1.0;
        break;
      }
    }
    cheaperChecked = misses;
    if (provenRatio == 0 && !queue.empty() && queue.top().cost > 0)
      provenRatio = double(foundCost) / double(queue.top().cost);
    if (provenRatio == 0 && queue.empty())
      provenRatio = 1.0;
    return std::optional<Choice>(found);
  };
  int64_t leastSeen = 0, checks = 0;
  FailureOr<std::optional<Choice>> picked = select(bytes, leastSeen, checks);
  if (failed(picked))
    return std::nullopt;
  if (!*picked) {
    InFlightDiagnostic diag = fn.emitError("dsv3-remat: budget ");
    diag << mib(bytes)
         << " is below the minimum feasible peak: the least arena of the "
         << checks << " plans planned (among them the plan of the least "
            "modelled peak) is "
         << mib(leastSeen) << (planPipeline ? "" : " (modelled)") << ", with";
    for (auto [r, c] : llvm::enumerate(leastChoice))
      diag << " " << runs[r].layer << "=" << choiceName(c);
    diag << "; no plan's arena is below the least modelled peak, "
         << mib(minimumPeak);
    return std::nullopt;
  }
  Choice choice = **picked;
  int64_t cost = problem.cost(choice);
  // The lower bound: the model counts only buffers the memory plan has
  // too, for as long as it keeps them (a relaxation), so every plan whose
  // arena fits has a modelled peak within the budget, and none of those
  // recomputes less than the model's exact optimum there.
  int64_t bound = problem.cost(*problem.solve(std::max(minimumPeak, bytes)));

  llvm::raw_string_ostream os(out);
  auto ratio = [](int64_t a, int64_t b) {
    std::string s;
    llvm::raw_string_ostream rs(s);
    if (b == 0)
      rs << (a == 0 ? "1.000x" : "inf");
    else
      rs << llvm::format("%.3fx", double(a) / b);
    return s;
  };
  os << "  budget " << mib(bytes) << ": planned arena " << mib(arenas[choice])
     << (planPipeline ? " (dsv3-plan-memory's)"
                      : " (the model's peak: no memory plan in this pipeline)")
     << ", modelled peak " << mib(modelPeak(choice)) << "\n";
  os << "  budget: recomputes " << cost << " FLOPs; lower bound " << bound
     << " FLOPs, gap ";
  if (bound > 0)
    os << llvm::format("%.1f", 100.0 * (cost - bound) / bound) << "%";
  else
    os << (cost == 0 ? "0.0%" : "unbounded");
  os << " (the bound: the least any per-layer choice with a modelled peak "
        "in the budget recomputes, exact by dynamic program over the "
        "layers)";
  if (cheaperChecked > 0 && provenRatio > 0)
    os << "; " << cheaperChecked
       << " of the model's cheaper plans checked do not fit, so it is "
       << (provenRatio <= 1.0 ? std::string("the least")
                              : llvm::formatv("at most {0:F3}x the least",
                                              provenRatio)
                                    .str())
       << " of any per-layer plan that fits";
  os << "\n";
  os << "  budget: solved in " << llvm::format("%.1f", solveMs + searchMs)
     << " ms (least modelled peak " << mib(minimumPeak) << "); " << checks
     << " plans checked against the memory plan in "
     << llvm::format("%.1f", checkMs) << " ms";
  if (planPipeline && worstRatio > 0)
    os << ", modelled peak / arena at most "
       << llvm::format("%.3f", worstRatio)
       << (worstRatio > 1.0 ? " (above 1: the model overestimated an arena, "
                              "and the bound may not hold)"
                            : "");
  os << "\n";
  os << "  budget: per layer";
  for (auto [r, c] : llvm::enumerate(choice))
    os << " " << runs[r].layer << "=" << choiceName(c);
  os << "\n";

  if (exhaustive) {
    // Every choice per run, against the memory plan.
    std::vector<std::pair<int64_t, int64_t>> all; // (arena, FLOPs)
    Choice current(runs.size(), keep);
    std::function<LogicalResult(size_t)> enumerate = [&](size_t r) {
      if (r == runs.size()) {
        FailureOr<int64_t> arena = arenaOf(current);
        if (failed(arena))
          return failure();
        all.push_back({*arena, problem.cost(current)});
        return success();
      }
      for (int c = 0; c < kChoices; ++c) {
        if (c != keep && candidateOf[r][c] < 0)
          continue;
        current[r] = c;
        if (failed(enumerate(r + 1)))
          return failure();
      }
      current[r] = keep;
      return success();
    };
    if (failed(enumerate(0)))
      return std::nullopt;
    auto optimum = [&](int64_t limit) {
      int64_t best = INT64_MAX;
      for (auto [arena, f] : all)
        if (arena <= limit)
          best = std::min(best, f);
      return best;
    };
    os << "  exhaustive: " << all.size()
       << " per-layer plans; the least recompute in the budget is "
       << optimum(bytes) << " FLOPs; budget's plan is "
       << ratio(cost, optimum(bytes)) << " of it\n";
    FailureOr<int64_t> sqrtArena = plannedArena(module, fn, sqrtGroups);
    if (failed(sqrtArena)) {
      fn.emitError("dsv3-remat: could not plan the memory of policy=sqrt");
      return std::nullopt;
    }
    int64_t sqrtFlops = 0;
    for (const GroupSpec &group : sqrtGroups)
      sqrtFlops += planGroup(group, forward, original, selection).flops;
    int64_t best = optimum(*sqrtArena);
    std::string budgetThere = "none fits";
    FailureOr<std::optional<Choice>> there =
        select(*sqrtArena, leastSeen, checks);
    if (failed(there))
      return std::nullopt;
    if (*there)
      budgetThere = ratio(problem.cost(**there), best);
    os << "  exhaustive: sqrt recomputes " << sqrtFlops
       << " FLOPs in an arena of " << mib(*sqrtArena)
       << "; the least per-layer recompute there is "
       << (best == INT64_MAX ? std::string("none") : std::to_string(best))
       << " FLOPs: sqrt " << (best == INT64_MAX ? "-" : ratio(sqrtFlops, best))
       << ", budget " << budgetThere << "\n";
  }
  return groupsOf(choice);
}

void RematPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (policy != "none" && policy != "full" && policy != "sqrt" &&
      policy != "selective" && policy != "budget") {
    module.emitError("dsv3-remat: policy must be none, full, sqrt, selective "
                     "or budget, got ")
        << policy.getValue();
    return signalPassFailure();
  }
  if (policy == "budget" &&
      !(budget > 0 && budget <= 4611686018427387904.0 /* 2^62 */ &&
        (budget <= 1 || budget == std::floor(budget)))) {
    module.emitError("dsv3-remat: policy=budget needs budget=<bytes>, a "
                     "whole number up to 2^62, or a fraction in (0, 1] of the "
                     "peak without remat; got budget=")
        << llvm::formatv("{0}", budget.getValue());
    return signalPassFailure();
  }
  if (exhaustive && !report) {
    module.emitError("dsv3-remat: exhaustive prints its comparison in the "
                     "report; it needs report=true");
    return signalPassFailure();
  }
  if (policy != "budget" && budget != 0) {
    module.emitError("dsv3-remat: budget= is for policy=budget, not policy=")
        << policy.getValue();
    return signalPassFailure();
  }
  if (exhaustive && policy != "budget") {
    module.emitError("dsv3-remat: exhaustive is for policy=budget");
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
  // Each micro-batch's runs, in forward order.
  SmallVector<SmallVector<size_t>> chains;
  for (size_t r = 0; r < runs.size(); ++r) {
    if (r == 0 || runs[r].backward != runs[r - 1].backward)
      chains.emplace_back();
    chains.back().push_back(r);
  }

  llvm::DenseSet<Operation *> original;
  for (Operation &op : fn.getBody().front())
    original.insert(&op);
  Selection selection(fn);

  // Groups of consecutive runs of one micro-batch, each recomputed as a
  // whole from what enters it: none, one per layer (full), or ~sqrt(L) of
  // a micro-batch's L layers each (sqrt: L/k kept inputs plus k layers
  // recomputed at a time is least near k = sqrt(L)).
  auto fixedGroups = [&](StringRef name) {
    SmallVector<GroupSpec> groups;
    if (name == "none" || name == "budget")
      return groups;
    for (ArrayRef<size_t> chain : chains) {
      size_t n = chain.size();
      size_t perGroup =
          name == "sqrt"
              ? std::max<size_t>(1, static_cast<size_t>(
                                        std::ceil(std::sqrt(double(n)))))
              : 1;
      for (size_t i = 0; i < n; i += perGroup) {
        GroupSpec group;
        group.selective = name == "selective";
        size_t end = std::min(n, i + perGroup);
        for (size_t s = i; s < end; ++s)
          group.ops.append(runs[chain[s]].ops);
        group.name = end - i == 1 ? runs[chain[i]].layer.str()
                                  : (runs[chain[i]].layer + " .. " +
                                     runs[chain[end - 1]].layer)
                                        .str();
        groups.push_back(std::move(group));
      }
    }
    return groups;
  };
  SmallVector<GroupSpec> groups = fixedGroups(policy);
  std::string budgetReport;
  if (policy == "budget") {
    std::optional<SmallVector<GroupSpec>> chosen =
        planUnderBudget(module, fn, before, original, selection, runs, chains,
                        fixedGroups("sqrt"), budgetReport);
    if (!chosen)
      return signalPassFailure();
    groups = std::move(*chosen);
  }

  SmallVector<GroupPlan> plans;
  for (const GroupSpec &group : groups)
    plans.push_back(planGroup(group, before, original, selection));
  applyPlans(plans, before, original);
  int64_t recomputedFlops = 0, recomputedOps = 0;
  for (const GroupPlan &plan : plans) {
    recomputedFlops += plan.flops;
    recomputedOps += plan.recompute.size();
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
     << (policy == "selective" ? " groups recomputing norms, SwiGLU and MLA "
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
  os << budgetReport;
  for (const GroupSpec &group : groups)
    os << "  recomputes " << group.name
       << (policy == "budget" && group.selective ? " (selective)" : "")
       << "\n";
  for (auto &[layer, entry] : keptBefore) {
    auto now = keptAfter[layer];
    os << "  " << (layer.empty() ? "outside the layers" : layer) << " keeps "
       << now.second << " values, " << mib(now.first) << " (was "
       << entry.second << ", " << mib(entry.first) << ")\n";
  }
}

} // namespace
