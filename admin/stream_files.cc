// Stream files opened by the CLI (see stream_files.h).
#include "admin/stream_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>

namespace tessera {
namespace {

bool IsRegular(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

Status Blocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Err(Code::kIOError, "fcntl: {}", std::strerror(errno));
  }
  return Ok();
}

// An unlinked file in the pool directory: nobody else can open it, and it
// is gone when the last descriptor closes.
Result<UniqueFd> PrivateTemporary(const std::string& pool_dir) {
  std::string name = pool_dir + "/.stream-XXXXXX";
  UniqueFd fd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return Err(Code::kIOError, "cannot make a temporary stream file in {}: {}", pool_dir,
               std::strerror(errno));
  }
  ::unlink(name.c_str());
  return fd;
}

using Sink = std::function<Status(const char* data, size_t size)>;

Sink ToFd(int to, const std::string& what) {
  return [to, what](const char* data, size_t size) -> Status {
    for (size_t done = 0; done < size;) {
      ssize_t w = ::write(to, data + done, size - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Err(Code::kIOError, "writing {}: {}", what, std::strerror(errno));
      done += static_cast<size_t>(w);
    }
    return Ok();
  };
}

// Copies `from`, from its current position to its end, into `sink`.
Status CopyAll(int from, const Sink& sink, const std::string& what) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(Code::kIOError, "reading {}: {}", what, std::strerror(errno));
    if (n == 0) return Ok();
    TRY_STATUS(sink(buf, static_cast<size_t>(n)));
  }
}

}  // namespace

Result<StreamOutput> OpenStreamOutput(const std::string& path, const std::string& pool_dir) {
  StreamOutput out{.path = path, .to_stdout = path == "-"};
  if (out.to_stdout) {
    out.fd = TRY(PrivateTemporary(pool_dir));
    return out;
  }
  // Contract 1: create it if it is new, else open it as it is.
  UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  out.created = file.valid();
  if (!file.valid() && errno == EEXIST) {
    file = UniqueFd(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  }
  if (!file.valid()) {
    if (errno == ENXIO) return Err(Code::kInvalidArgument, "{} is a FIFO nobody reads", path);
    return Err(Code::kInvalidArgument, "cannot open {} for the stream: {}", path, std::strerror(errno));
  }
  if (IsRegular(file.get())) {
    out.fd = std::move(file);
    return out;
  }
  TRY_STATUS(Blocking(file.get()));
  out.target = std::move(file);
  out.fd = TRY(PrivateTemporary(pool_dir));
  return out;
}

Status FinishStreamOutput(StreamOutput& out, bool written, std::ostream& stdout_stream) {
  if (!written) {
    if (out.created) ::unlink(out.path.c_str());
    return Ok();
  }
  if (out.to_stdout || out.target.valid()) {
    if (::lseek(out.fd.get(), 0, SEEK_SET) != 0) {
      return Err(Code::kIOError, "temporary stream file: {}", std::strerror(errno));
    }
  }
  if (out.to_stdout) {
    auto sink = [&](const char* data, size_t size) -> Status {
      stdout_stream.write(data, static_cast<std::streamsize>(size));
      if (!stdout_stream) return Err(Code::kIOError, "writing the stream to stdout failed");
      return Ok();
    };
    TRY_STATUS(CopyAll(out.fd.get(), sink, "the temporary stream file"));
    stdout_stream.flush();
  } else if (out.target.valid()) {
    TRY_STATUS(CopyAll(out.fd.get(), ToFd(out.target.get(), out.path), out.path));
  }
  return Ok();
}

Result<UniqueFd> OpenStreamInput(const std::string& path, const std::string& pool_dir) {
  UniqueFd file(path == "-" ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                            : ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!file.valid()) {
    return Err(Code::kNotFound, "cannot open stream {}: {}", path, std::strerror(errno));
  }
  if (IsRegular(file.get())) return file;
  TRY_STATUS(Blocking(file.get()));
  UniqueFd copy = TRY(PrivateTemporary(pool_dir));
  TRY_STATUS(CopyAll(file.get(), ToFd(copy.get(), "a temporary stream file"), path == "-" ? "stdin" : path));
  return copy;
}

}  // namespace tessera
