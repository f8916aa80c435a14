//===- HfCheckpointTest.cpp - Hugging Face directories, TensorBoard files -===//

#include "hf_checkpoint.h"
#include "tensorboard.h"

#include "file_util.h"
#include "runtime/tensorboard.pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

using namespace dsv3::runtime;

namespace {

std::string tempDir(const std::string &name) {
  std::string dir =
      ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
  removeTree(dir);
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

TEST(Crc32c, KnownValue) {
  // The check value of CRC-32C (RFC 3720, B.4).
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
  uint32_t crc = 0xe3069283u;
  EXPECT_EQ(maskedCrc32c("123456789", 9),
            ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(HuggingFaceCheckpoint, DequantizesFp8PerBlockWithPartialBlocks) {
  std::string dir = tempDir("fp8");
  // [130, 3]: rows 0..127 are block row 0 (scale 2), rows 128..129 block
  // row 1 (scale 0.5). E4M3: 0x38 = 1, 0x40 = 2, 0xb8 = -1, 0x7e = 448,
  // 0x01 = 2^-9 (subnormal).
  const uint8_t codes[] = {0x38, 0x40, 0xb8, 0x7e, 0x01};
  std::vector<uint8_t> q(130 * 3);
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = codes[i % 5];
  std::vector<float> scale = {2.0f, 0.5f};
  std::vector<float> norm = {1.0f, 2.0f, 3.0f};
  ASSERT_TRUE(writeSafetensors(
                  dir + "/model.safetensors",
                  {{"w.weight", DType::F8_E4M3, {130, 3}, q.data()},
                   {"w.weight_scale_inv", DType::F32, {2, 1}, scale.data()},
                   {"n.weight", DType::F32, {3}, norm.data()},
                   {"extra.weight", DType::F32, {3}, norm.data()}},
                  {{"format", "pt"}})
                  .isOk());
  auto ckpt = HuggingFaceCheckpoint::open(dir);
  ASSERT_TRUE(ckpt.isOk()) << ckpt.status().message();
  std::vector<float> w(130 * 3);
  Status s = ckpt->read("w.weight", {130, 3}, TYPE_F32, w.data());
  ASSERT_TRUE(s.isOk()) << s.message();
  const double values[] = {1.0, 2.0, -1.0, 448.0, std::ldexp(1.0, -9)};
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(w[i], values[i % 5] * (i / 3 < 128 ? 2.0 : 0.5)) << i;
  // Another shape is refused, naming the tensor and the file.
  s = ckpt->read("n.weight", {4}, TYPE_F32, w.data());
  EXPECT_NE(s.message().find("model.safetensors: n.weight is [3], the "
                             "executable has [4]"),
            std::string::npos)
      << s.message();
  // bf16 from f32 rounds.
  uint16_t b[3];
  ASSERT_TRUE(ckpt->read("n.weight", {3}, TYPE_BF16, b).isOk());
  EXPECT_EQ(b[1], 0x4000); // 2.0
  // What was not read is reported (the scale of a read weight is not).
  EXPECT_EQ(ckpt->unread(), std::vector<std::string>{"extra.weight"});
}

TEST(HuggingFaceCheckpoint, RoundsOnceAndRefusesOverflowAndNaN) {
  std::string dir = tempDir("round");
  // Just above the halfway point between bf16's 1 and 1 + 2^-7: rounded to
  // f32 first it would become the halfway point and then round to even, 1.
  std::vector<double> v = {1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30)};
  std::vector<float> big = {1e5f}, nan = {NAN};
  ASSERT_TRUE(writeSafetensors(dir + "/model.safetensors",
                               {{"v", DType::F64, {1}, v.data()},
                                {"big", DType::F32, {1}, big.data()},
                                {"nan", DType::F32, {1}, nan.data()}},
                               {})
                  .isOk());
  auto ckpt = HuggingFaceCheckpoint::open(dir);
  ASSERT_TRUE(ckpt.isOk());
  uint16_t b = 0;
  ASSERT_TRUE(ckpt->read("v", {1}, TYPE_BF16, &b).isOk());
  EXPECT_EQ(b, 0x3f81); // 1 + 2^-7
  Status s = ckpt->read("big", {1}, TYPE_F16, &b);
  EXPECT_NE(s.message().find("big: element 0 (100000.000000) overflows f16"),
            std::string::npos)
      << s.message();
  float f;
  s = ckpt->read("nan", {1}, TYPE_F32, &f);
  EXPECT_NE(s.message().find("(a weight must be finite)"), std::string::npos)
      << s.message();
}

TEST(HuggingFaceCheckpoint, RefusesFp8WithoutScalesAndMisplacedShards) {
  std::string dir = tempDir("noscale");
  std::vector<uint8_t> q(4, 0x38);
  ASSERT_TRUE(writeSafetensors(dir + "/model.safetensors",
                               {{"w.weight", DType::F8_E4M3, {2, 2}, q.data()}},
                               {})
                  .isOk());
  auto ckpt = HuggingFaceCheckpoint::open(dir);
  ASSERT_TRUE(ckpt.isOk());
  std::vector<float> w(4);
  Status s = ckpt->read("w.weight", {2, 2}, TYPE_F32, w.data());
  EXPECT_NE(s.message().find("without a w.weight_scale_inv"),
            std::string::npos)
      << s.message();

  std::string sharded = tempDir("shards");
  std::vector<float> x = {1, 2};
  ASSERT_TRUE(writeSafetensors(sharded + "/a.safetensors",
                               {{"x", DType::F32, {2}, x.data()}}, {})
                  .isOk());
  ASSERT_TRUE(writeFileSynced(sharded + "/model.safetensors.index.json",
                              R"({"weight_map": {"x": "b.safetensors"}})")
                  .isOk());
  ASSERT_TRUE(writeSafetensors(sharded + "/b.safetensors",
                               {{"y", DType::F32, {2}, x.data()}}, {})
                  .isOk());
  auto misplaced = HuggingFaceCheckpoint::open(sharded);
  ASSERT_FALSE(misplaced.isOk());
  EXPECT_NE(misplaced.status().message().find(
                "b.safetensors: holds y, which"),
            std::string::npos)
      << misplaced.status().message();
}

TEST(TensorBoardWriter, RecordsAreFramedAndChecksummed) {
  std::string dir = tempDir("tb") + "/run";
  auto writer = TensorBoardWriter::open(dir);
  ASSERT_TRUE(writer.isOk()) << writer.status().message();
  ASSERT_TRUE((*writer)->write(7, {{"loss", 2.5}, {"zero", 0.0}}).isOk());
  std::string path = (*writer)->path();
  writer->reset();
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(readFile(path, bytes).isOk());
  std::vector<tensorboard::Event> events;
  size_t at = 0;
  while (at < bytes.size()) {
    ASSERT_LE(at + 12, bytes.size());
    uint64_t length;
    uint32_t lengthCrc, dataCrc;
    std::memcpy(&length, &bytes[at], 8);
    std::memcpy(&lengthCrc, &bytes[at + 8], 4);
    EXPECT_EQ(lengthCrc, maskedCrc32c(&bytes[at], 8));
    ASSERT_LE(at + 16 + length, bytes.size());
    std::memcpy(&dataCrc, &bytes[at + 12 + length], 4);
    EXPECT_EQ(dataCrc, maskedCrc32c(&bytes[at + 12], length));
    tensorboard::Event e;
    ASSERT_TRUE(e.ParseFromArray(&bytes[at + 12], static_cast<int>(length)));
    events.push_back(e);
    at += 16 + length;
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[1].step(), 7);
  ASSERT_EQ(events[1].summary().value_size(), 2);
  EXPECT_EQ(events[1].summary().value(0).tag(), "loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 2.5f);
  // A zero is still a scalar (TensorBoard skips a value with none set).
  EXPECT_TRUE(events[1].summary().value(1).has_simple_value());
}

} // namespace
