// ScanRecords: the records under one key prefix of the root tree, decoded.
//
// Contract
//  1. `use(rest, record)` is called for each key under `prefix`, in key
//     order, with the rest of the key after the prefix and the value as
//     `decode` decodes it. `use` must not change the tree: collect first,
//     change after.
//  2. A value that `decode` rejects is handled as the caller chose:
//     OnUndecodable::Stop() ends the scan, which returns that error;
//     OnUndecodable::Report(fn) calls fn(rest, error) and goes on.
//  3. An error of the scan itself (a node that cannot be read) is returned
//     under either choice.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <utility>

#include "core/db/root_keys.h"
#include "core/tree/tree.h"

namespace tessera {

// What a scan does with a value that does not decode (contract 2).
class OnUndecodable {
 public:
  using ReportFn = std::function<void(std::string_view rest, const Error& error)>;
  static OnUndecodable Stop() { return OnUndecodable(nullptr); }
  static OnUndecodable Report(ReportFn report) { return OnUndecodable(std::move(report)); }
  // True when the scan goes on past the value.
  bool GoesOn(std::string_view rest, const Error& error) const {
    if (!report_) return false;
    report_(rest, error);
    return true;
  }

 private:
  explicit OnUndecodable(ReportFn report) : report_(std::move(report)) {}
  ReportFn report_;
};

template <typename Record, typename Use>
Status ScanRecords(Tree& tree, std::string_view prefix, Result<Record> (*decode)(std::string_view),
                   const OnUndecodable& on_undecodable, Use&& use) {
  std::optional<Error> stopped;
  auto each = [&](std::string_view key, std::string_view value) {
    std::string_view rest = key.substr(prefix.size());
    auto record = decode(value);
    if (record) {
      use(rest, std::move(*record));
      return true;
    }
    if (on_undecodable.GoesOn(rest, record.error())) return true;
    stopped = record.error();
    return false;
  };
  TRY_STATUS(tree.Scan(prefix, PrefixEnd(prefix), each));
  if (stopped) return Err(*stopped);
  return Ok();
}

}  // namespace tessera
