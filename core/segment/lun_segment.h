// The lun segment: a logical unit striped over rows of data blocks, each
// block a contiguous run on one vdev (LStore's lun driver).
//
// exNode form:
//   [segment-ID]
//   type = lun
//   n_devices = N
//   chunk_size = BYTES          ; stripe unit, multiple of 4096
//   max_block_size = BYTES      ; size of each device's block in a row
//   query = 1:tier:1:slow:1.1:name:65:any:3.3
//   row = seg_offset:seg_end:row_len:block_1:offset_1:...:block_N:offset_N
//   [block-ID]  (one per device per row)
//   read_cap = write_cap = manage_cap = <disk address, e.g. slow:0:12345,
//              after the vdev's URI and '#' for a remote vdev (BlockCapability)>
//   size = max_size = BYTES, vdev = <vdev name>
//
// Contract
//  1. I/O must be 4 KiB-aligned (the log above only issues whole blocks);
//     anything else is InvalidArgument.
//  2. Within a row, byte r of the row lives on device (r / chunk) % N at
//     offset (r / chunk / N) * chunk + r % chunk of that device's block.
//  3. The segment grows only by whole rows (Grow), appended past its end,
//     whose blocks come from a LunBlockSource, on distinct vdevs (the query's
//     unique flag). RemoveRow drops a row (the log's cleaner frees its
//     blocks); I/O into a removed row is InvalidArgument.
//  4. Thread-safe: rows are appended under a shared_mutex; I/O holds it shared.
//  5. ReplaceBlock swaps one block of a row for another of the same size (a
//     repair moving a row off a lost vdev). The new block's content is the
//     caller's to rebuild; I/O after the call goes to the new block.
//  6. Inspect (any mode) checks that every block lies inside its vdev and
//     reports blocks whose vdev is not online.
//  7. The query can change (SetQuery, a volume moving to another tier):
//     rows already there stay where they are; Grow and Serialize use the
//     new one.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <vector>

#include "core/exnode/exnode.h"
#include "core/pool/pool.h"
#include "core/segment/data_segment.h"

namespace tessera {

// Allocates the blocks of a new row. Implemented by the volume layer (it owns
// the database and the resource query).
class LunBlockSource {
 public:
  virtual ~LunBlockSource() = default;
  virtual Result<std::vector<LunBlock>> AllocateRow(uint32_t n_devices, uint64_t block_bytes,
                                                    const std::string& query) = 0;
};

struct LunOptions {
  uint32_t n_devices = 1;
  uint64_t chunk_size = 64 * 1024;
  uint64_t max_block_size = 64ull << 20;
  std::string query;
};

class LunSegment : public DataSegment {
 public:
  LunSegment(uint64_t id, LunOptions options, Pool* pool, LunBlockSource* source);
  // Rebuilds a lun from its exNode section and blocks.
  static Result<std::unique_ptr<LunSegment>> FromExnode(const Exnode& exnode,
                                                        const ExnodeSegment& section, Pool* pool,
                                                        LunBlockSource* source);

  uint64_t id() const override { return id_; }
  SegmentType type() const override { return SegmentType::kLun; }
  uint64_t Size() const override;
  uint32_t BlockSize() const override { return 4096; }
  Status Read(uint64_t offset, std::span<std::byte> out) override;
  Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) override;
  Status WriteBlocks(std::span<const BlockWrite> writes) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length) override;
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override;
  Status Truncate(uint64_t new_size) override;
  Result<InspectReport> Inspect(InspectMode mode) override;
  std::string Signature() const override;
  Status Serialize(Exnode& exnode) const override;

  // Adds one row past the end; returns it.
  Result<LunRowDesc> Grow() override;
  // Removes the row starting at `seg_offset` and returns it (its blocks are
  // the caller's to free).
  Result<LunRowDesc> RemoveRow(uint64_t seg_offset) override;
  std::vector<LunRowDesc> Rows() const override;
  // Whether a row covers lun offset `offset` now.
  bool HasRowAt(uint64_t offset) const;
  LunSegment& lun() override { return *this; }
  // Contract 5: returns the block that was replaced. NotFound without such a
  // row, InvalidArgument for a bad position or a block of another size.
  Result<LunBlock> ReplaceBlock(uint64_t seg_offset, uint32_t position, LunBlock block);
  uint64_t row_bytes() const override { return options_.max_block_size * options_.n_devices; }
  uint64_t stripe_bytes() const override { return 4096; }
  // Its geometry; options().query is the query it was built with, query()
  // the one new rows use now.
  const LunOptions& options() const { return options_; }
  std::string query() const;
  // Contract 7: rows grown from now on come from `query`.
  void SetQuery(std::string query);

 private:
  // The `uri` of the vdev that `address` is on; empty for a local vdev or
  // without a pool (lun_exnode.cc, design note 2).
  std::string VdevUri(DiskAddress address) const;
  // Appends the pool requests for [offset, offset + buffer.size()).
  Status Map(uint64_t offset, std::span<std::byte> buffer, IoOp op, std::vector<PoolIo>& out) const;

  uint64_t id_;
  LunOptions options_;
  std::string query_;  // GUARDED_BY(mu_)
  Pool* pool_;
  LunBlockSource* source_;
  mutable std::shared_mutex mu_;
  // GUARDED_BY(mu_). Keyed by seg_offset; each row is row_bytes() long and
  // starts at a multiple of it. Rows only ever get appended past the end,
  // and freed rows leave gaps that are never reused.
  std::map<uint64_t, LunRowDesc> rows_;
};

}  // namespace tessera
