//===- MemoryPlanTest.cpp - arena placement of buffers ----------------------===//

#include "Analysis/MemoryPlan.h"

#include <gtest/gtest.h>

#include <random>

using namespace mlir::dsv3;

namespace {

/// No two buffers that are live at the same time share an address.
void expectNoConflicts(const std::vector<BufferRequest> &buffers,
                       const MemoryPlan &plan, int64_t alignment) {
  for (size_t i = 0; i < buffers.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % alignment, 0);
    EXPECT_LE(plan.offsets[i] + buffers[i].bytes, plan.arenaBytes);
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      bool timeOverlap = buffers[i].start <= buffers[j].end &&
                         buffers[j].start <= buffers[i].end;
      bool spaceOverlap =
          plan.offsets[i] < plan.offsets[j] + buffers[j].bytes &&
          plan.offsets[j] < plan.offsets[i] + buffers[i].bytes;
      EXPECT_FALSE(timeOverlap && spaceOverlap) << i << " and " << j;
    }
  }
}

TEST(MemoryPlan, DisjointLifetimesShareMemory) {
  std::vector<BufferRequest> buffers = {{1000, 0, 1}, {1000, 2, 3}, {500, 4, 5}};
  MemoryPlan plan = planMemory(buffers, 64);
  EXPECT_EQ(plan.offsets, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(plan.arenaBytes, 1024);
  EXPECT_EQ(plan.peakLiveBytes, 1024);
}

TEST(MemoryPlan, OverlappingLifetimesStack) {
  // a and b overlap at op 1; c is free again by op 3 and reuses a's space.
  std::vector<BufferRequest> buffers = {{256, 0, 1}, {128, 1, 4}, {192, 3, 5}};
  MemoryPlan plan = planMemory(buffers, 64);
  expectNoConflicts(buffers, plan, 64);
  EXPECT_EQ(plan.peakLiveBytes, 384);
  EXPECT_EQ(plan.peakIndex, 1);
  EXPECT_EQ(plan.arenaBytes, 384);
  EXPECT_EQ(plan.offsets[0], 0);
  EXPECT_EQ(plan.offsets[1], 256);
  EXPECT_EQ(plan.offsets[2], 0);
}

TEST(MemoryPlan, RandomProgramsNeverConflict) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<BufferRequest> buffers;
    std::uniform_int_distribution<int64_t> size(1, 5000), at(0, 100), len(0, 30);
    for (int i = 0; i < 60; ++i) {
      int64_t start = at(rng);
      buffers.push_back({size(rng), start, start + len(rng)});
    }
    MemoryPlan plan = planMemory(buffers, 128);
    expectNoConflicts(buffers, plan, 128);
    EXPECT_GE(plan.arenaBytes, plan.peakLiveBytes);
    // Greedy by size stays close to the bound on such programs.
    EXPECT_LE(plan.arenaBytes, 2 * plan.peakLiveBytes);
  }
}

} // namespace
