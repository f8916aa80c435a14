//===- checkpoint.h - crash-safe training checkpoints -----------*- C++ -*-===//
//
// A checkpoint is a directory `step-<N>` under a root: model.safetensors
// (parameters, Hugging Face names), optimizer.safetensors (AdamW moments),
// state.json (step, RNG, data cursor) and, when the model has one, its
// Hugging Face config.json. It is written under a temporary
// name, fsynced and renamed; then the `latest` file is replaced the same
// way. A process killed at any point leaves `latest` naming a complete
// checkpoint.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_CHECKPOINT_H
#define DSV3_RUNTIME_CHECKPOINT_H

#include "safetensors.h"

#include <string>
#include <vector>

namespace dsv3::runtime {

struct CheckpointState {
  std::string model;
  int64_t step = 0;
  /// The trainer's RNG state (its seed, in decimal; anything else is
  /// refused on load) and data cursor, restored as they are.
  std::string rng;
  int64_t dataCursor = 0;
  /// The model's Hugging Face config.json, written beside model.safetensors
  /// so that the directory loads with transformers (empty: none).
  std::string hfConfig;
};

struct LoadedCheckpoint {
  std::string dir;
  CheckpointState state;
  SafetensorsFile params;
  SafetensorsFile optimizer;
};

/// The directory name of the checkpoint after `step` steps
/// ("step-00000300").
std::string checkpointDirName(int64_t step);

class CheckpointStore {
public:
  /// `keep`: how many complete checkpoints to keep (at least 1).
  explicit CheckpointStore(std::string root, int keep = 2);

  Status save(const CheckpointState &state,
              const std::vector<TensorView> &params,
              const std::vector<TensorView> &optimizer);

  /// The checkpoint `latest` names, validated.
  Expected<LoadedCheckpoint> loadLatest() const;
  /// The checkpoint in `dir` (a `step-<N>` directory), validated.
  static Expected<LoadedCheckpoint> load(const std::string &dir);

  const std::string &root() const { return root_; }

private:
  std::string root_;
  int keep_;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_CHECKPOINT_H
