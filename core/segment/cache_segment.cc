// CacheSegment design notes (see also cache_read.cc, cache_writeback.cc)
//
// The cache is a table of pages (index -> Page) under one mutex, mu_. Page
// data is copied in and out under mu_; lower I/O never happens under it.
//
// Page states:
//
//   (absent) --ReadChunk/WriteChunk miss: placeholder--> kLoading
//   kLoading --LoadPages / LoadForPatch ok-------------> kClean   MakeCleanLocked
//   kLoading --load failed-----------------------------> (absent)
//   (absent) --WriteChunk, whole page------------------> kDirty   InsertLocked+MarkDirtyLocked
//   kClean   --WriteChunk-------------------------------> kDirty   MarkDirtyLocked
//   kDirty   --TakeOldestDirtyLocked / WriteThrough /
//              WriteAround------------------------------> kWriting
//   kWriting --WriteBack ok, untouched meanwhile-------> kClean
//   kWriting --WriteBack ok, written meanwhile---------> kDirty   (seq = redirty_seq)
//   kWriting --WriteBack failed------------------------> kDirty   (seq kept)
//   kClean   --EvictLocked (LRU, unpinned)-------------> (absent)
//   kClean/kDirty --Trim (whole page), Truncate--------> (absent) DropLocked
//   kClean   --WriteAround (unpinned)-------------------> (absent) DropLocked
//
// Invariants
//  1. A kLoading page is touched only by the operation that created it;
//     everyone else waits on cv_. An operation never waits while it owns a
//     kLoading page, so waits cannot form a cycle.
//  2. No lower I/O under mu_. Read, Write, Flush and Extents hold gate_
//     shared for their whole run; Trim and Truncate hold it exclusive. So
//     Trim/Truncate never meet a kLoading or kWriting page, and lower->Trim
//     can neither race a write-back of older data nor a read that would
//     cache pre-trim data.
//  3. A kWriting page's buffer may be shared with an in-flight WriteBlocks,
//     so it is never changed in place: PatchLocked gives the page a private
//     copy first and records redirty_seq. The page then stays dirty after
//     the write-back (a re-dirtied page is never marked clean).
//  4. dirty_ and writing_ hold exactly the kDirty and kWriting pages, keyed
//     by seq. seq is taken from next_seq_ when a page becomes dirty (or is
//     first written while kWriting) and is never raised by later writes, so
//     a Flush that starts when next_seq_ == T and writes down every page
//     with seq <= T (waiting for such pages in flight) covers every Write
//     completed before it started (durability:
//     docs/architecture.md, Guarantees).
//  5. clean_lru_ holds exactly the kClean pages, least recently used first.
//  6. Only kClean, unpinned pages are evicted. Cached bytes exceed capacity
//     only while all the rest are dirty, in flight or pinned.
//  7. Bytes of a page buffer past Size() are zero (buffers start zeroed,
//     loads fill only PageLength, writes stay inside Size(), and Truncate
//     zeroes the tail of a page it cuts).
//  8. A write-around (a large page-aligned Write, handed straight down)
//     first waits until no page of its range is kLoading, kWriting or
//     pinned, writes back the range's dirty pages (so a failed write-around
//     loses no acknowledged data), then drops the range's pages: no older
//     write-back can land below after it, and nobody holds a pointer to a
//     dropped page. It holds no page while it waits.
//  9. Trim hands only whole lower blocks down; the part of a lower block it
//     covers becomes a write of zeros through the cache. The lower segment
//     (the log) would otherwise patch that block from its own older content
//     while a newer write of the block still sat dirty here, and a power
//     loss could then leave the block with content it never had.
// 10. Pages of 4 KiB come from PagePool's slabs, not one aligned allocation
//     each, which cost about twice the page (page_pool.h): what the cache
//     reports to a MemoryBudget is then what it holds.
#include "core/segment/cache_segment.h"

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

#include "core/util/align.h"
#include "core/util/log.h"
#include "core/util/page_pool.h"

namespace tessera {
namespace {

// Marks [r.offset, r.end()) of `lower` as data, merging neighbours.
std::vector<SegmentExtent> OverlayData(const std::vector<SegmentExtent>& lower,
                                       const std::vector<ByteRange>& data) {
  std::vector<SegmentExtent> out;
  auto push = [&](uint64_t offset, uint64_t length, bool hole) {
    if (length == 0) return;
    if (!out.empty() && out.back().hole == hole && out.back().offset + out.back().length == offset) {
      out.back().length += length;
    } else {
      out.push_back({.offset = offset, .length = length, .hole = hole});
    }
  };
  size_t k = 0;
  for (const SegmentExtent& e : lower) {
    uint64_t at = e.offset;
    uint64_t end = e.offset + e.length;
    if (!e.hole) {
      push(at, e.length, false);
      continue;
    }
    while (k < data.size() && data[k].end() <= at) ++k;
    while (at < end) {
      if (k < data.size() && data[k].offset < end) {
        uint64_t start = std::max(data[k].offset, at);
        push(at, start - at, true);
        uint64_t stop = std::min(data[k].end(), end);
        push(start, stop - start, false);
        at = stop;
        if (data[k].end() <= end) ++k;
      } else {
        push(at, end - at, true);
        at = end;
      }
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<CacheSegment>> CacheSegment::Create(uint64_t id,
                                                           std::shared_ptr<Segment> lower,
                                                           CacheOptions options) {
  if (!lower) return Err(Code::kInvalidArgument, "cache segment {}: no lower segment", id);
  uint64_t block = lower->BlockSize();
  if (block == 0 || options.page_size == 0 || options.page_size % block != 0) {
    return Err(Code::kInvalidArgument,
               "cache segment {}: page_size {} is not a multiple of the lower block size {}", id,
               options.page_size, block);
  }
  if (options.capacity_bytes < options.page_size) {
    return Err(Code::kInvalidArgument, "cache segment {}: capacity_bytes {} < page_size {}", id,
               options.capacity_bytes, options.page_size);
  }
  if (options.dirty_max_bytes > options.capacity_bytes) {
    return Err(Code::kInvalidArgument, "cache segment {}: dirty_max_bytes {} > capacity_bytes {}",
               id, options.dirty_max_bytes, options.capacity_bytes);
  }
  if (options.batch_max_bytes < options.page_size) {
    return Err(Code::kInvalidArgument, "cache segment {}: batch_max_bytes {} < page_size {}", id,
               options.batch_max_bytes, options.page_size);
  }
  if (lower->Size() % block != 0) {
    return Err(Code::kInvalidArgument,
               "cache segment {}: lower size {} is not a multiple of its block size {}", id,
               lower->Size(), block);
  }
  return std::unique_ptr<CacheSegment>(new CacheSegment(id, std::move(lower), options));
}

CacheSegment::CacheSegment(uint64_t id, std::shared_ptr<Segment> lower, CacheOptions options)
    : id_(id),
      lower_(std::move(lower)),
      options_(options),
      chunk_bytes_(std::max(options.page_size,
                            AlignDown(std::min(options.batch_max_bytes, options.capacity_bytes / 4),
                                      options.page_size))),
      readahead_bytes_(AlignDown(std::min(options.readahead_bytes, options.capacity_bytes / 4),
                                 options.page_size)) {
  if (options_.budget) options_.budget->Join(this);
}

CacheSegment::~CacheSegment() {
  if (options_.budget) options_.budget->Leave(this);  // no Shed runs from here on
  std::lock_guard lock(mu_);
  if (uint64_t dirty = DirtyBytesLocked(); dirty > 0) {
    Log(LogLevel::kWarn, "cache segment {}: destroyed with {} dirty bytes not flushed", id_, dirty);
  }
  if (options_.budget) {
    options_.budget->Adjust(-static_cast<int64_t>(charged_held_.load()), -static_cast<int64_t>(charged_dirty_));
  }
}

void CacheSegment::SyncBudgetLocked() {
  if (!options_.budget) return;
  const uint64_t held = (pages_.size() + spare_buffers_.size()) * options_.page_size;
  const uint64_t dirty = DirtyBytesLocked();
  const uint64_t was = charged_held_.load(std::memory_order_relaxed);
  if (held == was && dirty == charged_dirty_) return;
  options_.budget->Adjust(static_cast<int64_t>(held) - static_cast<int64_t>(was),
                          static_cast<int64_t>(dirty) - static_cast<int64_t>(charged_dirty_));
  charged_held_.store(held, std::memory_order_relaxed);
  charged_dirty_ = dirty;
}

void CacheSegment::ReclaimIfOver() {
  if (options_.budget && options_.budget->Over()) options_.budget->Reclaim();
}

uint64_t CacheSegment::Shed(uint64_t bytes) {
  std::lock_guard lock(mu_);
  uint64_t dropped = 0;
  while (dropped < bytes && !spare_buffers_.empty()) {
    spare_buffers_.pop_back();
    dropped += options_.page_size;
  }
  for (auto it = clean_lru_.begin(); dropped < bytes && it != clean_lru_.end();) {
    Page* page = FindLocked(*it);
    ++it;
    if (page->pins > 0) continue;
    clean_lru_.erase(page->lru);
    pages_.erase(page->index);  // not EraseLocked: no spare is kept
    ++stats_.evicted_pages;
    dropped += options_.page_size;
  }
  SyncBudgetLocked();
  return dropped;
}

Result<CacheOptions> CacheSegment::OptionsFromExnode(const ExnodeSegment& section,
                                                     CacheOptions defaults) {
  if (section.type != SegmentType::kCache) {
    return Err(Code::kInvalidArgument, "{} is type {}, not cache", section.Label(),
               SegmentTypeName(section.type));
  }
  auto optional = [&](std::string_view key, uint64_t& into) -> Status {
    auto value = section.GetU64(key);
    if (value) {
      into = *value;
    } else if (value.error().code() != Code::kNotFound) {
      return Err(value.error());
    }
    return Ok();
  };
  TRY_STATUS(optional("page_size", defaults.page_size));
  TRY_STATUS(optional("dirty_max", defaults.dirty_max_bytes));
  return defaults;
}

uint64_t CacheSegment::PageLength(uint64_t index) const {
  uint64_t size = lower_->Size();
  uint64_t offset = PageOffset(index);
  return offset >= size ? 0 : std::min(options_.page_size, size - offset);
}

bool CacheSegment::CoversPage(const ByteRange& r) const {
  uint64_t index = r.offset / options_.page_size;
  return r.offset == PageOffset(index) && r.length == PageLength(index);
}

CacheSegment::Page* CacheSegment::FindLocked(uint64_t index) {
  auto it = pages_.find(index);
  return it == pages_.end() ? nullptr : it->second.get();
}

CacheSegment::Page& CacheSegment::InsertLocked(uint64_t index, PageState state) {
  auto page = std::make_unique<Page>();
  page->index = index;
  page->state = PageState::kLoading;
  page->buf = NewBufferLocked();
  Page& ref = *page;
  pages_.emplace(index, std::move(page));
  if (state == PageState::kClean) MakeCleanLocked(ref);
  return ref;
}

std::shared_ptr<AlignedBuffer> CacheSegment::NewBufferLocked() {
  if (spare_buffers_.empty()) {
    if (options_.page_size != PagePool::kPageBytes) return std::make_shared<AlignedBuffer>(options_.page_size);
    // Invariant 10: 4 KiB pages come from the shared PagePool.
    auto buf = std::make_shared<AlignedBuffer>(PagePool::Shared().Allocate(), PagePool::kPageBytes,
                                               [](std::byte* page) { PagePool::Shared().Release(page); });
    std::memset(buf->data(), 0, buf->size());  // Invariant 7: buffers start zeroed.
    return buf;
  }
  std::shared_ptr<AlignedBuffer> buf = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  std::memset(buf->data(), 0, buf->size());  // Invariant 7: buffers start zeroed.
  return buf;
}

void CacheSegment::EraseLocked(uint64_t index) {
  auto it = pages_.find(index);
  if (it == pages_.end()) return;
  std::shared_ptr<AlignedBuffer>& buf = it->second->buf;
  if (buf && buf.use_count() == 1 && spare_buffers_.size() < kSpareBuffersMax) {
    spare_buffers_.push_back(std::move(buf));
  }
  pages_.erase(it);
  SyncBudgetLocked();
}

void CacheSegment::MakeCleanLocked(Page& page) {
  page.state = PageState::kClean;
  page.seq = 0;
  page.redirty_seq = 0;
  page.lru = clean_lru_.insert(clean_lru_.end(), page.index);
}

void CacheSegment::MarkDirtyLocked(Page& page) {
  switch (page.state) {
    case PageState::kClean:
      clean_lru_.erase(page.lru);
      page.state = PageState::kDirty;
      page.seq = ++next_seq_;
      dirty_.emplace(page.seq, &page);
      break;
    case PageState::kWriting:
      if (page.redirty_seq == 0) page.redirty_seq = ++next_seq_;
      break;
    case PageState::kDirty:
    case PageState::kLoading:  // Callers install loads first.
      break;
  }
}

void CacheSegment::DropLocked(Page& page) {
  if (page.state == PageState::kClean) clean_lru_.erase(page.lru);
  if (page.state == PageState::kDirty) {
    dirty_.erase(page.seq);
    ++stats_.dropped_dirty_pages;
  }
  EraseLocked(page.index);
}

void CacheSegment::TouchLocked(Page& page) {
  if (page.state == PageState::kClean) clean_lru_.splice(clean_lru_.end(), clean_lru_, page.lru);
}

void CacheSegment::EvictLocked() {
  auto it = clean_lru_.begin();
  while (pages_.size() * options_.page_size > options_.capacity_bytes && it != clean_lru_.end()) {
    Page* page = FindLocked(*it);
    ++it;
    if (page->pins > 0) continue;
    clean_lru_.erase(page->lru);
    EraseLocked(page->index);
    ++stats_.evicted_pages;
  }
  SyncBudgetLocked();  // the pages and dirty bytes the caller added
}

void CacheSegment::PatchLocked(Page& page, uint64_t at, const std::byte* data, uint64_t length) {
  if (page.state == PageState::kWriting && page.redirty_seq == 0) {
    auto copy = NewBufferLocked();
    std::memcpy(copy->data(), page.buf->data(), options_.page_size);
    page.buf = std::move(copy);  // Invariant 3.
  }
  if (data != nullptr) {
    std::memcpy(page.buf->data() + at, data, length);
  } else {
    std::memset(page.buf->data() + at, 0, length);
  }
}

bool CacheSegment::AnyLoadingLocked(uint64_t first, uint64_t last) {
  auto pages = CachedPagesLocked(first, last);
  return std::any_of(pages.begin(), pages.end(),
                     [](Page* page) { return page->state == PageState::kLoading; });
}

uint64_t CacheSegment::DirtyBytesLocked() const {
  return (dirty_.size() + writing_.size()) * options_.page_size;
}

std::vector<CacheSegment::Page*> CacheSegment::CachedPagesLocked(uint64_t first, uint64_t last) {
  std::vector<Page*> hits;
  if (last - first < pages_.size()) {
    for (uint64_t i = first;; ++i) {
      if (Page* page = FindLocked(i)) hits.push_back(page);
      if (i == last) break;
    }
  } else {
    for (auto& [index, page] : pages_) {
      if (index >= first && index <= last) hits.push_back(page.get());
    }
  }
  return hits;
}

Status CacheSegment::Trim(uint64_t offset, uint64_t length) {
  TRY_STATUS(CheckRange(offset, length));
  if (length == 0) return Ok();
  // Invariant 9: the parts of lower blocks are zeros written through the
  // cache; only whole lower blocks are trimmed below.
  const uint64_t block = lower_->BlockSize();
  const uint64_t end = offset + length;
  const uint64_t inner_lo = std::min(AlignUp(offset, block).value_or(end), end);
  const uint64_t inner_hi = std::max(AlignDown(end, block), inner_lo);
  if (inner_lo == inner_hi) return WriteZeros(offset, length);
  if (offset < inner_lo) TRY_STATUS(WriteZeros(offset, inner_lo - offset));
  if (inner_hi < end) TRY_STATUS(WriteZeros(inner_hi, end - inner_hi));
  return TrimBlocks(inner_lo, inner_hi - inner_lo);
}

Status CacheSegment::WriteZeros(uint64_t offset, uint64_t length) {
  std::vector<std::byte> zeros(length);
  return Write(offset, zeros, kWriteNone);
}

Status CacheSegment::TrimBlocks(uint64_t offset, uint64_t length) {
  std::unique_lock gate(gate_);  // Invariant 2: exclusive.
  BlockSpan span = TRY(SplitBlockSpan(offset, length, options_.page_size));
  {
    std::lock_guard lock(mu_);
    for (const ByteRange& edge : {span.head, span.tail}) {
      if (edge.empty()) continue;
      Page* page = FindLocked(edge.offset / options_.page_size);
      if (page == nullptr) continue;
      if (CoversPage(edge)) {
        DropLocked(*page);
      } else {
        PatchLocked(*page, edge.offset - PageOffset(page->index), nullptr, edge.length);
      }
    }
    if (!span.body.empty()) {
      uint64_t first = span.body.offset / options_.page_size;
      uint64_t last = (span.body.end() - 1) / options_.page_size;
      for (Page* page : CachedPagesLocked(first, last)) DropLocked(*page);
    }
  }
  return lower_->Trim(offset, length);
}

Status CacheSegment::Truncate(uint64_t new_size) {
  std::unique_lock gate(gate_);  // Invariant 2: exclusive.
  if (new_size % lower_->BlockSize() != 0) {
    return Err(Code::kInvalidArgument,
               "cache segment {}: size {} is not a multiple of the lower block size {}", id_,
               new_size, lower_->BlockSize());
  }
  {
    std::lock_guard lock(mu_);
    uint64_t cut = new_size / options_.page_size;  // First page at or past the end.
    if (new_size % options_.page_size != 0) {
      if (Page* page = FindLocked(cut)) {
        uint64_t keep = new_size - PageOffset(cut);
        PatchLocked(*page, keep, nullptr, options_.page_size - keep);  // Invariant 7.
      }
      ++cut;
    }
    std::vector<Page*> doomed;
    for (auto& [index, page] : pages_) {
      if (index >= cut) doomed.push_back(page.get());
    }
    for (Page* page : doomed) DropLocked(*page);
  }
  return lower_->Truncate(new_size);
}

Result<std::vector<SegmentExtent>> CacheSegment::Extents(uint64_t offset, uint64_t length) {
  std::shared_lock gate(gate_);
  TRY_STATUS(CheckRange(offset, length));
  if (length == 0) return std::vector<SegmentExtent>{};
  // Snapshot the dirty pages before asking below: a page dirty now is data
  // whatever happens next; one written back after the snapshot is already
  // in the lower segment when we ask it.
  std::vector<ByteRange> dirty;
  {
    std::lock_guard lock(mu_);
    uint64_t first = offset / options_.page_size;
    uint64_t last = (offset + length - 1) / options_.page_size;
    for (Page* page : CachedPagesLocked(first, last)) {
      if (page->state != PageState::kDirty && page->state != PageState::kWriting) continue;
      uint64_t start = std::max(offset, PageOffset(page->index));
      uint64_t end = std::min(offset + length, PageOffset(page->index) + PageLength(page->index));
      dirty.push_back({start, end - start});
    }
  }
  std::sort(dirty.begin(), dirty.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<SegmentExtent> below = TRY(lower_->Extents(offset, length));
  return OverlayData(below, dirty);
}

Result<InspectReport> CacheSegment::Inspect(InspectMode mode) {
  TRY_STATUS(Flush());
  return lower_->Inspect(mode);
}

std::string CacheSegment::Signature() const {
  return fmt::format("cache(page={},dirty_max={})/{}", options_.page_size,
                     options_.dirty_max_bytes, lower_->Signature());
}

Status CacheSegment::Serialize(Exnode& exnode) const {
  if (id_ > kMaxId63) return Err(Code::kInvalidArgument, "segment id {} is not 63-bit", id_);
  if (exnode.FindSegment(id_) != nullptr) {
    return Err(Code::kInvalidArgument, "exNode already has [segment-{}]", id_);
  }
  ExnodeSegment section{.id = id_, .type = SegmentType::kCache, .params = {}};
  section.Add("segment", std::to_string(lower_->id()));
  section.Add("page_size", std::to_string(options_.page_size));
  section.Add("dirty_max", std::to_string(options_.dirty_max_bytes));
  exnode.segments.push_back(std::move(section));
  Status lower = lower_->Serialize(exnode);
  if (!lower) {
    auto it = std::find_if(exnode.segments.begin(), exnode.segments.end(),
                           [&](const ExnodeSegment& s) { return s.id == id_; });
    if (it != exnode.segments.end()) exnode.segments.erase(it);
  }
  return lower;
}

CacheStats CacheSegment::stats() const {
  std::lock_guard lock(mu_);
  CacheStats out = stats_;
  out.cached_bytes = pages_.size() * options_.page_size;
  out.dirty_bytes = DirtyBytesLocked();
  return out;
}

}  // namespace tessera
