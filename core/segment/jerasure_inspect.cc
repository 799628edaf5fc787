// Jerasure segment: Inspect (after LStore's lio_inspect), read-only.
//
// Design notes
//  1. kQuick checks the layout without reading data: the lun's own checks,
//     its geometry against ours, and that every row puts its N blocks on N
//     distinct vdevs (else one device loss takes several chunks of a
//     stripe and the code's guarantee is void).
//  2. kScan reads each chunk's header block and judges each stripe from the
//     headers alone (StripeReader::Judge without data): a chunk that is
//     unreadable, corrupt, misplaced or of another write is bad.
//  3. kFull reads every chunk in full, so data checksums count too, and
//     re-encodes the data of every complete stripe to compare with the
//     stored parity: this catches parity that was computed wrongly before it
//     was checksummed.
//  4. `checked` counts chunks (rows and blocks for kQuick), `bad` bad chunks
//     (or bad stripes for parity mismatches); the first kMaxProblems problems
//     are listed. Never-written stripes are neither bad nor listed, but a
//     never-written stripe holding some chunks of this segment (a torn first
//     write) is.
//  4a. With options.repair, a stripe with bad chunks is read in full and
//     rebuilt (StripeReader::Rebuild) and the rebuilt chunks are rewritten
//     (Repair), under the stripe's shared lock as a degraded read does
//     (contract 6). `repaired` counts the chunks rewritten, `unrecoverable`
//     the chunks of stripes with more than M bad (kLost) or whose rebuild
//     failed. A parity mismatch found by kFull with every checksum right is
//     reported, not rewritten: nothing says which side is wrong.
//  5. Only stripes of rows the lun has are read: rows removed by the
//     cleaner leave gaps that are not stripes of this segment any more; and
//     none at or past options.live_end (the log's head). The cleaner may
//     remove a row while the inspection runs (it holds no lock of theirs):
//     a stripe that fails to load, or to load in full for its repair, and
//     whose row is gone is skipped.
#include <cstring>
#include <set>
#include <shared_mutex>

#include "core/segment/jerasure_segment.h"
#include "core/segment/jerasure_stripe.h"

namespace tessera {
namespace {

constexpr size_t kMaxProblems = 100;

void AddProblem(InspectReport& report, std::string problem) {
  if (report.problems.size() < kMaxProblems) report.problems.push_back(std::move(problem));
}

}  // namespace

Result<InspectReport> JerasureSegment::Inspect(InspectMode mode) {
  return InspectRows(mode, RowInspectOptions{});
}

Result<InspectReport> JerasureSegment::InspectRows(InspectMode mode, const RowInspectOptions& options) {
  InspectReport report;
  TRY_STATUS(InspectLayout(report));
  if (mode != InspectMode::kQuick) TRY_STATUS(InspectStripes(mode, options, report));
  if (report.problems.size() == kMaxProblems) {
    report.problems.push_back("(further problems not listed)");
  }
  return report;
}

Status JerasureSegment::InspectLayout(InspectReport& report) const {
  report = TRY(lun_->Inspect(InspectMode::kQuick));
  const LunOptions& lun = lun_->options();
  if (lun.n_devices != geo_.n() || lun.chunk_size != geo_.chunk_size ||
      lun.max_block_size % geo_.chunk_size != 0) {
    report.bad++;
    AddProblem(report, fmt::format("lun {} (n={}, chunk={}, block={}) does not fit K+M={}, C={}",
                                   lun_->id(), lun.n_devices, lun.chunk_size, lun.max_block_size,
                                   geo_.n(), geo_.chunk_size));
  }
  for (const LunRowDesc& row : lun_->Rows()) {
    report.checked++;
    std::set<std::pair<Tier, uint32_t>> vdevs;
    for (const LunBlock& b : row.blocks) vdevs.insert({b.address.tier(), b.address.vdev()});
    if (vdevs.size() != row.blocks.size()) {
      report.bad++;
      AddProblem(report, fmt::format("row at {} puts {} blocks on only {} distinct vdevs",
                                     row.seg_offset, row.blocks.size(), vdevs.size()));
    }
  }
  return Ok();
}

SlotVdev* JerasureSegment::SlotOf(uint64_t stripe, uint32_t j) const {
  if (pool_ == nullptr) return nullptr;
  auto where = LocateChunk(stripe, j);
  if (!where) return nullptr;
  const PoolVdev* v = pool_->Find(where->address.tier(), where->address.vdev());
  return v == nullptr ? nullptr : v->device.get();
}

void JerasureSegment::RepairStripe(StripeReader& reader, uint64_t stripe, InspectReport& report) {
  Status loaded = reader.LoadAll(/*full=*/true);
  auto verdict = loaded ? reader.Rebuild() : Result<StripeVerdict>(std::unexpected(loaded.error()));
  if (!verdict && !lun_->HasRowAt(stripe * geo_.stripe_lun_bytes())) return;  // design note 5
  if (!verdict) {
    StripeVerdict v = reader.Judge(/*need_data=*/true);
    report.unrecoverable += geo_.n() - v.members.size();
    AddProblem(report, fmt::format("cannot repair: {}", verdict.error().message()));
    return;
  }
  report.repaired += reader.Repair(*verdict);
}

Status JerasureSegment::InspectStripes(InspectMode mode, const RowInspectOptions& options,
                                       InspectReport& report) {
  const bool full = mode == InspectMode::kFull;
  const uint64_t d = geo_.data_bytes();
  Buffer buf = AcquireBuffer();
  AlignedBuffer parity(full ? geo_.m * d : 0);
  std::vector<uint64_t> stripes;  // those of rows the lun has (design note 5)
  for (const LunRowDesc& row : lun_->Rows()) {
    if (options.rows && !options.rows(row)) continue;
    for (uint64_t s = row.seg_offset / geo_.stripe_lun_bytes();
         s < row.seg_end / geo_.stripe_lun_bytes(); s++) {
      if (s * geo_.stripe_data_bytes() >= options.live_end) break;
      stripes.push_back(s);
    }
  }
  uint64_t done = 0;
  for (uint64_t stripe : stripes) {
    if (options.progress) options.progress(done, stripes.size());
    done++;
    std::shared_lock lock(StripeLock(stripe));
    StripeReader reader(*this, stripe, buf.data());
    if (Status loaded = reader.LoadAll(full); !loaded) {
      if (!lun_->HasRowAt(stripe * geo_.stripe_lun_bytes())) continue;  // design note 5
      return loaded;
    }
    report.checked += geo_.n();
    StripeVerdict v = reader.Judge(/*need_data=*/full);
    switch (v.kind) {
      case StripeVerdict::kLost:
        report.bad += geo_.n() - v.members.size();
        if (options.repair) report.unrecoverable += geo_.n() - v.members.size();
        AddProblem(report, fmt::format("stripe {}: no write is agreed by {} of its {} chunks; "
                                       "the stripe cannot be read",
                                       stripe, geo_.k, geo_.n()));
        continue;
      case StripeVerdict::kNeverWritten: {
        uint32_t ours = 0;
        for (uint32_t j = 0; j < geo_.n(); j++) {
          // Chunks that say they are this stripe's (an unreadable one says
          // nothing; a misplaced one is another stripe's, recycled).
          ChunkState s = reader.state(j);
          ours += s != ChunkState::kZero && s != ChunkState::kForeign && s != ChunkState::kIoError &&
                  s != ChunkState::kUnread && s != ChunkState::kMisplaced;
        }
        if (ours > 0) {
          report.bad += ours;
          AddProblem(report, fmt::format("stripe {}: {} chunks of an incomplete write; the "
                                         "stripe reads as never written",
                                         stripe, ours));
        }
        continue;
      }
      case StripeVerdict::kWritten:
        break;
    }
    for (uint32_t j : v.bad) {
      report.bad++;
      ChunkState s = reader.state(j);
      bool stale = s == ChunkState::kGood || s == ChunkState::kHeaderOk;
      AddProblem(report, fmt::format("{}: {}", reader.Describe(j),
                                     stale ? "stale (another write)" : ChunkStateName(s)));
    }
    if (options.repair && !v.bad.empty()) RepairStripe(reader, stripe, report);
    if (!full || !v.bad.empty()) continue;
    std::vector<const std::byte*> data;
    std::vector<std::byte*> coding;
    for (uint32_t j = 0; j < geo_.k; j++) data.push_back(reader.Data(j));
    for (uint32_t i = 0; i < geo_.m; i++) coding.push_back(parity.data() + i * d);
    TRY_STATUS(code_->Encode(data, coding, d));
    for (uint32_t i = 0; i < geo_.m; i++) {
      if (std::memcmp(coding[i], reader.Data(geo_.k + i), d) != 0) {
        report.bad++;
        AddProblem(report, fmt::format("{}: parity does not match the stripe's data",
                                       reader.Describe(geo_.k + i)));
      }
    }
  }
  if (options.progress) options.progress(done, stripes.size());
  return Ok();
}

}  // namespace tessera
