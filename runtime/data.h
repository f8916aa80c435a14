//===- data.h - training data: sources and sequence packing -----*- C++ -*-===//
//
// A TokenSource is an endless stream of tokens (it wraps around at the
// end of its data) with document boundaries; the Packer cuts it into the
// compiled [batch, seq] shape, packing documents back to back with segment
// ids so attention never crosses a document, positions restarting at each
// document, and targets of -100 where the next token belongs to another
// document. Sources can report and restore their cursor for resuming.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_DATA_H
#define DSV3_RUNTIME_DATA_H

#include "status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dsv3::runtime {

class TokenSource {
public:
  virtual ~TokenSource() = default;
  /// The next token; `documentStart` is true for the first token of a
  /// document. Fails (naming the file and offset) on bad data.
  virtual Status next(int32_t &token, bool &documentStart) = 0;
  /// Position in the stream; `seek` to it replays the same tokens.
  virtual int64_t cursor() const = 0;
  virtual Status seek(int64_t cursor) = 0;
  virtual std::string describe() const = 0;
};

/// Deterministic pseudo-random tokens in [0, vocab), documents of
/// `documentLength` tokens; token i is a function of (seed, i) alone.
std::unique_ptr<TokenSource> makeSyntheticSource(uint64_t seed, int64_t vocab,
                                                 int64_t documentLength);

/// A file of little-endian uint16 or uint32 tokens (`tokenBytes` 2 or 4),
/// memory-mapped; `eos` >= 0 ends a document (it is kept as a token).
Expected<std::unique_ptr<TokenSource>>
openTokenFile(const std::string &path, int tokenBytes, int64_t vocab,
              int64_t eos = -1);

/// A text file read as bytes (vocabulary 256); an empty line (two
/// newlines) ends a document.
Expected<std::unique_ptr<TokenSource>> openTextFile(const std::string &path);

struct Batch {
  int64_t batch = 0, seq = 0;
  std::vector<int32_t> tokens, targets, positions, segmentIds;
};

class Packer {
public:
  Packer(TokenSource &source, int64_t batch, int64_t seq)
      : source_(source), batch_(batch), seq_(seq) {}
  /// Fills the next [batch, seq] batch.
  Status next(Batch &out);
  /// Position of the next batch in the source's stream, and back to it.
  int64_t cursor() const {
    return source_.cursor() - (havePending_ ? 1 : 0);
  }
  Status seek(int64_t cursor) {
    havePending_ = false;
    return source_.seek(cursor);
  }

private:
  Status pull(int32_t &token, bool &start);

  TokenSource &source_;
  int64_t batch_, seq_;
  bool havePending_ = false;
  int32_t pendingToken_ = 0;
  bool pendingStart_ = false;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_DATA_H
