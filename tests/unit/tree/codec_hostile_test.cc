// Node codec against hostile stored nodes: checksums that verify around
// counts and sizes no writer produces (found by fuzz/tree_node_fuzz.cc).
// The decoder must refuse them with Corruption before it sizes anything by
// them, so this file counts the bytes of the largest allocation made while
// decoding (a replaced global operator new; tracking is off elsewhere).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "core/tree/codec.h"
#include "core/util/checksum.h"
#include "core/util/endian.h"

// The replacement pair below is malloc/free underneath; gcc cannot see that
// operator new and operator delete match when it inlines them.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<bool> g_track{false};
std::atomic<size_t> g_largest{0};
}  // namespace

void* operator new(size_t n) {
  if (g_track.load(std::memory_order_relaxed)) {
    size_t prev = g_largest.load();
    while (n > prev && !g_largest.compare_exchange_weak(prev, n)) {
    }
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace tessera {
namespace {

// A leaf's stored form with `count` in its header and `payload` after it;
// every checksum (header and pointer) matches.
std::string StoredLeaf(uint32_t count, const std::string& payload) {
  std::string stored(kNodeHeaderBytes, '\0');
  auto* h = reinterpret_cast<std::byte*>(stored.data());
  PutU32(h, kNodeMagic);
  h[4] = static_cast<std::byte>(kNodeVersion);
  h[5] = std::byte{1};
  PutU32(h + 8, count);
  PutU32(h + 12, static_cast<uint32_t>(payload.size()));
  PutU32(h + 16, static_cast<uint32_t>(payload.size()));
  PutU64(h + 24, Checksum64(payload.data(), payload.size()));
  return stored + payload;
}

Result<std::unique_ptr<Node>> Decode(const std::string& stored) {
  BlockPtr ptr;
  ptr.address = 5;
  ptr.stored_bytes = static_cast<uint32_t>(stored.size());
  ptr.checksum = Checksum64(stored.data(), stored.size());
  g_largest = 0;
  g_track = true;
  auto node = DecodeNode(ptr, {reinterpret_cast<const std::byte*>(stored.data()), stored.size()}, kAnyLevel);
  g_track = false;
  return node;
}

TEST(CodecHostile, LeafCountBeyondThePayloadAllocatesNothingLarge) {
  // One real entry ("k" -> "v"), but a count of 4 billion: the decoder used
  // to reserve 16 GiB of entry offsets before finding the payload short.
  std::string entry = std::string("\x01\x00\x01\x00\x00\x00", 6) + "kv";
  auto node = Decode(StoredLeaf(0xFFFFFFFFu, entry));
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error().code(), Code::kCorruption);
  EXPECT_LT(g_largest.load(), size_t{1} << 20) << "decoding sized an allocation by the hostile count";
}

TEST(CodecHostile, LeafCountMatchingThePayloadStillDecodes) {
  std::string entry = std::string("\x01\x00\x01\x00\x00\x00", 6) + "kv";
  auto node = Decode(StoredLeaf(1, entry));
  ASSERT_TRUE(node) << node.error().ToString();
  EXPECT_EQ((*node)->leaf.count(), 1u);
}

}  // namespace
}  // namespace tessera
