// The thrasher's byte model (model.h).
#include "tests/thrash/model.h"

#include <algorithm>
#include <cstring>
#include <random>

#include <fmt/core.h>

#include "core/util/checksum.h"

namespace tessera::thrash {

uint64_t BlockSum(std::span<const std::byte> block) { return Checksum64(block); }

uint64_t ZeroSum() {
  static const uint64_t sum = [] {
    Bytes zero(kBlock);
    return BlockSum(zero);
  }();
  return sum;
}

Bytes RandomBytes(size_t n, uint64_t seed) {
  Bytes out(n);
  std::mt19937_64 rng(seed);
  size_t at = 0;
  for (; at + 8 <= n; at += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + at, &v, 8);
  }
  for (; at < n; at++) out[at] = static_cast<std::byte>(rng());
  return out;
}

VolumeState VolumeState::Durable(Bytes content, std::string origin) {
  VolumeState s{.data = std::move(content), .maybe = {}, .origin = std::move(origin)};
  s.maybe.resize(s.data.size() / kBlock);
  s.AllDurable();
  return s;
}

void VolumeState::Changed(uint64_t offset, uint64_t length, bool durable) {
  if (length == 0) return;
  for (uint64_t b = offset / kBlock; b <= (offset + length - 1) / kBlock; b++) {
    uint64_t sum = BlockSum(std::span(data).subspan(b * kBlock, kBlock));
    auto& set = maybe[b];
    if (durable) {
      set.assign(1, sum);
      if (this->durable.size() == data.size()) {
        std::copy_n(data.begin() + b * kBlock, kBlock, this->durable.begin() + b * kBlock);
      }
    } else if (std::find(set.begin(), set.end(), sum) == set.end()) {
      set.push_back(sum);
    }
  }
}

void VolumeState::AllDurable() {
  durable = data;
  for (uint64_t b = 0; b < maybe.size(); b++) maybe[b].assign(1, BlockSum(std::span(data).subspan(b * kBlock, kBlock)));
}

void VolumeState::Resize(uint64_t new_size) {
  data.resize(new_size, std::byte{0});
  maybe.resize(new_size / kBlock);
  AllDurable();
}

std::optional<std::string> VolumeState::Mismatch(std::span<const std::byte> got, bool exact, uint64_t* bad) const {
  if (got.size() != data.size()) return fmt::format("size {} where the model has {}", got.size(), data.size());
  for (uint64_t b = 0; b < maybe.size(); b++) {
    if (bad != nullptr) *bad = b;
    auto block = got.subspan(b * kBlock, kBlock);
    if (exact) {
      if (std::memcmp(block.data(), data.data() + b * kBlock, kBlock) == 0) continue;
      size_t at = 0;
      while (block[at] == data[b * kBlock + at]) at++;
      return fmt::format("block {} (byte offset {}) differs from the model: first at byte {}: {:#04x}, expected {:#04x}",
                         b, b * kBlock, b * kBlock + at, static_cast<unsigned>(block[at]),
                         static_cast<unsigned>(data[b * kBlock + at]));
    }
    uint64_t sum = BlockSum(block);
    const auto& set = maybe[b];
    if (std::find(set.begin(), set.end(), sum) != set.end()) continue;
    return fmt::format("block {} (byte offset {}) holds a content it never had since its last durable point "
                       "({} allowed contents{})",
                       b, b * kBlock, set.size(), sum == ZeroSum() ? "; it reads zeros" : "");
  }
  return std::nullopt;
}

void VolumeModel::Record(uint64_t offset, uint64_t length, uint64_t op) {
  const Bytes& data = live().data;
  if (history.size() < data.size() / kBlock) history.resize(data.size() / kBlock);
  for (uint64_t b = offset / kBlock; b <= (offset + length - 1) / kBlock && b < history.size(); b++) {
    auto& h = history[b];
    h.emplace_back(BlockSum(std::span(data).subspan(b * kBlock, kBlock)), op);
    if (h.size() > 32) h.erase(h.begin());
  }
}

std::string VolumeModel::Describe(uint64_t block, uint64_t sum) const {
  std::string out;
  if (sum == ZeroSum()) out += "it reads zeros; ";
  if (block < history.size()) {
    for (auto it = history[block].rbegin(); it != history[block].rend(); ++it) {
      if (it->first == sum) return out + fmt::format("it holds the content op {} gave it", it->second);
    }
    std::string ops;
    for (const auto& [s, op] : history[block]) ops += fmt::format(" {}", op);
    out += fmt::format("no op of the last {} that changed it gave it that content (ops:{})", history[block].size(), ops);
  }
  for (const auto& snap : snapshots) {
    if (block * kBlock + kBlock <= snap.data.size() &&
        BlockSum(std::span(snap.data).subspan(block * kBlock, kBlock)) == sum) {
      out += "; snapshot " + snap.name + " holds it";
    }
  }
  return out;
}

SnapshotModel* VolumeModel::FindSnapshot(const std::string& snapshot) {
  for (auto& s : snapshots) {
    if (s.name == snapshot) return &s;
  }
  return nullptr;
}

}  // namespace tessera::thrash
