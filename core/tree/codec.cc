// Node codec: encode, verify and decode tree nodes (format in codec.h).
//
// Design notes
//  1. Decoding trusts nothing: every length is bounds-checked through
//     ByteReader before use, so truncated or garbage input yields Corruption,
//     never an out-of-bounds read or a crash.
//  2. Verification order: stored size vs. the pointer, checksum of the stored
//     bytes vs. the pointer, header fields, decompression, payload checksum,
//     then structural checks (sorted keys, key ranges, message types, counts).
//  3. A decoded node satisfies every invariant of node.h; the tree relies on
//     that after a successful read.
//  4. Two versions are read and written. An internal node is written as
//     version 3 (kBlockPtrEncodedSize pointers, with third and later copy
//     addresses) only when one of its children has a third copy, and as
//     version 2 (37-byte pointers) otherwise; leaves are version 2. So a pool
//     that never keeps more than two copies stays readable by builds that
//     know version 2 only, and a node's checksum covers the version it was
//     written in.
#include "core/tree/codec.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "core/tree/tree.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"
#include "core/util/endian.h"

namespace tessera {
namespace {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void Bytes(std::string_view s) { out_->append(s); }
  void Raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }

 private:
  std::string* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (left() < 1) return false;
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U16(uint16_t* v) { return Raw(v, 2); }
  bool U32(uint32_t* v) { return Raw(v, 4); }
  bool Bytes(size_t n, std::string_view* out) {
    if (left() < n) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Raw(void* p, size_t n) {
    if (left() < n) return false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  size_t left() const { return in_.size() - pos_; }
  size_t pos() const { return pos_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

std::unexpected<Error> Corrupt(const BlockPtr& ptr, std::string_view what) {
  return Err(Code::kCorruption, "tree node at address {}: {}", ptr.address, what);
}

// Design note 4: version 3 only when some child has a third copy.
uint8_t VersionFor(const Node& node) {
  for (const auto& c : node.children) {
    if (c.ptr.more_copies[0] != 0) return kNodeVersion;
  }
  return kNodeVersionTwoCopies;
}

size_t PtrSize(uint8_t version) {
  return version == kNodeVersionTwoCopies ? kBlockPtrV2EncodedSize : kBlockPtrEncodedSize;
}

void EncodePayload(const Node& node, uint8_t version, std::string* out) {
  if (node.IsLeaf()) {
    out->append(node.leaf.arena());
    return;
  }
  ByteWriter w(out);
  for (const auto& c : node.children) {
    std::byte raw[kBlockPtrEncodedSize];
    EncodeBlockPtr(c.ptr, raw);
    w.Raw(raw, PtrSize(version));
  }
  for (const auto& p : node.pivots) {
    w.U16(static_cast<uint16_t>(p.size()));
    w.Bytes(p);
  }
  for (const auto& c : node.children) {
    const Buffer& b = c.buffer;
    w.U32(static_cast<uint32_t>(b.points().size()));
    w.U32(static_cast<uint32_t>(b.ranges().size()));
    for (const auto& [lo, hi] : b.ranges()) {
      w.U16(static_cast<uint16_t>(lo.size()));
      w.Bytes(lo);
      w.U16(static_cast<uint16_t>(hi.size()));
      w.Bytes(hi);
    }
    for (const auto& [key, msg] : b.points()) {
      w.U16(static_cast<uint16_t>(key.size()));
      w.Bytes(key);
      w.U8(static_cast<uint8_t>(msg.type));
      w.U32(static_cast<uint32_t>(msg.payload.size()));
      w.Bytes(msg.payload);
    }
  }
}

Status DecodeLeaf(const BlockPtr& ptr, std::string_view payload, uint32_t count, Node* node) {
  // Each entry takes its overhead and a key byte at least: a count that
  // cannot fit is refused before it sizes anything (design note 1).
  if (count > payload.size() / (kLeafEntryOverhead + 1)) {
    return Corrupt(ptr, fmt::format("leaf count {} exceeds what {} payload bytes can hold", count,
                                    payload.size()));
  }
  std::vector<uint32_t> offsets;
  offsets.reserve(count);
  ByteReader r(payload);
  std::string_view prev;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t off = static_cast<uint32_t>(r.pos());
    uint16_t klen;
    uint32_t vlen;
    std::string_view key, value;
    if (!r.U16(&klen) || !r.U32(&vlen) || !r.Bytes(klen, &key) || !r.Bytes(vlen, &value)) {
      return Corrupt(ptr, "leaf entry overruns the payload");
    }
    if (klen == 0 || klen > kMaxKeySize || vlen > kMaxValueSize) {
      return Corrupt(ptr, "leaf entry size out of range");
    }
    if (i > 0 && key <= prev) return Corrupt(ptr, "leaf keys out of order");
    prev = key;
    offsets.push_back(off);
  }
  if (r.left() != 0) return Corrupt(ptr, "trailing bytes after leaf entries");
  node->leaf.Adopt(std::string(payload), std::move(offsets));
  return Ok();
}

Status DecodeBuffer(const BlockPtr& ptr, ByteReader& r, KeyRange range, Buffer* buf) {
  uint32_t npoints, nranges;
  if (!r.U32(&npoints) || !r.U32(&nranges)) return Corrupt(ptr, "buffer header overruns");
  // Each entry takes at least its overhead; reject counts that cannot fit.
  if (npoints > r.left() / kPointOverhead || nranges > r.left() / kRangeOverhead) {
    return Corrupt(ptr, "buffer counts exceed the payload");
  }
  std::string_view prev_hi;
  for (uint32_t i = 0; i < nranges; ++i) {
    uint16_t lo_len, hi_len;
    std::string_view lo, hi;
    if (!r.U16(&lo_len) || !r.Bytes(lo_len, &lo) || !r.U16(&hi_len) || !r.Bytes(hi_len, &hi)) {
      return Corrupt(ptr, "range-delete overruns the payload");
    }
    if (lo_len > kMaxKeySize || hi_len == 0 || hi_len > kMaxKeySize || !(lo < hi)) {
      return Corrupt(ptr, "malformed range-delete");
    }
    if ((i > 0 && lo <= prev_hi) || lo < range.lo || (!range.hi.empty() && hi > range.hi)) {
      return Corrupt(ptr, "range-delete out of order or outside its child");
    }
    prev_hi = hi;
    buf->AppendDecodedRange(std::string(lo), std::string(hi));
  }
  std::string_view prev;
  for (uint32_t i = 0; i < npoints; ++i) {
    uint16_t klen;
    uint8_t type;
    uint32_t plen;
    std::string_view key, payload;
    if (!r.U16(&klen) || !r.Bytes(klen, &key) || !r.U8(&type) || !r.U32(&plen) ||
        !r.Bytes(plen, &payload)) {
      return Corrupt(ptr, "buffered message overruns the payload");
    }
    if (klen == 0 || klen > kMaxKeySize || (i > 0 && key <= prev) || !range.Contains(key)) {
      return Corrupt(ptr, "buffered key malformed, out of order or outside its child");
    }
    prev = key;
    Message msg;
    switch (static_cast<MsgType>(type)) {
      case MsgType::kInsert:
        if (plen > kMaxValueSize) return Corrupt(ptr, "buffered value too large");
        break;
      case MsgType::kDelete:
        if (plen != 0) return Corrupt(ptr, "delete message with a payload");
        break;
      case MsgType::kUpsert:
        if (!ValidUpsertOps(payload)) return Corrupt(ptr, "malformed upsert message");
        break;
      default:
        return Corrupt(ptr, "unknown message type");
    }
    msg.type = static_cast<MsgType>(type);
    msg.payload.assign(payload);
    buf->AppendDecodedPoint(std::string(key), std::move(msg));
  }
  return Ok();
}

Status DecodeInternal(const BlockPtr& ptr, uint8_t version, std::string_view payload, uint32_t count,
                      Node* node) {
  ByteReader r(payload);
  const size_t ptr_size = PtrSize(version);
  if (count == 0 || count > r.left() / ptr_size) {
    return Corrupt(ptr, "child count out of range");
  }
  node->children.resize(count);
  for (auto& c : node->children) {
    std::byte raw[kBlockPtrEncodedSize];
    r.Raw(raw, ptr_size);
    c.ptr = version == kNodeVersionTwoCopies ? DecodeBlockPtrV2(raw) : DecodeBlockPtr(raw);
    if (c.ptr.IsNull() || c.ptr.stored_bytes < kNodeHeaderBytes ||
        c.ptr.compression > Compression::kZstd || !CopiesWellFormed(c.ptr)) {
      return Corrupt(ptr, "malformed child pointer");
    }
  }
  node->pivots.reserve(count - 1);
  for (uint32_t i = 0; i + 1 < count; ++i) {
    uint16_t len;
    std::string_view pivot;
    if (!r.U16(&len) || !r.Bytes(len, &pivot)) return Corrupt(ptr, "pivot overruns the payload");
    if (len == 0 || len > kMaxKeySize || (i > 0 && pivot <= node->pivots.back())) {
      return Corrupt(ptr, "pivots malformed or out of order");
    }
    node->pivots.emplace_back(pivot);
  }
  node->RecomputePivotBytes();
  for (uint32_t i = 0; i < count; ++i) {
    TRY_STATUS(DecodeBuffer(ptr, r, node->ChildRange(i, KeyRange{}), &node->children[i].buffer));
  }
  if (r.left() != 0) return Corrupt(ptr, "trailing bytes after buffers");
  return Ok();
}

}  // namespace

void EncodeBlockPtr(const BlockPtr& ptr, std::byte* out) {
  PutU64(out, ptr.address);
  PutU64(out + 8, ptr.copy_address);
  PutU32(out + 16, ptr.stored_bytes);
  PutU64(out + 20, ptr.checksum);
  PutU64(out + 28, ptr.birth);
  out[36] = static_cast<std::byte>(ptr.compression);
  EncodeMoreCopies(ptr, out + kBlockPtrV2EncodedSize);
}

BlockPtr DecodeBlockPtrV2(const std::byte* in) {
  BlockPtr ptr;
  ptr.address = GetU64(in);
  ptr.copy_address = GetU64(in + 8);
  ptr.stored_bytes = GetU32(in + 16);
  ptr.checksum = GetU64(in + 20);
  ptr.birth = GetU64(in + 28);
  ptr.compression = static_cast<Compression>(in[36]);
  return ptr;
}

BlockPtr DecodeBlockPtr(const std::byte* in) {
  BlockPtr ptr = DecodeBlockPtrV2(in);
  DecodeMoreCopies(in + kBlockPtrV2EncodedSize, &ptr);
  return ptr;
}

void EncodeMoreCopies(const BlockPtr& ptr, std::byte* out) {
  for (size_t i = 0; i < ptr.more_copies.size(); i++) PutU64(out + 8 * i, ptr.more_copies[i]);
}

void DecodeMoreCopies(const std::byte* in, BlockPtr* ptr) {
  for (size_t i = 0; i < ptr->more_copies.size(); i++) ptr->more_copies[i] = GetU64(in + 8 * i);
}

bool CopiesWellFormed(const BlockPtr& ptr) {
  if (ptr.address == 0) return false;
  bool ended = ptr.copy_address == 0;
  for (uint64_t a : ptr.more_copies) {
    if (a != 0 && ended) return false;
    ended = a == 0;
  }
  std::vector<uint64_t> all = ptr.CopyAddresses();
  std::sort(all.begin(), all.end());
  return std::adjacent_find(all.begin(), all.end()) == all.end();
}

bool StoredBytesVerify(const BlockPtr& ptr, std::span<const std::byte> data) {
  return data.size() >= ptr.stored_bytes &&
         Checksum64(data.first(ptr.stored_bytes)) == ptr.checksum;
}

std::string EncodeNode(const Node& node, bool compress, Compression* compression) {
  const uint8_t version = VersionFor(node);
  std::string payload;
  payload.reserve(node.SerializedBytes());
  EncodePayload(node, version, &payload);
  uint64_t payload_sum = Checksum64(payload.data(), payload.size());
  const size_t payload_size = payload.size();

  std::string body;
  *compression = Compression::kNone;
  if (compress && !payload.empty()) {
    body.resize(ZSTD_compressBound(payload.size()));
    size_t n = ZSTD_compress(body.data(), body.size(), payload.data(), payload.size(), 1);
    if (!ZSTD_isError(n) && n < payload.size()) {
      body.resize(n);
      *compression = Compression::kZstd;
    }
  }
  if (*compression == Compression::kNone) body = std::move(payload);

  std::byte head[kNodeHeaderBytes] = {};
  PutU32(head, kNodeMagic);
  head[4] = static_cast<std::byte>(version);
  head[5] = static_cast<std::byte>(node.IsLeaf() ? 1 : 2);
  PutU16(head + 6, static_cast<uint16_t>(node.level));
  PutU32(head + 8, static_cast<uint32_t>(node.IsLeaf() ? node.leaf.count()
                                                       : node.children.size()));
  PutU32(head + 12, static_cast<uint32_t>(payload_size));
  PutU32(head + 16, static_cast<uint32_t>(body.size()));
  head[20] = static_cast<std::byte>(*compression);
  PutU64(head + 24, payload_sum);

  std::string stored;
  stored.reserve(kNodeHeaderBytes + body.size());
  stored.append(reinterpret_cast<const char*>(head), sizeof(head));
  stored.append(body);
  return stored;
}

Result<std::unique_ptr<Node>> DecodeNode(const BlockPtr& ptr, std::span<const std::byte> stored,
                                         uint32_t expected_level) {
  if (stored.size() != ptr.stored_bytes || stored.size() < kNodeHeaderBytes) {
    return Corrupt(ptr, "stored size does not match the pointer");
  }
  if (Checksum64(stored) != ptr.checksum) return Corrupt(ptr, "checksum mismatch");
  const std::byte* h = stored.data();
  if (GetU32(h) != kNodeMagic) return Corrupt(ptr, "bad magic");
  const uint8_t version = static_cast<uint8_t>(h[4]);
  if (version != kNodeVersion && version != kNodeVersionTwoCopies) {
    return Corrupt(ptr, fmt::format("node format version {} is not supported (this build reads {} and {})",
                                    version, kNodeVersionTwoCopies, kNodeVersion));
  }
  uint8_t type = static_cast<uint8_t>(h[5]);
  uint32_t level = GetU16(h + 6);
  uint32_t count = GetU32(h + 8);
  uint32_t payload_bytes = GetU32(h + 12);
  uint32_t stored_payload = GetU32(h + 16);
  auto compression = static_cast<Compression>(h[20]);
  uint64_t payload_sum = GetU64(h + 24);
  if (type != 1 && type != 2) return Corrupt(ptr, "unknown node type");
  if ((type == 1) != (level == 0)) return Corrupt(ptr, "node type does not match its level");
  if (expected_level != kAnyLevel && level != expected_level) {
    return Corrupt(ptr, "unexpected node level");
  }
  if (compression != ptr.compression || compression > Compression::kZstd) {
    return Corrupt(ptr, "compression does not match the pointer");
  }
  if (stored_payload != stored.size() - kNodeHeaderBytes || payload_bytes > kMaxNodePayload) {
    return Corrupt(ptr, "payload size out of range");
  }
  if (compression == Compression::kNone && payload_bytes != stored_payload) {
    return Corrupt(ptr, "payload size mismatch");
  }

  std::string payload;
  const char* body = reinterpret_cast<const char*>(h + kNodeHeaderBytes);
  if (compression == Compression::kZstd) {
    payload.resize(payload_bytes);
    size_t n = ZSTD_decompress(payload.data(), payload.size(), body, stored_payload);
    if (ZSTD_isError(n) || n != payload_bytes) return Corrupt(ptr, "zstd payload does not decode");
  } else {
    payload.assign(body, stored_payload);
  }
  if (Checksum64(payload.data(), payload.size()) != payload_sum) {
    return Corrupt(ptr, "payload checksum mismatch");
  }

  auto node = std::make_unique<Node>();
  node->level = level;
  if (type == 1) {
    TRY_STATUS(DecodeLeaf(ptr, payload, count, node.get()));
  } else {
    TRY_STATUS(DecodeInternal(ptr, version, payload, count, node.get()));
  }
  return node;
}

Result<std::unique_ptr<Node>> ReadNode(NodeStore* store, const BlockPtr& ptr,
                                       uint32_t expected_level) {
  if (ptr.IsNull() || ptr.stored_bytes < kNodeHeaderBytes ||
      ptr.stored_bytes > kMaxNodePayload + kNodeHeaderBytes) {
    return Corrupt(ptr, "pointer has an impossible size");
  }
  AlignedBuffer buf(static_cast<size_t>(ptr.Blocks()) * 4096);
  auto read = store->Read(ptr, buf.span());
  if (!read) return Err(read.error().WithContext(fmt::format("tree node at address {}", ptr.address)));
  return DecodeNode(ptr, buf.span().subspan(0, ptr.stored_bytes), expected_level);
}

}  // namespace tessera
