//===- elf_fuzzer.cpp - the kernel library's ELF check --------------------===//
//
// checkSharedObject stands between a kernel library and dlopen: whatever
// it accepts must lie inside the bytes it was given.
//
//===----------------------------------------------------------------------===//

#include "cpu_backend.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)dsv3::runtime::checkSharedObject(
      std::string(reinterpret_cast<const char *>(data), size));
  return 0;
}
