// Helpers shared by the segment unit tests: byte patterns, temp dirs, and
// RecordingSegment, a lower segment that records what reached it and keeps
// a "durable" image that only Flush() updates (to check durability at this
// layer; docs/architecture.md, Guarantees).
// Seeds come from testing::TestSeed (vdev_test_util.h): TESSERA_TEST_SEED.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/segment/memory_segment.h"
#include "core/segment/segment.h"
#include "tests/unit/vdev/vdev_test_util.h"  // TestSeed

namespace tessera::testing {

inline std::vector<std::byte> Bytes(size_t n, uint8_t value) {
  return std::vector<std::byte>(n, std::byte{value});
}

inline std::vector<std::byte> RandomBytes(size_t n, std::mt19937_64& rng) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = std::byte(static_cast<uint8_t>(rng()));
  return out;
}

// "" when equal, else where and how `actual` first differs from `expected`
// (gtest would otherwise print megabytes of bytes).
inline std::string Diff(const std::vector<std::byte>& actual,
                        const std::vector<std::byte>& expected) {
  if (actual.size() != expected.size()) {
    return "size " + std::to_string(actual.size()) + " != " + std::to_string(expected.size());
  }
  auto [a, e] = std::mismatch(actual.begin(), actual.end(), expected.begin());
  if (a == actual.end()) return "";
  return "first difference at byte " + std::to_string(a - actual.begin()) + ": " +
         std::to_string(static_cast<int>(*a)) + " != " + std::to_string(static_cast<int>(*e));
}

inline std::vector<std::byte> ReadAll(Segment& seg) {
  std::vector<std::byte> out(seg.Size());
  Status s = seg.Read(0, out);
  EXPECT_TRUE(s) << s.error().ToString();
  return out;
}

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/tessera-seg-XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr) << tmpl;
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Forwards to a MemorySegment and records every call. `durable()` is the
// image as of the last Flush(): what would survive a crash.
class RecordingSegment final : public Segment {
 public:
  struct Batch {
    std::vector<std::pair<uint64_t, uint64_t>> writes;  // (offset, length)
  };

  RecordingSegment(uint64_t size, uint32_t block_size)
      : mem_(2, size, block_size), durable_(size) {}

  uint64_t id() const override { return 2; }
  SegmentType type() const override { return SegmentType::kFile; }
  uint64_t Size() const override { return mem_.Size(); }
  uint32_t BlockSize() const override { return mem_.BlockSize(); }

  Status Read(uint64_t offset, std::span<std::byte> out) override {
    {
      std::lock_guard lock(mu_);
      ++reads_;
      read_bytes_ += out.size();
    }
    return mem_.Read(offset, out);
  }
  Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) override {
    {
      std::lock_guard lock(mu_);
      ++writes_;
    }
    TRY_STATUS(mem_.Write(offset, data, flags));
    if (flags & kWriteFua) return Flush();
    return Ok();
  }
  Status WriteBlocks(std::span<const BlockWrite> writes) override {
    if (before_write_blocks_) before_write_blocks_(writes);
    Batch batch;
    for (const BlockWrite& w : writes) batch.writes.emplace_back(w.offset, w.data.size());
    TRY_STATUS(mem_.WriteBlocks(writes));
    std::lock_guard lock(mu_);
    batches_.push_back(std::move(batch));
    return Ok();
  }
  Status Flush() override {
    std::lock_guard lock(mu_);  // Held across the snapshot: flushes are ordered.
    ++flushes_;
    std::vector<std::byte> now(mem_.Size());
    TRY_STATUS(mem_.Read(0, now));
    durable_ = std::move(now);
    return Ok();
  }
  Status Trim(uint64_t offset, uint64_t length) override {
    {
      std::lock_guard lock(mu_);
      ++trims_;
    }
    return mem_.Trim(offset, length);
  }
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override {
    {
      std::lock_guard lock(mu_);
      ++extents_;
    }
    return mem_.Extents(offset, length);
  }
  Status Truncate(uint64_t new_size) override { return mem_.Truncate(new_size); }
  Result<InspectReport> Inspect(InspectMode mode) override { return mem_.Inspect(mode); }
  std::string Signature() const override { return "recording"; }
  Status Serialize(Exnode& exnode) const override {
    ExnodeSegment section{.id = 2, .type = SegmentType::kFile, .params = {}};
    section.Add("path", "/dev/null");
    exnode.segments.push_back(section);
    return Ok();
  }

  // Called at the start of every WriteBlocks (from the caller's thread),
  // e.g. to block a write-back in flight. Set before any I/O starts.
  void set_before_write_blocks(std::function<void(std::span<const BlockWrite>)> hook) {
    before_write_blocks_ = std::move(hook);
  }
  MemorySegment& memory() { return mem_; }
  std::vector<std::byte> durable() {
    std::lock_guard lock(mu_);
    return durable_;
  }
  std::vector<Batch> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  uint64_t reads() {
    std::lock_guard lock(mu_);
    return reads_;
  }
  uint64_t read_bytes() {
    std::lock_guard lock(mu_);
    return read_bytes_;
  }
  uint64_t plain_writes() {
    std::lock_guard lock(mu_);
    return writes_;
  }
  uint64_t flushes() {
    std::lock_guard lock(mu_);
    return flushes_;
  }
  uint64_t extents_calls() {
    std::lock_guard lock(mu_);
    return extents_;
  }

 private:
  MemorySegment mem_;
  std::function<void(std::span<const BlockWrite>)> before_write_blocks_;
  std::mutex mu_;
  std::vector<std::byte> durable_;  // GUARDED_BY(mu_)
  std::vector<Batch> batches_;      // GUARDED_BY(mu_)
  uint64_t reads_ = 0, read_bytes_ = 0, writes_ = 0, flushes_ = 0, trims_ = 0, extents_ = 0;
};

}  // namespace tessera::testing
