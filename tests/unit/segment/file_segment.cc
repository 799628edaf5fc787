// FileSegment design notes
//
// Every byte range is split by SplitBlockSpan at 4 KiB:
//
//   [ head | body (whole blocks) | tail ]
//   Read:  head block and tail block into bounce buffers, body straight into
//          the caller's buffer, all in one FileVdev batch.
//   Write: head and tail by PatchBlockLocked (read the block, patch, write it
//          back, under the block's edge lock); body as one vdev write.
//   Trim:  body by Vdev::Discard (hole punch on a regular file), head and
//          tail by patching zeros.
//
// Invariants
//  1. No system call here touches file data; FileVdev does all data I/O.
//     The one exception is growing the file in Truncate (resize_file), after
//     which FileVdev is reopened because its size is fixed at Open().
//  2. vdev_->Size() >= AlignUp(Size(), 4096) at all times; Truncate grows the
//     file before it raises size_, and lowers size_ only after zeroing.
//  3. Bytes of the file past Size() are zero: Open(create) starts zeroed,
//     Write and Trim stay inside Size(), Truncate zeroes before shrinking.
//  4. io_mu_ is held shared by every operation that uses vdev_ and exclusive
//     by Truncate, so vdev_ is never replaced under an I/O, and a range
//     checked under io_mu_ stays valid until it is released.
//  5. A partial block is only ever rewritten under its edge lock, so two
//     read-modify-writes of one block never interleave.
#include "tests/unit/segment/file_segment.h"

#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/segment/block_span.h"
#include "core/util/align.h"
#include "core/util/aligned_buffer.h"

namespace tessera {
namespace {

BlockNo BlockOf(uint64_t byte_offset) { return BlockNo{byte_offset >> kBlockShift}; }

}  // namespace

FileSegment::FileSegment(uint64_t id, std::string path, uint64_t size, FileSegmentOptions options,
                         std::unique_ptr<FileVdev> vdev)
    : id_(id),
      path_(std::move(path)),
      options_(options),
      vdev_(std::move(vdev)),
      size_(size) {}

Result<std::unique_ptr<FileSegment>> FileSegment::Open(uint64_t id, const std::string& path,
                                                       uint64_t size, bool create,
                                                       FileSegmentOptions options) {
  auto rounded = AlignUp(size, kBlockSize);
  if (!rounded) return Err(Code::kInvalidArgument, "file segment size {} is too large", size);
  FileVdevOptions vdev_options{.create = create,
                               .create_size = BlockCount{*rounded >> kBlockShift},
                               .use_direct = options.use_direct,
                               .use_io_uring = options.use_io_uring};
  std::unique_ptr<FileVdev> vdev = TRY(FileVdev::Open(path, vdev_options));
  if (vdev->Size().bytes() < *rounded) {
    return Err(Code::kInvalidArgument,
               "file segment {}: {} holds {} bytes, fewer than the segment's {} bytes", id, path,
               vdev->Size().bytes(), size);
  }
  return std::unique_ptr<FileSegment>(new FileSegment(id, path, size, options, std::move(vdev)));
}

Result<std::unique_ptr<FileSegment>> FileSegment::OpenFromExnode(const ExnodeSegment& section,
                                                                 FileSegmentOptions options) {
  if (section.type != SegmentType::kFile) {
    return Err(Code::kInvalidArgument, "{} is type {}, not file", section.Label(),
               SegmentTypeName(section.type));
  }
  std::string path = TRY(section.GetString("path"));
  uint64_t size = TRY(section.GetU64("size"));
  if (path.empty()) return Err(Code::kInvalidArgument, "{} key 'path' is empty", section.Label());
  auto opened = Open(section.id, path, size, /*create=*/false, options);
  if (!opened) return Err(opened.error().WithContext(section.Label()));
  return opened;
}

std::mutex& FileSegment::EdgeLock(uint64_t block_offset) {
  return edge_mu_[(block_offset >> kBlockShift) % kEdgeLockStripes];
}

Status FileSegment::ReadLocked(uint64_t offset, std::span<std::byte> out) {
  BlockSpan span = TRY(SplitBlockSpan(offset, out.size(), kBlockSize));
  AlignedBuffer head_buf(span.head.empty() ? 0 : kBlockSize);
  AlignedBuffer tail_buf(span.tail.empty() ? 0 : kBlockSize);
  std::vector<IoRequest> batch;
  if (!span.head.empty()) {
    batch.push_back({.op = IoOp::kRead,
                     .block = BlockOf(span.BlockAround(span.head.offset).offset),
                     .buffer = head_buf.span()});
  }
  if (!span.body.empty()) {
    batch.push_back({.op = IoOp::kRead,
                     .block = BlockOf(span.body.offset),
                     .buffer = out.subspan(span.body.offset - offset, span.body.length)});
  }
  if (!span.tail.empty()) {
    batch.push_back(
        {.op = IoOp::kRead, .block = BlockOf(span.tail.offset), .buffer = tail_buf.span()});
  }
  if (batch.empty()) return Ok();
  TRY_STATUS(vdev_->SubmitBatch(batch));
  if (!span.head.empty()) {
    std::memcpy(out.data(), head_buf.data() + span.head.offset % kBlockSize, span.head.length);
  }
  if (!span.tail.empty()) {
    std::memcpy(out.data() + (span.tail.offset - offset), tail_buf.data(), span.tail.length);
  }
  return Ok();
}

Status FileSegment::PatchBlockLocked(uint64_t block_offset, uint64_t at, uint64_t length,
                                     const std::byte* data) {
  std::lock_guard edge(EdgeLock(block_offset));
  AlignedBuffer block(kBlockSize);
  TRY_STATUS(vdev_->Read(BlockOf(block_offset), block.span()));
  if (data != nullptr) {
    std::memcpy(block.data() + (at - block_offset), data, length);
  } else {
    std::memset(block.data() + (at - block_offset), 0, length);
  }
  return vdev_->Write(BlockOf(block_offset), block.span());
}

Status FileSegment::WriteLocked(uint64_t offset, std::span<const std::byte> data) {
  BlockSpan span = TRY(SplitBlockSpan(offset, data.size(), kBlockSize));
  if (!span.head.empty()) {
    TRY_STATUS(PatchBlockLocked(span.BlockAround(span.head.offset).offset, span.head.offset,
                                span.head.length, data.data()));
  }
  if (!span.body.empty()) {
    TRY_STATUS(vdev_->Write(BlockOf(span.body.offset),
                            data.subspan(span.body.offset - offset, span.body.length)));
  }
  if (!span.tail.empty()) {
    TRY_STATUS(PatchBlockLocked(span.tail.offset, span.tail.offset, span.tail.length,
                                data.data() + (span.tail.offset - offset)));
  }
  return Ok();
}

Status FileSegment::ZeroLocked(uint64_t offset, uint64_t length) {
  BlockSpan span = TRY(SplitBlockSpan(offset, length, kBlockSize));
  if (!span.head.empty()) {
    TRY_STATUS(PatchBlockLocked(span.BlockAround(span.head.offset).offset, span.head.offset,
                                span.head.length, nullptr));
  }
  if (!span.body.empty()) {
    TRY_STATUS(vdev_->Discard(BlockOf(span.body.offset), BlockCount{span.body.length >> kBlockShift}));
  }
  if (!span.tail.empty()) {
    TRY_STATUS(PatchBlockLocked(span.tail.offset, span.tail.offset, span.tail.length, nullptr));
  }
  return Ok();
}

Status FileSegment::Read(uint64_t offset, std::span<std::byte> out) {
  std::shared_lock lock(io_mu_);
  TRY_STATUS(CheckRange(offset, out.size()));
  return ReadLocked(offset, out);
}

Status FileSegment::Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) {
  std::shared_lock lock(io_mu_);
  TRY_STATUS(CheckRange(offset, data.size()));
  TRY_STATUS(WriteLocked(offset, data));
  if (flags & kWriteFua) TRY_STATUS(vdev_->Flush());
  return Ok();
}

Status FileSegment::Flush() {
  std::shared_lock lock(io_mu_);
  return vdev_->Flush();
}

Status FileSegment::Trim(uint64_t offset, uint64_t length) {
  std::shared_lock lock(io_mu_);
  TRY_STATUS(CheckRange(offset, length));
  return ZeroLocked(offset, length);
}

Result<std::vector<SegmentExtent>> FileSegment::Extents(uint64_t offset, uint64_t length) {
  std::shared_lock lock(io_mu_);
  TRY_STATUS(CheckRange(offset, length));
  if (length == 0) return std::vector<SegmentExtent>{};
  return std::vector<SegmentExtent>{{.offset = offset, .length = length, .hole = false}};
}

Status FileSegment::Truncate(uint64_t new_size) {
  std::unique_lock lock(io_mu_);
  uint64_t old_size = size_.load(std::memory_order_relaxed);
  auto rounded = AlignUp(new_size, kBlockSize);
  if (!rounded) return Err(Code::kInvalidArgument, "file segment size {} is too large", new_size);
  if (new_size < old_size) {
    TRY_STATUS(ZeroLocked(new_size, old_size - new_size));  // Invariant 3.
  } else if (*rounded > vdev_->Size().bytes()) {
    if (vdev_->IsBlockDevice()) {
      return Err(Code::kInvalidArgument, "{}: cannot grow a block device to {} bytes", path_,
                 new_size);
    }
    TRY_STATUS(vdev_->Flush());
    std::error_code ec;
    std::filesystem::resize_file(path_, *rounded, ec);
    if (ec) return Err(Code::kIOError, "grow {} to {} bytes: {}", path_, *rounded, ec.message());
    std::unique_ptr<FileVdev> grown = TRY(FileVdev::Open(
        path_, FileVdevOptions{.use_direct = options_.use_direct,
                               .use_io_uring = options_.use_io_uring}));
    vdev_ = std::move(grown);
  }
  size_.store(new_size, std::memory_order_release);
  return Ok();
}

Result<InspectReport> FileSegment::Inspect(InspectMode mode) {
  std::shared_lock lock(io_mu_);
  InspectReport report;
  uint64_t size = Size();
  uint64_t need = *AlignUp(size, kBlockSize);
  if (vdev_->Size().bytes() < need) {
    report.bad = 1;
    report.problems.push_back(fmt::format("{} holds {} bytes, fewer than the segment's {}", path_,
                                          vdev_->Size().bytes(), size));
    return report;
  }
  if (mode == InspectMode::kQuick) return report;
  constexpr uint64_t kChunkBlocks = 256;
  AlignedBuffer chunk(kChunkBlocks * kBlockSize);
  for (uint64_t block = 0; block < need / kBlockSize; block += kChunkBlocks) {
    uint64_t n = std::min(kChunkBlocks, need / kBlockSize - block);
    report.checked += n;
    Status s = vdev_->Read(BlockNo{block}, chunk.span().subspan(0, n * kBlockSize));
    if (!s) {
      report.bad += n;
      report.problems.push_back(s.error().ToString());
    }
  }
  return report;
}

Status FileSegment::Serialize(Exnode& exnode) const {
  if (id_ > kMaxId63) return Err(Code::kInvalidArgument, "segment id {} is not 63-bit", id_);
  if (exnode.FindSegment(id_) != nullptr) {
    return Err(Code::kInvalidArgument, "exNode already has [segment-{}]", id_);
  }
  ExnodeSegment section{.id = id_, .type = SegmentType::kFile, .params = {}};
  section.Add("path", path_);
  section.Add("size", std::to_string(Size()));
  exnode.segments.push_back(std::move(section));
  return Ok();
}

}  // namespace tessera
