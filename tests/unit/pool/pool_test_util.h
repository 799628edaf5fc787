// Helpers shared by the pool tests.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/core.h>

#include "core/pool/pool.h"
#include "core/util/aligned_buffer.h"
#include "core/util/uuid.h"

namespace tessera {

// A fresh directory under the system's temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / fmt::format("tessera-pool-test-{}", RandomU64());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Writes a block filled with `fill` at `address` and reads it back.
inline void ExpectBlockRoundTrip(Pool& pool, DiskAddress address, int fill) {
  AlignedBuffer out(kBlockSize), in(kBlockSize);
  std::memset(out.data(), fill, kBlockSize);
  ASSERT_TRUE(pool.Write(address, out.span()));
  ASSERT_TRUE(pool.Read(address, in.span()));
  EXPECT_EQ(std::memcmp(in.data(), out.data(), kBlockSize), 0);
}

}  // namespace tessera
