#include "core/util/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tessera {
namespace {

LogLevel ThresholdFromEnv() {
  const char* env = std::getenv("TESSERA_LOG");
  if (env == nullptr) return LogLevel::kInfo;
  if (std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(env, "warn") == 0) return LogLevel::kWarn;
  if (std::strcmp(env, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "?";
}

}  // namespace

bool LogEnabled(LogLevel level) {
  static const LogLevel threshold = ThresholdFromEnv();
  return level >= threshold;
}

namespace {
std::atomic<uint64_t> logged_errors{0};
}  // namespace

uint64_t LoggedErrors() { return logged_errors.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view line) {
  if (level == LogLevel::kError) logged_errors.fetch_add(1, std::memory_order_relaxed);
  std::string out = fmt::format("tessera {}: {}\n", LevelName(level), line);
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace tessera
