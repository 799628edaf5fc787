// Jerasure segment: reads.
//
// Design notes
//  1. A read is cut at stripe boundaries; each stripe is read under its
//     stripe lock, held shared (repairs included, contract 6).
//  2. Fast path (K > M only): read the data chunks the range touches in
//     full and the header block of the other data chunks. If every touched
//     chunk verifies and all K data headers agree on one write, that write
//     is the stripe's only write agreed by K chunks (StripeReader note 3):
//     copy out. Parity is not read.
//  2a. Zero copy: a touched data chunk that the range covers whole, landing
//     at a 4 KiB-aligned address of `out`, is read straight into `out` (its
//     header into the stripe buffer) and verified there. If the fast path
//     fails, the slow path uses it in place: as a decode input, or, if it
//     was bad, as the place its rebuilt data goes.
//  3. Otherwise (a missing, corrupt, stale or never-written chunk, or
//     K <= M) every chunk is read in full, judged and rebuilt
//     (StripeReader::Rebuild), the range is copied out of the rebuilt
//     stripe, and the rebuilt chunks are written back in place. A failed
//     write-back is counted, not returned: the data read is correct.
//  4. Whatever fails, `out` may hold partial data; the error is returned,
//     and nothing that failed verification is ever presented as a success.
//  5. VerifyWritten (contract 8) is the slow path for every stripe of the
//     range, whatever the fast path would say: a write torn by a crash can
//     leave the data chunks a read needs intact while the others hold only
//     their header (their data went down in a separate request that was
//     lost) or nothing; a read of those blocks succeeds, but the stripe has
//     fewer than K good chunks and cannot be decoded as a whole.
#include <algorithm>
#include <cstring>
#include <shared_mutex>
#include <vector>

#include "core/segment/jerasure_segment.h"
#include "core/segment/jerasure_stripe.h"

namespace tessera {

Status JerasureSegment::Read(uint64_t offset, std::span<std::byte> out) {
  TRY_STATUS(CheckRange(offset, out.size()));
  if (out.empty()) return Ok();
  const uint64_t sb = geo_.stripe_data_bytes();
  Buffer buf = AcquireBuffer();
  size_t done = 0;
  while (done < out.size()) {
    uint64_t pos = offset + done;
    uint64_t in_stripe = pos % sb;
    size_t n = static_cast<size_t>(std::min<uint64_t>(sb - in_stripe, out.size() - done));
    TRY_STATUS(ReadStripe(pos / sb, in_stripe, out.subspan(done, n), buf));
    done += n;
  }
  return Ok();
}

Status JerasureSegment::ReadStripe(uint64_t stripe, uint64_t in_stripe, std::span<std::byte> out,
                                   Buffer& buf) {
  std::shared_lock lock(StripeLock(stripe));
  const uint64_t d = geo_.data_bytes();
  const uint32_t first = static_cast<uint32_t>(in_stripe / d);
  const uint32_t last = static_cast<uint32_t>((in_stripe + out.size() - 1) / d);
  StripeReader reader(*this, stripe, buf.data());
  std::vector<bool> direct(geo_.k, false);  // data already read into `out`
  auto copy_out = [&] {
    size_t done = 0;
    while (done < out.size()) {
      uint64_t pos = in_stripe + done;
      uint32_t j = static_cast<uint32_t>(pos / d);
      size_t n = static_cast<size_t>(std::min<uint64_t>(d - pos % d, out.size() - done));
      if (!direct[j]) std::memcpy(out.data() + done, reader.Data(j) + pos % d, n);
      done += n;
    }
  };
  if (geo_.k > geo_.m) {
    for (uint32_t j = 0; j < geo_.k; j++) {
      bool touched = first <= j && j <= last;
      // A data chunk wholly inside `out`, at a 4 KiB-aligned address, is
      // read straight into it (design note 2a).
      bool covered = touched && j * d >= in_stripe && (j + 1) * d <= in_stripe + out.size();
      std::byte* target = covered ? out.data() + (j * d - in_stripe) : nullptr;
      direct[j] = covered && reinterpret_cast<uintptr_t>(target) % kBlockSize == 0;
      TRY_STATUS(direct[j] ? reader.LoadInto(j, target) : reader.Load(j, touched));
    }
    if (reader.DataAgrees(first, last)) {
      copy_out();
      Count([](JerasureStats& s) { s.stripes_read++; });
      return Ok();
    }
  }
  TRY_STATUS(reader.LoadAll(/*full=*/true));  // chunks already in `out` stay there
  StripeVerdict verdict = TRY(reader.Rebuild());
  Count([](JerasureStats& s) { s.stripes_read++; });
  if (verdict.kind == StripeVerdict::kNeverWritten) {
    std::fill(out.begin(), out.end(), std::byte{0});
    Count([](JerasureStats& s) { s.zero_stripe_reads++; });
    return Ok();
  }
  copy_out();
  reader.Repair(verdict);
  return Ok();
}

Status JerasureSegment::VerifyWritten(uint64_t offset, uint64_t length) {
  const uint64_t sb = geo_.stripe_data_bytes();
  if (offset % sb != 0 || length % sb != 0) {
    return Err(Code::kInvalidArgument, "jerasure segment {}: [{}, +{}) is not whole {}-byte stripes", id_,
               offset, length, sb);
  }
  TRY_STATUS(CheckRange(offset, length));
  Buffer buf = AcquireBuffer();
  for (uint64_t stripe = offset / sb; stripe < (offset + length) / sb; stripe++) {
    std::shared_lock lock(StripeLock(stripe));
    StripeReader reader(*this, stripe, buf.data());
    TRY_STATUS(reader.LoadAll(/*full=*/true));
    StripeVerdict verdict = TRY(reader.Rebuild());
    Count([](JerasureStats& s) { s.stripes_read++; });
    if (verdict.kind != StripeVerdict::kWritten) {
      return Err(Code::kIOError, "jerasure segment {}: stripe {} holds no complete write", id_, stripe);
    }
    reader.Repair(verdict);
  }
  return Ok();
}

}  // namespace tessera
