//===- safetensors.h - the safetensors checkpoint format --------*- C++ -*-===//
//
// safetensors: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then the raw little-endian tensor
// bytes. Readable by the Hugging Face and PyTorch ecosystem.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_SAFETENSORS_H
#define DSV3_RUNTIME_SAFETENSORS_H

#include "status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dsv3::runtime {

enum class DType { F64, F32, BF16, F16, F8_E4M3, F8_E5M2, I64, I32, I8, U8, BOOL };

/// The safetensors name of a dtype ("F32", "BF16", "F8_E4M3", ...).
const char *dtypeName(DType dtype);
/// Parses a safetensors dtype name.
std::optional<DType> parseDType(const std::string &name);
/// Bytes of one element.
size_t dtypeBytes(DType dtype);

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data;
};

/// Number of elements of `shape`.
int64_t numElements(const std::vector<int64_t> &shape);
/// `shape` for messages: "[2, 3]".
std::string shapeString(const std::vector<int64_t> &shape);

/// Writes `tensors` (in the given order) to `path` and fsyncs it. Names
/// must be unique and not "__metadata__".
Status writeSafetensors(const std::string &path,
                        const std::vector<TensorView> &tensors,
                        const std::map<std::string, std::string> &metadata);

/// A safetensors file read into memory and validated: header length
/// within the file, well-formed JSON, known dtypes, offsets that match the
/// shapes, lie inside the data section and cover it without overlap.
class SafetensorsFile {
public:
  static Expected<SafetensorsFile> read(const std::string &path);
  /// The same checks on bytes already in memory (`path` names them).
  static Expected<SafetensorsFile> parse(std::vector<uint8_t> bytes,
                                         const std::string &path);

  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    size_t begin, end; // byte offsets into the data section
  };

  const std::map<std::string, Entry> &entries() const { return entries_; }
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }
  /// The bytes of tensor `name`, or nullptr.
  const uint8_t *data(const std::string &name) const;
  const std::string &path() const { return path_; }

private:
  std::string path_;
  std::vector<uint8_t> bytes_;
  size_t dataStart_ = 0;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_SAFETENSORS_H
