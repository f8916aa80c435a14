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
#include "hf_checkpoint.h"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace dsv3::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string dir =
      "/tmp/dsv3-hf-fuzz-" + std::to_string(::getpid());
  std::string input(reinterpret_cast<const char *>(data), size);
  std::vector<std::string> parts;
  const std::string separator = "\n--8<--\n";
  size_t at = 0;
  while (parts.size() < 2) {
    size_t next = input.find(separator, at);
    if (next == std::string::npos)
      break;
    parts.push_back(input.substr(at, next - at));
    at = next + separator.size();
  }
  parts.push_back(input.substr(at));
  parts.resize(3);
  removeTree(dir);
  ::mkdir(dir.c_str(), 0755);
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
