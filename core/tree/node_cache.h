// A clock cache of clean, decoded tree nodes, shared by every tree of a
// database and bounded in bytes.
//
// Contract
//  1. Entries are keyed by (address, checksum), so a freed-and-reused address
//     can never return a stale node.
//  2. Lookup pins the node by returning a shared_ptr; a pinned entry is never
//     evicted. Unpinned entries are evicted by the clock hand when the
//     total (clean + dirty bytes reported by trees) exceeds the capacity.
//  3. Trees report their dirty bytes with AddDirty/SubDirty; dirty nodes are
//     owned by their tree, never evicted, and count against the capacity.
//  4. Thread-safe (one internal mutex).
#pragma once

#include <cstdint>
#include <memory>

namespace tessera {

class Node;  // defined in core/tree/node.h

class NodeCache {
 public:
  explicit NodeCache(uint64_t capacity_bytes);
  ~NodeCache();

  std::shared_ptr<const Node> Lookup(uint64_t address, uint64_t checksum);
  void Insert(uint64_t address, uint64_t checksum, std::shared_ptr<const Node> node, uint64_t bytes);
  void Erase(uint64_t address, uint64_t checksum);

  void AddDirty(uint64_t bytes);
  void SubDirty(uint64_t bytes);

  uint64_t capacity() const;
  uint64_t clean_bytes() const;
  uint64_t dirty_bytes() const;
  uint64_t hits() const;
  uint64_t misses() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
