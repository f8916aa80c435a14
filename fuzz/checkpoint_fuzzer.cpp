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
#include "fuzz_input.h"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace dsv3::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> parts = splitInput(data, size, 4);
  std::string root = freshScratchDir("checkpoint-fuzz");
  std::string step = root + "/step-00000001";
  ::mkdir(step.c_str(), 0755);
  (void)writeFileSynced(root + "/latest", parts[0]);
  (void)writeFileSynced(step + "/state.json", parts[1]);
  (void)writeFileSynced(step + "/model.safetensors", parts[2]);
  (void)writeFileSynced(step + "/optimizer.safetensors", parts[3]);
  (void)CheckpointStore(root).loadLatest();
  return 0;
}
