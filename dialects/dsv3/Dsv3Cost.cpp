//===- Dsv3Cost.cpp - FLOP and byte formulas of dsv3 ops ------------------===//
//
// The cost interface's defaults and every op-specific FLOP formula. The
// formulas are the ones the op descriptions document; keep them in step.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Dsv3Ops.h"

using namespace mlir;
using namespace mlir::dsv3;

#include "dsv3/Dsv3Interfaces.cpp.inc"

int64_t mlir::dsv3::getElementBytes(Type elementType) {
  return std::max<int64_t>(1, (elementType.getIntOrFloatBitWidth() + 7) / 8);
}

int64_t mlir::dsv3::getTensorBytes(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t || !t.hasStaticShape())
    return 0;
  return t.getNumElements() * getElementBytes(t.getElementType());
}

static int64_t numel(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements();
}

static int64_t dimSize(Value v, int64_t dim) {
  auto t = cast<RankedTensorType>(v.getType());
  return t.getDimSize(dim < 0 ? t.getRank() + dim : dim);
}

int64_t mlir::dsv3::detail::defaultFlops(Operation *op) {
  if (!op->hasTrait<OpTrait::Elementwise>() || op->getNumResults() == 0)
    return 0;
  return numel(op->getResult(0));
}

int64_t mlir::dsv3::detail::defaultBytesRead(Operation *op) {
  int64_t bytes = 0;
  for (Type t : op->getOperandTypes())
    bytes += getTensorBytes(t);
  return bytes;
}

int64_t mlir::dsv3::detail::defaultBytesWritten(Operation *op) {
  int64_t bytes = 0;
  for (Type t : op->getResultTypes())
    bytes += getTensorBytes(t);
  return bytes;
}

int64_t ReduceOp::getFlops() {
  int64_t flops = numel(getInput());
  if (getKind() == ReduceKind::mean)
    flops += numel(getResult());
  return flops;
}

int64_t SoftmaxOp::getFlops() { return 5 * numel(getInput()); }
int64_t LogSoftmaxOp::getFlops() { return 5 * numel(getInput()); }

int64_t EmbeddingOp::getBytesRead() {
  return getTensorBytes(getIds().getType()) + getTensorBytes(getType());
}

int64_t RmsNormOp::getFlops() { return 4 * numel(getInput()); }

int64_t MatmulOp::getFlops() {
  // result = [batch..., M, N]; K from lhs.
  int64_t k = dimSize(getLhs(), getTransposeLhs() ? -2 : -1);
  return 2 * numel(getResult()) * k;
}

int64_t RopeOp::getFlops() { return 3 * numel(getInput()); }

int64_t AttentionOp::getFlops() {
  int64_t b = dimSize(getQuery(), 0), s = dimSize(getQuery(), 1),
          h = dimSize(getQuery(), 2), dqk = dimSize(getQuery(), 3),
          dv = dimSize(getValue(), 3);
  int64_t pairs = getCausal() ? s * (s + 1) / 2 : s * s;
  return 2 * b * h * pairs * (dqk + dv) + 5 * b * h * pairs;
}

int64_t RouterOp::getFlops() { return 5 * numel(getLogits()); }

int64_t GroupedMatmulOp::getFlops() {
  return 2 * numel(getResult()) * dimSize(getInput(), 1);
}

int64_t MoeCombineOp::getFlops() {
  return 2 * numel(getWeights()) * dimSize(getRows(), 1);
}

int64_t ExpertLoadOp::getFlops() { return numel(getIndices()); }
int64_t BalanceLossOp::getFlops() { return 3 * numel(getScores()); }
int64_t CrossEntropyOp::getFlops() { return 5 * numel(getLogits()); }
int64_t QuantizeOp::getFlops() { return 3 * numel(getInput()); }
int64_t TransposeQuantizedOp::getFlops() { return 4 * numel(getInput()); }

int64_t ScaledMatmulOp::getFlops() {
  return 2 * numel(getResult()) * dimSize(getLhs(), 1);
}

int64_t ScaleOp::getFlops() { return numel(getInput()); }
int64_t UnscaleOp::getFlops() { return numel(getInput()); }

int64_t FakeQuantOp::getFlops() { return 4 * numel(getInput()); }

int64_t AllFiniteOp::getFlops() {
  int64_t flops = 0;
  for (Value v : getInputs())
    flops += numel(v);
  return flops;
}

int64_t Prune24Op::getFlops() { return numel(getInput()); }
int64_t MagnitudeMaskOp::getFlops() { return 32 * numel(getInput()); }

int64_t SparseMatmulOp::getFlops() {
  return numel(getResult()) * dimSize(getLhs(), -1);
}

int64_t AllReduceOp::getFlops() { return numel(getInput()); }
int64_t ReduceScatterOp::getFlops() { return numel(getInput()); }
int64_t AdamWOp::getFlops() { return 12 * numel(getParam()); }

int64_t ClipByGlobalNormOp::getFlops() {
  int64_t flops = 0;
  for (Value v : getInputs())
    flops += 3 * numel(v);
  return flops;
}

int64_t UpdateRouterBiasOp::getFlops() { return 3 * numel(getBias()); }

int64_t FusionOp::getFlops() {
  int64_t flops = 0;
  getBody().walk([&](CostOpInterface op) { flops += op.getFlops(); });
  return flops;
}

int64_t RmsNormGradOp::getFlops() { return 8 * numel(getInput()); }

int64_t AttentionGradOp::getFlops() {
  int64_t b = dimSize(getQuery(), 0), s = dimSize(getQuery(), 1),
          h = dimSize(getQuery(), 2), dqk = dimSize(getQuery(), 3),
          dv = dimSize(getValue(), 3);
  int64_t pairs = getCausal() ? s * (s + 1) / 2 : s * s;
  return 4 * b * h * pairs * dqk + 4 * b * h * pairs * dv + 6 * b * h * pairs;
}

int64_t CrossEntropyGradOp::getFlops() { return 5 * numel(getLogits()); }
int64_t RouterGradOp::getFlops() { return 8 * numel(getLogits()); }

int64_t MoeCombineGradOp::getFlops() {
  return 4 * numel(getWeights()) * dimSize(getRows(), 1);
}

int64_t GroupedMatmulWgradOp::getFlops() {
  return 2 * numel(getInput()) * dimSize(getDResult(), 1);
}

int64_t BalanceLossGradOp::getFlops() { return 4 * numel(getScores()); }
