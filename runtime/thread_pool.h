//===- thread_pool.h - the CPU backend's threads ----------------*- C++ -*-===//
//
// One pool per process runs the CPU backend's parallel work: the tiles of
// its GEMMs and the parallel loops of generated kernels. A job is a count
// of independent tasks; which thread runs a task changes nothing it
// computes, so results do not depend on the thread count. Between jobs
// the workers spin briefly (the step issues its commands back to back),
// then sleep.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_THREAD_POOL_H
#define DSV3_RUNTIME_THREAD_POOL_H

#include <cstdint>
#include <utility>

namespace dsv3::runtime {

/// The cores this process may run on (its affinity mask), at least 1.
int availableCores();

/// Sets the pool's thread count, the caller included (at least 1), after
/// any job another thread runs; from inside a task, does nothing.
void setPoolThreads(int threads);

/// The pool's thread count; availableCores() until set.
int poolThreads();

/// Runs task(context, i) for every i in [0, count), spread over the pool;
/// returns when all are done. From inside a task, runs them in turn.
void parallelFor(int64_t count, void (*task)(void *, int64_t), void *context);

template <typename F> void parallelFor(int64_t count, F &&f) {
  parallelFor(
      count,
      [](void *context, int64_t i) { (*static_cast<F *>(context))(i); },
      const_cast<void *>(static_cast<const void *>(&f)));
}

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_THREAD_POOL_H
