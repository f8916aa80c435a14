//===- Dsv3Attributes.cpp - the dsv3.* attributes and their verifier ------===//
//
// Accessors of the attributes passes exchange, and the dialect hooks that
// verify each one wherever it appears: a misspelt name, a role that is not
// a role, an offset list of the wrong length are errors at the op.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

namespace {

StringAttr argString(FunctionOpInterface fn, unsigned i, StringRef name) {
  return fn.getArgAttrOfType<StringAttr>(i, name);
}
StringAttr resultString(FunctionOpInterface fn, unsigned i, StringRef name) {
  return fn.getResultAttrOfType<StringAttr>(i, name);
}

/// The keys of `dsv3.training` and whether each is an integer.
struct TrainingKey {
  StringLiteral name;
  bool integer;
};
constexpr TrainingKey kTrainingKeys[] = {
    {"micro_batch", true},    {"seq_len", true},       {"grad_accum", true},
    {"warmup_steps", true},   {"total_steps", true},   {"seed", true},
    {"lr", false},            {"min_lr", false},       {"beta1", false},
    {"beta2", false},         {"eps", false},          {"weight_decay", false},
    {"clip_norm", false},     {"bias_update_speed", false},
};

template <typename Enum>
LogicalResult checkEnumString(Attribute value, StringRef name,
                              std::optional<Enum> (*symbolize)(StringRef),
                              StringRef allowed,
                              function_ref<InFlightDiagnostic()> emitError) {
  auto s = dyn_cast<StringAttr>(value);
  if (!s || !symbolize(s.getValue()))
    return emitError() << "'" << name << "' must be one of " << allowed
                       << ", got " << value;
  return success();
}

LogicalResult verifyRole(NamedAttribute attr,
                         function_ref<InFlightDiagnostic()> emitError) {
  return checkEnumString<Role>(
      attr.getValue(), attr.getName(), symbolizeRole,
      "\"param\", \"opt_state\", \"batch\", \"step\", \"loss\", \"metric\"",
      emitError);
}

LogicalResult verifyName(NamedAttribute attr,
                         function_ref<InFlightDiagnostic()> emitError) {
  auto s = dyn_cast<StringAttr>(attr.getValue());
  if (!s || s.getValue().empty())
    return emitError() << "'" << attr.getName().getValue()
                       << "' must be a non-empty string";
  return success();
}

/// An array<i64> of non-negative entries (offsets, or sizes), one per
/// result when `size` says how many.
LogicalResult verifyOffsets(Operation *op, NamedAttribute attr,
                            std::optional<size_t> size,
                            StringRef what = "offset") {
  auto offsets = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
  if (!offsets)
    return op->emitError() << "'" << attr.getName().getValue()
                           << "' must be an array<i64>";
  if (size && offsets.size() != static_cast<int64_t>(*size))
    return op->emitError() << "'" << attr.getName().getValue() << "' has "
                           << offsets.size() << " " << what << "s for "
                           << *size << " results";
  for (int64_t o : offsets.asArrayRef())
    if (o < 0)
      return op->emitError() << "'" << attr.getName().getValue()
                             << "' has a negative " << what;
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Accessors.
//===----------------------------------------------------------------------===//

std::optional<Role> mlir::dsv3::getArgRole(FunctionOpInterface fn,
                                           unsigned i) {
  if (StringAttr s = argString(fn, i, kRoleAttr))
    return symbolizeRole(s.getValue());
  return std::nullopt;
}

std::optional<Role> mlir::dsv3::getResultRole(FunctionOpInterface fn,
                                              unsigned i) {
  if (StringAttr s = resultString(fn, i, kRoleAttr))
    return symbolizeRole(s.getValue());
  return std::nullopt;
}

StringRef mlir::dsv3::getArgName(FunctionOpInterface fn, unsigned i) {
  StringAttr s = argString(fn, i, kNameAttr);
  return s ? s.getValue() : StringRef();
}

StringRef mlir::dsv3::getResultName(FunctionOpInterface fn, unsigned i) {
  StringAttr s = resultString(fn, i, kNameAttr);
  return s ? s.getValue() : StringRef();
}

std::optional<BatchField> mlir::dsv3::getBatchField(FunctionOpInterface fn,
                                                    unsigned i) {
  if (StringAttr s = argString(fn, i, kBatchAttr))
    return symbolizeBatchField(s.getValue());
  return std::nullopt;
}

std::optional<InitKind> mlir::dsv3::getInitKind(FunctionOpInterface fn,
                                                unsigned i) {
  if (StringAttr s = argString(fn, i, kInitAttr))
    return symbolizeInitKind(s.getValue());
  return std::nullopt;
}

std::optional<double> mlir::dsv3::getInitStd(FunctionOpInterface fn,
                                             unsigned i) {
  if (auto f = fn.getArgAttrOfType<FloatAttr>(i, kInitStdAttr))
    return f.getValueAsDouble();
  return std::nullopt;
}

std::optional<double> mlir::dsv3::getInitValue(FunctionOpInterface fn,
                                               unsigned i) {
  if (auto f = fn.getArgAttrOfType<FloatAttr>(i, kInitValueAttr))
    return f.getValueAsDouble();
  return std::nullopt;
}

bool mlir::dsv3::isTrainable(FunctionOpInterface fn, unsigned i) {
  auto flag = fn.getArgAttrOfType<BoolAttr>(i, kTrainableAttr);
  return !flag || flag.getValue();
}

NamedAttribute mlir::dsv3::getRoleAttr(Builder &b, Role role) {
  return b.getNamedAttr(kRoleAttr, b.getStringAttr(stringifyRole(role)));
}

NamedAttribute mlir::dsv3::getNameAttr(Builder &b, StringRef name) {
  return b.getNamedAttr(kNameAttr, b.getStringAttr(name));
}

NamedAttribute mlir::dsv3::getBatchAttr(Builder &b, BatchField field) {
  return b.getNamedAttr(kBatchAttr,
                        b.getStringAttr(stringifyBatchField(field)));
}

NamedAttribute mlir::dsv3::getInitAttr(Builder &b, InitKind kind) {
  return b.getNamedAttr(kInitAttr, b.getStringAttr(stringifyInitKind(kind)));
}

std::optional<unsigned>
mlir::dsv3::getUpdatedArgument(FunctionOpInterface fn, unsigned result) {
  std::optional<Role> role = getResultRole(fn, result);
  StringRef name = getResultName(fn, result);
  if (!isPersistent(role) || name.empty())
    return std::nullopt;
  for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
    if (getArgRole(fn, i) == role && getArgName(fn, i) == name)
      return i;
  return std::nullopt;
}

TrainingConfig TrainingConfig::get(ModuleOp module) {
  TrainingConfig c;
  auto dict = module->getAttrOfType<DictionaryAttr>(
      Dsv3Dialect::TrainingAttrHelper::getNameStr());
  if (!dict)
    return c;
  auto i = [&](StringRef name, int64_t &out) {
    if (auto a = dict.getAs<IntegerAttr>(name))
      out = a.getInt();
  };
  auto f = [&](StringRef name, double &out) {
    if (auto a = dict.getAs<FloatAttr>(name))
      out = a.getValueAsDouble();
  };
  i("micro_batch", c.microBatch);
  i("seq_len", c.seqLen);
  i("grad_accum", c.gradAccum);
  i("warmup_steps", c.warmupSteps);
  i("total_steps", c.totalSteps);
  i("seed", c.seed);
  f("lr", c.lr);
  f("min_lr", c.minLr);
  f("beta1", c.beta1);
  f("beta2", c.beta2);
  f("eps", c.eps);
  f("weight_decay", c.weightDecay);
  f("clip_norm", c.clipNorm);
  f("bias_update_speed", c.biasUpdateSpeed);
  return c;
}

DictionaryAttr TrainingConfig::toAttr(MLIRContext *context) const {
  Builder b(context);
  auto i = [&](StringRef name, int64_t v) {
    return b.getNamedAttr(name, b.getI64IntegerAttr(v));
  };
  auto f = [&](StringRef name, double v) {
    return b.getNamedAttr(name, b.getF64FloatAttr(v));
  };
  return b.getDictionaryAttr({
      i("micro_batch", microBatch), i("seq_len", seqLen),
      i("grad_accum", gradAccum), f("lr", lr), f("min_lr", minLr),
      f("beta1", beta1), f("beta2", beta2), f("eps", eps),
      f("weight_decay", weightDecay), i("warmup_steps", warmupSteps),
      i("total_steps", totalSteps), f("clip_norm", clipNorm),
      i("seed", seed), f("bias_update_speed", biasUpdateSpeed)});
}

StringRef mlir::dsv3::getModelName(ModuleOp module) {
  auto name = module->getAttrOfType<StringAttr>(
      Dsv3Dialect::ModelAttrHelper::getNameStr());
  return name ? name.getValue() : StringRef("model");
}

bool mlir::dsv3::isKernel(Operation *op) {
  return op->hasAttr(Dsv3Dialect::KernelAttrHelper::getNameStr());
}

ModuleOp mlir::dsv3::getKernelModule(ModuleOp module) {
  for (auto nested : module.getOps<ModuleOp>())
    if (nested->hasAttr(Dsv3Dialect::KernelsAttrHelper::getNameStr()))
      return nested;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Verification.
//===----------------------------------------------------------------------===//

LogicalResult Dsv3Dialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned region,
                                                    unsigned index,
                                                    NamedAttribute attr) {
  auto emitError = [&]() {
    return op->emitError() << "argument " << index << ": ";
  };
  StringRef name = attr.getName().getValue();
  if (name == kRoleAttr)
    return verifyRole(attr, emitError);
  if (name == kNameAttr)
    return verifyName(attr, emitError);
  if (name == kBatchAttr)
    return checkEnumString<BatchField>(
        attr.getValue(), name, symbolizeBatchField,
        "\"tokens\", \"targets\", \"positions\", \"segment_ids\"", emitError);
  if (name == kInitAttr)
    return checkEnumString<InitKind>(attr.getValue(), name, symbolizeInitKind,
                                     "\"normal\", \"ones\", \"zeros\", "
                                     "\"constant\"",
                                     emitError);
  if (name == kInitStdAttr) {
    auto f = dyn_cast<FloatAttr>(attr.getValue());
    if (!f || !(f.getValueAsDouble() > 0))
      return emitError() << "'" << name << "' must be a positive float";
    return success();
  }
  if (name == kInitValueAttr) {
    auto f = dyn_cast<FloatAttr>(attr.getValue());
    if (!f || !std::isfinite(f.getValueAsDouble()))
      return emitError() << "'" << name << "' must be a finite float";
    return success();
  }
  if (name == kTrainableAttr) {
    if (!isa<BoolAttr>(attr.getValue()))
      return emitError() << "'" << name << "' must be a bool";
    return success();
  }
  if (name == kOffsetAttr) {
    auto i = dyn_cast<IntegerAttr>(attr.getValue());
    if (!i || i.getInt() < 0)
      return emitError() << "'" << name << "' must be a non-negative integer";
    return success();
  }
  if (name == kQuantizedAttr) {
    auto s = dyn_cast<StringAttr>(attr.getValue());
    if (!s || s.getValue() != "int8")
      return emitError() << "'" << name << "' must be \"int8\"";
    return success();
  }
  return emitError() << "unknown argument attribute '" << name << "'";
}

LogicalResult Dsv3Dialect::verifyRegionResultAttribute(Operation *op,
                                                       unsigned region,
                                                       unsigned index,
                                                       NamedAttribute attr) {
  auto emitError = [&]() {
    return op->emitError() << "result " << index << ": ";
  };
  StringRef name = attr.getName().getValue();
  if (name == kRoleAttr)
    return verifyRole(attr, emitError);
  if (name == kNameAttr)
    return verifyName(attr, emitError);
  if (name == kOverwritesAttr) {
    auto fn = dyn_cast<FunctionOpInterface>(op);
    auto i = dyn_cast<IntegerAttr>(attr.getValue());
    if (!fn || !i || i.getInt() < 0 ||
        i.getInt() >= static_cast<int64_t>(fn.getNumArguments()))
      return emitError() << "'" << name
                         << "' must name an argument of the function";
    if (fn.getArgumentTypes()[i.getInt()] != fn.getResultTypes()[index])
      return emitError() << "'" << name << "' names argument " << i.getInt()
                         << " of type " << fn.getArgumentTypes()[i.getInt()]
                         << ", the result is "
                         << fn.getResultTypes()[index];
    return success();
  }
  return emitError() << "unknown result attribute '" << name << "'";
}

LogicalResult Dsv3Dialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  Attribute value = attr.getValue();
  auto onModule = [&]() -> LogicalResult {
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on a module";
    return success();
  };
  auto onFunction = [&]() -> LogicalResult {
    if (!isa<FunctionOpInterface>(op))
      return op->emitError() << "'" << name << "' belongs on a function";
    return success();
  };

  if (name == ModelAttrHelper::getNameStr()) {
    if (!isa<StringAttr>(value))
      return op->emitError() << "'" << name << "' must be a string";
    return onModule();
  }
  if (name == TrainingAttrHelper::getNameStr()) {
    auto dict = dyn_cast<DictionaryAttr>(value);
    if (!dict)
      return op->emitError() << "'" << name << "' must be a dictionary";
    for (NamedAttribute entry : dict) {
      const TrainingKey *key = llvm::find_if(kTrainingKeys, [&](auto &k) {
        return k.name == entry.getName().getValue();
      });
      if (key == std::end(kTrainingKeys))
        return op->emitError()
               << "'" << name << "' has an unknown key '"
               << entry.getName().getValue() << "'";
      bool ok = key->integer ? isa<IntegerAttr>(entry.getValue())
                             : isa<FloatAttr>(entry.getValue());
      if (!ok)
        return op->emitError() << "'" << name << "': '"
                               << entry.getName().getValue() << "' must be "
                               << (key->integer ? "an integer" : "a float");
    }
    return onModule();
  }
  if (name == LossSeedAttrHelper::getNameStr()) {
    if (!isa<UnitAttr>(value))
      return op->emitError() << "'" << name << "' is a unit attribute";
    if (!isa<ConstantOp>(op))
      return op->emitError() << "'" << name << "' belongs on a dsv3.constant";
    return success();
  }
  if (name == KernelAttrHelper::getNameStr()) {
    if (!isa<UnitAttr>(value))
      return op->emitError() << "'" << name << "' is a unit attribute";
    return onFunction();
  }
  if (name == ParallelBodyAttrHelper::getNameStr()) {
    if (!isa<UnitAttr>(value))
      return op->emitError() << "'" << name << "' is a unit attribute";
    return onFunction();
  }
  if (name == KernelsAttrHelper::getNameStr()) {
    if (!isa<UnitAttr>(value))
      return op->emitError() << "'" << name << "' is a unit attribute";
    return onModule();
  }
  if (name == DonationsAttrHelper::getNameStr()) {
    auto donations = dyn_cast<DenseI64ArrayAttr>(value);
    if (!donations || donations.size() != op->getNumResults())
      return op->emitError() << "'" << name
                             << "' must hold one operand index (or -1) "
                                "per result";
    for (auto [r, d] : llvm::enumerate(donations.asArrayRef())) {
      if (d == -1)
        continue;
      if (d < 0 || d >= op->getNumOperands() ||
          op->getOperand(d).getType() != op->getResult(r).getType())
        return op->emitError() << "'" << name << "': result " << r
                               << " cannot take the buffer of operand " << d;
    }
    return success();
  }
  if (name == OffsetsAttrHelper::getNameStr())
    return verifyOffsets(op, attr, op->getNumResults());
  if (name == ScratchOffsetsAttrHelper::getNameStr())
    return verifyOffsets(op, attr, std::nullopt);
  if (name == ScratchBytesAttrHelper::getNameStr())
    return verifyOffsets(op, attr, std::nullopt, "size");
  if (name == FlopsAttrHelper::getNameStr()) {
    auto i = dyn_cast<IntegerAttr>(value);
    if (!i || i.getInt() < 0)
      return op->emitError() << "'" << name
                             << "' must be a non-negative integer";
    return success();
  }
  if (name == ArenaBytesAttrHelper::getNameStr() ||
      name == PeakLiveBytesAttrHelper::getNameStr()) {
    auto i = dyn_cast<IntegerAttr>(value);
    if (!i || i.getInt() < 0)
      return op->emitError() << "'" << name
                             << "' must be a non-negative integer";
    return onFunction();
  }
  return op->emitError() << "unknown attribute '" << name
                         << "' (the dsv3.* attributes are listed in the "
                            "dialect reference)";
}
