//===- checkpoint.cpp - crash-safe training checkpoints -------------------===//

#include "checkpoint.h"

#include "file_util.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dsv3::runtime {

namespace {

constexpr const char *kFormat = "dsv3-checkpoint";
constexpr int kVersion = 1;

/// Entries of `dir` whose names start with `prefix`, sorted.
std::vector<std::string> listWithPrefix(const std::string &dir,
                                        const std::string &prefix) {
  std::vector<std::string> names;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind(prefix, 0) == 0)
        names.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status makeDirectory(const std::string &path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::error(path + ": cannot create directory: " +
                         std::strerror(errno));
  return Status::ok();
}

Status renameDurably(const std::string &from, const std::string &to,
                     const std::string &parent) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return Status::error(from + ": cannot rename to " + to + ": " +
                         std::strerror(errno));
  return syncDirectory(parent);
}

} // namespace

std::string checkpointDirName(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%08lld",
                static_cast<long long>(step));
  return name;
}

CheckpointStore::CheckpointStore(std::string root, int keep)
    : root_(std::move(root)), keep_(std::max(keep, 1)) {}

Status CheckpointStore::save(const CheckpointState &state,
                             const std::vector<TensorView> &params,
                             const std::vector<TensorView> &optimizer) {
  if (Status s = makeDirectory(root_); !s)
    return s;
  // Leftovers of saves that were killed.
  for (const std::string &stale : listWithPrefix(root_, ".tmp-"))
    removeTree(root_ + "/" + stale);

  std::string name = checkpointDirName(state.step);
  std::string tmp = root_ + "/.tmp-" + name + "-" + std::to_string(::getpid());
  if (Status s = makeDirectory(tmp); !s)
    return s;
  std::map<std::string, std::string> meta = {{"format", "pt"},
                                             {"producer", "dsv3"},
                                             {"model", state.model}};
  if (Status s = writeSafetensors(tmp + "/model.safetensors", params, meta); !s)
    return s;
  if (Status s = writeSafetensors(tmp + "/optimizer.safetensors", optimizer,
                                  meta);
      !s)
    return s;
  nlohmann::json json = {{"format", kFormat},   {"version", kVersion},
                         {"model", state.model}, {"step", state.step},
                         {"rng", state.rng},     {"data_cursor", state.dataCursor}};
  if (Status s = writeFileSynced(tmp + "/state.json", json.dump(2) + "\n"); !s)
    return s;
  if (!state.hfConfig.empty())
    if (Status s = writeFileSynced(tmp + "/config.json", state.hfConfig); !s)
      return s;
  if (Status s = syncDirectory(tmp); !s)
    return s;

  // A checkpoint of the same step that `latest` does not name can go; the
  // one it names is replaced only after the new one is complete.
  std::string final = root_ + "/" + name;
  std::string displaced;
  struct stat st;
  if (::stat(final.c_str(), &st) == 0) {
    displaced = root_ + "/.tmp-displaced-" + name;
    removeTree(displaced);
    if (Status s = renameDurably(final, displaced, root_); !s)
      return s;
  }
  if (Status s = renameDurably(tmp, final, root_); !s)
    return s;
  if (Status s = writeFileSynced(root_ + "/latest.tmp", name + "\n"); !s)
    return s;
  if (Status s = renameDurably(root_ + "/latest.tmp", root_ + "/latest", root_);
      !s)
    return s;
  if (!displaced.empty())
    removeTree(displaced);

  std::vector<std::string> steps = listWithPrefix(root_, "step-");
  for (size_t i = 0; i + keep_ < steps.size(); ++i)
    if (steps[i] != name)
      removeTree(root_ + "/" + steps[i]);
  return Status::ok();
}

Expected<LoadedCheckpoint> CheckpointStore::loadLatest() const {
  std::vector<uint8_t> bytes;
  std::string latest = root_ + "/latest";
  if (Status s = readFile(latest, bytes); !s)
    return Status::error(root_ + ": no checkpoint here (" + s.message() + ")");
  std::string name(bytes.begin(), bytes.end());
  if (!name.empty() && name.back() == '\n')
    name.pop_back();
  // Exactly what save() writes: "step-" and eight or more digits.
  bool digits = name.size() >= 13 &&
                name.find_first_not_of("0123456789", 5) == std::string::npos;
  if (name.rfind("step-", 0) != 0 || !digits)
    return Status::error(latest + ": does not name a step directory (it "
                                  "holds '" +
                         name.substr(0, 64) +
                         "'; expected step-NNNNNNNN and a newline)");
  return load(root_ + "/" + name);
}

Expected<LoadedCheckpoint> CheckpointStore::load(const std::string &dir) {
  LoadedCheckpoint ckpt;
  ckpt.dir = dir;
  std::vector<uint8_t> bytes;
  std::string statePath = dir + "/state.json";
  if (Status s = readFile(statePath, bytes); !s)
    return s;
  auto json = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr,
                                    /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object())
    return Status::error(statePath + ": not a JSON object");
  auto field = [&](const char *key, auto check) {
    return json.contains(key) && (json[key].*check)();
  };
  if (!field("format", &nlohmann::json::is_string) ||
      json["format"] != kFormat)
    return Status::error(statePath + ": not a dsv3 checkpoint (format)");
  if (!field("version", &nlohmann::json::is_number_integer) ||
      json["version"] != kVersion)
    return Status::error(statePath + ": unsupported checkpoint version");
  if (!field("step", &nlohmann::json::is_number_integer) ||
      !field("data_cursor", &nlohmann::json::is_number_integer) ||
      !field("model", &nlohmann::json::is_string) ||
      !field("rng", &nlohmann::json::is_string))
    return Status::error(statePath +
                         ": needs model, step, rng and data_cursor");
  ckpt.state.model = json["model"].get<std::string>();
  ckpt.state.step = json["step"].get<int64_t>();
  ckpt.state.rng = json["rng"].get<std::string>();
  ckpt.state.dataCursor = json["data_cursor"].get<int64_t>();
  if (ckpt.state.step < 0)
    return Status::error(statePath + ": step " +
                         std::to_string(ckpt.state.step) +
                         " (a step count is not negative)");
  if (ckpt.state.dataCursor < 0 || ckpt.state.dataCursor >= (int64_t(1) << 62))
    return Status::error(statePath + ": data_cursor " +
                         std::to_string(ckpt.state.dataCursor) +
                         " is not a position a run reaches (0 to 2^62)");
  // The trainer's RNG state is its seed, in decimal.
  const std::string &rng = ckpt.state.rng;
  if (rng.empty() || rng.size() > 20 ||
      rng.find_first_not_of("0123456789") != std::string::npos ||
      (rng.size() == 20 && rng > "18446744073709551615"))
    return Status::error(statePath + ": rng '" + rng.substr(0, 32) +
                         "' is not a seed (a decimal 64-bit integer)");
  auto params = SafetensorsFile::read(dir + "/model.safetensors");
  if (!params)
    return params.status();
  auto optimizer = SafetensorsFile::read(dir + "/optimizer.safetensors");
  if (!optimizer)
    return optimizer.status();
  ckpt.params = std::move(*params);
  ckpt.optimizer = std::move(*optimizer);
  return ckpt;
}

} // namespace dsv3::runtime
