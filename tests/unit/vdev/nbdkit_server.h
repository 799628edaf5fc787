// An nbdkit server for unit tests: started as a child on a Unix socket in a
// private temporary directory, ready once its pid file exists, and killed by
// pid when the object goes (also when the test fails). The child dies with
// the test process too (PR_SET_PDEATHSIG), so a crashed test leaves no
// server behind.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace tessera::testing {

class NbdkitServer {
 public:
  // `plugin_args`: the plugin and its parameters, e.g. {"memory", "64M"}.
  // Extra nbdkit options (filters, -r) go in `options`.
  NbdkitServer(std::vector<std::string> plugin_args, std::vector<std::string> options = {})
      : plugin_args_(std::move(plugin_args)), options_(std::move(options)) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/tessera-nbd-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl;
      return;
    }
    dir_ = tmpl;
    Start();
  }
  ~NbdkitServer() {
    Kill(SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  NbdkitServer(const NbdkitServer&) = delete;
  NbdkitServer& operator=(const NbdkitServer&) = delete;

  const std::string& dir() const { return dir_; }
  std::string socket() const { return dir_ + "/nbd.sock"; }
  std::string uri() const { return "nbd+unix:///?socket=" + socket(); }
  pid_t pid() const { return pid_; }

  // Starts the server (again); true once it serves.
  bool Start() {
    if (pid_ > 0) return true;
    std::error_code ignored;
    std::filesystem::remove(pidfile(), ignored);
    std::filesystem::remove(socket(), ignored);
    std::vector<std::string> args = {"nbdkit", "-f", "-U", socket(), "-P", pidfile()};
    args.insert(args.end(), options_.begin(), options_.end());
    args.insert(args.end(), plugin_args_.begin(), plugin_args_.end());
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("nbdkit", argv.data());
      ::_exit(127);
    }
    if (pid_ < 0) {
      ADD_FAILURE() << "fork";
      return false;
    }
    for (int i = 0; i < 500; i++) {
      if (std::filesystem::exists(pidfile())) return true;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "nbdkit exited at start";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "nbdkit did not start within 5 s";
    return false;
  }

  // Sends `signal`; for SIGKILL and SIGTERM, waits for the server to exit.
  void Kill(int signal = SIGKILL) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    if (signal == SIGKILL || signal == SIGTERM) {
      int status;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

 private:
  std::string pidfile() const { return dir_ + "/nbdkit.pid"; }

  std::vector<std::string> plugin_args_;
  std::vector<std::string> options_;
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace tessera::testing
