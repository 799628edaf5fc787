// FileSegment: a segment mapped onto one local file (LStore's simplest
// driver). All I/O goes through a FileVdev (4 KiB blocks, io_uring, O_DIRECT
// when available); this class only splits byte ranges into blocks.
//
// exNode form:
//   [segment-ID]
//   type=file
//   path=/absolute/or/relative/path
//   size=BYTES
//
// Contract (beyond segment.h)
//  1. BlockSize() is 4096. Unaligned ranges are split head / aligned body /
//     tail (core/segment/block_span.h); a partial edge block costs a read
//     (read-modify-write).
//  2. The file holds at least Size() rounded up to 4 KiB; bytes of it past
//     Size() are kept zero.
//  3. Write is durable after a later Flush() (fdatasync), or when it returns
//     with kWriteFua.
//  4. Trim discards whole blocks (punching holes) and writes zeros into
//     partial edge blocks. Extents reports everything as data: the file
//     segment keeps no map of holes.
//  5. Truncate shrinking zeroes what lies past the new end (the file keeps
//     its length); growing past the file's length extends the file first.
//  6. Thread-safe. Concurrent writes that overlap give an unspecified result
//     (as on a disk); concurrent unaligned writes to disjoint bytes of one
//     block are serialized so that neither is lost.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "core/exnode/exnode.h"
#include "core/segment/segment.h"
#include "core/vdev/file_vdev.h"

namespace tessera {

struct FileSegmentOptions {
  bool use_direct = true;    // O_DIRECT when the file system allows it
  bool use_io_uring = true;  // else pread/pwrite inside FileVdev
};

class FileSegment final : public Segment {
 public:
  // Opens the file at `path` as segment `id` of `size` bytes. With `create`
  // the file is created, or truncated if it exists (all zeros). Without it,
  // the file must exist (NotFound) and hold at least `size` bytes rounded up
  // to 4 KiB (else InvalidArgument naming the path and both sizes).
  static Result<std::unique_ptr<FileSegment>> Open(uint64_t id, const std::string& path,
                                                   uint64_t size, bool create,
                                                   FileSegmentOptions options = {});
  // Opens an existing file segment from its exNode section (never creates).
  // InvalidArgument when the section is not type=file; NotFound naming the
  // key when `path` or `size` is missing, e.g. "[segment-7] key 'path' missing".
  static Result<std::unique_ptr<FileSegment>> OpenFromExnode(const ExnodeSegment& section,
                                                             FileSegmentOptions options = {});

  uint64_t id() const override { return id_; }
  SegmentType type() const override { return SegmentType::kFile; }
  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }
  uint32_t BlockSize() const override { return kBlockSize; }
  const std::string& path() const { return path_; }

  Status Read(uint64_t offset, std::span<std::byte> out) override;
  Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length) override;
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override;
  Status Truncate(uint64_t new_size) override;
  // kQuick checks the file's length; kScan and kFull also read every block
  // and report the ones that fail.
  Result<InspectReport> Inspect(InspectMode mode) override;
  std::string Signature() const override { return "file"; }
  // Adds [segment-ID] type=file path=... size=...; InvalidArgument when the
  // exNode already has a segment with this id.
  Status Serialize(Exnode& exnode) const override;

 private:
  static constexpr size_t kEdgeLockStripes = 64;

  FileSegment(uint64_t id, std::string path, uint64_t size, FileSegmentOptions options,
              std::unique_ptr<FileVdev> vdev);

  // file_segment.cc. Callers hold io_mu_ (shared or exclusive).
  Status ReadLocked(uint64_t offset, std::span<std::byte> out);
  // Writes `data` at `offset`; a null data pointer with a length writes zeros
  // (used by Trim and Truncate for partial blocks).
  Status WriteLocked(uint64_t offset, std::span<const std::byte> data);
  Status ZeroLocked(uint64_t offset, uint64_t length);
  // Patches part of one 4 KiB block (read-modify-write under its edge lock).
  // `data` empty: zeros.
  Status PatchBlockLocked(uint64_t block_offset, uint64_t at, uint64_t length,
                          const std::byte* data);
  std::mutex& EdgeLock(uint64_t block_offset);

  const uint64_t id_;
  const std::string path_;
  const FileSegmentOptions options_;

  // Held shared by every I/O, exclusive by Truncate (which may replace vdev_).
  std::shared_mutex io_mu_;
  std::unique_ptr<FileVdev> vdev_;  // GUARDED_BY(io_mu_) for replacement
  std::atomic<uint64_t> size_;      // written only with io_mu_ exclusive
  // Serialize read-modify-write of one block: stripe = block number % 64.
  std::array<std::mutex, kEdgeLockStripes> edge_mu_;
};

}  // namespace tessera
