//===- cpu_backend.h - runs an executable's commands on the CPU -*- C++ -*-===//
//
// Loads the executable's kernel library from memory (memfd_create, then
// dlopen of /proc/self/fd/N: nothing is written to disk), resolves every
// kernel, allocates the arena, and runs commands: kernels through their
// `void dsv3_<kernel>(void **buffers)` entry points, GEMMs through the BLAS
// (OpenBLAS, which uses every core), copies with memcpy. A bf16 or f16
// GEMM widens its operands to f32, runs the f32 GEMM (f32 accumulation, as
// on the GPU) and rounds the result to its type.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_CPU_BACKEND_H
#define DSV3_RUNTIME_CPU_BACKEND_H

#include "backend.h"

#include <memory>
#include <vector>

namespace dsv3::runtime {

/// Checks that an ELF shared object for this machine holds everything its
/// headers point at, so the dynamic loader never maps past the end of a
/// truncated or crafted file (which is a SIGBUS inside dlopen).
Status checkSharedObject(const std::string &bytes);


class CpuBackend : public Backend {
public:
  /// Fails with the reason when the arena does not fit in the memory
  /// available (or in `memoryLimit` bytes, when non-zero), the library
  /// does not load or a kernel is missing from it.
  static Expected<std::unique_ptr<CpuBackend>> create(const Executable &exe,
                                                      uint64_t memoryLimit = 0);
  ~CpuBackend() override;
  CpuBackend(const CpuBackend &) = delete;
  CpuBackend &operator=(const CpuBackend &) = delete;

  /// The bytes of buffer `id` in the arena.
  void *buffer(int id) const {
    return arena_ + exe_.buffers(id).offset();
  }
  int64_t arenaBytes() const { return exe_.arena_bytes(); }

  std::string describe() const override { return "cpu"; }
  void *hostAddress(int id) override { return buffer(id); }
  Status upload(int id, const void *src) override;
  Status download(int id, void *dst) override;
  /// Runs command `index` of the executable.
  Status run(int index) override;

private:
  explicit CpuBackend(const Executable &exe) : exe_(exe) {}

  /// Buffer `id` (bf16 or f16) widened to f32 in scratch `slot`.
  const float *widened(int slot, int id);
  /// An f32 result for bf16 or f16 buffer `id` in scratch `slot`.
  float *resultFor(int slot, int id);
  /// Rounds scratch `slot` into bf16 or f16 buffer `id`, to nearest even.
  void narrowInto(int slot, int id);

  using KernelFn = void (*)(void **);
  const Executable &exe_;
  void *library_ = nullptr;
  uint8_t *arena_ = nullptr;
  /// Per command: its kernel entry point (launches only).
  std::vector<KernelFn> kernels_;
  std::vector<void *> args_;
  /// f32 copies of bf16 and f16 GEMM operands and results, reused across
  /// steps.
  std::vector<float> scratch_[3];
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_CPU_BACKEND_H
