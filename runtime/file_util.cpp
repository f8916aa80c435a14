//===- file_util.cpp - durable file writes for the runtime ----------------===//

#include "file_util.h"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dsv3::runtime {

static Status errnoStatus(const std::string &path, const char *what) {
  return Status::error(path + ": " + what + ": " + std::strerror(errno));
}

Status writeAll(int fd, const std::string &contents, const std::string &path) {
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errnoStatus(path, "write failed");
    }
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

Status writeFileSynced(const std::string &path, const std::string &contents) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errnoStatus(path, "cannot create");
  if (Status s = writeAll(fd, contents, path); !s) {
    ::close(fd);
    return s;
  }
  if (::fsync(fd) != 0) {
    Status s = errnoStatus(path, "fsync failed");
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0)
    return errnoStatus(path, "close failed");
  return Status::ok();
}

Status readFile(const std::string &path, std::vector<uint8_t> &out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errnoStatus(path, "cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = errnoStatus(path, "cannot stat");
    ::close(fd);
    return s;
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      Status s = errnoStatus(path, "read failed");
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::ok();
}

Status syncDirectory(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errnoStatus(path, "cannot open directory");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return errnoStatus(path, "fsync of directory failed");
  return Status::ok();
}

void removeTree(const std::string &path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return;
  if (S_ISDIR(st.st_mode)) {
    if (DIR *dir = ::opendir(path.c_str())) {
      while (dirent *e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name != "." && name != "..")
          removeTree(path + "/" + name);
      }
      ::closedir(dir);
    }
    ::rmdir(path.c_str());
  } else {
    ::unlink(path.c_str());
  }
}

} // namespace dsv3::runtime
