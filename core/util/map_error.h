// MapError: std::expected::transform_error for g++ 12 (whose <expected>
// lacks the monadic operations).
#pragma once

#include <utility>

#include "core/util/status.h"

namespace tessera {

// `result` unchanged when it holds a value; otherwise its error replaced by
// f(error).
template <typename T, typename F>
Result<T> MapError(Result<T> result, F&& f) {
  if (result) return result;
  return std::unexpected(std::forward<F>(f)(result.error()));
}

}  // namespace tessera
