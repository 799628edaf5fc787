// NodeCache: byte bound, pinning, (address, checksum) keying, dirty bytes.
#include <gtest/gtest.h>

#include "core/tree/node.h"
#include "core/tree/node_cache.h"

namespace tessera {
namespace {

std::shared_ptr<const Node> MakeNode() { return std::make_shared<Node>(); }

TEST(NodeCache, KeyedByAddressAndChecksum) {
  NodeCache cache(1 << 20);
  auto a = MakeNode();
  cache.Insert(1, 100, a, 10);
  EXPECT_EQ(cache.Lookup(1, 100), a);
  EXPECT_EQ(cache.Lookup(1, 101), nullptr);  // same address, different content
  EXPECT_EQ(cache.Lookup(2, 100), nullptr);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
  cache.Erase(1, 100);
  EXPECT_EQ(cache.Lookup(1, 100), nullptr);
  EXPECT_EQ(cache.clean_bytes(), 0u);
}

TEST(NodeCache, ByteBoundRespected) {
  NodeCache cache(1000);
  for (uint64_t i = 1; i <= 500; ++i) {
    cache.Insert(i, i * 3, MakeNode(), 100);
    EXPECT_LE(cache.clean_bytes(), 1000u);
  }
  size_t present = 0;
  for (uint64_t i = 1; i <= 500; ++i) present += cache.Lookup(i, i * 3) != nullptr;
  EXPECT_GT(present, 0u);
  EXPECT_LE(present, 10u);
}

TEST(NodeCache, PinnedEntriesAreNotEvicted) {
  NodeCache cache(1000);
  std::vector<std::shared_ptr<const Node>> pins;
  for (uint64_t i = 1; i <= 5; ++i) {
    pins.push_back(MakeNode());
    cache.Insert(i, 7, pins.back(), 100);
  }
  for (uint64_t i = 100; i < 400; ++i) cache.Insert(i, 7, MakeNode(), 100);
  for (uint64_t i = 1; i <= 5; ++i) EXPECT_EQ(cache.Lookup(i, 7), pins[i - 1]) << i;
  EXPECT_LE(cache.clean_bytes(), 1000u);
  // A pin taken through Lookup protects too.
  pins.clear();
  auto held = cache.Lookup(3, 7);
  ASSERT_NE(held, nullptr);
  for (uint64_t i = 1000; i < 1300; ++i) cache.Insert(i, 7, MakeNode(), 100);
  EXPECT_EQ(cache.Lookup(3, 7), held);
  EXPECT_EQ(cache.Lookup(1, 7), nullptr);  // unpinned now, evicted
}

TEST(NodeCache, DirtyBytesCountAgainstCapacity) {
  NodeCache cache(1000);
  for (uint64_t i = 1; i <= 10; ++i) cache.Insert(i, 1, MakeNode(), 100);
  EXPECT_EQ(cache.clean_bytes(), 1000u);
  cache.AddDirty(700);
  EXPECT_EQ(cache.dirty_bytes(), 700u);
  EXPECT_LE(cache.clean_bytes(), 300u);
  cache.SubDirty(700);
  EXPECT_EQ(cache.dirty_bytes(), 0u);
  cache.Insert(50, 1, MakeNode(), 100);
  EXPECT_LE(cache.clean_bytes(), 1000u);
}

}  // namespace
}  // namespace tessera
