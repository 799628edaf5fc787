// Output of the `tessera` CLI: human-readable tables, and the --json forms
// (the control protocol's schema, core/control/protocol.h).
//
// Contract
//  1. Every function returns text ending in '\n' (or empty); callers print
//     it as is. Pure functions.
//  2. Tables: a header row, then one row per item; columns separated by two
//     spaces; number-like columns right-aligned; no trailing spaces.
#pragma once

#include <string>
#include <vector>

#include "core/control/protocol.h"
#include "core/db/database.h"
#include "core/volume/storage.h"

namespace tessera {

class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // A row with fewer cells than columns is padded with empty cells.
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string FormatVolumeTable(const std::vector<VolumeInfo>& volumes);
std::string FormatVolumeInfo(const VolumeInfo& info);
std::string FormatPoolStatus(const PoolStatus& status);
// The summary, then each problem on its own line, then a verdict.
std::string FormatCheckReport(const CheckReport& report);
// Pretty-printed JSON (2-space indent) and a newline.
std::string FormatJson(const Json& json);

}  // namespace tessera
