// The value types of Storage's management calls: volume specs and infos,
// pool and vdev status, reports, diffs and progress. Apart from storage.h so
// that core/control and admin/ name them without the database
// (core/db/database.h) or the volume objects.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/db/db_types.h"
#include "core/pool/address.h"
#include "core/util/io_stats.h"

namespace tessera {

struct VolumeSpec {
  std::string name;
  uint64_t size = 0;                 // bytes, multiple of 4096
  std::string layout = "simple";     // "simple", "stripe:N" or "rs:K+M" (core/volume/layout.h)
  std::optional<Tier> tier;          // preferred data tier; default: the slowest that exists
  // A vdev attribute (host, rack) whose values a row's devices all differ
  // in (row_query.h); empty: only distinct vdevs.
  std::string spread;
};

struct VolumeInfo {
  std::string name;
  uint64_t id = 0;                   // dataset id
  uint64_t size = 0;
  std::string layout;
  std::string tier;
  std::string spread;                // VolumeSpec::spread; empty when none
  uint64_t mapped_bytes = 0;         // bytes that read as data, not holes
  uint64_t allocated_bytes = 0;      // bytes of the data rows
  bool open = false;                 // currently exported / in use
  std::string origin;                // a clone's origin "VOLUME@SNAPSHOT"; empty otherwise
  // Bytes of the data rows by the tier their blocks are on: where new rows
  // go is `tier`, but rows from before a move, or kept by snapshots, may
  // be elsewhere.
  std::map<std::string, uint64_t> tier_bytes;
};

// A volume as an NBD export listing shows it: no space accounting, so
// listing costs one exNode read per volume (Storage::ListExports).
struct ExportInfo {
  std::string name;
  uint64_t size = 0;
  std::string layout;
  std::vector<std::string> snapshots;  // names, oldest first
};

// Where a flatten stands (Storage::FlattenVolume).
struct FlattenProgress {
  uint64_t offset = 0;        // the next byte offset to copy from
  uint64_t size = 0;          // bytes that may read from the origin: min(volume, origin) size
  uint64_t copied_bytes = 0;  // copied by this step
  bool done = false;          // the origin is detached
};

// Where a volume move stands (Storage::MoveVolume): each call is one step.
struct MoveProgress {
  std::string tier;          // where the volume's rows go now
  uint64_t moved_bytes = 0;  // live data this step rewrote on the tier
  uint64_t rows_left = 0;    // rows off the tier still to move or free
  uint64_t bytes_left = 0;   // the live data in them
  // Bytes of rows off the tier that only snapshots need: they stay where
  // they are until those snapshots are deleted.
  uint64_t held_bytes = 0;
  bool done = false;         // nothing left to move
};

// Where a vdev remove stands (PoolApi::RemoveVdev): each call is one step.
struct VdevRemoveProgress {
  std::string name;           // the vdev
  std::string phase;          // "data", "metadata" or "removed"
  std::string volume;         // the volume whose rows this step moved, if any
  uint64_t moved_bytes = 0;   // live data this step rewrote on other vdevs
  uint64_t nodes_moved = 0;   // tree nodes this step wrote on other vdevs
  uint64_t rows_left = 0;     // volumes' data rows with a block on the vdev
  uint64_t used_bytes = 0;    // what is still allocated on the vdev
  bool done = false;          // the vdev is out of the pool
};

// Where a pool rebalance stands (PoolApi::RebalancePool): each call is one
// step.
struct RebalanceProgress {
  std::string tier;           // the tier this step balanced ("" when none needs it)
  std::string vdev;           // that tier's fullest vdev, which a row left
  std::string volume;         // the volume whose row moved
  uint64_t moved_bytes = 0;   // live data this step rewrote
  uint64_t spread_bytes = 0;  // most used minus least used vdev of the tier, before the step
  uint64_t slack_bytes = 0;   // the spread a tier may keep: twice the largest row block
  // No tier's spread is above the slack, or no row that has settled can
  // leave the fullest vdev (spread_bytes then says how far apart it is).
  bool done = false;
  bool blocked = false;       // done, with a spread left that only rows snapshots pin could shrink
};

struct VdevStatus {
  std::string name;
  std::string path;
  std::string tier;
  uint32_t index = 0;
  uint64_t size_bytes = 0;
  uint64_t used_bytes = 0;
  // online, offline, faulted, missing, removed (VdevStateName), or removing
  // (online, draining: a vdev remove is under way)
  std::string state;
  std::map<std::string, std::string> attrs;
  // Since the pool was opened (SlotVdev counters).
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t flush_errors = 0;
  uint64_t checksum_errors = 0;
};

// A vdev to add to a running pool (PoolApi::AddVdev): its pool.conf
// section. An empty name picks vdevK, with K the pool's vdev count (or the
// next number free); a relative path is taken inside the pool directory;
// tier is fastest, fast, slow or slowest; attrs are the section's other
// keys (kind, io, preallocate, host, ...).
struct VdevSpec {
  std::string name;
  std::string path;
  uint64_t size = 0;
  std::string tier = "fastest";
  std::map<std::string, std::string> attrs;
  // A block device is taken whatever it holds (core/pool/file_vdev_kind.h
  // contract 3); `vdev add --force`.
  bool force = false;
};

// A volume with data on a vdev that is not online.
struct VolumeHealth {
  std::string name;
  std::string state;      // "degraded" (redundancy covers it) or "unavailable" (data cannot be read)
  uint64_t rows = 0;      // rows with blocks on vdevs that are not online
  std::vector<std::string> vdevs;  // those vdevs
};

// Where a volume's data rows are (PoolStatus::placement): the tier new rows
// go to, and the bytes of its rows on each tier, as VolumeInfo has them.
struct VolumePlacement {
  std::string name;
  std::string tier;
  std::map<std::string, uint64_t> tier_bytes;
};

// Progress of a long operation: `done` of `total` units of `what`.
struct Progress {
  std::string what;
  uint64_t done = 0;
  uint64_t total = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

enum class InspectDepth { kQuick, kScan, kFull };
// "quick", "scan" or "full".
std::string_view InspectDepthName(InspectDepth depth);

struct VolumeInspectReport {
  std::string volume;
  std::string depth;                 // quick | scan | full
  bool repair = false;
  uint64_t checked = 0;              // chunks (rs), blocks (others), rows/blocks for quick
  uint64_t bad = 0;                  // bad units found
  uint64_t repaired = 0;             // chunks rewritten with their correct content
  uint64_t replaced_blocks = 0;      // row blocks moved off vdevs that are not online
  uint64_t unrecoverable = 0;        // units whose content is lost
  std::vector<std::string> problems;  // the first ones
  bool clean() const { return bad == 0 && unrecoverable == 0; }
};

struct ScrubReport {
  uint64_t volumes = 0;
  uint64_t checked = 0;              // chunks of rs volumes + blocks of the others
  uint64_t repaired = 0;
  uint64_t unrecoverable = 0;
  uint64_t degraded = 0;             // bad units that could not be rewritten (vdev not online)
  CheckReport metadata;              // the metadata part (design note in storage_scrub.cc)
  std::vector<std::string> problems;
  bool clean() const { return unrecoverable == 0 && degraded == 0 && metadata.clean(); }
};

struct VdevReplaceReport {
  std::string vdev;
  std::string old_path;
  std::string new_path;
  uint64_t copied_blocks = 0;        // copied from the old device (it was readable)
  uint64_t rebuilt_chunks = 0;       // rebuilt from parity
  uint64_t unrecoverable_blocks = 0; // data held by the old device, not redundant, not readable
  uint64_t metadata_copies_rebuilt = 0;  // tree node and superblock copies rewritten
  std::vector<std::string> volumes;  // volumes whose data was rebuilt
  std::vector<std::string> problems;
};

// What vdev online did: the device is back, and the rows it missed while
// it was away (writes that failed there, or that a failed flush left in
// doubt) were repaired from the other chunks of their stripes.
struct VdevOnlineReport {
  std::string vdev;
  bool was_online = false;          // it was online already (it came back by itself)
  uint64_t rows = 0;                // rows that had missed writes on it
  uint64_t rebuilt_chunks = 0;      // chunks rewritten there
  uint64_t unrecoverable_chunks = 0;
  uint64_t rows_left = 0;           // rows still to catch up (their repair failed)
  std::vector<std::string> volumes;  // volumes whose rows were repaired
  std::vector<std::string> problems;
};

// One changed range of a volume diff, in bytes. `zero`: the newer side
// reads zeros there (trimmed or never written); otherwise it holds data.
struct DiffRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool zero = false;
};

struct VolumeDiff {
  std::string volume;
  std::string from;  // snapshot name; empty: from nothing (every mapped range)
  std::string to;    // snapshot name; empty: the live volume
  uint64_t size = 0;  // bytes, of the newer side
  // Changed ranges in offset order, merged: adjacent changed blocks form one
  // range whatever their kind (zero is set only when all of it reads zeros).
  std::vector<DiffRange> ranges;
  uint64_t changed_bytes = 0;
  uint64_t nodes_visited = 0;  // tree nodes the diff read (TreeDiffStats)
};

// What a diff stream carried (written or applied).
struct DiffStreamInfo {
  std::string volume;       // the source volume named in the stream
  std::string base;         // base snapshot name, empty for a full stream
  std::string target;       // target snapshot name
  uint64_t records = 0;
  uint64_t data_bytes = 0;
  uint64_t zero_bytes = 0;
  uint64_t stream_bytes = 0;
};

// I/O since the pool was opened (PoolApi::GetIoReport), for `pool iostat`
// and `tessera metrics`: what each vdev's device did, what each export's
// clients asked for.
struct VdevIoReport {
  std::string name;
  std::string tier;
  IoTotals reads, writes, flushes;
};
struct VolumeIoReport {
  std::string name;  // an export: VOLUME or VOLUME@SNAPSHOT
  IoTotals reads, writes, flushes, discards;
  uint64_t cache_hit_pages = 0;   // 4 KiB pages read from its cache
  uint64_t cache_miss_pages = 0;  // pages its cache read from below
  // The cleaner: rows relocated (bytes: live data rewritten) and rows freed
  // (bytes: their size); core/volume/volume_io.h.
  IoTotals cleaner_moved, cleaner_freed;
};
struct PoolIoReport {
  std::string pool;
  uint64_t opened_ns = 0;   // the server's monotonic clock when the pool opened
  uint64_t sampled_ns = 0;  // ... and when this report was taken
  std::vector<VdevIoReport> vdevs;
  std::vector<VolumeIoReport> volumes;  // exports opened since the pool was
};

// The server's memory for caches (StorageOptions::memory_bytes) and its use.
struct MemoryUse {
  uint64_t limit_bytes = 0;
  uint64_t data_bytes = 0;      // every volume's page cache
  uint64_t dirty_bytes = 0;     // of data_bytes, not yet written down
  uint64_t metadata_bytes = 0;  // the tree's node cache
};

// What one step of automatic tiering did (Storage::TierStep).
struct TieringMove {
  bool moved = false;
  std::string volume;
  uint64_t row_offset = 0;  // the row's start in the volume's data segment
  std::string from;         // tiers
  std::string to;
  uint64_t bytes = 0;       // of the row's blocks
  double heat = 0;          // when chosen (RowHeat contract 1)
};

// Automatic tiering as pool.conf sets it, and what it moved since the pool
// was opened.
struct TieringStatus {
  bool enabled = false;
  uint32_t limit_percent = 0;
  uint32_t half_life_s = 0;
  uint64_t promoted_rows = 0;
  uint64_t promoted_bytes = 0;
  uint64_t demoted_rows = 0;
  uint64_t demoted_bytes = 0;
};

struct PoolStatus {
  std::string name;
  std::string uuid;
  uint64_t txg = 0;
  uint64_t size_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t free_bytes = 0;
  // Part of used_bytes that no live volume references but snapshots hold:
  // dropped tree nodes on dead lists, and data rows with no live block that
  // a snapshot pins (storage_space.cc).
  uint64_t dead_pinned_bytes = 0;
  std::vector<VdevStatus> vdevs;
  size_t volumes = 0;
  std::string health = "online";     // online | degraded (some vdev not online)
  // Copies of each tree node: the pool's setting (raised to M+1 by rs:K+M
  // volumes), and what a node written now gets (fewer while too few
  // vdevs of the metadata tiers are online).
  uint32_t metadata_copies = 0;
  uint32_t metadata_copies_written = 0;
  std::vector<VolumeHealth> degraded_volumes;
  // Every volume's data rows by tier: a spill to another tier (its tier
  // full), a move under way and automatic tiering show here.
  std::vector<VolumePlacement> placement;
  MemoryUse memory;  // of the process that opened the pool: the server, or the CLI when none runs
  TieringStatus tiering;  // its counters are the opening process's, like memory
};

}  // namespace tessera
