//===- MapGenericsToGpu.cpp - the dsv3-map-generics-to-gpu pass -----------===//
//
// Maps two kinds of bufferized `linalg.generic` straight to `gpu.launch`
// ops, with a thread mapping that suits them, before the remaining linalg
// ops become parallel loops for dsv3-map-to-gpu:
//
//  - Row reductions (the innermost loop reduces into one output through an
//    associative combiner): a warp per row, or a block per row when rows
//    are long. Each thread accumulates a strided slice of the row, so that
//    neighbouring threads read neighbouring elements; the warp then
//    combines its partial results with butterfly shuffles (`gpu.shuffle
//    xor`), and a block combines its warps' results through shared memory.
//  - Elementwise generics whose innermost loop is a multiple of the vector
//    width: each thread computes that many adjacent elements, with one
//    aligned vector load or store for every operand that is contiguous
//    along the innermost loop.
//  - Every other reduction (over outer dimensions, such as a weight
//    gradient summed over tokens, short rows, several outputs): a thread per
//    output element, looping over the reduction in order.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_MAPGENERICSTOGPU
#include "Conversion/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

constexpr int64_t kWarpSize = 32;

struct MapGenericsToGpuPass
    : dsv3::impl::MapGenericsToGpuBase<MapGenericsToGpuPass> {
  using dsv3::impl::MapGenericsToGpuBase<
      MapGenericsToGpuPass>::MapGenericsToGpuBase;

  void runOnOperation() override;

private:
  bool mapRowReduction(linalg::GenericOp generic, ArrayRef<int64_t> ranges);
  bool mapElementwise(linalg::GenericOp generic, ArrayRef<int64_t> ranges);
  bool mapThreadPerOutput(linalg::GenericOp generic, ArrayRef<int64_t> ranges);
};

Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// A launch of `grid` blocks of `block` threads (x only) at `b`'s insertion
/// point; `b` is left at the start of the body.
gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, int64_t grid,
                           int64_t block) {
  Value one = index(b, loc, 1);
  auto launch = gpu::LaunchOp::create(b, loc, index(b, loc, grid), one, one,
                                      index(b, loc, block), one, one);
  Block &body = launch.getBody().front();
  b.setInsertionPointToEnd(&body);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&body);
  return launch;
}

/// A launch of one thread per item of `count`, in blocks of at most
/// `blockSize`, at `b`'s insertion point; returns the item's index and
/// leaves `b` where only threads with an item run.
Value launchPerItem(OpBuilder &b, Location loc, int64_t count,
                    int64_t blockSize) {
  int64_t block = std::min<int64_t>(blockSize, count);
  gpu::LaunchOp launch =
      createLaunch(b, loc, (count + block - 1) / block, block);
  Value id = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            index(b, loc, block)),
      launch.getThreadIds().x);
  if (count % block != 0) {
    Value inBounds = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ult, id, index(b, loc, count));
    auto guard = scf::IfOp::create(b, loc, inBounds, /*withElse=*/false);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
  }
  return id;
}

/// Splits `linear` into row-major indices over `sizes`.
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                               ArrayRef<int64_t> sizes) {
  SmallVector<Value> indices(sizes.size());
  for (int d = static_cast<int>(sizes.size()) - 1; d > 0; --d) {
    Value n = index(b, loc, sizes[d]);
    indices[d] = arith::RemUIOp::create(b, loc, linear, n);
    linear = arith::DivUIOp::create(b, loc, linear, n);
  }
  if (!sizes.empty())
    indices[0] = linear;
  return indices;
}

/// The indices `map` gives at the loop position `ivs`.
SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map,
                            ValueRange ivs) {
  SmallVector<Value> indices;
  for (AffineExpr e : map.getResults()) {
    if (auto dim = dyn_cast<AffineDimExpr>(e)) {
      indices.push_back(ivs[dim.getPosition()]);
      continue;
    }
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), 0, e), ivs));
  }
  return indices;
}

/// Whether the ops of `body` at most read memory (loads of gathered
/// elements); a body that writes is left to the generic mapping.
bool onlyReads(Block &body) {
  WalkResult walked = body.walk([](Operation *op) {
    if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects || effects.hasEffect<MemoryEffects::Write>() ||
        effects.hasEffect<MemoryEffects::Allocate>() ||
        effects.hasEffect<MemoryEffects::Free>())
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return !walked.wasInterrupted();
}

/// Whether every output is indexed by parallel loops only, as a reduction's
/// outputs are (an output indexed by a reduction loop is written at every
/// step of it).
bool outputsAreReduced(linalg::GenericOp generic) {
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  for (OpOperand &out : generic.getDpsInitsMutable()) {
    AffineMap map = generic.getMatchingIndexingMap(&out);
    for (auto [d, iterator] : llvm::enumerate(iterators))
      if (iterator == utils::IteratorType::reduction && map.isFunctionOfDim(d))
        return false;
  }
  return true;
}

/// Maps each input block argument of `generic` that its body reads to a
/// load of the input at the loop position `ivs`.
void loadInputs(OpBuilder &b, Location loc, linalg::GenericOp generic,
                ValueRange ivs, IRMapping &mapping) {
  for (OpOperand *input : generic.getDpsInputOperands()) {
    BlockArgument arg = generic.getMatchingBlockArgument(input);
    if (arg.use_empty())
      continue;
    mapping.map(arg, memref::LoadOp::create(
                         b, loc, input->get(),
                         applyMap(b, loc, generic.getMatchingIndexingMap(input),
                                  ivs)));
  }
}

/// Clones the ops of `generic`'s body except `skip` and the terminator at
/// `b`, with `mapping` holding the block arguments and `ivs` the loop
/// position (for linalg.index).
void cloneBody(OpBuilder &b, linalg::GenericOp generic, ValueRange ivs,
               IRMapping &mapping, Operation *skip = nullptr) {
  for (Operation &op : generic.getBody()->without_terminator()) {
    if (&op == skip)
      continue;
    if (auto idx = dyn_cast<linalg::IndexOp>(op)) {
      mapping.map(idx.getResult(), ivs[idx.getDim()]);
      continue;
    }
    b.clone(op, mapping);
  }
}

//===----------------------------------------------------------------------===//
// Row reductions
//===----------------------------------------------------------------------===//

/// The reduction of a single-output generic: `combiner(partial, out)` is
/// what the body yields, and `partial` does not depend on `out`.
struct Reduction {
  Operation *combiner;
  Value partial;
  BlockArgument out;
  TypedAttr identity;
};

/// The neutral element of the combiners the mapping knows.
TypedAttr identityOf(Operation *combiner, Type type) {
  auto floatType = dyn_cast<FloatType>(type);
  auto floatValue = [&](double v) -> TypedAttr {
    return FloatAttr::get(floatType, v);
  };
  auto infinity = [&](bool negative) -> TypedAttr {
    return FloatAttr::get(
        floatType, APFloat::getInf(floatType.getFloatSemantics(), negative));
  };
  if (floatType) {
    if (isa<arith::AddFOp>(combiner))
      return floatValue(0.0);
    if (isa<arith::MulFOp>(combiner))
      return floatValue(1.0);
    if (isa<arith::MaximumFOp, arith::MaxNumFOp>(combiner))
      return infinity(/*negative=*/true);
    if (isa<arith::MinimumFOp, arith::MinNumFOp>(combiner))
      return infinity(/*negative=*/false);
    return {};
  }
  if (type.isSignlessInteger() && isa<arith::AddIOp>(combiner))
    return IntegerAttr::get(type, 0);
  return {};
}

std::optional<Reduction> matchReduction(linalg::GenericOp generic) {
  if (generic.getNumDpsInits() != 1)
    return std::nullopt;
  Block &body = *generic.getBody();
  BlockArgument out = body.getArgument(generic.getNumDpsInputs());
  Value yielded = body.getTerminator()->getOperand(0);
  Operation *combiner = yielded.getDefiningOp();
  if (!combiner || combiner->getBlock() != &body ||
      combiner->getNumOperands() != 2 || !out.hasOneUse() ||
      *out.getUsers().begin() != combiner)
    return std::nullopt;
  Value partial = combiner->getOperand(0) == out ? combiner->getOperand(1)
                                                 : combiner->getOperand(0);
  if (partial == out || !yielded.hasOneUse())
    return std::nullopt;
  TypedAttr identity = identityOf(combiner, out.getType());
  if (!identity)
    return std::nullopt;
  return Reduction{combiner, partial, out, identity};
}

/// `combiner(lhs, rhs)`, lhs in the partial result's place.
Value combine(OpBuilder &b, const Reduction &r, Value lhs, Value rhs) {
  IRMapping mapping;
  mapping.map(r.partial, lhs);
  mapping.map(r.out, rhs);
  return b.clone(*r.combiner, mapping)->getResult(0);
}

/// Combines `value` across the 32 lanes of a warp by butterfly shuffles;
/// every lane ends with the result.
Value warpReduce(OpBuilder &b, Location loc, const Reduction &r, Value value) {
  for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
    Value other = gpu::ShuffleOp::create(b, loc, value, offset, kWarpSize,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    value = combine(b, r, value, other);
  }
  return value;
}

bool MapGenericsToGpuPass::mapRowReduction(linalg::GenericOp generic,
                                           ArrayRef<int64_t> ranges) {
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  if (iterators.empty() || iterators.back() != utils::IteratorType::reduction)
    return false;
  std::optional<Reduction> reduction = matchReduction(generic);
  if (!reduction || !outputsAreReduced(generic))
    return false;
  SmallVector<unsigned> parallelDims, reductionDims;
  SmallVector<int64_t> parallelSizes, reductionSizes;
  for (auto [d, iterator] : llvm::enumerate(iterators)) {
    bool reduces = iterator == utils::IteratorType::reduction;
    (reduces ? reductionDims : parallelDims).push_back(d);
    (reduces ? reductionSizes : parallelSizes).push_back(ranges[d]);
  }
  int64_t rows = 1, length = 1;
  for (int64_t n : parallelSizes)
    rows *= n;
  for (int64_t n : reductionSizes)
    length *= n;
  if (rows == 0 || length < warpReduceMin)
    return false;

  // A block per row for long rows, else a warp per row.
  bool perBlock = length >= blockReduceMin && blockSize > kWarpSize;
  int64_t threadsPerRow = perBlock ? blockSize : kWarpSize;
  int64_t rowsPerBlock =
      perBlock ? 1 : std::min<int64_t>(blockSize / kWarpSize, rows);
  int64_t grid = (rows + rowsPerBlock - 1) / rowsPerBlock;
  int64_t warps = threadsPerRow / kWarpSize;
  Location loc = generic.getLoc();
  OpBuilder b(generic);
  gpu::LaunchOp launch =
      createLaunch(b, loc, grid, rowsPerBlock * threadsPerRow);
  Type accType = reduction->out.getType();
  Value shared;
  if (perBlock) {
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                                gpu::AddressSpace::Workgroup);
    shared = launch.addWorkgroupAttribution(
        MemRefType::get({warps}, accType, MemRefLayoutAttrInterface{},
                        workgroup),
        loc);
  }
  Value tid = launch.getThreadIds().x;
  Value warpSize = index(b, loc, kWarpSize);
  Value lane = arith::RemUIOp::create(b, loc, tid, warpSize);
  Value warp = arith::DivUIOp::create(b, loc, tid, warpSize);
  Value row =
      perBlock ? Value(launch.getBlockIds().x)
               : arith::AddIOp::create(
                     b, loc,
                     arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                                           index(b, loc, rowsPerBlock)),
                     warp)
                     .getResult();
  // The warps of the last block that have no row skip it as a whole, so the
  // shuffles of a warp always see all of its lanes.
  if (grid * rowsPerBlock != rows) {
    Value inBounds = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ult, row, index(b, loc, rows));
    auto guard = scf::IfOp::create(b, loc, inBounds, /*withElse=*/false);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
  }
  SmallVector<Value> rowIvs = delinearize(b, loc, row, parallelSizes);
  auto loopIvs = [&](ValueRange reductionIvs) {
    SmallVector<Value> ivs(iterators.size());
    for (auto [d, iv] : llvm::zip(parallelDims, rowIvs))
      ivs[d] = iv;
    for (auto [d, iv] : llvm::zip(reductionDims, reductionIvs))
      ivs[d] = iv;
    return ivs;
  };

  // Each thread's strided share of the row.
  Value init = arith::ConstantOp::create(b, loc, reduction->identity);
  auto loop = scf::ForOp::create(
      b, loc, perBlock ? tid : lane, index(b, loc, length),
      index(b, loc, threadsPerRow), ValueRange{init},
      [&](OpBuilder &nb, Location nloc, Value k, ValueRange acc) {
        SmallVector<Value> ivs =
            loopIvs(delinearize(nb, nloc, k, reductionSizes));
        IRMapping mapping;
        loadInputs(nb, nloc, generic, ivs, mapping);
        cloneBody(nb, generic, ivs, mapping, reduction->combiner);
        Value partial = mapping.lookupOrDefault(reduction->partial);
        scf::YieldOp::create(nb, nloc,
                             combine(nb, *reduction, partial, acc.front()));
      });
  Value value = warpReduce(b, loc, *reduction, loop.getResult(0));
  Value zero = index(b, loc, 0);
  Value isLeader =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, zero);
  if (perBlock) {
    // Warp leaders publish their results; the first warp combines them.
    auto publish = scf::IfOp::create(b, loc, isLeader, /*withElse=*/false);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(&publish.getThenRegion().front());
      memref::StoreOp::create(b, loc, value, shared, warp);
    }
    gpu::BarrierOp::create(b, loc);
    Value firstWarp =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, warp, zero);
    auto gather = scf::IfOp::create(b, loc, firstWarp, /*withElse=*/false);
    b.setInsertionPointToStart(&gather.getThenRegion().front());
    Value hasWarp = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          lane, index(b, loc, warps));
    Value slot = arith::MinUIOp::create(b, loc, lane, index(b, loc, warps - 1));
    Value published = memref::LoadOp::create(b, loc, shared, slot);
    value = warpReduce(b, loc, *reduction,
                       arith::SelectOp::create(b, loc, hasWarp, published,
                                               init));
  }
  // Lane 0 folds the row's result into the output's value.
  auto store = scf::IfOp::create(b, loc, isLeader, /*withElse=*/false);
  b.setInsertionPointToStart(&store.getThenRegion().front());
  OpOperand *output = generic.getDpsInitOperand(0);
  SmallVector<Value> zeros(reductionDims.size(), zero);
  SmallVector<Value> indices = applyMap(
      b, loc, generic.getMatchingIndexingMap(output), loopIvs(zeros));
  Value old = memref::LoadOp::create(b, loc, output->get(), indices);
  memref::StoreOp::create(b, loc, combine(b, *reduction, value, old),
                          output->get(), indices);
  generic.erase();
  return true;
}

//===----------------------------------------------------------------------===//
// Elementwise generics
//===----------------------------------------------------------------------===//

/// How an operand of an elementwise generic is read or written for the
/// adjacent elements of one thread.
enum class Access {
  Vector,    ///< one aligned vector access
  Broadcast, ///< the same element for all of them
  Scalar,    ///< one access per element
};

Access accessOf(OpOperand &operand, AffineMap map, unsigned innermost) {
  auto type = cast<MemRefType>(operand.get().getType());
  unsigned bits = type.getElementType().getIntOrFloatBitWidth();
  if (!map.isFunctionOfDim(innermost))
    return Access::Broadcast;
  auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
  if (last && last.getPosition() == innermost && type.getLayout().isIdentity() &&
      type.hasStaticShape() && (bits == 16 || bits == 32 || bits == 64))
    return Access::Vector;
  return Access::Scalar;
}

bool MapGenericsToGpuPass::mapElementwise(linalg::GenericOp generic,
                                          ArrayRef<int64_t> ranges) {
  if (ranges.empty() || generic.getNumReductionLoops() != 0)
    return false;
  int64_t width = vectorWidth;
  if (width < 2 || ranges.back() % width != 0)
    return false;
  for (OpOperand &operand : generic->getOpOperands())
    if (!cast<MemRefType>(operand.get().getType())
             .getElementType()
             .isIntOrFloat())
      return false;
  unsigned innermost = ranges.size() - 1;
  SmallVector<Access> access;
  for (OpOperand &operand : generic->getOpOperands())
    access.push_back(accessOf(operand, generic.getMatchingIndexingMap(&operand),
                              innermost));
  if (!llvm::is_contained(access, Access::Vector))
    return false;
  int64_t total = 1;
  for (int64_t n : ranges)
    total *= n;
  int64_t threads = total / width;
  if (threads == 0)
    return false;

  Location loc = generic.getLoc();
  OpBuilder b(generic);
  Value id = launchPerItem(b, loc, threads, blockSize);
  SmallVector<Value> ivs = delinearize(
      b, loc, arith::MulIOp::create(b, loc, id, index(b, loc, width)), ranges);
  // The loop position of each of the thread's elements.
  SmallVector<SmallVector<Value>> laneIvs;
  for (int64_t l = 0; l < width; ++l) {
    SmallVector<Value> at = ivs;
    if (l > 0)
      at.back() = arith::AddIOp::create(b, loc, ivs.back(), index(b, loc, l));
    laneIvs.push_back(at);
  }
  auto vectorType = [&](OpOperand &operand) {
    return VectorType::get(
        {width}, cast<MemRefType>(operand.get().getType()).getElementType());
  };
  auto alignment = [&](OpOperand &operand) {
    Type element = cast<MemRefType>(operand.get().getType()).getElementType();
    return llvm::MaybeAlign(width * element.getIntOrFloatBitWidth() / 8);
  };

  // The operands' values for each element.
  SmallVector<IRMapping> lanes(width);
  for (OpOperand &operand : generic->getOpOperands()) {
    BlockArgument arg = generic.getMatchingBlockArgument(&operand);
    if (arg.use_empty())
      continue;
    AffineMap map = generic.getMatchingIndexingMap(&operand);
    Access kind = access[operand.getOperandNumber()];
    if (kind == Access::Vector) {
      Value vector = vector::LoadOp::create(
          b, loc, vectorType(operand), operand.get(),
          applyMap(b, loc, map, ivs), /*nontemporal=*/false,
          alignment(operand));
      for (int64_t l = 0; l < width; ++l)
        lanes[l].map(arg, vector::ExtractOp::create(b, loc, vector, l));
      continue;
    }
    for (int64_t l = 0; l < width; ++l) {
      if (kind == Access::Broadcast && l > 0) {
        lanes[l].map(arg, lanes[0].lookup(arg));
        continue;
      }
      lanes[l].map(arg, memref::LoadOp::create(b, loc, operand.get(),
                                               applyMap(b, loc, map,
                                                        laneIvs[l])));
    }
  }
  for (int64_t l = 0; l < width; ++l)
    cloneBody(b, generic, laneIvs[l], lanes[l]);

  // The results, stored as the operands were read.
  Operation *yield = generic.getBody()->getTerminator();
  for (OpOperand &init : generic.getDpsInitsMutable()) {
    unsigned result = init.getOperandNumber() - generic.getNumDpsInputs();
    Value yielded = yield->getOperand(result);
    AffineMap map = generic.getMatchingIndexingMap(&init);
    SmallVector<Value> values;
    for (int64_t l = 0; l < width; ++l)
      values.push_back(lanes[l].lookupOrDefault(yielded));
    if (access[init.getOperandNumber()] == Access::Vector) {
      Value vector =
          vector::FromElementsOp::create(b, loc, vectorType(init), values);
      vector::StoreOp::create(b, loc, vector, init.get(),
                              applyMap(b, loc, map, ivs),
                              /*nontemporal=*/false, alignment(init));
      continue;
    }
    for (int64_t l = 0; l < width; ++l)
      memref::StoreOp::create(b, loc, values[l], init.get(),
                              applyMap(b, loc, map, laneIvs[l]));
  }
  generic.erase();
  return true;
}

//===----------------------------------------------------------------------===//
// Other reductions
//===----------------------------------------------------------------------===//

bool MapGenericsToGpuPass::mapThreadPerOutput(linalg::GenericOp generic,
                                              ArrayRef<int64_t> ranges) {
  if (generic.getNumReductionLoops() == 0 || !outputsAreReduced(generic))
    return false;
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  SmallVector<unsigned> parallelDims, reductionDims;
  SmallVector<int64_t> parallelSizes;
  SmallVector<Value> lower, upper, steps;
  Location loc = generic.getLoc();
  OpBuilder b(generic);
  int64_t outputs = 1;
  for (auto [d, iterator] : llvm::enumerate(iterators)) {
    if (iterator == utils::IteratorType::reduction) {
      reductionDims.push_back(d);
      continue;
    }
    parallelDims.push_back(d);
    parallelSizes.push_back(ranges[d]);
    outputs *= ranges[d];
  }
  if (outputs == 0)
    return false;
  Value id = launchPerItem(b, loc, outputs, blockSize);
  SmallVector<Value> ivs(iterators.size(), index(b, loc, 0));
  for (auto [d, iv] : llvm::zip(parallelDims,
                                delinearize(b, loc, id, parallelSizes)))
    ivs[d] = iv;
  for (unsigned d : reductionDims) {
    lower.push_back(index(b, loc, 0));
    upper.push_back(index(b, loc, ranges[d]));
    steps.push_back(index(b, loc, 1));
  }
  // The outputs' values, carried through the reduction loops in order.
  SmallVector<Value> init;
  SmallVector<SmallVector<Value>> outputIndices;
  for (OpOperand &out : generic.getDpsInitsMutable()) {
    outputIndices.push_back(
        applyMap(b, loc, generic.getMatchingIndexingMap(&out), ivs));
    init.push_back(
        memref::LoadOp::create(b, loc, out.get(), outputIndices.back()));
  }
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lower, upper, steps, init,
      [&](OpBuilder &nb, Location l, ValueRange reductionIvs,
          ValueRange acc) -> scf::ValueVector {
        SmallVector<Value> at(ivs);
        for (auto [d, iv] : llvm::zip(reductionDims, reductionIvs))
          at[d] = iv;
        IRMapping mapping;
        loadInputs(nb, l, generic, at, mapping);
        for (auto [out, value] : llvm::zip(generic.getDpsInitsMutable(), acc))
          mapping.map(generic.getMatchingBlockArgument(&out), value);
        cloneBody(nb, generic, at, mapping);
        scf::ValueVector next;
        for (Value yielded : generic.getBody()->getTerminator()->getOperands())
          next.push_back(mapping.lookupOrDefault(yielded));
        return next;
      });
  for (auto [out, value, indices] :
       llvm::zip(generic.getDpsInitsMutable(), nest.results, outputIndices))
    memref::StoreOp::create(b, loc, value, out.get(), indices);
  generic.erase();
  return true;
}

void MapGenericsToGpuPass::runOnOperation() {
  func::FuncOp fn = getOperation();
  if (fn.isExternal())
    return;
  for (auto generic : llvm::make_early_inc_range(
           fn.getBody().front().getOps<linalg::GenericOp>())) {
    if (!generic.hasPureBufferSemantics() || !onlyReads(*generic.getBody()))
      continue;
    SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
    if (llvm::any_of(ranges, ShapedType::isDynamic))
      continue;
    if (!mapRowReduction(generic, ranges) && !mapElementwise(generic, ranges))
      mapThreadPerOutput(generic, ranges);
  }
}

} // namespace
