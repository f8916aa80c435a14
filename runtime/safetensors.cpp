//===- safetensors.cpp - the safetensors checkpoint format ----------------===//

#include "safetensors.h"

#include "file_util.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

namespace dsv3::runtime {

namespace {

struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t bytes;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},          {DType::F32, "F32", 4},
    {DType::BF16, "BF16", 2},        {DType::F16, "F16", 2},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I64, "I64", 8},          {DType::I32, "I32", 4},
    {DType::I8, "I8", 1},            {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

} // namespace

const char *dtypeName(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info.name;
  return "?";
}

std::optional<DType> parseDType(const std::string &name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

size_t dtypeBytes(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info.bytes;
  return 0;
}

int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Status writeSafetensors(const std::string &path,
                        const std::vector<TensorView> &tensors,
                        const std::map<std::string, std::string> &metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  size_t offset = 0;
  std::set<std::string> names;
  for (const TensorView &t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      return Status::error(path + ": duplicate or reserved tensor name '" +
                           t.name + "'");
    size_t bytes = numElements(t.shape) * dtypeBytes(t.dtype);
    header[t.name] = {{"dtype", dtypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  // Pad the header with spaces so the data section is 8-byte aligned.
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  uint64_t length = json.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  out += json;
  for (const TensorView &t : tensors)
    out.append(static_cast<const char *>(t.data),
               numElements(t.shape) * dtypeBytes(t.dtype));
  return writeFileSynced(path, out);
}

Expected<SafetensorsFile> SafetensorsFile::read(const std::string &path) {
  std::vector<uint8_t> bytes;
  if (Status status = readFile(path, bytes); !status)
    return status;
  return parse(std::move(bytes), path);
}

Expected<SafetensorsFile> SafetensorsFile::parse(std::vector<uint8_t> bytes,
                                                 const std::string &path) {
  SafetensorsFile file;
  file.path_ = path;
  file.bytes_ = std::move(bytes);
  const std::vector<uint8_t> &b = file.bytes_;
  auto fail = [&](size_t offset, const std::string &what) {
    return Status::error(path + ": at byte " + std::to_string(offset) + ": " +
                         what);
  };
  if (b.size() < 8)
    return fail(0, "file of " + std::to_string(b.size()) +
                       " bytes is too short for a safetensors header");
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = (length << 8) | b[i];
  if (length > b.size() - 8)
    return fail(0, "header length " + std::to_string(length) +
                       " runs past the end of the file (" +
                       std::to_string(b.size()) + " bytes): truncated?");
  file.dataStart_ = 8 + length;
  auto header = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + length,
                                      nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return fail(8, "header is not a JSON object");

  size_t dataSize = b.size() - file.dataStart_;
  std::vector<std::pair<size_t, size_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    const nlohmann::json &v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        return fail(8, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          return fail(8, "__metadata__." + m.key() + " is not a string");
        file.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    std::string where = "tensor '" + name + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      return fail(8, where + "needs dtype, shape and data_offsets");
    if (!v["dtype"].is_string())
      return fail(8, where + "dtype is not a string");
    auto dtype = parseDType(v["dtype"].get<std::string>());
    if (!dtype)
      return fail(8, where + "unknown dtype " + v["dtype"].get<std::string>());
    Entry entry;
    entry.dtype = *dtype;
    if (!v["shape"].is_array())
      return fail(8, where + "shape is not an array");
    for (const auto &d : v["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        return fail(8, where + "shape has a negative or non-integer size");
      entry.shape.push_back(d.get<int64_t>());
    }
    const auto &offsets = v["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 ||
        !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return fail(8, where + "data_offsets must be two non-negative integers");
    entry.begin = offsets[0].get<size_t>();
    entry.end = offsets[1].get<size_t>();
    uint64_t count = 1, expected = 0;
    bool overflow = false;
    for (int64_t d : entry.shape)
      overflow |= __builtin_mul_overflow(count, static_cast<uint64_t>(d),
                                         &count);
    overflow |= __builtin_mul_overflow(count, dtypeBytes(entry.dtype),
                                       &expected);
    if (overflow || expected > dataSize)
      return fail(8, where + "shape needs more bytes than the file's data "
                             "section holds");
    if (entry.end < entry.begin || entry.end - entry.begin != expected)
      return fail(8, where + "data_offsets [" + std::to_string(entry.begin) +
                         ", " + std::to_string(entry.end) + ") hold " +
                         std::to_string(entry.end - entry.begin) +
                         " bytes, the shape needs " + std::to_string(expected));
    if (entry.end > dataSize)
      return fail(file.dataStart_ + entry.begin,
                  where + "data ends at byte " +
                      std::to_string(file.dataStart_ + entry.end) +
                      ", past the end of the file: truncated?");
    ranges.push_back({entry.begin, entry.end});
    file.entries_[name] = std::move(entry);
  }
  std::sort(ranges.begin(), ranges.end());
  size_t covered = 0;
  for (auto [begin, end] : ranges) {
    if (begin != covered)
      return fail(file.dataStart_ + std::min(begin, covered),
                  begin < covered ? "tensor data overlaps"
                                  : "gap in the tensor data");
    covered = end;
  }
  if (covered != dataSize)
    return fail(file.dataStart_ + covered,
                std::to_string(dataSize - covered) +
                    " bytes after the last tensor");
  return file;
}

const uint8_t *SafetensorsFile::data(const std::string &name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    return nullptr;
  return bytes_.data() + dataStart_ + it->second.begin;
}

} // namespace dsv3::runtime
