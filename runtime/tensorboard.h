//===- tensorboard.h - TensorBoard event files ------------------*- C++ -*-===//
//
// Scalars as TensorBoard reads them: a file events.out.tfevents.<time>.
// <host>.<pid> of records (little-endian u64 length, masked CRC-32C of the
// length, an Event protobuf, masked CRC-32C of it), the first carrying the
// file version. Each step is flushed as it is written.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_TENSORBOARD_H
#define DSV3_RUNTIME_TENSORBOARD_H

#include "status.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dsv3::runtime {

/// CRC-32C (Castagnoli) of `size` bytes, and the masked form TFRecord
/// framing stores.
uint32_t crc32c(const void *data, size_t size);
uint32_t maskedCrc32c(const void *data, size_t size);

class TensorBoardWriter {
public:
  ~TensorBoardWriter();
  /// Creates `dir` if needed and a new event file in it.
  static Expected<std::unique_ptr<TensorBoardWriter>>
  open(const std::string &dir);
  /// One event with a scalar per (tag, value); non-finite values are
  /// written as they are (TensorBoard shows them).
  Status write(int64_t step,
               const std::vector<std::pair<std::string, double>> &scalars);
  const std::string &path() const { return path_; }

private:
  Status record(const std::string &bytes);
  std::string path_;
  std::FILE *file_ = nullptr;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_TENSORBOARD_H
