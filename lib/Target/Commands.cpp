//===- Commands.cpp - an executable's command list, per target ------------===//
//
// One op of the planned step at a time, in order: what each becomes is
// decided by the op alone and the target.
//
//===----------------------------------------------------------------------===//

#include "Target/Commands.h"

#include "Analysis/Cost.h"
#include "Target/CpuKernels.h"

#include "dsv3/Dsv3Attributes.h"
#include "dsv3/Dsv3Ops.h"
#include "runtime/executable.pb.h"

using namespace mlir;
using namespace mlir::dsv3;
namespace rt = ::dsv3::runtime;

namespace {

int64_t product(ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims)
    p *= d;
  return p;
}

/// The buffers a kernel call's code takes, in its order: operands, the
/// results that have no donated buffer, then scratch.
SmallVector<int> kernelParameters(func::CallOp call,
                                  const StepBuffers &buffers) {
  SmallVector<int> params;
  for (Value v : call.getOperands())
    params.push_back(buffers.of.lookup(v));
  auto donations = call->getAttrOfType<DenseI64ArrayAttr>(
      Dsv3Dialect::DonationsAttrHelper::getNameStr());
  for (auto [r, v] : llvm::enumerate(call.getResults()))
    if (!donations || donations[r] < 0)
      params.push_back(buffers.of.lookup(v));
  llvm::append_range(params, buffers.scratch.lookup(call));
  return params;
}

void emitLaunch(func::CallOp call, const StepBuffers &buffers,
                rt::Executable &exe) {
  rt::Launch *launch = exe.add_commands()->mutable_launch();
  launch->set_kernel(cpuEntryPoint(call.getCallee()));
  SmallVector<int> params = kernelParameters(call, buffers);
  size_t numInputs = call.getNumOperands();
  size_t numScratch = buffers.scratch.lookup(call).size();
  for (auto [i, id] : llvm::enumerate(params)) {
    if (i < numInputs)
      launch->add_inputs(id);
    else if (i < params.size() - numScratch)
      launch->add_outputs(id);
    else
      launch->add_scratch(id);
  }
  // The kernel's signature, from its first launch (every launch of a kernel
  // passes buffers of the same types).
  for (const rt::KernelSignature &k : exe.kernels())
    if (k.kernel() == launch->kernel())
      return;
  rt::KernelSignature *signature = exe.add_kernels();
  signature->set_kernel(launch->kernel());
  for (int id : launch->inputs())
    signature->add_input_bytes(exe.buffers(id).bytes());
  for (int id : launch->outputs())
    signature->add_output_bytes(exe.buffers(id).bytes());
  for (int id : launch->scratch())
    signature->add_scratch_bytes(exe.buffers(id).bytes());
}

/// The signature of a GPU function as `launch` runs it: its grid and
/// block, the bytes of each buffer it takes and each scalar.
rt::GpuSignature gpuSignature(const rt::GpuLaunch &launch,
                              const rt::Executable &exe) {
  rt::GpuSignature signature;
  signature.set_function(launch.function());
  *signature.mutable_grid() = launch.grid();
  *signature.mutable_block() = launch.block();
  for (const rt::GpuArg &a : launch.args()) {
    rt::GpuParam *param = signature.add_params();
    if (a.value_case() == rt::GpuArg::kBuffer)
      param->set_buffer_bytes(exe.buffers(a.buffer()).bytes());
    else
      *param->mutable_scalar() = a;
  }
  return signature;
}

/// Records the signature of the launched function from its first launch;
/// every later launch must match it, or the loader would refuse the file.
LogicalResult addGpuSignature(func::CallOp call, const rt::GpuLaunch &launch,
                              rt::Executable &exe) {
  rt::GpuSignature signature = gpuSignature(launch, exe);
  for (const rt::GpuSignature &g : exe.gpu_functions()) {
    if (g.function() != launch.function())
      continue;
    if (g.SerializeAsString() != signature.SerializeAsString())
      return call.emitError("dsv3-compile: GPU function ")
             << launch.function()
             << " is launched with another grid, block, buffer size or "
                "scalar than its first launch";
    return success();
  }
  *exe.add_gpu_functions() = std::move(signature);
  return success();
}

LogicalResult emitGpuLaunches(func::CallOp call, const StepBuffers &buffers,
                              const GpuKernels &gpu, rt::Executable &exe) {
  SmallVector<int> params = kernelParameters(call, buffers);
  auto it = gpu.launches.find(call.getCallee());
  if (it == gpu.launches.end())
    return call.emitError("dsv3-compile: no GPU code for @")
           << call.getCallee();
  for (const GpuLaunch &l : it->second) {
    rt::GpuLaunch *launch = exe.add_commands()->mutable_gpu_launch();
    launch->set_function(l.function);
    for (int64_t d : l.grid)
      launch->add_grid(d);
    for (int64_t d : l.block)
      launch->add_block(d);
    for (const GpuLaunchArg &a : l.args) {
      rt::GpuArg *arg = launch->add_args();
      switch (a.kind) {
      case GpuLaunchArg::Kind::Parameter:
        if (a.parameter < 0 || a.parameter >= (int64_t)params.size())
          return call.emitError("dsv3-compile: a launch of @")
                 << call.getCallee() << " reads parameter " << a.parameter
                 << " of " << params.size();
        arg->set_buffer(params[a.parameter]);
        break;
      case GpuLaunchArg::Kind::I64:
        arg->set_i64(a.integer);
        break;
      case GpuLaunchArg::Kind::I32:
        arg->set_i32(static_cast<int32_t>(a.integer));
        break;
      case GpuLaunchArg::Kind::F32:
        arg->set_f32(static_cast<float>(a.real));
        break;
      case GpuLaunchArg::Kind::F64:
        arg->set_f64(a.real);
        break;
      }
    }
    if (failed(addGpuSignature(call, *launch, exe)))
      return failure();
  }
  return success();
}

void emitGemm(MatmulOp mm, const StepBuffers &buffers, rt::Command *command) {
  ArrayRef<int64_t> lhs = mm.getLhs().getType().getShape();
  ArrayRef<int64_t> rhs = mm.getRhs().getType().getShape();
  ArrayRef<int64_t> out = mm.getResult().getType().getShape();
  int64_t rank = out.size();
  int64_t m = out[rank - 2], n = out[rank - 1];
  int64_t k = mm.getTransposeLhs() ? lhs[rank - 2] : lhs[rank - 1];
  int64_t batch = product(out.drop_back(2));
  bool sharedRhs = rhs.size() == 2 && rank > 2;
  rt::Gemm *gemm = command->mutable_gemm();
  gemm->set_a(buffers.of.lookup(mm.getLhs()));
  gemm->set_b(buffers.of.lookup(mm.getRhs()));
  gemm->set_c(buffers.of.lookup(mm.getResult()));
  gemm->set_trans_a(mm.getTransposeLhs());
  gemm->set_trans_b(mm.getTransposeRhs());
  if (sharedRhs && !mm.getTransposeLhs()) {
    // One GEMM over every row of every batch.
    m *= batch;
    batch = 1;
  }
  gemm->set_batch(batch);
  gemm->set_m(m);
  gemm->set_n(n);
  gemm->set_k(k);
  gemm->set_stride_a(m * k);
  gemm->set_stride_b(sharedRhs ? 0 : k * n);
  gemm->set_stride_c(m * n);
}

void emitGroupedGemm(Operation *op, const StepBuffers &buffers,
                     rt::Command *command) {
  auto x = cast<RankedTensorType>(op->getOperand(0).getType());
  auto w = cast<RankedTensorType>(op->getOperand(1).getType());
  auto y = cast<RankedTensorType>(op->getResult(0).getType());
  bool weightGrad = isa<GroupedMatmulWgradOp>(op);
  bool transW = weightGrad ? cast<GroupedMatmulWgradOp>(op).getTransposeRhs()
                           : cast<GroupedMatmulOp>(op).getTransposeRhs();
  rt::GroupedGemm *gemm = command->mutable_grouped_gemm();
  gemm->set_x(buffers.of.lookup(op->getOperand(0)));
  gemm->set_w(buffers.of.lookup(op->getOperand(1)));
  gemm->set_group_sizes(buffers.of.lookup(op->getOperand(2)));
  gemm->set_y(buffers.of.lookup(op->getResult(0)));
  gemm->set_trans_w(transW);
  gemm->set_weight_grad(weightGrad);
  gemm->set_rows(x.getDimSize(0));
  gemm->set_k(x.getDimSize(1));
  if (weightGrad) {
    gemm->set_experts(y.getDimSize(0));
    gemm->set_n(w.getDimSize(1));
  } else {
    gemm->set_experts(w.getDimSize(0));
    gemm->set_n(y.getDimSize(1));
  }
}

/// dsv3.attention or dsv3.attention_grad left whole for the runtime.
void emitAttention(Operation *op, const StepBuffers &buffers,
                   rt::Command *command) {
  rt::Attention *a = command->mutable_attention();
  auto id = [&](Value v) { return buffers.of.lookup(v); };
  Value query, key, value, segments;
  bool causal;
  double scale;
  auto operands = [&](auto attention) {
    query = attention.getQuery(), key = attention.getKey();
    value = attention.getValue(), segments = attention.getSegmentIds();
    causal = attention.getCausal();
    scale = attention.getScale().convertToDouble();
  };
  if (auto fwd = dyn_cast<AttentionOp>(op)) {
    operands(fwd);
    a->set_output(id(fwd.getResult()));
  } else {
    auto grad = cast<AttentionGradOp>(op);
    operands(grad);
    a->set_backward(true);
    a->set_d_output(id(grad.getDResult()));
    a->set_d_query(id(grad.getDQuery()));
    a->set_d_key(id(grad.getDKey()));
    a->set_d_value(id(grad.getDValue()));
  }
  a->set_query(id(query));
  a->set_key(id(key));
  a->set_value(id(value));
  if (segments) {
    a->set_has_segments(true);
    a->set_segments(id(segments));
  }
  ArrayRef<int64_t> q = cast<RankedTensorType>(query.getType()).getShape();
  ArrayRef<int64_t> k = cast<RankedTensorType>(key.getType()).getShape();
  ArrayRef<int64_t> v = cast<RankedTensorType>(value.getType()).getShape();
  a->set_batch(q[0]);
  a->set_seq(q[1]);
  a->set_heads(q[2]);
  a->set_kv_heads(k[2]);
  a->set_dqk(q[3]);
  a->set_dv(v[3]);
  a->set_causal(causal);
  a->set_scale(static_cast<float>(scale));
}

/// The loss and metrics get their roles; updated state that does not
/// share its argument's buffer is copied back onto it.
LogicalResult emitReturn(func::FuncOp step, func::ReturnOp ret,
                         const StepBuffers &buffers, rt::Executable &exe) {
  Block &body = step.getBody().front();
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    int id = buffers.of.lookup(v);
    std::optional<Role> role = getResultRole(step, i);
    if (role == Role::loss || role == Role::metric) {
      rt::Buffer *buffer = exe.mutable_buffers(id);
      buffer->set_role(role == Role::loss ? rt::LOSS : rt::METRIC);
      buffer->set_name(getResultName(step, i).str());
      continue;
    }
    std::optional<unsigned> updated = getUpdatedArgument(step, i);
    if (!updated)
      return step.emitError("dsv3-compile: result ")
             << i << " (" << (role ? stringifyRole(*role) : "no role") << " "
             << getResultName(step, i) << ") updates no argument of the step";
    int dst = buffers.of.lookup(body.getArgument(*updated));
    if (exe.buffers(dst).offset() == exe.buffers(id).offset())
      continue;
    rt::Copy *copy = exe.add_commands()->mutable_copy();
    copy->set_src(id);
    copy->set_dst(dst);
  }
  return success();
}

} // namespace

LogicalResult mlir::dsv3::emitCommands(func::FuncOp step,
                                       const StepBuffers &buffers,
                                       const GpuKernels *gpu,
                                       rt::Executable &exe) {
  double flops = 0;
  for (Operation &op : step.getBody().front()) {
    int first = exe.commands_size();
    int64_t opFlops = 0;
    if (auto call = dyn_cast<func::CallOp>(op)) {
      if (gpu) {
        if (failed(emitGpuLaunches(call, buffers, *gpu, exe)))
          return failure();
      } else {
        emitLaunch(call, buffers, exe);
      }
      if (auto attr = call->getAttrOfType<IntegerAttr>(
              Dsv3Dialect::FlopsAttrHelper::getNameStr()))
        opFlops = attr.getInt();
    } else if (auto mm = dyn_cast<MatmulOp>(op)) {
      emitGemm(mm, buffers, exe.add_commands());
      opFlops = getOpCost(&op).flops;
    } else if (isa<GroupedMatmulOp, GroupedMatmulWgradOp>(op)) {
      emitGroupedGemm(&op, buffers, exe.add_commands());
      opFlops = getOpCost(&op).flops;
    } else if (!gpu && isLibraryAttention(&op)) {
      emitAttention(&op, buffers, exe.add_commands());
      opFlops = getOpCost(&op).flops;
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      if (failed(emitReturn(step, ret, buffers, exe)))
        return failure();
    } else if (!isa<ReshapeOp>(op)) {
      return op.emitError("dsv3-compile: the executable cannot run this op "
                          "outside a kernel");
    }
    // A kernel's FLOPs go with its first launch.
    if (exe.commands_size() > first)
      exe.mutable_commands(first)->set_flops(static_cast<double>(opFlops));
    flops += opFlops;
  }
  // The model's FLOPs when autodiff recorded them, else what runs.
  if (auto model = step->getAttrOfType<IntegerAttr>(
          Dsv3Dialect::FlopsAttrHelper::getNameStr()))
    flops = static_cast<double>(model.getInt());
  exe.set_flops_per_step(flops);
  return success();
}
