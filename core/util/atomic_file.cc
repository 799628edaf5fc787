#include "core/util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tessera {
namespace {

Status WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Err(Code::kIOError, "{}", std::strerror(n < 0 ? errno : EIO));
    text.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view text, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Err(Code::kIOError, "cannot write {}: {}", tmp, std::strerror(errno));
  Status written = WriteAll(fd, text);
  if (written && ::fsync(fd) != 0) written = Err(Code::kIOError, "fsync: {}", std::strerror(errno));
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return Err(Code::kIOError, "cannot write {}: {}", tmp, written.error().message());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Err(Code::kIOError, "cannot rename {} to {}: {}", tmp, path, std::strerror(err));
  }
  return SyncDirectoryOf(path);
}

Status SyncDirectoryOf(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Err(Code::kIOError, "cannot open {} to make {} durable: {}", dir, path, std::strerror(errno));
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) return Err(Code::kIOError, "fsync of {} (making {} durable): {}", dir, path, std::strerror(err));
  return Ok();
}

}  // namespace tessera
