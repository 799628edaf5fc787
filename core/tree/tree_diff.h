// Tree diff: the keys whose values differ between two B-epsilon trees that
// share a NodeStore and NodeCache (a dataset's snapshots and its live tree).
//
// Contract
//  1. DiffTrees(older, newer, lo, hi, fn) calls fn(key, old, new) once per
//     key in [lo, hi) (hi empty = no upper bound) whose value differs, in
//     key order; `old`/`new` are the values in each tree (nullopt = absent).
//     The result equals comparing Scan(lo, hi) of both trees.
//  2. Shared subtrees are skipped without being read: a pair of nodes is
//     equal over a key range R when both are clean with the same on-disk
//     pointer (address, checksum, ...) AND the messages buffered above them
//     for R are the same on both sides. A node's contents alone are not its
//     value: in a B-epsilon tree the ancestors' buffers still hold messages
//     for it, so pointer equality says nothing when those pending messages
//     differ (then the diff descends, narrowing R, until the pending
//     messages agree or a leaf is reached).
//  3. Both trees are read under their read locks (taken in a fixed order,
//     so two diffs never deadlock); writers of either tree wait meanwhile.
//     Diffing a tree against itself reports nothing.
//  4. fn returning false stops the diff early (still Ok). A node that does
//     not verify yields Corruption; keys already reported stay reported.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "core/tree/tree.h"
#include "core/util/status.h"

namespace tessera {

using DiffFn = std::function<bool(std::string_view key, std::optional<std::string_view> old_value,
                                  std::optional<std::string_view> new_value)>;

struct TreeDiffStats {
  uint64_t nodes_visited = 0;     // child nodes loaded (cache hits included)
  uint64_t subtrees_skipped = 0;  // node pairs proven equal by pointer (note 2)
  uint64_t leaves_compared = 0;   // leaf pairs materialized and compared
};

Result<TreeDiffStats> DiffTrees(Tree& older, Tree& newer, std::string_view lo, std::string_view hi,
                                const DiffFn& fn);

}  // namespace tessera
