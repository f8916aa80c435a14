//===- executable.h - loading and checking a .dsv3 executable ---*- C++ -*-===//
//
// Reads a .dsv3 file (see executable_format.h), parses the executable and
// checks it for what a backend relies on: every buffer inside the arena
// with the bytes its shape and type need, every command naming existing
// buffers of the right types and sizes.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_EXECUTABLE_H
#define DSV3_RUNTIME_EXECUTABLE_H

#include "element_type.h"
#include "runtime/executable.pb.h"
#include "status.h"

#include <algorithm>
#include <string>
#include <vector>

namespace dsv3::runtime {

const char *elementTypeName(ElementType type);
const char *roleName(Role role);

/// A command in a few words, for errors and traces: "launch
/// dsv3_train_step_kernel_3", "gemm bf16 1x256x128x64", "copy 12 -> 3".
std::string commandName(const Executable &exe, const Command &command);

/// What a command's time counts as in traces and reports: "kernel",
/// "gemm", "copy" or "collective".
const char *commandCategory(const Command &command);

/// Parses the bytes of a .dsv3 file; `path` names it in errors.
Expected<Executable> parseExecutable(const std::string &bytes,
                                     const std::string &path);

/// Reads, parses and checks the .dsv3 file at `path`.
Expected<Executable> loadExecutable(const std::string &path);

/// Checks the consistency of an executable (`path` names it in errors).
Status checkExecutable(const Executable &exe, const std::string &path);

/// The tensors a persistent buffer is stored as in checkpoints: itself, or
/// one per expert when its name has an "{e}" for the expert index. Calls
/// `f(name, shape, byte offset in the buffer)` for each.
template <typename F> void forEachStoredTensor(const Buffer &b, F f) {
  size_t at = b.name().find("{e}");
  std::vector<int64_t> shape(b.shape().begin(), b.shape().end());
  if (at == std::string::npos || shape.empty()) {
    f(b.name(), shape, int64_t(0));
    return;
  }
  int64_t experts = shape[0];
  std::vector<int64_t> inner(shape.begin() + 1, shape.end());
  int64_t stride = b.bytes() / std::max<int64_t>(experts, 1);
  for (int64_t e = 0; e < experts; ++e) {
    std::string name = b.name();
    name.replace(at, 3, std::to_string(e));
    f(name, inner, e * stride);
  }
}

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_EXECUTABLE_H
