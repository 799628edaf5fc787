// Small helpers shared by the benchmark programs: a monotonic stopwatch,
// argument parsing of the form --name=value, and a scratch directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace tessera::bench {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Returns the value of --name=VALUE from argv, or `fallback`.
inline std::string Arg(int argc, char** argv, std::string_view name, std::string fallback) {
  std::string prefix = fmt::format("--{}=", name);
  for (int i = 1; i < argc; i++) {
    std::string_view a(argv[i]);
    if (a.starts_with(prefix)) return std::string(a.substr(prefix.size()));
  }
  return fallback;
}

inline uint64_t ArgU64(int argc, char** argv, std::string_view name, uint64_t fallback) {
  std::string v = Arg(argc, argv, name, "");
  return v.empty() ? fallback : std::strtoull(v.c_str(), nullptr, 10);
}

inline bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string_view a(argv[i]);
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

}  // namespace tessera::bench
