// Database::RequireMetadataCopies: raise the pool's metadata copies setting
// (database.h contract 5).
//
// Design notes
//  1. Metadata must be at least as redundant as the data it describes: an
//     rs:K+M volume survives M lost vdevs, so its tree nodes (and the root
//     tree, which leads to them) need M+1 copies on distinct vdevs. The
//     volume layer asks for M+1 when it creates or opens such a volume; the
//     setting only rises, so a pool never drops below what a volume once
//     needed.
//  2. The setting lives in the superblock (format version 3 once it passes
//     2; superblock.h), so it is known before any tree is read.
//  3. Raising it rewrites, in the same commit, every node of the root tree
//     and of every live dataset tree that has fewer copies than the pool now
//     keeps (Tree::RewriteNodes, then a forced commit): copy-on-write gives
//     each a new pointer with every copy, and the old blocks are freed, or
//     go to a dead list when a snapshot still holds them. Snapshot trees
//     are not rewritten here (they are read-only trees); their older nodes
//     keep their copies until ScrubMetadata writes them anew
//     (snapshot_recopy.cc).
//  4. Everything happens under the commit lock; on a failure the database is
//     failed like any failed commit (contract 3) and the setting on disk is
//     the old one.
#include "core/db/database.h"
#include "core/util/log.h"

namespace tessera {

Status Database::RequireMetadataCopies(uint32_t copies) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  copies = std::min<uint32_t>(copies, kMaxNodeCopies);
  if (copies <= copies_setting_.load()) return Ok();
  const uint32_t before = copies_setting_.load();
  copies_setting_ = copies;
  io_->set_copies(MetadataIo::CopiesFor(*pool_, options_.metadata_tiers, copies));
  auto done = RewriteThinNodesLocked();
  if (!done) {
    failed_ = done.error();
    return Err(done.error());
  }
  TRY(CommitLocked(/*force=*/true));
  Log(LogLevel::kInfo, "metadata copies raised from {} to {} ({} kept: the metadata tiers' vdevs bound it)",
      before, copies, io_->copies());
  return Ok();
}

Status Database::RewriteThinNodesLocked() {
  const size_t keep = io_->copies();
  auto thin = [keep](const BlockPtr& ptr) { return ptr.CopyCount() < keep; };
  TRY_STATUS(root_tree_->RewriteNodes(thin));
  std::vector<std::string> names;
  TRY_STATUS(root_tree_->Scan("d", PrefixEnd("d"), [&](std::string_view k, std::string_view) {
    names.emplace_back(k.substr(1));
    return true;
  }));
  for (const auto& name : names) {
    Dataset* ds = TRY(OpenDatasetLocked(name));
    TRY_STATUS(ds->tree().RewriteNodes(thin));
  }
  return Ok();
}

}  // namespace tessera
