//===- EvalPrecision.cpp - fp8, fake quant, loss scaling, 2:4 sparsity ----===//

#include "Interpreter/Eval.h"

#include "dsv3/Dsv3Ops.h"

#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::interp;

namespace {

/// Flat index of the scale that covers element `flat` of `shape`.
int64_t scaleIndex(ArrayRef<int64_t> shape, ScaleLayout layout, int64_t flat) {
  int64_t cols = shape.back();
  int64_t tilesPerRow = (cols + 127) / 128;
  int64_t row = flat / cols, col = flat % cols;
  if (layout == ScaleLayout::tile_1x128)
    return row * tilesPerRow + col / 128;
  // 128x128 blocks of the last two dimensions, per leading index.
  int64_t rows = shape[shape.size() - 2];
  int64_t blocksPerMatrix = ((rows + 127) / 128) * tilesPerRow;
  int64_t matrix = row / rows;
  return matrix * blocksPerMatrix + ((row % rows) / 128) * tilesPerRow +
         col / 128;
}

/// fp8 `q` and its scales for `x`: per tile or block, scale = amax / max
/// rounded to f32, at least 2^-126 (1 for an all-zero one), q = x / scale
/// divided in f32 (as a kernel does; rounding the exact quotient to fp8
/// directly would differ from it on ties) and rounded to fp8 when stored.
void quantizeInto(const HostTensor &x, ScaleLayout layout, HostTensor &q,
                  HostTensor &scales) {
  double maxValue = fp8Max(q.elementType);
  std::vector<double> amax(scales.numel(), 0.0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    double &a = amax[scaleIndex(x.shape, layout, i)];
    a = std::max(a, std::fabs(x.data[i]));
  }
  // No smaller than the least normal f32 (2^-126): a tiny amax must not
  // make a zero scale.
  for (int64_t s = 0; s < scales.numel(); ++s)
    scales.data[s] = amax[s] > 0
                         ? std::max(roundToElementType(scales.elementType,
                                                       amax[s] / maxValue),
                                    0x1p-126)
                         : 1.0;
  Type f32 = Float32Type::get(q.elementType.getContext());
  for (int64_t i = 0; i < x.numel(); ++i)
    q.data[i] = roundToElementType(
        f32, x.data[i] / scales.data[scaleIndex(x.shape, layout, i)]);
}

LogicalResult quantize(QuantizeOp op, Inputs in, Outputs &out) {
  HostTensor q = resultTensor(op, 0), scales = resultTensor(op, 1);
  quantizeInto(*in[0], op.getLayout(), q, scales);
  out.push_back(std::move(q));
  out.push_back(std::move(scales));
  return success();
}

void dequantizeInto(const HostTensor &q, const HostTensor &scales,
                    ScaleLayout layout, std::vector<double> &outData) {
  outData.resize(q.numel());
  for (int64_t i = 0; i < q.numel(); ++i)
    outData[i] = q.data[i] * scales.data[scaleIndex(q.shape, layout, i)];
}

/// dequantize, transpose in f32, quantize along the new rows.
LogicalResult transposeQuantized(TransposeQuantizedOp op, Inputs in,
                                 Outputs &out) {
  HostTensor q = resultTensor(op, 0), scales = resultTensor(op, 1);
  std::vector<double> x;
  dequantizeInto(*in[0], *in[1], ScaleLayout::tile_1x128, x);
  int64_t m = in[0]->shape[0], k = in[0]->shape[1];
  Type f32 = Float32Type::get(q.elementType.getContext());
  HostTensor t(f32, {k, m});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j)
      t.data[j * m + i] = roundToElementType(f32, x[i * k + j]);
  quantizeInto(t, ScaleLayout::tile_1x128, q, scales);
  out.push_back(std::move(q));
  out.push_back(std::move(scales));
  return success();
}

LogicalResult scaledMatmul(ScaledMatmulOp op, Inputs in, Outputs &out) {
  HostTensor y = resultTensor(op);
  std::vector<double> a, b;
  dequantizeInto(*in[0], *in[1], ScaleLayout::tile_1x128, a);
  dequantizeInto(*in[2], *in[3], ScaleLayout::block_128x128, b);
  int64_t m = in[0]->shape[0], k = in[0]->shape[1];
  int64_t b0 = in[2]->shape[0], b1 = in[2]->shape[1];
  bool t = op.getTransposeRhs();
  int64_t n = t ? b0 : b1;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      // Accumulate in f32, as the tensor cores do.
      float acc = 0;
      for (int64_t l = 0; l < k; ++l)
        acc += static_cast<float>(a[i * k + l] * (t ? b[j * b1 + l] : b[l * b1 + j]));
      y.data[i * n + j] = acc;
    }
  out.push_back(std::move(y));
  return success();
}

/// Positions of the two largest magnitudes of each group of four, sorted.
void keptPairs(const HostTensor &x, std::vector<int64_t> &kept) {
  kept.clear();
  for (int64_t g = 0; g < x.numel() / 4; ++g) {
    const double *v = &x.data[g * 4];
    int64_t best = 0;
    for (int64_t j = 1; j < 4; ++j)
      if (std::fabs(v[j]) > std::fabs(v[best]))
        best = j;
    int64_t second = best == 0 ? 1 : 0;
    for (int64_t j = 0; j < 4; ++j)
      if (j != best && std::fabs(v[j]) > std::fabs(v[second]))
        second = j;
    kept.push_back(std::min(best, second));
    kept.push_back(std::max(best, second));
  }
}

LogicalResult decompress(Operation *op, const HostTensor &values,
                         const HostTensor &indices, HostTensor &dense) {
  for (int64_t i = 0; i < values.numel(); ++i) {
    double pos = indices.data[i];
    if (pos < 0 || pos > 3)
      return op->emitError("interpreter: 2:4 position ")
             << static_cast<int64_t>(pos) << " is not in 0..3";
    dense.data[(i / 2) * 4 + static_cast<int64_t>(pos)] = values.data[i];
  }
  return success();
}

LogicalResult sparseMatmul(SparseMatmulOp op, Inputs in, Outputs &out) {
  HostTensor y = resultTensor(op);
  const HostTensor &x = *in[0], &values = *in[1];
  int64_t n = values.shape[0], k = values.shape[1] * 2;
  HostTensor w(x.elementType, {n, k});
  if (failed(decompress(op, values, *in[2], w)))
    return failure();
  int64_t rows = x.numel() / k;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t l = 0; l < k; ++l)
        acc += x.data[r * k + l] * w.data[j * k + l];
      y.data[r * n + j] = acc;
    }
  out.push_back(std::move(y));
  return success();
}

} // namespace

std::optional<LogicalResult> interp::evalPrecision(Operation *op, Inputs in,
                                                   Outputs &out) {
  return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
      .Case<QuantizeOp>([&](auto o) { return quantize(o, in, out); })
      .Case<DequantizeOp>([&](DequantizeOp o) {
        HostTensor t = resultTensor(op);
        dequantizeInto(*in[0], *in[1], o.getLayout(), t.data);
        // The product in f32 (as a kernel computes it; exact for f64),
        // then rounded to the result's type.
        if (!t.elementType.isF64()) {
          Type f32 = Float32Type::get(op->getContext());
          for (double &v : t.data)
            v = roundToElementType(f32, v);
        }
        int64_t rank = in[0]->shape.size();
        if (o.getTransposed() && t.numel() > 0) {
          // Swap the last two dimensions of each matrix.
          int64_t rows = in[0]->shape[rank - 2], cols = in[0]->shape[rank - 1];
          std::vector<double> d(t.data.size());
          for (int64_t m = 0; m < t.numel() / (rows * cols); ++m)
            for (int64_t i = 0; i < rows; ++i)
              for (int64_t j = 0; j < cols; ++j)
                d[m * rows * cols + j * rows + i] =
                    t.data[m * rows * cols + i * cols + j];
          t.data = std::move(d);
        }
        out.push_back(std::move(t));
        return success();
      })
      .Case<TransposeQuantizedOp>(
          [&](auto o) { return transposeQuantized(o, in, out); })
      .Case<ScaledMatmulOp>([&](auto o) { return scaledMatmul(o, in, out); })
      .Case<FakeQuantOp>([&](FakeQuantOp o) {
        HostTensor t = resultTensor(op);
        double q = std::ldexp(1.0, o.getBitsAttr().getInt() - 1) - 1;
        const std::vector<double> &x = in[0]->data;
        int64_t n = t.numel();
        int64_t row = o.getPerRow() && !t.shape.empty() ? t.shape.back() : n;
        for (int64_t begin = 0; begin < n; begin += std::max<int64_t>(row, 1)) {
          int64_t end = std::min(n, begin + row);
          double amax = 0;
          for (int64_t i = begin; i < end; ++i)
            amax = std::max(amax, std::fabs(x[i]));
          // The scale in the element type, as the compiled step has it.
          double s = roundToElementType(t.elementType, amax > 0 ? amax / q : 1.0);
          for (int64_t i = begin; i < end; ++i)
            t.data[i] = std::max(
                            -q, std::min(q, std::nearbyint(roundToElementType(
                                                t.elementType, x[i] / s)))) *
                        s;
        }
        t.round();
        out.push_back(std::move(t));
        return success();
      })
      .Case<UpdateLossScaleOp>([&](UpdateLossScaleOp o) {
        HostTensor scale = resultTensor(op, 0), steps = resultTensor(op, 1);
        double s = in[0]->scalar(), n = in[1]->scalar();
        if (in[2]->scalar() == 0) {
          s *= o.getBackoff().convertToDouble();
          n = 0;
        } else if (++n >= o.getGrowthIntervalAttr().getInt()) {
          s *= o.getGrowth().convertToDouble();
          n = 0;
        }
        scale.data[0] = s;
        steps.data[0] = n;
        out.push_back(std::move(scale));
        out.push_back(std::move(steps));
        return success();
      })
      .Case<Prune24Op>([&](auto) {
        HostTensor mask = resultTensor(op);
        std::vector<int64_t> kept;
        keptPairs(*in[0], kept);
        for (size_t i = 0; i < kept.size(); ++i)
          mask.data[(i / 2) * 4 + kept[i]] = 1.0;
        out.push_back(std::move(mask));
        return success();
      })
      .Case<MagnitudeMaskOp>([&](MagnitudeMaskOp o) {
        HostTensor mask = resultTensor(op);
        const std::vector<double> &x = in[0]->data;
        int64_t slices = 1;
        for (int64_t d = 0, e = o.getBatchDims(); d < e; ++d)
          slices *= mask.shape[d];
        int64_t n = mask.numel() / slices;
        double fraction = std::clamp(in[1]->scalar(), 0.0, 1.0);
        auto k = static_cast<int64_t>(std::ceil(fraction * n));
        for (int64_t begin = 0; begin < mask.numel(); begin += n) {
          std::vector<double> magnitudes(n);
          for (int64_t i = 0; i < n; ++i)
            magnitudes[i] = std::fabs(x[begin + i]);
          double threshold = -1;
          if (k > 0) {
            std::nth_element(magnitudes.begin(), magnitudes.begin() + (k - 1),
                             magnitudes.end());
            threshold = magnitudes[k - 1];
          }
          for (int64_t i = 0; i < n; ++i)
            mask.data[begin + i] = std::fabs(x[begin + i]) > threshold ? 1.0 : 0.0;
        }
        out.push_back(std::move(mask));
        return success();
      })
      .Case<Compress24Op>([&](auto) {
        HostTensor values = resultTensor(op, 0), positions = resultTensor(op, 1);
        std::vector<int64_t> kept;
        keptPairs(*in[0], kept);
        for (size_t i = 0; i < kept.size(); ++i) {
          values.data[i] = in[0]->data[(i / 2) * 4 + kept[i]];
          positions.data[i] = kept[i];
        }
        out.push_back(std::move(values));
        out.push_back(std::move(positions));
        return success();
      })
      .Case<Decompress24Op>([&](auto) -> LogicalResult {
        HostTensor dense = resultTensor(op);
        if (failed(decompress(op, *in[0], *in[1], dense)))
          return failure();
        out.push_back(std::move(dense));
        return success();
      })
      .Case<SparseMatmulOp>([&](auto o) { return sparseMatmul(o, in, out); })
      .Default([](Operation *) { return std::nullopt; });
}
