//===- hf_checkpoint_fuzzer.cpp - Hugging Face directories ----------------===//
//
// An input is model.safetensors.index.json and two shards, a.safetensors
// and b.safetensors, separated by the line "\n--8<--\n" (no index when the
// first part is empty: then the first shard is model.safetensors). Every
// tensor the directory offers is read into f32 and bf16 as --init-from
// reads it.
//
//===----------------------------------------------------------------------===//

#include "file_util.h"
#include "fuzz_input.h"
#include "hf_checkpoint.h"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace dsv3::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> parts = splitInput(data, size, 3);
  std::string dir = freshScratchDir("hf-fuzz");
  if (parts[0].empty()) {
    (void)writeFileSynced(dir + "/model.safetensors", parts[1]);
  } else {
    (void)writeFileSynced(dir + "/model.safetensors.index.json", parts[0]);
    (void)writeFileSynced(dir + "/a.safetensors", parts[1]);
    (void)writeFileSynced(dir + "/b.safetensors", parts[2]);
  }
  Expected<HuggingFaceCheckpoint> ckpt = HuggingFaceCheckpoint::open(dir);
  if (!ckpt)
    return 0;
  // Every tensor, at the shape the index claims (read() checks it).
  auto names = ckpt->unread();
  for (const std::string &name : names) {
    SafetensorsFile::Entry entry;
    auto file = SafetensorsFile::read(ckpt->fileOf(name));
    if (!file || !file->entries().count(name))
      continue;
    entry = file->entries().at(name);
    int64_t n = numElements(entry.shape);
    if (n < 0 || n > (1 << 20))
      continue;
    std::vector<float> f(n);
    std::vector<uint16_t> b(n);
    (void)ckpt->read(name, entry.shape, TYPE_F32, f.data());
    (void)ckpt->read(name, entry.shape, TYPE_BF16, b.data());
  }
  (void)ckpt->unread();
  return 0;
}
