//===- cpu_backend.cpp - runs an executable's commands on the CPU ---------===//

#include "cpu_backend.h"

#include "cpu_attention.h"
#include "cpu_gemm.h"
#include "element_type.h"
#include "file_util.h"
#include "memory.h"
#include "thread_pool.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

namespace dsv3::runtime {


Status checkSharedObject(const std::string &bytes) {
  auto within = [&](uint64_t offset, uint64_t size) {
    return offset <= bytes.size() && size <= bytes.size() - offset;
  };
  Elf64_Ehdr eh;
  if (bytes.size() < sizeof(eh) ||
      std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0)
    return Status::error("no ELF header");
  std::memcpy(&eh, bytes.data(), sizeof(eh));
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_type != ET_DYN || eh.e_machine != EM_X86_64)
    return Status::error("not a 64-bit little-endian x86-64 shared object");
  if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
      !within(eh.e_phoff, uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr)))
    return Status::error("program headers outside the file");
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_type == PT_LOAD && !within(ph.p_offset, ph.p_filesz))
      return Status::error("segment " + std::to_string(i) + " ends at byte " +
                           std::to_string(ph.p_offset + ph.p_filesz) +
                           " of " + std::to_string(bytes.size()));
  }
  if (eh.e_shnum > 0) {
    if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
        !within(eh.e_shoff, uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr)))
      return Status::error("section headers outside the file");
    for (int i = 0; i < eh.e_shnum; ++i) {
      Elf64_Shdr sh;
      std::memcpy(&sh, bytes.data() + eh.e_shoff + i * sizeof(sh),
                  sizeof(sh));
      if (sh.sh_type != SHT_NOBITS && !within(sh.sh_offset, sh.sh_size))
        return Status::error("section " + std::to_string(i) +
                             " lies outside the file");
    }
  }
  return Status::ok();
}



namespace {

/// The strided memref a kernel hands to memrefCopy: {allocated, aligned,
/// offset, sizes[rank], strides[rank]}, behind an unranked {rank, ptr}.
struct UnrankedMemRef {
  int64_t rank;
  void *descriptor;
};

struct StridedView {
  char *base;
  const int64_t *sizes, *strides;
};

StridedView viewOf(const UnrankedMemRef &m, int64_t elementSize) {
  auto *words = static_cast<int64_t *>(m.descriptor);
  char *aligned = reinterpret_cast<char *>(words[1]);
  return {aligned + words[2] * elementSize, words + 3, words + 3 + m.rank};
}

void copyStrided(int64_t dim, int64_t rank, int64_t elementSize,
                 const StridedView &src, const char *s, const StridedView &dst,
                 char *d) {
  if (dim == rank) {
    std::memcpy(d, s, elementSize);
    return;
  }
  for (int64_t i = 0; i < src.sizes[dim]; ++i)
    copyStrided(dim + 1, rank, elementSize, src,
                s + i * src.strides[dim] * elementSize, dst,
                d + i * dst.strides[dim] * elementSize);
}

} // namespace

} // namespace dsv3::runtime

/// Called by generated kernels to copy between memrefs whose layouts are
/// not both contiguous (the ABI of MLIR's memref.copy lowering). Exported by
/// the programs that load kernels.
extern "C" __attribute__((visibility("default"))) void
memrefCopy(int64_t elementSize, dsv3::runtime::UnrankedMemRef *src,
           dsv3::runtime::UnrankedMemRef *dst) {
  using namespace dsv3::runtime;
  StridedView s = viewOf(*src, elementSize), d = viewOf(*dst, elementSize);
  int64_t rank = src->rank;
  if (rank == 0) {
    std::memcpy(d.base, s.base, elementSize);
    return;
  }
  for (int64_t i = 0; i < rank; ++i)
    if (s.sizes[i] == 0)
      return;
  copyStrided(0, rank, elementSize, s, s.base, d, d.base);
}

/// Called by generated kernels to run a parallel loop over [lo, hi):
/// body(args, first, last) for consecutive ranges of it, on the CPU
/// backend's pool. The iterations are independent (the compiler outlines
/// only loops whose iterations write apart), so the ranges change nothing
/// the loop computes. Exported by the programs that load kernels.
extern "C" __attribute__((visibility("default"))) void
dsv3ParallelFor(void (*body)(void **, int64_t, int64_t), void **args,
                int64_t lo, int64_t hi) {
  using namespace dsv3::runtime;
  int64_t trips = hi - lo;
  if (trips <= 0)
    return;
  // Ranges by the trip count alone (several a thread, so that a slow
  // core does not hold up the rest): each is the same code on the same
  // iterations whatever the thread count, vector body and tail alike.
  int64_t ranges = std::min<int64_t>(trips, 64);
  int64_t step = (trips + ranges - 1) / ranges;
  ranges = (trips + step - 1) / step;
  parallelFor(ranges, [&](int64_t i) {
    int64_t first = lo + i * step;
    body(args, first, std::min(hi, first + step));
  });
}

namespace dsv3::runtime {

Expected<std::unique_ptr<CpuBackend>> CpuBackend::create(const Executable &exe,
                                                         uint64_t memoryLimit) {
  if (exe.target() != "cpu")
    return Status::error("the executable is compiled for " + exe.target() +
                         ", not cpu");
  Expected<uint64_t> available = availableHostMemory();
  if (!available)
    return available.status();
  if (Status s = checkArenaFits(exe.arena_bytes(), *available, "host memory",
                                memoryLimit);
      !s)
    return s;
  std::unique_ptr<CpuBackend> backend(new CpuBackend(exe));
  const std::string &library = exe.kernel_library();
  if (library.empty())
    return Status::error("the executable holds no kernel library");
  if (Status s = checkSharedObject(library); !s)
    return Status::error("the kernel library is not a loadable shared "
                         "object: " + s.message());
  int fd = memfd_create("dsv3-kernels", MFD_CLOEXEC);
  if (fd < 0)
    return Status::error(std::string("memfd_create: ") + std::strerror(errno));
  if (Status s = writeAll(fd, library, "the kernel library (memfd)"); !s) {
    ::close(fd);
    return s;
  }
  std::string fdPath = "/proc/self/fd/" + std::to_string(fd);
  backend->library_ = dlopen(fdPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  ::close(fd);
  if (!backend->library_)
    return Status::error(std::string("the kernel library does not load: ") +
                         dlerror());

  // OpenBLAS to one thread: the pool runs the GEMMs' tiles.
  setCpuThreads(0);
  backend->kernels_.resize(exe.commands_size(), nullptr);
  for (int i = 0; i < exe.commands_size(); ++i) {
    const Command &c = exe.commands(i);
    if (c.kind_case() != Command::kLaunch)
      continue;
    void *fn = dlsym(backend->library_, c.launch().kernel().c_str());
    if (!fn)
      return Status::error("kernel " + c.launch().kernel() +
                           " (command " + std::to_string(i) +
                           ") is missing from the kernel library");
    backend->kernels_[i] = reinterpret_cast<KernelFn>(fn);
  }

  size_t bytes = (static_cast<size_t>(exe.arena_bytes()) + 63) / 64 * 64;
  backend->arena_ =
      static_cast<uint8_t *>(std::aligned_alloc(64, bytes ? bytes : 64));
  if (!backend->arena_)
    return Status::error("cannot allocate the arena (" +
                         std::to_string(exe.arena_bytes()) + " bytes)");
  std::memset(backend->arena_, 0, bytes);
  return backend;
}

Status CpuBackend::upload(int id, const void *src) {
  std::memcpy(buffer(id), src, exe_.buffers(id).bytes());
  return Status::ok();
}

Status CpuBackend::download(int id, void *dst) {
  std::memcpy(dst, buffer(id), exe_.buffers(id).bytes());
  return Status::ok();
}

Expected<std::unique_ptr<Backend>> createBackend(const Executable &exe,
                                                 const BackendOptions &options) {
  const std::string &device = options.device;
  if (device != "auto" && device != exe.target())
    return Status::error("--device=" + device + ": the executable is compiled "
                         "for " + exe.target() + "; compile it with "
                         "--target=" + device + " to run it there");
  if (exe.target() == "cuda")
    return createCudaBackend(exe, options.memoryLimit);
  auto cpu = CpuBackend::create(exe, options.memoryLimit);
  if (!cpu)
    return cpu.status();
  if (options.threads > 0)
    setCpuThreads(options.threads);
  return std::unique_ptr<Backend>(std::move(*cpu));
}

CpuBackend::~CpuBackend() {
  std::free(arena_);
  if (library_)
    dlclose(library_);
}

const float *CpuBackend::widened(int slot, int id) {
  const auto *src = static_cast<const uint16_t *>(buffer(id));
  std::vector<float> &dst = scratch_[slot];
  dst.resize(exe_.buffers(id).bytes() / 2);
  if (exe_.buffers(id).dtype() == TYPE_F16)
    widenHalves(src, dst.data(), dst.size());
  else
    for (size_t i = 0; i < dst.size(); ++i)
      dst[i] = bf16ToFloat(src[i]);
  return dst.data();
}

float *CpuBackend::resultFor(int slot, int id) {
  scratch_[slot].resize(exe_.buffers(id).bytes() / 2);
  return scratch_[slot].data();
}

void CpuBackend::narrowInto(int slot, int id) {
  auto *dst = static_cast<uint16_t *>(buffer(id));
  const std::vector<float> &src = scratch_[slot];
  if (exe_.buffers(id).dtype() == TYPE_F16)
    narrowToHalves(src.data(), dst, src.size());
  else
    for (size_t i = 0; i < src.size(); ++i)
      dst[i] = floatToBf16(src[i]);
}

Status CpuBackend::run(int index) {
  const Command &c = exe_.commands(index);
  switch (c.kind_case()) {
  case Command::kLaunch: {
    const Launch &l = c.launch();
    args_.clear();
    for (int id : l.inputs())
      args_.push_back(buffer(id));
    for (int id : l.outputs())
      args_.push_back(buffer(id));
    for (int id : l.scratch())
      args_.push_back(buffer(id));
    kernels_[index](args_.data());
    return Status::ok();
  }
  case Command::kGemm: {
    const Gemm &g = c.gemm();
    if (exe_.buffers(g.c()).dtype() != TYPE_F32) {
      gemm(g.trans_a(), g.trans_b(), g.batch(), g.m(), g.n(), g.k(),
           widened(0, g.a()), g.stride_a(), widened(1, g.b()), g.stride_b(),
           resultFor(2, g.c()), g.stride_c());
      narrowInto(2, g.c());
      return Status::ok();
    }
    gemm(g.trans_a(), g.trans_b(), g.batch(), g.m(), g.n(), g.k(),
         static_cast<const float *>(buffer(g.a())), g.stride_a(),
         static_cast<const float *>(buffer(g.b())), g.stride_b(),
         static_cast<float *>(buffer(g.c())), g.stride_c());
    return Status::ok();
  }
  case Command::kGroupedGemm: {
    const GroupedGemm &g = c.grouped_gemm();
    bool narrow = exe_.buffers(g.y()).dtype() != TYPE_F32; // bf16, f16
    const float *x =
        narrow ? widened(0, g.x()) : static_cast<const float *>(buffer(g.x()));
    const float *w =
        narrow ? widened(1, g.w()) : static_cast<const float *>(buffer(g.w()));
    float *y =
        narrow ? resultFor(2, g.y()) : static_cast<float *>(buffer(g.y()));
    const auto *sizes = static_cast<const int32_t *>(buffer(g.group_sizes()));
    Status s = g.weight_grad()
                   ? groupedGemmWeightGrad(g.trans_w(), g.rows(), g.experts(),
                                           g.k(), g.n(), x, w, sizes, y)
                   : groupedGemm(g.trans_w(), g.rows(), g.experts(), g.k(),
                                 g.n(), x, w, sizes, y);
    if (!s)
      return Status::error("command " + std::to_string(index) + ": " +
                           s.message());
    if (narrow)
      narrowInto(2, g.y());
    return Status::ok();
  }
  case Command::kAttention: {
    const Attention &a = c.attention();
    AttentionShape shape{a.batch(), a.seq(),  a.heads(),  a.kv_heads(),
                         a.dqk(),   a.dv(),   a.causal(), a.scale()};
    SegmentIds ids;
    if (a.has_segments()) {
      if (exe_.buffers(a.segments()).dtype() == TYPE_I32)
        ids.i32 = static_cast<const int32_t *>(buffer(a.segments()));
      else
        ids.i64 = static_cast<const int64_t *>(buffer(a.segments()));
    }
    auto in = [&](int id) { return static_cast<const float *>(buffer(id)); };
    auto out = [&](int id) { return static_cast<float *>(buffer(id)); };
    if (a.backward())
      attentionBackward(shape, in(a.query()), in(a.key()), in(a.value()),
                        in(a.d_output()), ids, out(a.d_query()),
                        out(a.d_key()), out(a.d_value()));
    else
      attentionForward(shape, in(a.query()), in(a.key()), in(a.value()), ids,
                       out(a.output()));
    return Status::ok();
  }
  case Command::kCopy:
    std::memcpy(buffer(c.copy().dst()), buffer(c.copy().src()),
                exe_.buffers(c.copy().src()).bytes());
    return Status::ok();
  default:
    return Status::error("command " + std::to_string(index) + " has no kind");
  }
}

} // namespace dsv3::runtime
