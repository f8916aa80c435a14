//===- fuzz_input.h - inputs that stand for several files -------*- C++ -*-===//
//
// The directory targets take one buffer for several files: its parts,
// separated by the line "\n--8<--\n", written into a scratch directory.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_FUZZ_FUZZ_INPUT_H
#define DSV3_FUZZ_FUZZ_INPUT_H

#include "file_util.h"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

/// Exactly `count` parts of the input: the last takes the rest, missing
/// ones are empty.
inline std::vector<std::string> splitInput(const uint8_t *data, size_t size,
                                           size_t count) {
  std::string input(reinterpret_cast<const char *>(data), size);
  const std::string separator = "\n--8<--\n";
  std::vector<std::string> parts;
  size_t at = 0;
  while (parts.size() + 1 < count) {
    size_t next = input.find(separator, at);
    if (next == std::string::npos)
      break;
    parts.push_back(input.substr(at, next - at));
    at = next + separator.size();
  }
  parts.push_back(input.substr(at));
  parts.resize(count);
  return parts;
}

/// This process's scratch directory `name`, created empty.
inline std::string freshScratchDir(const std::string &name) {
  std::string dir = "/tmp/dsv3-" + name + "-" + std::to_string(::getpid());
  dsv3::runtime::removeTree(dir);
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

#endif // DSV3_FUZZ_FUZZ_INPUT_H
