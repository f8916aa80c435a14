//===- thread_pool.cpp - the CPU backend's threads ------------------------===//

#include "thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dsv3::runtime {

namespace {

void relax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

/// Pauses a worker spins through before it sleeps: about a millisecond,
/// longer than the gaps between a step's commands.
constexpr int kSpins = 1 << 14;

thread_local bool inTask = false;

class Pool {
public:
  ~Pool() { resize(1); }

  void resize(int threads) {
    if (inTask)
      return; // A task's own workers cannot stop under it.
    std::lock_guard<std::mutex> lock(mutex_);
    while (running_.exchange(true))
      relax(); // Another thread's job finishes first.
    if (!workers_.empty()) {
      stop_.store(true, std::memory_order_relaxed);
      publish();
      for (std::thread &t : workers_)
        t.join();
      workers_.clear();
      stop_.store(false, std::memory_order_relaxed);
    }
    threads_ = threads < 1 ? 1 : threads;
    for (int i = 1; i < threads_; ++i)
      workers_.emplace_back([this, start = generation_.load()] {
        work(start);
      });
    running_.store(false);
  }

  int threads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_;
  }

  void run(int64_t count, void (*task)(void *, int64_t), void *context) {
    if (count <= 0)
      return;
    bool serial = inTask || workers_.empty() || count == 1 ||
                  count >= int64_t(kClosed) || running_.exchange(true);
    if (serial) {
      for (int64_t i = 0; i < count; ++i)
        task(context, i);
      return;
    }
    // Close the last job's indices before its task changes: a worker
    // that read that job's position cannot then claim an index of this
    // one with the last job's task, or the other way round.
    uint64_t job = ++jobs_;
    next_.store(job << 32 | kClosed);
    task_.store(task);
    context_.store(context);
    count_.store(count);
    done_.store(0);
    next_.store(job << 32);
    publish();
    drain();
    // Every task finished, whoever ran it; a worker that never woke for
    // this job holds nothing up.
    while (done_.load() != count)
      relax();
    running_.store(false);
  }

private:
  /// Starts the job set up (or the stop): wakes the workers that sleep.
  /// Sequentially consistent with the sleepers' count, so that a worker
  /// either sees the new generation or is counted and woken.
  void publish() {
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      { std::lock_guard<std::mutex> lock(sleepMutex_); }
      wake_.notify_all();
    }
  }

  /// Claims and runs the current job's tasks until none is left. A claim
  /// succeeds only while the job's position is what was read with its
  /// task, so each index runs once, with its own job's task.
  void drain() {
    inTask = true;
    for (;;) {
      uint64_t position = next_.load();
      uint64_t index = position & kClosed;
      if (index == kClosed)
        break;
      auto *task = task_.load();
      void *context = context_.load();
      if (int64_t(index) >= count_.load())
        break;
      if (!next_.compare_exchange_weak(position, position + 1))
        continue;
      task(context, int64_t(index));
      done_.fetch_add(1);
    }
    inTask = false;
  }

  void work(uint64_t seen) {
    for (;;) {
      uint64_t g;
      for (int spin = 0;
           (g = generation_.load(std::memory_order_acquire)) == seen; ++spin) {
        if (spin < kSpins) {
          relax();
          continue;
        }
        std::unique_lock<std::mutex> lock(sleepMutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
      }
      seen = g;
      if (stop_.load(std::memory_order_relaxed))
        return;
      drain();
    }
  }

  std::mutex mutex_;
  std::vector<std::thread> workers_;
  int threads_ = 1;
  std::atomic<uint64_t> generation_{0};
  std::mutex sleepMutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  // The current job: its number and next index (kClosed: none to take),
  // its task, and how many of its tasks have finished.
  static constexpr uint64_t kClosed = 0xffffffffu;
  uint64_t jobs_ = 0;
  std::atomic<uint64_t> next_{kClosed};
  std::atomic<void (*)(void *, int64_t)> task_{nullptr};
  std::atomic<void *> context_{nullptr};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> done_{0};
};

Pool &pool() {
  static Pool *p = [] {
    auto *created = new Pool; // Never destroyed: workers may outlive main.
    created->resize(availableCores());
    return created;
  }();
  return *p;
}

} // namespace

int availableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

void setPoolThreads(int threads) { pool().resize(threads); }

int poolThreads() { return pool().threads(); }

void parallelFor(int64_t count, void (*task)(void *, int64_t), void *context) {
  pool().run(count, task, context);
}

} // namespace dsv3::runtime
