#include "core/control/metrics_text.h"

#include <fmt/core.h>

#include <functional>
#include <string_view>

namespace tessera {
namespace {

// A label value with '\', '"' and newlines escaped (contract 2).
std::string Escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class Writer {
 public:
  // Starts a metric family: its HELP and TYPE lines.
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void Sample(std::string_view name, const std::string& labels, uint64_t value) {
    text_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  void Sample(std::string_view name, const std::string& labels, double value) {
    text_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  // The _bucket, _sum and _count samples of one histogram (contract 1).
  void Histogram(std::string_view name, const std::string& labels, const IoTotals& totals) {
    IoStats stats = FromTotals(totals);
    uint64_t cumulative = 0;
    for (uint32_t i = 0; i + 1 < kLatencyBuckets; i++) {
      cumulative += stats.buckets[i];
      if (i % 4 != 0) continue;  // bucket i ends at a power of two when i % 4 == 0
      text_ += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, UpperUs(i) / 1e6, cumulative);
    }
    cumulative += stats.buckets[kLatencyBuckets - 1];
    text_ += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
    text_ += fmt::format("{}_sum{{{}}} {}\n", name, labels, static_cast<double>(stats.total_ns) / 1e9);
    text_ += fmt::format("{}_count{{{}}} {}\n", name, labels, stats.ops);
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

struct Direction {
  std::string_view what;  // "read", "write", ...
  const IoTotals* totals;
};

template <typename Report>
void WriteIo(Writer& w, std::string_view scope, std::string_view help_scope, const std::vector<Report>& items,
             const std::function<std::vector<Direction>(const Report&)>& directions,
             const std::function<std::string(const Report&)>& labels) {
  if (items.empty()) return;
  for (size_t d = 0; d < directions(items.front()).size(); d++) {
    std::string_view what = directions(items.front())[d].what;
    std::string ops = fmt::format("tessera_{}_{}_ops_total", scope, what);
    w.Family(ops, "counter", fmt::format("{} operations {}.", what, help_scope));
    for (const Report& r : items) w.Sample(ops, labels(r), directions(r)[d].totals->ops);
    std::string bytes = fmt::format("tessera_{}_{}_bytes_total", scope, what);
    w.Family(bytes, "counter", fmt::format("Bytes of {} operations {}.", what, help_scope));
    for (const Report& r : items) w.Sample(bytes, labels(r), directions(r)[d].totals->bytes);
    std::string latency = fmt::format("tessera_{}_{}_latency_seconds", scope, what);
    w.Family(latency, "histogram", fmt::format("Latency of {} operations {}.", what, help_scope));
    for (const Report& r : items) w.Histogram(latency, labels(r), *directions(r)[d].totals);
  }
}

}  // namespace

std::string FormatPrometheus(const PoolIoReport& report) {
  Writer w;
  const std::string pool = fmt::format("pool=\"{}\"", Escape(report.pool));
  w.Family("tessera_uptime_seconds", "gauge", "Seconds since the pool was opened.");
  w.Sample("tessera_uptime_seconds", pool, static_cast<double>(report.sampled_ns - report.opened_ns) / 1e9);
  WriteIo<VdevIoReport>(
      w, "vdev", "that reached the vdev's device", report.vdevs,
      [](const VdevIoReport& r) {
        return std::vector<Direction>{{"read", &r.reads}, {"write", &r.writes}, {"flush", &r.flushes}};
      },
      [&](const VdevIoReport& r) {
        return fmt::format("{},vdev=\"{}\",tier=\"{}\"", pool, Escape(r.name), Escape(r.tier));
      });
  auto volume_labels = [&](const VolumeIoReport& r) { return fmt::format("{},volume=\"{}\"", pool, Escape(r.name)); };
  WriteIo<VolumeIoReport>(
      w, "volume", "that clients sent to the volume", report.volumes,
      [](const VolumeIoReport& r) {
        return std::vector<Direction>{
            {"read", &r.reads}, {"write", &r.writes}, {"flush", &r.flushes}, {"discard", &r.discards}};
      },
      volume_labels);
  if (!report.volumes.empty()) {
    w.Family("tessera_volume_cache_hit_pages_total", "counter", "4 KiB pages read from the volume's cache.");
    for (const VolumeIoReport& r : report.volumes) {
      w.Sample("tessera_volume_cache_hit_pages_total", volume_labels(r), r.cache_hit_pages);
    }
    w.Family("tessera_volume_cache_miss_pages_total", "counter", "4 KiB pages the volume's cache read from below.");
    for (const VolumeIoReport& r : report.volumes) {
      w.Sample("tessera_volume_cache_miss_pages_total", volume_labels(r), r.cache_miss_pages);
    }
    w.Family("tessera_volume_cleaner_moved_bytes_total", "counter",
             "Live data the cleaner rewrote to free the volume's rows.");
    for (const VolumeIoReport& r : report.volumes) {
      w.Sample("tessera_volume_cleaner_moved_bytes_total", volume_labels(r), r.cleaner_moved.bytes);
    }
    w.Family("tessera_volume_cleaner_freed_bytes_total", "counter", "Rows of the volume the cleaner freed.");
    for (const VolumeIoReport& r : report.volumes) {
      w.Sample("tessera_volume_cleaner_freed_bytes_total", volume_labels(r), r.cleaner_freed.bytes);
    }
  }
  return w.Take();
}

}  // namespace tessera
