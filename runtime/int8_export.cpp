//===- int8_export.cpp - int8 weights of a quantization-aware model -------===//

#include "int8_export.h"

#include "executable.h"
#include "file_util.h"
#include "safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <set>
#include <sys/stat.h>

namespace dsv3::runtime {

int countInt8Weights(const Executable &exe) {
  int n = 0;
  for (const Buffer &b : exe.buffers())
    n += b.quantized() == "int8";
  return n;
}

Status checkExportDirectory(const std::string &dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return Status::error(dir + ": " + std::strerror(errno));
    // Created now, so that a run cannot end with nowhere to write.
    if (::mkdir(dir.c_str(), 0755) != 0)
      return Status::error(dir + ": cannot create directory: " +
                           std::strerror(errno));
    return Status::ok();
  }
  if (!S_ISDIR(st.st_mode))
    return Status::error(dir + ": exists and is not a directory; "
                         "--export-int8 writes a new directory");
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return Status::error(dir + ": " + std::strerror(errno));
  bool empty = true;
  while (dirent *e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
      empty = false;
  ::closedir(d);
  if (!empty)
    return Status::error(dir + ": is not empty; --export-int8 replaces "
                         "nothing (give a new directory)");
  return Status::ok();
}

Status exportInt8(const Trainer &trainer, const std::string &dir,
                  int64_t step) {
  const Executable &exe = trainer.executable();
  std::set<std::string> quantized;
  for (const Buffer &b : exe.buffers())
    if (b.role() == PARAM && b.quantized() == "int8")
      forEachStoredTensor(b, [&](const std::string &name,
                                 const std::vector<int64_t> &, int64_t) {
        quantized.insert(name);
      });
  if (quantized.empty())
    return Status::error("--export-int8: the model has no int8-quantized "
                         "weights (compile it with --qat=int8)");
  if (Status s = checkExportDirectory(dir); !s)
    return s;
  auto params = trainer.state(PARAM);
  if (!params)
    return params.status();

  // Per row of the last dimension, exactly as the step's fake quantization
  // computes it in f32: s = amax / 127 (1 when all zero),
  // q = clamp(roundeven(w / s), -127, 127).
  std::vector<std::vector<int8_t>> values;
  std::vector<std::vector<float>> scales;
  std::vector<TensorView> out;
  std::vector<std::vector<int64_t>> scaleShapes;
  nlohmann::json tensors = nlohmann::json::array();
  values.reserve(params->size());
  scales.reserve(params->size());
  scaleShapes.reserve(params->size());
  for (const TensorView &v : *params) {
    if (!quantized.count(v.name)) {
      out.push_back(v);
      continue;
    }
    int64_t cols = v.shape.back(), n = numElements(v.shape);
    int64_t rows = cols ? n / cols : 0;
    const float *w = static_cast<const float *>(v.data);
    std::vector<int8_t> &q = values.emplace_back(n);
    std::vector<float> &s = scales.emplace_back(rows);
    for (int64_t r = 0; r < rows; ++r) {
      float amax = 0;
      for (int64_t c = 0; c < cols; ++c)
        amax = std::max(amax, std::fabs(w[r * cols + c]));
      float scale = amax > 0 ? amax / 127.0f : 1.0f;
      s[r] = scale;
      for (int64_t c = 0; c < cols; ++c) {
        float x = std::nearbyint(w[r * cols + c] / scale);
        q[r * cols + c] =
            static_cast<int8_t>(std::max(-127.0f, std::min(127.0f, x)));
      }
    }
    out.push_back({v.name, DType::I8, v.shape, q.data()});
    std::vector<int64_t> &shape = scaleShapes.emplace_back(
        v.shape.begin(), v.shape.end() - 1);
    out.push_back({v.name + "_scale", DType::F32, shape, s.data()});
    tensors.push_back(v.name);
  }

  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::error(dir + ": cannot create directory: " +
                         std::strerror(errno));
  nlohmann::json note = {
      {"format", "dsv3-int8"},
      {"step", step},
      {"bits", 8},
      {"scheme", "symmetric, one f32 scale per output channel (per row of "
                 "the last dimension)"},
      {"dequantize", "weight[..., r, :] = int8[..., r, :] * scale[..., r]"},
      {"scale_suffix", "_scale"},
      {"quantized", tensors},
      {"unquantized", "every other tensor, as trained (f32)"}};
  if (Status s = writeSafetensors(dir + "/model.safetensors", out,
                                  {{"format", "pt"}});
      !s)
    return s;
  if (Status s = writeFileSynced(dir + "/quantization.json",
                                 note.dump(2) + "\n");
      !s)
    return s;
  if (!exe.hf_config().empty())
    if (Status s = writeFileSynced(dir + "/config.json", exe.hf_config()); !s)
      return s;
  return syncDirectory(dir);
}

} // namespace dsv3::runtime
