// CacheSegment reads: hits, misses and read-ahead.
//
// A Read is done in chunks of chunk_bytes_ (so that one huge read cannot
// flood the cache). For each chunk, under mu_:
//   1. wait until no page of the chunk is kLoading (invariant 1 of
//      cache_segment.cc: we own no placeholder yet, so waiting is safe);
//   2. pin the cached pages of the chunk; insert kLoading placeholders for
//      the missing ones, and, when the read continues the previous one
//      sequentially and the page right after it is not cached, for the
//      missing pages of the next readahead_bytes_ too (only for reads
//      shorter than readahead_bytes_);
//   3. unlock, read each contiguous run of placeholders with ONE lower Read,
//      lock, install them clean (LoadPages);
//   4. copy the chunk out of the pages, unpin, evict down to capacity.
//
// Invariants
//  1. Placeholders are pinned (pins == 1) by their creator, so the pages a
//     Read copies from are all still cached at step 4 (eviction skips pinned
//     pages; Trim/Truncate are excluded by gate_).
//  2. A failed read-ahead run does not fail the Read; a failed run that
//     holds a page of the chunk does, and its placeholders are removed.
//  3. Read-ahead never waits: pages already cached or loading are skipped.
#include <algorithm>
#include <cstring>

#include "core/segment/cache_segment.h"
#include "core/util/align.h"

namespace tessera {

Status CacheSegment::Read(uint64_t offset, std::span<std::byte> out) {
  std::shared_lock gate(gate_);
  TRY_STATUS(CheckRange(offset, out.size()));
  if (out.empty()) return Ok();
  const uint64_t end = offset + out.size();
  bool sequential;
  {
    std::lock_guard lock(mu_);
    sequential = offset == last_read_end_;
    last_read_end_ = end;
  }
  uint64_t at = offset;
  while (at < end) {
    uint64_t room = chunk_bytes_ - at % options_.page_size;
    uint64_t stop = at + std::min(room, end - at);
    // Small sequential reads are read ahead; a read of readahead_bytes_ or
    // more is its own read-ahead.
    bool small = out.size() < readahead_bytes_;
    uint64_t readahead = stop == end && sequential && small ? readahead_bytes_ : 0;
    TRY_STATUS(ReadChunk(at, out.subspan(at - offset, stop - at), readahead));
    ReclaimIfOver();
    at = stop;
  }
  return Ok();
}

Status CacheSegment::ReadChunk(uint64_t offset, std::span<std::byte> out, uint64_t readahead) {
  const uint64_t ps = options_.page_size;
  const uint64_t first = offset / ps;
  const uint64_t last = (offset + out.size() - 1) / ps;
  Lock lock(mu_);
  cv_.wait(lock, [&] { return !AnyLoadingLocked(first, last); });
  if (readahead == 0 && CachedPagesLocked(first, last).empty()) {
    // Nothing of the chunk is cached: read it straight into `out` (design
    // note 5) rather than through pages that would be copied once more.
    stats_.read_miss_pages += last - first + 1;
    CountReads(0, last - first + 1);
    ++stats_.lower_reads;
    ++stats_.bypass_reads;
    lock.unlock();
    return lower_->Read(offset, out);
  }

  std::vector<Page*> pinned;
  std::vector<uint64_t> loads;
  for (uint64_t i = first; i <= last; ++i) {
    if (Page* page = FindLocked(i)) {
      ++page->pins;
      pinned.push_back(page);
    } else {
      loads.push_back(i);
    }
  }
  const uint64_t misses = loads.size();
  if (readahead > 0) {
    uint64_t final_page = (lower_->Size() - 1) / ps;
    uint64_t ra_last = std::min(final_page, last + readahead / ps);
    if (last < ra_last && FindLocked(last + 1) == nullptr) {
      for (uint64_t i = last + 1; i <= ra_last; ++i) {
        if (FindLocked(i) == nullptr) loads.push_back(i);
      }
    }
  }
  stats_.read_hit_pages += pinned.size();
  stats_.read_miss_pages += misses;
  CountReads(pinned.size(), misses);
  stats_.readahead_pages += loads.size() - misses;

  Status loaded = Ok();
  if (!loads.empty()) {
    for (uint64_t i : loads) InsertLocked(i, PageState::kLoading).pins = 1;
    EvictLocked();
    lock.unlock();
    loaded = LoadPages(lock, loads);  // Returns with mu_ held.
  }

  bool complete = true;
  for (uint64_t i = first; i <= last; ++i) {
    Page* page = FindLocked(i);
    if (page == nullptr) {
      complete = false;
      continue;
    }
    uint64_t page_start = PageOffset(i);
    uint64_t from = std::max(offset, page_start);
    uint64_t to = std::min(offset + out.size(), page_start + ps);
    std::memcpy(out.data() + (from - offset), page->buf->data() + (from - page_start), to - from);
    TouchLocked(*page);
  }
  for (Page* page : pinned) --page->pins;
  for (uint64_t i : loads) {
    if (Page* page = FindLocked(i)) --page->pins;
  }
  EvictLocked();
  if (!complete) return loaded;  // Invariant 2.
  return Ok();
}

Status CacheSegment::LoadPages(Lock& lock, const std::vector<uint64_t>& indices) {
  struct Run {
    size_t begin = 0;  // into indices
    size_t end = 0;
    AlignedBuffer data;
    Status status;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (runs.empty() || indices[i] != indices[i - 1] + 1) runs.push_back({.begin = i});
    runs.back().end = i + 1;
  }
  for (Run& run : runs) {
    uint64_t first = indices[run.begin];
    uint64_t last = indices[run.end - 1];
    uint64_t bytes = PageOffset(last) + PageLength(last) - PageOffset(first);
    run.data = AlignedBuffer(bytes);
    run.status = lower_->Read(PageOffset(first), run.data.span());
  }

  lock.lock();
  Status first_error = Ok();
  for (Run& run : runs) {
    ++stats_.lower_reads;
    if (!run.status && first_error) first_error = run.status;
    for (size_t k = run.begin; k < run.end; ++k) {
      uint64_t index = indices[k];
      Page* page = FindLocked(index);  // Ours and kLoading (invariant 1).
      if (!run.status) {
        EraseLocked(index);
        continue;
      }
      uint64_t at = PageOffset(index) - PageOffset(indices[run.begin]);
      std::memcpy(page->buf->data(), run.data.data() + at, PageLength(index));
      MakeCleanLocked(*page);
    }
  }
  cv_.notify_all();
  return first_error;
}

}  // namespace tessera
