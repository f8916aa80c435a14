//===- MoE.cpp - dispatch, combine and grouped GEMMs as loops -------------===//
//
// Token routing moves rows by data-dependent positions, so it is written as
// scf.for loops over tensors: a counting pass assigns every (token, k)
// copy its row (ordered by expert, then token, then k, as the reference
// orders them), and the data moves row by row with tensor slices. Grouped
// GEMMs loop over experts with slices of data-dependent size.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Dsv3ToLinalg/Rewriters.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

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

/// The row of every copy of `indices` ([T, K]): a [T*K] index tensor,
/// -1 for a dropped copy; and the [E] i32 group sizes.
std::pair<Value, Value> dispatchRows(OpBuilder &b, Location loc, Value indices,
                                     int64_t experts, bool drop,
                                     int64_t capacity) {
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
  // Pass 2: rows in order, dropping copies past the capacity.
  Value rows = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{copies}, idx);
  Value used = zerosOf(b, loc, {experts}, idx);
  auto loop = scf::ForOp::create(
      b, loc, cIdx(b, loc, 0), cIdx(b, loc, copies), cIdx(b, loc, 1),
      ValueRange{rows, used},
      [&](OpBuilder &nb, Location l, Value c, ValueRange acc) {
        Value e = expertOf(nb, l, c);
        Value u = tensor::ExtractOp::create(nb, l, acc[1], e);
        Value row = arith::AddIOp::create(
            nb, l, tensor::ExtractOp::create(nb, l, starts, e), u);
        if (drop) {
          Value full = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::uge,
                                             u, cIdx(nb, l, capacity));
          row = arith::SelectOp::create(nb, l, full, cIdx(nb, l, -1), row);
        }
        Value u1 = arith::AddIOp::create(nb, l, u, cIdx(nb, l, 1));
        scf::YieldOp::create(
            nb, l,
            ValueRange{tensor::InsertOp::create(nb, l, row, acc[0], c),
                       tensor::InsertOp::create(nb, l, u1, acc[1], e)});
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
  return {loop.getResult(0), sizes};
}

/// One row [1, H] of a [R, H] tensor at a dynamic position.
Value rowOf(OpBuilder &b, Location loc, Value t, Value r) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t h = type.getDimSize(1);
  SmallVector<OpFoldResult> offsets = {r, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(h)};
  SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({1, h}, type.getElementType()), t, offsets,
      sizes, strides);
}

Value putRow(OpBuilder &b, Location loc, Value row, Value into, Value r) {
  auto type = cast<RankedTensorType>(into.getType());
  SmallVector<OpFoldResult> offsets = {r, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                     b.getIndexAttr(type.getDimSize(1))};
  SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
  return tensor::InsertSliceOp::create(b, loc, row, into, offsets, sizes,
                                       strides);
}

/// out = a * s + acc over a [1, H] row (acc may be null: then a * s).
Value axpyRow(OpBuilder &b, Location loc, Value a, Value s, Value acc) {
  auto type = cast<RankedTensorType>(a.getType());
  SmallVector<Value> inputs = {a};
  if (acc)
    inputs.push_back(acc);
  SmallVector<AffineMap> maps(inputs.size() + 1, b.getMultiDimIdentityMap(2));
  return linalg::GenericOp::create(
             b, loc, type, inputs,
             Value(tensor::EmptyOp::create(b, loc, type.getShape(),
                                           type.getElementType())),
             maps,
             SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange x) {
               Value v = arith::MulFOp::create(nb, l, x[0], s);
               if (acc)
                 v = arith::AddFOp::create(nb, l, v, x[1]);
               linalg::YieldOp::create(nb, l, v);
             })
      .getResult(0);
}

/// Runs `body` for every copy c (with its token and row) whose row >= 0.
Value forEachKeptCopy(
    OpBuilder &b, Location loc, Value rows, int64_t k, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value c, Value t,
                                    Value row, ValueRange acc)>
        body) {
  int64_t copies = cast<RankedTensorType>(rows.getType()).getDimSize(0);
  return scf::ForOp::create(
             b, loc, cIdx(b, loc, 0), cIdx(b, loc, copies), cIdx(b, loc, 1),
             init,
             [&](OpBuilder &nb, Location l, Value c, ValueRange acc) {
               Value row = tensor::ExtractOp::create(nb, l, rows, c);
               Value kept = arith::CmpIOp::create(
                   nb, l, arith::CmpIPredicate::sge, row, cIdx(nb, l, 0));
               Value t = arith::DivUIOp::create(nb, l, c, cIdx(nb, l, k));
               auto branch = scf::IfOp::create(
                   nb, l, kept,
                   [&](OpBuilder &tb, Location tl) {
                     scf::YieldOp::create(tb, tl, body(tb, tl, c, t, row, acc));
                   },
                   [&](OpBuilder &eb, Location el) {
                     scf::YieldOp::create(eb, el, acc);
                   });
               scf::YieldOp::create(nb, l, branch.getResults());
             })
      .getResult(0);
}

template <typename OpTy>
std::pair<Value, Value> rowsFor(OpBuilder &b, OpTy op, Value indices) {
  return dispatchRows(b, op.getLoc(), indices, op.getNumExpertsAttr().getInt(),
                      op.getPolicy() == CapacityPolicy::drop,
                      op.getCapacityAttr().getInt());
}

struct DispatchToLoops : OpConversionPattern<MoeDispatchOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MoeDispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto [rows, sizes] = rowsFor(b, op, adaptor.getIndices());
    auto outType = cast<RankedTensorType>(op.getRows().getType());
    Value out = zerosOf(b, loc, outType.getShape(), outType.getElementType());
    int64_t k = op.getIndices().getType().getDimSize(1);
    Value x = adaptor.getInput();
    Value result = forEachKeptCopy(
        b, loc, rows, k, out,
        [&](OpBuilder &nb, Location l, Value, Value t, Value row,
            ValueRange acc) -> SmallVector<Value> {
          return {putRow(nb, l, rowOf(nb, l, x, t), acc[0], row)};
        });
    b.replaceOp(op, {result, sizes});
    return success();
  }
};

struct CombineToLoops : OpConversionPattern<MoeCombineOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MoeCombineOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto [rows, sizes] = rowsFor(b, op, adaptor.getIndices());
    auto type = op.getType();
    Value out = zerosOf(b, loc, type.getShape(), type.getElementType());
    int64_t k = op.getIndices().getType().getDimSize(1);
    Value data = adaptor.getRows(), weights = adaptor.getWeights();
    Value result = forEachKeptCopy(
        b, loc, rows, k, out,
        [&](OpBuilder &nb, Location l, Value c, Value t, Value row,
            ValueRange acc) -> SmallVector<Value> {
          Value j = arith::RemUIOp::create(nb, l, c, cIdx(nb, l, k));
          Value w = tensor::ExtractOp::create(nb, l, weights, ValueRange{t, j});
          Value sum = axpyRow(nb, l, rowOf(nb, l, data, row), w,
                              rowOf(nb, l, acc[0], t));
          return {putRow(nb, l, sum, acc[0], t)};
        });
    b.replaceOp(op, result);
    return success();
  }
};

struct CombineGradToLoops : OpConversionPattern<MoeCombineGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MoeCombineGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto [rows, sizes] = rowsFor(b, op, adaptor.getIndices());
    auto rType = cast<RankedTensorType>(op.getDRows().getType());
    auto wType = cast<RankedTensorType>(op.getDWeights().getType());
    int64_t k = op.getIndices().getType().getDimSize(1);
    Value data = adaptor.getRows(), weights = adaptor.getWeights(),
          dy = adaptor.getDResult();
    Type elem = wType.getElementType();
    auto loop = scf::ForOp::create(
        b, loc, cIdx(b, loc, 0),
        cIdx(b, loc, cast<RankedTensorType>(rows.getType()).getDimSize(0)),
        cIdx(b, loc, 1),
        ValueRange{zerosOf(b, loc, rType.getShape(), rType.getElementType()),
                   zerosOf(b, loc, wType.getShape(), elem)},
        [&](OpBuilder &nb, Location l, Value c, ValueRange acc) {
          Value row = tensor::ExtractOp::create(nb, l, rows, c);
          Value kept = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                             row, cIdx(nb, l, 0));
          Value t = arith::DivUIOp::create(nb, l, c, cIdx(nb, l, k));
          Value j = arith::RemUIOp::create(nb, l, c, cIdx(nb, l, k));
          auto branch = scf::IfOp::create(
              nb, l, kept,
              [&](OpBuilder &tb, Location tl) {
                Value w = tensor::ExtractOp::create(tb, tl, weights,
                                                    ValueRange{t, j});
                Value g = rowOf(tb, tl, dy, t);
                Value dr = putRow(tb, tl, axpyRow(tb, tl, g, w, Value()),
                                  acc[0], row);
                // <rows[row], dy[t]> through a reduction to a 0-d tensor.
                Value init = zerosOf(tb, tl, {}, elem);
                Value dot =
                    linalg::GenericOp::create(
                        tb, tl, RankedTensorType::get({}, elem),
                        ValueRange{rowOf(tb, tl, data, row), g}, init,
                        ArrayRef<AffineMap>{
                            tb.getMultiDimIdentityMap(2),
                            tb.getMultiDimIdentityMap(2),
                            AffineMap::get(2, 0, {}, tb.getContext())},
                        SmallVector<utils::IteratorType>(
                            2, utils::IteratorType::reduction),
                        [](OpBuilder &gb, Location gl, ValueRange a) {
                          Value p = arith::MulFOp::create(gb, gl, a[0], a[1]);
                          linalg::YieldOp::create(
                              gb, gl, Value(arith::AddFOp::create(gb, gl, p, a[2])));
                        })
                        .getResult(0);
                Value d = tensor::ExtractOp::create(tb, tl, dot, ValueRange{});
                Value dw = tensor::InsertOp::create(tb, tl, d, acc[1],
                                                    ValueRange{t, j});
                scf::YieldOp::create(tb, tl, ValueRange{dr, dw});
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, acc);
              });
          scf::YieldOp::create(nb, l, branch.getResults());
        });
    b.replaceOp(op, loop.getResults());
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
                                                RewritePatternSet &patterns) {
  patterns.add<DispatchToLoops, CombineToLoops, CombineGradToLoops,
               GroupedMatmulToLoops, GroupedWgradToLoops>(context);
}
