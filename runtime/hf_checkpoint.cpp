//===- hf_checkpoint.cpp - Hugging Face checkpoint directories ------------===//

#include "hf_checkpoint.h"

#include "element_type.h"
#include "file_util.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sys/stat.h>

namespace dsv3::runtime {

namespace {

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

/// An OCP fp8 E4M3 value (no infinities; S.1111.111 is NaN).
double fromE4M3(uint8_t v) {
  int sign = v >> 7, exponent = (v >> 3) & 15, mantissa = v & 7;
  if (exponent == 15 && mantissa == 7)
    return NAN;
  double m = exponent ? 1.0 + mantissa / 8.0 : mantissa / 8.0;
  double x = std::ldexp(m, exponent ? exponent - 7 : -6);
  return sign ? -x : x;
}

/// An fp8 E5M2 value (IEEE-like: infinities and NaNs).
double fromE5M2(uint8_t v) {
  int sign = v >> 7, exponent = (v >> 2) & 31, mantissa = v & 3;
  double x;
  if (exponent == 31)
    x = mantissa ? NAN : INFINITY;
  else
    x = std::ldexp(exponent ? 1.0 + mantissa / 4.0 : mantissa / 4.0,
                   exponent ? exponent - 15 : -14);
  return sign ? -x : x;
}

/// Element `i` of a tensor stored as `dtype`, or nullopt for a type that
/// is not a number this converts.
std::optional<double> element(DType dtype, const uint8_t *data, int64_t i) {
  switch (dtype) {
  case DType::F64: {
    double v;
    std::memcpy(&v, data + 8 * i, 8);
    return v;
  }
  case DType::F32: {
    float v;
    std::memcpy(&v, data + 4 * i, 4);
    return v;
  }
  case DType::BF16: {
    uint16_t v;
    std::memcpy(&v, data + 2 * i, 2);
    return bf16ToFloat(v);
  }
  case DType::F16: {
    uint16_t v;
    std::memcpy(&v, data + 2 * i, 2);
    return halfToFloat(v);
  }
  case DType::F8_E4M3:
    return fromE4M3(data[i]);
  case DType::F8_E5M2:
    return fromE5M2(data[i]);
  default:
    return std::nullopt;
  }
}

} // namespace

Expected<HuggingFaceCheckpoint>
HuggingFaceCheckpoint::open(const std::string &dir) {
  HuggingFaceCheckpoint ckpt;
  ckpt.dir_ = dir;
  std::vector<std::string> names;
  std::string index = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> weightMap;
  if (exists(index)) {
    std::vector<uint8_t> bytes;
    if (Status s = readFile(index, bytes); !s)
      return s;
    auto json = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr,
                                      /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object() ||
        !json.contains("weight_map") || !json["weight_map"].is_object())
      return Status::error(index + ": expected a JSON object with a "
                                   "\"weight_map\" object");
    if (json["weight_map"].empty())
      return Status::error(index + ": the weight_map is empty");
    for (auto it = json["weight_map"].begin(); it != json["weight_map"].end();
         ++it) {
      static const std::string kSuffix = ".safetensors";
      std::string file = it->is_string() ? it->get<std::string>() : "";
      if (file.size() <= kSuffix.size() ||
          file.compare(file.size() - kSuffix.size(), kSuffix.size(),
                       kSuffix) != 0 ||
          file.find('/') != std::string::npos)
        return Status::error(index + ": weight_map[\"" + it.key() +
                             "\"] is not a .safetensors file name in the "
                             "directory");
      weightMap[it.key()] = it->get<std::string>();
      names.push_back(it->get<std::string>());
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
  } else if (exists(dir + "/model.safetensors")) {
    names.push_back("model.safetensors");
  } else {
    return Status::error(dir + ": no model.safetensors or "
                               "model.safetensors.index.json (not a Hugging "
                               "Face model directory?)");
  }
  for (const std::string &name : names) {
    auto file = SafetensorsFile::read(dir + "/" + name);
    if (!file)
      return file.status();
    ckpt.files_.push_back(std::make_unique<SafetensorsFile>(std::move(*file)));
    const SafetensorsFile *f = ckpt.files_.back().get();
    for (const auto &[tensor, entry] : f->entries()) {
      auto mapped = weightMap.find(tensor);
      if (!weightMap.empty() &&
          (mapped == weightMap.end() || mapped->second != name))
        return Status::error(f->path() + ": holds " + tensor +
                             ", which " + index + " places " +
                             (mapped == weightMap.end()
                                  ? std::string("nowhere")
                                  : "in " + mapped->second));
      if (!ckpt.tensors_.emplace(tensor, Tensor{f, &entry}).second)
        return Status::error(f->path() + ": " + tensor +
                             " is in another shard as well");
    }
  }
  for (const auto &[tensor, file] : weightMap)
    if (!ckpt.tensors_.count(tensor))
      return Status::error(dir + "/" + file + ": has no tensor " + tensor +
                           ", which " + index + " places there");
  return ckpt;
}

Status HuggingFaceCheckpoint::read(const std::string &name,
                                   const std::vector<int64_t> &shape,
                                   ElementType type, void *dst) {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    return Status::error(dir_ + ": no tensor " + name +
                         " (the model was compiled with another shape or "
                         "depth than this checkpoint's?)");
  const SafetensorsFile &file = *it->second.file;
  const SafetensorsFile::Entry &e = *it->second.entry;
  std::string where = file.path() + ": " + name;
  if (e.shape != shape)
    return Status::error(where + " is " + shapeString(e.shape) +
                         ", the executable has " + shapeString(shape));
  if (!isFloatType(type))
    return Status::error(where + ": the executable holds it as " +
                         elementTypeName(type) + ", not a float type");
  const uint8_t *data = file.data(name);
  int64_t n = numElements(shape);

  // DeepSeek's fp8 weights: one f32 inverse scale per 128 x 128 block.
  // Bytes, not floats: a tensor's data need not be 4-byte aligned.
  const uint8_t *scale = nullptr;
  int64_t scaleCols = 0, cols = shape.empty() ? 1 : shape.back();
  bool fp8 = e.dtype == DType::F8_E4M3 || e.dtype == DType::F8_E5M2;
  std::string scaleName;
  if (fp8) {
    size_t dot = name.rfind(".weight");
    if (dot != std::string::npos && dot + 7 == name.size())
      scaleName = name + "_scale_inv";
    auto s = tensors_.find(scaleName);
    if (scaleName.empty() || s == tensors_.end())
      return Status::error(where + " is " + dtypeName(e.dtype) +
                           " without a " +
                           (scaleName.empty() ? name + "_scale_inv"
                                              : scaleName) +
                           " to dequantize it by");
    if (shape.size() != 2)
      return Status::error(where + ": fp8 with block scales needs a 2-d "
                                   "weight, it is " + shapeString(shape));
    const SafetensorsFile::Entry &se = *s->second.entry;
    std::vector<int64_t> blocks = {(shape[0] + 127) / 128,
                                   (shape[1] + 127) / 128};
    if (se.dtype != DType::F32 || se.shape != blocks)
      return Status::error(s->second.file->path() + ": " + scaleName +
                           " is " + dtypeName(se.dtype) + " " +
                           shapeString(se.shape) + ", expected F32 " +
                           shapeString(blocks) +
                           " (one scale per 128 x 128 block)");
    scale = s->second.file->data(scaleName);
    scaleCols = blocks[1];
  }
  for (int64_t i = 0; i < n; ++i) {
    std::optional<double> v = element(e.dtype, data, i);
    if (!v)
      return Status::error(where + " is " + dtypeName(e.dtype) +
                           ", not a float type this reads (F64, F32, BF16, "
                           "F16, F8_E4M3, F8_E5M2)");
    double x = *v;
    if (scale) {
      float s;
      std::memcpy(&s,
                  scale + 4 * ((i / cols / 128) * scaleCols + (i % cols) / 128),
                  4);
      x *= s;
    }
    if (!std::isfinite(x))
      return Status::error(where + ": element " + std::to_string(i) + " is " +
                           std::to_string(x) + " (a weight must be finite)");
    storeElement(type, dst, i, x);
    if (!std::isfinite(loadElement(type, dst, i)))
      return Status::error(where + ": element " + std::to_string(i) + " (" +
                           std::to_string(x) + ") overflows " +
                           elementTypeName(type));
  }
  read_.insert(name);
  if (!scaleName.empty())
    read_.insert(scaleName);
  return Status::ok();
}

bool HuggingFaceCheckpoint::has(const std::string &name) const {
  return tensors_.count(name) != 0;
}

std::string HuggingFaceCheckpoint::fileOf(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? dir_ : it->second.file->path();
}

std::vector<std::string> HuggingFaceCheckpoint::unread() const {
  std::vector<std::string> names;
  for (const auto &[name, tensor] : tensors_) {
    static const std::string kRotary = "rotary_emb.inv_freq";
    bool rotary = name.size() >= kRotary.size() &&
                  name.compare(name.size() - kRotary.size(), kRotary.size(),
                               kRotary) == 0;
    if (!read_.count(name) && !rotary)
      names.push_back(name);
  }
  return names;
}

} // namespace dsv3::runtime
