// MetadataIo: see the header for the contract.
//
// Design notes
//  1. Read order: the copies on healthy vdevs in pointer order (address,
//     copy_address, then more_copies). Only the copies read before the first good one are
//     known bad and repaired; a bad copy after it is found by the scrub.
//  2. A repair writes the good copy's whole blocks (padding included) over
//     the bad copy at the same address. It is not flushed: a repair lost in a
//     crash is found bad again and repaired again. The block cannot have been
//     reused meanwhile: the caller reads through a pointer its tree still
//     references (database.h contract 4), and freed blocks stay quarantined
//     until the freeing commit is durable.
//  3. A failed repair is counted and logged, never returned: the read itself
//     succeeded.
#include "core/db/metadata_io.h"

#include <algorithm>
#include <vector>

#include "core/util/aligned_buffer.h"
#include "core/util/log.h"

namespace tessera {
namespace {

struct Copy {
  uint64_t address;
  bool faulted;
};

std::vector<Copy> CopiesOf(const Pool& pool, const BlockPtr& ptr) {
  std::vector<Copy> out;
  for (uint64_t a : ptr.CopyAddresses()) out.push_back({a, pool.IsFaulted(DiskAddress{a})});
  return out;
}

std::string Where(const BlockPtr& ptr) {
  std::string out = DiskAddress{ptr.address}.ToString();
  auto all = ptr.CopyAddresses();
  for (size_t i = 1; i < all.size(); i++) {
    out += fmt::format("{}{}", i == 1 ? " (copies " : ", ", DiskAddress{all[i]}.ToString());
  }
  return all.size() > 1 ? out + ")" : out;
}

}  // namespace

uint32_t MetadataIo::CopiesFor(const Pool& pool, std::span<const Tier> metadata_tiers, uint32_t setting) {
  // Every configured vdev counts, online or not: a vdev lost at open comes
  // back (online, replace) while the database runs, and nodes written
  // meanwhile get fewer copies only for as long as it is away. A removed
  // vdev never comes back.
  uint32_t configured = 0;
  for (const auto& v : pool.vdevs()) {
    if (v.removed()) continue;
    bool metadata = std::find(metadata_tiers.begin(), metadata_tiers.end(), v.config.tier) !=
                    metadata_tiers.end();
    if (metadata) configured++;
  }
  return std::clamp<uint32_t>(std::min(setting, configured), 1, kMaxNodeCopies);
}

Status MetadataIo::Write(const BlockPtr& ptr, std::span<const std::byte> data) {
  for (const Copy& copy : CopiesOf(*pool_, ptr)) {
    if (copy.faulted) continue;  // allocated before its vdev was lost; never written
    TRY_STATUS(pool_->Write(DiskAddress{copy.address}, data));
  }
  return Ok();
}

uint32_t MetadataIo::Repair(std::span<const uint64_t> bad, std::span<const std::byte> good) {
  uint32_t done = 0;
  for (uint64_t address : bad) {
    auto status = pool_->Write(DiskAddress{address}, good);
    if (status) {
      repaired_.fetch_add(1, std::memory_order_relaxed);
      done++;
      Log(LogLevel::kInfo, "repaired tree node copy at {}", DiskAddress{address}.ToString());
    } else {
      repair_failures_.fetch_add(1, std::memory_order_relaxed);
      Log(LogLevel::kWarn, "repair of tree node copy at {} failed: {}", DiskAddress{address}.ToString(),
          status.error().ToString());
    }
  }
  return done;
}

Status MetadataIo::Read(const BlockPtr& ptr, std::span<std::byte> data) {
  std::vector<uint64_t> bad;
  bool mismatch = false;
  std::optional<Error> first_error;
  for (const Copy& copy : CopiesOf(*pool_, ptr)) {
    if (copy.faulted) continue;
    auto status = pool_->Read(DiskAddress{copy.address}, data);
    if (!status) {
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      if (!first_error) first_error = status.error();
      bad.push_back(copy.address);
      continue;
    }
    if (!StoredBytesVerify(ptr, data)) {
      checksum_errors_.fetch_add(1, std::memory_order_relaxed);
      mismatch = true;
      bad.push_back(copy.address);
      continue;
    }
    if (!bad.empty()) Repair(bad, data);
    return Ok();
  }
  unrecoverable_.fetch_add(1, std::memory_order_relaxed);
  if (!mismatch && !first_error) {  // every copy is on a vdev that is not online (contract 5)
    return Err(Code::kIOError, "tree node at {}: every copy is on a vdev that is not online", Where(ptr));
  }
  if (mismatch || !first_error) {
    return Err(Code::kCorruption, "tree node at {}: no copy verifies against its checksum",
               Where(ptr));
  }
  return Err(first_error->WithContext(fmt::format("tree node at {}: no copy is readable", Where(ptr))));
}

NodeScrub MetadataIo::ScrubNode(const BlockPtr& ptr) {
  NodeScrub out;
  const size_t bytes = static_cast<size_t>(ptr.Blocks()) * kBlockSize;
  std::optional<AlignedBuffer> good;
  std::vector<uint64_t> bad;
  for (const Copy& copy : CopiesOf(*pool_, ptr)) {
    if (copy.faulted) {
      out.unavailable++;
      continue;
    }
    AlignedBuffer buf(bytes);
    out.copies_checked++;
    auto status = pool_->Read(DiskAddress{copy.address}, buf.span());
    if (!status) {
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      bad.push_back(copy.address);
    } else if (!StoredBytesVerify(ptr, buf.span())) {
      checksum_errors_.fetch_add(1, std::memory_order_relaxed);
      bad.push_back(copy.address);
    } else if (!good) {
      good = std::move(buf);
    }
  }
  out.bad = static_cast<uint32_t>(bad.size());
  out.recoverable = good.has_value();
  if (good) {
    out.repaired = Repair(bad, good->span());
  } else {
    unrecoverable_.fetch_add(1, std::memory_order_relaxed);
  }
  return out;
}

MetadataStats MetadataIo::stats() const {
  return MetadataStats{.read_errors = read_errors_.load(),
                       .checksum_errors = checksum_errors_.load(),
                       .repaired = repaired_.load(),
                       .repair_failures = repair_failures_.load(),
                       .unrecoverable = unrecoverable_.load(),
                       .single_copy_writes = single_copy_writes_.load()};
}

}  // namespace tessera
