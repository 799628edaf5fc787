#include "admin/iostat_view.h"

#include <map>

#include "admin/output.h"
#include "core/util/size.h"

namespace tessera {
namespace {

// The counters of one name in the earlier report, or zeros.
template <typename Report>
const Report* Find(const std::vector<Report>* items, const std::string& name) {
  if (items == nullptr) return nullptr;
  for (const Report& r : *items) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

IoStats Delta(const IoTotals& now, const IoTotals* before) {
  IoStats stats = FromTotals(now);
  return before == nullptr ? stats : stats.Since(FromTotals(*before));
}

IostatRow Row(std::string kind, std::string name, const IoStats& reads, const IoStats& writes, double seconds) {
  IostatRow row{.kind = std::move(kind), .name = std::move(name)};
  row.read_ops = static_cast<double>(reads.ops) / seconds;
  row.write_ops = static_cast<double>(writes.ops) / seconds;
  row.read_bytes = static_cast<double>(reads.bytes) / seconds;
  row.write_bytes = static_cast<double>(writes.bytes) / seconds;
  row.read_avg_us = reads.AverageUs();
  row.read_p99_us = reads.PercentileUs(0.99);
  row.write_avg_us = writes.AverageUs();
  row.write_p99_us = writes.PercentileUs(0.99);
  return row;
}

std::string Rate(double v) { return v < 10 ? fmt::format("{:.1f}", v) : fmt::format("{:.0f}", v); }
std::string Bandwidth(double v) { return FormatSize(static_cast<uint64_t>(v)); }
std::string Micros(double us) {
  if (us == 0) return "-";
  if (us < 10) return fmt::format("{:.1f}us", us);
  return us < 1000 ? fmt::format("{:.0f}us", us) : fmt::format("{:.1f}ms", us / 1000);
}

}  // namespace

IostatView ComputeIostat(const PoolIoReport& now, const PoolIoReport* earlier, bool verbose) {
  IostatView view;
  uint64_t since = earlier ? earlier->sampled_ns : now.opened_ns;
  view.seconds = now.sampled_ns > since ? static_cast<double>(now.sampled_ns - since) / 1e9 : 1e-9;
  IoStats pool_reads, pool_writes;
  std::map<std::string, std::pair<IoStats, IoStats>> tiers;
  std::vector<IostatRow> vdevs;
  for (const VdevIoReport& v : now.vdevs) {
    const VdevIoReport* before = Find(earlier ? &earlier->vdevs : nullptr, v.name);
    IoStats reads = Delta(v.reads, before ? &before->reads : nullptr);
    IoStats writes = Delta(v.writes, before ? &before->writes : nullptr);
    pool_reads += reads;
    pool_writes += writes;
    tiers[v.tier].first += reads;
    tiers[v.tier].second += writes;
    vdevs.push_back(Row("vdev", v.name, reads, writes, view.seconds));
  }
  view.rows.push_back(Row("pool", now.pool, pool_reads, pool_writes, view.seconds));
  if (!verbose) return view;
  for (const auto& [tier, io] : tiers) {
    view.rows.push_back(Row("tier", tier, io.first, io.second, view.seconds));
    for (size_t i = 0; i < now.vdevs.size(); i++) {
      if (now.vdevs[i].tier == tier) view.rows.push_back(vdevs[i]);
    }
  }
  for (const VolumeIoReport& v : now.volumes) {
    const VolumeIoReport* before = Find(earlier ? &earlier->volumes : nullptr, v.name);
    IostatRow row = Row("volume", v.name, Delta(v.reads, before ? &before->reads : nullptr),
                        Delta(v.writes, before ? &before->writes : nullptr), view.seconds);
    uint64_t hits = v.cache_hit_pages - (before ? before->cache_hit_pages : 0);
    uint64_t misses = v.cache_miss_pages - (before ? before->cache_miss_pages : 0);
    if (hits + misses > 0) row.cache_hit_ratio = static_cast<double>(hits) / static_cast<double>(hits + misses);
    row.cleaner_moved_bytes =
        static_cast<double>(Delta(v.cleaner_moved, before ? &before->cleaner_moved : nullptr).bytes) / view.seconds;
    row.cleaner_freed_bytes =
        static_cast<double>(Delta(v.cleaner_freed, before ? &before->cleaner_freed : nullptr).bytes) / view.seconds;
    view.rows.push_back(std::move(row));
  }
  return view;
}

std::string FormatIostat(const IostatView& view) {
  using A = Table::Align;
  Table table({{"NAME"}, {"READ/s", A::kRight}, {"WRITE/s", A::kRight}, {"READ B/s", A::kRight},
               {"WRITE B/s", A::kRight}, {"R AVG", A::kRight}, {"R P99", A::kRight}, {"W AVG", A::kRight},
               {"W P99", A::kRight}, {"CACHE HIT", A::kRight}, {"CLEAN MOVED/s", A::kRight},
               {"CLEAN FREED/s", A::kRight}});
  for (const IostatRow& r : view.rows) {
    std::string name = r.kind == "pool"   ? r.name
                       : r.kind == "tier" ? "  tier " + r.name
                       : r.kind == "vdev" ? "    " + r.name
                                          : "  volume " + r.name;
    table.AddRow({name, Rate(r.read_ops), Rate(r.write_ops), Bandwidth(r.read_bytes), Bandwidth(r.write_bytes),
                  Micros(r.read_avg_us), Micros(r.read_p99_us), Micros(r.write_avg_us), Micros(r.write_p99_us),
                  r.cache_hit_ratio ? fmt::format("{:.0f}%", *r.cache_hit_ratio * 100) : "-",
                  r.cleaner_moved_bytes ? Bandwidth(*r.cleaner_moved_bytes) : "-",
                  r.cleaner_freed_bytes ? Bandwidth(*r.cleaner_freed_bytes) : "-"});
  }
  return table.Render();
}

Json IostatJson(const IostatView& view) {
  Json rows = Json::array();
  for (const IostatRow& r : view.rows) {
    Json row = {{"kind", r.kind},
                {"name", r.name},
                {"read_ops_per_s", r.read_ops},
                {"write_ops_per_s", r.write_ops},
                {"read_bytes_per_s", r.read_bytes},
                {"write_bytes_per_s", r.write_bytes},
                {"read_avg_us", r.read_avg_us},
                {"read_p99_us", r.read_p99_us},
                {"write_avg_us", r.write_avg_us},
                {"write_p99_us", r.write_p99_us}};
    if (r.cache_hit_ratio) row["cache_hit_ratio"] = *r.cache_hit_ratio;
    if (r.cleaner_moved_bytes) row["cleaner_moved_bytes_per_s"] = *r.cleaner_moved_bytes;
    if (r.cleaner_freed_bytes) row["cleaner_freed_bytes_per_s"] = *r.cleaner_freed_bytes;
    rows.push_back(std::move(row));
  }
  return Json{{"seconds", view.seconds}, {"rows", rows}};
}

}  // namespace tessera
