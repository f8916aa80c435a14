//===- MetricsTest.cpp - JSONL metrics and Chrome traces read back --------===//

#include "metrics.h"

#include "file_util.h"

#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <unistd.h>

using namespace dsv3::runtime;

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
}

TEST(Metrics, OneJsonObjectPerStep) {
  std::string path = tempPath("metrics.jsonl");
  ::unlink(path.c_str());
  {
    auto writer = MetricsWriter::open(path);
    ASSERT_TRUE(writer.isOk());
    std::unique_ptr<MetricsWriter> w = std::move(*writer);
    ASSERT_TRUE(w->write(0, {{"loss", 5.5}, {"lr", 3e-4}}).isOk());
    ASSERT_TRUE(w->write(1, {{"loss", NAN}, {"lr", 3e-4}}).isOk());
  }
  std::ifstream in(path);
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line))
    lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["step"], 0);
  EXPECT_DOUBLE_EQ(lines[0]["loss"].get<double>(), 5.5);
  EXPECT_TRUE(lines[1]["loss"].is_null());
  ::unlink(path.c_str());
}

TEST(Metrics, UnwritablePathIsAnError) {
  auto writer = MetricsWriter::open("/nonexistent/dir/metrics.jsonl");
  ASSERT_FALSE(writer.isOk());
  EXPECT_NE(writer.status().message().find("/nonexistent/dir/metrics.jsonl"),
            std::string::npos);
}

TEST(Trace, ChromeTraceEvents) {
  std::string path = tempPath("trace.json");
  TraceWriter trace(path);
  trace.complete("step", "step", 0.0, 1500.0);
  trace.complete("fusion_3", "kernel", 10.0, 25.5, 1);
  ASSERT_TRUE(trace.close().isOk());
  std::ifstream in(path);
  auto json = nlohmann::json::parse(in);
  ASSERT_EQ(json["traceEvents"].size(), 2u);
  auto e = json["traceEvents"][1];
  EXPECT_EQ(e["name"], "fusion_3");
  EXPECT_EQ(e["ph"], "X");
  EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 25.5);
  EXPECT_EQ(e["tid"], 1);
  ::unlink(path.c_str());
}

} // namespace
