// Output of the self-healing commands.
#include "admin/repair_output.h"

#include "admin/output.h"
#include "core/control/op_table.h"
#include "core/util/size.h"

namespace tessera {
namespace {

// The first problems; --json lists all the report carries.
constexpr size_t kProblemsShown = 20;

void AppendProblems(std::string& out, const std::vector<std::string>& problems) {
  for (size_t i = 0; i < problems.size() && i < kProblemsShown; i++) {
    out += fmt::format("  problem: {}\n", problems[i]);
  }
  if (problems.size() > kProblemsShown) {
    out += fmt::format("  ({} more problems listed by --json)\n", problems.size() - kProblemsShown);
  }
}

}  // namespace

std::string FormatVdevTable(const std::vector<VdevStatus>& vdevs) {
  using A = Table::Align;
  Table table({{"VDEV"},
               {"TIER"},
               {"SIZE", A::kRight},
               {"USED", A::kRight},
               {"STATE"},
               {"READ", A::kRight},
               {"WRITE", A::kRight},
               {"CKSUM", A::kRight},
               {"PATH"}});
  for (const VdevStatus& v : vdevs) {
    table.AddRow({v.name, v.tier, FormatSize(v.size_bytes), FormatSize(v.used_bytes), v.state,
                  std::to_string(v.read_errors), std::to_string(v.write_errors + v.flush_errors),
                  std::to_string(v.checksum_errors), v.path});
  }
  return table.Render();
}

std::string FormatInspectReport(const VolumeInspectReport& r) {
  std::string out = fmt::format(
      "volume {}: {} inspection{}\n"
      "  checked:          {}\n"
      "  bad:              {}\n"
      "  repaired:         {}\n"
      "  replaced blocks:  {}\n"
      "  unrecoverable:    {}\n",
      r.volume, r.depth, r.repair ? " with repair" : "", r.checked, r.bad, r.repaired, r.replaced_blocks,
      r.unrecoverable);
  AppendProblems(out, r.problems);
  if (r.clean()) {
    out += "volume is clean\n";
  } else if (r.repair && r.unrecoverable == 0 && r.repaired >= r.bad) {
    out += "volume was repaired\n";
  } else if (r.unrecoverable > 0) {
    out += "volume has lost data\n";
  } else {
    out += r.repair ? "volume still has problems\n" : "volume has problems (run with --repair to fix them)\n";
  }
  return out;
}

std::string FormatScrubReport(const ScrubReport& r) {
  std::string out = fmt::format(
      "scrubbed {} volume{}\n"
      "  checked:        {}\n"
      "  repaired:       {}\n"
      "  unrecoverable:  {}\n"
      "  degraded:       {}\n"
      "  metadata:       {}\n",
      r.volumes, r.volumes == 1 ? "" : "s", r.checked, r.repaired, r.unrecoverable, r.degraded,
      r.metadata.Summary());
  AppendProblems(out, r.problems);
  out += r.clean() ? "pool is clean\n" : "pool has problems\n";
  return out;
}

std::string FormatReplaceReport(const VdevReplaceReport& r) {
  std::string volumes;
  for (const auto& v : r.volumes) volumes += (volumes.empty() ? "" : ", ") + v;
  std::string out = fmt::format(
      "replaced vdev {}: {} -> {}\n"
      "  copied blocks:         {}\n"
      "  rebuilt chunks:        {}\n"
      "  unrecoverable blocks:  {}\n"
      "  metadata copies:       {} rebuilt\n"
      "  rebuilt volumes:       {}\n",
      r.vdev, r.old_path, r.new_path, r.copied_blocks, r.rebuilt_chunks, r.unrecoverable_blocks,
      r.metadata_copies_rebuilt,
      volumes.empty() ? "none" : volumes);
  AppendProblems(out, r.problems);
  return out;
}

std::string FormatProgress(const Progress& p) {
  if (p.total == 0) return fmt::format("  {}: {} checked\n", p.what, p.done);  // total unknown
  uint64_t percent = p.total == 0 ? 100 : p.done * 100 / p.total;
  return fmt::format("  {}: {}/{} ({}%)\n", p.what, p.done, p.total, percent);
}

ProgressFn ProgressPrinter(std::ostream& out) {
  return ThrottledProgress([&out](const Progress& p) {
    out << FormatProgress(p);
    out.flush();
  });
}

}  // namespace tessera
