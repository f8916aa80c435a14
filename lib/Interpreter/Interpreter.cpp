//===- Interpreter.cpp - reference evaluator of dsv3 functions ------------===//
//
// Walks a function's body in order, keeping one host tensor per SSA value,
// and hands each op to the evaluator of its family.
//
//===----------------------------------------------------------------------===//

#include "Interpreter/Interpreter.h"

#include "Interpreter/Eval.h"
#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"

#include <random>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::interp;

HostTensor interp::resultTensor(Operation *op, unsigned i) {
  return HostTensor(cast<RankedTensorType>(op->getResult(i).getType()));
}

void interp::unflatten(int64_t flat, ArrayRef<int64_t> shape,
                       SmallVectorImpl<int64_t> &index) {
  index.resize(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
}

int64_t interp::flatten(ArrayRef<int64_t> index, ArrayRef<int64_t> strides) {
  int64_t flat = 0;
  for (auto [i, s] : llvm::zip(index, strides))
    flat += i * s;
  return flat;
}

LogicalResult mlir::dsv3::checkInterpretable(Location loc, Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return emitError(loc) << "interpreter: " << type
                          << " is not a statically shaped tensor";
  // Multiply carefully: the product itself may overflow.
  int64_t n = 1;
  for (int64_t d : tensor.getShape()) {
    if (d != 0 && n > kMaxInterpretedElements / d)
      return emitError(loc) << "interpreter: " << type
                            << " is too large to interpret (more than "
                            << kMaxInterpretedElements << " elements)";
    n *= d;
  }
  return success();
}

namespace {

class Evaluator {
public:
  FailureOr<SmallVector<HostTensor>> run(Region &body,
                                         ArrayRef<HostTensor> args);

private:
  LogicalResult evalOp(Operation &op);

  llvm::DenseMap<Value, HostTensor> values;
  SmallVector<HostTensor> returned;
};

FailureOr<SmallVector<HostTensor>> Evaluator::run(Region &body,
                                                  ArrayRef<HostTensor> args) {
  Block &entry = body.front();
  if (entry.getNumArguments() != args.size()) {
    emitError(body.getLoc()) << "interpreter: expected "
                             << entry.getNumArguments()
                             << " arguments, got " << args.size();
    return failure();
  }
  for (auto [arg, value] : llvm::zip(entry.getArguments(), args)) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getShape() != ArrayRef<int64_t>(value.shape) ||
        type.getElementType() != value.elementType) {
      emitError(arg.getLoc()) << "interpreter: argument "
                              << arg.getArgNumber() << " has type "
                              << value.getType() << ", expected "
                              << arg.getType();
      return failure();
    }
    values[arg] = value;
  }
  for (Operation &op : entry)
    if (failed(evalOp(op)))
      return failure();
  return returned;
}

LogicalResult Evaluator::evalOp(Operation &op) {
  SmallVector<const HostTensor *> in;
  for (Value operand : op.getOperands()) {
    auto it = values.find(operand);
    if (it == values.end())
      return op.emitError("interpreter: operand has no value");
    in.push_back(&it->second);
  }

  if (isa<func::ReturnOp, YieldOp>(op)) {
    returned.clear();
    for (const HostTensor *t : in)
      returned.push_back(*t);
    return success();
  }

  for (Type type : op.getResultTypes())
    if (failed(checkInterpretable(op.getLoc(), type)))
      return failure();

  SmallVector<HostTensor> out;
  if (auto call = dyn_cast<func::CallOp>(op)) {
    auto callee = SymbolTable::lookupNearestSymbolFrom<FunctionOpInterface>(
        &op, call.getCalleeAttr());
    if (!callee)
      return op.emitError("interpreter: unknown callee");
    if (callee.isExternal())
      return op.emitError("interpreter: @")
             << call.getCallee() << " is a declaration; it has no body to run";
    SmallVector<HostTensor> args;
    for (const HostTensor *t : in)
      args.push_back(*t);
    auto results = Evaluator().run(callee.getFunctionBody(), args);
    if (failed(results))
      return failure();
    out = std::move(*results);
  } else if (auto fusion = dyn_cast<FusionOp>(op)) {
    SmallVector<HostTensor> args;
    for (const HostTensor *t : in)
      args.push_back(*t);
    auto results = Evaluator().run(fusion.getBody(), args);
    if (failed(results))
      return failure();
    out = std::move(*results);
  } else {
    std::optional<LogicalResult> handled;
    for (auto family : {evalBasic, evalLayers, evalMoE, evalPrecision,
                        evalOptimizer}) {
      handled = family(&op, in, out);
      if (handled)
        break;
    }
    if (!handled)
      return op.emitError("interpreter: no evaluator for this op");
    if (failed(*handled))
      return failure();
  }

  if (out.size() != op.getNumResults())
    return op.emitError("interpreter: evaluator produced ")
           << out.size() << " results, expected " << op.getNumResults();
  for (auto [result, value] : llvm::zip(op.getResults(), out)) {
    value.round();
    values[result] = std::move(value);
  }
  return success();
}

} // namespace

FailureOr<SmallVector<HostTensor>>
mlir::dsv3::interpret(FunctionOpInterface function,
                      ArrayRef<HostTensor> args) {
  return Evaluator().run(function.getFunctionBody(), args);
}

SmallVector<HostTensor>
mlir::dsv3::randomArguments(FunctionOpInterface function, uint64_t seed,
                            double std, int64_t intBound) {
  std::mt19937_64 rng(seed);
  SmallVector<HostTensor> args;
  for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i) {
    auto type = cast<RankedTensorType>(function.getArgument(i).getType());
    HostTensor t(type);
    std::optional<InitKind> init = getInitKind(function, i);
    std::optional<BatchField> field = getBatchField(function, i);
    if (field == BatchField::positions) {
      for (int64_t j = 0; j < t.numel(); ++j)
        t.data[j] = j % t.shape.back();
    } else if (field == BatchField::segment_ids) {
      for (int64_t j = 0; j < t.numel(); ++j)
        t.data[j] = j / t.shape.back();
    } else if (isa<IntegerType>(type.getElementType())) {
      std::uniform_int_distribution<int64_t> dist(0, intBound - 1);
      for (double &v : t.data)
        v = dist(rng);
    } else if (init == InitKind::ones) {
      std::fill(t.data.begin(), t.data.end(), 1.0);
    } else if (init == InitKind::zeros) {
      std::fill(t.data.begin(), t.data.end(), 0.0);
    } else {
      double s = std;
      if (std::optional<double> initStd = getInitStd(function, i))
        s = *initStd;
      std::normal_distribution<double> dist(0.0, s);
      for (double &v : t.data)
        v = dist(rng);
    }
    t.round();
    args.push_back(std::move(t));
  }
  return args;
}
