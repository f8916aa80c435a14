//===- checkpoint_fuzzer.cpp - resuming from a crafted checkpoint ---------===//
//
// An input is a checkpoint directory in one buffer: `latest`, state.json,
// model.safetensors and optimizer.safetensors, separated by the line
// "\n--8<--\n". They are written into a scratch directory and loaded as
// --resume loads them.
//
//===----------------------------------------------------------------------===//

#include "checkpoint.h"
#include "file_util.h"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace dsv3::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string root =
      "/tmp/dsv3-checkpoint-fuzz-" + std::to_string(::getpid());
  std::string input(reinterpret_cast<const char *>(data), size);
  std::vector<std::string> parts;
  const std::string separator = "\n--8<--\n";
  size_t at = 0;
  while (parts.size() < 3) {
    size_t next = input.find(separator, at);
    if (next == std::string::npos)
      break;
    parts.push_back(input.substr(at, next - at));
    at = next + separator.size();
  }
  parts.push_back(input.substr(at));
  parts.resize(4);
  removeTree(root);
  ::mkdir(root.c_str(), 0755);
  std::string step = root + "/step-00000001";
  ::mkdir(step.c_str(), 0755);
  (void)writeFileSynced(root + "/latest", parts[0]);
  (void)writeFileSynced(step + "/state.json", parts[1]);
  (void)writeFileSynced(step + "/model.safetensors", parts[2]);
  (void)writeFileSynced(step + "/optimizer.safetensors", parts[3]);
  (void)CheckpointStore(root).loadLatest();
  return 0;
}
