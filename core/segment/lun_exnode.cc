// The lun segment's exNode form: parameters, rows and blocks.
//
// Design notes
//  1. FromExnode checks everything before building: parameters present and
//     sane, rows ascending, aligned and of row_bytes each, every row naming
//     n_devices blocks that exist, of max_block_size, on a known vdev at a
//     parseable address. The first problem is returned with the segment's
//     label; nothing is half-built.
//  2. A block's capability is its address, after its vdev's URI when the
//     vdev is remote (BlockCapability, core/pool/address.h): the exNode
//     says where each block lives, as LStore's capabilities do. Reading
//     takes the address alone.
#include <set>

#include "core/segment/lun_segment.h"

namespace tessera {
namespace {

// The largest row a lun describes (1 EiB, beyond any pool): n_devices x
// max_block_size is checked against it without multiplying.
constexpr uint64_t kMaxLunRowBytes = uint64_t{1} << 60;

}  // namespace

std::string LunSegment::VdevUri(DiskAddress address) const {
  const PoolVdev* v = pool_ != nullptr ? pool_->Find(address.tier(), address.vdev()) : nullptr;
  if (v == nullptr) return {};
  auto uri = v->config.attrs.find("uri");
  return uri == v->config.attrs.end() ? std::string() : uri->second;
}

Status LunSegment::Serialize(Exnode& exnode) const {
  ExnodeSegment section{.id = id_, .type = SegmentType::kLun};
  section.Add("n_devices", std::to_string(options_.n_devices));
  section.Add("chunk_size", std::to_string(options_.chunk_size));
  section.Add("max_block_size", std::to_string(options_.max_block_size));
  std::shared_lock lock(mu_);
  if (!query_.empty()) section.Add("query", query_);
  for (const auto& [start, row] : rows_) {
    LunRow text{.seg_offset = row.seg_offset, .seg_end = row.seg_end, .row_len = row_bytes()};
    for (const auto& b : row.blocks) {
      text.devices.push_back(LunRowDevice{.block_id = b.id, .offset = 0});
      std::string cap = BlockCapability(VdevUri(b.address), b.address);
      exnode.blocks.push_back(ExnodeBlock{.id = b.id, .read_cap = cap, .write_cap = cap,
                                          .manage_cap = cap, .size = b.size, .max_size = b.size,
                                          .vdev = b.vdev});
    }
    section.Add("row", text.ToString());
  }
  exnode.segments.push_back(std::move(section));
  return Ok();
}

Result<std::unique_ptr<LunSegment>> LunSegment::FromExnode(const Exnode& exnode,
                                                           const ExnodeSegment& section, Pool* pool,
                                                           LunBlockSource* source) {
  auto fail = [&](std::string what) { return Err(Code::kInvalidArgument, "{}: {}", section.Label(), what); };
  LunOptions options;
  options.n_devices = static_cast<uint32_t>(TRY(section.GetU64("n_devices")));
  options.chunk_size = TRY(section.GetU64("chunk_size"));
  options.max_block_size = TRY(section.GetU64("max_block_size"));
  if (auto q = section.GetString("query")) options.query = *q;
  if (options.n_devices == 0 || options.n_devices > 1024) return fail("n_devices must be 1..1024");
  if (options.chunk_size == 0 || options.chunk_size % kBlockSize) return fail("chunk_size must be a multiple of 4096");
  if (options.max_block_size == 0 || options.max_block_size % options.chunk_size) {
    return fail("max_block_size must be a multiple of chunk_size");
  }
  // row_bytes() is their product, and rows are found by dividing by it: a
  // product that wraps (to zero, even) must not reach the division.
  if (options.max_block_size > kMaxLunRowBytes / options.n_devices) {
    return fail(fmt::format("a row of n_devices {} x max_block_size {} exceeds {} bytes", options.n_devices,
                            options.max_block_size, kMaxLunRowBytes));
  }
  auto lun = std::make_unique<LunSegment>(section.id, options, pool, source);
  uint64_t expect = 0;  // rows ascend; gaps are rows the cleaner freed
  for (const std::string& text : section.GetAll("row")) {
    LunRow row = TRY(ParseLunRow(text));
    if (row.seg_offset < expect || row.seg_offset % lun->row_bytes() != 0 ||
        row.seg_end != row.seg_offset + lun->row_bytes() || row.row_len != lun->row_bytes()) {
      return fail(fmt::format("row '{}' is not a {}-byte row at or after {}", text, lun->row_bytes(), expect));
    }
    if (row.devices.size() != options.n_devices) {
      return fail(fmt::format("row '{}' names {} devices, not {}", text, row.devices.size(), options.n_devices));
    }
    LunRowDesc desc{.seg_offset = row.seg_offset, .seg_end = row.seg_end};
    for (const auto& d : row.devices) {
      const ExnodeBlock* b = exnode.FindBlock(d.block_id);
      if (b == nullptr) return fail(fmt::format("row '{}' names missing block {}", text, d.block_id));
      auto address = ParseBlockCapability(b->read_cap);
      if (!address) return fail(fmt::format("{}: read_cap '{}' is not a disk address", b->Label(), b->read_cap));
      if (b->size != options.max_block_size || d.offset != 0) {
        return fail(fmt::format("{}: size {} offset {} do not match the lun", b->Label(), b->size, d.offset));
      }
      const PoolVdev* v = pool ? pool->Find(address->tier(), address->vdev()) : nullptr;
      if (pool && (v == nullptr || address->block() + b->size / kBlockSize > v->end)) {
        return fail(fmt::format("{}: {} is not inside a vdev of this pool", b->Label(), address->ToString()));
      }
      desc.blocks.push_back(LunBlock{.id = b->id, .address = *address, .size = b->size, .vdev = b->vdev});
    }
    lun->rows_[desc.seg_offset] = std::move(desc);
    expect = row.seg_end;
  }
  return lun;
}

}  // namespace tessera
