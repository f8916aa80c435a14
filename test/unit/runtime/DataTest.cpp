//===- DataTest.cpp - token sources and sequence packing ------------------===//

#include "data.h"

#include "file_util.h"

#include <gtest/gtest.h>

#include <unistd.h>

using namespace dsv3::runtime;

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
}

std::string u16File(const std::vector<uint16_t> &tokens) {
  std::string bytes;
  for (uint16_t t : tokens) {
    bytes.push_back(static_cast<char>(t & 0xff));
    bytes.push_back(static_cast<char>(t >> 8));
  }
  return bytes;
}

TEST(Packer, DocumentsNeverShareASegmentOrATarget) {
  // Documents [1 2 3 0] [4 5 0] [6 7 8 9 0], 0 ends a document.
  std::string path = tempPath("docs.u16");
  ASSERT_TRUE(writeFileSynced(path, u16File({1, 2, 3, 0, 4, 5, 0, 6, 7, 8, 9, 0}))
                  .isOk());
  auto source = openTokenFile(path, 2, 16, /*eos=*/0);
  ASSERT_TRUE(source.isOk()) << source.status().message();
  Packer packer(**source, /*batch=*/2, /*seq=*/5);
  Batch b;
  ASSERT_TRUE(packer.next(b).isOk());
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 2, 3, 0, 4, /**/ 5, 0, 6, 7, 8}));
  EXPECT_EQ(b.segmentIds, (std::vector<int32_t>{0, 0, 0, 0, 1, /**/ 0, 0, 1, 1, 1}));
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 2, 3, 0, /**/ 0, 1, 0, 1, 2}));
  // A target crosses a row boundary only within its document (4 -> 5,
  // 8 -> 9), never into the next document (0 -> 4, 0 -> 6).
  EXPECT_EQ(b.targets, (std::vector<int32_t>{2, 3, 0, -100, 5, /**/ 0, -100, 7, 8, 9}));
  ASSERT_TRUE(packer.next(b).isOk());
  EXPECT_EQ(b.tokens[0], 9);
  EXPECT_EQ(b.tokens[1], 0);
  EXPECT_EQ(b.segmentIds[2], 1) << "the file wraps around into a new document";
  EXPECT_EQ(b.tokens[2], 1);
  ::unlink(path.c_str());
}

TEST(Packer, ResumesFromItsCursor) {
  auto source = makeSyntheticSource(7, 100, 13);
  Packer packer(*source, 3, 8);
  Batch b;
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(packer.next(b).isOk());
  int64_t cursor = packer.cursor();
  Batch expected;
  ASSERT_TRUE(packer.next(expected).isOk());

  auto fresh = makeSyntheticSource(7, 100, 13);
  Packer resumed(*fresh, 3, 8);
  ASSERT_TRUE(resumed.seek(cursor).isOk());
  Batch again;
  ASSERT_TRUE(resumed.next(again).isOk());
  EXPECT_EQ(again.tokens, expected.tokens);
  EXPECT_EQ(again.targets, expected.targets);
  EXPECT_EQ(again.positions, expected.positions);
  EXPECT_EQ(again.segmentIds, expected.segmentIds);
}

TEST(Sources, TextIsBytesAndEmptyLinesEndDocuments) {
  std::string path = tempPath("corpus.txt");
  ASSERT_TRUE(writeFileSynced(path, "ab\n\ncd").isOk());
  auto source = openTextFile(path);
  ASSERT_TRUE(source.isOk());
  Packer packer(**source, 1, 6);
  Batch b;
  ASSERT_TRUE(packer.next(b).isOk());
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{'a', 'b', '\n', '\n', 'c', 'd'}));
  EXPECT_EQ(b.segmentIds, (std::vector<int32_t>{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(b.targets[3], -100);
  ::unlink(path.c_str());
}

TEST(Sources, Uint32Tokens) {
  std::string path = tempPath("wide.u32");
  std::string bytes = {1, 0, 1, 0, 2, 0, 0, 0}; // 65537, 2
  ASSERT_TRUE(writeFileSynced(path, bytes).isOk());
  auto source = openTokenFile(path, 4, 100000);
  ASSERT_TRUE(source.isOk());
  int32_t token;
  bool start;
  ASSERT_TRUE((*source)->next(token, start).isOk());
  EXPECT_EQ(token, 65537);
  EXPECT_TRUE(start);
  ::unlink(path.c_str());
}

TEST(Sources, ReportBadData) {
  std::string empty = tempPath("empty.txt");
  ASSERT_TRUE(writeFileSynced(empty, "").isOk());
  auto text = openTextFile(empty);
  ASSERT_FALSE(text.isOk());
  EXPECT_EQ(text.status().message(), empty + ": empty data file");

  std::string odd = tempPath("odd.u16");
  ASSERT_TRUE(writeFileSynced(odd, "abc").isOk());
  auto truncated = openTokenFile(odd, 2, 256);
  ASSERT_FALSE(truncated.isOk());
  EXPECT_NE(truncated.status().message().find("not a multiple of the token width 2: truncated?"),
            std::string::npos);

  std::string big = tempPath("big.u16");
  ASSERT_TRUE(writeFileSynced(big, u16File({1, 300})).isOk());
  auto source = openTokenFile(big, 2, 256);
  ASSERT_TRUE(source.isOk());
  Packer packer(**source, 1, 2);
  Batch b;
  Status s = packer.next(b);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(),
            big + ": token 300 at byte 2 is outside the vocabulary [0, 256)");

  auto missing = openTextFile("/nonexistent/corpus.txt");
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("/nonexistent/corpus.txt: cannot open"),
            std::string::npos);
  ::unlink(empty.c_str());
  ::unlink(odd.c_str());
  ::unlink(big.c_str());
}

} // namespace
