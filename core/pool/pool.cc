// Pool creation, label verification and address-based I/O.
//
// Design notes
//  1. A vdev's usable range excludes the label copies and superblock slots:
//     [kFirstUsableBlock, size - 1).
//  2. Open checks, in order, for every vdev: device size >= label size
//     (truncation), one label copy valid, the label's tier/index match the
//     config, and all pool uuids agree. The first failure is returned with the
//     vdev's name and path; nothing is written.
//  3. Degraded open (contract 1a): a missing or offline vdev, and a failed
//     size or label check, turn into an empty slot in any tier; an identity
//     mismatch (another pool, tier or index) is a configuration error, never
//     hidden. An empty slot's size comes from the config. Whether the pool
//     is usable without the vdev is not the pool's call: it cannot tell
//     which vdevs hold the superblocks and tree-node copies that matter. The
//     database decides when it opens (database.h contract 6).
//  4. FlushAll (the database's commit) fails only for the metadata tier. A
//     vdev of another tier whose flush fails is faulted (its slot emptied):
//     its volumes' redundancy covers it, and the admin sees it in vdev list
//     and brings it back (vdev online) or replaces it. The residual risk:
//     tree nodes that spilled onto that vdev (the metadata tier was full)
//     are not durable in that txg.
//  5. FlushAll flushes up to 16 online vdevs at once (the calling thread
//     and the pool's workers, as Submit does): a commit waits for the
//     slowest device, not for the sum.
//  6. Submit merges requests that continue each other on a vdev and in
//     memory (a lun's chunks of one row, a log batch's blocks) into one
//     request of up to 8 MiB; each merged request's result is its parts'.
//  7. Submit hands the batches of different vdevs down at the same time:
//     the first in the calling thread, the others on the pool's workers
//     (one fewer than the vdevs, at most 15). An erasure-coded stripe's
//     chunks then cost one device round trip, not one per device. The
//     worker count is fixed when the pool is made or opened: vdevs added
//     later (AddVdev) share those workers, so a pool grown from one vdev
//     runs its vdevs' batches one after another until it is reopened.
#include "core/pool/pool.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>

#include "core/util/aligned_buffer.h"
#include "core/util/log.h"
#include "core/util/size.h"

namespace tessera {
namespace {

// A valid label copy; else the first copy's decode error; IOError only when
// both reads fail (the device is unreadable and Open faults it).
Result<VdevLabel> ReadLabel(Vdev& device, const VdevConfig& config) {
  AlignedBuffer block(kBlockSize);
  std::optional<Error> read_error;
  std::optional<Error> decode_error;
  uint64_t size = device.Size().value;
  for (uint64_t where : {uint64_t{0}, size - 1}) {
    auto status = device.Read(BlockNo{where}, block.span());
    if (!status) {
      if (!read_error) read_error = status.error();
      continue;
    }
    auto label = DecodeLabel(block.span());
    if (label) return label;
    if (!decode_error) decode_error = label.error();
  }
  return Err((decode_error ? *decode_error : *read_error).WithContext(VdevDescription(config)));
}

}  // namespace

Result<std::unique_ptr<Pool>> Pool::Create(const PoolConfig& config,
                                           std::vector<std::shared_ptr<Vdev>> devices) {
  if (devices.size() != config.vdevs.size()) {
    return Err(Code::kInvalidArgument, "{} devices for {} configured vdevs", devices.size(),
               config.vdevs.size());
  }
  Uuid uuid = RandomUuid();
  std::vector<PoolVdev> vdevs;
  AlignedBuffer block(kBlockSize);
  for (size_t i = 0; i < devices.size(); i++) {
    const VdevConfig& vc = config.vdevs[i];
    uint64_t blocks = devices[i]->Size().value;
    if (blocks * kBlockSize < kMinVdevBytes) {
      return Err(Code::kInvalidArgument, "{} has {} bytes, below the minimum {}",
                 VdevDescription(vc), blocks * kBlockSize, FormatSize(kMinVdevBytes));
    }
    VdevLabel label{.pool_uuid = uuid,
                    .vdev_guid = RandomU64(),
                    .tier = vc.tier,
                    .index = static_cast<uint16_t>(vc.index),
                    .size_blocks = blocks,
                    .name = vc.name};
    EncodeLabel(label, block.span());
    TRY_STATUS(devices[i]->Write(BlockNo{0}, block.span()));
    TRY_STATUS(devices[i]->Write(BlockNo{blocks - 1}, block.span()));
    auto slot = std::make_shared<SlotVdev>(vc.name, BlockCount{blocks}, devices[i]);
    vdevs.push_back(PoolVdev{.config = vc, .label = label, .device = slot, .end = blocks - 1});
  }
  for (auto& v : vdevs) TRY_STATUS(v.device->Flush());
  return std::unique_ptr<Pool>(new Pool(config, uuid, std::move(vdevs)));
}

Result<std::unique_ptr<Pool>> Pool::Open(const PoolConfig& config,
                                         std::vector<std::shared_ptr<Vdev>> devices) {
  if (devices.size() != config.vdevs.size()) {
    return Err(Code::kInvalidArgument, "{} devices for {} configured vdevs", devices.size(),
               config.vdevs.size());
  }
  std::optional<Uuid> uuid;
  std::vector<PoolVdev> vdevs;
  for (size_t i = 0; i < devices.size(); i++) {
    const VdevConfig& vc = config.vdevs[i];
    // An empty slot (design note 3): the label is the config's view of the vdev.
    auto empty = [&](VdevState state, const Error& why) -> Status {
      const bool removed = state == VdevState::kRemoved;  // contract 7: for good, no warning
      uint64_t blocks = vc.size_bytes / kBlockSize;
      if (removed) blocks = std::max<uint64_t>(blocks, kFirstUsableBlock + 2);
      if (blocks < kFirstUsableBlock + 2) {
        return Err(Code::kInvalidArgument, "{}; pool.conf gives no size for it, so the pool cannot open without it",
                   why.message());
      }
      VdevLabel label{.tier = vc.tier, .index = static_cast<uint16_t>(vc.index),
                      .size_blocks = blocks, .name = vc.name};
      if (!removed) {
        Log(LogLevel::kWarn, "{}; vdev '{}' is {} and the pool runs degraded", why.message(), vc.name,
            VdevStateName(state));
      }
      vdevs.push_back(PoolVdev{.config = vc, .label = label,
                               .device = std::make_shared<SlotVdev>(vc.name, BlockCount{blocks}, nullptr, state),
                               .end = blocks - 1});
      return Ok();
    };
    if (vc.removed) {
      TRY_STATUS(empty(VdevState::kRemoved, Error(Code::kNotFound, "removed")));
      continue;
    }
    if (!devices[i]) {
      VdevState state = vc.offline ? VdevState::kOffline : VdevState::kMissing;
      TRY_STATUS(empty(state, Error(Code::kNotFound, fmt::format("{} is {}", VdevDescription(vc),
                                                                 VdevStateName(state)))));
      continue;
    }
    uint64_t blocks = devices[i]->Size().value;
    if (blocks < kFirstUsableBlock + 2) {
      TRY_STATUS(empty(VdevState::kFaulted, Error(Code::kCorruption, fmt::format("{} is truncated to {} bytes", VdevDescription(vc),
                 blocks * kBlockSize))));
      continue;
    }
    auto read = ReadLabel(*devices[i], vc);
    if (!read) {
      TRY_STATUS(empty(VdevState::kFaulted, read.error()));
      continue;
    }
    VdevLabel label = *read;
    if (blocks < label.size_blocks) {
      TRY_STATUS(empty(VdevState::kFaulted,
                       Error(Code::kCorruption, fmt::format("{} is truncated: {} bytes, its label says {}",
                                                            VdevDescription(vc), blocks * kBlockSize,
                                                            label.size_blocks * kBlockSize))));
      continue;
    }
    if (label.tier != vc.tier || label.index != vc.index) {
      return Err(Code::kInvalidArgument, "{}: label says tier {} index {}, config says tier {} index {}",
                 VdevDescription(vc), TierName(label.tier), label.index, TierName(vc.tier), vc.index);
    }
    if (uuid && *uuid != label.pool_uuid) {
      return Err(Code::kInvalidArgument, "{} belongs to another pool ({}, not {})",
                 VdevDescription(vc), UuidToString(label.pool_uuid), UuidToString(*uuid));
    }
    uuid = label.pool_uuid;
    auto slot = std::make_shared<SlotVdev>(vc.name, BlockCount{label.size_blocks}, devices[i]);
    vdevs.push_back(PoolVdev{.config = vc, .label = label, .device = slot, .end = label.size_blocks - 1});
  }
  if (!uuid) return Err(Code::kIOError, "no vdev of the pool could be read");
  for (auto& v : vdevs) {
    if (!v.device->online()) v.label.pool_uuid = *uuid;
  }
  return std::unique_ptr<Pool>(new Pool(config, *uuid, std::move(vdevs)));
}

const PoolVdev* Pool::Find(Tier tier, uint32_t index) const {
  for (const auto& v : vdevs()) {
    if (v.config.tier == tier && v.config.index == index) return &v;
  }
  return nullptr;
}

std::vector<const PoolVdev*> Pool::FastestTierVdevs() const {
  for (uint8_t t = 0; t < kTierCount; t++) {
    std::vector<const PoolVdev*> out;
    for (const auto& v : vdevs()) {
      if (static_cast<uint8_t>(v.config.tier) == t && !v.removed()) out.push_back(&v);
    }
    if (!out.empty()) return out;
  }
  return {};
}

bool Pool::IsFaulted(DiskAddress address) const {
  const PoolVdev* v = Find(address.tier(), address.vdev());
  return v != nullptr && v->faulted();
}

size_t Pool::FaultedVdevCount() const {
  size_t n = 0;
  for (const auto& v : vdevs()) n += v.faulted() && !v.removed() ? 1 : 0;
  return n;
}

Result<PoolVdev*> Pool::Resolve(DiskAddress address, uint64_t blocks) {
  for (auto& v : Published()) {
    if (v.config.tier == address.tier() && v.config.index == address.vdev()) {
      // vdev grow changes the size under I/O (contract 6).
      const uint64_t size = std::atomic_ref<uint64_t>(v.label.size_blocks).load();
      if (address.block() + blocks > size || blocks == 0) {
        return Err(Code::kInvalidArgument, "address {} +{} beyond vdev '{}'", address.ToString(),
                   blocks, v.config.name);
      }
      if (v.faulted()) return Err(Code::kIOError, "vdev '{}' is {}", v.config.name, VdevStateName(v.device->state()));
      return &v;
    }
  }
  return Err(Code::kInvalidArgument, "address {} names no vdev", address.ToString());
}

Status Pool::Read(DiskAddress address, std::span<std::byte> buffer) {
  PoolVdev* v = TRY(Resolve(address, buffer.size() / kBlockSize));
  return v->device->Read(BlockNo{address.block()}, buffer);
}

Status Pool::Write(DiskAddress address, std::span<const std::byte> buffer) {
  TRY_STATUS(RefuseFenced());  // contract 8
  PoolVdev* v = TRY(Resolve(address, buffer.size() / kBlockSize));
  return v->device->Write(BlockNo{address.block()}, buffer);
}

namespace {

// Whether `next` continues `last` on the device and in memory, so the two
// can travel as one request (design note 6).
bool Continues(const IoRequest& last, const PoolIo& next) {
  constexpr size_t kMaxMergedBytes = size_t{8} << 20;
  return next.op == last.op && next.op != IoOp::kDiscard &&
         next.address.block() == last.block.value + last.buffer.size() / kBlockSize &&
         next.buffer.data() == last.buffer.data() + last.buffer.size() &&
         last.buffer.size() + next.buffer.size() <= kMaxMergedBytes;
}

}  // namespace

namespace {

// Design note 7: one worker per vdev beyond the first, at most 15.
size_t WorkersFor(size_t vdevs) {
  constexpr size_t kMaxWorkers = 15;
  return std::min(kMaxWorkers, vdevs == 0 ? 0 : vdevs - 1);
}

}  // namespace

Pool::Pool(PoolConfig config, Uuid uuid, std::vector<PoolVdev> vdevs)
    : config_(std::move(config)), uuid_(uuid), vdevs_(std::move(vdevs)), workers_(WorkersFor(vdevs_.size())) {
  vdevs_.reserve(size_t{kTierCount} * kMaxVdevsPerTier);  // contract 5: never moves again
  count_.store(vdevs_.size(), std::memory_order_release);
}

Status Pool::Submit(std::span<PoolIo> requests) {
  if ((fenced() || LeaseExpired()) &&
      std::ranges::any_of(requests, [](const PoolIo& r) { return r.op != IoOp::kRead; })) {
    Status refused = RefuseFenced();  // contract 8
    for (PoolIo& r : requests) r.result = refused;
    return refused;
  }
  std::map<Vdev*, std::vector<size_t>> groups;
  Status first = Ok();
  for (size_t i = 0; i < requests.size(); i++) {
    auto v = Resolve(requests[i].address, requests[i].buffer.size() / kBlockSize);
    if (!v && v.error().code() == Code::kIOError) {  // a faulted vdev: fail just this request
      requests[i].result = Err(v.error());
      if (first) first = Err(v.error());
      continue;
    }
    if (!v) return Err(v.error());
    groups[(*v)->device.get()].push_back(i);
  }
  struct Group {
    Vdev* device;
    const std::vector<size_t>* indexes;
    std::vector<IoRequest> batch;
    std::vector<size_t> carried_by;  // request -> its batch entry
    Status status;
  };
  std::vector<Group> work;
  work.reserve(groups.size());
  for (auto& [device, indexes] : groups) {
    Group& g = work.emplace_back(Group{.device = device, .indexes = &indexes});
    g.carried_by.resize(indexes.size());
    for (size_t j = 0; j < indexes.size(); j++) {
      const PoolIo& io = requests[indexes[j]];
      if (!g.batch.empty() && Continues(g.batch.back(), io)) {
        IoRequest& last = g.batch.back();
        last.buffer = {last.buffer.data(), last.buffer.size() + io.buffer.size()};
      } else {
        g.batch.push_back(IoRequest{.op = io.op, .block = BlockNo{io.address.block()}, .buffer = io.buffer});
      }
      g.carried_by[j] = g.batch.size() - 1;
    }
  }
  std::vector<std::function<void()>> tasks;
  tasks.reserve(work.size());
  for (Group& g : work) tasks.push_back([&g] { g.status = g.device->SubmitBatch(g.batch); });
  workers_.RunAll(tasks);
  for (Group& g : work) {
    for (size_t j = 0; j < g.indexes->size(); j++) requests[(*g.indexes)[j]].result = g.batch[g.carried_by[j]].result;
    if (!g.status && first) first = g.status;
  }
  return first;
}

Status Pool::FlushAll() {
  const Tier metadata = FastestTierVdevs().front()->config.tier;
  // The vdevs flush at the same time (design note 5); a slot without a
  // device holds no write to make durable (contract 1a).
  std::vector<PoolVdev*> online;
  for (auto& v : Published()) {
    if (v.device->online()) online.push_back(&v);
  }
  std::vector<Status> results(online.size());
  std::vector<std::function<void()>> flushes;
  for (size_t i = 0; i < online.size(); i++) {
    flushes.push_back([&, i] { results[i] = online[i]->device->Flush(); });
  }
  workers_.RunAll(flushes);
  for (size_t i = 0; i < online.size(); i++) {
    PoolVdev& v = *online[i];
    Status flushed = results[i];
    if (flushed) continue;
    if (v.config.tier == metadata) return flushed;
    // Design note 4: a data vdev that cannot flush is faulted, not fatal.
    v.device->Detach(VdevState::kFaulted);
    Log(LogLevel::kError, "vdev '{}' faulted: {}; the pool runs degraded", v.config.name,
        flushed.error().message());
  }
  return Ok();
}

}  // namespace tessera
