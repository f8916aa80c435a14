//===- MoE.cpp - dispatch, combine and grouped GEMMs as loops -------------===//
//
// Token routing moves rows by data-dependent positions. A counting pass
// assigns every (token, k) copy its row (ordered by expert, then token,
// then k, as the reference orders them) and every row the copy it holds:
// loops over the copies, or, with parallel-routing, generics over chunks of
// copies with no sequential loop over them. The data then moves through parallel
// generics that gather by those positions: dispatch reads each row's
// token, combine sums each token's copies, and combine's gradient gathers
// each row's gradient and reduces each copy's weight gradient along the
// hidden dimension. Grouped GEMMs loop over experts with slices of
// data-dependent size.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

Value cIdx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value zerosOf(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elem) {
  TypedAttr zero = isa<FloatType>(elem) ? TypedAttr(b.getFloatAttr(elem, 0.0))
                                        : TypedAttr(b.getIntegerAttr(elem, 0));
  Value scalar = arith::ConstantOp::create(b, loc, zero);
  Value empty = tensor::EmptyOp::create(b, loc, shape, elem);
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

Value toIndex(OpBuilder &b, Location loc, Value v) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

/// Where the copies of a dispatch go.
struct Routing {
  /// [T*K] index: the row of every copy, -1 for a dropped one.
  Value rowOfCopy;
  /// [R] index: the copy every row holds, -1 for an unused row.
  Value copyOfRow;
  /// [E] i32: the rows of each expert.
  Value groupSizes;
};

/// A generic over `loops` (the last `reductions` of them reducing) with
/// one output `init` indexed by `outMap` and `inputs` indexed by `inMaps`.
Value gatherGeneric(OpBuilder &b, Location loc, unsigned loops,
                    unsigned reductions, ValueRange inputs,
                    ArrayRef<AffineMap> inMaps, Value init, AffineMap outMap,
                    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  SmallVector<AffineMap> maps(inMaps);
  maps.push_back(outMap);
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  for (unsigned i = loops - reductions; i < loops; ++i)
    iterators[i] = utils::IteratorType::reduction;
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, init, maps, iterators,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, body(nb, l, args));
             })
      .getResult(0);
}

/// Where every copy goes, by loops over the copies: pass 1 counts each
/// expert's copies, the starts are their prefix sums (or e * capacity), and
/// pass 2 gives every copy its row in order and every row its copy. Cheap
/// and sequential: the CPU's choice.
Routing sequentialRouting(OpBuilder &b, Location loc, Value indices,
                          int64_t experts, bool drop, int64_t capacity,
                          int64_t numRows) {
  auto iType = cast<RankedTensorType>(indices.getType());
  int64_t k = iType.getDimSize(1), copies = iType.getNumElements();
  Type idx = b.getIndexType();
  auto expertOf = [&](OpBuilder &nb, Location l, Value c) {
    Value t = arith::DivUIOp::create(nb, l, c, cIdx(nb, l, k));
    Value j = arith::RemUIOp::create(nb, l, c, cIdx(nb, l, k));
    return toIndex(nb, l, tensor::ExtractOp::create(nb, l, indices,
                                                    ValueRange{t, j}));
  };
  // Pass 1: copies per expert.
  Value counts = zerosOf(b, loc, {experts}, idx);
  counts = scf::ForOp::create(
               b, loc, cIdx(b, loc, 0), cIdx(b, loc, copies), cIdx(b, loc, 1),
               ValueRange{counts},
               [&](OpBuilder &nb, Location l, Value c, ValueRange acc) {
                 Value e = expertOf(nb, l, c);
                 Value n = tensor::ExtractOp::create(nb, l, acc[0], e);
                 Value n1 = arith::AddIOp::create(nb, l, n, cIdx(nb, l, 1));
                 scf::YieldOp::create(
                     nb, l, Value(tensor::InsertOp::create(nb, l, n1, acc[0], e)));
               })
               .getResult(0);
  // First row of each expert: prefix sums, or e * capacity.
  Value starts = zerosOf(b, loc, {experts}, idx);
  starts = scf::ForOp::create(
               b, loc, cIdx(b, loc, 1), cIdx(b, loc, experts), cIdx(b, loc, 1),
               ValueRange{starts},
               [&](OpBuilder &nb, Location l, Value e, ValueRange acc) {
                 Value prev = arith::SubIOp::create(nb, l, e, cIdx(nb, l, 1));
                 Value s =
                     drop ? Value(arith::MulIOp::create(nb, l, e,
                                                        cIdx(nb, l, capacity)))
                          : Value(arith::AddIOp::create(
                                nb, l,
                                tensor::ExtractOp::create(nb, l, acc[0], prev),
                                tensor::ExtractOp::create(nb, l, counts, prev)));
                 scf::YieldOp::create(
                     nb, l, Value(tensor::InsertOp::create(nb, l, s, acc[0], e)));
               })
               .getResult(0);
  // Pass 2: rows in order, dropping copies past the capacity; each row
  // records its copy.
  Value rows = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{copies}, idx);
  Value used = zerosOf(b, loc, {experts}, idx);
  Value copyOf = linalg::FillOp::create(
                     b, loc, cIdx(b, loc, -1),
                     Value(tensor::EmptyOp::create(
                         b, loc, ArrayRef<int64_t>{numRows}, idx)))
                     .getResult(0);
  auto loop = scf::ForOp::create(
      b, loc, cIdx(b, loc, 0), cIdx(b, loc, copies), cIdx(b, loc, 1),
      ValueRange{rows, used, copyOf},
      [&](OpBuilder &nb, Location l, Value c, ValueRange acc) {
        Value e = expertOf(nb, l, c);
        Value u = tensor::ExtractOp::create(nb, l, acc[1], e);
        Value row = arith::AddIOp::create(
            nb, l, tensor::ExtractOp::create(nb, l, starts, e), u);
        Value copyOfRow;
        if (drop) {
          Value full = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::uge,
                                             u, cIdx(nb, l, capacity));
          row = arith::SelectOp::create(nb, l, full, cIdx(nb, l, -1), row);
          copyOfRow =
              scf::IfOp::create(
                  nb, l, full,
                  [&](OpBuilder &tb, Location tl) {
                    scf::YieldOp::create(tb, tl, acc[2]);
                  },
                  [&](OpBuilder &eb, Location el) {
                    scf::YieldOp::create(
                        eb, el,
                        Value(tensor::InsertOp::create(eb, el, c, acc[2], row)));
                  })
                  .getResult(0);
        } else {
          copyOfRow = tensor::InsertOp::create(nb, l, c, acc[2], row);
        }
        Value u1 = arith::AddIOp::create(nb, l, u, cIdx(nb, l, 1));
        scf::YieldOp::create(
            nb, l,
            ValueRange{tensor::InsertOp::create(nb, l, row, acc[0], c),
                       tensor::InsertOp::create(nb, l, u1, acc[1], e),
                       copyOfRow});
      });
  // Group sizes as i32: the counts, or the capacity for every expert.
  auto sizesType = RankedTensorType::get({experts}, b.getI32Type());
  Value sizes =
      linalg::GenericOp::create(
          b, loc, sizesType, counts,
          Value(tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{experts},
                                        b.getI32Type())),
          ArrayRef<AffineMap>{b.getMultiDimIdentityMap(1),
                              b.getMultiDimIdentityMap(1)},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value v = drop ? cIdx(nb, l, capacity) : a[0];
            linalg::YieldOp::create(
                nb, l, Value(arith::IndexCastOp::create(nb, l, nb.getI32Type(), v)));
          })
          .getResult(0);
  return {loop.getResult(0), loop.getResult(2), sizes};
}

/// The tokens in a chunk of the routing's counting: a divisor of the token
/// count such that a chunk holds about sqrt(copies) copies (at least 32),
/// which balances the scans within a chunk against those over chunks.
int64_t tokensPerChunk(int64_t tokens, int64_t k) {
  int64_t target = std::max<int64_t>(
      32, static_cast<int64_t>(std::sqrt(static_cast<double>(tokens * k))));
  int64_t best = 1;
  for (int64_t n = 1; n <= tokens && n * k <= target; ++n)
    if (tokens % n == 0)
      best = n;
  return best;
}

/// Where every copy goes, with no sequential loop over the copies (the
/// GPU's choice, parallel-routing): the
/// copies are cut into chunks of whole tokens; each chunk counts its copies
/// per expert (a row reduction), the chunks before it give each chunk a
/// base per expert, and a copy's rank within its expert is its chunk's
/// base plus the matching copies before it in the chunk. A row finds its
/// copy the other way round: its expert by the starts, its chunk by the
/// bases, then the copy by scanning the chunk. The order is the sequential
/// one: by expert, then token, then k.
Routing parallelRouting(OpBuilder &b, Location loc, Value indices,
                        int64_t experts, bool drop, int64_t capacity,
                        int64_t numRows) {
  MLIRContext *ctx = b.getContext();
  auto iType = cast<RankedTensorType>(indices.getType());
  int64_t tokens = iType.getDimSize(0), k = iType.getDimSize(1);
  int64_t perChunk = tokensPerChunk(tokens, k), chunks = tokens / perChunk;
  int64_t chunkCopies = perChunk * k;
  Type i32 = b.getI32Type(), idx = b.getIndexType();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map = [&](unsigned loops, ArrayRef<AffineExpr> results) {
    return AffineMap::get(loops, 0, results, ctx);
  };
  auto asIndex = [](OpBuilder &nb, Location l, Value v) {
    return toIndex(nb, l, v);
  };
  auto countIf = [&](OpBuilder &nb, Location l, Value hit, Value acc) {
    Value one = arith::ConstantIntOp::create(nb, l, 1, 32);
    Value zero = arith::ConstantIntOp::create(nb, l, 0, 32);
    return Value(arith::AddIOp::create(
        nb, l, arith::SelectOp::create(nb, l, hit, one, zero), acc));
  };
  auto expertOfCopy = [&](OpBuilder &nb, Location l, Value c) {
    Value t = arith::DivUIOp::create(nb, l, c, cIdx(nb, l, k));
    Value j = arith::RemUIOp::create(nb, l, c, cIdx(nb, l, k));
    return asIndex(nb, l,
                   tensor::ExtractOp::create(nb, l, indices, ValueRange{t, j}));
  };
  // [chunks, perChunk, K]: the copies of each chunk.
  Value byChunk = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({chunks, perChunk, k}, iType.getElementType()),
      indices, ArrayRef<ReassociationIndices>{{0, 1}, {2}});

  // Copies per chunk and expert, loops (chunk, e, token in chunk, k).
  Value chunkCounts = gatherGeneric(
      b, loc, 4, 2, byChunk, {map(4, {d(0), d(2), d(3)})},
      zerosOf(b, loc, {chunks, experts}, i32), map(4, {d(0), d(1)}),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value e = linalg::IndexOp::create(nb, l, 1);
        Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                          asIndex(nb, l, a[0]), e);
        return countIf(nb, l, hit, a[1]);
      });
  // Copies per expert, loops (e, chunk).
  Value counts = gatherGeneric(
      b, loc, 2, 1, chunkCounts, {map(2, {d(1), d(0)})},
      zerosOf(b, loc, {experts}, i32), map(2, {d(0)}),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return arith::AddIOp::create(nb, l, a[0], a[1]);
      });
  // Each chunk's first rank per expert, loops (chunk, e, earlier chunk).
  Value chunkBase = gatherGeneric(
      b, loc, 3, 1, chunkCounts, {map(3, {d(2), d(1)})},
      zerosOf(b, loc, {chunks, experts}, i32), map(3, {d(0), d(1)}),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value earlier = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::ult, linalg::IndexOp::create(nb, l, 2),
            linalg::IndexOp::create(nb, l, 0));
        Value zero = arith::ConstantIntOp::create(nb, l, 0, 32);
        return arith::AddIOp::create(
            nb, l, arith::SelectOp::create(nb, l, earlier, a[0], zero), a[1]);
      });
  // First row of each expert: prefix sums, or e * capacity; loops (e, e').
  Value starts;
  if (drop) {
    starts = gatherGeneric(
        b, loc, 1, 0, ValueRange{}, {},
        tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{experts}, i32),
        map(1, {d(0)}), [&](OpBuilder &nb, Location l, ValueRange) -> Value {
          Value e = linalg::IndexOp::create(nb, l, 0);
          return arith::IndexCastOp::create(
              nb, l, i32, arith::MulIOp::create(nb, l, e, cIdx(nb, l, capacity)));
        });
  } else {
    starts = gatherGeneric(
        b, loc, 2, 1, counts, {map(2, {d(1)})},
        zerosOf(b, loc, {experts}, i32), map(2, {d(0)}),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value earlier = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::ult,
              linalg::IndexOp::create(nb, l, 1),
              linalg::IndexOp::create(nb, l, 0));
          Value zero = arith::ConstantIntOp::create(nb, l, 0, 32);
          return arith::AddIOp::create(
              nb, l, arith::SelectOp::create(nb, l, earlier, a[0], zero), a[1]);
        });
  }
  // Each copy's rank among its expert's copies in its chunk, loops (t, k,
  // token in chunk, k'), a row reduction over the chunk.
  Value rankInChunk = gatherGeneric(
      b, loc, 4, 2, ValueRange{byChunk, indices},
      {map(4, {d(0).floorDiv(perChunk), d(2), d(3)}), map(4, {d(0), d(1)})},
      zerosOf(b, loc, {tokens, k}, i32), map(4, {d(0), d(1)}),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value t = linalg::IndexOp::create(nb, l, 0);
        Value j = linalg::IndexOp::create(nb, l, 1);
        Value mine = arith::AddIOp::create(
            nb, l, arith::MulIOp::create(nb, l, t, cIdx(nb, l, k)), j);
        Value first = arith::MulIOp::create(
            nb, l,
            arith::DivUIOp::create(nb, l, t, cIdx(nb, l, perChunk)),
            cIdx(nb, l, chunkCopies));
        Value other = arith::AddIOp::create(
            nb, l, first,
            arith::AddIOp::create(
                nb, l,
                arith::MulIOp::create(nb, l, linalg::IndexOp::create(nb, l, 2),
                                      cIdx(nb, l, k)),
                linalg::IndexOp::create(nb, l, 3)));
        Value before = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                             other, mine);
        Value same = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                           a[0], a[1]);
        return countIf(nb, l, arith::AndIOp::create(nb, l, before, same), a[2]);
      });
  // The row of every copy, -1 past an expert's capacity; loops (t, k).
  Value rowOfCopy = gatherGeneric(
      b, loc, 2, 0, ValueRange{indices, rankInChunk},
      {map(2, {d(0), d(1)}), map(2, {d(0), d(1)})},
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{tokens, k}, idx),
      map(2, {d(0), d(1)}),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value e = asIndex(nb, l, a[0]);
        Value chunk = arith::DivUIOp::create(
            nb, l, linalg::IndexOp::create(nb, l, 0), cIdx(nb, l, perChunk));
        Value base = tensor::ExtractOp::create(nb, l, chunkBase,
                                               ValueRange{chunk, e});
        Value rank = asIndex(nb, l, arith::AddIOp::create(nb, l, base, a[1]));
        Value row = arith::AddIOp::create(
            nb, l, asIndex(nb, l, tensor::ExtractOp::create(nb, l, starts, e)),
            rank);
        if (!drop)
          return row;
        Value full = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::uge,
                                           rank, cIdx(nb, l, capacity));
        return arith::SelectOp::create(nb, l, full, cIdx(nb, l, -1), row);
      });
  rowOfCopy = tensor::CollapseShapeOp::create(
      b, loc, rowOfCopy, ArrayRef<ReassociationIndices>{{0, 1}});

  // The copy every row holds, -1 for an unused row; loops (r).
  Value copyOfRow = gatherGeneric(
      b, loc, 1, 0, ValueRange{}, {},
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{numRows}, idx),
      map(1, {d(0)}), [&](OpBuilder &nb, Location l, ValueRange) -> Value {
        Value r = linalg::IndexOp::create(nb, l, 0);
        Value none = cIdx(nb, l, -1);
        auto extract = [&](OpBuilder &ob, Location ol, Value t,
                           ValueRange at) {
          return asIndex(ob, ol, tensor::ExtractOp::create(ob, ol, t, at));
        };
        // The last of `n` ranges that holds `v` (by `range(i)`: its start
        // and whether it holds v), and v's offset in it; `initial` and
        // `offset` where none does.
        auto lastHolding =
            [&](int64_t n, Value v, Value initial, Value offset,
                function_ref<std::pair<Value, Value>(OpBuilder &, Location,
                                                     Value)>
                    range) {
              return scf::ForOp::create(
                  nb, l, cIdx(nb, l, 0), cIdx(nb, l, n), cIdx(nb, l, 1),
                  ValueRange{initial, offset},
                  [&](OpBuilder &ob, Location ol, Value i, ValueRange acc) {
                    auto [start, inside] = range(ob, ol, i);
                    scf::YieldOp::create(
                        ob, ol,
                        ValueRange{
                            arith::SelectOp::create(ob, ol, inside, i, acc[0]),
                            arith::SelectOp::create(
                                ob, ol, inside,
                                arith::SubIOp::create(ob, ol, v, start),
                                acc[1])});
                  });
            };
        // The expert whose rows hold r, and r's rank among them.
        auto byExpert = lastHolding(
            experts, r, none, cIdx(nb, l, 0),
            [&](OpBuilder &ob, Location ol, Value e) -> std::pair<Value, Value> {
              Value start = extract(ob, ol, starts, e);
              Value size = extract(ob, ol, counts, e);
              if (drop)
                size = arith::MinUIOp::create(ob, ol, size,
                                              cIdx(ob, ol, capacity));
              Value inside = arith::AndIOp::create(
                  ob, ol,
                  arith::CmpIOp::create(ob, ol, arith::CmpIPredicate::sge, r,
                                        start),
                  arith::CmpIOp::create(
                      ob, ol, arith::CmpIPredicate::slt, r,
                      arith::AddIOp::create(ob, ol, start, size)));
              return {start, inside};
            });
        Value expert = byExpert.getResult(0), rank = byExpert.getResult(1);
        Value used = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                           expert, cIdx(nb, l, 0));
        Value e = arith::SelectOp::create(nb, l, used, expert, cIdx(nb, l, 0));
        // The chunk that holds that rank (bases only grow), and the rank
        // within the chunk.
        auto byChunkLoop = lastHolding(
            chunks, rank, cIdx(nb, l, 0), rank,
            [&](OpBuilder &ob, Location ol, Value ch) -> std::pair<Value, Value> {
              Value base = extract(ob, ol, chunkBase, ValueRange{ch, e});
              return {base, arith::CmpIOp::create(
                                ob, ol, arith::CmpIPredicate::sge, rank, base)};
            });
        Value chunk = byChunkLoop.getResult(0), want = byChunkLoop.getResult(1);
        // The want-th copy of the expert in that chunk.
        Value first = arith::MulIOp::create(nb, l, chunk,
                                            cIdx(nb, l, chunkCopies));
        auto scan = scf::ForOp::create(
            nb, l, cIdx(nb, l, 0), cIdx(nb, l, chunkCopies), cIdx(nb, l, 1),
            ValueRange{cIdx(nb, l, 0), none},
            [&](OpBuilder &ob, Location ol, Value i, ValueRange acc) {
              Value c = arith::AddIOp::create(ob, ol, first, i);
              Value same = arith::CmpIOp::create(
                  ob, ol, arith::CmpIPredicate::eq, expertOfCopy(ob, ol, c), e);
              Value hit = arith::AndIOp::create(
                  ob, ol, same,
                  arith::CmpIOp::create(ob, ol, arith::CmpIPredicate::eq,
                                        acc[0], want));
              Value seen = arith::AddIOp::create(
                  ob, ol, acc[0],
                  arith::SelectOp::create(ob, ol, same, cIdx(ob, ol, 1),
                                          cIdx(ob, ol, 0)));
              scf::YieldOp::create(
                  ob, ol,
                  ValueRange{seen,
                             arith::SelectOp::create(ob, ol, hit, c, acc[1])});
            });
        return arith::SelectOp::create(nb, l, used, scan.getResult(1), none);
      });
  // Group sizes as i32: the counts, or the capacity for every expert.
  Value sizes = counts;
  if (drop)
    sizes = gatherGeneric(
        b, loc, 1, 0, ValueRange{}, {},
        tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{experts}, i32),
        map(1, {d(0)}), [&](OpBuilder &nb, Location l, ValueRange) -> Value {
          return arith::ConstantIntOp::create(nb, l, capacity, 32);
        });
  return {rowOfCopy, copyOfRow, sizes};
}

/// A pattern on one of the routed ops, computing its routing one way.
template <typename OpTy>
struct RoutedPattern : OpConversionPattern<OpTy> {
  RoutedPattern(MLIRContext *context, bool parallel)
      : OpConversionPattern<OpTy>(context), parallel(parallel) {}

  Routing routingFor(OpBuilder &b, OpTy op, Value indices,
                     int64_t numRows) const {
    auto build = parallel ? parallelRouting : sequentialRouting;
    return build(b, op.getLoc(), indices, op.getNumExpertsAttr().getInt(),
                 op.getPolicy() == CapacityPolicy::drop,
                 op.getCapacityAttr().getInt(), numRows);
  }

  bool parallel;
};

/// Whether a row or copy position is in use (>= 0), and the position made
/// safe to index with (0 when it is not).
std::pair<Value, Value> keptPosition(OpBuilder &b, Location loc, Value p) {
  Value zero = cIdx(b, loc, 0);
  Value kept =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, p, zero);
  return {kept, arith::SelectOp::create(b, loc, kept, p, zero)};
}

Value zeroOf(OpBuilder &b, Location loc, Type elem) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, 0.0));
}

/// rows[r, h] = x[token of r's copy, h], zero where no copy lands.
struct DispatchToGather : RoutedPattern<MoeDispatchOp> {
  using RoutedPattern::RoutedPattern;
  LogicalResult
  matchAndRewrite(MoeDispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto outType = cast<RankedTensorType>(op.getRows().getType());
    Routing r = routingFor(b, op, adaptor.getIndices(), outType.getDimSize(0));
    int64_t k = op.getIndices().getType().getDimSize(1);
    Value x = adaptor.getInput();
    Type elem = outType.getElementType();
    MLIRContext *ctx = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
    Value rows = gatherGeneric(
        b, loc, 2, 0, r.copyOfRow, {AffineMap::get(2, 0, {d0}, ctx)},
        tensor::EmptyOp::create(b, loc, outType.getShape(), elem),
        AffineMap::get(2, 0, {d0, d1}, ctx),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          auto [kept, c] = keptPosition(nb, l, a[0]);
          Value t = arith::DivUIOp::create(nb, l, c, cIdx(nb, l, k));
          Value v = tensor::ExtractOp::create(
              nb, l, x, ValueRange{t, linalg::IndexOp::create(nb, l, 1)});
          return arith::SelectOp::create(nb, l, kept, v, zeroOf(nb, l, elem));
        });
    b.replaceOp(op, {rows, r.groupSizes});
    return success();
  }
};

/// y[t, h] = sum over k of w[t, k] * rows[row of copy (t, k), h], in k
/// order, skipping dropped copies.
struct CombineToGather : RoutedPattern<MoeCombineOp> {
  using RoutedPattern::RoutedPattern;
  LogicalResult
  matchAndRewrite(MoeCombineOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value data = adaptor.getRows(), weights = adaptor.getWeights();
    Routing r = routingFor(
        b, op, adaptor.getIndices(),
        cast<RankedTensorType>(data.getType()).getDimSize(0));
    auto type = op.getType();
    Type elem = type.getElementType();
    int64_t k = op.getIndices().getType().getDimSize(1);
    MLIRContext *ctx = b.getContext();
    // Loops (t, h, k).
    AffineExpr t = getAffineDimExpr(0, ctx), h = getAffineDimExpr(1, ctx),
               j = getAffineDimExpr(2, ctx);
    Value y = gatherGeneric(
        b, loc, 3, 1, ValueRange{r.rowOfCopy, weights},
        {AffineMap::get(3, 0, {t * k + j}, ctx),
         AffineMap::get(3, 0, {t, j}, ctx)},
        zerosOf(b, loc, type.getShape(), elem),
        AffineMap::get(3, 0, {t, h}, ctx),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          auto [kept, row] = keptPosition(nb, l, a[0]);
          Value v = tensor::ExtractOp::create(
              nb, l, data, ValueRange{row, linalg::IndexOp::create(nb, l, 1)});
          Value p = arith::MulFOp::create(nb, l, v, a[1]);
          p = arith::SelectOp::create(nb, l, kept, p, zeroOf(nb, l, elem));
          return arith::AddFOp::create(nb, l, p, a[2]);
        });
    b.replaceOp(op, y);
    return success();
  }
};

/// d_rows[r, h] = w[copy of r] * dy[token of r, h]; d_w[t, k] =
/// <rows[row of copy (t, k)], dy[t]> (a reduction along the hidden
/// dimension), zero for dropped copies.
struct CombineGradToGather : RoutedPattern<MoeCombineGradOp> {
  using RoutedPattern::RoutedPattern;
  LogicalResult
  matchAndRewrite(MoeCombineGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto rType = cast<RankedTensorType>(op.getDRows().getType());
    auto wType = cast<RankedTensorType>(op.getDWeights().getType());
    Routing r = routingFor(b, op, adaptor.getIndices(), rType.getDimSize(0));
    int64_t k = op.getIndices().getType().getDimSize(1);
    Value data = adaptor.getRows(), weights = adaptor.getWeights(),
          dy = adaptor.getDResult();
    Type elem = rType.getElementType();
    MLIRContext *ctx = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx);
    // Loops (r, h).
    Value dRows = gatherGeneric(
        b, loc, 2, 0, r.copyOfRow, {AffineMap::get(2, 0, {d0}, ctx)},
        tensor::EmptyOp::create(b, loc, rType.getShape(), elem),
        AffineMap::get(2, 0, {d0, d1}, ctx),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          auto [kept, c] = keptPosition(nb, l, a[0]);
          Value t = arith::DivUIOp::create(nb, l, c, cIdx(nb, l, k));
          Value j = arith::RemUIOp::create(nb, l, c, cIdx(nb, l, k));
          Value w = tensor::ExtractOp::create(nb, l, weights, ValueRange{t, j});
          Value g = tensor::ExtractOp::create(
              nb, l, dy, ValueRange{t, linalg::IndexOp::create(nb, l, 1)});
          Value v = arith::MulFOp::create(nb, l, g, w);
          return arith::SelectOp::create(nb, l, kept, v, zeroOf(nb, l, elem));
        });
    // Loops (t, k, h): a row reduction per copy.
    Value dW = gatherGeneric(
        b, loc, 3, 1, ValueRange{r.rowOfCopy, dy},
        {AffineMap::get(3, 0, {d0 * k + d1}, ctx),
         AffineMap::get(3, 0, {d0, d2}, ctx)},
        zerosOf(b, loc, wType.getShape(), wType.getElementType()),
        AffineMap::get(3, 0, {d0, d1}, ctx),
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          auto [kept, row] = keptPosition(nb, l, a[0]);
          Value v = tensor::ExtractOp::create(
              nb, l, data, ValueRange{row, linalg::IndexOp::create(nb, l, 2)});
          Value p = arith::MulFOp::create(nb, l, v, a[1]);
          p = arith::SelectOp::create(nb, l, kept, p, zeroOf(nb, l, elem));
          return arith::AddFOp::create(nb, l, p, a[2]);
        });
    b.replaceOp(op, {dRows, dW});
    return success();
  }
};

/// Rows [off, off + n) of a [R, C] tensor, n dynamic.
Value rowsSlice(OpBuilder &b, Location loc, Value t, Value off, Value n) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t cols = type.getDimSize(1);
  SmallVector<OpFoldResult> offsets = {off, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {n, b.getIndexAttr(cols)};
  SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
  return tensor::ExtractSliceOp::create(
      b, loc,
      RankedTensorType::get({ShapedType::kDynamic, cols}, type.getElementType()),
      t, offsets, sizes, strides);
}

/// Expert e's [A, B] matrix of a [E, A, B] tensor.
Value expertMatrix(OpBuilder &b, Location loc, Value w, Value e) {
  auto type = cast<RankedTensorType>(w.getType());
  int64_t a = type.getDimSize(1), c = type.getDimSize(2);
  SmallVector<OpFoldResult> offsets = {e, b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(a),
                                     b.getIndexAttr(c)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({a, c}, type.getElementType()), w, offsets,
      sizes, strides);
}

/// A contraction over (i, j, l): out[i, j] += A(i, l) * B(l, j), with the
/// operand maps given.
Value contract(OpBuilder &b, Location loc, Value lhs, Value rhs, Value init,
               AffineMap lhsMap, AffineMap rhsMap) {
  AffineMap out = AffineMap::get(
      3, 0, {b.getAffineDimExpr(0), b.getAffineDimExpr(1)}, b.getContext());
  return buildContraction(b, loc, lhs, rhs, init, {lhsMap, rhsMap, out});
}

AffineMap dims(OpBuilder &b, int64_t x, int64_t y) {
  return AffineMap::get(3, 0, {b.getAffineDimExpr(x), b.getAffineDimExpr(y)},
                        b.getContext());
}

struct GroupedMatmulToLoops : OpConversionPattern<GroupedMatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GroupedMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    int64_t experts = op.getWeight().getType().getDimSize(0);
    int64_t n = type.getDimSize(1);
    bool t = op.getTransposeRhs();
    Value x = adaptor.getInput(), w = adaptor.getWeight(),
          sizes = adaptor.getGroupSizes();
    Value out = zerosOf(b, loc, type.getShape(), type.getElementType());
    auto loop = scf::ForOp::create(
        b, loc, cIdx(b, loc, 0), cIdx(b, loc, experts), cIdx(b, loc, 1),
        ValueRange{out, cIdx(b, loc, 0)},
        [&](OpBuilder &nb, Location l, Value e, ValueRange acc) {
          Value count = toIndex(nb, l, tensor::ExtractOp::create(nb, l, sizes, e));
          Value xe = rowsSlice(nb, l, x, acc[1], count);
          Value init = linalg::FillOp::create(
                           nb, l,
                           Value(arith::ConstantOp::create(
                               nb, l, nb.getFloatAttr(type.getElementType(), 0))),
                           Value(tensor::EmptyOp::create(
                               nb, l,
                               RankedTensorType::get({ShapedType::kDynamic, n},
                                                     type.getElementType()),
                               ValueRange{count})))
                           .getResult(0);
          Value ye = contract(nb, l, xe, expertMatrix(nb, l, w, e), init,
                              dims(nb, 0, 2), t ? dims(nb, 1, 2) : dims(nb, 2, 1));
          SmallVector<OpFoldResult> offsets = {acc[1], nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes2 = {count, nb.getIndexAttr(n)};
          SmallVector<OpFoldResult> strides = {nb.getIndexAttr(1),
                                               nb.getIndexAttr(1)};
          Value next = tensor::InsertSliceOp::create(nb, l, ye, acc[0], offsets,
                                                     sizes2, strides);
          scf::YieldOp::create(
              nb, l, ValueRange{next, arith::AddIOp::create(nb, l, acc[1], count)});
        });
    b.replaceOp(op, loop.getResult(0));
    return success();
  }
};

struct GroupedWgradToLoops : OpConversionPattern<GroupedMatmulWgradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GroupedMatmulWgradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType(); // [E, K, N] or [E, N, K]
    int64_t experts = type.getDimSize(0);
    bool t = op.getTransposeRhs();
    Value x = adaptor.getInput(), dy = adaptor.getDResult(),
          sizes = adaptor.getGroupSizes();
    Value out = zerosOf(b, loc, type.getShape(), type.getElementType());
    int64_t a = type.getDimSize(1), c = type.getDimSize(2);
    auto loop = scf::ForOp::create(
        b, loc, cIdx(b, loc, 0), cIdx(b, loc, experts), cIdx(b, loc, 1),
        ValueRange{out, cIdx(b, loc, 0)},
        [&](OpBuilder &nb, Location l, Value e, ValueRange acc) {
          Value count = toIndex(nb, l, tensor::ExtractOp::create(nb, l, sizes, e));
          Value xe = rowsSlice(nb, l, x, acc[1], count);
          Value ge = rowsSlice(nb, l, dy, acc[1], count);
          Value init = zerosOf(nb, l, {a, c}, type.getElementType());
          // [K, N] = x_e^T dy_e, or [N, K] = dy_e^T x_e; loop l runs over rows.
          Value de = t ? contract(nb, l, ge, xe, init, dims(nb, 2, 0),
                                  dims(nb, 2, 1))
                       : contract(nb, l, xe, ge, init, dims(nb, 2, 0),
                                  dims(nb, 2, 1));
          SmallVector<OpFoldResult> offsets = {e, nb.getIndexAttr(0),
                                               nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes3 = {nb.getIndexAttr(1),
                                              nb.getIndexAttr(a),
                                              nb.getIndexAttr(c)};
          SmallVector<OpFoldResult> strides(3, nb.getIndexAttr(1));
          Value next = tensor::InsertSliceOp::create(nb, l, de, acc[0], offsets,
                                                     sizes3, strides);
          scf::YieldOp::create(
              nb, l, ValueRange{next, arith::AddIOp::create(nb, l, acc[1], count)});
        });
    b.replaceOp(op, loop.getResult(0));
    return success();
  }
};

} // namespace

void mlir::dsv3::populateDsv3MoEToLoopsPatterns(MLIRContext *context,
                                                RewritePatternSet &patterns,
                                                bool parallelRouting) {
  patterns.add<DispatchToGather, CombineToGather, CombineGradToGather>(
      context, parallelRouting);
  patterns.add<GroupedMatmulToLoops, GroupedWgradToLoops>(context);
}
