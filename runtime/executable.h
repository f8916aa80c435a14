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

#include <string>

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

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_EXECUTABLE_H
