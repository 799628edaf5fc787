// Output of the self-healing commands (volume inspect, pool scrub, vdev
// list/replace): tables and reports, and the progress lines. Same contract
// as output.h: text ending in '\n', pure functions (except the printer).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "core/volume/storage.h"

namespace tessera {

std::string FormatVdevTable(const std::vector<VdevStatus>& vdevs);
// Counts, then each problem, then a verdict line.
std::string FormatInspectReport(const VolumeInspectReport& report);
std::string FormatScrubReport(const ScrubReport& report);
std::string FormatReplaceReport(const VdevReplaceReport& report);
// "  stripes of vol0: 120/512 (23%)"
std::string FormatProgress(const Progress& progress);
// A ProgressFn printing FormatProgress lines to `out` (the CLI's stderr, so
// --json output stays clean).
ProgressFn ProgressPrinter(std::ostream& out);

}  // namespace tessera
