//===- tensorboard.cpp - TensorBoard event files --------------------------===//

#include "tensorboard.h"

#include "runtime/tensorboard.pb.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace dsv3::runtime {

namespace {

double wallTime() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Creates `path` and its missing parents.
Status makeDirectories(const std::string &path) {
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/')
      continue;
    std::string prefix = path.substr(0, at);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::error(prefix + ": cannot create directory: " +
                           std::strerror(errno));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::error(path + ": not a directory");
  return Status::ok();
}

} // namespace

uint32_t crc32c(const void *data, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = c & 1 ? 0x82f63b78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xffffffffu;
  const auto *p = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

uint32_t maskedCrc32c(const void *data, size_t size) {
  uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_)
    std::fclose(file_);
}

Expected<std::unique_ptr<TensorBoardWriter>>
TensorBoardWriter::open(const std::string &dir) {
  if (Status s = makeDirectories(dir); !s)
    return s;
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  std::unique_ptr<TensorBoardWriter> w(new TensorBoardWriter);
  double now = wallTime();
  w->path_ = dir + "/events.out.tfevents." +
             std::to_string(static_cast<int64_t>(now)) + "." + host + "." +
             std::to_string(::getpid());
  w->file_ = std::fopen(w->path_.c_str(), "wbx");
  if (!w->file_)
    return Status::error(w->path_ + ": cannot create: " +
                         std::strerror(errno));
  tensorboard::Event first;
  first.set_wall_time(now);
  first.set_file_version("brain.Event:2");
  if (Status s = w->record(first.SerializeAsString()); !s)
    return s;
  return w;
}

Status TensorBoardWriter::record(const std::string &bytes) {
  uint64_t length = bytes.size();
  uint8_t header[12];
  for (int i = 0; i < 8; ++i)
    header[i] = static_cast<uint8_t>(length >> (8 * i));
  uint32_t lengthCrc = maskedCrc32c(header, 8);
  uint32_t dataCrc = maskedCrc32c(bytes.data(), bytes.size());
  for (int i = 0; i < 4; ++i)
    header[8 + i] = static_cast<uint8_t>(lengthCrc >> (8 * i));
  uint8_t footer[4];
  for (int i = 0; i < 4; ++i)
    footer[i] = static_cast<uint8_t>(dataCrc >> (8 * i));
  if (std::fwrite(header, 1, 12, file_) != 12 ||
      std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size() ||
      std::fwrite(footer, 1, 4, file_) != 4 || std::fflush(file_) != 0)
    return Status::error(path_ + ": cannot write: " + std::strerror(errno));
  return Status::ok();
}

Status TensorBoardWriter::write(
    int64_t step, const std::vector<std::pair<std::string, double>> &scalars) {
  tensorboard::Event event;
  event.set_wall_time(wallTime());
  event.set_step(step);
  tensorboard::Summary *summary = event.mutable_summary();
  for (const auto &[tag, value] : scalars) {
    tensorboard::SummaryValue *v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  return record(event.SerializeAsString());
}

} // namespace dsv3::runtime
