//===- safetensors_fuzzer.cpp - the safetensors reader --------------------===//
//
// Any bytes: parse them; every tensor the reader accepts must lie inside
// the file, so reading all of its bytes is safe.
//
//===----------------------------------------------------------------------===//

#include "safetensors.h"

#include <cstdint>
#include <vector>

using namespace dsv3::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto file = SafetensorsFile::parse(std::vector<uint8_t>(data, data + size),
                                     "fuzz.safetensors");
  if (!file)
    return 0;
  volatile uint8_t sink = 0;
  for (const auto &[name, entry] : file->entries()) {
    const uint8_t *bytes = file->data(name);
    for (size_t i = 0; i < entry.end - entry.begin; ++i)
      sink = sink ^ bytes[i];
  }
  return 0;
}
