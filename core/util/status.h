// Errors are values: every fallible core function returns Result<T>.
//
// A Result carries either a value or an Error with one of a small set of
// codes. Corruption (a checksum or format failure) is kept distinct from
// IOError (the device refused). Exceptions never cross a layer.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

namespace tessera {

enum class Code {
  kNotFound,
  kCorruption,
  kIOError,
  kNoSpace,
  kInvalidArgument,
  kBusy,
  kReadOnly,
  kPermissionDenied,
};

std::string_view CodeName(Code code);

class Error {
 public:
  Error(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Corruption: node checksum mismatch at 0:1:42"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Error WithContext(std::string_view context) const;

 private:
  Code code_;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline Status Ok() { return {}; }

template <typename... Args>
std::unexpected<Error> Err(Code code, fmt::format_string<Args...> format, Args&&... args) {
  return std::unexpected(Error(code, fmt::format(format, std::forward<Args>(args)...)));
}

inline std::unexpected<Error> Err(const Error& error) { return std::unexpected(error); }

}  // namespace tessera

// Evaluates `expr` (a Result); on error returns the error from the enclosing
// function, otherwise yields the value. Uses a GNU statement expression.
// A temporary is moved from; a named Result (an lvalue, such as a request's
// result) is copied, so it still holds its error afterwards.
#define TRY(expr)                                                                      \
  ({                                                                                   \
    auto&& tessera_try_result_ = (expr);                                               \
    if (!tessera_try_result_) {                                                        \
      return std::unexpected(                                                          \
          std::forward<decltype(tessera_try_result_)>(tessera_try_result_).error());   \
    }                                                                                  \
    std::forward<decltype(tessera_try_result_)>(tessera_try_result_).value();          \
  })

// Like TRY for Status (Result<void>), as a statement.
#define TRY_STATUS(expr)                                                               \
  do {                                                                                 \
    auto&& tessera_try_status_ = (expr);                                               \
    if (!tessera_try_status_) {                                                        \
      return std::unexpected(                                                          \
          std::forward<decltype(tessera_try_status_)>(tessera_try_status_).error());   \
    }                                                                                  \
  } while (0)
