// Helpers shared by the vdev unit tests: temp files, patterns, and a
// randomized model test that checks any Vdev against a flat byte array.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/util/aligned_buffer.h"
#include "core/vdev/vdev.h"

namespace tessera::testing {

// A unique path under $TMPDIR (or /tmp), unlinked on destruction.
class TempPath {
 public:
  TempPath() {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/tessera-vdev-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    EXPECT_GE(fd, 0) << tmpl;
    if (fd >= 0) ::close(fd);
    path_ = tmpl;
  }
  ~TempPath() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Deterministic content for (block, version): distinct per block and version.
inline void FillPattern(std::span<std::byte> out, uint64_t block, uint64_t version) {
  std::mt19937_64 rng(block * 1000003 + version * 7919 + 1);
  for (size_t i = 0; i < out.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, out.size() - i));
  }
}

inline AlignedBuffer Pattern(uint64_t blocks, uint64_t block, uint64_t version) {
  AlignedBuffer buf(blocks * kBlockSize);
  FillPattern(buf.span(), block, version);
  return buf;
}

inline bool AllZero(std::span<const std::byte> data) {
  return std::all_of(data.begin(), data.end(), [](std::byte b) { return b == std::byte{0}; });
}

inline uint64_t TestSeed() {
  if (const char* env = std::getenv("TESSERA_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

// Runs `ops` random batches of disjoint reads, writes (some from unaligned
// buffers) and discards against `vdev` and a flat byte array, checking every
// read. `vdev` must start all zeros. Discard must read back zeros.
inline void RunModelTest(Vdev& vdev, uint64_t seed, int ops) {
  SCOPED_TRACE("model test seed " + std::to_string(seed) + " (rerun: TESSERA_TEST_SEED)");
  std::mt19937_64 rng(seed);
  const uint64_t size = vdev.Size().value;
  std::vector<std::byte> model(size * kBlockSize);
  for (int op = 0; op < ops; ++op) {
    size_t n = 1 + rng() % 8;
    std::vector<IoRequest> batch;
    std::vector<std::vector<std::byte>> storage;  // Backing for unaligned views.
    std::vector<AlignedBuffer> aligned;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    storage.reserve(n);
    aligned.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      uint64_t len = 1 + rng() % 4;
      uint64_t start = rng() % (size - len + 1);
      bool overlaps = std::any_of(ranges.begin(), ranges.end(), [&](auto r) {
        return start < r.first + r.second && r.first < start + len;
      });
      if (overlaps) continue;
      ranges.emplace_back(start, len);
      int kind = static_cast<int>(rng() % 10);
      IoRequest req;
      req.block = BlockNo{start};
      if (kind == 0) {
        req.op = IoOp::kDiscard;
        req.discard_count = BlockCount{len};
      } else {
        req.op = kind < 5 ? IoOp::kWrite : IoOp::kRead;
        std::span<std::byte> buf;
        if (rng() % 4 == 0) {
          auto& raw = storage.emplace_back(len * kBlockSize + 1);
          buf = {raw.data() + 1, len * kBlockSize};  // Deliberately misaligned.
        } else {
          buf = aligned.emplace_back(len * kBlockSize).span();
        }
        if (req.op == IoOp::kWrite) FillPattern(buf, start, rng());
        req.buffer = buf;
      }
      batch.push_back(req);
    }
    Status s = vdev.SubmitBatch(batch);
    ASSERT_TRUE(s) << "op " << op << ": " << s.error().ToString();
    for (const IoRequest& req : batch) {
      std::byte* at = model.data() + req.block.value * kBlockSize;
      switch (req.op) {
        case IoOp::kWrite:
          std::memcpy(at, req.buffer.data(), req.buffer.size());
          break;
        case IoOp::kDiscard:
          std::memset(at, 0, req.discard_count.bytes());
          break;
        case IoOp::kRead:
          ASSERT_EQ(0, std::memcmp(at, req.buffer.data(), req.buffer.size()))
              << "op " << op << ": read of block " << req.block.value << " differs from model";
          break;
      }
    }
  }
  // Final full comparison.
  AlignedBuffer all(size * kBlockSize);
  ASSERT_TRUE(vdev.Read(BlockNo{0}, all.span()));
  ASSERT_EQ(0, std::memcmp(all.data(), model.data(), model.size())) << "final image differs";
}

}  // namespace tessera::testing
