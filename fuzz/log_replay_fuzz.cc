// Fuzz target: log replay (LogSegment::Replay, core/segment/log_replay.cc)
// over a lun segment on memory vdevs (fuzz_pool.h) and a fresh tree.
//
// The input describes what a crash left in the data segment, and the target
// writes it the way the log writer would, sealing every header and (unless
// asked not to) giving every data block its true checksum, so that replay
// reaches the batch contents:
//   u8 flags: bit 0 a committed head (u16 row-relative block, u8 seq) in the
//             tree; bit 1 the volume is a clone (a base with data)
//   then per batch: u8 control (bit 0 trim; bit 1 stale sequence number;
//             bit 2 one data block does not match its checksum; bit 3 skip
//             to the next row; bit 4 with bit 0, a trim past the end), u8
//             entry count, and 16 bytes per entry
//             (data: LBA, ignored checksum; trim: first LBA, block count).
// After replay, every block of the volume must read (replay applies only
// batches whose blocks verified) and the row counters must not go negative.
#include <memory>

#include "core/segment/log_segment.h"
#include "core/segment/memory_segment.h"
#include "core/tree/memory_node_store.h"
#include "core/tree/node_cache.h"
#include "fuzz/fuzz_pool.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

namespace {

constexpr uint64_t kVolumeId = 42;
constexpr uint64_t kVolumeBlocks = 64;
constexpr uint64_t kRows = 4;
const LunOptions kLunOptions{.n_devices = 1, .chunk_size = kBlockSize, .max_block_size = 16 * kBlockSize};

std::vector<std::byte> BlockOf(uint64_t lba, size_t i) {
  std::vector<std::byte> b(kBlockSize, std::byte(static_cast<uint8_t>(lba * 31 + i)));
  PutU64(b.data(), lba);
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  static NodeCache cache(16u << 20);
  static DefaultMessageActions actions;
  fuzz::FuzzInput in(data, size);
  fuzz::FuzzBlockSource source;
  auto lun = std::make_shared<LunSegment>(1, kLunOptions, fuzz::FuzzPool(), &source);
  for (uint64_t r = 0; r < kRows; r++) FUZZ_CHECK(lun->Grow());
  std::vector<std::byte> zeros(lun->Size());
  FUZZ_CHECK(lun->Write(0, zeros, 0));
  MemoryNodeStore store;
  auto tree = Tree::Create(&store, &cache, &actions, TreeOptions{});
  FUZZ_CHECK(tree);

  uint8_t flags = in.U8();
  LogHead head;
  if (flags & 1) {
    head.offset = in.U16() * kBlockSize % lun->Size();
    head.seq = in.U8();
    head.epoch = 3;
    FUZZ_CHECK((*tree)->Insert(kLogHeadKey, EncodeLogHead(head)));
  }
  std::shared_ptr<Segment> base;
  if (flags & 2) {
    auto mem = std::make_shared<MemorySegment>(7, kVolumeBlocks / 2 * kBlockSize);
    FUZZ_CHECK(mem->Write(4 * kBlockSize, BlockOf(4, 0), 0));
    base = mem;
  }

  const uint64_t row = lun->row_bytes();
  uint64_t pos = head.offset;
  uint64_t seq = head.seq;
  while (in.left() > 0) {
    uint8_t control = in.U8();
    LogBatchKind trim = (control & 16) ? LogBatchKind::kTrimPastEnd : LogBatchKind::kTrim;
    LogHeader h{.kind = (control & 1) ? trim : LogBatchKind::kData,
                .volume_id = kVolumeId, .epoch = head.epoch, .seq = (control & 2) ? in.U8() : seq};
    size_t n = in.U8() % (h.kind == LogBatchKind::kData ? row / kBlockSize : kLogMaxEntries + 1);
    for (size_t i = 0; i < n; i++) h.entries.push_back(LogEntry{.a = in.U64(), .b = in.U64()});
    if ((control & 8) || pos % row + h.Span() > row) pos = (pos / row + 1) * row;
    if (pos + h.Span() > lun->Size()) break;
    h.offset = pos;
    std::vector<std::byte> batch(kBlockSize);
    for (size_t i = 0; h.kind == LogBatchKind::kData && i < n; i++) {
      std::vector<std::byte> b = BlockOf(h.entries[i].a, i);
      h.entries[i].b = Checksum64(b) ^ ((control & 4) && i + 1 == n ? 1 : 0);
      batch.insert(batch.end(), b.begin(), b.end());
    }
    EncodeLogHeader(h, std::span(batch).first(kBlockSize));
    FUZZ_CHECK(lun->Write(pos, batch, 0));
    pos += h.Span();
    seq++;
  }

  LogSegment log(2, kVolumeId, kVolumeBlocks * kBlockSize, tree->get(), lun, base, [] { return Ok(); });
  auto replayed = log.Replay();
  if (!replayed) return 0;
  std::vector<std::byte> all(log.Size());
  Status read = log.Read(0, all);
  FUZZ_CHECK(read);
  (void)log.Extents(0, log.Size());
  auto rows = log.RowLiveBlocks();
  FUZZ_CHECK(rows);
  for (auto [start, live] : *rows) FUZZ_CHECK(live >= 0 && start % row == 0);
  return 0;
}
