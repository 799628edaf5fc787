// The B-epsilon tree: an ordered map from byte-string keys to byte-string
// values, with buffered messages in internal nodes.
//
// Contract
//  1. Keys are 1..kMaxKeySize bytes, values 0..kMaxValueSize bytes; larger
//     ones get InvalidArgument and change nothing.
//  2. Insert, Delete, Upsert and RangeDelete are blind: they never read a
//     leaf. Their effect is visible to Get/Scan immediately.
//  3. Sync() writes every dirty node bottom-up to newly allocated blocks
//     (NodeStore::Allocate) and returns the new root pointer. Old versions of
//     rewritten nodes are handed to NodeStore::Free. Until the caller makes
//     that root durable, the previous root stays intact on disk.
//  4. A node whose checksum or format does not verify yields Corruption; a
//     read never returns data from an unverified node.
//  5. Thread-safety: all methods may be called from any thread; mutations and
//     Sync are serialized by the tree's own lock, reads run concurrently.
//  6. A read-only tree (opened on a snapshot root) refuses mutations with
//     ReadOnly.
//  7. Each call is one step for every other thread: a ReplaceRange is seen
//     by readers and by Sync either not at all or whole.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tree/message_action.h"
#include "core/tree/node_cache.h"
#include "core/tree/node_store.h"
#include "core/util/status.h"

namespace tessera {

inline constexpr size_t kMaxKeySize = 1024;
inline constexpr size_t kMaxValueSize = 64 * 1024;

struct TreeOptions {
  // Target serialized node size; an internal node over it flushes its fullest
  // buffer, a leaf over it splits. Must be >= 16 KiB and >= 4 * the largest entry.
  uint32_t node_size = 256 * 1024;
  // Maximum children of an internal node before it splits.
  uint32_t max_fanout = 32;
  bool compress = false;  // zstd on write
  bool read_only = false;
  // Kept alive as long as the tree: whatever its opener must know is still
  // in use (core/db counts open snapshot trees with it).
  std::shared_ptr<const void> holder;
};

struct TreeEntry {
  std::string key;
  std::string value;
};

// Callback for Scan: return false to stop.
using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;
// Callback for ForEachNode: the node pointer and its level (0 = leaf).
using NodeFn = std::function<Status(const BlockPtr& ptr, uint32_t level)>;

class Tree {
 public:
  // A new, empty tree. Nothing is written until Sync().
  static Result<std::unique_ptr<Tree>> Create(NodeStore* store, NodeCache* cache,
                                              const MessageActions* actions, TreeOptions options);
  // A tree whose root is `root` (written by an earlier Sync). Reads the root
  // node and verifies it.
  static Result<std::unique_ptr<Tree>> Open(NodeStore* store, NodeCache* cache,
                                            const MessageActions* actions, TreeOptions options,
                                            const BlockPtr& root);
  ~Tree();

  Status Insert(std::string_view key, std::string_view value);
  Status Delete(std::string_view key);
  // Applies action `action` with `param` to the key's current value (or to
  // "absent") when the message reaches it. Unknown action ids: InvalidArgument.
  Status Upsert(std::string_view key, ActionId action, std::string_view param);
  // Deletes every key in [lo, hi). lo < hi required.
  Status RangeDelete(std::string_view lo, std::string_view hi);
  // Deletes every key in [lo, hi) and inserts `entries` (keys within the
  // range) as one step: no reader and no Sync sees the range in between
  // (contract 7). Bad input changes nothing.
  Status ReplaceRange(std::string_view lo, std::string_view hi, std::span<const TreeEntry> entries);

  Result<std::optional<std::string>> Get(std::string_view key);
  // Visits keys in [lo, hi) in order (hi empty = no upper bound).
  Status Scan(std::string_view lo, std::string_view hi, const ScanFn& fn);

  // Writes dirty nodes; returns the root pointer. With nothing dirty, returns
  // the current root pointer unchanged.
  Result<BlockPtr> Sync();
  // The root pointer as of the last Sync/Open (null for a never-synced tree).
  BlockPtr root() const;
  // Approximate serialized bytes of nodes changed since the last Sync.
  uint64_t DirtyBytes() const;
  // Visits every on-disk node of the last synced version, parents before children.
  Status ForEachNode(const NodeFn& fn);
  // Makes every node that `select` picks (by its pointer), and every
  // ancestor of one, dirty, so the next Sync writes it anew (through
  // NodeStore::Allocate, with the copies the store keeps now). Loads the
  // nodes it visits; the dirty ones count in DirtyBytes. ReadOnly on a
  // read-only tree; a read error leaves the nodes dirtied so far dirty.
  Status RewriteNodes(const std::function<bool(const BlockPtr&)>& select);
  // The read-only counterpart, for trees nothing else may change (snapshots;
  // tree_recopy.cc): writes anew, through store->Allocate and Write, every
  // node under `root` that `select` picks and every ancestor of one (its
  // child pointers change), keeping each node's birth and content. `done`
  // carries what earlier calls over trees sharing nodes did: a subtree
  // shared by several trees is read and written once and stays shared.
  // Frees nothing and changes no cache entry; the caller frees the old
  // nodes (done->old_pointers) once nothing references them. Returns the new
  // root (`root` itself when nothing was picked). On an error, what was
  // written so far is in `done` (for the caller to free).
  struct Recopied {
    std::map<uint64_t, BlockPtr> moved;  // old first-copy address -> new pointer
    std::vector<BlockPtr> old_pointers;  // the nodes written anew, as they were
    std::set<uint64_t> kept;             // nodes visited and left as they are
  };
  static Result<BlockPtr> Recopy(NodeStore* store, const BlockPtr& root, bool compress,
                                 const std::function<bool(const BlockPtr&)>& select, Recopied* done);
  // Hands every on-disk node of the last synced version to NodeStore::Free and
  // leaves the tree empty and unusable (dataset delete).
  Status FreeAll();

  struct Stats {
    uint32_t height = 0;
    uint64_t nodes_read = 0;
    uint64_t nodes_written = 0;
    uint64_t flushes = 0;
    uint64_t splits = 0;
    uint64_t merges = 0;
  };
  Stats stats() const;

  class Impl;

 private:
  friend class TreeDiffer;  // tree_diff.cc reads both trees' nodes
  explicit Tree(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
