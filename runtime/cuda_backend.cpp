//===- cuda_backend.cpp - runs an executable's commands on a GPU ----------===//
//
// The driver API (libcuda.so.1) and cuBLASLt are opened with dlopen, so the
// binary starts on any machine and says why it cannot use a GPU when it
// cannot. The arena is one cuMemAlloc; the cubin is loaded with
// cuModuleLoadData; every command, transfer and memset is enqueued on one
// stream: GPU launches with cuLaunchKernel, GEMMs as strided-batched
// cuBLASLt matmuls, grouped GEMMs as one matmul per expert after reading the
// group sizes back, and copies with cuMemcpyDtoDAsync. Transfers wait for
// the stream, so the host buffer they read or fill is done with when they
// return. Everything opened is released in the destructor.
//
//===----------------------------------------------------------------------===//

#include "backend.h"

#ifdef DSV3_HAVE_CUDA_HEADERS

#include "cuda_launch.h"
#include "cuda_lt.h"
#include "element_type.h"
#include "memory.h"

#include <cuda.h>

#include <dlfcn.h>
#include <map>
#include <vector>

namespace dsv3::runtime {

namespace {

#define DSV3_DRIVER_FUNCTIONS(X)                                               \
  X(cuInit)                                                                    \
  X(cuGetErrorName)                                                            \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease_v2)                                              \
  X(cuCtxSetCurrent)                                                           \
  X(cuModuleLoadData)                                                          \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuMemGetInfo_v2)                                                           \
  X(cuMemAlloc_v2)                                                             \
  X(cuMemFree_v2)                                                              \
  X(cuMemsetD8Async)                                                           \
  X(cuMemcpyHtoDAsync_v2)                                                      \
  X(cuMemcpyDtoHAsync_v2)                                                      \
  X(cuMemcpyDtoDAsync_v2)                                                      \
  X(cuLaunchKernel)                                                            \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy_v2)                                                        \
  X(cuStreamSynchronize)

struct Api {
#define DSV3_MEMBER(name) decltype(&::name) name = nullptr;
  DSV3_DRIVER_FUNCTIONS(DSV3_MEMBER)
#undef DSV3_MEMBER
};

void *openFirst(std::initializer_list<const char *> names, std::string &tried) {
  for (const char *name : names) {
    if (void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL))
      return handle;
    tried += std::string(tried.empty() ? "" : ", ") + name;
  }
  return nullptr;
}

class CudaBackend : public Backend {
public:
  static Expected<std::unique_ptr<Backend>> create(const Executable &exe,
                                                   uint64_t memoryLimit);
  ~CudaBackend() override;

  std::string describe() const override { return description_; }
  Status upload(int id, const void *src) override;
  Status download(int id, void *dst) override;
  Status run(int index) override;
  Status synchronize() override;

private:
  /// The first `bytes` of buffer `id`, copied to the host on the stream.
  Status downloadBytes(int id, void *dst, int64_t bytes);
  /// Zeroes `bytes` at `address` on the stream.
  Status clear(CUdeviceptr address, int64_t bytes, const char *what);
  explicit CudaBackend(const Executable &exe) : exe_(exe) {}
  Status check(CUresult r, const char *what) const;
  CUdeviceptr address(int id) const { return arena_ + exe_.buffers(id).offset(); }
  Status gemm(const Gemm &g);
  Status groupedGemm(const GroupedGemm &g);
  Status matmul(const LtMatmul &lt, ElementType type, CUdeviceptr a,
                CUdeviceptr b, CUdeviceptr c);

  const Executable &exe_;
  Api api_;
  LtApi lt_;
  void *driver_ = nullptr, *ltLibrary_ = nullptr;
  std::string description_;
  CUdevice device_ = 0;
  bool contextRetained_ = false;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  CUmodule module_ = nullptr;
  CUdeviceptr arena_ = 0, workspace_ = 0;
  size_t workspaceBytes_ = 32 << 20;
  cublasLtHandle_t handle_ = nullptr;
  std::map<std::string, CUfunction> functions_;
};

Status CudaBackend::check(CUresult r, const char *what) const {
  if (r == CUDA_SUCCESS)
    return Status::ok();
  const char *name = "unknown error";
  if (api_.cuGetErrorName)
    api_.cuGetErrorName(r, &name);
  return Status::error(std::string(what) + ": " + name);
}

Expected<std::unique_ptr<Backend>> CudaBackend::create(const Executable &exe,
                                                       uint64_t memoryLimit) {
  std::unique_ptr<CudaBackend> b(new CudaBackend(exe));
  std::string tried;
  b->driver_ = openFirst({"libcuda.so.1", "libcuda.so"}, tried);
  if (!b->driver_)
    return Status::error("no CUDA driver on this machine (could not load " +
                         tried + "); run a cpu executable instead "
                         "(dsv3-compile --target=cpu)");
#define DSV3_RESOLVE(name)                                                     \
  b->api_.name = reinterpret_cast<decltype(&::name)>(dlsym(b->driver_, #name)); \
  if (!b->api_.name)                                                           \
    return Status::error("the CUDA driver lacks " #name);
  DSV3_DRIVER_FUNCTIONS(DSV3_RESOLVE)
#undef DSV3_RESOLVE
  Status s;
  if (!(s = loadLt(b->lt_, b->ltLibrary_)))
    return s;

  const Api &api = b->api_;
  if (!(s = b->check(api.cuInit(0), "cuInit")))
    return Status::error("no usable GPU: " + s.message());
  int count = 0;
  if (!(s = b->check(api.cuDeviceGetCount(&count), "cuDeviceGetCount")))
    return s;
  if (count == 0)
    return Status::error("no CUDA GPU is visible");
  char name[256] = {0};
  if (!(s = b->check(api.cuDeviceGet(&b->device_, 0), "cuDeviceGet")) ||
      !(s = b->check(api.cuDeviceGetName(name, sizeof(name), b->device_),
                     "cuDeviceGetName")) ||
      !(s = b->check(api.cuDevicePrimaryCtxRetain(&b->context_, b->device_),
                     "cuDevicePrimaryCtxRetain")))
    return s;
  b->contextRetained_ = true;
  if (!(s = b->check(api.cuCtxSetCurrent(b->context_), "cuCtxSetCurrent")) ||
      !(s = b->check(api.cuStreamCreate(&b->stream_, CU_STREAM_NON_BLOCKING),
                     "cuStreamCreate")))
    return s;
  // The arena (and cuBLASLt's workspace) must fit in what the GPU has free.
  size_t freeBytes = 0, totalBytes = 0;
  if (!(s = b->check(api.cuMemGetInfo_v2(&freeBytes, &totalBytes),
                     "cuMemGetInfo")))
    return s;
  uint64_t usable = freeBytes > b->workspaceBytes_ + 64
                        ? freeBytes - b->workspaceBytes_ - 64
                        : 0;
  if (!(s = checkArenaFits(exe.arena_bytes(), usable,
                           "GPU memory on the " + std::string(name),
                           memoryLimit)))
    return s;
  b->description_ = "cuda: " + std::string(name) + " (executable for sm_" +
                    std::to_string(exe.sm()) + ")";
  if (!(s = b->check(api.cuModuleLoadData(&b->module_, exe.cubin().data()),
                     "loading the cubin (cuModuleLoadData)")))
    return Status::error(s.message() + "; the executable is for sm_" +
                         std::to_string(exe.sm()) + ", the GPU is " + name);
  for (const Command &c : exe.commands()) {
    if (c.kind_case() != Command::kGpuLaunch ||
        b->functions_.count(c.gpu_launch().function()))
      continue;
    CUfunction fn;
    if (!(s = b->check(api.cuModuleGetFunction(&fn, b->module_,
                                               c.gpu_launch().function().c_str()),
                       "cuModuleGetFunction")))
      return Status::error(s.message() + " for " + c.gpu_launch().function());
    b->functions_[c.gpu_launch().function()] = fn;
  }
  if (!(s = b->check(api.cuMemAlloc_v2(&b->arena_, exe.arena_bytes() + 64),
                     "allocating the arena")) ||
      !(s = b->clear(b->arena_, exe.arena_bytes() + 64, "clearing the arena")) ||
      !(s = b->synchronize()) ||
      !(s = b->check(api.cuMemAlloc_v2(&b->workspace_, b->workspaceBytes_),
                     "allocating the cuBLASLt workspace")) ||
      !(s = checkLt(b->lt_.cublasLtCreate(&b->handle_), "cublasLtCreate")))
    return s;
  return std::unique_ptr<Backend>(std::move(b));
}

CudaBackend::~CudaBackend() {
  // In the reverse order of creation; each only if it was made.
  if (stream_)
    api_.cuStreamSynchronize(stream_);
  if (handle_)
    lt_.cublasLtDestroy(handle_);
  if (workspace_)
    api_.cuMemFree_v2(workspace_);
  if (arena_)
    api_.cuMemFree_v2(arena_);
  if (module_)
    api_.cuModuleUnload(module_);
  if (stream_)
    api_.cuStreamDestroy_v2(stream_);
  if (contextRetained_)
    api_.cuDevicePrimaryCtxRelease_v2(device_);
  if (ltLibrary_)
    dlclose(ltLibrary_);
  if (driver_)
    dlclose(driver_);
}

Status CudaBackend::clear(CUdeviceptr at, int64_t bytes, const char *what) {
  return check(api_.cuMemsetD8Async(at, 0, bytes, stream_), what);
}

Status CudaBackend::upload(int id, const void *src) {
  // Ordered after the work already on the stream; waited for, because
  // `src` belongs to the caller.
  if (Status s = check(api_.cuMemcpyHtoDAsync_v2(address(id), src,
                                                 exe_.buffers(id).bytes(),
                                                 stream_),
                       "cuMemcpyHtoDAsync");
      !s)
    return s;
  return synchronize();
}

Status CudaBackend::downloadBytes(int id, void *dst, int64_t bytes) {
  if (Status s = check(api_.cuMemcpyDtoHAsync_v2(dst, address(id), bytes,
                                                 stream_),
                       "cuMemcpyDtoHAsync");
      !s)
    return s;
  return synchronize();
}

Status CudaBackend::download(int id, void *dst) {
  return downloadBytes(id, dst, exe_.buffers(id).bytes());
}

Status CudaBackend::synchronize() {
  return check(api_.cuStreamSynchronize(stream_), "cuStreamSynchronize");
}

Status CudaBackend::matmul(const LtMatmul &shape, ElementType type,
                           CUdeviceptr a, CUdeviceptr b, CUdeviceptr c) {
  LtDescriptors d;
  Status s = createLtDescriptors(lt_, shape, type, d);
  if (!s)
    return s;
  float alpha = 1.0f, beta = 0.0f;
  s = checkLt(lt_.cublasLtMatmul(handle_, d.matmul, &alpha,
                                reinterpret_cast<void *>(a), d.a,
                                reinterpret_cast<void *>(b), d.b, &beta,
                                reinterpret_cast<void *>(c), d.c,
                                reinterpret_cast<void *>(c), d.c, nullptr,
                                reinterpret_cast<void *>(workspace_),
                                workspaceBytes_, stream_),
              "cublasLtMatmul");
  destroyLtDescriptors(lt_, d);
  return s;
}

Status CudaBackend::gemm(const Gemm &g) {
  LtMatmul shape = ltMatmulFor(g);
  return matmul(shape, exe_.buffers(g.c()).dtype(), address(shape.a),
                address(shape.b), address(g.c()));
}

Status CudaBackend::groupedGemm(const GroupedGemm &g) {
  // The group sizes decide the shapes: read them back, then one matmul per
  // non-empty group. Rows past the groups are zero (forward).
  ElementType type = exe_.buffers(g.y()).dtype();
  int64_t eb = static_cast<int64_t>(elementBytes(type));
  // Exactly one count per expert: the buffer may be larger than that.
  std::vector<int32_t> sizes(g.experts());
  Status s = downloadBytes(g.group_sizes(), sizes.data(),
                           g.experts() * static_cast<int64_t>(sizeof(int32_t)));
  if (!s)
    return s;
  int64_t rows = 0;
  for (int32_t n : sizes) {
    if (n < 0 || rows + n > g.rows())
      return Status::error("grouped GEMM: the group sizes exceed its " +
                           std::to_string(g.rows()) + " rows");
    rows += n;
  }
  if (!g.weight_grad() && rows < g.rows()) {
    CUdeviceptr tail = address(g.y()) + rows * g.n() * eb;
    if (!(s = clear(tail, (g.rows() - rows) * g.n() * eb,
                    "clearing rows past the groups")))
      return s;
  }
  if (g.weight_grad() &&
      !(s = clear(address(g.y()), exe_.buffers(g.y()).bytes(),
                  "clearing the weight gradient")))
    return s;
  int64_t row = 0;
  for (int64_t e = 0; e < g.experts(); ++e) {
    int64_t n = sizes[e];
    if (n == 0)
      continue;
    Gemm one;
    one.set_batch(1);
    if (!g.weight_grad()) {
      // Y_e [n, N] = X_e [n, K] W_e ([K, N], or [N, K] transposed).
      one.set_m(n), one.set_n(g.n()), one.set_k(g.k());
      one.set_trans_b(g.trans_w());
      LtMatmul shape = ltMatmulFor(one);
      CUdeviceptr x = address(g.x()) + row * g.k() * eb;
      CUdeviceptr w = address(g.w()) + e * g.k() * g.n() * eb;
      CUdeviceptr y = address(g.y()) + row * g.n() * eb;
      if (!(s = matmul(shape, type, w, x, y)))
        return s;
    } else {
      // dW_e [K, N] = X_e^T dY_e (or its transpose [N, K] = dY_e^T X_e).
      one.set_trans_a(true);
      CUdeviceptr x = address(g.x()) + row * g.k() * eb;
      CUdeviceptr dy = address(g.w()) + row * g.n() * eb;
      CUdeviceptr dw = address(g.y()) + e * g.k() * g.n() * eb;
      if (!g.trans_w()) {
        one.set_m(g.k()), one.set_n(g.n()), one.set_k(n);
        if (!(s = matmul(ltMatmulFor(one), type, dy, x, dw)))
          return s;
      } else {
        one.set_m(g.n()), one.set_n(g.k()), one.set_k(n);
        if (!(s = matmul(ltMatmulFor(one), type, x, dy, dw)))
          return s;
      }
    }
    row += n;
  }
  return Status::ok();
}

Status CudaBackend::run(int index) {
  const Command &c = exe_.commands(index);
  switch (c.kind_case()) {
  case Command::kGpuLaunch: {
    const GpuLaunch &l = c.gpu_launch();
    PackedLaunchArgs args =
        packLaunchArgs(l, [&](int id) { return static_cast<uint64_t>(address(id)); });
    return check(api_.cuLaunchKernel(functions_.at(l.function()), l.grid(0),
                                     l.grid(1), l.grid(2), l.block(0),
                                     l.block(1), l.block(2), 0, stream_,
                                     args.pointers.data(), nullptr),
                 "cuLaunchKernel");
  }
  case Command::kGemm:
    return gemm(c.gemm());
  case Command::kGroupedGemm:
    return groupedGemm(c.grouped_gemm());
  case Command::kCopy:
    return check(api_.cuMemcpyDtoDAsync_v2(address(c.copy().dst()),
                                           address(c.copy().src()),
                                           exe_.buffers(c.copy().src()).bytes(),
                                           stream_),
                 "cuMemcpyDtoDAsync");
  default:
    return Status::error("command " + std::to_string(index) +
                         " cannot run on the GPU");
  }
}

} // namespace

Expected<std::unique_ptr<Backend>> createCudaBackend(const Executable &exe,
                                                     uint64_t memoryLimit) {
  return CudaBackend::create(exe, memoryLimit);
}

} // namespace dsv3::runtime

#else

namespace dsv3::runtime {

Expected<std::unique_ptr<Backend>> createCudaBackend(const Executable &exe,
                                                     uint64_t) {
  return Status::error("this dsv3-run was built without the CUDA toolkit's "
                       "headers, so it has no CUDA backend");
}

} // namespace dsv3::runtime

#endif
