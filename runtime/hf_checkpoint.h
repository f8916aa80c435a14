//===- hf_checkpoint.h - Hugging Face checkpoint directories ----*- C++ -*-===//
//
// A Hugging Face model directory holds its weights as model.safetensors, or
// as shards named by model.safetensors.index.json ({"weight_map": {tensor:
// file}}). This reads either and converts a tensor to the element type a
// buffer wants: f64, f32, bf16 and f16 by value, each rounded once to
// the nearest value of the buffer's type (a value that overflows it, or
// is not finite, is an error), and
// DeepSeek's fp8 weights (F8_E4M3 with a `weight_scale_inv` of one f32 per
// 128 x 128 block) dequantized.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_HF_CHECKPOINT_H
#define DSV3_RUNTIME_HF_CHECKPOINT_H

#include "executable.h"
#include "safetensors.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace dsv3::runtime {

class HuggingFaceCheckpoint {
public:
  /// Opens `dir`: reads every file the index names (or model.safetensors)
  /// and checks that no tensor is in two of them.
  static Expected<HuggingFaceCheckpoint> open(const std::string &dir);

  const std::string &dir() const { return dir_; }

  /// Converts tensor `name` of shape `shape` into `count` elements of
  /// `type` at `dst`; an error names the tensor and its file when it is
  /// missing, has another shape, or has a type that cannot be converted.
  Status read(const std::string &name, const std::vector<int64_t> &shape,
              ElementType type, void *dst);

  bool has(const std::string &name) const;
  /// The file holding tensor `name` (the directory if none does).
  std::string fileOf(const std::string &name) const;

  /// Tensors never read (the scales of fp8 tensors that were read, and
  /// rotary tables, do not count), sorted.
  std::vector<std::string> unread() const;

private:
  struct Tensor {
    const SafetensorsFile *file;
    const SafetensorsFile::Entry *entry;
  };
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Tensor> tensors_;
  std::set<std::string> read_;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_HF_CHECKPOINT_H
