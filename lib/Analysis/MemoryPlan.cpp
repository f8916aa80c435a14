//===- MemoryPlan.cpp - static placement of buffers in one arena ----------===//

#include "Analysis/MemoryPlan.h"

#include <algorithm>
#include <map>
#include <numeric>

using namespace mlir::dsv3;

MemoryPlan mlir::dsv3::planMemory(llvm::ArrayRef<BufferRequest> buffers,
                                  int64_t alignment) {
  MemoryPlan plan;
  plan.offsets.assign(buffers.size(), 0);
  auto aligned = [&](int64_t v) {
    return (v + alignment - 1) / alignment * alignment;
  };

  // Lower bound: the most bytes live at once (a sweep over start/end).
  std::map<int64_t, int64_t> delta;
  for (const BufferRequest &b : buffers) {
    delta[b.start] += aligned(b.bytes);
    delta[b.end + 1] -= aligned(b.bytes);
  }
  int64_t live = 0;
  for (auto [index, change] : delta) {
    live += change;
    if (live > plan.peakLiveBytes) {
      plan.peakLiveBytes = live;
      plan.peakIndex = index;
    }
  }

  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return buffers[a].bytes > buffers[b].bytes;
  });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferRequest &b = buffers[i];
    // Address ranges of placed buffers whose lifetimes overlap this one.
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (size_t j : placed) {
      const BufferRequest &o = buffers[j];
      if (o.start <= b.end && b.start <= o.end)
        taken.push_back({plan.offsets[j], plan.offsets[j] + aligned(o.bytes)});
    }
    std::sort(taken.begin(), taken.end());
    int64_t offset = 0;
    for (auto [lo, hi] : taken) {
      if (offset + aligned(b.bytes) <= lo)
        break;
      offset = std::max(offset, hi);
    }
    plan.offsets[i] = offset;
    plan.arenaBytes = std::max(plan.arenaBytes, offset + aligned(b.bytes));
    placed.push_back(i);
  }
  return plan;
}
