// Pool device management: offline, online, replace (pool.h contract 3).
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
#include <algorithm>

#include "core/pool/pool.h"
#include "core/util/aligned_buffer.h"
#include "core/util/uuid.h"

namespace tessera {

const PoolVdev* Pool::FindByName(const std::string& name) const {
  for (const auto& v : vdevs_) {
    if (v.config.name == name) return &v;
  }
  return nullptr;
}

Result<PoolVdev*> Pool::FindMutable(const std::string& name) {
  for (auto& v : vdevs_) {
    if (v.config.name == name) return &v;
  }
  std::string known;
  for (const auto& v : vdevs_) known += (known.empty() ? "" : ", ") + v.config.name;
  return Err(Code::kNotFound, "no vdev '{}' in the pool (its vdevs: {})", name, known);
}

bool Pool::Healthy() const {
  return std::all_of(vdevs_.begin(), vdevs_.end(), [](const PoolVdev& v) { return v.device->online(); });
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
  EncodeLabel(label, block.span());
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

}  // namespace tessera
