//===- ThreadPoolTest.cpp - the CPU backend's thread pool -----------------===//

#include "thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

using namespace dsv3::runtime;

namespace {

/// Many jobs of many sizes, back to back and after the workers slept, on
/// several thread counts: every index runs exactly once per job, and a job
/// started from inside a task runs in turn on that thread.
TEST(ThreadPool, RunsEveryIndexOnceOnAnyThreadCount) {
  for (int threads : {1, 2, 3, 4}) {
    setPoolThreads(threads);
    EXPECT_EQ(poolThreads(), threads);
    for (int job = 0; job < 2000; ++job) {
      int64_t count = 1 + job % 97;
      std::vector<std::atomic<int>> runs(count);
      parallelFor(count, [&](int64_t i) { runs[i].fetch_add(1); });
      for (int64_t i = 0; i < count; ++i)
        ASSERT_EQ(runs[i].load(), 1)
            << "index " << i << " of job " << job << ", " << threads
            << " threads";
    }
    std::atomic<int64_t> sum{0};
    parallelFor(8, [&](int64_t i) {
      parallelFor(4, [&](int64_t j) { sum.fetch_add(i * 4 + j); });
    });
    EXPECT_EQ(sum.load(), 31 * 32 / 2);
  }
  setPoolThreads(availableCores());
}

} // namespace
