// Subprocess helpers for the CLI (see process.h).
//
// Design notes
//  1. Children are created with fork + execv. Between them only setsid, dup2,
//     open, the caller's in_child hook and execv run (the CLI is
//     single-threaded, so this is safe).
//  2. An exec failure in a child exits with 127, as a shell does.
//  3. SpawnDaemon puts a small keeper process between us and the program:
//     us -> keeper (setsid, waits) -> program. Programs such as nbdkit arm
//     PR_SET_PDEATHSIG (SIGTERM when their parent dies); as our direct child
//     they would die when the CLI exits. The keeper outlives the CLI,
//     forwards SIGTERM/SIGINT/SIGHUP to the program and exits with the
//     program's status, so watching the keeper watches the program.
#include "admin/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

namespace tessera {
namespace {

std::vector<char*> CArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& arg : argv) out.push_back(const_cast<char*>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

Result<std::string> Resolve(const std::vector<std::string>& argv) {
  if (argv.empty()) return Err(Code::kInvalidArgument, "no program given");
  return FindProgram(argv[0]);
}

}  // namespace

Result<std::string> FindProgram(std::string_view name) {
  if (name.find('/') != std::string_view::npos) {
    if (::access(std::string(name).c_str(), X_OK) == 0) return std::string(name);
    return Err(Code::kNotFound, "{} is not an executable program", name);
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    if (!dir.empty()) {
      std::string candidate = fmt::format("{}/{}", dir, name);
      if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) {
        return candidate;
      }
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return Err(Code::kNotFound, "{} not found in PATH", name);
}

Result<ProcessResult> RunProgram(const std::vector<std::string>& argv, bool quiet) {
  std::string program = TRY(Resolve(argv));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Err(Code::kIOError, "pipe: {}", std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return Err(Code::kIOError, "fork: {}", std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    if (quiet) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDERR_FILENO);
    }
    auto args = CArgv(argv);
    ::execv(program.c_str(), args.data());
    _exit(127);
  }
  ::close(pipe_fds[1]);
  ProcessResult result;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    if (n > 0) {
      result.out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = ExitCode(status);
  return result;
}

namespace {

// The keeper's child, for ForwardSignal (the keeper is single-threaded).
volatile pid_t g_kept_child = 0;

void ForwardSignal(int sig) {
  if (g_kept_child > 0) ::kill(g_kept_child, sig);
}

}  // namespace

Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path,
                          const std::function<void()>& in_child) {
  std::string program = TRY(Resolve(argv));
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return Err(Code::kIOError, "open {}: {}", log_path, std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  pid_t keeper = ::fork();
  if (keeper < 0) {
    ::close(log);
    return Err(Code::kIOError, "fork: {}", std::strerror(errno));
  }
  if (keeper == 0) {  // design note 3
    ::setsid();
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    pid_t child = ::fork();
    if (child == 0) {
      if (in_child) in_child();
      auto args = CArgv(argv);
      ::execv(program.c_str(), args.data());
      _exit(127);
    }
    if (child < 0) _exit(126);
    g_kept_child = child;
    struct sigaction forward = {};
    forward.sa_handler = ForwardSignal;
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(sig, &forward, nullptr);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(ExitCode(status));
  }
  ::close(log);
  return keeper;
}

Status ExecProgram(const std::vector<std::string>& argv, const std::function<void()>& before) {
  std::string program = TRY(Resolve(argv));
  std::cout.flush();
  std::cerr.flush();
  if (before) before();
  auto args = CArgv(argv);
  ::execv(program.c_str(), args.data());
  return Err(Code::kIOError, "exec {}: {}", program, std::strerror(errno));
}

std::optional<int> ChildExited(pid_t pid) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) return ExitCode(status);
  return std::nullopt;
}

bool ProcessAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

bool WaitGone(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ::waitpid(pid, nullptr, WNOHANG);  // reaps it if it is our child; harmless otherwise
    if (!ProcessAlive(pid)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::optional<pid_t> ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!std::getline(in, text) || text.empty() || text.size() > 10) return std::nullopt;
  long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value <= 0 || value > INT32_MAX) return std::nullopt;
  return static_cast<pid_t>(value);
}

std::string ShellQuote(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out.push_back(' ');
    bool plain =
        !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?&;|<>()[]{}!#~") == std::string::npos;
    if (plain) {
      out += arg;
    } else {
      out.push_back('\'');
      for (char c : arg) {
        if (c == '\'')
          out += "'\\''";
        else
          out.push_back(c);
      }
      out.push_back('\'');
    }
  }
  return out;
}

}  // namespace tessera
