//===- executable_format.h - the framing of a .dsv3 file --------*- C++ -*-===//
//
// A .dsv3 file is a 24-byte header and the serialized dsv3.runtime.
// Executable: the magic "DSV3EXE1", the payload's length and its FNV-1a
// hash (both little-endian uint64). The header lets the loader tell a
// truncated or corrupted file from a valid one before parsing it. Header
// only, so that the compiler writes the same framing the runtime reads.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_EXECUTABLE_FORMAT_H
#define DSV3_RUNTIME_EXECUTABLE_FORMAT_H

#include <cstdint>
#include <cstring>
#include <string>

namespace dsv3::runtime {

inline constexpr char kExecutableMagic[8] = {'D', 'S', 'V', '3',
                                             'E', 'X', 'E', '1'};
inline constexpr size_t kExecutableHeaderBytes = 24;
/// The Executable message's format_version this dsv3 writes and reads
/// (1: before kernel signatures; 2: before GPU function signatures; 3:
/// before the attention command).
inline constexpr uint32_t kExecutableFormatVersion = 4;

inline uint64_t fnv1a64(const void *data, size_t size) {
  const auto *p = static_cast<const uint8_t *>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

inline void putLE64(std::string &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline uint64_t getLE64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

/// The bytes of a .dsv3 file holding `payload`.
inline std::string frameExecutable(const std::string &payload) {
  std::string out(kExecutableMagic, sizeof(kExecutableMagic));
  putLE64(out, payload.size());
  putLE64(out, fnv1a64(payload.data(), payload.size()));
  return out + payload;
}

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_EXECUTABLE_FORMAT_H
