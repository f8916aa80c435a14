//===- metrics.cpp - step metrics (JSONL) and Chrome traces ---------------===//

#include "metrics.h"

#include "file_util.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dsv3::runtime {

MetricsWriter::~MetricsWriter() {
  if (file_)
    std::fclose(file_);
}

Expected<std::unique_ptr<MetricsWriter>>
MetricsWriter::open(const std::string &path) {
  std::FILE *file = std::fopen(path.c_str(), "a");
  if (!file)
    return Status::error(path + ": cannot open for metrics: " +
                         std::strerror(errno));
  std::unique_ptr<MetricsWriter> writer(new MetricsWriter());
  writer->path_ = path;
  writer->file_ = file;
  return writer;
}

Status MetricsWriter::write(
    int64_t step, const std::vector<std::pair<std::string, double>> &values) {
  nlohmann::ordered_json line = {{"step", step}};
  for (const auto &[name, value] : values)
    line[name] = std::isfinite(value) ? nlohmann::ordered_json(value)
                                      : nlohmann::ordered_json(nullptr);
  std::string text = line.dump() + "\n";
  if (std::fputs(text.c_str(), file_) < 0 || std::fflush(file_) != 0)
    return Status::error(path_ + ": cannot write metrics: " +
                         std::strerror(errno));
  return Status::ok();
}

void TraceWriter::complete(const std::string &name, const std::string &category,
                           double startUs, double durationUs, int thread,
                           int64_t bytes) {
  events_.push_back({name, category, startUs, durationUs, thread, bytes});
}

Status TraceWriter::close() {
  nlohmann::json events = nlohmann::json::array();
  for (const Event &e : events_) {
    nlohmann::json event = {{"name", e.name},     {"cat", e.category},
                            {"ph", "X"},          {"ts", e.start},
                            {"dur", e.duration},  {"pid", 0},
                            {"tid", e.thread}};
    if (e.bytes > 0)
      event["args"] = {{"bytes", e.bytes}};
    events.push_back(std::move(event));
  }
  nlohmann::json trace = {{"traceEvents", events},
                          {"displayTimeUnit", "ms"}};
  // A device or pipe (/dev/stdout, /dev/full) is written as it is; a file
  // through a temporary one, so a failed run never leaves half a trace.
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode))
      return Status::error(path_ + ": is a directory, not a trace file");
    int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      return Status::error(path_ + ": cannot write the trace: " +
                           std::strerror(errno));
    Status s = writeAll(fd, trace.dump(), path_);
    ::close(fd);
    return s;
  }
  std::string tmp = path_ + ".tmp";
  if (Status s = writeFileSynced(tmp, trace.dump()); !s)
    return s;
  if (std::rename(tmp.c_str(), path_.c_str()) != 0)
    return Status::error(path_ + ": cannot write the trace: " +
                         std::strerror(errno));
  return Status::ok();
}

} // namespace dsv3::runtime
