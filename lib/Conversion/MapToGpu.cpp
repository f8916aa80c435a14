//===- MapToGpu.cpp - the dsv3-map-to-gpu pass ----------------------------===//
//
// Puts every piece of work of a bufferized, loop-lowered kernel function on
// the GPU: copies become parallel loops (loop nests inside sequential code),
// each top-level scf.parallel becomes a gpu.launch over its
// iteration space, linearized into blocks of `block-size` threads (one
// thread per iteration, bounds-checked); each run of other top-level ops
// that touch memory (sequential loops, loads, stores) becomes a
// single-thread launch, ended early (where no value crosses the cut) so
// that it reads at most `max-buffers` buffers. Pure ops a launch reads (constants, index
// arithmetic, views of buffers) are copied into it, so that every kernel
// takes whole buffers of the function as its arguments.
//
//===----------------------------------------------------------------------===//

#include "Conversion/OpRuns.h"
#include "Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_MAPTOGPU
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

struct MapToGpuPass : dsv3::impl::MapToGpuBase<MapToGpuPass> {
  using dsv3::impl::MapToGpuBase<MapToGpuPass>::MapToGpuBase;

  void runOnOperation() override;

private:
  LogicalResult mapParallel(scf::ParallelOp loop);
  void mapSequential(ArrayRef<Operation *> ops);
};

/// A launch of `grid` x 1 x 1 blocks of `block` x 1 x 1 threads at `b`'s
/// insertion point; `b` is left in the body, before the terminator.
gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, int64_t grid,
                           int64_t block) {
  Value g = arith::ConstantIndexOp::create(b, loc, grid);
  Value t = arith::ConstantIndexOp::create(b, loc, block);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto launch = gpu::LaunchOp::create(b, loc, g, one, one, t, one, one);
  Block &body = launch.getBody().front();
  b.setInsertionPointToEnd(&body);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&body);
  return launch;
}

std::optional<int64_t> constantIndex(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
    return c.value();
  return std::nullopt;
}

LogicalResult MapToGpuPass::mapParallel(scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return loop.emitError("dsv3-map-to-gpu: parallel loops with reductions "
                          "are not mapped");
  SmallVector<int64_t> lower, upper, step, trips;
  for (unsigned d = 0; d < loop.getNumLoops(); ++d) {
    auto lb = constantIndex(loop.getLowerBound()[d]);
    auto ub = constantIndex(loop.getUpperBound()[d]);
    auto st = constantIndex(loop.getStep()[d]);
    if (!lb || !ub || !st || *st <= 0)
      return loop.emitError("dsv3-map-to-gpu: a parallel loop without "
                            "constant bounds");
    lower.push_back(*lb);
    step.push_back(*st);
    trips.push_back(std::max<int64_t>(0, (*ub - *lb + *st - 1) / *st));
  }
  int64_t total = 1;
  for (int64_t n : trips)
    total *= n;
  Location loc = loop.getLoc();
  OpBuilder b(loop);
  if (total == 0) {
    loop.erase();
    return success();
  }
  int64_t block = std::min<int64_t>(blockSize, total);
  gpu::LaunchOp launch = createLaunch(b, loc, (total + block - 1) / block, block);

  // id = blockIdx.x * blockDim.x + threadIdx.x; only id < total works.
  Value id = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            arith::ConstantIndexOp::create(b, loc, block)),
      launch.getThreadIds().x);
  Value inBounds = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ult, id,
      arith::ConstantIndexOp::create(b, loc, total));
  auto guard = scf::IfOp::create(b, loc, inBounds, /*withElse=*/false);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  IRMapping mapping;
  Value rest = id;
  for (int d = loop.getNumLoops() - 1; d >= 0; --d) {
    Value n = arith::ConstantIndexOp::create(b, loc, trips[d]);
    Value i = d == 0 ? rest : arith::RemUIOp::create(b, loc, rest, n).getResult();
    if (d > 0)
      rest = arith::DivUIOp::create(b, loc, rest, n);
    Value iv = arith::AddIOp::create(
        b, loc, arith::ConstantIndexOp::create(b, loc, lower[d]),
        arith::MulIOp::create(b, loc, i,
                              arith::ConstantIndexOp::create(b, loc, step[d])));
    mapping.map(loop.getInductionVars()[d], iv);
  }
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  loop.erase();
  return success();
}

/// The buffers of the function `op` reads or writes: memrefs defined
/// outside it, traced through views to what the launch will take.
llvm::SmallDenseSet<Value> buffersOf(Operation *op, Block &entry) {
  llvm::SmallDenseSet<Value> buffers;
  op->walk([&](Operation *nested) {
    for (Value v : nested->getOperands()) {
      if (!isa<MemRefType>(v.getType()))
        continue;
      while (Operation *def = v.getDefiningOp()) {
        if (def->getBlock() != &entry || !isa<ViewLikeOpInterface>(def))
          break;
        v = cast<ViewLikeOpInterface>(def).getViewSource();
      }
      Operation *def = v.getDefiningOp();
      if (def && op->isAncestor(def))
        continue;
      buffers.insert(v);
    }
  });
  return buffers;
}

void MapToGpuPass::mapSequential(ArrayRef<Operation *> ops) {
  OpBuilder b(ops.front());
  createLaunch(b, ops.front()->getLoc(), 1, 1);
  for (Operation *op : ops)
    op->moveBefore(b.getInsertionBlock(), b.getInsertionPoint());
}

/// A copy between memrefs as a parallel loop of loads and stores, so that
/// it maps to threads like any other loop.
void expandCopy(memref::CopyOp copy) {
  auto type = cast<MemRefType>(copy.getSource().getType());
  OpBuilder b(copy);
  Location loc = copy.getLoc();
  if (type.getRank() == 0) {
    Value v = memref::LoadOp::create(b, loc, copy.getSource());
    memref::StoreOp::create(b, loc, v, copy.getTarget());
    copy.erase();
    return;
  }
  SmallVector<Value> lower, upper, steps;
  for (int64_t d : type.getShape()) {
    lower.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    upper.push_back(arith::ConstantIndexOp::create(b, loc, d));
    steps.push_back(arith::ConstantIndexOp::create(b, loc, 1));
  }
  auto loop = scf::ParallelOp::create(b, loc, lower, upper, steps);
  b.setInsertionPointToStart(loop.getBody());
  Value v = memref::LoadOp::create(b, loc, copy.getSource(),
                                   loop.getInductionVars());
  memref::StoreOp::create(b, loc, v, copy.getTarget(), loop.getInductionVars());
  copy.erase();
}

/// A copy inside sequential code (a loop's body) as a loop nest of loads and
/// stores: the device has no memrefCopy for strided views.
void expandCopyAsLoops(memref::CopyOp copy) {
  auto type = cast<MemRefType>(copy.getSource().getType());
  OpBuilder b(copy);
  Location loc = copy.getLoc();
  SmallVector<Value> lower, upper, steps;
  for (int64_t d : type.getShape()) {
    lower.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    upper.push_back(arith::ConstantIndexOp::create(b, loc, d));
    steps.push_back(arith::ConstantIndexOp::create(b, loc, 1));
  }
  scf::buildLoopNest(b, loc, lower, upper, steps,
                     [&](OpBuilder &nb, Location l, ValueRange ivs) {
                       Value v = memref::LoadOp::create(nb, l, copy.getSource(),
                                                        ivs);
                       memref::StoreOp::create(nb, l, v, copy.getTarget(), ivs);
                     });
  copy.erase();
}

/// A reshape to a static identity layout is a view: the shape operand (a
/// buffer, which the host must not read once buffers live on the GPU) is
/// not needed.
void staticReshapeToView(memref::ReshapeOp reshape) {
  auto type = dyn_cast<MemRefType>(reshape.getResult().getType());
  if (!type)
    return;
  auto source = cast<MemRefType>(reshape.getSource().getType());
  if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
      !source.getLayout().isIdentity())
    return;
  OpBuilder b(reshape);
  SmallVector<int64_t> strides(type.getRank(), 1);
  for (int64_t d = type.getRank() - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * type.getDimSize(d + 1);
  Value view = memref::ReinterpretCastOp::create(
      b, reshape.getLoc(), type, reshape.getSource(), /*offset=*/0,
      type.getShape(), strides);
  reshape.getResult().replaceAllUsesWith(view);
  reshape.erase();
}

/// Clones into `launch` every pure op (views, constants, index arithmetic)
/// whose result it reads from outside, recursively, so that the kernel's
/// arguments are whole buffers of the function and nothing else.
void sinkPureOps(gpu::LaunchOp launch) {
  Region &body = launch.getBody();
  OpBuilder b = OpBuilder::atBlockBegin(&body.front());
  IRMapping mapping;
  std::function<Value(Value)> sink = [&](Value v) -> Value {
    if (Value mapped = mapping.lookupOrNull(v))
      return mapped;
    Operation *def = v.getDefiningOp();
    if (!def || def->getNumRegions() != 0 || !isMemoryEffectFree(def))
      return v;
    for (Value operand : def->getOperands())
      sink(operand);
    Operation *clone = b.clone(*def, mapping);
    return clone->getResult(cast<OpResult>(v).getResultNumber());
  };
  llvm::SetVector<Value> above;
  getUsedValuesDefinedAbove(body, above);
  for (Value v : above) {
    Value inside = sink(v);
    if (inside != v)
      replaceAllUsesInRegionWith(v, inside, body);
  }
}

void MapToGpuPass::runOnOperation() {
  func::FuncOp fn = getOperation();
  if (fn.isExternal())
    return;
  Block &entry = fn.getBody().front();
  for (auto reshape :
       llvm::make_early_inc_range(entry.getOps<memref::ReshapeOp>()))
    staticReshapeToView(reshape);
  SmallVector<memref::CopyOp> copies;
  fn.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies) {
    if (!cast<MemRefType>(copy.getSource().getType()).hasStaticShape())
      continue;
    if (copy->getBlock() == &entry)
      expandCopy(copy);
    else
      expandCopyAsLoops(copy);
  }
  SmallVector<Operation *> sequential;
  llvm::SmallDenseSet<Value> touched;
  llvm::SmallPtrSet<Operation *, 16> inGroup;
  auto flush = [&] {
    if (!sequential.empty())
      mapSequential(sequential);
    sequential.clear();
    touched.clear();
    inGroup.clear();
  };
  for (Operation &op : llvm::make_early_inc_range(entry.without_terminator())) {
    if (isa<gpu::LaunchOp>(op)) {
      flush();
      continue;
    }
    if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
      flush();
      if (failed(mapParallel(loop)))
        return signalPassFailure();
      continue;
    }
    // A pure op stays on the host unless it reads a value the pending
    // sequential group computes; then it goes with the group.
    bool readsGroup = llvm::any_of(op.getOperands(), [&](Value v) {
      return inGroup.contains(v.getDefiningOp());
    });
    if (isMemoryEffectFree(&op) && op.getNumRegions() == 0 && !readsGroup)
      continue;
    llvm::SmallDenseSet<Value> buffers = buffersOf(&op, entry);
    if (llvm::count_if(buffers, [&](Value v) { return !touched.contains(v); }) +
                static_cast<int64_t>(touched.size()) >
            maxBuffers &&
        dsv3::isSelfContained(sequential))
      flush();
    touched.insert(buffers.begin(), buffers.end());
    sequential.push_back(&op);
    inGroup.insert(&op);
  }
  flush();
  for (auto launch : entry.getOps<gpu::LaunchOp>())
    sinkPureOps(launch);
}

} // namespace
