// Tables and text for the CLI (see output.h).
//
// Design notes
//  1. Widths count UTF-8 code points, so names in other scripts still line
//     up (wide CJK characters excepted).
//  2. Sizes print through FormatSize (binary units, the same as the CLI
//     accepts); exact byte counts appear only in `volume info` and --json.
#include "admin/output.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "core/util/size.h"

namespace tessera {
namespace {

// Display width: count UTF-8 code points, not bytes.
size_t Width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(std::max(cells.size(), columns_.size()));
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = Width(columns_[c].header);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], Width(row[c]));
  }
  auto render_row = [&](auto cell_of) {
    std::string line;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_of(c);
      std::string pad(widths[c] - Width(cell), ' ');
      if (c > 0) line += "  ";
      line += columns_[c].align == Align::kRight ? pad + cell : cell + pad;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::string out = render_row([&](size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_) {
    out += render_row([&](size_t c) -> const std::string& { return row[c]; });
  }
  return out;
}

std::string FormatVolumeTable(const std::vector<VolumeInfo>& volumes) {
  if (volumes.empty()) return "no volumes\n";
  using A = Table::Align;
  Table table({{"NAME"},
               {"SIZE", A::kRight},
               {"LAYOUT"},
               {"TIER"},
               {"MAPPED", A::kRight},
               {"ALLOCATED", A::kRight},
               {"OPEN"}});
  for (const VolumeInfo& v : volumes) {
    table.AddRow({v.name, FormatSize(v.size), v.layout, v.tier, FormatSize(v.mapped_bytes),
                  FormatSize(v.allocated_bytes), v.open ? "yes" : "no"});
  }
  return table.Render();
}

namespace {

// "fast 8M, slow 64M": bytes per tier, fastest first; "-" when none.
std::string RowsOn(const std::map<std::string, uint64_t>& tier_bytes) {
  std::vector<std::string> by_tier;
  for (Tier t : {Tier::kFastest, Tier::kFast, Tier::kSlow, Tier::kSlowest}) {
    auto it = tier_bytes.find(std::string(TierName(t)));
    if (it != tier_bytes.end()) by_tier.push_back(fmt::format("{} {}", it->first, FormatSize(it->second)));
  }
  return by_tier.empty() ? "-" : fmt::format("{}", fmt::join(by_tier, ", "));
}

}  // namespace

std::string FormatVolumeInfo(const VolumeInfo& v) {
  return fmt::format(
      "name:       {}\n"
      "id:         {}\n"
      "size:       {} ({} bytes)\n"
      "layout:     {}\n"
      "tier:       {}\n"
      "spread:     {}\n"
      "mapped:     {} ({} bytes)\n"
      "allocated:  {} ({} bytes)\n"
      "rows on:    {}\n"
      "open:       {}\n"
      "origin:     {}\n",
      v.name, v.id, FormatSize(v.size), v.size, v.layout, v.tier, v.spread.empty() ? "-" : v.spread,
      FormatSize(v.mapped_bytes), v.mapped_bytes, FormatSize(v.allocated_bytes), v.allocated_bytes,
      RowsOn(v.tier_bytes), v.open ? "yes" : "no", v.origin.empty() ? "-" : v.origin);
}

std::string FormatPoolStatus(const PoolStatus& s) {
  std::string out = fmt::format(
      "pool:     {}\n"
      "uuid:     {}\n"
      "txg:      {}\n"
      "size:     {}\n"
      "used:     {}\n"
      "free:     {}\n"
      "pinned:   {} (dead, held by snapshots)\n"
      "volumes:  {}\n"
      "metadata: {} copies of each tree node{}\n"
      "{}"
      "{}"
      "health:   {}\n\n",
      s.name, s.uuid, s.txg, FormatSize(s.size_bytes), FormatSize(s.used_bytes),
      FormatSize(s.free_bytes), FormatSize(s.dead_pinned_bytes), s.volumes, s.metadata_copies,
      s.metadata_copies_written < s.metadata_copies
          ? fmt::format(" (new nodes get {}: too few metadata vdevs online)", s.metadata_copies_written)
          : "",
      s.memory.limit_bytes == 0
          ? ""
          : fmt::format("memory:   {} of {} for caches (volume pages {}, {} dirty; tree nodes {})\n",
                        FormatSize(s.memory.data_bytes + s.memory.metadata_bytes),
                        FormatSize(s.memory.limit_bytes), FormatSize(s.memory.data_bytes),
                        FormatSize(s.memory.dirty_bytes), FormatSize(s.memory.metadata_bytes)),
      s.tiering.enabled
          ? fmt::format("tiering:  on, up to {}% of a faster tier, heat halves every {}s; rows moved: {} up ({}), "
                        "{} down ({})\n",
                        s.tiering.limit_percent, s.tiering.half_life_s, s.tiering.promoted_rows,
                        FormatSize(s.tiering.promoted_bytes), s.tiering.demoted_rows,
                        FormatSize(s.tiering.demoted_bytes))
          : "",
      s.health);
  using A = Table::Align;
  Table table({{"VDEV"},
               {"TIER"},
               {"INDEX", A::kRight},
               {"SIZE", A::kRight},
               {"USED", A::kRight},
               {"STATE"},
               {"R/W/CKSUM", A::kRight},
               {"PATH"},
               {"ATTRS"}});
  for (const VdevStatus& v : s.vdevs) {
    std::string attrs;
    for (const auto& [key, value] : v.attrs) {
      attrs += fmt::format("{}{}={}", attrs.empty() ? "" : ",", key, value);
    }
    table.AddRow({v.name, v.tier, std::to_string(v.index), FormatSize(v.size_bytes),
                  FormatSize(v.used_bytes), v.state,
                  fmt::format("{}/{}/{}", v.read_errors, v.write_errors + v.flush_errors, v.checksum_errors),
                  v.path, attrs});
  }
  out += table.Render();
  std::set<std::string> tiers;
  for (const VdevStatus& v : s.vdevs) tiers.insert(v.tier);
  if (tiers.size() > 1 && !s.placement.empty()) {  // with one tier, every row is on it
    Table volumes({{"VOLUME"}, {"TIER"}, {"ROWS ON"}});
    for (const VolumePlacement& p : s.placement) volumes.AddRow({p.name, p.tier, RowsOn(p.tier_bytes)});
    out += "\ndata rows by tier (TIER: where new rows go):\n" + volumes.Render();
  }
  if (!s.degraded_volumes.empty()) {
    Table volumes({{"VOLUME"}, {"STATE"}, {"ROWS", A::kRight}, {"ON VDEVS"}});
    for (const VolumeHealth& h : s.degraded_volumes) {
      std::string vdevs;
      for (const auto& v : h.vdevs) vdevs += (vdevs.empty() ? "" : ",") + v;
      volumes.AddRow({h.name, h.state, std::to_string(h.rows), vdevs});
    }
    out += "\nvolumes with data on vdevs that are not online:\n" + volumes.Render();
  }
  return out;
}

std::string FormatCheckReport(const CheckReport& report) {
  std::string out = report.Summary() + "\n";
  size_t problems = 0;
  auto list = [&](const std::vector<std::string>& items, std::string_view kind) {
    for (const std::string& item : items) {
      out += fmt::format("  {}: {}\n", kind, item);
      ++problems;
    }
  };
  list(report.leaks, "leak");
  list(report.double_references, "double reference");
  list(report.unallocated_references, "unallocated reference");
  list(report.checksum_failures, "checksum failure");
  out += problems == 0 ? "pool is clean\n" : fmt::format("pool has {} problems\n", problems);
  return out;
}

std::string FormatJson(const Json& json) {
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace tessera
