// CacheSegment: a write-back page cache over a lower segment (LStore's
// cache driver). It absorbs small random writes and hands them down as large
// batches (lower->WriteBlocks), serves reads from memory, reads ahead on
// sequential reads, and turns unaligned I/O into whole-page I/O below.
//
// exNode form:
//   [segment-ID]
//   type=cache
//   segment=<lower segment id>
//   page_size=BYTES
//   dirty_max=BYTES
//   (then the lower segment's own sections)
//
// Contract (beyond segment.h)
//  1. Write copies into pages and returns; the data reaches the lower segment
//     later (write-back). With kWriteFua, the pages of that write are handed
//     down and lower->Flush() has returned Ok before Write returns.
//  2. Flush() hands every dirty page down, then calls lower->Flush(): every
//     Write that completed before Flush() was called is durable below when
//     it returns Ok (durability: docs/architecture.md, Guarantees). Writes
//     racing with Flush may or may not be covered.
//  3. Dirty bytes stay within dirty_max_bytes (plus at most one write's
//     chunk): once the dirty bytes not already being written pass a low
//     mark, dirty_max_bytes - min(batch_max_bytes, dirty_max_bytes / 2), the
//     Write that passed it hands the oldest dirty pages down itself
//     (synchronously, one batch of up to batch_max_bytes) before returning;
//     a Write that finds dirty plus in-flight bytes above dirty_max_bytes
//     waits for the in-flight batches (back-pressure). If a hand-down fails,
//     Write returns the error; its data is still cached (dirty) and a later
//     Flush retries it. dirty_max_bytes = 0 makes the cache write-through.
//  4. Lower writes are only ever lower->WriteBlocks batches: each BlockWrite
//     is one whole page (the segment's last page may be shorter, but is
//     whole lower blocks), batches are sorted by offset and hold no page
//     twice. Pages are chosen oldest-dirtied first.
//  5. A partial write to a page that is not cached reads that page from
//     below first, unless lower->Extents reports the whole page as a hole,
//     in which case the page starts as zeros and nothing is read. A write
//     that covers a whole page never reads.
//  6. Trim drops cached pages wholly inside the range (dirty ones too: their
//     data is superseded and never written down), zeroes the trimmed part of
//     cached edge pages, then calls lower->Trim(offset, length). Extents is
//     lower->Extents with cached dirty pages reported as data.
//  7. Requires lower->Size() and every Truncate size to be a multiple of
//     lower->BlockSize() (InvalidArgument otherwise).
//  8. Thread-safe (nbdkit PARALLEL). No lower I/O happens under the cache's
//     page-table mutex, so writes to different pages never wait for each
//     other's I/O. Trim and Truncate exclude all other operations while they
//     run (they are rare); everything else runs concurrently.
//  9. The destructor does not flush: dirty data not flushed is dropped (and
//     a warning is logged), as a crash would drop it. Call Flush() first.
// 10. Write-around: a Write of at least write_around_bytes that starts on a
//     page boundary and covers whole pages (or ends at Size()) bypasses the
//     pages. Once no page of its range is being loaded, written back or
//     used, the range's cached pages are dropped (their data is superseded)
//     and the data goes to lower->Write (with kWriteFua when given). Reads
//     of a chunk with no cached page go straight to lower->Read into the
//     caller's buffer (cache_read.cc note 5).
// 11. With a MemoryBudget, the cache reports the pages and spare buffers it
//     holds, and its dirty bytes, to the budget (a member). Reads and writes
//     that leave the budget over its limit have it reclaim clean pages, the
//     largest caches first, this one included; a write while the budget's
//     dirty bytes are over its dirty limit first hands this cache's own
//     dirty pages down (EnforceDirtyBound), as its own dirty_max would.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "core/exnode/exnode.h"
#include "core/segment/block_span.h"
#include "core/segment/segment.h"
#include "core/util/aligned_buffer.h"
#include "core/util/memory_budget.h"

namespace tessera {

// Read hits and misses, shared with whoever reports them beyond this
// cache's life (a volume's iostat counters): the cache adds to them as it
// adds to its CacheStats.
struct CacheCounters {
  std::atomic<uint64_t> read_hit_pages{0};
  std::atomic<uint64_t> read_miss_pages{0};
};

struct CacheOptions {
  uint64_t page_size = 4096;                // a multiple of lower->BlockSize()
  uint64_t capacity_bytes = 256ull << 20;   // clean + dirty pages, >= page_size
  uint64_t dirty_max_bytes = 64ull << 20;   // write-back bound, <= capacity_bytes
  uint64_t readahead_bytes = 256ull << 10;  // 0: no read-ahead
  uint64_t batch_max_bytes = 4ull << 20;    // largest WriteBlocks batch, >= page_size
  // Page-aligned writes at least this long go straight down (contract 10);
  // 0: every write goes through pages.
  uint64_t write_around_bytes = 256ull << 10;
  std::shared_ptr<CacheCounters> counters;  // optional
  // Optional: the server's memory budget, shared with other caches
  // (contract 11). capacity_bytes and dirty_max_bytes still bound this cache.
  std::shared_ptr<MemoryBudget> budget;
};

// Counters since Create (pages are CacheOptions::page_size each).
struct CacheStats {
  uint64_t read_hit_pages = 0;      // Read pages found in the cache
  uint64_t read_miss_pages = 0;     // Read pages read from below
  uint64_t readahead_pages = 0;     // pages read ahead of a sequential Read
  uint64_t lower_reads = 0;         // lower->Read calls
  uint64_t bypass_reads = 0;        // of those, chunks read straight to the caller
  uint64_t rmw_read_pages = 0;      // partial writes that read the page first
  uint64_t rmw_hole_pages = 0;      // partial writes that started from zeros
  uint64_t writeback_batches = 0;   // lower->WriteBlocks calls
  uint64_t writeback_pages = 0;     // pages in those batches
  uint64_t writeback_errors = 0;    // failed WriteBlocks calls
  uint64_t fua_writes = 0;
  uint64_t write_around_writes = 0;  // Writes handed straight down (contract 10)
  uint64_t flushes = 0;             // Flush() calls that reached lower->Flush()
  uint64_t evicted_pages = 0;       // clean pages dropped for capacity
  uint64_t dropped_dirty_pages = 0;   // dirty pages discarded by Trim, Truncate or a write-around
  uint64_t cached_bytes = 0;        // now: every cached page
  uint64_t dirty_bytes = 0;         // now: dirty and being-written pages
};

class CacheSegment final : public Segment, private MemoryBudget::Member {
 public:
  // Fails with InvalidArgument naming the option that is out of bounds.
  static Result<std::unique_ptr<CacheSegment>> Create(uint64_t id, std::shared_ptr<Segment> lower,
                                                      CacheOptions options = {});
  // `defaults` with page_size and dirty_max taken from a type=cache section
  // when present. InvalidArgument for another type or a malformed value.
  static Result<CacheOptions> OptionsFromExnode(const ExnodeSegment& section,
                                                CacheOptions defaults);
  ~CacheSegment() override;
  CacheSegment(const CacheSegment&) = delete;
  CacheSegment& operator=(const CacheSegment&) = delete;

  uint64_t id() const override { return id_; }
  SegmentType type() const override { return SegmentType::kCache; }
  uint64_t Size() const override { return lower_->Size(); }
  uint32_t BlockSize() const override { return static_cast<uint32_t>(options_.page_size); }

  Status Read(uint64_t offset, std::span<std::byte> out) override;
  Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length) override;
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override;
  // Drops cached pages past the new end, then lower->Truncate.
  Status Truncate(uint64_t new_size) override;
  // Flushes, then lower->Inspect(mode).
  Result<InspectReport> Inspect(InspectMode mode) override;
  // "cache(page=4096,dirty_max=67108864)/" + lower->Signature()
  std::string Signature() const override;
  // Adds [segment-ID] type=cache segment=<lower id> page_size= dirty_max=,
  // then lower->Serialize(exnode). On failure the exNode is left unchanged
  // by this segment (the lower's own failure contract applies below).
  Status Serialize(Exnode& exnode) const override;

  CacheStats stats() const;
  const CacheOptions& options() const { return options_; }
  const std::shared_ptr<Segment>& lower() const { return lower_; }

 private:
  // Trim's parts (invariant 9 of cache_segment.cc).
  Status WriteZeros(uint64_t offset, uint64_t length);
  Status TrimBlocks(uint64_t offset, uint64_t length);
  // Page states; the transitions are drawn in cache_segment.cc.
  enum class PageState : uint8_t { kLoading, kClean, kDirty, kWriting };

  struct Page {
    uint64_t index = 0;
    PageState state = PageState::kClean;
    // page_size bytes, zero past Size(). Shared with an in-flight write-back
    // while kWriting; a write then replaces it with a private copy (COW).
    std::shared_ptr<AlignedBuffer> buf;
    uint64_t seq = 0;          // kDirty/kWriting: when it became dirty
    uint64_t redirty_seq = 0;  // kWriting: != 0 once modified during the write
    uint32_t pins = 0;         // > 0: an operation relies on it; not evicted
    std::list<uint64_t>::iterator lru;  // kClean only: its place in clean_lru_
  };
  using Lock = std::unique_lock<std::mutex>;

  CacheSegment(uint64_t id, std::shared_ptr<Segment> lower, CacheOptions options);

  // cache_segment.cc: page table bookkeeping. All need mu_ held.
  uint64_t PageOffset(uint64_t index) const { return index * options_.page_size; }
  void CountReads(uint64_t hits, uint64_t misses) {
    if (!options_.counters) return;
    options_.counters->read_hit_pages.fetch_add(hits, std::memory_order_relaxed);
    options_.counters->read_miss_pages.fetch_add(misses, std::memory_order_relaxed);
  }
  uint64_t PageLength(uint64_t index) const;
  // True when `r` (inside one page) covers that page's every byte.
  bool CoversPage(const ByteRange& r) const;
  Page* FindLocked(uint64_t index);
  Page& InsertLocked(uint64_t index, PageState state);
  // A zeroed page buffer, recycled from spare_buffers_ when there is one.
  std::shared_ptr<AlignedBuffer> NewBufferLocked();
  // Removes page `index` from the table, keeping its buffer as a spare when
  // nobody else holds it.
  void EraseLocked(uint64_t index);
  void MakeCleanLocked(Page& page);
  void MarkDirtyLocked(Page& page);
  void DropLocked(Page& page);
  void TouchLocked(Page& page);
  void EvictLocked();
  // Copies `data` into `page` at byte `at` of the page (zeros when data is
  // null), replacing a buffer shared with an in-flight write-back first.
  void PatchLocked(Page& page, uint64_t at, const std::byte* data, uint64_t length);
  bool AnyLoadingLocked(uint64_t first, uint64_t last);
  // Contract 11: brings the budget's totals to what this cache holds now.
  void SyncBudgetLocked();
  // Without mu_: reclaims when the budget is over its limit.
  void ReclaimIfOver();
  // MemoryBudget::Member: drops spare buffers, then clean unpinned pages,
  // least recently used first.
  uint64_t held_bytes() const override { return charged_held_.load(std::memory_order_relaxed); }
  uint64_t Shed(uint64_t bytes) override;
  uint64_t DirtyBytesLocked() const;
  // The cached pages with index in [first, last], in no particular order;
  // walks the indices or the table, whichever is shorter.
  std::vector<Page*> CachedPagesLocked(uint64_t first, uint64_t last);

  // cache_read.cc
  Status ReadChunk(uint64_t offset, std::span<std::byte> out, uint64_t readahead);
  // Reads the placeholders `indices` (sorted, kLoading, owned by the caller)
  // from below, one lower->Read per contiguous run, and installs them clean.
  // Called without mu_; returns with `lock` held. On failure the failed
  // placeholders are removed.
  Status LoadPages(Lock& lock, const std::vector<uint64_t>& indices);

  // cache_writeback.cc
  Status WriteChunk(uint64_t offset, std::span<const std::byte> data);
  bool WritesAround(uint64_t offset, uint64_t length) const;
  Status WriteAround(uint64_t offset, std::span<const std::byte> data, uint32_t flags);
  // Fills the placeholder `index` for a partial write: zeros if the lower
  // reports a hole (returns false), else the page read from below (true).
  // Called without mu_.
  Result<bool> LoadForPatch(uint64_t index, AlignedBuffer& into);
  // Marks up to `max_bytes` of the oldest dirty pages with seq <= max_seq as
  // kWriting and returns them sorted by offset.
  std::vector<Page*> TakeOldestDirtyLocked(uint64_t max_bytes, uint64_t max_seq);
  // Moves the kDirty pages among [first, last] to kWriting, in index order.
  std::vector<Page*> TakeDirtyInRangeLocked(uint64_t first, uint64_t last);
  // Hands `batch` (kWriting pages) down in one WriteBlocks, unlocking mu_
  // around it, and settles their states. `lock` is held on entry and exit.
  Status WriteBack(Lock& lock, std::vector<Page*> batch);
  Status EnforceDirtyBound();
  Status WriteThrough(uint64_t first, uint64_t last);

  const uint64_t id_;
  const std::shared_ptr<Segment> lower_;
  const CacheOptions options_;
  const uint64_t chunk_bytes_;      // large Read/Write are done in pieces of this
  const uint64_t readahead_bytes_;  // options_.readahead_bytes, capped

  // Held shared by Read, Write, Flush and Extents for their whole run (and
  // so around every lower Read/WriteBlocks), exclusive by Trim and Truncate.
  // Lock order: gate_ before mu_.
  std::shared_mutex gate_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a page left kLoading or kWriting
  std::unordered_map<uint64_t, std::unique_ptr<Page>> pages_;  // GUARDED_BY(mu_)
  std::list<uint64_t> clean_lru_;     // GUARDED_BY(mu_) kClean pages, LRU first
  std::map<uint64_t, Page*> dirty_;   // GUARDED_BY(mu_) kDirty pages by seq
  std::map<uint64_t, Page*> writing_; // GUARDED_BY(mu_) kWriting pages by seq
  uint64_t next_seq_ = 0;             // GUARDED_BY(mu_)
  uint64_t last_read_end_ = UINT64_MAX;  // GUARDED_BY(mu_)
  CacheStats stats_;                  // GUARDED_BY(mu_)
  // Buffers of dropped and evicted pages, for reuse (allocating 4 KiB-aligned
  // memory under mu_ costs more than zeroing a spare).
  static constexpr size_t kSpareBuffersMax = 1024;
  std::vector<std::shared_ptr<AlignedBuffer>> spare_buffers_;  // GUARDED_BY(mu_)
  // What this cache last reported to options_.budget (contract 11).
  std::atomic<uint64_t> charged_held_{0};  // written under mu_
  uint64_t charged_dirty_ = 0;             // GUARDED_BY(mu_)
};

}  // namespace tessera
