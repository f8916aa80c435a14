//===- Dsv3Ops.cpp - verifiers and type inference of dsv3 ops -------------===//
//
// Every constraint an op's description states is checked here, by the
// verifier or by result-type inference (which the verifier also runs).
// Messages name the operand or attribute at fault and the rule it breaks.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// Ranked tensor type of `v`, or null when `v` is absent or not a tensor.
RankedTensorType rankedOf(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

/// Checks that `v` is a ranked tensor; reports `what` otherwise.
FailureOr<RankedTensorType> requireRanked(std::optional<Location> loc,
                                          Value v, StringRef what) {
  if (auto t = rankedOf(v))
    return t;
  (void)emitOptionalError(loc, what, " must be a ranked tensor");
  return failure();
}

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os);
  os << "]";
  return s;
}

/// Accepts `dim` in [0, rank).
LogicalResult checkDim(std::optional<Location> loc, int64_t dim, int64_t rank,
                       StringRef name) {
  if (dim < 0 || dim >= rank)
    return emitOptionalError(loc, name, " ", dim, " is out of range for rank ",
                             rank);
  return success();
}

Type f32(MLIRContext *ctx) { return Float32Type::get(ctx); }

/// Losses, gate weights and scores are f32, or f64 when their input is
/// (reference checks run in f64).
Type accumulatorType(Type input) {
  return input.isF64() ? input : Float32Type::get(input.getContext());
}
Type i32(MLIRContext *ctx) { return IntegerType::get(ctx, 32); }

/// Number of 128-wide tiles covering `n`.
int64_t tiles128(int64_t n) { return (n + 127) / 128; }

/// Scale shape of `dsv3.quantize` for `shape` under `layout`, or failure.
FailureOr<SmallVector<int64_t>> scaleShape(std::optional<Location> loc,
                                           ArrayRef<int64_t> shape,
                                           ScaleLayout layout) {
  if (shape.empty()) {
    (void)emitOptionalError(loc, "quantized tensors need rank >= 1");
    return failure();
  }
  if (layout == ScaleLayout::block_128x128 && shape.size() < 2) {
    (void)emitOptionalError(loc,
                            "block_128x128 scales need rank >= 2, got "
                            "rank ",
                            shape.size());
    return failure();
  }
  return getScaleShape(shape, layout);
}

} // namespace

SmallVector<int64_t> mlir::dsv3::getScaleShape(ArrayRef<int64_t> shape,
                                               ScaleLayout layout) {
  SmallVector<int64_t> s(shape);
  s.back() = tiles128(s.back());
  // Blocks over the last two dimensions, one set per leading index (per
  // expert of a stacked weight).
  if (layout == ScaleLayout::block_128x128)
    s[s.size() - 2] = tiles128(s[s.size() - 2]);
  return s;
}

//===----------------------------------------------------------------------===//
// Tensor basics
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult ReshapeOp::verify() {
  auto in = getInput().getType(), out = getResult().getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("element type changes from ")
           << in.getElementType() << " to " << out.getElementType()
           << "; use dsv3.cast";
  if (in.getNumElements() != out.getNumElements())
    return emitOpError("element count changes from ")
           << in.getNumElements() << " to " << out.getNumElements();
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  ArrayRef<int64_t> perm = adaptor.getPerm();
  int64_t rank = in->getRank();
  if (static_cast<int64_t>(perm.size()) != rank)
    return emitOptionalError(loc, "perm has ", perm.size(),
                             " entries for an input of rank ", rank);
  SmallVector<bool> seen(rank, false);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p])
      return emitOptionalError(loc, "perm ", shapeStr(perm),
                               " is not a permutation of [0, ", rank, ")");
    seen[p] = true;
    shape.push_back(in->getDimSize(p));
  }
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

LogicalResult BroadcastOp::verify() {
  auto in = getInput().getType(), out = getResult().getType();
  ArrayRef<int64_t> dims = getDims();
  if (in.getElementType() != out.getElementType())
    return emitOpError("element type changes from ")
           << in.getElementType() << " to " << out.getElementType();
  if (static_cast<int64_t>(dims.size()) != in.getRank())
    return emitOpError("dims has ")
           << dims.size() << " entries for an input of rank " << in.getRank();
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= out.getRank())
      return emitOpError("dims[") << i << "] = " << d
                                  << " is out of range for result rank "
                                  << out.getRank();
    if (i > 0 && d <= dims[i - 1])
      return emitOpError("dims must be strictly increasing, got ")
             << shapeStr(dims);
    int64_t inSize = in.getDimSize(i), outSize = out.getDimSize(d);
    if (inSize != 1 && inSize != outSize)
      return emitOpError("input dimension ")
             << i << " (size " << inSize << ") cannot broadcast to result "
             << "dimension " << d << " (size " << outSize << ")";
  }
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  ArrayRef<int64_t> start = adaptor.getStart(), limit = adaptor.getLimit();
  SmallVector<int64_t> strides(in->getRank(), 1);
  if (auto s = adaptor.getStrides())
    strides.assign(s->begin(), s->end());
  int64_t rank = in->getRank();
  if (static_cast<int64_t>(start.size()) != rank ||
      static_cast<int64_t>(limit.size()) != rank ||
      static_cast<int64_t>(strides.size()) != rank)
    return emitOptionalError(loc, "start, limit and strides need one entry "
                                  "per input dimension (",
                             rank, ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (strides[d] < 1)
      return emitOptionalError(loc, "strides[", d, "] = ", strides[d],
                               " must be >= 1");
    if (start[d] < 0 || start[d] > limit[d] || limit[d] > in->getDimSize(d))
      return emitOptionalError(loc, "dimension ", d, ": need 0 <= start (",
                               start[d], ") <= limit (", limit[d],
                               ") <= size (", in->getDimSize(d), ")");
    shape.push_back((limit[d] - start[d] + strides[d] - 1) / strides[d]);
  }
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return emitOptionalError(loc, "needs at least one input");
  auto first = requireRanked(loc, inputs.front(), "input 0");
  if (failed(first))
    return failure();
  int64_t dim = adaptor.getDim();
  if (failed(checkDim(loc, dim, first->getRank(), "dim")))
    return failure();
  SmallVector<int64_t> shape(first->getShape());
  for (auto [i, v] : llvm::enumerate(inputs.drop_front())) {
    auto t = requireRanked(loc, v, "input");
    if (failed(t))
      return failure();
    if (t->getElementType() != first->getElementType() ||
        t->getRank() != first->getRank())
      return emitOptionalError(loc, "input ", i + 1,
                               " differs from input 0 in rank or element type");
    for (int64_t d = 0; d < t->getRank(); ++d)
      if (d != dim && t->getDimSize(d) != shape[d])
        return emitOptionalError(loc, "input ", i + 1, " has size ",
                                 t->getDimSize(d), " in dimension ", d,
                                 ", input 0 has ", shape[d]);
    shape[dim] += t->getDimSize(dim);
  }
  results.push_back(RankedTensorType::get(shape, first->getElementType()));
  return success();
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  auto idx = requireRanked(loc, adaptor.getIndices(), "indices");
  if (failed(in) || failed(idx))
    return failure();
  int64_t dim = adaptor.getDim();
  if (failed(checkDim(loc, dim, in->getRank(), "dim")))
    return failure();
  SmallVector<int64_t> shape(in->getShape().take_front(dim));
  llvm::append_range(shape, idx->getShape());
  llvm::append_range(shape, in->getShape().drop_front(dim + 1));
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  ArrayRef<int64_t> dims = adaptor.getDims();
  if (dims.empty())
    return emitOptionalError(loc, "dims must name at least one dimension");
  SmallVector<bool> reduced(in->getRank(), false);
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (failed(checkDim(loc, d, in->getRank(), "reduced dimension")))
      return failure();
    if (i > 0 && d <= dims[i - 1])
      return emitOptionalError(loc, "dims must be strictly increasing, got ",
                               shapeStr(dims));
    reduced[d] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < in->getRank(); ++d)
    if (!reduced[d])
      shape.push_back(in->getDimSize(d));
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

template <typename OpTy>
static LogicalResult verifySoftmaxLike(OpTy op) {
  int64_t rank = op.getInput().getType().getRank();
  int64_t dim = op.getDimAttr().getInt();
  if (dim < 0 || dim >= rank)
    return op.emitOpError("dim ") << dim << " is out of range for rank " << rank;
  return success();
}
LogicalResult SoftmaxOp::verify() { return verifySoftmaxLike(*this); }
LogicalResult LogSoftmaxOp::verify() { return verifySoftmaxLike(*this); }

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto table = requireRanked(loc, adaptor.getTable(), "table");
  auto ids = requireRanked(loc, adaptor.getIds(), "ids");
  if (failed(table) || failed(ids))
    return failure();
  if (table->getRank() != 2)
    return emitOptionalError(loc, "table must be [vocab, hidden], got rank ",
                             table->getRank());
  SmallVector<int64_t> shape(ids->getShape());
  shape.push_back(table->getDimSize(1));
  results.push_back(RankedTensorType::get(shape, table->getElementType()));
  return success();
}

LogicalResult RmsNormOp::verify() {
  auto in = getInput().getType(), w = getWeight().getType();
  if (in.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (w.getRank() != 1 || w.getDimSize(0) != in.getShape().back())
    return emitOpError("weight must be [")
           << in.getShape().back() << "] (the last input dimension), got "
           << shapeStr(w.getShape());
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be positive, got ")
           << getEps().convertToDouble();
  return success();
}

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto lhs = requireRanked(loc, adaptor.getLhs(), "lhs");
  auto rhs = requireRanked(loc, adaptor.getRhs(), "rhs");
  if (failed(lhs) || failed(rhs))
    return failure();
  if (lhs->getRank() < 2 || rhs->getRank() < 2)
    return emitOptionalError(loc, "operands need rank >= 2, got ",
                             lhs->getRank(), " and ", rhs->getRank());
  if (lhs->getElementType() != rhs->getElementType())
    return emitOptionalError(loc, "operand element types differ: ",
                             lhs->getElementType(), " vs ",
                             rhs->getElementType());
  ArrayRef<int64_t> ls = lhs->getShape(), rs = rhs->getShape();
  ArrayRef<int64_t> lb = ls.drop_back(2), rb = rs.drop_back(2);
  if (rs.size() != 2 && lb != rb)
    return emitOptionalError(loc, "batch dimensions differ: ", shapeStr(lb),
                             " vs ", shapeStr(rb));
  int64_t m = ls[ls.size() - 2], k = ls.back();
  if (adaptor.getTransposeLhs())
    std::swap(m, k);
  int64_t k2 = rs[rs.size() - 2], n = rs.back();
  if (adaptor.getTransposeRhs())
    std::swap(k2, n);
  if (k != k2)
    return emitOptionalError(loc, "contracting dimensions differ: lhs has K = ",
                             k, ", rhs has K = ", k2);
  SmallVector<int64_t> shape(lb);
  shape.push_back(m);
  shape.push_back(n);
  results.push_back(RankedTensorType::get(shape, lhs->getElementType()));
  return success();
}

std::vector<double> RopeOp::getFrequencies(double &scale) {
  int64_t dim = getInput().getType().getShape().back();
  double theta = getTheta().convertToDouble();
  double factor = getYarnFactor().convertToDouble();
  std::vector<double> freq(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i)
    freq[i] = 1.0 / std::pow(theta, 2.0 * i / dim);
  scale = 1.0;
  if (factor <= 1.0)
    return freq;
  auto mscale = [&](double m) { return 0.1 * m * std::log(factor) + 1.0; };
  double original =
      static_cast<double>(getYarnOriginalMaxPositionAttr().getInt());
  auto correctionDim = [&](double rotations) {
    return dim * std::log(original / (rotations * 2 * M_PI)) /
           (2 * std::log(theta));
  };
  double low = std::max(
      0.0, std::floor(correctionDim(getYarnBetaFast().convertToDouble())));
  double high = std::min(
      static_cast<double>(dim - 1),
      std::ceil(correctionDim(getYarnBetaSlow().convertToDouble())));
  if (low == high)
    high += 0.001;
  for (int64_t i = 0; i < dim / 2; ++i) {
    double ramp = std::min(1.0, std::max(0.0, (i - low) / (high - low)));
    double extrapolate = 1.0 - ramp;
    freq[i] = freq[i] / factor * (1 - extrapolate) + freq[i] * extrapolate;
  }
  scale = mscale(getYarnMscale().convertToDouble()) /
          mscale(getYarnMscaleAllDim().convertToDouble());
  return freq;
}

LogicalResult RopeOp::verify() {
  auto in = getInput().getType(), pos = getPositions().getType();
  if (in.getRank() != 3 && in.getRank() != 4)
    return emitOpError("input must be [batch, seq, D] or "
                       "[batch, seq, heads, D], got rank ")
           << in.getRank();
  if (in.getShape().back() % 2 != 0)
    return emitOpError("rotary dimension must be even, got ")
           << in.getShape().back();
  if (pos.getRank() != 2 || pos.getShape() != in.getShape().take_front(2))
    return emitOpError("positions must be [batch, seq] = ")
           << shapeStr(in.getShape().take_front(2)) << ", got "
           << shapeStr(pos.getShape());
  if (!(getTheta().convertToDouble() > 0.0))
    return emitOpError("theta must be positive");
  if (getYarnFactor().convertToDouble() < 1.0)
    return emitOpError("yarn_factor must be >= 1, got ")
           << getYarnFactor().convertToDouble();
  if (getYarnFactor().convertToDouble() > 1.0 &&
      getYarnOriginalMaxPositionAttr().getInt() <= 0)
    return emitOpError("yarn_factor > 1 needs yarn_original_max_position > 0");
  if (getYarnBetaFast().convertToDouble() <=
      getYarnBetaSlow().convertToDouble())
    return emitOpError("yarn_beta_fast must exceed yarn_beta_slow");
  return success();
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto q = requireRanked(loc, adaptor.getQuery(), "query");
  auto k = requireRanked(loc, adaptor.getKey(), "key");
  auto v = requireRanked(loc, adaptor.getValue(), "value");
  if (failed(q) || failed(k) || failed(v))
    return failure();
  if (q->getRank() != 4 || k->getRank() != 4 || v->getRank() != 4)
    return emitOptionalError(loc, "query, key and value must be "
                                  "[batch, seq, heads, head_dim]");
  ArrayRef<int64_t> qs = q->getShape(), ks = k->getShape(), vs = v->getShape();
  if (qs[0] != ks[0] || qs[0] != vs[0] || qs[1] != ks[1] || qs[1] != vs[1])
    return emitOptionalError(loc, "batch and sequence sizes differ: query ",
                             shapeStr(qs), ", key ", shapeStr(ks), ", value ",
                             shapeStr(vs));
  if (ks[2] != vs[2])
    return emitOptionalError(loc, "key and value head counts differ: ", ks[2],
                             " vs ", vs[2]);
  if (ks[2] == 0 || qs[2] % ks[2] != 0)
    return emitOptionalError(loc, "query heads (", qs[2],
                             ") must be a multiple of key/value heads (", ks[2],
                             ")");
  if (qs[3] != ks[3])
    return emitOptionalError(loc, "query and key head dims differ: ", qs[3],
                             " vs ", ks[3]);
  if (q->getElementType() != k->getElementType() ||
      q->getElementType() != v->getElementType())
    return emitOptionalError(loc, "query, key and value element types differ");
  if (!(adaptor.getScale().convertToDouble() > 0.0))
    return emitOptionalError(loc, "scale must be positive");
  if (Value seg = adaptor.getSegmentIds()) {
    auto s = rankedOf(seg);
    if (!s || s.getShape() != qs.take_front(2))
      return emitOptionalError(loc, "segment ids must be [batch, seq] = ",
                               shapeStr(qs.take_front(2)));
  }
  results.push_back(RankedTensorType::get({qs[0], qs[1], qs[2], vs[3]},
                                          q->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Mixture of experts
//===----------------------------------------------------------------------===//

LogicalResult RouterOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto logits = requireRanked(loc, adaptor.getLogits(), "logits");
  if (failed(logits))
    return failure();
  if (logits->getRank() != 2)
    return emitOptionalError(loc, "logits must be [tokens, experts], got rank ",
                             logits->getRank());
  int64_t t = logits->getDimSize(0), e = logits->getDimSize(1);
  int64_t k = adaptor.getTopK();
  if (k < 1 || k > e)
    return emitOptionalError(loc, "top_k = ", k, " must be in [1, ", e,
                             "] (the number of experts)");
  Type acc = accumulatorType(logits->getElementType());
  results.push_back(RankedTensorType::get({t, k}, acc));
  results.push_back(RankedTensorType::get({t, k}, i32(ctx)));
  results.push_back(RankedTensorType::get({t, e}, acc));
  return success();
}

LogicalResult RouterOp::verify() {
  // The inferred types are checked after this verifier: the rank has not
  // been checked yet.
  auto logits = getLogits().getType();
  if (logits.getRank() != 2)
    return emitOpError("logits must be [tokens, experts], got rank ")
           << logits.getRank();
  int64_t e = logits.getDimSize(1);
  int64_t k = getTopK(), groups = getNGroup(), keep = getTopkGroup();
  if (k < 1 || k > e)
    return emitOpError("top_k = ")
           << k << " must be in [1, " << e << "] (the number of experts)";
  if (groups < 1 || e % groups != 0)
    return emitOpError("n_group = ")
           << groups << " must divide the number of experts " << e;
  if (keep < 1 || keep > groups)
    return emitOpError("topk_group = ")
           << keep << " must be in [1, " << groups << "] (n_group)";
  if (k > keep * (e / groups))
    return emitOpError("top_k = ")
           << k << " exceeds the " << keep * (e / groups)
           << " experts in the topk_group groups kept";
  if (!(getRouteScale().convertToDouble() > 0.0))
    return emitOpError("route_scale must be positive");
  if (Value bias = getBias()) {
    auto b = cast<RankedTensorType>(bias.getType());
    if (b.getRank() != 1 || b.getDimSize(0) != e)
      return emitOpError("bias must be [") << e << "] (one per expert)";
  }
  return success();
}

// Default-valued attributes are not yet filled in while an op is being
// parsed, so inference reads them through these.
static CapacityPolicy policyOf(CapacityPolicyAttr attr) {
  return attr ? attr.getValue() : CapacityPolicy::dropless;
}
static int64_t capacityOf(IntegerAttr attr) { return attr ? attr.getInt() : 0; }

/// Rows that dispatch produces for `copies` token copies under `policy`.
static FailureOr<int64_t> dispatchRows(std::optional<Location> loc,
                                       int64_t copies, int64_t numExperts,
                                       CapacityPolicy policy,
                                       int64_t capacity) {
  if (numExperts < 1)
    {
      (void)emitOptionalError(loc, "num_experts must be >= 1, got ",
                             numExperts);
      return failure();
    }
  if (policy == CapacityPolicy::dropless) {
    if (capacity != 0)
      {
        (void)emitOptionalError(loc, "capacity is only meaningful with the "
                                    "'drop' policy");
        return failure();
      }
    return copies;
  }
  if (capacity < 1)
    {
      (void)emitOptionalError(loc, "the 'drop' policy needs capacity >= 1, "
                                  "got ",
                             capacity);
      return failure();
    }
  return numExperts * capacity;
}

LogicalResult MoeDispatchOp::inferReturnTypes(MLIRContext *ctx,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &results) {
  auto x = requireRanked(loc, adaptor.getInput(), "input");
  auto idx = requireRanked(loc, adaptor.getIndices(), "indices");
  if (failed(x) || failed(idx))
    return failure();
  if (x->getRank() != 2 || idx->getRank() != 2)
    return emitOptionalError(loc, "input must be [tokens, hidden] and "
                                  "indices [tokens, top_k]");
  if (x->getDimSize(0) != idx->getDimSize(0))
    return emitOptionalError(loc, "input has ", x->getDimSize(0),
                             " tokens but indices has ", idx->getDimSize(0));
  FailureOr<int64_t> rows =
      dispatchRows(loc, idx->getNumElements(), adaptor.getNumExperts(),
                   policyOf(adaptor.getPolicyAttr()),
                   capacityOf(adaptor.getCapacityAttr()));
  if (failed(rows))
    return failure();
  results.push_back(
      RankedTensorType::get({*rows, x->getDimSize(1)}, x->getElementType()));
  results.push_back(RankedTensorType::get(
      {adaptor.getNumExpertsAttr().getInt()}, i32(ctx)));
  return success();
}

LogicalResult GroupedMatmulOp::inferReturnTypes(MLIRContext *,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &results) {
  auto x = requireRanked(loc, adaptor.getInput(), "input");
  auto w = requireRanked(loc, adaptor.getWeight(), "weight");
  auto g = requireRanked(loc, adaptor.getGroupSizes(), "group_sizes");
  if (failed(x) || failed(w) || failed(g))
    return failure();
  if (x->getRank() != 2 || w->getRank() != 3)
    return emitOptionalError(loc, "input must be [rows, K] and weight "
                                  "[experts, K, N]");
  if (x->getElementType() != w->getElementType())
    return emitOptionalError(loc, "input and weight element types differ");
  int64_t k = w->getDimSize(1), n = w->getDimSize(2);
  if (adaptor.getTransposeRhs())
    std::swap(k, n);
  if (x->getDimSize(1) != k)
    return emitOptionalError(loc, "contracting dimensions differ: input has "
                                  "K = ",
                             x->getDimSize(1), ", weight has K = ", k);
  if (g->getRank() != 1 || g->getDimSize(0) != w->getDimSize(0))
    return emitOptionalError(loc, "group_sizes must be [", w->getDimSize(0),
                             "] (one per expert)");
  results.push_back(
      RankedTensorType::get({x->getDimSize(0), n}, x->getElementType()));
  return success();
}

LogicalResult MoeCombineOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &results) {
  auto rows = requireRanked(loc, adaptor.getRows(), "rows");
  auto w = requireRanked(loc, adaptor.getWeights(), "weights");
  auto idx = requireRanked(loc, adaptor.getIndices(), "indices");
  if (failed(rows) || failed(w) || failed(idx))
    return failure();
  if (rows->getRank() != 2 || w->getRank() != 2 ||
      w->getShape() != idx->getShape())
    return emitOptionalError(loc, "rows must be [rows, hidden], weights and "
                                  "indices the same [tokens, top_k]");
  FailureOr<int64_t> expected =
      dispatchRows(loc, idx->getNumElements(), adaptor.getNumExperts(),
                   policyOf(adaptor.getPolicyAttr()),
                   capacityOf(adaptor.getCapacityAttr()));
  if (failed(expected))
    return failure();
  if (rows->getDimSize(0) != *expected)
    return emitOptionalError(loc, "rows has ", rows->getDimSize(0),
                             " rows but the dispatch produces ", *expected);
  results.push_back(RankedTensorType::get(
      {w->getDimSize(0), rows->getDimSize(1)}, rows->getElementType()));
  return success();
}

LogicalResult ExpertLoadOp::inferReturnTypes(MLIRContext *ctx,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &results) {
  int64_t experts = adaptor.getNumExpertsAttr().getInt();
  if (experts < 1)
    return emitOptionalError(loc, "num_experts must be >= 1, got ", experts);
  results.push_back(RankedTensorType::get({experts}, f32(ctx)));
  return success();
}

LogicalResult BalanceLossOp::inferReturnTypes(MLIRContext *ctx,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &results) {
  auto s = requireRanked(loc, adaptor.getScores(), "scores");
  auto idx = requireRanked(loc, adaptor.getIndices(), "indices");
  if (failed(s) || failed(idx))
    return failure();
  if (s->getRank() != 3 || idx->getRank() != 3 ||
      s->getShape().take_front(2) != idx->getShape().take_front(2))
    return emitOptionalError(loc, "scores must be [batch, seq, experts] and "
                                  "indices [batch, seq, top_k]");
  if (adaptor.getAlpha().convertToDouble() < 0.0)
    return emitOptionalError(loc, "alpha must be >= 0");
  results.push_back(
      RankedTensorType::get({}, accumulatorType(s->getElementType())));
  return success();
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *ctx,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &results) {
  auto logits = requireRanked(loc, adaptor.getLogits(), "logits");
  auto targets = requireRanked(loc, adaptor.getTargets(), "targets");
  if (failed(logits) || failed(targets))
    return failure();
  if (logits->getRank() < 1 ||
      logits->getShape().drop_back() != targets->getShape())
    return emitOptionalError(loc, "targets must have the logits' shape "
                                  "without the vocabulary dimension, i.e. ",
                             shapeStr(logits->getShape().drop_back()));
  if (Value mask = adaptor.getMask()) {
    auto m = rankedOf(mask);
    if (!m || m.getShape() != targets->getShape())
      return emitOptionalError(loc, "mask must have the targets' shape ",
                               shapeStr(targets->getShape()));
  }
  results.push_back(
      RankedTensorType::get({}, accumulatorType(logits->getElementType())));
  return success();
}

//===----------------------------------------------------------------------===//
// Precision
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  auto in = getInput().getType();
  if (in.getShape() != getResult().getType().getShape())
    return emitOpError("result shape ")
           << shapeStr(getResult().getType().getShape())
           << " differs from input shape " << shapeStr(in.getShape());
  if (isa<Float8E4M3FNType, Float8E5M2Type>(in.getElementType()))
    return emitOpError("input is already fp8");
  auto expected = scaleShape(getLoc(), in.getShape(), getLayout());
  if (failed(expected))
    return failure();
  if (getScales().getType().getShape() != ArrayRef<int64_t>(*expected))
    return emitOpError("scales must be ")
           << shapeStr(*expected) << " for " << stringifyScaleLayout(getLayout())
           << ", got " << shapeStr(getScales().getType().getShape());
  return success();
}

LogicalResult DequantizeOp::verify() {
  auto in = getInput().getType();
  SmallVector<int64_t> shape(in.getShape());
  if (getTransposed()) {
    if (shape.size() < 2)
      return emitOpError("transposed needs rank >= 2, got rank ")
             << shape.size();
    std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  }
  if (ArrayRef<int64_t>(shape) != getResult().getType().getShape())
    return emitOpError("result shape ")
           << shapeStr(getResult().getType().getShape())
           << (getTransposed() ? " is not the transposed input shape "
                               : " differs from input shape ")
           << shapeStr(shape);
  if (isa<Float8E4M3FNType, Float8E5M2Type>(getResult().getType().getElementType()))
    return emitOpError("result must be a wider float than fp8");
  auto expected = scaleShape(getLoc(), in.getShape(), getLayout());
  if (failed(expected))
    return failure();
  if (getScales().getType().getShape() != ArrayRef<int64_t>(*expected))
    return emitOpError("scales must be ")
           << shapeStr(*expected) << " for " << stringifyScaleLayout(getLayout())
           << ", got " << shapeStr(getScales().getType().getShape());
  return success();
}

LogicalResult TransposeQuantizedOp::verify() {
  auto in = getInput().getType();
  auto out = getResult().getType();
  if (in.getRank() != 2)
    return emitOpError("input must be rank 2, got rank ") << in.getRank();
  int64_t m = in.getDimSize(0), k = in.getDimSize(1);
  if (out.getShape() != ArrayRef<int64_t>{k, m})
    return emitOpError("result must be the transpose [")
           << k << ", " << m << "], got " << shapeStr(out.getShape());
  if (out.getElementType() != in.getElementType())
    return emitOpError("result must keep the input's fp8 type");
  SmallVector<int64_t> scales =
      getScaleShape(in.getShape(), ScaleLayout::tile_1x128);
  SmallVector<int64_t> resultScales =
      getScaleShape(out.getShape(), ScaleLayout::tile_1x128);
  if (getScales().getType().getShape() != ArrayRef<int64_t>(scales))
    return emitOpError("scales must be ")
           << shapeStr(scales) << " (1x128 tiles), got "
           << shapeStr(getScales().getType().getShape());
  if (getResultScales().getType().getShape() != ArrayRef<int64_t>(resultScales))
    return emitOpError("result scales must be ")
           << shapeStr(resultScales) << " (1x128 tiles of the transpose), got "
           << shapeStr(getResultScales().getType().getShape());
  return success();
}

LogicalResult ScaledMatmulOp::verify() {
  auto a = getLhs().getType(), b = getRhs().getType();
  if (a.getRank() != 2 || b.getRank() != 2)
    return emitOpError("lhs and rhs must be rank 2");
  int64_t m = a.getDimSize(0), k = a.getDimSize(1);
  int64_t k2 = b.getDimSize(0), n = b.getDimSize(1);
  if (getTransposeRhs())
    std::swap(k2, n);
  if (k != k2)
    return emitOpError("contracting dimensions differ: lhs has K = ")
           << k << ", rhs has K = " << k2;
  SmallVector<int64_t> as{m, tiles128(k)};
  SmallVector<int64_t> bs{tiles128(b.getDimSize(0)), tiles128(b.getDimSize(1))};
  if (getLhsScales().getType().getShape() != ArrayRef<int64_t>(as))
    return emitOpError("lhs_scales must be ")
           << shapeStr(as) << " (1x128 tiles), got "
           << shapeStr(getLhsScales().getType().getShape());
  if (getRhsScales().getType().getShape() != ArrayRef<int64_t>(bs))
    return emitOpError("rhs_scales must be ")
           << shapeStr(bs) << " (128x128 blocks), got "
           << shapeStr(getRhsScales().getType().getShape());
  if (getResult().getType().getShape() != ArrayRef<int64_t>{m, n})
    return emitOpError("result must be [")
           << m << ", " << n << "], got "
           << shapeStr(getResult().getType().getShape());
  return success();
}

LogicalResult FakeQuantOp::verify() {
  int64_t bits = getBitsAttr().getInt();
  if (bits < 2 || bits > 8)
    return emitOpError("bits must be in [2, 8], got ") << bits;
  return success();
}

LogicalResult AllFiniteOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  if (adaptor.getInputs().empty())
    return emitOptionalError(loc, "needs at least one input");
  results.push_back(RankedTensorType::get({}, IntegerType::get(ctx, 1)));
  return success();
}

LogicalResult UpdateLossScaleOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  results.push_back(adaptor.getScale().getType());
  results.push_back(adaptor.getGoodSteps().getType());
  return success();
}

LogicalResult UpdateLossScaleOp::verify() {
  if (!(getGrowth().convertToDouble() > 1.0))
    return emitOpError("growth must be > 1");
  double backoff = getBackoff().convertToDouble();
  if (!(backoff > 0.0 && backoff < 1.0))
    return emitOpError("backoff must be in (0, 1), got ") << backoff;
  if (getGrowthIntervalAttr().getInt() < 1)
    return emitOpError("growth_interval must be >= 1");
  return success();
}

//===----------------------------------------------------------------------===//
// 2:4 sparsity
//===----------------------------------------------------------------------===//

/// Checks that the last dimension of `t` holds whole groups of four.
static LogicalResult checkGroupsOfFour(std::optional<Location> loc,
                                       RankedTensorType t, StringRef what) {
  if (t.getRank() < 1 || t.getShape().back() % 4 != 0)
    return emitOptionalError(loc, what,
                             " needs a last dimension that is a multiple of "
                             "4, got ",
                             shapeStr(t.getShape()));
  return success();
}

LogicalResult Prune24Op::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in) || failed(checkGroupsOfFour(loc, *in, "2:4 pruning")))
    return failure();
  results.push_back(
      RankedTensorType::get(in->getShape(), IntegerType::get(ctx, 1)));
  return success();
}

LogicalResult MagnitudeMaskOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  results.push_back(
      RankedTensorType::get(in->getShape(), IntegerType::get(ctx, 1)));
  return success();
}

LogicalResult MagnitudeMaskOp::verify() {
  int64_t n = getBatchDims(), rank = getInput().getType().getRank();
  if (rank < 1)
    return emitOpError("needs an input of rank >= 1");
  if (n < 0 || n >= rank)
    return emitOpError("batch_dims must be in [0, ") << rank << "), got "
                                                     << n;
  return success();
}

LogicalResult Compress24Op::inferReturnTypes(MLIRContext *ctx,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in) || failed(checkGroupsOfFour(loc, *in, "2:4 compression")))
    return failure();
  SmallVector<int64_t> shape(in->getShape());
  shape.back() /= 2;
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  results.push_back(RankedTensorType::get(shape, IntegerType::get(ctx, 8)));
  return success();
}

LogicalResult Decompress24Op::inferReturnTypes(MLIRContext *,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &results) {
  auto v = requireRanked(loc, adaptor.getValues(), "values");
  auto i = requireRanked(loc, adaptor.getIndices(), "indices");
  if (failed(v) || failed(i))
    return failure();
  if (v->getShape() != i->getShape())
    return emitOptionalError(loc, "values ", shapeStr(v->getShape()),
                             " and indices ", shapeStr(i->getShape()),
                             " differ in shape");
  if (v->getRank() < 1 || v->getShape().back() % 2 != 0)
    return emitOptionalError(loc, "packed last dimension must be even");
  SmallVector<int64_t> shape(v->getShape());
  shape.back() *= 2;
  results.push_back(RankedTensorType::get(shape, v->getElementType()));
  return success();
}

LogicalResult SparseMatmulOp::inferReturnTypes(MLIRContext *,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &results) {
  auto x = requireRanked(loc, adaptor.getLhs(), "lhs");
  auto v = requireRanked(loc, adaptor.getValues(), "values");
  auto i = requireRanked(loc, adaptor.getIndices(), "indices");
  if (failed(x) || failed(v) || failed(i))
    return failure();
  if (x->getRank() < 2 || v->getRank() != 2 || v->getShape() != i->getShape())
    return emitOptionalError(loc, "lhs must be [..., M, K], values and "
                                  "indices the same [N, K/2]");
  int64_t k = x->getShape().back();
  if (k % 4 != 0 || v->getDimSize(1) * 2 != k)
    return emitOptionalError(loc, "values must hold K/2 = ", k / 2,
                             " entries per row for K = ", k,
                             " (a multiple of 4), got ", v->getDimSize(1));
  if (x->getElementType() != v->getElementType())
    return emitOptionalError(loc, "lhs and values element types differ");
  SmallVector<int64_t> shape(x->getShape().drop_back());
  shape.push_back(v->getDimSize(0));
  results.push_back(RankedTensorType::get(shape, x->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

static LogicalResult checkGroup(std::optional<Location> loc, StringRef group,
                                std::optional<int64_t> size = std::nullopt) {
  if (group.empty())
    return emitOptionalError(loc, "group must name a mesh axis (e.g. \"dp\")");
  if (size && *size < 1)
    return emitOptionalError(loc, "group_size must be >= 1, got ", *size);
  return success();
}

LogicalResult AllReduceOp::verify() { return checkGroup(getLoc(), getGroup()); }

LogicalResult ReduceScatterOp::inferReturnTypes(MLIRContext *,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in) ||
      failed(checkGroup(loc, adaptor.getGroup(), adaptor.getGroupSize())) ||
      failed(checkDim(loc, adaptor.getDim(), in->getRank(), "dim")))
    return failure();
  SmallVector<int64_t> shape(in->getShape());
  int64_t n = adaptor.getGroupSize();
  if (shape[adaptor.getDim()] % n != 0)
    return emitOptionalError(loc, "dimension ", adaptor.getDim(), " (size ",
                             shape[adaptor.getDim()],
                             ") is not divisible by group_size ", n);
  shape[adaptor.getDim()] /= n;
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

LogicalResult AllGatherOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in) ||
      failed(checkGroup(loc, adaptor.getGroup(), adaptor.getGroupSize())) ||
      failed(checkDim(loc, adaptor.getDim(), in->getRank(), "dim")))
    return failure();
  SmallVector<int64_t> shape(in->getShape());
  shape[adaptor.getDim()] *= adaptor.getGroupSize();
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

LogicalResult AllToAllOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> loc,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in) ||
      failed(checkGroup(loc, adaptor.getGroup(), adaptor.getGroupSize())) ||
      failed(checkDim(loc, adaptor.getSplitDim(), in->getRank(), "split_dim")) ||
      failed(checkDim(loc, adaptor.getConcatDim(), in->getRank(), "concat_dim")))
    return failure();
  SmallVector<int64_t> shape(in->getShape());
  int64_t n = adaptor.getGroupSize();
  if (shape[adaptor.getSplitDim()] % n != 0)
    return emitOptionalError(loc, "split dimension ", adaptor.getSplitDim(),
                             " (size ", shape[adaptor.getSplitDim()],
                             ") is not divisible by group_size ", n);
  shape[adaptor.getSplitDim()] /= n;
  shape[adaptor.getConcatDim()] *= n;
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

LogicalResult AdamWOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  auto p = requireRanked(loc, adaptor.getParam(), "param");
  auto g = requireRanked(loc, adaptor.getGrad(), "grad");
  auto m = requireRanked(loc, adaptor.getM(), "m");
  auto v = requireRanked(loc, adaptor.getV(), "v");
  if (failed(p) || failed(g) || failed(m) || failed(v))
    return failure();
  for (auto [name, t] : {std::pair{"grad", *g}, {"m", *m}, {"v", *v}})
    if (t.getShape() != p->getShape())
      return emitOptionalError(loc, name, " has shape ", shapeStr(t.getShape()),
                               ", the parameter ", shapeStr(p->getShape()));
  results.append({*p, *m, *v});
  return success();
}

LogicalResult AdamWOp::verify() {
  double b1 = getBeta1().convertToDouble(), b2 = getBeta2().convertToDouble();
  if (!(b1 >= 0.0 && b1 < 1.0) || !(b2 >= 0.0 && b2 < 1.0))
    return emitOpError("beta1 and beta2 must be in [0, 1), got ")
           << b1 << " and " << b2;
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be positive");
  if (getWeightDecay().convertToDouble() < 0.0)
    return emitOpError("weight_decay must be >= 0");
  return success();
}

LogicalResult ClipByGlobalNormOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  if (adaptor.getInputs().empty())
    return emitOptionalError(loc, "needs at least one input");
  if (!(adaptor.getMaxNorm().convertToDouble() > 0.0))
    return emitOptionalError(loc, "max_norm must be positive, got ",
                             adaptor.getMaxNorm().convertToDouble());
  llvm::append_range(results, adaptor.getInputs().getTypes());
  results.push_back(RankedTensorType::get({}, f32(ctx)));
  return success();
}

LogicalResult LrScheduleOp::inferReturnTypes(MLIRContext *ctx,
                                             std::optional<Location>,
                                             Adaptor,
                                             SmallVectorImpl<Type> &results) {
  results.push_back(RankedTensorType::get({}, f32(ctx)));
  return success();
}

LogicalResult LrScheduleOp::verify() {
  double peak = getPeakLr().convertToDouble(),
         floor = getMinLr().convertToDouble();
  if (!(peak >= floor && floor >= 0.0))
    return emitOpError("need peak_lr (")
           << peak << ") >= min_lr (" << floor << ") >= 0";
  int64_t warmup = getWarmupSteps(), total = getTotalSteps();
  if (total < 1 || warmup < 0 || warmup > total)
    return emitOpError("need 0 <= warmup_steps (")
           << warmup << ") <= total_steps (" << total
           << ") and total_steps >= 1";
  return success();
}

LogicalResult UpdateRouterBiasOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  auto b = requireRanked(loc, adaptor.getBias(), "bias");
  auto l = requireRanked(loc, adaptor.getLoad(), "load");
  if (failed(b) || failed(l))
    return failure();
  if (b->getRank() != 1 || b->getShape() != l->getShape())
    return emitOptionalError(loc, "bias and load must both be [experts]");
  if (adaptor.getGamma().convertToDouble() < 0.0)
    return emitOptionalError(loc, "gamma must be >= 0");
  results.push_back(*b);
  return success();
}

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

LogicalResult FusionOp::verify() {
  Block &body = getBody().front();
  if (body.getArgumentTypes() != getInputs().getTypes())
    return emitOpError("body arguments must match the inputs' types");
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yielded types must match the results' types");
  return success();
}

//===----------------------------------------------------------------------===//
// Comparison, padding, scatter
//===----------------------------------------------------------------------===//

LogicalResult CompareOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto lhs = requireRanked(loc, adaptor.getLhs(), "lhs");
  if (failed(lhs))
    return failure();
  results.push_back(
      RankedTensorType::get(lhs->getShape(), IntegerType::get(ctx, 1)));
  return success();
}

LogicalResult PadOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &results) {
  auto in = requireRanked(loc, adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  int64_t rank = in->getRank();
  ArrayRef<int64_t> low = adaptor.getLow(), high = adaptor.getHigh();
  SmallVector<int64_t> interior(rank, 0);
  if (auto i = adaptor.getInterior())
    interior.assign(i->begin(), i->end());
  if (static_cast<int64_t>(low.size()) != rank ||
      static_cast<int64_t>(high.size()) != rank ||
      static_cast<int64_t>(interior.size()) != rank)
    return emitOptionalError(loc, "low, high and interior need one entry per "
                                  "input dimension (",
                             rank, ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (low[d] < 0 || high[d] < 0 || interior[d] < 0)
      return emitOptionalError(loc, "padding of dimension ", d,
                               " must be >= 0");
    int64_t size = in->getDimSize(d);
    shape.push_back(low[d] + size + std::max<int64_t>(size - 1, 0) * interior[d] +
                    high[d]);
  }
  results.push_back(RankedTensorType::get(shape, in->getElementType()));
  return success();
}

LogicalResult ScatterAddOp::verify() {
  auto out = getResult().getType();
  auto updates = getUpdates().getType();
  int64_t dim = getDimAttr().getInt();
  if (dim < 0 || dim >= out.getRank())
    return emitOpError("dim ") << dim << " is out of range for rank "
                               << out.getRank();
  if (out.getElementType() != updates.getElementType())
    return emitOpError("updates and result element types differ");
  SmallVector<int64_t> expected(out.getShape().take_front(dim));
  llvm::append_range(expected, getIndices().getType().getShape());
  llvm::append_range(expected, out.getShape().drop_front(dim + 1));
  if (updates.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("updates must be ")
           << shapeStr(expected) << " for this result and indices, got "
           << shapeStr(updates.getShape());
  return success();
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

LogicalResult RmsNormGradOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location>,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &results) {
  results.push_back(adaptor.getInput().getType());
  results.push_back(adaptor.getWeight().getType());
  return success();
}

LogicalResult AttentionGradOp::inferReturnTypes(MLIRContext *,
                                                std::optional<Location>,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &results) {
  results.push_back(adaptor.getQuery().getType());
  results.push_back(adaptor.getKey().getType());
  results.push_back(adaptor.getValue().getType());
  return success();
}

LogicalResult CrossEntropyGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  results.push_back(adaptor.getLogits().getType());
  return success();
}

LogicalResult RouterGradOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location>,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &results) {
  results.push_back(adaptor.getLogits().getType());
  return success();
}

LogicalResult MoeCombineGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  results.push_back(adaptor.getRows().getType());
  results.push_back(adaptor.getWeights().getType());
  return success();
}

LogicalResult GroupedMatmulWgradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  auto x = requireRanked(loc, adaptor.getInput(), "input");
  auto dy = requireRanked(loc, adaptor.getDResult(), "d_result");
  auto g = requireRanked(loc, adaptor.getGroupSizes(), "group_sizes");
  if (failed(x) || failed(dy) || failed(g))
    return failure();
  if (x->getRank() != 2 || dy->getRank() != 2 ||
      x->getDimSize(0) != dy->getDimSize(0) || g->getRank() != 1)
    return emitOptionalError(loc, "input must be [rows, K], d_result "
                                  "[rows, N] and group_sizes [experts]");
  int64_t e = g->getDimSize(0), k = x->getDimSize(1), n = dy->getDimSize(1);
  SmallVector<int64_t> shape = {e, k, n};
  if (adaptor.getTransposeRhs())
    shape = {e, n, k};
  results.push_back(RankedTensorType::get(shape, x->getElementType()));
  return success();
}

LogicalResult BalanceLossGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  results.push_back(adaptor.getScores().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// Ops whose result has the type of one operand
//===----------------------------------------------------------------------===//

#define DSV3_RESULT_TYPE_OF(OP, GETTER)                                        \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location>,   \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &results) {         \
    results.push_back(adaptor.GETTER().getType());                             \
    return success();                                                          \
  }
DSV3_RESULT_TYPE_OF(RmsNormOp, getInput)
DSV3_RESULT_TYPE_OF(RopeOp, getInput)
DSV3_RESULT_TYPE_OF(ScaleOp, getInput)
DSV3_RESULT_TYPE_OF(UnscaleOp, getInput)
DSV3_RESULT_TYPE_OF(SelectOp, getOnTrue)
#undef DSV3_RESULT_TYPE_OF

#define GET_OP_CLASSES
#include "dsv3/Dsv3Ops.cpp.inc"

bool mlir::dsv3::isLibraryAttention(Operation *op) {
  Value segments;
  double scale;
  auto read = [&](auto attention) {
    segments = attention.getSegmentIds();
    scale = attention.getScale().convertToDouble();
  };
  if (auto attention = dyn_cast<AttentionOp>(op))
    read(attention);
  else if (auto grad = dyn_cast<AttentionGradOp>(op))
    read(grad);
  else
    return false;
  // The command carries the scale as an f32.
  float narrowed = static_cast<float>(scale);
  if (!(narrowed > 0) || !std::isfinite(narrowed))
    return false;
  for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults())) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || !type.hasStaticShape() ||
        llvm::is_contained(type.getShape(), 0))
      return false;
    Type element = type.getElementType();
    if (v == segments ? !element.isInteger(32) && !element.isInteger(64)
                      : !element.isF32())
      return false;
  }
  return true;
}
