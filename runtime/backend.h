//===- backend.h - where an executable's commands run -----------*- C++ -*-===//
//
// A backend owns an executable's arena and runs its commands: `cpu` (the
// arena in host memory, kernels from the shared object, GEMMs on OpenBLAS)
// or `cuda` (the arena in GPU memory, kernels from the cubin, GEMMs on
// cuBLASLt). The trainer moves data in and out through upload/download.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_BACKEND_H
#define DSV3_RUNTIME_BACKEND_H

#include "executable.h"

#include <memory>
#include <string>

namespace dsv3::runtime {

class Backend {
public:
  virtual ~Backend() = default;
  /// "cpu", or "cuda: NVIDIA H200 (sm_90)".
  virtual std::string describe() const = 0;
  /// The host address of buffer `id` when the arena is host memory.
  virtual void *hostAddress(int id) { return nullptr; }
  /// Copies all of buffer `id` in from `src` / out to `dst`.
  virtual Status upload(int id, const void *src) = 0;
  virtual Status download(int id, void *dst) = 0;
  /// Runs (or enqueues) command `index`.
  virtual Status run(int index) = 0;
  /// Waits for everything enqueued.
  virtual Status synchronize() { return Status::ok(); }
};

struct BackendOptions {
  /// "auto", "cpu" or "cuda".
  std::string device = "auto";
  /// Refuse an arena larger than this many bytes (0: only the memory
  /// available limits it).
  uint64_t memoryLimit = 0;
  /// CPU threads for the step's GEMM tiles and kernel loops (0: one per
  /// core this process may use). The work is split by shape, never by the
  /// thread count, so results are the same to the bit for any count.
  int threads = 0;
};

/// The backend for `options.device`: an executable runs on the target it
/// was compiled for; "auto" accepts either, the others insist, and a cuda
/// executable on a machine without a GPU is an error that says so. The
/// planned arena is checked against the memory available (host memory, or
/// the GPU's free memory) before anything is allocated.
Expected<std::unique_ptr<Backend>> createBackend(const Executable &exe,
                                                 const BackendOptions &options);

/// The CUDA backend, or why there is none (no driver, no GPU, no
/// cuBLASLt, too little free memory).
Expected<std::unique_ptr<Backend>> createCudaBackend(const Executable &exe,
                                                     uint64_t memoryLimit);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_BACKEND_H
