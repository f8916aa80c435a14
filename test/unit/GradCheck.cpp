//===- GradCheck.cpp - finite-difference checks of dsv3 gradients ---------===//

#include "GradCheck.h"

#include "Interpreter/Interpreter.h"
#include "Transforms/ReverseMode.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/Builders.h"

#include <cmath>
#include <random>

using namespace mlir;
using namespace mlir::dsv3;

std::vector<HostTensor> test::testArguments(func::FuncOp fn, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<HostTensor> args;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    auto type = cast<RankedTensorType>(fn.getArgument(i).getType());
    HostTensor t(type);
    if (isa<IntegerType>(type.getElementType())) {
      int64_t bound = 2;
      if (auto b = fn.getArgAttrOfType<IntegerAttr>(i, "test.bound"))
        bound = b.getInt();
      std::uniform_int_distribution<int64_t> dist(0, bound - 1);
      for (double &v : t.data)
        v = dist(rng);
    } else if (fn.getArgAttr(i, "test.positive")) {
      std::uniform_real_distribution<double> dist(0.5, 1.5);
      for (double &v : t.data)
        v = dist(rng);
    } else {
      std::normal_distribution<double> dist(0.0, 1.0);
      for (double &v : t.data)
        v = dist(rng);
    }
    t.round();
    args.push_back(std::move(t));
  }
  return args;
}

func::FuncOp test::scalarize(ModuleOp module, StringRef name, uint64_t seed) {
  auto fn = module.lookupSymbol<func::FuncOp>(name);
  auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  OpBuilder b(ret);
  Location loc = ret.getLoc();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  Value total;
  for (Value r : ret.getOperands()) {
    auto type = cast<RankedTensorType>(r.getType());
    if (!isa<FloatType>(type.getElementType()))
      continue;
    std::vector<double> weights(type.getNumElements());
    for (double &w : weights)
      w = dist(rng);
    auto f64Type = RankedTensorType::get(type.getShape(), b.getF64Type());
    Value w = ConstantOp::create(
        b, loc, DenseElementsAttr::get(f64Type, ArrayRef<double>(weights)));
    Value x = r;
    if (!type.getElementType().isF64())
      x = CastOp::create(b, loc, f64Type, x);
    Value p = MulOp::create(b, loc, x, w);
    if (type.getRank() > 0) {
      SmallVector<int64_t> dims;
      for (int64_t d = 0; d < type.getRank(); ++d)
        dims.push_back(d);
      p = ReduceOp::create(b, loc, ReduceKind::sum, p, dims);
    }
    total = total ? Value(AddOp::create(b, loc, total, p)) : p;
  }
  func::ReturnOp::create(b, loc, total);
  ret.erase();
  fn.setType(b.getFunctionType(fn.getArgumentTypes(), {total.getType()}));
  return fn;
}

static double evalLoss(func::FuncOp fn, const std::vector<HostTensor> &args) {
  auto result = interpret(fn, args);
  return succeeded(result) ? (*result)[0].scalar() : NAN;
}

func::FuncOp test::buildGradientFunction(
    func::FuncOp fn, llvm::function_ref<bool(BlockArgument)> wrt) {
  ModuleOp module = fn->getParentOfType<ModuleOp>();
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto grad = cast<func::FuncOp>(b.clone(*fn));
  grad.setName((fn.getName() + "_grad").str());
  Block &body = grad.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  SmallVector<Value> values;
  for (BlockArgument arg : body.getArguments())
    if (wrt(arg))
      values.push_back(arg);
  b.setInsertionPoint(ret);
  auto grads = buildGradients(b, ops, ret.getOperand(0), values);
  if (failed(grads))
    return nullptr;
  func::ReturnOp::create(b, ret.getLoc(), *grads);
  ret.erase();
  grad.setType(b.getFunctionType(grad.getArgumentTypes(),
                                 ValueRange(*grads).getTypes()));
  return grad;
}

FailureOr<std::vector<test::ArgError>>
test::checkGradients(func::FuncOp fn, std::vector<HostTensor> args,
                     double step, bool directional, uint64_t seed) {
  std::vector<unsigned> floatArgs;
  func::FuncOp grad = buildGradientFunction(fn, [&](BlockArgument arg) {
    bool differentiable =
        isa<FloatType>(cast<RankedTensorType>(arg.getType()).getElementType()) &&
        !fn.getArgAttr(arg.getArgNumber(), "test.nograd");
    if (differentiable)
      floatArgs.push_back(arg.getArgNumber());
    return differentiable;
  });
  if (!grad)
    return failure();

  auto analytic = interpret(grad, args);
  if (failed(analytic))
    return failure();

  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<ArgError> errors;
  for (auto [n, a] : llvm::enumerate(floatArgs)) {
    const HostTensor &g = (*analytic)[n];
    HostTensor &x = args[a];
    double diff = 0, norm = 0, fdNorm = 0;
    auto central = [&](const std::vector<double> &direction) {
      std::vector<double> saved = x.data;
      for (int64_t j = 0; j < x.numel(); ++j)
        x.data[j] = saved[j] + step * direction[j];
      double up = evalLoss(fn, args);
      for (int64_t j = 0; j < x.numel(); ++j)
        x.data[j] = saved[j] - step * direction[j];
      double down = evalLoss(fn, args);
      x.data = saved;
      return (up - down) / (2 * step);
    };
    if (directional) {
      std::vector<double> u(x.numel());
      for (double &v : u)
        v = dist(rng);
      double numeric = central(u), exact = 0;
      for (int64_t j = 0; j < x.numel(); ++j)
        exact += g.data[j] * u[j];
      diff = std::fabs(exact - numeric);
      norm = std::fabs(exact);
      fdNorm = std::fabs(numeric);
    } else {
      std::vector<double> e(x.numel(), 0.0);
      for (int64_t j = 0; j < x.numel(); ++j) {
        e[j] = 1.0;
        double numeric = central(e);
        e[j] = 0.0;
        diff += (g.data[j] - numeric) * (g.data[j] - numeric);
        norm += g.data[j] * g.data[j];
        fdNorm += numeric * numeric;
      }
      diff = std::sqrt(diff);
      norm = std::sqrt(norm);
      fdNorm = std::sqrt(fdNorm);
    }
    double scale = std::max({norm, fdNorm, 1e-12});
    errors.push_back({a, diff / scale, fdNorm});
  }
  return errors;
}
