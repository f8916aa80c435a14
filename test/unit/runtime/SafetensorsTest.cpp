//===- SafetensorsTest.cpp - safetensors writing, reading, rejecting ------===//

#include "safetensors.h"

#include "file_util.h"

#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace dsv3::runtime;

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
}

std::vector<uint8_t> bytesOf(const std::string &path) {
  std::vector<uint8_t> b;
  EXPECT_TRUE(readFile(path, b).isOk());
  return b;
}

void writeBytes(const std::string &path, const std::vector<uint8_t> &b) {
  ASSERT_TRUE(writeFileSynced(path, std::string(b.begin(), b.end())).isOk());
}

struct Sample {
  std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f};
  std::vector<uint16_t> b = {0x3f80, 0xc000}; // bf16 1.0, -2.0
  std::vector<int64_t> steps = {42};
  std::vector<TensorView> views() const {
    return {{"model.layers.0.mlp.experts.0.gate_proj.weight", DType::F32,
             {2, 3}, w.data()},
            {"model.norm.weight", DType::BF16, {2}, b.data()},
            {"step", DType::I64, {}, steps.data()}};
  }
};

TEST(Safetensors, RoundTrip) {
  std::string path = tempPath("roundtrip.safetensors");
  Sample s;
  ASSERT_TRUE(writeSafetensors(path, s.views(), {{"format", "pt"}}).isOk());
  auto file = SafetensorsFile::read(path);
  ASSERT_TRUE(file.isOk()) << file.status().message();
  EXPECT_EQ(file->entries().size(), 3u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  const auto &w = file->entries().at("model.layers.0.mlp.experts.0.gate_proj.weight");
  EXPECT_EQ(w.dtype, DType::F32);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(file->data("model.layers.0.mlp.experts.0.gate_proj.weight"),
                        s.w.data(), 24),
            0);
  EXPECT_EQ(std::memcmp(file->data("model.norm.weight"), s.b.data(), 4), 0);
  EXPECT_EQ(file->entries().at("step").shape.size(), 0u);
  std::remove(path.c_str());
}

// Reads the file with nothing but the format's definition: an 8-byte
// little-endian length, a JSON header, then the data section.
TEST(Safetensors, ReadableByAnIndependentReader) {
  std::string path = tempPath("independent.safetensors");
  Sample s;
  ASSERT_TRUE(writeSafetensors(path, s.views(), {{"format", "pt"}}).isOk());
  std::ifstream in(path, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  ASSERT_GE(raw.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ((8 + n) % 8, 0u) << "data section is 8-byte aligned";
  auto header = nlohmann::json::parse(raw.begin() + 8, raw.begin() + 8 + n);
  const char *data = raw.data() + 8 + n;
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  auto w = header["model.layers.0.mlp.experts.0.gate_proj.weight"];
  EXPECT_EQ(w["dtype"], "F32");
  EXPECT_EQ(w["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(w["data_offsets"], nlohmann::json({0, 24}));
  float values[6];
  std::memcpy(values, data + w["data_offsets"][0].get<size_t>(), 24);
  EXPECT_FLOAT_EQ(values[0], 1.5f);
  EXPECT_FLOAT_EQ(values[2], 3.25f);
  EXPECT_FLOAT_EQ(values[5], -0.5f);
  auto norm = header["model.norm.weight"];
  EXPECT_EQ(norm["dtype"], "BF16");
  EXPECT_EQ(norm["data_offsets"], nlohmann::json({24, 28}));
  uint16_t bf16[2];
  std::memcpy(bf16, data + 24, 4);
  EXPECT_EQ(bf16[1], 0xc000);
  auto step = header["step"];
  EXPECT_EQ(step["dtype"], "I64");
  EXPECT_EQ(step["shape"], nlohmann::json::array());
  int64_t stepValue;
  std::memcpy(&stepValue, data + 28, 8);
  EXPECT_EQ(stepValue, 42);
  EXPECT_EQ(raw.size(), 8 + n + 36);
  std::remove(path.c_str());
}

/// Writes a valid sample, applies `corrupt` to its bytes and expects the
/// reader to reject it with a message naming the file and `what`.
void expectRejected(const std::string &name,
                    const std::function<void(std::vector<uint8_t> &)> &corrupt,
                    const std::string &what) {
  std::string path = tempPath(name + ".safetensors");
  Sample s;
  ASSERT_TRUE(writeSafetensors(path, s.views(), {}).isOk());
  std::vector<uint8_t> b = bytesOf(path);
  corrupt(b);
  writeBytes(path, b);
  auto file = SafetensorsFile::read(path);
  ASSERT_FALSE(file.isOk()) << name;
  EXPECT_NE(file.status().message().find(path), std::string::npos)
      << file.status().message();
  EXPECT_NE(file.status().message().find(what), std::string::npos)
      << file.status().message();
  std::remove(path.c_str());
}

/// Replaces the JSON header (keeping its length) by `json`, space-padded.
void setHeader(std::vector<uint8_t> &b, const std::string &json) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | b[i];
  ASSERT_LE(json.size(), n);
  std::string padded = json + std::string(n - json.size(), ' ');
  std::copy(padded.begin(), padded.end(), b.begin() + 8);
}

TEST(Safetensors, RejectsDamage) {
  expectRejected("truncated", [](auto &b) { b.resize(b.size() - 5); },
                 "truncated?");
  expectRejected("short", [](auto &b) { b.resize(5); }, "too short");
  expectRejected("length", [](auto &b) { b[7] = 0x7f; }, "runs past the end");
  expectRejected("json", [](auto &b) { b[8] = '['; }, "not a JSON object");
  expectRejected("trailing", [](auto &b) { b.push_back(0); },
                 "bytes after the last tensor");
  expectRejected("dtype", [](auto &b) {
    setHeader(b, R"({"a":{"dtype":"F33","shape":[9],"data_offsets":[0,36]}})");
  }, "unknown dtype F33");
  expectRejected("offsets", [](auto &b) {
    setHeader(b, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,36]}})");
  }, "the shape needs 8");
  expectRejected("overlap", [](auto &b) {
    setHeader(b, R"({"a":{"dtype":"F32","shape":[9],"data_offsets":[0,36]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})");
  }, "overlaps");
  expectRejected("negative", [](auto &b) {
    setHeader(b, R"({"a":{"dtype":"F32","shape":[-9],"data_offsets":[0,36]}})");
  }, "negative");
}

TEST(Safetensors, MissingFile) {
  auto file = SafetensorsFile::read("/nonexistent/model.safetensors");
  ASSERT_FALSE(file.isOk());
  EXPECT_NE(file.status().message().find("/nonexistent/model.safetensors: cannot open"),
            std::string::npos);
}

TEST(Safetensors, RejectsDuplicateNames) {
  float x = 1;
  Status s = writeSafetensors(tempPath("dup"),
                              {{"a", DType::F32, {1}, &x}, {"a", DType::F32, {1}, &x}},
                              {});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("duplicate"), std::string::npos);
}

} // namespace
