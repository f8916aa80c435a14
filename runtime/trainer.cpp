//===- trainer.cpp - the state and step of one training run ---------------===//

#include "trainer.h"

#include "executable.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace dsv3::runtime {

namespace {

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Uniform in (0, 1).
double uniform(uint64_t &state) {
  return (static_cast<double>(splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
}

std::optional<DType> safetensorsType(ElementType type) {
  switch (type) {
  case TYPE_F32:
    return DType::F32;
  case TYPE_BF16:
    return DType::BF16;
  case TYPE_F16:
    return DType::F16;
  case TYPE_I32:
    return DType::I32;
  case TYPE_I64:
    return DType::I64;
  case TYPE_I8:
    return DType::I8;
  case TYPE_F64:
    return DType::F64;
  default:
    return std::nullopt;
  }
}

} // namespace

Expected<std::unique_ptr<Trainer>>
Trainer::create(Executable exe, const BackendOptions &options) {
  std::unique_ptr<Trainer> trainer(new Trainer(std::move(exe)));
  auto backend = createBackend(trainer->exe_, options);
  if (!backend)
    return backend.status();
  trainer->backend_ = std::move(*backend);
  return trainer;
}

Expected<const std::vector<uint8_t> *> Trainer::fetch(int id) const {
  std::vector<uint8_t> &copy = host_[id];
  copy.resize(exe_.buffers(id).bytes());
  if (Status s = backend_->download(id, copy.data()); !s)
    return s;
  return &copy;
}

Status Trainer::initialize(uint64_t seed) {
  return initialize(seed, {PARAM, OPT_STATE});
}

Status Trainer::initialize(uint64_t seed, std::initializer_list<Role> roles) {
  std::vector<uint8_t> bytes;
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    const Buffer &b = exe_.buffers(id);
    if (std::find(roles.begin(), roles.end(), b.role()) == roles.end())
      continue;
    // Integer state (a sparsity mask) starts as all zeros or all ones.
    if (!isFloatType(b.dtype()) &&
        (b.role() != OPT_STATE || b.init().kind() == "normal"))
      return Status::error("cannot initialize " + b.name() + ": it is " +
                           elementTypeName(b.dtype()) +
                           ", and parameters are floats (integer optimizer "
                           "state starts as zeros or ones)");
    int64_t n = b.bytes() / static_cast<int64_t>(elementBytes(b.dtype()));
    // Zero bits are zero in every float type.
    bytes.assign(b.bytes(), 0);
    void *data = bytes.data();
    const std::string &kind = b.init().kind();
    if (kind == "ones" && !isFloatType(b.dtype())) {
      // An integer 1 in the element's width, little-endian.
      size_t width = elementBytes(b.dtype());
      for (int64_t i = 0; i < n; ++i)
        bytes[i * width] = 1;
    } else if (kind == "ones" || kind == "constant") {
      double value = kind == "ones" ? 1.0 : b.init().value();
      for (int64_t i = 0; i < n; ++i)
        storeElement(b.dtype(), data, i, value);
    } else if (kind == "normal") {
      uint64_t state = seed;
      for (char ch : b.name())
        state = state * 1099511628211ull + static_cast<uint8_t>(ch);
      for (int64_t i = 0; i < n; i += 2) {
        // Box-Muller: two normal samples per pair of uniforms, each
        // rounded to f32 and then to the buffer's type.
        double r = std::sqrt(-2.0 * std::log(uniform(state)));
        double t = 2.0 * M_PI * uniform(state);
        storeElement(b.dtype(), data, i,
                     static_cast<float>(b.init().std() * r * std::cos(t)));
        if (i + 1 < n)
          storeElement(b.dtype(), data, i + 1,
                       static_cast<float>(b.init().std() * r * std::sin(t)));
      }
    } else if (kind != "zeros" && !kind.empty()) {
      return Status::error("cannot initialize " + b.name() +
                           ": unknown initializer '" + kind + "'");
    }
    if (Status s = backend_->upload(id, data); !s)
      return s;
  }
  return Status::ok();
}

Status Trainer::initializeFrom(HuggingFaceCheckpoint &ckpt, uint64_t seed) {
  // Converted into buffers of its own first: a checkpoint that fails any
  // check changes nothing, not even the host copies state() hands out.
  std::map<int, std::vector<uint8_t>> converted;
  std::map<std::string, int> byName;
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    const Buffer &b = exe_.buffers(id);
    if (b.role() != PARAM)
      continue;
    byName[b.name()] = id;
    std::vector<uint8_t> &copy = converted[id];
    copy.assign(b.bytes(), 0);
    Status status;
    forEachStoredTensor(b, [&](const std::string &name,
                               const std::vector<int64_t> &shape,
                               int64_t offset) {
      if (status)
        status = ckpt.read(name, shape, b.dtype(), copy.data() + offset);
    });
    if (!status)
      return status;
  }
  // DeepSeek's checkpoints give each MTP module copies of the embedding
  // and the output head, which dsv3 shares with the model: they must be
  // the same tensors.
  const std::string kProj = ".eh_proj.weight";
  for (const auto &[name, id] : byName) {
    if (name.size() <= kProj.size() ||
        name.compare(name.size() - kProj.size(), kProj.size(), kProj) != 0)
      continue;
    std::string prefix = name.substr(0, name.size() - kProj.size() + 1);
    auto head = byName.count("lm_head.weight") ? "lm_head.weight"
                                               : "model.embed_tokens.weight";
    for (auto [copyName, mainName] :
         {std::pair<std::string, std::string>{prefix + "embed_tokens.weight",
                                              "model.embed_tokens.weight"},
          {prefix + "shared_head.head.weight", head}}) {
      auto main = byName.find(mainName);
      if (!ckpt.has(copyName) || main == byName.end())
        continue;
      const Buffer &b = exe_.buffers(main->second);
      std::vector<uint8_t> copy(b.bytes());
      std::vector<int64_t> shape(b.shape().begin(), b.shape().end());
      if (Status s = ckpt.read(copyName, shape, b.dtype(), copy.data()); !s)
        return s;
      if (copy != converted[main->second])
        return Status::error(ckpt.fileOf(copyName) + ": " + copyName +
                             " differs from " + mainName +
                             ", which the MTP module shares in this model");
    }
  }
  std::vector<std::string> unread = ckpt.unread();
  if (!unread.empty())
    return Status::error(
        ckpt.fileOf(unread.front()) + ": holds " + unread.front() +
        (unread.size() > 1
             ? " and " + std::to_string(unread.size() - 1) + " more tensor(s)"
             : std::string()) +
        " the model does not have (a checkpoint of another model, or one "
        "with MTP modules the model was compiled without: see dsv3-compile "
        "--mtp-depth)");
  for (auto &[id, bytes] : converted)
    if (Status s = backend_->upload(id, bytes.data()); !s)
      return s;
  if (Status s = initialize(seed, {OPT_STATE}); !s)
    return s;
  for (auto &[id, bytes] : converted)
    host_[id] = std::move(bytes);
  return Status::ok();
}

Status Trainer::snapshotState() {
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    Role role = exe_.buffers(id).role();
    if (role != PARAM && role != OPT_STATE)
      continue;
    std::vector<uint8_t> &copy = snapshot_[id];
    copy.resize(exe_.buffers(id).bytes());
    if (Status s = backend_->download(id, copy.data()); !s)
      return s;
  }
  return Status::ok();
}

Status Trainer::restoreSnapshot() {
  for (auto &[id, bytes] : snapshot_)
    if (Status s = backend_->upload(id, bytes.data()); !s)
      return s;
  host_.clear();
  return Status::ok();
}

Status Trainer::setBatch(const Batch &batch) {
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    const Buffer &b = exe_.buffers(id);
    if (b.role() != BATCH)
      continue;
    const std::vector<int32_t> *field =
        b.batch_field() == "tokens"        ? &batch.tokens
        : b.batch_field() == "targets"     ? &batch.targets
        : b.batch_field() == "positions"   ? &batch.positions
        : b.batch_field() == "segment_ids" ? &batch.segmentIds
                                           : nullptr;
    if (!field)
      return Status::error("the executable has a batch input '" +
                           b.batch_field() + "' the data loader does not make");
    if (b.dtype() != TYPE_I32 ||
        static_cast<int64_t>(field->size()) * 4 != b.bytes())
      return Status::error("batch input '" + b.batch_field() + "' holds " +
                           std::to_string(b.bytes() / 4) + " tokens, the batch has " +
                           std::to_string(field->size()));
    if (b.batch_field() == "tokens" || b.batch_field() == "targets") {
      for (size_t i = 0; i < field->size(); ++i) {
        int32_t t = (*field)[i];
        bool ignored = b.batch_field() == "targets" && t == -100;
        if (!ignored && (t < 0 || t >= exe_.vocab_size()))
          return Status::error("token id " + std::to_string(t) + " at " +
                               b.batch_field() + "[" + std::to_string(i) +
                               "] is outside the vocabulary [0, " +
                               std::to_string(exe_.vocab_size()) + ")");
      }
    }
    if (Status s = backend_->upload(id, field->data()); !s)
      return s;
  }
  return Status::ok();
}

Status Trainer::step(int64_t step, TraceWriter *trace,
                     std::chrono::steady_clock::time_point origin) {
  for (int id = 0; id < exe_.buffers_size(); ++id)
    if (exe_.buffers(id).role() == STEP)
      if (Status s = backend_->upload(id, &step); !s)
        return s;
  using Clock = std::chrono::steady_clock;
  auto failed = [&](int i, const Status &s) {
    return Status::error("step " + std::to_string(step + 1) + ", command " +
                         std::to_string(i) + " (" +
                         commandName(exe_, exe_.commands(i)) +
                         "): " + s.message());
  };
  bool timed = trace || profile_;
  if (profile_)
    commandSeconds_.resize(exe_.commands_size(), 0.0);
  for (int i = 0; i < exe_.commands_size(); ++i) {
    Clock::time_point start = timed ? Clock::now() : Clock::time_point();
    if (Status s = backend_->run(i); !s)
      return failed(i, s);
    if (!timed && !syncEachCommand_)
      continue;
    // Timing a command on a GPU needs it finished; so does knowing which
    // command failed.
    if (Status s = backend_->synchronize(); !s)
      return syncEachCommand_
                 ? failed(i, s)
                 : Status::error("step " + std::to_string(step + 1) +
                                 ", after command " + std::to_string(i) +
                                 ": " + s.message() +
                                 " (--sync-each-command names the command "
                                 "that failed)");
    if (!timed)
      continue;
    Clock::time_point end = Clock::now();
    if (profile_)
      commandSeconds_[i] += std::chrono::duration<double>(end - start).count();
    if (!trace)
      continue;
    const Command &c = exe_.commands(i);
    std::string name, category;
    // A kernel's bytes: each distinct buffer it is given, once (what it
    // can at most move).
    int64_t bytes = 0;
    std::vector<int> seen;
    auto count = [&](int id) {
      if (std::find(seen.begin(), seen.end(), id) != seen.end())
        return;
      seen.push_back(id);
      bytes += exe_.buffers(id).bytes();
    };
    name = commandName(exe_, c);
    category = commandCategory(c);
    if (c.kind_case() == Command::kLaunch) {
      for (int id : c.launch().inputs())
        count(id);
      for (int id : c.launch().outputs())
        count(id);
    } else if (c.kind_case() == Command::kGpuLaunch) {
      for (const GpuArg &a : c.gpu_launch().args())
        if (a.value_case() == GpuArg::kBuffer)
          count(a.buffer());
    }
    auto us = [&](Clock::time_point t) {
      return std::chrono::duration<double, std::micro>(t - origin).count();
    };
    trace->complete(name, category, us(start), us(end) - us(start), 0, bytes);
  }
  if (Status s = backend_->synchronize(); !s)
    return Status::error("step " + std::to_string(step + 1) + ": " +
                         s.message() +
                         " (--sync-each-command names the command that "
                         "failed)");
  if (profile_)
    ++profiledSteps_;
  return Status::ok();
}

Expected<float> Trainer::loss() const {
  for (int id = 0; id < exe_.buffers_size(); ++id)
    if (exe_.buffers(id).role() == LOSS) {
      auto data = fetch(id);
      if (!data)
        return data.status();
      return static_cast<float>(
          loadElement(exe_.buffers(id).dtype(), (*data)->data(), 0));
    }
  return std::numeric_limits<float>::quiet_NaN();
}

Expected<std::vector<std::pair<std::string, double>>> Trainer::metrics() const {
  std::vector<std::pair<std::string, double>> out;
  double loadMin = std::numeric_limits<double>::infinity(), loadMax = 0;
  bool haveLoad = false;
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    const Buffer &b = exe_.buffers(id);
    if (b.role() != METRIC || elementBytes(b.dtype()) == 0)
      continue;
    auto fetched = fetch(id);
    if (!fetched)
      return fetched.status();
    const void *data = (*fetched)->data();
    int64_t n = b.bytes() / static_cast<int64_t>(elementBytes(b.dtype()));
    auto at = [&](int64_t i) { return loadElement(b.dtype(), data, i); };
    if (n == 1) {
      out.emplace_back(b.name(), at(0));
      continue;
    }
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
      total += at(i);
    if (total <= 0)
      continue;
    for (int64_t i = 0; i < n; ++i) {
      double share = at(i) * n / total;
      loadMin = std::min(loadMin, share);
      loadMax = std::max(loadMax, share);
    }
    haveLoad = true;
  }
  if (haveLoad) {
    out.emplace_back("expert_load_min", loadMin);
    out.emplace_back("expert_load_max", loadMax);
  }
  return out;
}

Expected<std::vector<TensorView>> Trainer::state(Role role) const {
  std::vector<TensorView> views;
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    const Buffer &b = exe_.buffers(id);
    if (b.role() != role)
      continue;
    DType dtype = safetensorsType(b.dtype()).value_or(DType::U8);
    auto fetched = fetch(id);
    if (!fetched)
      return fetched.status();
    const uint8_t *base = (*fetched)->data();
    forEachStoredTensor(b, [&](const std::string &name,
                               const std::vector<int64_t> &shape,
                               int64_t offset) {
      views.push_back({name, dtype, shape, base + offset});
    });
  }
  return views;
}

Status Trainer::restore(const SafetensorsFile &params,
                        const SafetensorsFile &optimizer) {
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    const Buffer &b = exe_.buffers(id);
    if (b.role() != PARAM && b.role() != OPT_STATE)
      continue;
    const SafetensorsFile &file = b.role() == PARAM ? params : optimizer;
    DType dtype = safetensorsType(b.dtype()).value_or(DType::U8);
    std::vector<uint8_t> &copy = host_[id];
    copy.assign(b.bytes(), 0);
    uint8_t *base = copy.data();
    Status status;
    forEachStoredTensor(b, [&](const std::string &name,
                               const std::vector<int64_t> &shape,
                               int64_t offset) {
      if (!status)
        return;
      auto it = file.entries().find(name);
      if (it == file.entries().end()) {
        status = Status::error(file.path() + ": no tensor " + name +
                               " (a checkpoint of another model?)");
        return;
      }
      const SafetensorsFile::Entry &e = it->second;
      if (e.dtype != dtype || e.shape != shape) {
        status = Status::error(file.path() + ": " + name + " is " +
                               dtypeName(e.dtype) + " " + shapeString(e.shape) +
                               ", the executable has " + dtypeName(dtype) +
                               " " + shapeString(shape));
        return;
      }
      std::memcpy(base + offset, file.data(name), e.end - e.begin);
    });
    if (!status)
      return status;
  }
  // Only once every tensor checked out: a bad checkpoint changes nothing.
  for (int id = 0; id < exe_.buffers_size(); ++id) {
    Role role = exe_.buffers(id).role();
    if (role == PARAM || role == OPT_STATE)
      if (Status s = backend_->upload(id, host_[id].data()); !s)
        return s;
  }
  return Status::ok();
}

} // namespace dsv3::runtime
