// Jerasure segment: construction, exNode form, geometry, and the small
// operations. Writes are in jerasure_write.cc, reads in jerasure_read.cc,
// Inspect in jerasure_inspect.cc.
//
// Design notes
//  1. Everything that fixes the on-disk layout (K, M, w, C, method and the
//     derived packet size) is checked once, in Create, against each other
//     and against the lun; a segment that exists has a consistent geometry.
//  2. Generations: the first is the wall clock in nanoseconds at Create;
//     each stripe write takes the next one, and every generation seen in a
//     header raises the counter past it (NoteGeneration), so a new write is
//     newer than anything this process has read. Reads never depend on the
//     order of generations when K > M: two writes of one stripe cannot both
//     be agreed by K of its K + M chunks. Only for K <= M does "newest"
//     break a tie, and that relies on the clock not running backwards
//     across a restart.
//  3. Buffers of N * C bytes are pooled (at most kPooledBytes kept, but
//     always one), so a read or write does not allocate and zero megabytes
//     each time, and idle memory stays bounded (bounded memory:
//     docs/architecture.md, Guarantees).
#include "core/segment/jerasure_segment.h"

#include <algorithm>
#include <chrono>

#include "core/util/align.h"

namespace tessera {
namespace {

constexpr uint64_t kMinChunk = 2 * kChunkHeaderBytes;
constexpr uint64_t kMaxChunk = 16ull << 20;
constexpr std::string_view kKeys[] = {"segment", "n_data_devs", "n_parity_devs",
                                      "w",       "chunk_size",  "method"};

uint64_t ClockGeneration() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

}  // namespace

Result<uint32_t> JerasureSegment::PacketSizeFor(ErasureMethod method, uint32_t w,
                                                uint64_t data_bytes) {
  if (!IsBitmatrixMethod(method)) return 0u;
  if (w == 0) return Err(Code::kInvalidArgument, "w must be positive");
  for (uint64_t p = kMaxPacketSize; p >= 8; p -= 8) {
    if (data_bytes % (w * p) == 0) return static_cast<uint32_t>(p);
  }
  return Err(Code::kInvalidArgument,
             "{} with w={}: chunk data of {} bytes (chunk_size - 4096) must be a multiple of "
             "w * 8 = {} (each of w packets a multiple of 8 bytes)",
             ErasureMethodName(method), w, data_bytes, w * 8);
}

Result<std::unique_ptr<JerasureSegment>> JerasureSegment::Create(uint64_t id,
                                                                 JerasureOptions options,
                                                                 std::shared_ptr<LunSegment> lun,
                                                                 Pool* pool) {
  auto fail = [&](std::string what) {
    return Err(Code::kInvalidArgument, "jerasure segment {}: {}", id, what);
  };
  if (lun == nullptr) return fail("no lun segment");
  uint32_t k = options.n_data_devs, m = options.n_parity_devs;
  if (k < 1 || m < 1 || k + m > kMaxStripeChunks) {
    return fail(fmt::format("n_data_devs={} n_parity_devs={}: need K >= 1, M >= 1, K + M <= {}", k,
                            m, kMaxStripeChunks));
  }
  if (lun->options().n_devices != k + m) {
    return fail(fmt::format("lun {} has {} devices, K + M is {}", lun->id(),
                            lun->options().n_devices, k + m));
  }
  uint64_t c = lun->options().chunk_size;
  if (c % kBlockSize != 0 || c < kMinChunk || c > kMaxChunk) {
    return fail(fmt::format("chunk_size {} must be a multiple of 4096 in [{}, {}]", c, kMinChunk,
                            kMaxChunk));
  }
  if (lun->options().max_block_size % c != 0) {
    return fail(
        fmt::format("lun {}'s max_block_size {} is not a multiple of chunk_size {} "
                    "(a stripe would straddle rows)",
                    lun->id(), lun->options().max_block_size, c));
  }
  JerasureGeometry geo{.k = k, .m = m, .w = options.w, .chunk_size = c, .method = options.method};
  auto packet = PacketSizeFor(options.method, options.w, geo.data_bytes());
  if (!packet) return Err(packet.error().WithContext(fmt::format("jerasure segment {}", id)));
  geo.packet_size = *packet;
  auto code = ErasureCode::Create(options.method, static_cast<int>(k), static_cast<int>(m),
                                  static_cast<int>(options.w), geo.packet_size);
  if (!code) return Err(code.error().WithContext(fmt::format("jerasure segment {}", id)));
  TRY_STATUS((*code)->CheckChunkBytes(geo.data_bytes()));
  return std::unique_ptr<JerasureSegment>(
      new JerasureSegment(id, geo, std::move(*code), std::move(lun), pool));
}

JerasureSegment::JerasureSegment(uint64_t id, JerasureGeometry geo,
                                 std::unique_ptr<ErasureCode> code, std::shared_ptr<LunSegment> lun,
                                 Pool* pool)
    : id_(id),
      geo_(geo),
      code_(std::move(code)),
      lun_(std::move(lun)),
      pool_(pool),
      next_generation_(ClockGeneration()) {}

Result<std::unique_ptr<JerasureSegment>> JerasureSegment::FromExnode(
    const ExnodeSegment& section, std::shared_ptr<LunSegment> lun, Pool* pool) {
  std::string label = section.Label();
  auto fail = [&](std::string what) { return Err(Code::kInvalidArgument, "{}: {}", label, what); };
  if (section.type != SegmentType::kJerasure) {
    return fail(fmt::format("type is {}, not jerasure", SegmentTypeName(section.type)));
  }
  for (const KeyValue& kv : section.params) {
    if (std::find(std::begin(kKeys), std::end(kKeys), kv.key) == std::end(kKeys)) {
      return fail(
          fmt::format("unknown key '{}' (expected segment, n_data_devs, n_parity_devs, "
                      "w, chunk_size, method)",
                      kv.key));
    }
  }
  auto u32 = [&](std::string_view key) -> Result<uint32_t> {
    uint64_t v = TRY(section.GetU64(key));
    if (v > 0xffffffffu) return fail(fmt::format("{} = {} is out of range", key, v));
    return static_cast<uint32_t>(v);
  };
  uint64_t segment = TRY(section.GetU64("segment"));
  JerasureOptions options;
  options.n_data_devs = TRY(u32("n_data_devs"));
  options.n_parity_devs = TRY(u32("n_parity_devs"));
  options.w = TRY(u32("w"));
  uint64_t chunk_size = TRY(section.GetU64("chunk_size"));
  auto method = ParseErasureMethod(TRY(section.GetString("method")));
  if (!method) return Err(method.error().WithContext(label));
  options.method = *method;
  if (lun == nullptr || lun->id() != segment) {
    return fail(fmt::format("names lun segment {}, but was given {}", segment,
                            lun ? std::to_string(lun->id()) : "none"));
  }
  if (lun->options().chunk_size != chunk_size) {
    return fail(fmt::format("chunk_size {} differs from lun {}'s chunk_size {}", chunk_size,
                            segment, lun->options().chunk_size));
  }
  auto seg = Create(section.id, options, std::move(lun), pool);
  if (!seg) return Err(seg.error().WithContext(label));
  return seg;
}

uint64_t JerasureSegment::StripeCount() const { return lun_->Size() / geo_.stripe_lun_bytes(); }

uint64_t JerasureSegment::Size() const { return StripeCount() * geo_.stripe_data_bytes(); }

uint64_t JerasureSegment::row_bytes() const {
  return lun_->options().max_block_size / geo_.chunk_size * geo_.stripe_data_bytes();
}

LunRowDesc JerasureSegment::ToLogical(LunRowDesc row) const {
  row.seg_offset = row.seg_offset / geo_.stripe_lun_bytes() * geo_.stripe_data_bytes();
  row.seg_end = row.seg_end / geo_.stripe_lun_bytes() * geo_.stripe_data_bytes();
  return row;
}

Result<LunRowDesc> JerasureSegment::Grow() { return ToLogical(TRY(lun_->Grow())); }

Result<LunRowDesc> JerasureSegment::RemoveRow(uint64_t seg_offset) {
  if (seg_offset % row_bytes() != 0) {
    return Err(Code::kInvalidArgument, "jerasure segment {}: {} is not a row start (rows of {})",
               id_, seg_offset, row_bytes());
  }
  return ToLogical(TRY(lun_->RemoveRow(seg_offset / row_bytes() * lun_->row_bytes())));
}

std::vector<LunRowDesc> JerasureSegment::Rows() const {
  std::vector<LunRowDesc> rows = lun_->Rows();
  for (LunRowDesc& row : rows) row = ToLogical(std::move(row));
  return rows;
}

Status JerasureSegment::Trim(uint64_t offset, uint64_t length) {
  return CheckRange(offset, length);
}

Result<std::vector<SegmentExtent>> JerasureSegment::Extents(uint64_t offset, uint64_t length) {
  TRY_STATUS(CheckRange(offset, length));
  return std::vector<SegmentExtent>{{.offset = offset, .length = length, .hole = false}};
}

Status JerasureSegment::Truncate(uint64_t new_size) {
  uint64_t sb = geo_.stripe_data_bytes();
  uint64_t stripes = new_size / sb + (new_size % sb != 0);
  if (stripes > UINT64_MAX / geo_.stripe_lun_bytes()) {
    return Err(Code::kInvalidArgument, "size {} is too large for a jerasure segment", new_size);
  }
  return lun_->Truncate(stripes * geo_.stripe_lun_bytes());
}

std::string JerasureSegment::Signature() const {
  return fmt::format("jerasure(method={},k={},m={},w={},chunk={})/{}",
                     ErasureMethodName(geo_.method), geo_.k, geo_.m, geo_.w, geo_.chunk_size,
                     lun_->Signature());
}

Status JerasureSegment::Serialize(Exnode& exnode) const {
  ExnodeSegment section{.id = id_, .type = SegmentType::kJerasure};
  section.Add("segment", std::to_string(lun_->id()));
  section.Add("n_data_devs", std::to_string(geo_.k));
  section.Add("n_parity_devs", std::to_string(geo_.m));
  section.Add("w", std::to_string(geo_.w));
  section.Add("chunk_size", std::to_string(geo_.chunk_size));
  section.Add("method", std::string(ErasureMethodName(geo_.method)));
  exnode.segments.push_back(std::move(section));
  return lun_->Serialize(exnode);
}

JerasureStats JerasureSegment::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void JerasureSegment::NoteGeneration(uint64_t seen) {
  uint64_t next = next_generation_.load();
  while (next <= seen && !next_generation_.compare_exchange_weak(next, seen + 1)) {
  }
}

Result<ChunkLocation> JerasureSegment::LocateChunk(uint64_t stripe, uint32_t j) const {
  if (j >= geo_.n() || stripe >= StripeCount()) {
    return Err(Code::kInvalidArgument, "no chunk {} of stripe {} ({} stripes of {} chunks)", j,
               stripe, StripeCount(), geo_.n());
  }
  // The lun's contract 2: byte r of a row is on device (r / C) % N at
  // (r / C / N) * C + r % C of that device's block.
  uint64_t offset = geo_.ChunkLunOffset(stripe, j);
  std::vector<LunRowDesc> rows = lun_->Rows();
  uint64_t start = offset - offset % lun_->row_bytes();
  auto it = std::find_if(rows.begin(), rows.end(),
                         [&](const LunRowDesc& r) { return r.seg_offset == start; });
  if (it == rows.end()) {
    return Err(Code::kInvalidArgument, "stripe {} is in a removed row of lun {}", stripe,
               lun_->id());
  }
  const LunRowDesc& row = *it;
  uint64_t rel = offset - row.seg_offset;
  uint64_t c = geo_.chunk_size;
  uint32_t position = static_cast<uint32_t>((rel / c) % geo_.n());
  uint64_t device_offset = (rel / c / geo_.n()) * c + rel % c;
  const LunBlock& block = row.blocks[position];
  return ChunkLocation{.lun_offset = offset,
                       .position = position,
                       .address = DiskAddress{block.address.raw + device_offset / kBlockSize},
                       .vdev = block.vdev};
}

JerasureSegment::Buffer JerasureSegment::AcquireBuffer() {
  {
    std::lock_guard lock(buffers_mu_);
    if (!free_buffers_.empty()) {
      auto b = std::move(free_buffers_.back());
      free_buffers_.pop_back();
      return Buffer(this, std::move(b));
    }
  }
  return Buffer(this, std::make_unique<AlignedBuffer>(geo_.stripe_lun_bytes()));
}

JerasureSegment::Buffer::~Buffer() {
  if (buffer_ == nullptr) return;
  std::lock_guard lock(owner_->buffers_mu_);
  uint64_t keep = std::max<uint64_t>(1, kPooledBytes / owner_->geo_.stripe_lun_bytes());
  if (owner_->free_buffers_.size() < keep) {
    owner_->free_buffers_.push_back(std::move(buffer_));
  }
}

}  // namespace tessera
