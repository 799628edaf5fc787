// The jerasure segment: K data + M parity chunks per stripe, over a lun
// segment of K + M devices (LStore's jerasure driver). Encoding is
// ErasureCode (Jerasure + GF-Complete); the chunk header is
// jerasure_format.h, documented in docs/format/jerasure-chunk.md.
//
// exNode form:
//   [segment-ID]
//   type = jerasure
//   segment = <lun id>
//   n_data_devs = K
//   n_parity_devs = M
//   w = W
//   chunk_size = C          ; equal to the lun's chunk_size
//   method = cauchy_good    ; ErasureMethodName
//
// Layout. The lun (n_devices = K + M, chunk_size = C) is cut into stripes
// of N * C bytes (N = K + M); stripe s is lun bytes [s*N*C, (s+1)*N*C), one
// C-byte chunk per device. Chunk j (0..K-1 data, K..N-1 parity) of stripe s
// sits at position (j + s) mod N, so parity rotates over the devices and
// healthy reads use all of them. A chunk is a 4096-byte header and
// D = C - 4096 data bytes. Stripe s holds logical bytes
// [s*K*D, (s+1)*K*D); data chunk j holds [s*K*D + j*D, s*K*D + (j+1)*D).
//
// Contract (in addition to segment.h)
//  1. Write accepts whole stripes only: offset and length multiples of
//     stripe_bytes() (= K * D = BlockSize()); anything else is
//     InvalidArgument and writes nothing. Each stripe write gets a new
//     generation and writes all N chunks; parity is never updated in place.
//     A stripe write succeeds when at most M of its chunk writes fail (a
//     degraded write, counted); with more it is IOError, and the stripe
//     may then hold neither its old nor its new content (so callers write
//     only stripes whose old content they no longer need, as a log does).
//  2. Read accepts any range. Every chunk it uses is verified: header
//     checksum, identity (segment, stripe, index, geometry) and data
//     checksum, and its write must be agreed by K chunks. Up to M missing
//     (IOError), corrupt, misplaced or stale chunks are rebuilt from the
//     others, checked against the checksums in the surviving headers,
//     returned, and rewritten in place (same generation). More than M is
//     IOError "stripe S: ..." and the output is not to be used; data that
//     did not verify is never returned. When K > M and the data chunks
//     verify and agree, parity is not read: bad parity is found by Inspect
//     (or by the next read that needs it), not by healthy reads.
//  3. A stripe with no write of this segment agreed by K chunks, but with at
//     least K chunks that are not this segment's (all-zero headers, no
//     header magic, or another segment's id), has never been written here
//     and reads as zeros. (This is how a never-written or torn first write
//     reads after a crash.)
//  4. Trim is a no-op (the log above tracks the mapping); Extents reports
//     all data. Truncate grows the lun by rows and never shrinks; rows are
//     removed only by RemoveRow (the log's cleaner).
//  5. Flush flushes the lun. If that fails and the segment was given the
//     pool, every vdev of the lun is flushed and up to M failed vdevs are
//     tolerated (counted); more is IOError.
//  6. Thread-safe: stripes are locked (hashed stripe locks); reads and
//     their repairs hold a stripe's lock shared, writes exclusive. Repairs
//     by concurrent readers write identical bytes.
//  7. Inspect: kQuick checks the layout; kScan reads and checks every chunk
//     header; kFull reads every chunk and re-encodes every stripe to check
//     its parity. Inspect(mode) never repairs; InspectRows(mode, options) with
//     options.repair rebuilds every bad chunk of a stripe that has at most M
//     and rewrites it in place (counted in `repaired`; a stripe with more is
//     counted in `unrecoverable`). options.rows limits the pass to some rows
//     (a rebuild after a vdev replacement).
//  8. VerifyWritten (log replay) reads every chunk of each stripe in the
//     range in full, parity included: a stripe passes when one write is
//     agreed by K chunks whose data verifies; its other chunks are rebuilt
//     and rewritten in place as a repair would (failed rewrites counted).
//     A stripe with more than M bad chunks, or that reads as never written
//     (contract 3), is IOError. A read (contract 2) checks only the chunks
//     it returns, so a torn write can read well in part and still not be
//     decodable as a whole.
//  9. Missed writes (data_segment.h, MissedWriteHook): every chunk write
//     that failed in a degraded write (contract 1), and every rewrite of a
//     repair (contracts 2 and 7) that failed, is reported with its vdev and
//     lun row; and when a flush finds vdevs that fail (contract 5), every
//     row written since the last good flush that has a block on one of
//     them is reported for it, since what landed there may not be durable.
//     Nothing is reported without a hook.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <vector>

#include "core/segment/erasure_code.h"
#include "core/segment/jerasure_format.h"
#include "core/segment/lun_segment.h"
#include "core/segment/segment.h"
#include "core/util/aligned_buffer.h"

namespace tessera {

struct JerasureOptions {
  uint32_t n_data_devs = 4;
  uint32_t n_parity_devs = 2;
  uint32_t w = 8;
  ErasureMethod method = ErasureMethod::kCauchyGood;
};

struct JerasureGeometry {
  uint32_t k = 0;
  uint32_t m = 0;
  uint32_t w = 0;
  uint64_t chunk_size = 0;  // C
  ErasureMethod method = ErasureMethod::kCauchyGood;
  uint32_t packet_size = 0;  // bitmatrix methods; derived, see PacketSizeFor

  uint32_t n() const { return k + m; }
  uint64_t data_bytes() const { return chunk_size - kChunkHeaderBytes; }  // D
  uint64_t stripe_data_bytes() const { return k * data_bytes(); }         // K * D
  uint64_t stripe_lun_bytes() const { return n() * chunk_size; }          // N * C
  uint32_t Position(uint64_t stripe, uint32_t j) const {
    return static_cast<uint32_t>((j + stripe % n()) % n());
  }
  uint64_t ChunkLunOffset(uint64_t stripe, uint32_t j) const {
    return stripe * stripe_lun_bytes() + Position(stripe, j) * chunk_size;
  }
};

// Counters since construction.
struct JerasureStats {
  uint64_t stripes_written = 0;
  uint64_t stripes_read = 0;
  uint64_t degraded_reads = 0;         // stripe reads that needed parity
  uint64_t rebuilt_chunks = 0;         // chunks decoded from the others
  uint64_t repaired_chunks = 0;        // rebuilt chunks rewritten in place
  uint64_t repair_write_failures = 0;  // rewrites the device refused
  uint64_t unrecoverable_stripes = 0;  // reads failed: more than M chunks bad
  uint64_t zero_stripe_reads = 0;      // never-written stripes (contract 3)
  uint64_t chunk_read_errors = 0;      // IOError from a device
  uint64_t corrupt_chunks = 0;         // bad header, misplaced, bad data
  uint64_t stale_chunks = 0;           // a valid chunk of another write
  uint64_t failed_chunk_writes = 0;    // degraded writes (contract 1)
  uint64_t failed_vdev_flushes = 0;    // tolerated flush failures (contract 5)
};


// Where a chunk lives, for tests and messages.
struct ChunkLocation {
  uint64_t lun_offset = 0;
  uint32_t position = 0;  // device position in the lun row
  DiskAddress address;    // first block of the chunk
  std::string vdev;
};

class StripeReader;

class JerasureSegment : public DataSegment {
 public:
  // Checks the parameters against each other and the lun (n_devices ==
  // K + M, K + M <= 256, chunk_size a multiple of 4096 in [8 KiB, 16 MiB],
  // the method's constraints on K, M, w and D). `pool` is optional (contract 5).
  static Result<std::unique_ptr<JerasureSegment>> Create(uint64_t id, JerasureOptions options,
                                                         std::shared_ptr<LunSegment> lun,
                                                         Pool* pool = nullptr);
  // From a [segment-ID] section; `lun` must be the segment its `segment` key
  // names. Errors start with the section label.
  static Result<std::unique_ptr<JerasureSegment>> FromExnode(const ExnodeSegment& section,
                                                             std::shared_ptr<LunSegment> lun,
                                                             Pool* pool = nullptr);
  // The packet size the segment uses for a bitmatrix method: the largest
  // multiple of 8, at most kMaxPacketSize, with data_bytes % (w * p) == 0;
  // 0 for matrix methods. InvalidArgument when there is none. Part of the
  // format: it is recorded in every chunk header.
  static Result<uint32_t> PacketSizeFor(ErasureMethod method, uint32_t w, uint64_t data_bytes);
  static constexpr uint32_t kMaxPacketSize = 8192;  // bench/erasure_bench.cc sweep

  uint64_t id() const override { return id_; }
  SegmentType type() const override { return SegmentType::kJerasure; }
  uint64_t Size() const override;
  uint32_t BlockSize() const override { return static_cast<uint32_t>(geo_.stripe_data_bytes()); }
  Status Read(uint64_t offset, std::span<std::byte> out) override;
  Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) override;
  Status WriteBlocks(std::span<const BlockWrite> writes) override;
  Status Flush() override;
  Status VerifyWritten(uint64_t offset, uint64_t length) override;
  Status Trim(uint64_t offset, uint64_t length) override;
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override;
  Status Truncate(uint64_t new_size) override;
  Result<InspectReport> Inspect(InspectMode mode) override;
  Result<InspectReport> InspectRows(InspectMode mode, const RowInspectOptions& options) override;
  uint32_t parity() const override { return geo_.m; }
  std::string Signature() const override;
  Status Serialize(Exnode& exnode) const override;

  const JerasureGeometry& geometry() const { return geo_; }
  // K * D: the unit of writes (contract 1).
  uint64_t stripe_bytes() const override { return geo_.stripe_data_bytes(); }
  uint64_t StripeCount() const;
  // Logical bytes per lun row: the lun's max_block_size / C stripes. Row r
  // is [r * row_bytes(), (r + 1) * row_bytes()), as the lun's row r is
  // [r * lun.row_bytes(), ...). Rows the lun removed leave gaps: I/O there
  // is InvalidArgument, and Inspect skips them.
  uint64_t row_bytes() const override;
  // The lun's row operations with offsets in this segment's bytes: Grow
  // appends a row (Size() grows by row_bytes()), RemoveRow drops the row
  // starting at `seg_offset` (a multiple of row_bytes(); its blocks are the
  // caller's to free), Rows lists the rows.
  Result<LunRowDesc> Grow() override;
  Result<LunRowDesc> RemoveRow(uint64_t seg_offset) override;
  std::vector<LunRowDesc> Rows() const override;
  LunSegment& lun() override { return *lun_; }
  JerasureStats stats() const;
  Result<ChunkLocation> LocateChunk(uint64_t stripe, uint32_t j) const;
  void SetMissedWriteHook(MissedWriteHook hook) override { missed_hook_ = std::move(hook); }

 private:
  friend class StripeReader;
  JerasureSegment(uint64_t id, JerasureGeometry geo, std::unique_ptr<ErasureCode> code,
                  std::shared_ptr<LunSegment> lun, Pool* pool);

  // A pooled N * C buffer (4 KiB-aligned); returned to the pool on
  // destruction, which keeps at most kPooledBytes (and at least one buffer).
  class Buffer {
   public:
    Buffer(JerasureSegment* owner, std::unique_ptr<AlignedBuffer> b)
        : owner_(owner), buffer_(std::move(b)) {}
    Buffer(Buffer&&) = default;
    ~Buffer();
    std::byte* data() { return buffer_->data(); }

   private:
    JerasureSegment* owner_;
    std::unique_ptr<AlignedBuffer> buffer_;
  };
  Buffer AcquireBuffer();

  std::shared_mutex& StripeLock(uint64_t stripe) { return stripe_locks_[stripe % kStripeLocks]; }
  // Writes `count` stripes from `data` starting at `first` (exclusive locks held).
  Status WriteStripesLocked(uint64_t first, uint64_t count, std::span<const std::byte> data);
  // Builds stripe `stripe` in `buf`: all N headers and the parity; the data
  // too unless `direct` (then it is encoded from `data` in place).
  Status BuildStripe(uint64_t stripe, std::span<const std::byte> data, std::byte* buf, bool direct);
  // Per-chunk retry after a failed batch: IOError when a stripe lost > M.
  Status WriteChunksOneByOne(uint64_t first, uint64_t count, std::vector<Buffer>& bufs);
  Status ReadStripe(uint64_t stripe, uint64_t in_stripe, std::span<std::byte> out, Buffer& buf);
  // Contract 5; contract 9 for `written`, the lun rows written since the
  // last good flush.
  Status FlushEachVdev(const std::set<uint64_t>& written);
  // Contract 9: chunk j of `stripe` missed its write.
  void NoteMissedChunk(uint64_t stripe, uint32_t j);
  // Contract 9: stripes [first, first + count) were written; their rows
  // are kept until a good flush.
  void NoteWritten(uint64_t first, uint64_t count);
  LunRowDesc ToLogical(LunRowDesc row) const;
  void NoteGeneration(uint64_t seen);
  template <typename Fn>
  void Count(Fn fn) const {
    std::lock_guard lock(stats_mu_);
    fn(stats_);
  }
  Status InspectLayout(InspectReport& report) const;
  Status InspectStripes(InspectMode mode, const RowInspectOptions& options,
                        InspectReport& report);
  // Rebuilds and rewrites the bad chunks of `stripe` (its lock held).
  void RepairStripe(StripeReader& reader, uint64_t stripe, InspectReport& report);
  // The pool slot of a chunk's vdev, for its error counters; null if unknown.
  SlotVdev* SlotOf(uint64_t stripe, uint32_t j) const;

  static constexpr size_t kStripeLocks = 64;
  static constexpr uint64_t kPooledBytes = 64ull << 20;  // at least one buffer is kept
  static constexpr uint64_t kWriteBatchBytes = 16ull << 20;

  const uint64_t id_;
  const JerasureGeometry geo_;
  const std::unique_ptr<ErasureCode> code_;
  const std::shared_ptr<LunSegment> lun_;
  Pool* const pool_;  // may be null

  std::array<std::shared_mutex, kStripeLocks> stripe_locks_;
  std::atomic<uint64_t> next_generation_;
  std::mutex buffers_mu_;
  std::vector<std::unique_ptr<AlignedBuffer>> free_buffers_;  // GUARDED_BY(buffers_mu_)
  mutable std::mutex stats_mu_;
  mutable JerasureStats stats_;  // GUARDED_BY(stats_mu_)
  MissedWriteHook missed_hook_;  // set before the first write
  std::mutex written_mu_;
  std::set<uint64_t> written_rows_;  // GUARDED_BY(written_mu_); lun rows since the last good flush
};

}  // namespace tessera
