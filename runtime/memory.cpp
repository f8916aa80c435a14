//===- memory.cpp - does the planned arena fit where it runs? -------------===//

#include "memory.h"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace dsv3::runtime {

namespace {

/// The first number in `path`, or nothing ("max", missing file).
std::optional<uint64_t> readNumber(const std::string &path) {
  std::ifstream in(path);
  uint64_t value;
  if (in >> value)
    return value;
  return std::nullopt;
}

/// The cgroup v2 (or v1) directory of this process's memory controller.
std::string cgroupDir() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    // v2: "0::/path"; v1: "N:memory:/path".
    size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty())
      return "/sys/fs/cgroup" + path;
    if (controllers == "memory")
      return "/sys/fs/cgroup/memory" + path;
  }
  return "";
}

} // namespace

Expected<uint64_t> availableHostMemory() {
  uint64_t available = 0;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") {
      available = kib * 1024;
      break;
    }
  if (available == 0) {
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0)
      return Status::error("cannot tell how much memory is available "
                           "(/proc/meminfo has no MemAvailable)");
    available = static_cast<uint64_t>(pages) * static_cast<uint64_t>(size);
  }
  std::string dir = cgroupDir();
  if (!dir.empty()) {
    std::optional<uint64_t> limit = readNumber(dir + "/memory.max");
    std::optional<uint64_t> usage = readNumber(dir + "/memory.current");
    if (!limit) {
      limit = readNumber(dir + "/memory.limit_in_bytes");
      usage = readNumber(dir + "/memory.usage_in_bytes");
    }
    if (limit && usage && *limit > *usage && *limit - *usage < available)
      available = *limit - *usage;
  }
  return available;
}

std::string formatBytes(uint64_t bytes) {
  const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char text[64];
  if (unit == 0)
    std::snprintf(text, sizeof(text), "%" PRIu64 " bytes", bytes);
  else
    std::snprintf(text, sizeof(text), "%.2f %s", value, units[unit]);
  return text;
}

Status checkArenaFits(int64_t arenaBytes, uint64_t availableBytes,
                      const std::string &where, uint64_t limitBytes) {
  bool limited = limitBytes != 0 && limitBytes < availableBytes;
  uint64_t budget = limited ? limitBytes : availableBytes;
  if (arenaBytes < 0 || static_cast<uint64_t>(arenaBytes) <= budget)
    return Status::ok();
  std::ostringstream message;
  message << "the planned arena needs "
          << formatBytes(static_cast<uint64_t>(arenaBytes)) << " ("
          << arenaBytes << " bytes) and ";
  if (limited)
    message << "--memory-limit allows " << formatBytes(budget) << " ("
            << budget << " bytes; " << where << " has "
            << formatBytes(availableBytes) << " available)";
  else
    message << where << " has " << formatBytes(budget) << " (" << budget
            << " bytes) available";
  message << "; compile with a smaller --micro-batch or --seq-len, or run "
             "where there is more memory";
  return Status::error(message.str());
}

} // namespace dsv3::runtime
