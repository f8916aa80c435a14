//===- ParallelizeLoops.cpp - parallel loops of CPU kernels on threads ----===//
//
// dsv3-parallelize-kernel-loops moves each large top-level scf.parallel of
// a CPU kernel into a function of the loop's range, `@<fn>_loop_<n>(buffers,
// lo, hi)` marked `dsv3.parallel_body`, called with the whole range in its
// place. dsv3-lower-parallel-calls, on the LLVM dialect, gives each such
// function an entry of the runtime's ABI, `void (void **args, i64 lo, i64
// hi)`, and turns each call into `dsv3ParallelFor(entry, args, lo, hi)`,
// which the runtime spreads over its threads. The loops come from
// linalg's parallel iterators: each iteration writes its own elements, so
// running the range in pieces, in any order, computes the same values.
//
//===----------------------------------------------------------------------===//

#include "Conversion/OpRuns.h"
#include "Conversion/Passes.h"

#include "dsv3/Dsv3Attributes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"


namespace mlir::dsv3 {
#define GEN_PASS_DEF_PARALLELIZEKERNELLOOPS
#define GEN_PASS_DEF_LOWERPARALLELCALLS
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

constexpr StringLiteral kParallelBody = "dsv3.parallel_body";
constexpr StringLiteral kParallelFor = "dsv3ParallelFor";

/// Iterations of a loop with constant bounds, or nullopt.
std::optional<int64_t> tripCount(Value lb, Value ub, Value step) {
  std::optional<int64_t> l = getConstantIntValue(lb),
                         u = getConstantIntValue(ub),
                         s = getConstantIntValue(step);
  if (!l || !u || !s || *s <= 0)
    return std::nullopt;
  return *u <= *l ? 0 : (*u - *l + *s - 1) / *s;
}

/// Innermost iterations the ops of `region` run (a loop of unknown trip
/// count counts once): the measure of whether a loop is worth threads.
int64_t work(Region &region) {
  int64_t total = 0;
  for (Block &block : region)
    for (Operation &op : block) {
      int64_t inner = 1;
      if (op.getNumRegions() != 0) {
        inner = 0;
        for (Region &r : op.getRegions())
          inner = std::max(inner, work(r));
        inner = std::max<int64_t>(inner, 1);
      }
      int64_t trips = 1;
      if (auto loop = dyn_cast<scf::ForOp>(op))
        trips = tripCount(loop.getLowerBound(), loop.getUpperBound(),
                          loop.getStep())
                    .value_or(1);
      if (auto loop = dyn_cast<scf::ParallelOp>(op))
        for (auto [lb, ub, step] :
             llvm::zip(loop.getLowerBound(), loop.getUpperBound(),
                       loop.getStep()))
          trips *= tripCount(lb, ub, step).value_or(1);
      if (op.getNumRegions() != 0 || isa<memref::StoreOp>(op))
        total = std::min<int64_t>(total + trips * inner, int64_t(1) << 62);
    }
  return total;
}

/// Whether `index` is `iv`, or `iv` plus a value defined outside `loop`:
/// an index that takes a different value in each iteration.
bool indexesBy(Value index, Value iv, scf::ParallelOp loop) {
  if (index == iv)
    return true;
  auto add = index.getDefiningOp<arith::AddIOp>();
  if (!add)
    return false;
  auto outside = [&](Value v) {
    Operation *def = v.getDefiningOp();
    if (!def)
      def = cast<BlockArgument>(v).getOwner()->getParentOp();
    return !loop->isAncestor(def);
  };
  return (add.getLhs() == iv && outside(add.getRhs())) ||
         (add.getRhs() == iv && outside(add.getLhs()));
}

/// Whether distinct indices of `buffer` are distinct elements of a
/// function argument: the argument itself, or unit-stride subviews and
/// reshapes of it made before `loop`.
bool isDistinctView(Value buffer, scf::ParallelOp loop) {
  while (true) {
    if (auto arg = dyn_cast<BlockArgument>(buffer))
      return isa<FunctionOpInterface>(arg.getOwner()->getParentOp());
    Operation *def = buffer.getDefiningOp();
    if (loop->isAncestor(def))
      return false;
    if (auto view = dyn_cast<memref::SubViewOp>(def)) {
      if (!llvm::all_of(view.getStaticStrides(),
                        [](int64_t s) { return s == 1; }))
        return false;
      buffer = view.getSource();
    } else if (auto expand = dyn_cast<memref::ExpandShapeOp>(def)) {
      buffer = expand.getSrc();
    } else if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def)) {
      buffer = collapse.getSrc();
    } else {
      return false;
    }
  }
}

/// Whether each iteration of `loop` along `iv` writes only its own
/// elements: every write is a store into a buffer the iteration
/// allocated, or into a distinct view of a function argument at an index
/// that is `iv` (or `iv` plus a value fixed for the loop); nothing else
/// writes (no calls).
bool writesApart(scf::ParallelOp loop, Value iv) {
  WalkResult walked = loop.getBody()->walk([&](Operation *op) {
    if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects)
      return WalkResult::interrupt(); // A call, say: unknown writes.
    SmallVector<MemoryEffects::EffectInstance> list;
    effects.getEffects(list);
    for (const MemoryEffects::EffectInstance &effect : list) {
      if (!isa<MemoryEffects::Write>(effect.getEffect()))
        continue;
      Value target = effect.getValue();
      if (!target)
        return WalkResult::interrupt();
      if (auto alloc = target.getDefiningOp();
          alloc && isa<memref::AllocaOp, memref::AllocOp>(alloc) &&
          loop->isAncestor(alloc))
        continue; // A buffer of the iteration's own.
      auto store = dyn_cast<memref::StoreOp>(op);
      if (!store || !isDistinctView(store.getMemRef(), loop) ||
          llvm::none_of(store.getIndices(), [&](Value index) {
            return indexesBy(index, iv, loop);
          }))
        return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return !walked.wasInterrupted();
}

struct ParallelizeKernelLoopsPass
    : dsv3::impl::ParallelizeKernelLoopsBase<ParallelizeKernelLoopsPass> {
  using dsv3::impl::ParallelizeKernelLoopsBase<
      ParallelizeKernelLoopsPass>::ParallelizeKernelLoopsBase;

  void runOnOperation() override;

private:
  /// Moves `loop` (a top-level op of `fn`) into a function of a range of
  /// its dimension `dim`. Returns false, changing nothing, when the loop
  /// reads a value it cannot be handed.
  bool outline(func::FuncOp fn, scf::ParallelOp loop, unsigned dim,
               int64_t trips);

  Operation *last = nullptr;
  int64_t count = 0;
};

bool ParallelizeKernelLoopsPass::outline(func::FuncOp fn, scf::ParallelOp loop,
                                         unsigned dim, int64_t trips) {
  // The runtime's ABI passes the kernel's buffers only.
  Block &entry = fn.getBody().front();
  FailureOr<dsv3::RunInputs> inputs =
      dsv3::collectRunInputs(loop.getOperation(), [&](Value v) {
        auto memref = dyn_cast<MemRefType>(v.getType());
        return isa<BlockArgument>(v) &&
               cast<BlockArgument>(v).getOwner() == &entry && memref &&
               memref.hasStaticShape() && memref.getLayout().isIdentity();
      });
  if (failed(inputs))
    return false;
  const llvm::SetVector<Value> &arguments = inputs->arguments;

  OpBuilder b(fn);
  b.setInsertionPointAfter(last ? last : fn.getOperation());
  Location loc = loop.getLoc();
  SmallVector<Type> types(ValueRange(arguments.getArrayRef()).getTypes());
  types.append(2, b.getIndexType());
  auto body = func::FuncOp::create(
      b, loc, (fn.getSymName() + "_loop_" + Twine(count++)).str(),
      b.getFunctionType(types, {}));
  body.setPrivate();
  body->setAttr(kParallelBody, b.getUnitAttr());
  last = body;
  Block *block = body.addEntryBlock();
  IRMapping mapping;
  mapping.map(arguments.getArrayRef(),
              block->getArguments().drop_back(2));
  b.setInsertionPointToStart(block);
  dsv3::cloneCopiedInputs(b, *inputs, mapping);
  // Iterations [lo, hi) of dimension `dim`: lb + lo * step up to
  // min(ub, lb + hi * step).
  Value lo = block->getArgument(block->getNumArguments() - 2);
  Value hi = block->getArgument(block->getNumArguments() - 1);
  Value lb = mapping.lookup(loop.getLowerBound()[dim]);
  Value ub = mapping.lookup(loop.getUpperBound()[dim]);
  Value step = mapping.lookup(loop.getStep()[dim]);
  Value first = arith::AddIOp::create(
      b, loc, lb, arith::MulIOp::create(b, loc, lo, step));
  Value end = arith::MinSIOp::create(
      b, loc, ub,
      arith::AddIOp::create(b, loc, lb,
                            arith::MulIOp::create(b, loc, hi, step)));
  Operation *range = b.clone(*loop, mapping);
  unsigned dims = loop.getNumLoops();
  range->setOperand(dim, first);
  range->setOperand(dims + dim, end);
  func::ReturnOp::create(b, loc);

  b.setInsertionPoint(loop);
  SmallVector<Value> operands(arguments.begin(), arguments.end());
  operands.push_back(arith::ConstantIndexOp::create(b, loc, 0));
  operands.push_back(arith::ConstantIndexOp::create(b, loc, trips));
  func::CallOp::create(b, loc, body, operands);
  loop.erase();
  return true;
}

void ParallelizeKernelLoopsPass::runOnOperation() {
  ModuleOp module = getOperation();
  SmallVector<func::FuncOp> functions;
  for (auto fn : module.getOps<func::FuncOp>())
    if (!fn.isExternal() && !fn->hasAttr(kParallelBody))
      functions.push_back(fn);
  for (func::FuncOp fn : functions) {
    last = nullptr;
    count = 0;
    SmallVector<scf::ParallelOp> loops(fn.getBody().front().getOps<scf::ParallelOp>());
    for (scf::ParallelOp loop : loops) {
      if (loop.getNumResults() != 0)
        continue;
      // The outermost dimension of more than one iteration.
      std::optional<unsigned> dim;
      int64_t trips = 0;
      for (unsigned d = 0; d < loop.getNumLoops() && !dim; ++d) {
        std::optional<int64_t> t =
            tripCount(loop.getLowerBound()[d], loop.getUpperBound()[d],
                      loop.getStep()[d]);
        if (!t)
          break;
        if (*t > 1) {
          dim = d;
          trips = *t;
        }
      }
      if (!dim)
        continue;
      int64_t iterations = 1;
      for (auto [lb, ub, step] :
           llvm::zip(loop.getLowerBound(), loop.getUpperBound(),
                     loop.getStep()))
        iterations *= tripCount(lb, ub, step).value_or(1);
      if (iterations * std::max<int64_t>(work(loop.getRegion()), 1) < minWork)
        continue;
      if (!writesApart(loop, loop.getInductionVars()[*dim]))
        continue;
      outline(fn, loop, *dim, trips);
    }
  }
}

struct LowerParallelCallsPass
    : dsv3::impl::LowerParallelCallsBase<LowerParallelCallsPass> {
  void runOnOperation() override;
};

void LowerParallelCallsPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *context = module.getContext();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  auto voidType = LLVM::LLVMVoidType::get(context);
  SmallVector<LLVM::LLVMFuncOp> bodies;
  for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
    if (fn->hasAttr(kParallelBody) && !fn.isExternal())
      bodies.push_back(fn);
  if (bodies.empty())
    return;

  OpBuilder b(context);
  auto runtime = module.lookupSymbol<LLVM::LLVMFuncOp>(kParallelFor);
  if (!runtime) {
    b.setInsertionPointToStart(module.getBody());
    runtime = LLVM::LLVMFuncOp::create(
        b, module.getLoc(), kParallelFor,
        LLVM::LLVMFunctionType::get(voidType, {ptr, ptr, i64, i64}));
  }

  llvm::DenseMap<StringAttr, std::pair<LLVM::LLVMFuncOp, unsigned>> entries;
  for (LLVM::LLVMFuncOp body : bodies) {
    ArrayRef<Type> params = body.getFunctionType().getParams();
    unsigned buffers = params.size() - 2;
    if (params.size() < 2 || params.take_back(2) != ArrayRef<Type>{i64, i64} ||
        llvm::any_of(params.drop_back(2), [&](Type t) { return t != ptr; })) {
      body.emitError("dsv3-lower-parallel-calls: a parallel body takes "
                     "pointers and then the range (i64, i64)");
      return signalPassFailure();
    }
    // void <body>_range(void **args, i64 lo, i64 hi)
    b.setInsertionPointAfter(body);
    Location loc = body.getLoc();
    auto entry = LLVM::LLVMFuncOp::create(
        b, loc, (body.getSymName() + "_range").str(),
        LLVM::LLVMFunctionType::get(voidType, {ptr, i64, i64}));
    Block *block = entry.addEntryBlock(b);
    b.setInsertionPointToStart(block);
    SmallVector<Value> operands;
    for (unsigned i = 0; i < buffers; ++i) {
      Value slot = LLVM::GEPOp::create(
          b, loc, ptr, ptr, block->getArgument(0),
          ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      operands.push_back(LLVM::LoadOp::create(b, loc, ptr, slot));
    }
    operands.push_back(block->getArgument(1));
    operands.push_back(block->getArgument(2));
    LLVM::CallOp::create(b, loc, body, operands);
    LLVM::ReturnOp::create(b, loc, ValueRange());
    entries[body.getSymNameAttr()] = {entry, buffers};
  }

  SmallVector<LLVM::CallOp> calls;
  module.walk([&](LLVM::CallOp call) {
    if (auto callee = call.getCalleeAttr();
        callee && entries.count(callee.getAttr()) &&
        !entries.lookup(callee.getAttr()).first->isAncestor(call))
      calls.push_back(call);
  });
  for (LLVM::CallOp call : calls) {
    auto [entry, buffers] = entries.lookup(call.getCalleeAttr().getAttr());
    Location loc = call.getLoc();
    auto caller = call->getParentOfType<LLVM::LLVMFuncOp>();
    b.setInsertionPointToStart(&caller.getBody().front());
    Value one = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(1));
    Value args = LLVM::AllocaOp::create(
        b, loc, ptr, LLVM::LLVMArrayType::get(ptr, std::max(buffers, 1u)),
        one);
    b.setInsertionPoint(call);
    for (unsigned i = 0; i < buffers; ++i) {
      Value slot = LLVM::GEPOp::create(
          b, loc, ptr, ptr, args,
          ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      LLVM::StoreOp::create(b, loc, call.getOperand(i), slot);
    }
    Value fn = LLVM::AddressOfOp::create(b, loc, ptr, entry.getSymName());
    LLVM::CallOp::create(b, loc, runtime,
                         ValueRange{fn, args, call.getOperand(buffers),
                                    call.getOperand(buffers + 1)});
    call.erase();
  }
}

} // namespace
