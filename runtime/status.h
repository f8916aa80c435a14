//===- status.h - error values of the runtime -------------------*- C++ -*-===//
//
// The runtime does not use exceptions: fallible calls return a Status (or
// an Expected<T>) whose message names the file and what is wrong with it.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_RUNTIME_STATUS_H
#define DSV3_RUNTIME_STATUS_H

#include <optional>
#include <string>
#include <utility>

namespace dsv3::runtime {

class Status {
public:
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    return s;
  }
  bool isOk() const { return !message_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const std::string &message() const { return *message_; }

private:
  std::optional<std::string> message_;
};

template <typename T> class Expected {
public:
  Expected(T value) : value_(std::move(value)) {}
  Expected(Status status) : status_(std::move(status)) {}
  bool isOk() const { return value_.has_value(); }
  explicit operator bool() const { return isOk(); }
  T &operator*() { return *value_; }
  T *operator->() { return &*value_; }
  const T &operator*() const { return *value_; }
  const T *operator->() const { return &*value_; }
  const Status &status() const { return status_; }

private:
  std::optional<T> value_;
  Status status_;
};

} // namespace dsv3::runtime

#endif // DSV3_RUNTIME_STATUS_H
