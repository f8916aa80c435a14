//===- file_util.h - durable file writes for the runtime -------*- C++ -*-===//

#ifndef DSV3_RUNTIME_FILE_UTIL_H
#define DSV3_RUNTIME_FILE_UTIL_H

#include "status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dsv3::runtime {

/// Writes all of `contents` to `fd` (retrying short writes); `path` names
/// the file in the error.
Status writeAll(int fd, const std::string &contents, const std::string &path);

/// Writes `contents` to `path` and fsyncs the file before returning.
Status writeFileSynced(const std::string &path, const std::string &contents);

/// Reads all of `path`.
Status readFile(const std::string &path, std::vector<uint8_t> &out);

/// fsyncs a directory, so renames and creations inside it are durable.
Status syncDirectory(const std::string &path);

/// Removes `path` and everything below it (no error if absent).
void removeTree(const std::string &path);

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_FILE_UTIL_H
