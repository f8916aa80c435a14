//===- memory.h - does the planned arena fit where it runs? -----*- C++ -*-===//
//
// An executable's arena is planned at compile time; a backend checks it
// against the memory it can have before allocating, and refuses with both
// figures, instead of letting the allocation fail later or the kernel kill
// the process when the pages are touched.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_MEMORY_H
#define DSV3_RUNTIME_MEMORY_H

#include "status.h"

#include <cstdint>
#include <string>

namespace dsv3::runtime {

/// Host memory this process can still use: MemAvailable of /proc/meminfo,
/// bounded by the cgroup's limit less its usage where one is set.
Expected<uint64_t> availableHostMemory();

/// "2.25 TiB"
std::string formatBytes(uint64_t bytes);

/// An error when `arenaBytes` exceeds `availableBytes` of `where` ("host
/// memory", "GPU memory on the NVIDIA H200"), or exceeds `limitBytes` when
/// that is set (non-zero: dsv3-run --memory-limit) and smaller.
Status checkArenaFits(int64_t arenaBytes, uint64_t availableBytes,
                      const std::string &where, uint64_t limitBytes = 0);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_MEMORY_H
