// CacheSegment writes, write-back, FUA and Flush.
//
// Write, per chunk of chunk_bytes_, split head / aligned body / tail at
// page_size (BlockSpan):
//   1. under mu_, wait until no page of the chunk is kLoading; pin the
//      cached edge pages the write covers only partly, and insert kLoading
//      placeholders for the uncached ones;
//   2. unlock and fill each placeholder (LoadForPatch): zeros when
//      lower->Extents says the page is all hole, else one lower Read; lock
//      and install them clean;
//   3. copy the data into every page of the chunk (inserting whole pages
//      without reading) and mark them dirty;
//   4. unlock; if dirty bytes exceed dirty_max_bytes, hand the oldest dirty
//      pages down (EnforceDirtyBound).
// With kWriteFua, after all chunks: WriteThrough the written pages, then
// lower->Flush().
//
// Write-back (WriteBack) takes pages kDirty -> kWriting under mu_, builds
// one WriteBlocks batch (one BlockWrite per page, sorted by offset, the
// buffers shared with the pages), calls it with mu_ released, and settles
// the pages under mu_ again (state diagram in cache_segment.cc).
//
// Invariants
//  1. At most one write-back of a page is in flight: only kDirty pages are
//     taken, and they stay kWriting until settled. Write-backs of one page
//     therefore reach the lower segment in the order of their data.
//  2. A page is settled clean only when the WriteBlocks that carried it
//     succeeded and nobody wrote the page meanwhile (redirty_seq == 0).
//  3. WriteThrough waits until no page of its range is kWriting before it
//     takes any, so two FUA writers never wait on each other's pages.
//  4. EnforceDirtyBound starts a batch only when the dirty bytes not already
//     in flight exceed the low mark (dirty_max - min(batch_max, dirty_max/2)),
//     so batches are large and writers below the mark never do I/O; it waits
//     only while dirty plus in-flight bytes exceed dirty_max (back-pressure),
//     and such a wait always has a write-back in flight to end it.
#include <algorithm>
#include <cstring>

#include "core/segment/cache_segment.h"

namespace tessera {

Status CacheSegment::Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) {
  std::shared_lock gate(gate_);
  TRY_STATUS(CheckRange(offset, data.size()));
  if (data.empty()) return Ok();
  if (WritesAround(offset, data.size())) return WriteAround(offset, data, flags);
  const uint64_t end = offset + data.size();
  uint64_t at = offset;
  while (at < end) {
    uint64_t room = chunk_bytes_ - at % options_.page_size;
    uint64_t stop = at + std::min(room, end - at);
    TRY_STATUS(WriteChunk(at, data.subspan(at - offset, stop - at)));
    TRY_STATUS(EnforceDirtyBound());
    ReclaimIfOver();
    at = stop;
  }
  if (flags & kWriteFua) {
    TRY_STATUS(WriteThrough(offset / options_.page_size, (end - 1) / options_.page_size));
  }
  return Ok();
}

bool CacheSegment::WritesAround(uint64_t offset, uint64_t length) const {
  const uint64_t ps = options_.page_size;
  return options_.write_around_bytes > 0 && length >= options_.write_around_bytes &&
         offset % ps == 0 && (length % ps == 0 || offset + length == lower_->Size());
}

Status CacheSegment::WriteAround(uint64_t offset, std::span<const std::byte> data, uint32_t flags) {
  const uint64_t first = offset / options_.page_size;
  const uint64_t last = (offset + data.size() - 1) / options_.page_size;
  {
    Lock lock(mu_);
    auto busy = [&] {
      auto pages = CachedPagesLocked(first, last);
      return std::any_of(pages.begin(), pages.end(), [](Page* page) {
        return page->pins > 0 || page->state == PageState::kLoading ||
               page->state == PageState::kWriting;
      });
    };
    for (;;) {
      cv_.wait(lock, [&] { return !busy(); });  // Invariant 8 of cache_segment.cc.
      // Dirty pages are written back first: were the write below to fail,
      // dropping them would lose acknowledged data.
      std::vector<Page*> dirty = TakeDirtyInRangeLocked(first, last);
      if (dirty.empty()) break;
      TRY_STATUS(WriteBack(lock, std::move(dirty)));
    }
    for (Page* page : CachedPagesLocked(first, last)) DropLocked(*page);
    ++stats_.write_around_writes;
  }
  return lower_->Write(offset, data, flags & kWriteFua);
}

Status CacheSegment::WriteChunk(uint64_t offset, std::span<const std::byte> data) {
  const uint64_t ps = options_.page_size;
  BlockSpan span = TRY(SplitBlockSpan(offset, data.size(), ps));
  std::vector<uint64_t> partial;
  for (const ByteRange& edge : {span.head, span.tail}) {
    if (!edge.empty() && !CoversPage(edge)) partial.push_back(edge.offset / ps);
  }
  const uint64_t first = offset / ps;
  const uint64_t last = (offset + data.size() - 1) / ps;

  Lock lock(mu_);
  cv_.wait(lock, [&] { return !AnyLoadingLocked(first, last); });
  std::vector<Page*> pinned;
  std::vector<std::pair<uint64_t, std::shared_ptr<AlignedBuffer>>> loads;
  for (uint64_t index : partial) {
    if (Page* page = FindLocked(index)) {
      ++page->pins;
      pinned.push_back(page);
    } else {
      Page& placeholder = InsertLocked(index, PageState::kLoading);
      placeholder.pins = 1;
      loads.emplace_back(index, placeholder.buf);
    }
  }
  if (!loads.empty()) {
    EvictLocked();
    lock.unlock();
    // Placeholders are ours alone (invariant 1 of cache_segment.cc), so
    // their buffers are filled without mu_.
    std::vector<Result<bool>> filled;
    for (auto& [index, buf] : loads) filled.push_back(LoadForPatch(index, *buf));
    lock.lock();
    Status error = Ok();
    for (size_t k = 0; k < loads.size(); ++k) {
      uint64_t index = loads[k].first;
      if (!filled[k]) {
        EraseLocked(index);
        if (error) error = Err(filled[k].error());
        continue;
      }
      ++(*filled[k] ? stats_.rmw_read_pages : stats_.rmw_hole_pages);
      Page* page = FindLocked(index);
      MakeCleanLocked(*page);
      pinned.push_back(page);
    }
    cv_.notify_all();
    if (!error) {
      for (Page* page : pinned) --page->pins;
      return error;
    }
  }

  for (uint64_t i = first; i <= last; ++i) {
    Page* page = FindLocked(i);
    while (page != nullptr && page->state == PageState::kLoading) {
      cv_.wait(lock);  // A reader's placeholder; we own none now.
      page = FindLocked(i);
    }
    // Absent here means a whole page: partial ones are pinned.
    if (page == nullptr) page = &InsertLocked(i, PageState::kClean);
    uint64_t page_start = PageOffset(i);
    uint64_t from = std::max(offset, page_start);
    uint64_t to = std::min(offset + data.size(), page_start + ps);
    PatchLocked(*page, from - page_start, data.data() + (from - offset), to - from);
    MarkDirtyLocked(*page);
  }
  for (Page* page : pinned) --page->pins;
  EvictLocked();
  return Ok();
}

Result<bool> CacheSegment::LoadForPatch(uint64_t index, AlignedBuffer& into) {
  const uint64_t offset = PageOffset(index);
  const uint64_t length = PageLength(index);
  auto extents = lower_->Extents(offset, length);
  bool hole = extents && std::all_of(extents->begin(), extents->end(),
                                     [](const SegmentExtent& e) { return e.hole; });
  if (hole) return false;  // The buffer is already zeros.
  TRY_STATUS(lower_->Read(offset, into.span().subspan(0, length)));
  return true;
}

std::vector<CacheSegment::Page*> CacheSegment::TakeDirtyInRangeLocked(uint64_t first, uint64_t last) {
  std::vector<Page*> taken;
  for (Page* page : CachedPagesLocked(first, last)) {
    if (page->state != PageState::kDirty) continue;
    dirty_.erase(page->seq);
    page->state = PageState::kWriting;
    writing_.emplace(page->seq, page);
    taken.push_back(page);
  }
  std::sort(taken.begin(), taken.end(), [](Page* a, Page* b) { return a->index < b->index; });
  return taken;
}

std::vector<CacheSegment::Page*> CacheSegment::TakeOldestDirtyLocked(uint64_t max_bytes,
                                                                     uint64_t max_seq) {
  std::vector<Page*> batch;
  uint64_t bytes = 0;
  while (!dirty_.empty() && dirty_.begin()->first <= max_seq &&
         bytes + options_.page_size <= max_bytes) {
    Page* page = dirty_.begin()->second;
    dirty_.erase(dirty_.begin());
    page->state = PageState::kWriting;
    writing_.emplace(page->seq, page);
    batch.push_back(page);
    bytes += options_.page_size;
  }
  std::sort(batch.begin(), batch.end(), [](Page* a, Page* b) { return a->index < b->index; });
  return batch;
}

Status CacheSegment::WriteBack(Lock& lock, std::vector<Page*> batch) {
  if (batch.empty()) return Ok();
  std::vector<std::shared_ptr<AlignedBuffer>> buffers;
  std::vector<BlockWrite> writes;
  buffers.reserve(batch.size());
  writes.reserve(batch.size());
  for (Page* page : batch) {
    buffers.push_back(page->buf);  // Invariant 3 of cache_segment.cc.
    writes.push_back({.offset = PageOffset(page->index),
                      .data = {page->buf->data(), PageLength(page->index)}});
  }
  lock.unlock();
  Status status = lower_->WriteBlocks(writes);
  lock.lock();
  ++stats_.writeback_batches;
  stats_.writeback_pages += batch.size();
  if (!status) ++stats_.writeback_errors;
  for (Page* page : batch) {
    writing_.erase(page->seq);
    if (status && page->redirty_seq == 0) {
      MakeCleanLocked(*page);
      continue;
    }
    page->state = PageState::kDirty;
    if (status) page->seq = page->redirty_seq;  // Failed: keep the older seq.
    page->redirty_seq = 0;
    dirty_.emplace(page->seq, page);
  }
  SyncBudgetLocked();
  cv_.notify_all();
  return status;
}

Status CacheSegment::EnforceDirtyBound() {
  const uint64_t max = options_.dirty_max_bytes;
  const uint64_t low = max - std::min(options_.batch_max_bytes, max / 2);
  const MemoryBudget* budget = options_.budget.get();
  Lock lock(mu_);
  for (;;) {
    // Contract 11: over the budget's dirty limit, this cache's own dirty
    // pages go down before its writer adds more.
    if (dirty_.size() * options_.page_size > low || (budget && budget->DirtyOver() && !dirty_.empty())) {
      TRY_STATUS(WriteBack(lock, TakeOldestDirtyLocked(options_.batch_max_bytes, UINT64_MAX)));
    } else if (DirtyBytesLocked() > max) {
      cv_.wait(lock);  // Invariant 4.
    } else {
      return Ok();
    }
  }
}

Status CacheSegment::WriteThrough(uint64_t first, uint64_t last) {
  Lock lock(mu_);
  auto any_writing = [&] {
    auto pages = CachedPagesLocked(first, last);
    return std::any_of(pages.begin(), pages.end(),
                       [](Page* page) { return page->state == PageState::kWriting; });
  };
  cv_.wait(lock, [&] { return !any_writing(); });  // Invariant 3.
  std::vector<Page*> mine = TakeDirtyInRangeLocked(first, last);
  const size_t per_batch = options_.batch_max_bytes / options_.page_size;
  Status result = Ok();
  for (size_t i = 0; i < mine.size(); i += per_batch) {
    std::vector<Page*> part(mine.begin() + i, mine.begin() + std::min(i + per_batch, mine.size()));
    Status s = WriteBack(lock, std::move(part));  // Settles its pages even on failure.
    if (!s && result) result = s;
  }
  ++stats_.fua_writes;
  lock.unlock();
  TRY_STATUS(result);
  return lower_->Flush();
}

Status CacheSegment::Flush() {
  std::shared_lock gate(gate_);
  Lock lock(mu_);
  const uint64_t target = next_seq_;  // Invariant 4 of cache_segment.cc.
  for (;;) {
    if (!dirty_.empty() && dirty_.begin()->first <= target) {
      TRY_STATUS(WriteBack(lock, TakeOldestDirtyLocked(options_.batch_max_bytes, target)));
    } else if (!writing_.empty() && writing_.begin()->first <= target) {
      cv_.wait(lock);
    } else {
      break;
    }
  }
  ++stats_.flushes;
  lock.unlock();
  return lower_->Flush();
}

}  // namespace tessera
