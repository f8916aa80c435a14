//===- MemoryPlan.h - static placement of buffers in one arena --*- C++ -*-===//
//
// Given every buffer's size and live range (in op indices), assigns each an
// offset in one arena such that buffers live at the same time never
// overlap. Greedy by size: the largest buffers are placed first, each at
// the lowest aligned offset free for its whole live range.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_ANALYSIS_MEMORYPLAN_H
#define DSV3_ANALYSIS_MEMORYPLAN_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace mlir::dsv3 {

struct BufferRequest {
  int64_t bytes;
  /// First and last op index at which the buffer is live (inclusive).
  int64_t start, end;
};

struct MemoryPlan {
  std::vector<int64_t> offsets;
  /// Size of the arena the offsets need.
  int64_t arenaBytes = 0;
  /// The most bytes live at any one op: no placement can do better.
  int64_t peakLiveBytes = 0;
  /// The op index at which that peak is reached.
  int64_t peakIndex = 0;
};

MemoryPlan planMemory(llvm::ArrayRef<BufferRequest> buffers,
                      int64_t alignment = 64);

} // namespace mlir::dsv3

#endif // DSV3_ANALYSIS_MEMORYPLAN_H
