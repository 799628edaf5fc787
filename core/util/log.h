// Logging to stderr. Levels below the threshold (TESSERA_LOG=debug|info|warn|error,
// default info) are dropped. Thread-safe: each line is written with one call.
#pragma once

#include <cstdint>
#include <string_view>

#include <fmt/core.h>

namespace tessera {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view line);
// Error lines logged by this process so far (tests check that a run logged
// none: an error a caller never sees, such as a failed close, still counts).
uint64_t LoggedErrors();

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (LogEnabled(level)) LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tessera
