//===- Buffers.cpp - an executable's buffers, from the memory plan --------===//
//
// Offsets are the plan's; this only turns values into buffers with the
// roles, names and initializers the runtime reads.
//
//===----------------------------------------------------------------------===//

#include "Target/Buffers.h"

#include "dsv3/Dsv3Attributes.h"
#include "runtime/element_type.h"
#include "runtime/executable.pb.h"

using namespace mlir;
using namespace mlir::dsv3;
namespace rt = ::dsv3::runtime;

namespace {

FailureOr<rt::ElementType> toDType(Type type) {
  if (type.isF32())
    return rt::TYPE_F32;
  if (type.isF64())
    return rt::TYPE_F64;
  if (type.isBF16())
    return rt::TYPE_BF16;
  if (type.isF16())
    return rt::TYPE_F16;
  if (type.isInteger(32))
    return rt::TYPE_I32;
  if (type.isInteger(64) || type.isIndex())
    return rt::TYPE_I64;
  if (type.isInteger(1) || type.isInteger(8))
    return rt::TYPE_I8;
  if (isa<Float8E4M3FNType>(type))
    return rt::TYPE_F8E4M3FN;
  return failure();
}

rt::Role toRole(std::optional<Role> role) {
  if (!role)
    return rt::ACTIVATION;
  switch (*role) {
  case Role::param:
    return rt::PARAM;
  case Role::opt_state:
    return rt::OPT_STATE;
  case Role::batch:
    return rt::BATCH;
  case Role::step:
    return rt::STEP;
  case Role::loss:
    return rt::LOSS;
  case Role::metric:
    return rt::METRIC;
  }
  return rt::ACTIVATION;
}

} // namespace

FailureOr<StepBuffers> mlir::dsv3::assignBuffers(func::FuncOp step,
                                                 rt::Executable &exe) {
  auto arena = step->getAttrOfType<IntegerAttr>(
      Dsv3Dialect::ArenaBytesAttrHelper::getNameStr());
  auto peak = step->getAttrOfType<IntegerAttr>(
      Dsv3Dialect::PeakLiveBytesAttrHelper::getNameStr());
  if (!arena || !peak)
    return step.emitError("dsv3-compile: @")
           << step.getName()
           << " has no memory plan (run dsv3-plan-memory, part of "
              "dsv3-train-pipeline)";
  exe.set_arena_bytes(arena.getInt());
  exe.set_peak_live_bytes(peak.getInt());

  StepBuffers buffers;
  auto add = [&](Type type, int64_t offset, Location loc) -> FailureOr<int> {
    auto shaped = cast<ShapedType>(type);
    FailureOr<rt::ElementType> dtype = toDType(shaped.getElementType());
    if (failed(dtype))
      return emitError(loc, "dsv3-compile: the executable has no buffers "
                            "of element type ")
             << shaped.getElementType();
    int id = exe.buffers_size();
    rt::Buffer *buffer = exe.add_buffers();
    buffer->set_dtype(*dtype);
    for (int64_t d : shaped.getShape())
      buffer->add_shape(d);
    buffer->set_bytes(shaped.getNumElements() *
                      static_cast<int64_t>(rt::elementBytes(*dtype)));
    buffer->set_role(rt::ACTIVATION);
    buffer->set_offset(offset);
    return id;
  };

  Block &body = step.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    unsigned i = arg.getArgNumber();
    auto offset = step.getArgAttrOfType<IntegerAttr>(i, kOffsetAttr);
    if (!offset)
      return step.emitError("dsv3-compile: argument ")
             << i << " has no planned offset";
    FailureOr<int> id = add(arg.getType(), offset.getInt(), arg.getLoc());
    if (failed(id))
      return failure();
    buffers.of[arg] = *id;
    rt::Buffer *buffer = exe.mutable_buffers(*id);
    std::optional<Role> role = getArgRole(step, i);
    buffer->set_role(toRole(role));
    buffer->set_name(getArgName(step, i).str());
    if (std::optional<BatchField> field = getBatchField(step, i))
      buffer->set_batch_field(stringifyBatchField(*field).str());
    if (std::optional<InitKind> init = getInitKind(step, i)) {
      buffer->mutable_init()->set_kind(stringifyInitKind(*init).str());
      if (std::optional<double> std = getInitStd(step, i))
        buffer->mutable_init()->set_std(*std);
      if (std::optional<double> value = getInitValue(step, i))
        buffer->mutable_init()->set_value(*value);
      else if (*init == InitKind::constant)
        return step.emitError("dsv3-compile: argument ")
               << i << " has a constant initializer without dsv3.init_value";
    } else if (role == Role::opt_state) {
      buffer->mutable_init()->set_kind("zeros");
    } else if (role == Role::param) {
      return step.emitError("dsv3-compile: parameter ")
             << (buffer->name().empty() ? "#" + std::to_string(i)
                                        : buffer->name())
             << " has no initializer (dsv3.init)";
    }
    buffer->set_trainable(role == Role::param && isTrainable(step, i));
    if (auto quantized = step.getArgAttrOfType<StringAttr>(i, kQuantizedAttr))
      buffer->set_quantized(quantized.getValue().str());
  }

  for (Operation &op : body) {
    if (op.getNumResults() != 0) {
      auto offsets = op.getAttrOfType<DenseI64ArrayAttr>(
          Dsv3Dialect::OffsetsAttrHelper::getNameStr());
      if (!offsets)
        return op.emitError("dsv3-compile: no planned offsets");
      for (auto [r, result] : llvm::enumerate(op.getResults())) {
        FailureOr<int> id = add(result.getType(), offsets[r], op.getLoc());
        if (failed(id))
          return failure();
        buffers.of[result] = *id;
      }
    }
    auto scratchOffsets = op.getAttrOfType<DenseI64ArrayAttr>(
        Dsv3Dialect::ScratchOffsetsAttrHelper::getNameStr());
    auto scratchBytes = op.getAttrOfType<DenseI64ArrayAttr>(
        Dsv3Dialect::ScratchBytesAttrHelper::getNameStr());
    if (!scratchOffsets)
      continue;
    if (!scratchBytes || scratchBytes.size() != scratchOffsets.size())
      return op.emitError("dsv3-compile: scratch offsets without sizes");
    MLIRContext *context = op.getContext();
    for (auto [offset, bytes] :
         llvm::zip(scratchOffsets.asArrayRef(), scratchBytes.asArrayRef())) {
      // Scratch is raw bytes to the runtime.
      FailureOr<int> id = add(
          RankedTensorType::get({bytes}, IntegerType::get(context, 8)),
          offset, op.getLoc());
      if (failed(id))
        return failure();
      buffers.scratch[&op].push_back(*id);
    }
  }
  return buffers;
}
