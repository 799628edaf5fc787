// Shared helpers for the tree unit tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/tree/memory_node_store.h"
#include "core/tree/tree.h"

namespace tessera::testing {

inline std::unique_ptr<Tree> MustCreate(NodeStore* store, NodeCache* cache,
                                        const MessageActions* actions, TreeOptions options) {
  auto tree = Tree::Create(store, cache, actions, options);
  EXPECT_TRUE(tree.has_value()) << tree.error().ToString();
  return std::move(*tree);
}

inline TreeOptions SmallOptions() {
  TreeOptions o;
  o.node_size = 16 * 1024;
  o.max_fanout = 8;
  return o;
}

inline std::map<std::string, std::string> ScanAll(Tree& tree, std::string_view lo = "",
                                                  std::string_view hi = "") {
  std::map<std::string, std::string> out;
  auto s = tree.Scan(lo, hi, [&](std::string_view k, std::string_view v) {
    out.emplace(k, v);
    return true;
  });
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
  return out;
}

inline std::set<uint64_t> Reachable(Tree& tree) {
  std::set<uint64_t> out;
  auto s = tree.ForEachNode([&](const BlockPtr& p, uint32_t) {
    out.insert(p.address);
    return Ok();
  });
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
  return out;
}

inline std::string Key(uint64_t i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "key%08llu", static_cast<unsigned long long>(i));
  return buf;
}

}  // namespace tessera::testing
