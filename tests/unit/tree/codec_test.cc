// Node codec: round trips, size estimates, and rejection of damaged input.
#include <gtest/gtest.h>

#include <random>

#include "core/tree/codec.h"
#include "core/util/checksum.h"
#include "core/util/endian.h"
#include "tree_test_util.h"

namespace tessera {
namespace {

BlockPtr PtrFor(const std::string& stored, Compression c) {
  BlockPtr p;
  p.address = 77;
  p.stored_bytes = static_cast<uint32_t>(stored.size());
  p.checksum = Checksum64(stored.data(), stored.size());
  p.compression = c;
  return p;
}

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

Node MakeLeaf(size_t n) {
  Node node;
  for (size_t i = 0; i < n; ++i) node.leaf.Append(testing::Key(i), std::string(i % 50, 'v'));
  return node;
}

Node MakeInternal() {
  DefaultMessageActions actions;
  Node node;
  node.level = 2;
  node.children.resize(3);
  node.pivots = {"key00000100", "key00000200"};
  node.RecomputePivotBytes();
  for (size_t c = 0; c < 3; ++c) {
    node.children[c].ptr = BlockPtr{100 + c, c == 1 ? 0 : 900 + c, 4096, 1234 + c, 7, Compression::kNone};
  }
  node.children[0].buffer.AddRange("", "key00000005");
  node.children[0].buffer.Put("key00000007", Message{MsgType::kInsert, "seven"}, actions);
  Message up{MsgType::kUpsert, {}};
  AppendUpsertOp(&up.payload, kActionCounterAdd, CounterDelta(5));
  node.children[1].buffer.Put("key00000150", up, actions);
  node.children[1].buffer.Put("key00000151", Message{MsgType::kDelete, {}}, actions);
  node.children[2].buffer.AddRange("key00000300", "key00000400");
  for (int i = 0; i < 100; ++i) {
    node.children[2].buffer.Put(testing::Key(500 + i), Message{MsgType::kInsert, "x"}, actions);
  }
  return node;
}

void ExpectSameBuffers(const Node& a, const Node& b) {
  ASSERT_EQ(a.children.size(), b.children.size());
  EXPECT_EQ(a.pivots, b.pivots);
  for (size_t i = 0; i < a.children.size(); ++i) {
    EXPECT_EQ(a.children[i].ptr, b.children[i].ptr);
    EXPECT_EQ(a.children[i].buffer.ranges(), b.children[i].buffer.ranges());
    EXPECT_EQ(a.children[i].buffer.bytes(), b.children[i].buffer.bytes());
    ASSERT_EQ(a.children[i].buffer.points().size(), b.children[i].buffer.points().size());
    auto it = b.children[i].buffer.points().begin();
    for (const auto& [k, m] : a.children[i].buffer.points()) {
      EXPECT_EQ(k, it->first);
      EXPECT_EQ(m.type, it->second.type);
      EXPECT_EQ(m.payload, it->second.payload);
      ++it;
    }
  }
}

TEST(BlockPtrCodec, RoundTrip) {
  BlockPtr p{0x1122334455667788ull, 0x0102030405060708ull, 123456, 0xdeadbeefcafef00dull, 42,
             Compression::kZstd};
  std::byte raw[kBlockPtrEncodedSize];
  EncodeBlockPtr(p, raw);
  EXPECT_EQ(DecodeBlockPtr(raw), p);
  EXPECT_EQ(GetU64(raw), p.address);  // fixed little-endian layout
  EXPECT_EQ(GetU64(raw + 8), p.copy_address);
  EXPECT_EQ(GetU32(raw + 16), p.stored_bytes);
  EXPECT_EQ(GetU64(raw + 20), p.checksum);
  EXPECT_EQ(GetU64(raw + 28), p.birth);
  EXPECT_EQ(static_cast<uint8_t>(raw[36]), 1);
}

TEST(NodeCodec, LeafRoundTripAndSizeEstimate) {
  for (bool compress : {false, true}) {
    Node node = MakeLeaf(300);
    Compression c;
    std::string stored = EncodeNode(node, compress, &c);
    EXPECT_EQ(c, compress ? Compression::kZstd : Compression::kNone);
    if (!compress) {
      EXPECT_EQ(stored.size(), node.SerializedBytes());
    }
    auto decoded = DecodeNode(PtrFor(stored, c), Bytes(stored), 0);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
    ASSERT_EQ((*decoded)->leaf.count(), 300u);
    EXPECT_EQ((*decoded)->leaf.arena(), node.leaf.arena());
    EXPECT_EQ((*decoded)->leaf.value(49), std::string(49, 'v'));
  }
}

TEST(NodeCodec, InternalRoundTripAndSizeEstimate) {
  for (bool compress : {false, true}) {
    Node node = MakeInternal();
    Compression c;
    std::string stored = EncodeNode(node, compress, &c);
    if (!compress) {
      EXPECT_EQ(stored.size(), node.SerializedBytes());
    }
    auto decoded = DecodeNode(PtrFor(stored, c), Bytes(stored), 2);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
    EXPECT_EQ((*decoded)->level, 2u);
    EXPECT_EQ((*decoded)->SerializedBytes(), node.SerializedBytes());
    ExpectSameBuffers(node, **decoded);
  }
}

TEST(NodeCodec, WrongLevelOrPointerIsCorruption) {
  Node node = MakeInternal();
  Compression c;
  std::string stored = EncodeNode(node, false, &c);
  BlockPtr p = PtrFor(stored, c);
  auto wrong_level = DecodeNode(p, Bytes(stored), 1);
  ASSERT_FALSE(wrong_level.has_value());
  EXPECT_EQ(wrong_level.error().code(), Code::kCorruption);
  EXPECT_NE(wrong_level.error().message().find("77"), std::string::npos);
  BlockPtr bad = p;
  bad.checksum ^= 1;
  EXPECT_EQ(DecodeNode(bad, Bytes(stored), 2).error().code(), Code::kCorruption);
  bad = p;
  bad.compression = Compression::kZstd;
  EXPECT_EQ(DecodeNode(bad, Bytes(stored), 2).error().code(), Code::kCorruption);
}

TEST(NodeCodec, EveryBitFlipIsCorruption) {
  for (bool compress : {false, true}) {
    Node node = MakeInternal();
    Compression c;
    std::string stored = EncodeNode(node, compress, &c);
    BlockPtr p = PtrFor(stored, c);
    for (size_t i = 0; i < stored.size(); i += 7) {
      std::string bad = stored;
      bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
      auto r = DecodeNode(p, Bytes(bad), 2);
      ASSERT_FALSE(r.has_value()) << "flip at " << i;
      EXPECT_EQ(r.error().code(), Code::kCorruption);
    }
    for (size_t len : {size_t{0}, size_t{10}, size_t{31}, size_t{32}, stored.size() - 1}) {
      std::string cut = stored.substr(0, len);
      EXPECT_EQ(DecodeNode(PtrFor(cut, c), Bytes(cut), 2).error().code(), Code::kCorruption);
    }
  }
}

// Mutates payload bytes and re-forges both checksums, so only the structural
// checks stand between garbage and the tree. Must never crash.
TEST(NodeCodec, ForgedChecksumsStillRejectMalformedStructure) {
  std::mt19937_64 rng(7);
  Node internal = MakeInternal();
  Node leaf = MakeLeaf(100);
  size_t rejected = 0;
  for (int round = 0; round < 4000; ++round) {
    const Node& src = (round % 2) ? internal : leaf;
    Compression c;
    std::string stored = EncodeNode(src, false, &c);
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t at = kNodeHeaderBytes + rng() % (stored.size() - kNodeHeaderBytes);
      stored[at] = static_cast<char>(rng());
    }
    if (round % 5 == 0) stored.resize(kNodeHeaderBytes + rng() % (stored.size() - kNodeHeaderBytes));
    auto* h = reinterpret_cast<std::byte*>(stored.data());
    PutU32(h + 12, static_cast<uint32_t>(stored.size() - kNodeHeaderBytes));
    PutU32(h + 16, static_cast<uint32_t>(stored.size() - kNodeHeaderBytes));
    PutU64(h + 24, Checksum64(stored.data() + kNodeHeaderBytes, stored.size() - kNodeHeaderBytes));
    auto r = DecodeNode(PtrFor(stored, c), Bytes(stored), src.level);
    if (!r) {
      EXPECT_EQ(r.error().code(), Code::kCorruption);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000u);
  // Pure garbage of various sizes with a correct pointer checksum.
  for (int round = 0; round < 2000; ++round) {
    std::string garbage(rng() % 600, '\0');
    for (auto& ch : garbage) ch = static_cast<char>(rng());
    if (garbage.size() >= 8) PutU32(reinterpret_cast<std::byte*>(garbage.data()), kNodeMagic);
    auto r = DecodeNode(PtrFor(garbage, Compression::kNone), Bytes(garbage), kAnyLevel);
    EXPECT_FALSE(r.has_value());
  }
}

}  // namespace
}  // namespace tessera
