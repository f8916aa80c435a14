//===- PlanMemory.cpp - the dsv3-plan-memory pass -------------------------===//
//
// Places every tensor of a function in one arena: one buffer per SSA value
// (reshapes alias their input), live from its definition to its last use,
// with updated parameters and optimizer state donated onto the buffers of
// the values they replace. Annotates arguments (`dsv3.offset`), ops
// (`dsv3.offsets`) and the function (`dsv3.arena_bytes`,
// `dsv3.peak_live_bytes`).
//
//===----------------------------------------------------------------------===//

#include "Analysis/MemoryPlan.h"
#include "Transforms/Passes.h"

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
    if (auto name = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                    "dsv3.name"))
      return name.str();
    return "argument " + std::to_string(arg.getArgNumber());
  }
  Operation *op = v.getDefiningOp();
  std::string s = op->getName().getStringRef().str();
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    s += " in " + loc.getName().str();
  return s;
}

void PlanMemoryPass::runOnOperation() {
  auto fn = getOperation().lookupSymbol<func::FuncOp>(function);
  if (!fn) {
    getOperation().emitError("dsv3-plan-memory: no function @")
        << function.getValue();
    return signalPassFailure();
  }
  if (alignment < 1 || (alignment & (alignment - 1)) != 0) {
    getOperation().emitError("dsv3-plan-memory: alignment must be a power "
                             "of two, got ")
        << alignment.getValue();
    return signalPassFailure();
  }
  Block &body = fn.getBody().front();

  // Values in program order with their definition index.
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

  // Buffers are classes of values sharing storage.
  llvm::EquivalenceClasses<Value> storage;
  for (Value v : values)
    storage.insert(v);
  for (Operation &op : body)
    if (auto reshape = dyn_cast<ReshapeOp>(op))
      storage.unionSets(reshape.getResult(), reshape.getInput());

  // Donation: an updated state takes its input's buffer when the op that
  // computes it is that input's last reader and works element by element.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  int64_t donated = 0;
  SmallVector<std::string> notDonated;
  for (auto [r, result] : llvm::enumerate(ret.getOperands())) {
    auto role = fn.getResultAttrOfType<StringAttr>(r, "dsv3.role");
    auto name = fn.getResultAttrOfType<StringAttr>(r, "dsv3.name");
    if (!role || !name ||
        (role.strref() != "param" && role.strref() != "opt_state"))
      continue;
    BlockArgument input;
    for (BlockArgument arg : body.getArguments())
      if (fn.getArgAttr(arg.getArgNumber(), "dsv3.role") == role &&
          fn.getArgAttr(arg.getArgNumber(), "dsv3.name") == name)
        input = arg;
    Operation *producer = result.getDefiningOp();
    std::string why;
    if (!input)
      why = "no argument with its name";
    else if (result == input)
      continue; // Passed through unchanged: already the same buffer.
    else if (!producer || !isa<AdamWOp, UpdateRouterBiasOp>(producer))
      why = "not computed by an elementwise update";
    else if (getTensorBytes(input.getType()) != getTensorBytes(result.getType()))
      why = "its size differs from the input's";
    else if (lastUse.lookup(input) != defIndex[result])
      why = "the input is read after the update";
    if (!why.empty()) {
      notDonated.push_back(name.str() + ": " + why);
      continue;
    }
    storage.unionSets(input, result);
    ++donated;
  }

  // One request per buffer; values returned stay live to the end.
  int64_t end = index - 1;
  for (Value v : ret.getOperands())
    lastUse[v] = end;
  llvm::DenseMap<Value, size_t> bufferOf;
  SmallVector<BufferRequest> requests;
  SmallVector<Value> leaders;
  for (Value v : values) {
    Value leader = storage.getLeaderValue(v);
    auto [it, inserted] = bufferOf.try_emplace(leader, requests.size());
    if (inserted) {
      requests.push_back({getTensorBytes(v.getType()), defIndex[v],
                          lastUse.count(v) ? lastUse[v] : defIndex[v]});
      // Named after the first value (in program order) that lives in it.
      leaders.push_back(v);
    }
    BufferRequest &req = requests[it->second];
    req.bytes = std::max(req.bytes, getTensorBytes(v.getType()));
    req.start = std::min(req.start, defIndex[v]);
    req.end = std::max(req.end, lastUse.count(v) ? lastUse[v] : defIndex[v]);
    bufferOf[v] = it->second;
  }
  MemoryPlan plan = planMemory(requests, alignment);

  Builder b(&getContext());
  for (BlockArgument arg : body.getArguments())
    fn.setArgAttr(arg.getArgNumber(), "dsv3.offset",
                  b.getI64IntegerAttr(plan.offsets[bufferOf[arg]]));
  for (Operation &op : body) {
    if (op.getNumResults() == 0)
      continue;
    SmallVector<int64_t> offsets;
    for (Value r : op.getResults())
      offsets.push_back(plan.offsets[bufferOf[r]]);
    op.setAttr("dsv3.offsets", b.getDenseI64ArrayAttr(offsets));
  }
  fn->setAttr("dsv3.arena_bytes", b.getI64IntegerAttr(plan.arenaBytes));
  fn->setAttr("dsv3.peak_live_bytes", b.getI64IntegerAttr(plan.peakLiveBytes));

  if (!report)
    return;
  llvm::raw_ostream &os = llvm::outs();
  Operation *peakOp = nullptr;
  int64_t i = 0;
  for (Operation &op : body)
    if (i++ == plan.peakIndex)
      peakOp = &op;
  os << "memory plan of @" << fn.getName() << ": " << requests.size()
     << " buffers in an arena of " << plan.arenaBytes << " bytes ("
     << llvm::format("%.2f", plan.arenaBytes / 1048576.0) << " MiB); peak live "
     << plan.peakLiveBytes << " bytes (the lower bound, "
     << llvm::format("%.3f", plan.peakLiveBytes
                                 ? double(plan.arenaBytes) / plan.peakLiveBytes
                                 : 1.0)
     << "x); " << donated << " updated states donated onto their inputs\n";
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
       << "  " << describe(leaders[k]) << "\n";
  if (live.size() > static_cast<size_t>(topN))
    os << "  ... and " << live.size() - topN << " more\n";
  for (const std::string &line : notDonated)
    os << "not donated: " << line << "\n";
}

} // namespace
