//===- Executable.cpp - the training step as an executable ----------------===//
//
// After fusion and dsv3-outline-kernels, @train_step is a list of kernel
// calls, f32 GEMMs and reshapes. Each SSA value becomes a buffer of the
// arena (a reshape shares its input's storage); parameters, optimizer state
// and the batch live for the whole run at the start of the arena, every
// other buffer is placed by liveness. Each call becomes a Launch, each GEMM
// a Gemm or GroupedGemm, and each updated parameter or moment a Copy back
// onto its persistent buffer at the end of the step.
//
// The kernels are rewritten in destination-passing style (memref inputs,
// then memref outputs, no results), lowered with dsv3-lower-to-llvm using
// bare-pointer memrefs, and each gets an entry point
// `dsv3_<kernel>(void **args)` so that the runtime calls every kernel the
// same way.
//
//===----------------------------------------------------------------------===//

#include "Target/Executable.h"

#include "Analysis/Cost.h"
#include "Analysis/MemoryPlan.h"
#include "Conversion/Passes.h"
#include "Target/GpuKernels.h"
#include "Target/HostCodegen.h"
#include "Transforms/Passes.h"
#include "dsv3/Dsv3Ops.h"
#include "runtime/element_type.h"
#include "runtime/executable.pb.h"
#include "runtime/executable_format.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::dsv3;
namespace rt = ::dsv3::runtime;

namespace {

constexpr int64_t kAlignment = 64;

int64_t alignUp(int64_t x) { return (x + kAlignment - 1) / kAlignment * kAlignment; }

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
  return failure();
}

rt::Role toRole(StringRef role) {
  return llvm::StringSwitch<rt::Role>(role)
      .Case("param", rt::PARAM)
      .Case("opt_state", rt::OPT_STATE)
      .Case("batch", rt::BATCH)
      .Case("step", rt::STEP)
      .Case("loss", rt::LOSS)
      .Case("metric", rt::METRIC)
      .Default(rt::ACTIVATION);
}

int64_t product(ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims)
    p *= d;
  return p;
}

/// The kernel `kernel` (tensors in, tensors out) in destination-passing
/// style, built at the end of `target`.
void buildDestinationPassingKernel(func::FuncOp kernel, ModuleOp target) {
  OpBuilder b = OpBuilder::atBlockEnd(target.getBody());
  Location loc = kernel.getLoc();
  auto memrefOf = [](Type t) {
    auto tensor = cast<RankedTensorType>(t);
    return MemRefType::get(tensor.getShape(), tensor.getElementType());
  };
  SmallVector<Type> argTypes;
  for (Type t : kernel.getArgumentTypes())
    argTypes.push_back(memrefOf(t));
  for (Type t : kernel.getResultTypes())
    argTypes.push_back(memrefOf(t));
  auto fn = func::FuncOp::create(b, loc, kernel.getSymName(),
                                 b.getFunctionType(argTypes, {}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping mapping;
  for (BlockArgument arg : kernel.getArguments()) {
    Value tensor = bufferization::ToTensorOp::create(
        b, loc, arg.getType(), entry->getArgument(arg.getArgNumber()),
        /*restrict=*/true, /*writable=*/false);
    mapping.map(arg, tensor);
  }
  Block &body = kernel.getBody().front();
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
  unsigned numInputs = kernel.getNumArguments();
  for (auto [i, v] : llvm::enumerate(body.getTerminator()->getOperands()))
    bufferization::MaterializeInDestinationOp::create(
        b, loc, Type(), mapping.lookup(v), entry->getArgument(numInputs + i),
        /*restrict=*/true, /*writable=*/true);
  func::ReturnOp::create(b, loc);
}

/// Adds `void dsv3_<name>(void **args)` for each kernel: the one calling
/// convention the runtime knows. The kernels themselves become internal so
/// that they can be inlined into their entry points.
void addEntryPoints(llvm::Module &module, ArrayRef<std::string> kernels) {
  llvm::LLVMContext &context = module.getContext();
  auto *ptr = llvm::PointerType::get(context, 0);
  auto *entryType =
      llvm::FunctionType::get(llvm::Type::getVoidTy(context), {ptr}, false);
  for (const std::string &name : kernels) {
    llvm::Function *kernel = module.getFunction(name);
    auto *entry = llvm::Function::Create(entryType,
                                         llvm::GlobalValue::ExternalLinkage,
                                         "dsv3_" + name, module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", entry));
    SmallVector<llvm::Value *> args;
    for (unsigned i = 0; i < kernel->arg_size(); ++i)
      args.push_back(b.CreateLoad(
          ptr, b.CreateConstGEP1_64(ptr, entry->getArg(0), i)));
    b.CreateCall(kernel, args);
    b.CreateRetVoid();
    kernel->setLinkage(llvm::GlobalValue::InternalLinkage);
  }
}

/// Every `dsv3.kernel` function of `module` in destination-passing style,
/// bufferized, with its temporaries hoisted into trailing arguments
/// (dsv3-hoist-allocs): what each launch needs from the arena is known
/// before the arena is planned.
FailureOr<OwningOpRef<ModuleOp>> prepareKernels(ModuleOp module,
                                                bool parallelRouting) {
  MLIRContext *context = module.getContext();
  context->loadDialect<bufferization::BufferizationDialect,
                       memref::MemRefDialect>();
  DialectRegistry registry;
  registerLowerToLLVMInterfaces(registry);
  context->appendDialectRegistry(registry);
  OwningOpRef<ModuleOp> kernels = ModuleOp::create(module.getLoc());
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn->hasAttr("dsv3.kernel"))
      buildDestinationPassingKernel(fn, *kernels);
  PassManager pm(context);
  buildBufferizePipeline(pm, parallelRouting);
  HoistAllocsOptions hoist;
  hoist.all = true;
  pm.addNestedPass<func::FuncOp>(createHoistAllocs(hoist));
  if (failed(pm.run(*kernels)))
    return failure();
  return kernels;
}

/// Compiles the prepared kernels into one shared object.
FailureOr<std::string> compileKernelLibrary(ModuleOp kernels,
                                            const ExecutableOptions &options) {
  std::vector<std::string> names;
  for (auto fn : kernels.getOps<func::FuncOp>())
    names.push_back(fn.getSymName().str());
  if (options.progress)
    *options.progress << "dsv3-compile: generating " << names.size()
                      << " kernels for the host CPU (-O" << options.optLevel
                      << ")\n";

  FailureOr<std::unique_ptr<llvm::TargetMachine>> machine =
      createHostTargetMachine();
  if (failed(machine))
    return failure();
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      lowerForHost(kernels, llvmContext, **machine, /*barePtrCallConv=*/true,
                   /*bufferized=*/true);
  if (!llvmModule)
    return failure();
  addEntryPoints(*llvmModule, names);
  if (failed(optimizeForHost(*llvmModule, **machine, options.optLevel)))
    return failure();
  SmallString<0> object;
  llvm::raw_svector_ostream os(object);
  if (failed(emitObject(*llvmModule, **machine, os)))
    return failure();
  return linkSharedObject(object);
}

} // namespace

FailureOr<std::string>
mlir::dsv3::buildExecutable(ModuleOp module,
                            const ExecutableOptions &options) {
  bool cuda = options.target == "cuda";
  if (!cuda && options.target != "cpu") {
    module.emitError("dsv3-compile: unknown target ") << options.target;
    return failure();
  }
  auto step = module.lookupSymbol<func::FuncOp>("train_step");
  if (!step) {
    module.emitError("dsv3-compile: no @train_step to compile (run "
                     "dsv3-autodiff first)");
    return failure();
  }
  FunctionCost cost = computeFunctionCost(step);

  PassManager pm(module.getContext());
  pm.addPass(createDecomposeAttention());
  pm.addPass(createFuse());
  pm.addPass(createOutlineKernels());
  if (failed(pm.run(module)))
    return failure();

  rt::Executable exe;
  exe.set_format_version(1);
  exe.set_target(options.target);
  exe.set_spec(options.specText);
  exe.set_flops_per_step(static_cast<double>(cost.total.flops));
  if (auto model = module->getAttrOfType<StringAttr>("dsv3.model"))
    exe.set_model(model.str());
  if (auto training = module->getAttrOfType<DictionaryAttr>("dsv3.training")) {
    auto get = [&](StringRef key) -> int64_t {
      auto attr = training.getAs<IntegerAttr>(key);
      return attr ? attr.getInt() : 0;
    };
    exe.set_micro_batch(get("micro_batch"));
    exe.set_seq_len(get("seq_len"));
    exe.set_total_steps(get("total_steps"));
    exe.set_seed(get("seed"));
  }

  // Buffers: one per SSA value of the step; `storage` is the buffer whose
  // bytes a value occupies (itself, or the input of the reshape it is).
  Block &body = step.getBody().front();
  llvm::DenseMap<Value, int> bufferOf;
  std::vector<int> storage;
  auto addStorage = [&](ShapedType type, Location loc,
                        int storageOf) -> FailureOr<int> {
    FailureOr<rt::ElementType> dtype = toDType(type.getElementType());
    if (failed(dtype)) {
      emitError(loc, "dsv3-compile: the executable has no buffers "
                     "of element type ")
          << type.getElementType();
      return failure();
    }
    int id = exe.buffers_size();
    rt::Buffer *buffer = exe.add_buffers();
    buffer->set_dtype(*dtype);
    for (int64_t d : type.getShape())
      buffer->add_shape(d);
    buffer->set_bytes(product(type.getShape()) *
                      static_cast<int64_t>(rt::elementBytes(*dtype)));
    buffer->set_role(rt::ACTIVATION);
    storage.push_back(storageOf < 0 ? id : storage[storageOf]);
    return id;
  };
  auto addBuffer = [&](Value v, int storageOf = -1) -> FailureOr<int> {
    FailureOr<int> id =
        addStorage(cast<ShapedType>(v.getType()), v.getLoc(), storageOf);
    if (succeeded(id))
      bufferOf[v] = *id;
    return id;
  };

  // The kernels, bufferized: their trailing arguments are scratch buffers.
  // On the GPU a loop over the MoE copies would run on one thread.
  FailureOr<OwningOpRef<ModuleOp>> kernels =
      prepareKernels(module, /*parallelRouting=*/cuda);
  if (failed(kernels))
    return failure();
  llvm::DenseMap<Operation *, SmallVector<int>> scratchOf;

  // Persistent buffers first, packed at the start of the arena.
  int64_t persistentBytes = 0;
  llvm::StringMap<int> stateByName;
  for (BlockArgument arg : body.getArguments()) {
    FailureOr<int> id = addBuffer(arg);
    if (failed(id))
      return failure();
    rt::Buffer *buffer = exe.mutable_buffers(*id);
    unsigned i = arg.getArgNumber();
    auto role = step.getArgAttrOfType<StringAttr>(i, "dsv3.role");
    buffer->set_role(toRole(role ? role.getValue() : ""));
    if (auto name = step.getArgAttrOfType<StringAttr>(i, "dsv3.name"))
      buffer->set_name(name.str());
    if (auto field = step.getArgAttrOfType<StringAttr>(i, "dsv3.batch"))
      buffer->set_batch_field(field.str());
    if (auto init = step.getArgAttrOfType<StringAttr>(i, "dsv3.init")) {
      buffer->mutable_init()->set_kind(init.str());
      if (auto std = step.getArgAttrOfType<FloatAttr>(i, "dsv3.init_std"))
        buffer->mutable_init()->set_std(std.getValueAsDouble());
    } else if (buffer->role() == rt::OPT_STATE) {
      buffer->mutable_init()->set_kind("zeros");
    }
    auto trainable = step.getArgAttrOfType<BoolAttr>(i, "dsv3.trainable");
    buffer->set_trainable(buffer->role() == rt::PARAM &&
                          (!trainable || trainable.getValue()));
    buffer->set_offset(persistentBytes);
    persistentBytes += alignUp(buffer->bytes());
    if (buffer->role() == rt::PARAM || buffer->role() == rt::OPT_STATE)
      stateByName[(Twine(role.getValue()) + ":" + buffer->name()).str()] = *id;
  }

  // Temporaries, with their live ranges in command indices.
  struct Range {
    int64_t start, end;
  };
  llvm::DenseMap<int, Range> live;
  int64_t index = 0;
  auto use = [&](Value v, int64_t at) {
    int root = storage[bufferOf.lookup(v)];
    auto it = live.find(root);
    if (it != live.end())
      it->second.end = std::max(it->second.end, at);
  };
  for (Operation &op : body) {
    ++index;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        use(v, index);
      continue;
    }
    for (Value operand : op.getOperands())
      use(operand, index);
    for (Value result : op.getResults()) {
      int storageOf = -1;
      if (auto reshape = dyn_cast<ReshapeOp>(op))
        storageOf = bufferOf.lookup(reshape.getInput());
      FailureOr<int> id = addBuffer(result, storageOf);
      if (failed(id))
        return failure();
      if (storageOf < 0)
        live[*id] = {index, index};
    }
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto kernel = (*kernels)->lookupSymbol<func::FuncOp>(call.getCallee());
      unsigned used = call.getNumOperands() + call.getNumResults();
      for (Type t : kernel.getArgumentTypes().drop_front(used)) {
        FailureOr<int> id = addStorage(cast<ShapedType>(t), call.getLoc(), -1);
        if (failed(id))
          return failure();
        live[*id] = {index, index};
        scratchOf[call].push_back(*id);
      }
    }
  }
  std::vector<int> temporaries;
  std::vector<BufferRequest> requests;
  for (auto &[id, range] : live) {
    temporaries.push_back(id);
    requests.push_back({exe.buffers(id).bytes(), range.start, range.end});
  }
  MemoryPlan plan = planMemory(requests, kAlignment);
  for (auto [id, offset] : llvm::zip(temporaries, plan.offsets))
    exe.mutable_buffers(id)->set_offset(persistentBytes + offset);
  for (int id = 0; id < exe.buffers_size(); ++id)
    if (storage[id] != id)
      exe.mutable_buffers(id)->set_offset(exe.buffers(storage[id]).offset());
  exe.set_arena_bytes(persistentBytes + plan.arenaBytes);
  exe.set_peak_live_bytes(persistentBytes + plan.peakLiveBytes);

  // Kernel code: for CUDA it decides the launches, so it comes first.
  int64_t numKernels = llvm::range_size((*kernels)->getOps<func::FuncOp>());
  std::optional<GpuKernels> gpu;
  if (cuda) {
    FailureOr<GpuKernels> compiled =
        compileGpuKernels(**kernels, options.sm, options.cudaPath,
                          std::min(options.optLevel, 3u), options.progress);
    if (failed(compiled))
      return failure();
    gpu = std::move(*compiled);
    exe.set_sm(options.sm);
    if (options.ptx)
      *options.ptx = gpu->ptx;
    exe.set_cubin(std::move(gpu->cubin));
    exe.set_ptx(std::move(gpu->ptx));
  } else {
    FailureOr<std::string> library = compileKernelLibrary(**kernels, options);
    if (failed(library))
      return failure();
    exe.set_kernel_library(std::move(*library));
  }

  // Commands.
  for (Operation &op : body) {
    auto call = dyn_cast<func::CallOp>(op);
    if (call && cuda) {
      // The kernel's parameters: inputs, outputs, then scratch.
      SmallVector<int> params;
      for (Value v : call.getOperands())
        params.push_back(bufferOf.lookup(v));
      for (Value v : call.getResults())
        params.push_back(bufferOf.lookup(v));
      llvm::append_range(params, scratchOf.lookup(call));
      for (const GpuLaunch &l : gpu->launches.lookup(call.getCallee())) {
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
      }
    } else if (call) {
      rt::Command *command = exe.add_commands();
      rt::Launch *launch = command->mutable_launch();
      launch->set_kernel("dsv3_" + call.getCallee().str());
      for (Value v : call.getOperands())
        launch->add_inputs(bufferOf.lookup(v));
      for (Value v : call.getResults())
        launch->add_outputs(bufferOf.lookup(v));
      for (int id : scratchOf.lookup(call))
        launch->add_scratch(id);
      auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
      command->set_flops(
          static_cast<double>(computeFunctionCost(callee).total.flops));
    } else if (auto mm = dyn_cast<MatmulOp>(op)) {
      ArrayRef<int64_t> lhs = mm.getLhs().getType().getShape();
      ArrayRef<int64_t> rhs = mm.getRhs().getType().getShape();
      ArrayRef<int64_t> out = mm.getResult().getType().getShape();
      int64_t rank = out.size();
      int64_t m = out[rank - 2], n = out[rank - 1];
      int64_t k = mm.getTransposeLhs() ? lhs[rank - 2] : lhs[rank - 1];
      int64_t batch = product(out.drop_back(2));
      bool sharedRhs = rhs.size() == 2 && rank > 2;
      rt::Command *command = exe.add_commands();
      rt::Gemm *gemm = command->mutable_gemm();
      gemm->set_a(bufferOf.lookup(mm.getLhs()));
      gemm->set_b(bufferOf.lookup(mm.getRhs()));
      gemm->set_c(bufferOf.lookup(mm.getResult()));
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
      command->set_flops(static_cast<double>(getOpCost(&op).flops));
    } else if (isa<GroupedMatmulOp, GroupedMatmulWgradOp>(op)) {
      auto x = cast<RankedTensorType>(op.getOperand(0).getType());
      auto w = cast<RankedTensorType>(op.getOperand(1).getType());
      auto y = cast<RankedTensorType>(op.getResult(0).getType());
      bool weightGrad = isa<GroupedMatmulWgradOp>(op);
      bool transW = weightGrad ? cast<GroupedMatmulWgradOp>(op).getTransposeRhs()
                               : cast<GroupedMatmulOp>(op).getTransposeRhs();
      rt::Command *command = exe.add_commands();
      rt::GroupedGemm *gemm = command->mutable_grouped_gemm();
      gemm->set_x(bufferOf.lookup(op.getOperand(0)));
      gemm->set_w(bufferOf.lookup(op.getOperand(1)));
      gemm->set_group_sizes(bufferOf.lookup(op.getOperand(2)));
      gemm->set_y(bufferOf.lookup(op.getResult(0)));
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
      command->set_flops(static_cast<double>(getOpCost(&op).flops));
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        int id = bufferOf.lookup(v);
        auto role = step.getResultAttrOfType<StringAttr>(i, "dsv3.role");
        auto name = step.getResultAttrOfType<StringAttr>(i, "dsv3.name");
        StringRef roleName = role ? role.getValue() : "";
        if (roleName == "loss" || roleName == "metric") {
          rt::Buffer *buffer = exe.mutable_buffers(id);
          buffer->set_role(toRole(roleName));
          if (name)
            buffer->set_name(name.str());
          continue;
        }
        auto it = stateByName.find(
            (roleName + ":" + (name ? name.getValue() : "")).str());
        if (it == stateByName.end()) {
          step.emitError("dsv3-compile: result ")
              << i << " (" << roleName << " "
              << (name ? name.getValue() : "unnamed")
              << ") updates no argument of the step";
          return failure();
        }
        if (it->second == id)
          continue;
        rt::Copy *copy = exe.add_commands()->mutable_copy();
        copy->set_src(id);
        copy->set_dst(it->second);
      }
    } else if (!isa<ReshapeOp>(op)) {
      op.emitError("dsv3-compile: the executable cannot run this op "
                   "outside a kernel");
      return failure();
    }
  }
  for (const rt::Buffer &buffer : exe.buffers())
    if (buffer.name() == "model.embed_tokens.weight" && buffer.shape_size() == 2)
      exe.set_vocab_size(buffer.shape(0));

  if (options.progress)
    *options.progress << "dsv3-compile: " << exe.commands_size()
                      << " commands (" << numKernels << " kernels), "
                      << exe.buffers_size() << " buffers, arena "
                      << llvm::format("%.1f", exe.arena_bytes() / 1048576.0)
                      << " MiB, "
                      << (cuda ? "cubin " : "kernel library ")
                      << llvm::format("%.1f", (cuda ? exe.cubin().size()
                                                    : exe.kernel_library().size()) /
                                                  1048576.0)
                      << " MiB\n";
  std::string bytes;
  if (!exe.SerializeToString(&bytes)) {
    module.emitError("dsv3-compile: the executable does not serialize");
    return failure();
  }
  return rt::frameExecutable(bytes);
}
