// Pool device management: offline, online, replace (pool.h contract 3),
// and adding a vdev (contract 5).
//
// Design notes
//  1. The slot (SlotVdev) is what every layer above holds; these calls only
//     change which device fills it, so nothing above sees a dangling device.
//  2. Online accepts only the device this slot had: a label of this pool,
//     tier and index. What it missed while away is stale, and the layers
//     above find it so (chunk generations, checksums) and rebuild it.
//  3. Replace writes a fresh label (same pool, tier, index and size, a new
//     guid) at the first and last block of the new device and flushes before
//     the device enters the slot; the slot keeps its size, so every disk
//     address stays valid and the allocator does not change.
//  4. Adding a vdev: its index is the next of its tier, which is its place
//     in pool.conf once appended there (config.h: indexes follow file
//     order), so the label PrepareVdev writes agrees with the next open.
//     The new element is constructed in reserved storage first and
//     published by storing the count (release), so concurrent readers of
//     vdevs() (I/O threads resolving addresses, row placement) never see
//     it half-built; the allocator adds it before it is published.
//  5. Growing a vdev: the label with the new size goes to the new last
//     block first (PrepareGrow), then to block 0 (GrowVdev); Open reads
//     block 0 first, so until that write is flushed the vdev opens at its
//     old size (its file merely longer), and after it at the new one. The
//     size and end that I/O threads read (Resolve) change through
//     atomic_ref.
#include <algorithm>
#include <atomic>

#include "core/pool/pool.h"
#include "core/util/aligned_buffer.h"
#include "core/util/log.h"
#include "core/util/uuid.h"

namespace tessera {

const PoolVdev* Pool::FindByName(const std::string& name) const {
  for (const auto& v : vdevs()) {
    if (v.config.name == name) return &v;
  }
  return nullptr;
}

Error Pool::NoSuchVdev(const std::string& name) const {
  std::string known;
  for (const auto& v : vdevs()) known += (known.empty() ? "" : ", ") + v.config.name;
  return Error(Code::kNotFound, fmt::format("no vdev '{}' in the pool (its vdevs: {})", name, known));
}

Result<const PoolVdev*> Pool::FindNamed(const std::string& name) const {
  if (const PoolVdev* v = FindByName(name)) return v;
  return Err(NoSuchVdev(name));
}

Result<PoolVdev*> Pool::FindMutable(const std::string& name) {
  for (auto& v : Published()) {
    if (v.config.name != name) continue;
    if (v.removed()) return Err(Code::kInvalidArgument, "vdev '{}' was removed from the pool", name);
    return &v;
  }
  return Err(NoSuchVdev(name));
}

bool Pool::Healthy() const {
  auto all = vdevs();
  return std::all_of(all.begin(), all.end(), [](const PoolVdev& v) { return v.device->online() || v.removed(); });
}

Status Pool::Offline(const std::string& name) {
  PoolVdev* v = TRY(FindMutable(name));
  v->device->Detach(VdevState::kOffline);
  v->config.offline = true;
  for (auto& c : config_.vdevs) {
    if (c.name == name) c.offline = true;
  }
  return Ok();
}

Status Pool::Remove(const std::string& name) {
  PoolVdev* v = TRY(FindMutable(name));
  v->device->Detach(VdevState::kRemoved);
  v->device->SetDraining(false);
  v->config.removed = true;
  v->config.offline = false;
  for (auto& c : config_.vdevs) {
    if (c.name != name) continue;
    c.removed = true;
    c.offline = false;
  }
  return Ok();
}

Status Pool::Online(const std::string& name, std::shared_ptr<Vdev> device) {
  PoolVdev* v = TRY(FindMutable(name));
  if (!device) return Err(Code::kInvalidArgument, "vdev '{}': no device", name);
  AlignedBuffer block(kBlockSize);
  std::optional<Error> problem;
  for (uint64_t where : {uint64_t{0}, device->Size().value - 1}) {
    Status read = device->Read(BlockNo{where}, block.span());
    auto label = read ? DecodeLabel(block.span()) : Result<VdevLabel>(std::unexpected(read.error()));
    if (!label) {
      problem = label.error();
      continue;
    }
    if (label->pool_uuid != uuid_ || label->tier != v->config.tier || label->index != v->config.index) {
      return Err(Code::kInvalidArgument,
                 "{} is not vdev '{}' of this pool (its label names pool {}, tier {}, index {})",
                 device->Describe(), name, UuidToString(label->pool_uuid), TierName(label->tier),
                 label->index);
    }
    TRY_STATUS(v->device->Attach(std::move(device)));
    v->label = *label;
    v->config.offline = false;
    for (auto& c : config_.vdevs) {
      if (c.name == name) c.offline = false;
    }
    return Ok();
  }
  return Err(problem->WithContext(fmt::format("vdev '{}': {} has no valid label", name, device->Describe())));
}

Status Pool::Replace(const std::string& name, std::shared_ptr<Vdev> device, const std::string& path) {
  PoolVdev* v = TRY(FindMutable(name));
  if (!device) return Err(Code::kInvalidArgument, "vdev '{}': no device", name);
  uint64_t blocks = device->Size().value;
  if (blocks < v->device->Size().value) {
    return Err(Code::kInvalidArgument, "{} has {} bytes; replacing vdev '{}' needs at least {}",
               device->Describe(), blocks * kBlockSize, name, v->device->Size().value * kBlockSize);
  }
  VdevLabel label{.pool_uuid = uuid_,
                  .vdev_guid = RandomU64(),
                  .tier = v->config.tier,
                  .index = static_cast<uint16_t>(v->config.index),
                  .size_blocks = v->device->Size().value,
                  .name = v->config.name};
  AlignedBuffer block(kBlockSize);
  std::lock_guard labels(label_mu_);  // contract 8
  EncodeLabel(label, block.span(), LeaseLocked());
  TRY_STATUS(device->Write(BlockNo{0}, block.span()));
  TRY_STATUS(device->Write(BlockNo{blocks - 1}, block.span()));
  TRY_STATUS(device->Flush());
  TRY_STATUS(v->device->Attach(std::move(device)));
  v->label = label;
  v->config.path = path;
  v->config.offline = false;
  for (auto& c : config_.vdevs) {
    if (c.name == name) {
      c.path = path;
      c.offline = false;
    }
  }
  return Ok();
}

Status Pool::CheckNewVdev(const VdevConfig& config) const {
  uint32_t in_tier = 0;
  for (const PoolVdev& v : vdevs()) {
    if (v.config.name == config.name) {
      return Err(Code::kInvalidArgument, "the pool already has a vdev named '{}'", config.name);
    }
    if (v.config.path == config.path && !v.removed()) {
      return Err(Code::kInvalidArgument, "{} is already the path of vdev '{}'", config.path, v.config.name);
    }
    if (v.config.tier == config.tier) in_tier++;
  }
  if (in_tier >= kMaxVdevsPerTier) {
    return Err(Code::kInvalidArgument, "tier {} already holds {} vdevs, the most it can", TierName(config.tier),
               kMaxVdevsPerTier);
  }
  if (config.index != in_tier) {
    return Err(Code::kInvalidArgument, "{}: index {} in tier {}, but the tier's next index is {}",
               VdevDescription(config), config.index, TierName(config.tier), in_tier);
  }
  return Ok();
}

namespace {

Status CheckNewDevice(const VdevConfig& config, const Vdev& device) {
  uint64_t bytes = device.Size().value * kBlockSize;
  if (bytes < kMinVdevBytes || bytes < config.size_bytes) {
    return Err(Code::kInvalidArgument, "{}: the device has {} bytes; it needs at least {}", VdevDescription(config),
               bytes, std::max(kMinVdevBytes, config.size_bytes));
  }
  return Ok();
}

}  // namespace

Status Pool::PrepareVdev(const VdevConfig& config, Vdev& device) const {
  TRY_STATUS(CheckNewVdev(config));
  TRY_STATUS(CheckNewDevice(config, device));
  uint64_t blocks = device.Size().value;
  VdevLabel label{.pool_uuid = uuid_,
                  .vdev_guid = RandomU64(),
                  .tier = config.tier,
                  .index = static_cast<uint16_t>(config.index),
                  .size_blocks = blocks,
                  .name = config.name};
  AlignedBuffer block(kBlockSize);
  EncodeLabel(label, block.span());
  TRY_STATUS(device.Write(BlockNo{0}, block.span()));
  TRY_STATUS(device.Write(BlockNo{blocks - 1}, block.span()));
  return device.Flush();
}

Status Pool::AddVdev(const VdevConfig& config, std::shared_ptr<Vdev> device,
                     const std::function<Status(const PoolVdev&)>& before_visible) {
  if (!device) return Err(Code::kInvalidArgument, "{}: no device", VdevDescription(config));
  TRY_STATUS(CheckNewVdev(config));
  TRY_STATUS(CheckNewDevice(config, *device));
  AlignedBuffer block(kBlockSize);
  TRY_STATUS(device->Read(BlockNo{0}, block.span()));
  VdevLabel label = TRY(DecodeLabel(block.span()));
  if (label.pool_uuid != uuid_ || label.tier != config.tier || label.index != config.index ||
      label.size_blocks != device->Size().value) {
    return Err(Code::kInvalidArgument, "{}: its label is not the one PrepareVdev writes for this pool",
               VdevDescription(config));
  }
  if (vdevs_.size() != count_.load() || vdevs_.size() == vdevs_.capacity()) {
    return Err(Code::kInvalidArgument, "the pool holds no room for another vdev");
  }
  auto slot = std::make_shared<SlotVdev>(config.name, BlockCount{label.size_blocks}, std::move(device));
  // Design note 4: built in reserved storage, published after the hook.
  vdevs_.push_back(PoolVdev{.config = config, .label = label, .device = slot, .end = label.size_blocks - 1});
  if (before_visible) {
    if (Status ready = before_visible(vdevs_.back()); !ready) {
      vdevs_.pop_back();
      return ready;
    }
  }
  config_.vdevs.push_back(config);
  count_.store(vdevs_.size(), std::memory_order_release);
  return Ok();
}

namespace {

// The vdev's own label at block 0 of `device`, or InvalidArgument.
Result<VdevLabel> OwnLabel(const PoolVdev& v, const Uuid& pool, Vdev& device) {
  AlignedBuffer block(kBlockSize);
  TRY_STATUS(device.Read(BlockNo{0}, block.span()));
  auto label = DecodeLabel(block.span());
  if (!label || label->pool_uuid != pool || label->vdev_guid != v.label.vdev_guid) {
    return Err(Code::kInvalidArgument, "{}: {} does not start with this vdev's label",
               VdevDescription(v.config), device.Describe());
  }
  return *label;
}

}  // namespace

Status Pool::PrepareGrow(const std::string& name, Vdev& device) const {
  const PoolVdev* v = FindByName(name);
  if (v == nullptr) return Err(Code::kNotFound, "no vdev '{}' in the pool", name);
  if (!v->device->online()) {
    return Err(Code::kInvalidArgument, "vdev '{}' is {}; bring it online first", name,
               VdevStateName(v->device->state()));
  }
  const uint64_t blocks = device.Size().value;
  if (blocks <= v->label.size_blocks) {
    return Err(Code::kInvalidArgument, "vdev '{}': {} has {} bytes, not more than the vdev's {}", name,
               device.Describe(), blocks * kBlockSize, v->label.size_blocks * kBlockSize);
  }
  VdevLabel label = TRY(OwnLabel(*v, uuid_, device));
  label.size_blocks = blocks;
  AlignedBuffer block(kBlockSize);
  EncodeLabel(label, block.span());
  TRY_STATUS(device.Write(BlockNo{blocks - 1}, block.span()));
  return device.Flush();
}

Status Pool::GrowVdev(const std::string& name, std::shared_ptr<Vdev> device,
                      const std::function<Status(const PoolVdev&, uint64_t)>& grown) {
  PoolVdev* v = TRY(FindMutable(name));
  if (!device) return Err(Code::kInvalidArgument, "vdev '{}': no device", name);
  const uint64_t old_blocks = v->label.size_blocks;
  const uint64_t blocks = device->Size().value;
  if (blocks <= old_blocks || !v->device->online()) {
    return Err(Code::kInvalidArgument, "vdev '{}' cannot grow to {} blocks now", name, blocks);
  }
  VdevLabel label = TRY(OwnLabel(*v, uuid_, *device));
  AlignedBuffer block(kBlockSize);
  TRY_STATUS(device->Read(BlockNo{blocks - 1}, block.span()));
  auto end_label = DecodeLabel(block.span());
  if (!end_label || end_label->vdev_guid != label.vdev_guid || end_label->size_blocks != blocks) {
    return Err(Code::kInvalidArgument, "vdev '{}': {} has no label at its end (PrepareGrow)", name,
               device->Describe());
  }
  // Design note 5: the switch.
  label.size_blocks = blocks;
  std::unique_lock labels(label_mu_);  // contract 8
  EncodeLabel(label, block.span(), LeaseLocked());
  TRY_STATUS(device->Write(BlockNo{0}, block.span()));
  TRY_STATUS(device->Flush());
  TRY_STATUS(v->device->Grow(BlockCount{blocks}, device));
  std::atomic_ref<uint64_t>(v->label.size_blocks).store(blocks);
  labels.unlock();
  std::atomic_ref<uint64_t>(v->end).store(blocks - 1);
  v->config.size_bytes = blocks * kBlockSize;
  for (auto& c : config_.vdevs) {
    if (c.name == name) c.size_bytes = blocks * kBlockSize;
  }
  return grown ? grown(*v, old_blocks) : Ok();
}

// Contract 8.
Status Pool::WriteLease(const LeaseRecord& lease) {
  std::lock_guard labels(label_mu_);
  lease_ = lease;
  AlignedBuffer block(kBlockSize);
  size_t written = 0;
  std::optional<Error> first;
  for (const PoolVdev* v : FastestTierVdevs()) {
    if (!v->device->online()) continue;
    EncodeLabel(v->label, block.span(), &lease);
    Status status = v->device->Write(BlockNo{0}, block.span());
    if (status) status = v->device->Flush();
    if (status) {
      written++;
    } else if (!first) {
      first = status.error().WithContext(fmt::format("vdev '{}'", v->config.name));
    }
  }
  if (written == 0) {
    return Err(first ? first->WithContext("the pool's lease") : Error(Code::kIOError, "no online metadata vdev "
                                                                       "holds the pool's lease"));
  }
  return Ok();
}

std::vector<LeaseRecord> Pool::ReadLeases() const {
  std::vector<LeaseRecord> out;
  AlignedBuffer block(kBlockSize);
  for (const PoolVdev* v : FastestTierVdevs()) {
    if (!v->device->online() || !v->device->Read(BlockNo{0}, block.span())) continue;
    if (auto lease = DecodeLease(block.span())) out.push_back(std::move(*lease));
  }
  return out;
}

void Pool::Fence(const std::string& reason) {
  std::lock_guard labels(label_mu_);
  if (fenced_.load(std::memory_order_relaxed)) return;
  fence_reason_ = reason;
  fenced_.store(true, std::memory_order_release);
}

void Pool::SetLeaseDeadline(std::chrono::steady_clock::time_point until) {
  const int64_t ns = until == std::chrono::steady_clock::time_point{}
                         ? 0
                         : std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                    until.time_since_epoch()).count());
  lease_deadline_ns_.store(ns, std::memory_order_release);
}

bool Pool::LeaseExpired() const {
  const int64_t deadline = lease_deadline_ns_.load(std::memory_order_acquire);
  if (deadline == 0) return false;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count() > deadline;
}

void Pool::FenceIfLeaseExpired() {
  if (!fenced() && LeaseExpired()) {
    const std::string reason =
        "its lease could not be renewed in time (the fastest tier's vdevs did not take the record), so another "
        "host may take the pool over";
    Fence(reason);
    Log(LogLevel::kError, "{}: this process writes nothing more to the pool; restart it once those vdevs answer",
        reason);
  }
}

Status Pool::RefuseFenced() {
  FenceIfLeaseExpired();
  if (!fenced()) return Ok();
  std::lock_guard labels(label_mu_);
  return Err(Code::kIOError, "the pool stopped writing: {}", fence_reason_);
}

}  // namespace tessera
