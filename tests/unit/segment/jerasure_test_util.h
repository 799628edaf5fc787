// Test rig for the jerasure segment: a JerasureSegment over a LunSegment over
// a Pool of FaultVdevs over MemoryVdevs, with helpers that reach below the
// segment (corrupt, save and restore a chunk's raw bytes on its device).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/segment/jerasure_segment.h"
#include "core/util/aligned_buffer.h"
#include "core/vdev/fault_vdev.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/vdev/vdev_test_util.h"  // TestSeed

// Declares std::mt19937_64 `rng` seeded from TestSeed(); failures show the
// seed (rerun with TESSERA_TEST_SEED=...).
#define TESSERA_SEEDED_RNG(rng)                                    \
  const uint64_t rng##_seed = ::tessera::testing::TestSeed();      \
  SCOPED_TRACE("TESSERA_TEST_SEED=" + std::to_string(rng##_seed)); \
  std::mt19937_64 rng(rng##_seed)

namespace tessera::testing {

// Rows on distinct vdevs, bump-allocated from each vdev's first usable block;
// the first vdev of each row rotates.
class BumpBlockSource final : public LunBlockSource {
 public:
  explicit BumpBlockSource(Pool* pool) : pool_(pool), next_(pool->vdevs().size()) {
    for (size_t i = 0; i < next_.size(); i++) next_[i] = pool->vdevs()[i].first;
  }
  Result<std::vector<LunBlock>> AllocateRow(uint32_t n, uint64_t bytes,
                                            const std::string&) override {
    std::lock_guard lock(mu_);
    const auto& vdevs = pool_->vdevs();
    if (n > vdevs.size())
      return Err(Code::kNoSpace, "{} devices wanted, {} vdevs", n, vdevs.size());
    std::vector<LunBlock> row;
    for (uint32_t i = 0; i < n; i++) {
      size_t v = (rotation_ + i) % vdevs.size();
      if (next_[v] + bytes / kBlockSize > vdevs[v].end)
        return Err(Code::kNoSpace, "vdev {} full", v);
      row.push_back(LunBlock{
          .id = ++ids_,
          .address = DiskAddress::Make(vdevs[v].config.tier, vdevs[v].config.index, next_[v]),
          .size = bytes,
          .vdev = vdevs[v].config.name});
      next_[v] += bytes / kBlockSize;
    }
    rotation_++;
    return row;
  }

 private:
  Pool* pool_;
  std::mutex mu_;
  std::vector<uint64_t> next_;  // GUARDED_BY(mu_)
  size_t rotation_ = 0;         // GUARDED_BY(mu_)
  uint64_t ids_ = 1000;         // GUARDED_BY(mu_)
};

struct EcRigOptions {
  JerasureOptions code;
  uint64_t chunk_size = 64 * 1024;
  uint64_t rows = 1;
  uint64_t stripes_per_row = 4;  // max_block_size = stripes_per_row * chunk_size
  size_t vdevs = 0;              // 0: exactly K + M
};

struct EcRig {
  explicit EcRig(EcRigOptions o) : options(o) {
    uint32_t n = o.code.n_data_devs + o.code.n_parity_devs;
    size_t count = o.vdevs ? o.vdevs : n;
    uint64_t block = o.stripes_per_row * o.chunk_size;
    uint64_t blocks_each = std::max<uint64_t>(4096, (o.rows * block) / kBlockSize + 64);
    for (size_t i = 0; i < count; i++) {
      config.vdevs.push_back(VdevConfig{.name = "v" + std::to_string(i),
                                        .path = "/mem/v" + std::to_string(i),
                                        .size_bytes = blocks_each * kBlockSize,
                                        .tier = Tier::kFastest,
                                        .index = static_cast<uint32_t>(i)});
      media.push_back(std::make_shared<MemoryVdev>(BlockCount{blocks_each}));
      faults.push_back(std::make_shared<FaultVdev>(media.back()));
    }
    auto p = Pool::Create(config, {faults.begin(), faults.end()});
    EXPECT_TRUE(p) << p.error().ToString();
    pool = std::move(*p);
    source = std::make_unique<BumpBlockSource>(pool.get());
    lun = std::make_shared<LunSegment>(
        77, LunOptions{.n_devices = n, .chunk_size = o.chunk_size, .max_block_size = block},
        pool.get(), source.get());
    for (uint64_t r = 0; r < o.rows; r++) EXPECT_TRUE(lun->Grow());
    auto s = JerasureSegment::Create(88, o.code, lun, pool.get());
    EXPECT_TRUE(s) << s.error().ToString();
    seg = std::move(*s);
  }

  MemoryVdev& MediaOf(const ChunkLocation& loc) { return *media[loc.address.vdev()]; }
  ChunkLocation Locate(uint64_t stripe, uint32_t j) {
    auto loc = seg->LocateChunk(stripe, j);
    EXPECT_TRUE(loc) << loc.error().ToString();
    return *loc;
  }
  // The raw C bytes of a chunk, read from (or written to) the memory device,
  // below the fault wrapper.
  std::vector<std::byte> RawChunk(uint64_t stripe, uint32_t j) {
    ChunkLocation loc = Locate(stripe, j);
    std::vector<std::byte> out(options.chunk_size);
    EXPECT_TRUE(MediaOf(loc).Read(BlockNo{loc.address.block()}, out));
    return out;
  }
  void PutRawChunk(uint64_t stripe, uint32_t j, std::span<const std::byte> bytes) {
    ChunkLocation loc = Locate(stripe, j);
    EXPECT_TRUE(MediaOf(loc).Write(BlockNo{loc.address.block()}, bytes));
  }
  // XORs random non-zero bytes into [offset, offset + len) of a chunk.
  void Scribble(uint64_t stripe, uint32_t j, uint64_t offset, size_t len, std::mt19937_64& rng) {
    std::vector<std::byte> raw = RawChunk(stripe, j);
    for (size_t i = 0; i < len; i++)
      raw[offset + i] ^= std::byte(static_cast<uint8_t>(rng() % 255 + 1));
    PutRawChunk(stripe, j, raw);
  }
  // Fails every operation on the vdev holding chunk j of stripe 0 (all stripes
  // of a K + M pool use every vdev).
  void FailVdev(size_t v, std::optional<FaultOpKind> kind = std::nullopt) {
    faults[v]->FailNth(1, /*persistent=*/true, kind);
  }

  EcRigOptions options;
  PoolConfig config;
  std::vector<std::shared_ptr<MemoryVdev>> media;
  std::vector<std::shared_ptr<FaultVdev>> faults;
  std::unique_ptr<Pool> pool;
  std::unique_ptr<BumpBlockSource> source;
  std::shared_ptr<LunSegment> lun;
  std::unique_ptr<JerasureSegment> seg;
};

inline std::vector<std::byte> Random(size_t n, std::mt19937_64& rng) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = std::byte(static_cast<uint8_t>(rng()));
  return out;
}

// A K + M rig of `chunk`-byte chunks (one row of 4 stripes by default).
inline EcRigOptions Rs(uint32_t k, uint32_t m, uint64_t chunk = 16 * 1024,
                       ErasureMethod method = ErasureMethod::kCauchyGood, uint32_t w = 8) {
  EcRigOptions o;
  o.code = {.n_data_devs = k, .n_parity_devs = m, .w = w, .method = method};
  o.chunk_size = chunk;
  return o;
}

inline AlignedBuffer Aligned(std::span<const std::byte> bytes) {
  AlignedBuffer out(bytes.size());
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

// Writes random data over the whole segment from a 4 KiB-aligned buffer
// (the zero-copy write path); returns it.
inline std::vector<std::byte> Fill(EcRig& rig, std::mt19937_64& rng) {
  auto data = Random(rig.seg->Size(), rng);
  Status s = rig.seg->Write(0, Aligned(data).span(), kWriteNone);
  EXPECT_TRUE(s) << s.error().ToString();
  return data;
}

// Reads the whole segment into a 4 KiB-aligned buffer (the zero-copy read
// path, whole data chunks straight into the output).
inline std::vector<std::byte> ReadAll(JerasureSegment& seg) {
  AlignedBuffer out(seg.Size());
  Status s = seg.Read(0, out.span());
  EXPECT_TRUE(s) << s.error().ToString();
  return {out.span().begin(), out.span().end()};
}

// The same through a byte vector (not 4 KiB-aligned: the copying paths).
inline std::vector<std::byte> ReadAllCopying(JerasureSegment& seg) {
  std::vector<std::byte> out(seg.Size() + 1);
  Status s = seg.Read(0, std::span(out).subspan(1));
  EXPECT_TRUE(s) << s.error().ToString();
  return {out.begin() + 1, out.end()};
}

}  // namespace tessera::testing
