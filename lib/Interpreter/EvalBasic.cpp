//===- EvalBasic.cpp - tensor basics, elementwise ops, reductions ---------===//

#include "Interpreter/Eval.h"

#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <functional>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::interp;

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

LogicalResult fromAttr(Operation *op, Attribute value, Outputs &out) {
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (!dense)
    return op->emitError("interpreter: only dense constants are supported");
  HostTensor t = resultTensor(op);
  int64_t i = 0;
  if (isa<FloatType>(dense.getElementType())) {
    for (APFloat v : dense.getValues<APFloat>())
      t.data[i++] = v.convertToDouble();
  } else {
    // (Not one ternary: its common type would be unsigned.)
    bool isBool = dense.getElementType().isInteger(1);
    for (APInt v : dense.getValues<APInt>())
      t.data[i++] = isBool ? static_cast<double>(v.getZExtValue())
                           : static_cast<double>(v.getSExtValue());
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult unary(Operation *op, Inputs in, Outputs &out,
                    const std::function<double(double)> &f) {
  HostTensor t = resultTensor(op);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data[i] = f(in[0]->data[i]);
  out.push_back(std::move(t));
  return success();
}

LogicalResult binary(Operation *op, Inputs in, Outputs &out,
                     const std::function<double(double, double)> &f) {
  HostTensor t = resultTensor(op);
  bool scalarRhs = in[1]->numel() == 1 && in[0]->numel() != 1;
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data[i] = f(in[0]->data[i], in[1]->data[scalarRhs ? 0 : i]);
  out.push_back(std::move(t));
  return success();
}

LogicalResult transpose(TransposeOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  auto inStrides = in[0]->strides();
  SmallVector<int64_t> idx, src(t.rank());
  ArrayRef<int64_t> perm = op.getPerm();
  for (int64_t i = 0; i < t.numel(); ++i) {
    unflatten(i, t.shape, idx);
    for (int64_t d = 0; d < t.rank(); ++d)
      src[perm[d]] = idx[d];
    t.data[i] = in[0]->data[flatten(src, inStrides)];
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult broadcast(BroadcastOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  auto inStrides = in[0]->strides();
  ArrayRef<int64_t> dims = op.getDims();
  SmallVector<int64_t> idx, src(in[0]->rank());
  for (int64_t i = 0; i < t.numel(); ++i) {
    unflatten(i, t.shape, idx);
    for (int64_t d = 0; d < in[0]->rank(); ++d)
      src[d] = in[0]->shape[d] == 1 ? 0 : idx[dims[d]];
    t.data[i] = in[0]->data[flatten(src, inStrides)];
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult slice(SliceOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  auto inStrides = in[0]->strides();
  ArrayRef<int64_t> start = op.getStart();
  SmallVector<int64_t> strides(t.rank(), 1);
  if (auto s = op.getStrides())
    strides.assign(s->begin(), s->end());
  SmallVector<int64_t> idx, src(t.rank());
  for (int64_t i = 0; i < t.numel(); ++i) {
    unflatten(i, t.shape, idx);
    for (int64_t d = 0; d < t.rank(); ++d)
      src[d] = start[d] + idx[d] * strides[d];
    t.data[i] = in[0]->data[flatten(src, inStrides)];
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult pad(PadOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  auto outStrides = t.strides();
  ArrayRef<int64_t> low = op.getLow();
  SmallVector<int64_t> interior(t.rank(), 0);
  if (auto s = op.getInterior())
    interior.assign(s->begin(), s->end());
  SmallVector<int64_t> idx, dst(t.rank());
  for (int64_t i = 0; i < in[0]->numel(); ++i) {
    unflatten(i, in[0]->shape, idx);
    for (int64_t d = 0; d < t.rank(); ++d)
      dst[d] = low[d] + idx[d] * (interior[d] + 1);
    t.data[flatten(dst, outStrides)] = in[0]->data[i];
  }
  out.push_back(std::move(t));
  return success();
}

LogicalResult concat(ConcatOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  int64_t dim = op.getDimAttr().getInt();
  auto outStrides = t.strides();
  int64_t offset = 0;
  SmallVector<int64_t> idx;
  for (const HostTensor *part : in) {
    for (int64_t i = 0; i < part->numel(); ++i) {
      unflatten(i, part->shape, idx);
      idx[dim] += offset;
      t.data[flatten(idx, outStrides)] = part->data[i];
    }
    offset += part->shape[dim];
  }
  out.push_back(std::move(t));
  return success();
}

/// Shared by gather and scatter_add: for every element of the gathered
/// shape, calls f(gatheredFlat, tableFlat); fails on a bad index.
LogicalResult forEachGathered(Operation *op, ArrayRef<int64_t> tableShape,
                              const HostTensor &indices, int64_t dim,
                              ArrayRef<int64_t> gatheredShape,
                              const std::function<void(int64_t, int64_t)> &f) {
  SmallVector<int64_t> tableStrides(tableShape.size(), 1);
  for (int64_t i = static_cast<int64_t>(tableShape.size()) - 2; i >= 0; --i)
    tableStrides[i] = tableStrides[i + 1] * tableShape[i + 1];
  auto idxStrides = indices.strides();
  int64_t idxRank = indices.rank();
  SmallVector<int64_t> g, src(tableShape.size());
  int64_t numel = 1;
  for (int64_t d : gatheredShape)
    numel *= d;
  for (int64_t i = 0; i < numel; ++i) {
    unflatten(i, gatheredShape, g);
    for (int64_t d = 0; d < dim; ++d)
      src[d] = g[d];
    int64_t at = flatten(ArrayRef<int64_t>(g).slice(dim, idxRank), idxStrides);
    double index = indices.data[at];
    if (index < 0 || index >= tableShape[dim])
      return op->emitError("interpreter: index ")
             << static_cast<int64_t>(index) << " is out of range [0, "
             << tableShape[dim] << ")";
    src[dim] = static_cast<int64_t>(index);
    for (int64_t d = dim + 1; d < static_cast<int64_t>(tableShape.size()); ++d)
      src[d] = g[d - 1 + idxRank];
    f(i, flatten(src, tableStrides));
  }
  return success();
}

LogicalResult reduce(ReduceOp op, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  ArrayRef<int64_t> dims = op.getDims();
  SmallVector<bool> reduced(in[0]->rank(), false);
  int64_t count = 1;
  for (int64_t d : dims) {
    reduced[d] = true;
    count *= in[0]->shape[d];
  }
  bool isMax = op.getKind() == ReduceKind::max;
  std::fill(t.data.begin(), t.data.end(), isMax ? -INFINITY : 0.0);
  auto outStrides = t.strides();
  SmallVector<int64_t> idx, dst;
  for (int64_t i = 0; i < in[0]->numel(); ++i) {
    unflatten(i, in[0]->shape, idx);
    dst.clear();
    for (int64_t d = 0; d < in[0]->rank(); ++d)
      if (!reduced[d])
        dst.push_back(idx[d]);
    double &acc = t.data[flatten(dst, outStrides)];
    acc = isMax ? std::max(acc, in[0]->data[i]) : acc + in[0]->data[i];
  }
  if (op.getKind() == ReduceKind::mean)
    for (double &v : t.data)
      v /= count;
  out.push_back(std::move(t));
  return success();
}

/// Applies f to every 1-d lane of `x` along `dim`: f(read(j), write(j, v)).
template <typename F>
void forEachLane(const HostTensor &x, int64_t dim, F f) {
  int64_t n = x.shape[dim];
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < x.rank(); ++d)
    inner *= x.shape[d];
  int64_t outer = x.numel() / std::max<int64_t>(n * inner, 1);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      f(o * n * inner + i, inner, n);
}

template <bool Log>
LogicalResult softmax(Operation *op, int64_t dim, Inputs in, Outputs &out) {
  HostTensor t = resultTensor(op);
  const HostTensor &x = *in[0];
  forEachLane(x, dim, [&](int64_t base, int64_t stride, int64_t n) {
    double m = -INFINITY;
    for (int64_t j = 0; j < n; ++j)
      m = std::max(m, x.data[base + j * stride]);
    double sum = 0;
    for (int64_t j = 0; j < n; ++j)
      sum += std::exp(x.data[base + j * stride] - m);
    for (int64_t j = 0; j < n; ++j) {
      double v = x.data[base + j * stride] - m;
      t.data[base + j * stride] = Log ? v - std::log(sum) : std::exp(v) / sum;
    }
  });
  out.push_back(std::move(t));
  return success();
}

bool compare(ComparePredicate p, double a, double b) {
  switch (p) {
  case ComparePredicate::eq:
    return a == b;
  case ComparePredicate::ne:
    return a != b;
  case ComparePredicate::lt:
    return a < b;
  case ComparePredicate::le:
    return a <= b;
  case ComparePredicate::gt:
    return a > b;
  case ComparePredicate::ge:
    return a >= b;
  }
  return false;
}

/// Collectives on one rank: the interpreter models a group of one.
LogicalResult singleRank(Operation *op, int64_t groupSize, Inputs in,
                         Outputs &out) {
  if (groupSize != 1)
    return op->emitError("interpreter: this collective needs ")
           << groupSize << " ranks; the interpreter runs one";
  HostTensor t = resultTensor(op);
  t.data = in[0]->data;
  out.push_back(std::move(t));
  return success();
}

} // namespace

std::optional<LogicalResult> interp::evalBasic(Operation *op, Inputs in,
                                               Outputs &out) {
  return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
      .Case<ConstantOp>([&](auto c) { return fromAttr(op, c.getValue(), out); })
      .Case<arith::ConstantOp>(
          [&](auto c) { return fromAttr(op, c.getValue(), out); })
      .Case<CastOp, ReshapeOp>([&](auto) {
        HostTensor t = resultTensor(op);
        t.data = in[0]->data;
        out.push_back(std::move(t));
        return success();
      })
      .Case<TransposeOp>([&](auto o) { return transpose(o, in, out); })
      .Case<BroadcastOp>([&](auto o) { return broadcast(o, in, out); })
      .Case<SliceOp>([&](auto o) { return slice(o, in, out); })
      .Case<PadOp>([&](auto o) { return pad(o, in, out); })
      .Case<ConcatOp>([&](auto o) { return concat(o, in, out); })
      .Case<GatherOp>([&](GatherOp o) -> LogicalResult {
        HostTensor t = resultTensor(op);
        if (failed(forEachGathered(op, in[0]->shape, *in[1],
                                   o.getDimAttr().getInt(), t.shape,
                                   [&](int64_t g, int64_t src) {
                                     t.data[g] = in[0]->data[src];
                                   })))
          return failure();
        out.push_back(std::move(t));
        return success();
      })
      .Case<ScatterAddOp>([&](ScatterAddOp o) -> LogicalResult {
        HostTensor t = resultTensor(op);
        if (failed(forEachGathered(op, t.shape, *in[1],
                                   o.getDimAttr().getInt(), in[0]->shape,
                                   [&](int64_t g, int64_t dst) {
                                     t.data[dst] += in[0]->data[g];
                                   })))
          return failure();
        out.push_back(std::move(t));
        return success();
      })
      .Case<AddOp>([&](auto) {
        return binary(op, in, out, [](double a, double b) { return a + b; });
      })
      .Case<SubOp>([&](auto) {
        return binary(op, in, out, [](double a, double b) { return a - b; });
      })
      .Case<MulOp>([&](auto) {
        return binary(op, in, out, [](double a, double b) { return a * b; });
      })
      .Case<DivOp>([&](auto) {
        bool isInt = isa<IntegerType>(in[0]->elementType);
        return binary(op, in, out, [isInt](double a, double b) {
          return isInt ? std::trunc(a / b) : a / b;
        });
      })
      .Case<ScaleOp>([&](auto) {
        return binary(op, in, out, [](double a, double b) { return a * b; });
      })
      .Case<UnscaleOp>([&](auto) {
        return binary(op, in, out, [](double a, double b) { return a / b; });
      })
      .Case<NegOp>(
          [&](auto) { return unary(op, in, out, [](double x) { return -x; }); })
      .Case<ExpOp>([&](auto) {
        return unary(op, in, out, [](double x) { return std::exp(x); });
      })
      .Case<LogOp>([&](auto) {
        return unary(op, in, out, [](double x) { return std::log(x); });
      })
      .Case<RsqrtOp>([&](auto) {
        return unary(op, in, out, [](double x) { return 1.0 / std::sqrt(x); });
      })
      .Case<SigmoidOp>(
          [&](auto) { return unary(op, in, out, [](double x) { return sigmoid(x); }); })
      .Case<SiluOp>([&](auto) {
        return unary(op, in, out, [](double x) { return x * sigmoid(x); });
      })
      .Case<SelectOp>([&](auto) {
        HostTensor t = resultTensor(op);
        for (int64_t i = 0; i < t.numel(); ++i)
          t.data[i] = in[0]->data[i] != 0 ? in[1]->data[i] : in[2]->data[i];
        out.push_back(std::move(t));
        return success();
      })
      .Case<CompareOp>([&](CompareOp o) {
        HostTensor t = resultTensor(op);
        for (int64_t i = 0; i < t.numel(); ++i)
          t.data[i] = compare(o.getPredicate(), in[0]->data[i], in[1]->data[i]);
        out.push_back(std::move(t));
        return success();
      })
      .Case<ReduceOp>([&](auto o) { return reduce(o, in, out); })
      .Case<SoftmaxOp>([&](SoftmaxOp o) {
        return softmax<false>(op, o.getDimAttr().getInt(), in, out);
      })
      .Case<LogSoftmaxOp>([&](LogSoftmaxOp o) {
        return softmax<true>(op, o.getDimAttr().getInt(), in, out);
      })
      .Case<AllFiniteOp>([&](auto) {
        HostTensor t = resultTensor(op);
        bool finite = true;
        for (const HostTensor *x : in)
          for (double v : x->data)
            finite &= std::isfinite(v);
        t.data[0] = finite;
        out.push_back(std::move(t));
        return success();
      })
      .Case<AllReduceOp>([&](auto) { return singleRank(op, 1, in, out); })
      .Case<ReduceScatterOp, AllGatherOp, AllToAllOp>([&](auto o) {
        return singleRank(op, o.getGroupSizeAttr().getInt(), in, out);
      })
      .Default([](Operation *) { return std::nullopt; });
}
