//===- metrics.h - step metrics (JSONL) and Chrome traces -------*- C++ -*-===//

#ifndef DSV3_RUNTIME_METRICS_H
#define DSV3_RUNTIME_METRICS_H

#include "status.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dsv3::runtime {

/// One JSON object per line, flushed as it is written, so a run that dies
/// keeps every finished step.
class MetricsWriter {
public:
  ~MetricsWriter();
  static Expected<std::unique_ptr<MetricsWriter>> open(const std::string &path);
  /// Writes {"step": step, name: value, ...}; non-finite values become
  /// null (JSON has no NaN).
  Status write(int64_t step,
               const std::vector<std::pair<std::string, double>> &values);

private:
  std::string path_;
  std::FILE *file_ = nullptr;
};

/// Chrome trace events ("X" complete events), written as one JSON file
/// (temporary file, then rename) by `close`.
class TraceWriter {
public:
  explicit TraceWriter(std::string path) : path_(std::move(path)) {}
  /// `bytes`, when positive, is recorded in the event's args: the bytes
  /// the command reads and writes, for a bandwidth figure.
  void complete(const std::string &name, const std::string &category,
                double startUs, double durationUs, int thread = 0,
                int64_t bytes = 0);
  Status close();
  size_t size() const { return events_.size(); }

private:
  struct Event {
    std::string name, category;
    double start, duration;
    int thread;
    int64_t bytes;
  };
  std::string path_;
  std::vector<Event> events_;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_METRICS_H
