//===- EvalOptimizer.cpp - AdamW, clipping, schedule, router bias ---------===//

#include "Interpreter/Eval.h"

#include "dsv3/Dsv3Ops.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::interp;

namespace {

LogicalResult adamw(AdamWOp op, Inputs in, Outputs &out) {
  HostTensor p = resultTensor(op, 0), m = resultTensor(op, 1),
             v = resultTensor(op, 2);
  double b1 = op.getBeta1().convertToDouble(),
         b2 = op.getBeta2().convertToDouble(),
         eps = op.getEps().convertToDouble(),
         wd = op.getWeightDecay().convertToDouble();
  double lr = in[4]->scalar(), t = in[5]->scalar();
  if (t < 1)
    return op.emitError("interpreter: AdamW step ")
           << static_cast<int64_t>(t) << " must be >= 1 (it is 1-based)";
  double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
  for (int64_t i = 0; i < p.numel(); ++i) {
    double g = in[1]->data[i];
    double mi = roundToElementType(m.elementType,
                                   b1 * in[2]->data[i] + (1 - b1) * g);
    double vi = roundToElementType(v.elementType,
                                   b2 * in[3]->data[i] + (1 - b2) * g * g);
    double param = in[0]->data[i];
    p.data[i] = param - lr * ((mi / c1) / (std::sqrt(vi / c2) + eps) +
                              wd * param);
    m.data[i] = mi;
    v.data[i] = vi;
  }
  out.push_back(std::move(p));
  out.push_back(std::move(m));
  out.push_back(std::move(v));
  return success();
}

double learningRate(LrScheduleOp op, double step) {
  double peak = op.getPeakLr().convertToDouble(),
         floor = op.getMinLr().convertToDouble();
  double warmup = static_cast<double>(op.getWarmupStepsAttr().getInt());
  double total = static_cast<double>(op.getTotalStepsAttr().getInt());
  if (step < warmup)
    return peak * (step + 1) / warmup;
  if (total <= warmup)
    return floor;
  double progress = std::min(1.0, (step - warmup) / (total - warmup));
  return floor + 0.5 * (peak - floor) * (1 + std::cos(M_PI * progress));
}

} // namespace

std::optional<LogicalResult> interp::evalOptimizer(Operation *op, Inputs in,
                                                   Outputs &out) {
  return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
      .Case<AdamWOp>([&](auto o) { return adamw(o, in, out); })
      .Case<ClipByGlobalNormOp>([&](ClipByGlobalNormOp o) {
        double sq = 0;
        for (const HostTensor *g : in)
          for (double v : g->data)
            sq += v * v;
        double norm = std::sqrt(sq);
        double factor =
            std::min(1.0, o.getMaxNorm().convertToDouble() / (norm + 1e-6));
        for (unsigned i = 0; i < in.size(); ++i) {
          HostTensor t = resultTensor(op, i);
          for (int64_t j = 0; j < t.numel(); ++j)
            t.data[j] = in[i]->data[j] * factor;
          out.push_back(std::move(t));
        }
        HostTensor n = resultTensor(op, in.size());
        n.data[0] = norm;
        out.push_back(std::move(n));
        return success();
      })
      .Case<LrScheduleOp>([&](LrScheduleOp o) {
        HostTensor t = resultTensor(op);
        t.data[0] = learningRate(o, in[0]->scalar());
        out.push_back(std::move(t));
        return success();
      })
      .Case<UpdateRouterBiasOp>([&](UpdateRouterBiasOp o) {
        HostTensor t = resultTensor(op);
        const HostTensor &bias = *in[0], &load = *in[1];
        double mean = 0;
        for (double l : load.data)
          mean += l / load.numel();
        // The step in the bias's type, as the compiled update adds it: a
        // bias that moved up and back down is zero again.
        double gamma = roundToElementType(t.elementType,
                                          o.getGamma().convertToDouble());
        for (int64_t e = 0; e < t.numel(); ++e) {
          double d = mean - load.data[e];
          t.data[e] = bias.data[e] + gamma * ((d > 0) - (d < 0));
        }
        out.push_back(std::move(t));
        return success();
      })
      .Default([](Operation *) { return std::nullopt; });
}
