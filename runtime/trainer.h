//===- trainer.h - the state and step of one training run -------*- C++ -*-===//
//
// Owns an executable's backend and everything a step reads: it initializes
// parameters from their init specs (deterministic in the seed), fills the
// batch and step buffers, runs the command list, and exposes the loss,
// metrics and the persistent state as safetensors views, with stacked
// experts unstacked under their Hugging Face names.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_TRAINER_H
#define DSV3_RUNTIME_TRAINER_H

#include "backend.h"
#include "data.h"
#include "hf_checkpoint.h"
#include "metrics.h"
#include "safetensors.h"

#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dsv3::runtime {

class Trainer {
public:
  /// The backend as `options` ask (see createBackend).
  static Expected<std::unique_ptr<Trainer>>
  create(Executable exe, const BackendOptions &options = {});

  const Backend &backend() const { return *backend_; }

  const Executable &executable() const { return exe_; }

  /// Parameters from their init specs (normal, ones, zeros), moments zero.
  /// Every tensor draws from its own stream, a function of the seed and its
  /// name, so the values do not depend on the order of the buffers.
  Status initialize(uint64_t seed);

  /// Parameters from a Hugging Face checkpoint (every tensor by its name
  /// and shape, converted to the buffer's type; none left over), moments
  /// as `initialize` sets them. On an error nothing is changed.
  Status initializeFrom(HuggingFaceCheckpoint &ckpt, uint64_t seed);

  /// Copies a packed batch in; fails on a shape mismatch or a token outside
  /// the vocabulary.
  Status setBatch(const Batch &batch);

  /// Runs step number `step` (0-based). With a trace, records one event per
  /// command (microseconds since `origin`). An error names the step and the
  /// command that failed (on a GPU, with synchronizeEachCommand only: work
  /// is asynchronous otherwise).
  Status step(int64_t step, TraceWriter *trace = nullptr,
              std::chrono::steady_clock::time_point origin = {});

  /// Waits for every command to finish and checks it before the next (a
  /// debugging mode: slower on a GPU, but an error names its command).
  void synchronizeEachCommand(bool on) { syncEachCommand_ = on; }

  /// Times every command of the steps run while on (on a GPU each command
  /// is then waited for), summed per command over `profiledSteps`.
  void profile(bool on) { profile_ = on; }
  const std::vector<double> &commandSeconds() const { return commandSeconds_; }
  int64_t profiledSteps() const { return profiledSteps_; }

  /// The bytes of buffer `id` on the CPU backend (buffer i is argument i
  /// of the step for every argument); nullptr on a GPU.
  void *bufferData(int id) { return backend_->hostAddress(id); }

  Expected<float> loss() const;
  /// Scalar metrics of the last step (grad_norm, lr, ...) and, when the
  /// model has experts, expert_load_min/max: the least and most loaded
  /// expert's share of tokens relative to an even split, over all layers.
  Expected<std::vector<std::pair<std::string, double>>> metrics() const;

  /// Views of the parameters (`PARAM`) or optimizer state (`OPT_STATE`),
  /// valid until the next call.
  Expected<std::vector<TensorView>> state(Role role) const;

  /// Keeps a copy of the parameters and optimizer state, and puts it back:
  /// a step whose loss or gradients are not finite is undone this way.
  Status snapshotState();
  Status restoreSnapshot();

  /// Loads parameters and optimizer state from checkpoint files; checks
  /// that every tensor is there with its dtype and shape.
  Status restore(const SafetensorsFile &params,
                 const SafetensorsFile &optimizer);

private:
  Trainer(Executable exe) : exe_(std::move(exe)) {}

  Status initialize(uint64_t seed, std::initializer_list<Role> roles);

  /// A host copy of buffer `id`, fresh from the backend.
  Expected<const std::vector<uint8_t> *> fetch(int id) const;

  Executable exe_;
  std::unique_ptr<Backend> backend_;
  bool syncEachCommand_ = false;
  bool profile_ = false;
  std::vector<double> commandSeconds_;
  int64_t profiledSteps_ = 0;
  std::map<int, std::vector<uint8_t>> snapshot_;
  /// Host copies of downloaded buffers (state views point into them).
  mutable std::map<int, std::vector<uint8_t>> host_;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_TRAINER_H
