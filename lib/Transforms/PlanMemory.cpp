//===- PlanMemory.cpp - the dsv3-plan-memory pass -------------------------===//
//
// Places every tensor of a function in one arena: one buffer per SSA value
// (reshapes alias their input), live from its definition to its last use;
// parameters and optimizer state persist across steps and so for the whole
// function; updated state donated onto the buffer it replaces; a kernel
// call's scratch buffers live for that call. Annotates arguments
// (`dsv3.offset`), ops (`dsv3.offsets`, `dsv3.scratch_offsets`) and the
// function (`dsv3.arena_bytes`, `dsv3.peak_live_bytes`). This is the one
// plan: the executable writer reads these offsets as they are.
//
//===----------------------------------------------------------------------===//

#include "Analysis/Donation.h"
#include "Analysis/MemoryPlan.h"
#include "Transforms/Passes.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/Support/Format.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_PLANMEMORY
#include "Transforms/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

struct PlanMemoryPass : dsv3::impl::PlanMemoryBase<PlanMemoryPass> {
  using dsv3::impl::PlanMemoryBase<PlanMemoryPass>::PlanMemoryBase;

  void runOnOperation() override;
};

std::string describe(Value v) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
    StringRef name = getArgName(fn, arg.getArgNumber());
    if (!name.empty())
      return name.str();
    return "argument " + std::to_string(arg.getArgNumber());
  }
  Operation *op = v.getDefiningOp();
  std::string s = op->getName().getStringRef().str();
  if (auto call = dyn_cast<func::CallOp>(op))
    s += " @" + call.getCallee().str();
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    s += " in " + loc.getName().str();
  return s;
}

int64_t memrefBytes(Type type) {
  auto memref = cast<MemRefType>(type);
  Type element = memref.getElementType();
  // Indices are 64-bit on every target the executable runs on.
  int64_t bytes = element.isIndex() ? 8 : getElementBytes(element);
  return memref.getNumElements() * bytes;
}

/// The scratch buffers of a kernel call: the trailing memref arguments of
/// the kernel's code in the kernel module (after dsv3-destination-passing
/// and dsv3-hoist-allocs), past one per operand and one per result that
/// has no donated buffer.
SmallVector<int64_t> scratchBytes(func::CallOp call, SymbolTable *kernels) {
  SmallVector<int64_t> bytes;
  if (!kernels)
    return bytes;
  auto code = kernels->lookup<func::FuncOp>(call.getCallee());
  if (!code || code.getNumResults() != 0)
    return bytes;
  unsigned used = call.getNumOperands() + call.getNumResults();
  if (auto donations = call->getAttrOfType<DenseI64ArrayAttr>(
          Dsv3Dialect::DonationsAttrHelper::getNameStr()))
    used -= llvm::count_if(donations.asArrayRef(),
                           [](int64_t d) { return d >= 0; });
  for (Type t : code.getArgumentTypes().drop_front(used))
    bytes.push_back(memrefBytes(t));
  return bytes;
}

void PlanMemoryPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn || fn.isExternal()) {
    module.emitError("dsv3-plan-memory: no function @")
        << function.getValue() << " with a body";
    return signalPassFailure();
  }
  if (alignment < 1 || (alignment & (alignment - 1)) != 0) {
    module.emitError("dsv3-plan-memory: alignment must be a power of two, "
                     "got ")
        << alignment.getValue();
    return signalPassFailure();
  }
  Block &body = fn.getBody().front();
  ModuleOp kernels = getKernelModule(module);
  std::optional<SymbolTable> kernelSymbols;
  if (kernels)
    kernelSymbols.emplace(kernels);

  // Values in program order with their definition index and last use.
  llvm::DenseMap<Value, int64_t> defIndex, lastUse;
  SmallVector<Value> values;
  for (BlockArgument arg : body.getArguments()) {
    defIndex[arg] = 0;
    values.push_back(arg);
  }
  int64_t index = 0;
  for (Operation &op : body) {
    for (Value operand : op.getOperands())
      lastUse[operand] = index;
    for (Value result : op.getResults()) {
      defIndex[result] = index;
      values.push_back(result);
    }
    ++index;
  }
  int64_t end = index - 1;
  // Returned values, and the state that persists across steps, live to
  // the end.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  for (Value v : ret.getOperands())
    lastUse[v] = end;
  for (BlockArgument arg : body.getArguments())
    if (isPersistent(getArgRole(fn, arg.getArgNumber())))
      lastUse[arg] = end;

  // Buffers are classes of values sharing storage: views, and updates
  // donated onto what they replace.
  llvm::EquivalenceClasses<Value> storage;
  for (Value v : values)
    storage.insert(v);
  for (Operation &op : body)
    if (auto reshape = dyn_cast<ReshapeOp>(op))
      storage.unionSets(reshape.getResult(), reshape.getInput());
  SmallVector<std::string> notDonated;
  SmallVector<Donation> donations = findDonations(fn, &notDonated);
  for (Donation d : donations)
    storage.unionSets(body.getArgument(d.argument), ret.getOperand(d.result));
  // A call told to write a result over an operand (other than the state
  // updates the analysis checked) must end that buffer's life: no later
  // reader of it or of a view of it, and no state or result that outlives
  // the step in it.
  auto classEnd = [&](Value v) {
    int64_t last = -1;
    for (auto it = storage.findLeader(v); it != storage.member_end(); ++it)
      last = std::max(last, lastUse.count(*it) ? lastUse[*it] : defIndex[*it]);
    return last;
  };
  for (Operation &op : body) {
    auto recorded = op.getAttrOfType<DenseI64ArrayAttr>(
        Dsv3Dialect::DonationsAttrHelper::getNameStr());
    if (!recorded)
      continue;
    for (auto [r, d] : llvm::enumerate(recorded.asArrayRef())) {
      if (d < 0)
        continue;
      Value operand = op.getOperand(d);
      Value result = op.getResult(r);
      if (storage.isEquivalent(operand, result))
        continue;
      if (classEnd(operand) != defIndex[result] ||
          classEnd(operand) == end) {
        op.emitError("dsv3-plan-memory: result ")
            << r << " overwrites operand " << d
            << ", whose buffer is read after this op";
        return signalPassFailure();
      }
      storage.unionSets(operand, result);
    }
  }

  // A request per class of values sharing bytes.
  llvm::DenseMap<Value, size_t> bufferOf;
  SmallVector<BufferRequest> requests;
  SmallVector<Value> leaders;
  for (Value v : values) {
    Value leader = storage.getLeaderValue(v);
    int64_t last = lastUse.count(v) ? lastUse[v] : defIndex[v];
    auto [it, inserted] = bufferOf.try_emplace(leader, requests.size());
    if (inserted) {
      requests.push_back({getTensorBytes(v.getType()), defIndex[v], last});
      // Named after the first value (in program order) that lives in it.
      leaders.push_back(v);
    }
    BufferRequest &req = requests[it->second];
    req.bytes = std::max(req.bytes, getTensorBytes(v.getType()));
    req.start = std::min(req.start, defIndex[v]);
    req.end = std::max(req.end, last);
    bufferOf[v] = it->second;
  }
  // Kernel scratch: the call's own, reused by the next call.
  llvm::DenseMap<Operation *, SmallVector<size_t>> scratchOf;
  llvm::DenseMap<size_t, std::string> scratchCallee;
  index = 0;
  for (Operation &op : body) {
    if (auto call = dyn_cast<func::CallOp>(op))
      for (int64_t bytes : scratchBytes(call, kernelSymbols ? &*kernelSymbols : nullptr)) {
        scratchOf[call].push_back(requests.size());
        requests.push_back({bytes, index, index});
        leaders.push_back(Value());
        scratchCallee[requests.size() - 1] = call.getCallee().str();
      }
    ++index;
  }
  MemoryPlan plan = planMemory(requests, alignment);

  Builder b(&getContext());
  Dsv3Dialect *dialect = getContext().getOrLoadDialect<Dsv3Dialect>();
  for (BlockArgument arg : body.getArguments())
    fn.setArgAttr(arg.getArgNumber(), kOffsetAttr,
                  b.getI64IntegerAttr(plan.offsets[bufferOf[arg]]));
  for (Operation &op : body) {
    if (op.getNumResults() != 0) {
      SmallVector<int64_t> offsets;
      for (Value r : op.getResults())
        offsets.push_back(plan.offsets[bufferOf[r]]);
      dialect->getOffsetsAttrHelper().setAttr(&op,
                                              b.getDenseI64ArrayAttr(offsets));
    }
    auto scratch = scratchOf.find(&op);
    if (scratch != scratchOf.end()) {
      SmallVector<int64_t> offsets, bytes;
      for (size_t k : scratch->second) {
        offsets.push_back(plan.offsets[k]);
        bytes.push_back(requests[k].bytes);
      }
      dialect->getScratchOffsetsAttrHelper().setAttr(
          &op, b.getDenseI64ArrayAttr(offsets));
      dialect->getScratchBytesAttrHelper().setAttr(
          &op, b.getDenseI64ArrayAttr(bytes));
    }
  }
  dialect->getArenaBytesAttrHelper().setAttr(
      fn, b.getI64IntegerAttr(plan.arenaBytes));
  dialect->getPeakLiveBytesAttrHelper().setAttr(
      fn, b.getI64IntegerAttr(plan.peakLiveBytes));

  if (!report)
    return;
  llvm::raw_ostream &os = llvm::outs();
  Operation *peakOp = nullptr;
  int64_t i = 0;
  for (Operation &op : body)
    if (i++ == plan.peakIndex)
      peakOp = &op;
  int64_t persistent = 0, scratch = 0;
  for (BlockArgument arg : body.getArguments())
    if (isPersistent(getArgRole(fn, arg.getArgNumber())))
      persistent += requests[bufferOf[arg]].bytes;
  for (auto &entry : scratchOf)
    for (size_t k : entry.second)
      scratch += requests[k].bytes;
  os << "memory plan of @" << fn.getName() << ": " << requests.size()
     << " buffers in an arena of " << plan.arenaBytes << " bytes ("
     << llvm::format("%.2f", plan.arenaBytes / 1048576.0) << " MiB); peak live "
     << plan.peakLiveBytes << " bytes (the lower bound, "
     << llvm::format("%.3f", plan.peakLiveBytes
                                 ? double(plan.arenaBytes) / plan.peakLiveBytes
                                 : 1.0)
     << "x); " << donations.size()
     << " updated states donated onto their inputs\n";
  os << "  parameters and optimizer state " << persistent << " bytes ("
     << llvm::format("%.2f", persistent / 1048576.0)
     << " MiB), kernel scratch " << scratch << " bytes in total\n";
  os << "largest live set, at op " << plan.peakIndex;
  if (peakOp)
    os << " (" << peakOp->getName() << ")";
  os << ":\n";
  SmallVector<size_t> live;
  for (size_t k = 0; k < requests.size(); ++k)
    if (requests[k].start <= plan.peakIndex && plan.peakIndex <= requests[k].end)
      live.push_back(k);
  llvm::stable_sort(live, [&](size_t a, size_t c) {
    return requests[a].bytes > requests[c].bytes;
  });
  for (size_t k : ArrayRef<size_t>(live).take_front(topN))
    os << "  " << llvm::right_justify(std::to_string(requests[k].bytes), 14)
       << "  "
       << (leaders[k] ? describe(leaders[k])
                      : "scratch of @" + scratchCallee.lookup(k))
       << "\n";
  if (live.size() > static_cast<size_t>(topN))
    os << "  ... and " << live.size() - topN << " more\n";
  for (const std::string &line : notDonated)
    os << "not donated: " << line << "\n";
}

} // namespace
