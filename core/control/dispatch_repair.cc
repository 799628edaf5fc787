// Dispatch of volume.inspect, pool.scrub and the vdev ops.
//
// Design notes
//  1. One op is one Storage call, after all its arguments decoded (G5).
//  2. Progress is throttled here: at most one report per kProgressEvery,
//     plus the last of each phase (done == total), so a fast pass does not
//     flood the socket.
#include "core/control/dispatch_repair.h"

#include <chrono>

namespace tessera {
namespace {

constexpr auto kProgressEvery = std::chrono::milliseconds(250);

// The caller's progress function, throttled (design note 2); empty unless
// the request asked for progress.
Result<ProgressFn> ProgressOf(JsonFields& fields, const ProgressFn& sink) {
  bool wanted = TRY(fields.OptionalBool("progress")).value_or(false);
  if (!wanted || !sink) return ProgressFn();
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return ProgressFn([sink, last](const Progress& p) {
    auto now = std::chrono::steady_clock::now();
    if (p.done != p.total && now - *last < kProgressEvery) return;
    *last = now;
    sink(p);
  });
}

}  // namespace

bool IsRepairOp(std::string_view op) {
  return op == kOpVolumeInspect || op == kOpPoolScrub || op == kOpVdevList || op == kOpVdevOffline ||
         op == kOpVdevOnline || op == kOpVdevReplace;
}

Result<Json> DispatchRepairOp(Storage& storage, std::string_view op, JsonFields& fields,
                              const ProgressFn& sink) {
  if (op == kOpVolumeInspect) {
    std::string name = TRY(fields.String("name"));
    InspectDepth depth = InspectDepth::kScan;
    if (auto text = TRY(fields.OptionalString("depth"))) depth = TRY(ParseInspectDepth(*text));
    bool repair = TRY(fields.OptionalBool("repair")).value_or(false);
    ProgressFn progress = TRY(ProgressOf(fields, sink));
    TRY_STATUS(fields.NoOtherFields());
    return ToJson(TRY(storage.InspectVolume(name, depth, repair, progress)));
  }
  if (op == kOpPoolScrub) {
    ProgressFn progress = TRY(ProgressOf(fields, sink));
    TRY_STATUS(fields.NoOtherFields());
    return ToJson(TRY(storage.Scrub(progress)));
  }
  if (op == kOpVdevList) {
    TRY_STATUS(fields.NoOtherFields());
    return ToJson(TRY(storage.ListVdevs()));
  }
  if (op == kOpVdevReplace) {
    std::string name = TRY(fields.String("name"));
    std::string path = TRY(fields.String("path"));
    ProgressFn progress = TRY(ProgressOf(fields, sink));
    TRY_STATUS(fields.NoOtherFields());
    return ToJson(TRY(storage.ReplaceVdev(name, path, progress)));
  }
  std::string name = TRY(fields.String("name"));
  TRY_STATUS(fields.NoOtherFields());
  TRY_STATUS(op == kOpVdevOffline ? storage.OfflineVdev(name) : storage.OnlineVdev(name));
  return Json();
}

}  // namespace tessera
