//===- data.cpp - training data: sources and sequence packing -------------===//

#include "data.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dsv3::runtime {

namespace {

/// splitmix64: a stateless hash, so token i depends on (seed, i) only.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class SyntheticSource : public TokenSource {
public:
  SyntheticSource(uint64_t seed, int64_t vocab, int64_t length)
      : seed_(seed), vocab_(vocab), length_(length) {}
  Status next(int32_t &token, bool &start) override {
    token = static_cast<int32_t>(mix(seed_ ^ mix(position_)) %
                                 static_cast<uint64_t>(vocab_));
    start = position_ % length_ == 0;
    ++position_;
    return Status::ok();
  }
  int64_t cursor() const override { return position_; }
  Status seek(int64_t cursor) override {
    if (cursor < 0)
      return Status::error(describe() + ": negative cursor");
    position_ = cursor;
    return Status::ok();
  }
  std::string describe() const override {
    return "synthetic data (seed " + std::to_string(seed_) + ")";
  }

private:
  uint64_t seed_;
  int64_t vocab_, length_, position_ = 0;
};

/// A read-only memory map of a whole file.
class MappedFile {
public:
  ~MappedFile() {
    if (data_)
      ::munmap(const_cast<uint8_t *>(data_), size_);
  }
  static Expected<std::shared_ptr<MappedFile>> open(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Status::error(path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return Status::error(path + ": cannot stat: " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::error(path + (S_ISDIR(st.st_mode)
                                       ? ": is a directory, not a data file"
                                       : ": not a regular file"));
    }
    auto file = std::make_shared<MappedFile>();
    file->size_ = static_cast<size_t>(st.st_size);
    if (file->size_ > 0) {
      void *p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return Status::error(path + ": cannot map: " + std::strerror(errno));
      }
      file->data_ = static_cast<const uint8_t *>(p);
    }
    ::close(fd);
    return file;
  }
  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

class TokenFileSource : public TokenSource {
public:
  TokenFileSource(std::string path, std::shared_ptr<MappedFile> file,
                  int width, int64_t vocab, int64_t eos)
      : path_(std::move(path)), file_(std::move(file)), width_(width),
        vocab_(vocab), eos_(eos), count_(file_->size() / width) {}
  Status next(int32_t &token, bool &start) override {
    int64_t i = position_ % count_;
    uint32_t value = tokenAt(i);
    if (value >= static_cast<uint64_t>(vocab_))
      return Status::error(path_ + ": token " + std::to_string(value) +
                           " at byte " + std::to_string(i * width_) +
                           " is outside the vocabulary [0, " +
                           std::to_string(vocab_) + ")");
    token = static_cast<int32_t>(value);
    start = i == 0 || previousWasEos_;
    previousWasEos_ = eos_ >= 0 && value == static_cast<uint64_t>(eos_);
    ++position_;
    return Status::ok();
  }
  int64_t cursor() const override { return position_; }
  Status seek(int64_t cursor) override {
    if (cursor < 0)
      return Status::error(path_ + ": negative cursor");
    position_ = cursor;
    // Whether a document starts here depends on the token before it.
    previousWasEos_ = false;
    if (cursor % count_ != 0 && eos_ >= 0)
      previousWasEos_ =
          tokenAt((cursor - 1) % count_) == static_cast<uint64_t>(eos_);
    return Status::ok();
  }
  std::string describe() const override { return path_; }

private:
  /// The i-th token, stored little-endian in `width_` bytes.
  uint32_t tokenAt(int64_t i) const {
    const uint8_t *p = file_->data() + i * width_;
    uint32_t value = 0;
    for (int b = width_ - 1; b >= 0; --b)
      value = (value << 8) | p[b];
    return value;
  }

  std::string path_;
  std::shared_ptr<MappedFile> file_;
  int width_;
  int64_t vocab_, eos_, count_, position_ = 0;
  bool previousWasEos_ = false;
};

class TextFileSource : public TokenSource {
public:
  TextFileSource(std::string path, std::shared_ptr<MappedFile> file)
      : path_(std::move(path)), file_(std::move(file)) {}
  Status next(int32_t &token, bool &start) override {
    size_t i = static_cast<size_t>(position_) % file_->size();
    const uint8_t *d = file_->data();
    token = d[i];
    // A document starts at the top of the file and after an empty line.
    start = i == 0 || (i >= 2 && d[i - 1] == '\n' && d[i - 2] == '\n' &&
                       d[i] != '\n');
    ++position_;
    return Status::ok();
  }
  int64_t cursor() const override { return position_; }
  Status seek(int64_t cursor) override {
    if (cursor < 0)
      return Status::error(path_ + ": negative cursor");
    position_ = cursor;
    return Status::ok();
  }
  std::string describe() const override { return path_; }

private:
  std::string path_;
  std::shared_ptr<MappedFile> file_;
  int64_t position_ = 0;
};

} // namespace

std::unique_ptr<TokenSource> makeSyntheticSource(uint64_t seed, int64_t vocab,
                                                 int64_t documentLength) {
  return std::make_unique<SyntheticSource>(seed, std::max<int64_t>(vocab, 1),
                                           std::max<int64_t>(documentLength, 1));
}

Expected<std::unique_ptr<TokenSource>>
openTokenFile(const std::string &path, int tokenBytes, int64_t vocab,
              int64_t eos) {
  if (tokenBytes != 2 && tokenBytes != 4)
    return Status::error(path + ": tokens must be 2 or 4 bytes wide, got " +
                         std::to_string(tokenBytes));
  auto file = MappedFile::open(path);
  if (!file)
    return file.status();
  if ((*file)->size() == 0)
    return Status::error(path + ": empty data file");
  if ((*file)->size() % tokenBytes != 0)
    return Status::error(path + ": size " + std::to_string((*file)->size()) +
                         " is not a multiple of the token width " +
                         std::to_string(tokenBytes) + ": truncated?");
  return std::unique_ptr<TokenSource>(
      new TokenFileSource(path, *file, tokenBytes, vocab, eos));
}

Expected<std::unique_ptr<TokenSource>> openTextFile(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.status();
  if ((*file)->size() == 0)
    return Status::error(path + ": empty data file");
  return std::unique_ptr<TokenSource>(new TextFileSource(path, *file));
}

Status Packer::pull(int32_t &token, bool &start) {
  if (havePending_) {
    havePending_ = false;
    token = pendingToken_;
    start = pendingStart_;
    return Status::ok();
  }
  return source_.next(token, start);
}

Status Packer::next(Batch &out) {
  out.batch = batch_;
  out.seq = seq_;
  size_t n = static_cast<size_t>(batch_ * seq_);
  out.tokens.assign(n, 0);
  out.targets.assign(n, -100);
  out.positions.assign(n, 0);
  out.segmentIds.assign(n, 0);
  for (int64_t row = 0; row < batch_; ++row) {
    int32_t segment = -1, position = 0;
    for (int64_t col = 0; col < seq_; ++col) {
      size_t i = static_cast<size_t>(row * seq_ + col);
      int32_t token;
      bool start;
      if (Status s = pull(token, start); !s)
        return s;
      // Every row starts a segment, even in the middle of a document.
      if (start || col == 0) {
        ++segment;
        position = 0;
      }
      out.tokens[i] = token;
      out.positions[i] = position++;
      out.segmentIds[i] = segment;
    }
    // Targets: the next token when it continues the same document; the
    // row's last target peeks at the stream without consuming it.
    for (int64_t col = 0; col + 1 < seq_; ++col) {
      size_t i = static_cast<size_t>(row * seq_ + col);
      if (out.segmentIds[i + 1] == out.segmentIds[i])
        out.targets[i] = out.tokens[i + 1];
    }
    if (Status s = source_.next(pendingToken_, pendingStart_); !s)
      return s;
    havePending_ = true;
    if (!pendingStart_)
      out.targets[static_cast<size_t>(row * seq_ + seq_ - 1)] = pendingToken_;
  }
  return Status::ok();
}

} // namespace dsv3::runtime
