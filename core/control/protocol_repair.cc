// Inspect depths and progress lines of the self-healing ops
// (protocol_repair.h).
#include "core/control/protocol_repair.h"

#include "core/control/json_fields.h"

namespace tessera {

Result<InspectDepth> ParseInspectDepth(std::string_view text) {
  if (text == "quick") return InspectDepth::kQuick;
  if (text == "scan") return InspectDepth::kScan;
  if (text == "full") return InspectDepth::kFull;
  return Err(Code::kInvalidArgument, "unknown inspect depth '{}'; expected quick, scan or full", text);
}

Json ProgressLine(const Progress& p) {
  return Json{{"progress", Json{{"what", p.what}, {"done", p.done}, {"total", p.total}}}};
}

std::optional<Progress> ProgressFromLine(const Json& line) {
  if (!line.is_object()) return std::nullopt;
  auto it = line.find("progress");
  if (it == line.end() || !it->is_object()) return std::nullopt;
  auto fields = JsonFields::Of(*it, "progress");
  if (!fields) return std::nullopt;
  auto what = fields->String("what");
  auto done = fields->Unsigned("done");
  auto total = fields->Unsigned("total");
  if (!what || !done || !total) return std::nullopt;
  return Progress{.what = *what, .done = *done, .total = *total};
}

}  // namespace tessera
