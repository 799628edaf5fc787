// Keys and values of the root tree. Every key starts with a one-byte kind;
// integers inside keys are big-endian so that keys sort numerically.
//
//   'b' segment(8)                      -> allocation bitmap of one segment
//   'd' name                            -> DatasetRecord
//   's' dataset_id(8) txg(8)            -> SnapshotRecord
//   'l' dataset_id(8) owner(8) addr(8)  -> DeadEntry: a node the dataset's
//        live tree dropped while a snapshot still referenced it; owner is the
//        txg of the snapshot after which it was dropped, or kLiveOwner. addr
//        is the node's first copy; the entry names its other copies, if any.
//   'e' dataset_id(8) addr(8)           -> ExtentEntry: a run of data blocks
//        the dataset owns outside its tree (a volume's data rows).
//   'm' vdev(8) dataset_id(8) row(8)    -> note(8): a row of the dataset's
//        data that missed a write on the vdev (tier << 32 | index), for its
//        catch-up (core/db/missed_writes.cc); note tells notes apart.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tree/node_store.h"
#include "core/util/status.h"

namespace tessera {

inline constexpr uint64_t kLiveOwner = UINT64_MAX;

struct DatasetRecord {
  uint64_t id = 0;
  uint64_t created_txg = 0;
  uint64_t latest_snapshot_txg = 0;  // 0: no snapshot
  BlockPtr root;
};

struct SnapshotRecord {
  std::string name;
  uint64_t txg = 0;
  uint64_t created_unix = 0;
  BlockPtr root;
  // Identity of the snapshot's contents, kept by a copy made from a diff
  // stream (core/volume diff streams check it). Never 0 once decoded.
  uint64_t guid = 0;
};

struct DeadEntry {
  uint64_t birth = 0;
  uint32_t blocks = 0;
  uint64_t copy_address = 0;  // a node's second copy (ditto), 0 if none; 0 for extents
  std::array<uint64_t, kMaxNodeCopies - 2> more_copies{};  // third copy on (BlockPtr)
  // Every copy's address, given the first (the entry's key).
  std::vector<uint64_t> CopyAddresses(uint64_t address) const;
};

std::string BitmapKey(uint64_t segment);
std::string DatasetKey(std::string_view name);
std::string SnapshotPrefix(uint64_t dataset_id);
std::string SnapshotKey(uint64_t dataset_id, uint64_t txg);
std::string DeadListsPrefix(uint64_t dataset_id);  // every owner's dead list
std::string DeadPrefix(uint64_t dataset_id, uint64_t owner);
std::string DeadKey(uint64_t dataset_id, uint64_t owner, uint64_t address);
std::string ExtentPrefix(uint64_t dataset_id);
std::string ExtentKey(uint64_t dataset_id, uint64_t address);
std::string MissedPrefix(uint64_t vdev);
std::string MissedKey(uint64_t vdev, uint64_t dataset_id, uint64_t row);
// The smallest key greater than every key with this prefix.
std::string PrefixEnd(std::string_view prefix);
// The integer of a key's first 8 bytes (fewer bytes are its low ones).
uint64_t ReadBigEndian(std::string_view bytes);

std::string EncodeDatasetRecord(const DatasetRecord& record);
Result<DatasetRecord> DecodeDatasetRecord(std::string_view value);
std::string EncodeSnapshotRecord(const SnapshotRecord& record);
Result<SnapshotRecord> DecodeSnapshotRecord(std::string_view value);
std::string EncodeMissedNote(uint64_t note);
Result<uint64_t> DecodeMissedNote(std::string_view value);
// An extent entry is a DeadEntry too: birth txg and length in blocks.
std::string EncodeDeadEntry(const DeadEntry& entry);
Result<DeadEntry> DecodeDeadEntry(std::string_view value);

}  // namespace tessera
