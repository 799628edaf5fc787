#include "admin/serve_limits.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMiB = 1ull << 20;

// Command line over pool.conf over the defaults (serve_limits.h contract 2).
TEST(PlanServeLimits, CommandLineThenPoolConfThenDefaults) {
  PoolConfig config;
  config.memory_bytes = 256 * kMiB;
  config.max_connections = 10;
  config.threads = 2;
  auto from_conf = PlanServeLimits(0, 0, 0, config, 24 * kGiB);
  ASSERT_TRUE(from_conf) << from_conf.error().ToString();
  EXPECT_EQ(from_conf->max_connections, 10u);
  EXPECT_EQ(from_conf->threads, 2u);
  EXPECT_EQ(from_conf->cache_bytes, 256 * kMiB);
  EXPECT_EQ(from_conf->RequestBufferBytes(), 10 * 2 * 64 * kMiB);
  EXPECT_EQ(from_conf->WorstCaseBytes(), 256 * kMiB + 1280 * kMiB);

  auto from_flags = PlanServeLimits(3, 1, 32 * kMiB, config, 24 * kGiB);
  ASSERT_TRUE(from_flags);
  EXPECT_EQ(from_flags->max_connections, 3u);
  EXPECT_EQ(from_flags->threads, 1u);
  EXPECT_EQ(from_flags->cache_bytes, 32 * kMiB);
  EXPECT_EQ(from_flags->Describe(), "224M: caches 32M + request buffers of 3 clients x 1 threads x 64M");
}

// The default number of clients keeps caches and request buffers within
// half the machine's memory (serve_limits.cc design note 1), and is never
// below kMinDefaultConnections (design note 2).
TEST(PlanServeLimits, DefaultClientsFitHalfTheMachine) {
  PoolConfig config;
  config.memory_bytes = 2 * kGiB;
  auto big = PlanServeLimits(0, 0, 0, config, 24 * kGiB);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->threads, kDefaultServeThreads);
  EXPECT_EQ(big->max_connections, 40u);  // (12G - 2G) / (4 x 64M)
  EXPECT_LE(big->WorstCaseBytes(), 12 * kGiB);

  auto more_threads = PlanServeLimits(0, 16, 0, config, 24 * kGiB);
  ASSERT_TRUE(more_threads);
  EXPECT_EQ(more_threads->max_connections, 10u);

  auto small = PlanServeLimits(0, 0, 0, config, 2 * kGiB);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->max_connections, kMinDefaultConnections);
  EXPECT_EQ(small->Describe(),
            "3G: caches 2G + request buffers of 4 clients x 4 threads x 64M (more than this machine's 2G)");

  auto unknown = PlanServeLimits(0, 0, 0, config, 0);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->max_connections, kMinDefaultConnections);
}

TEST(PlanServeLimits, CountsAboveTheirMaximumAreRefused) {
  PoolConfig config;
  auto connections = PlanServeLimits(kMaxServeConnections + 1, 0, 0, config, kGiB);
  ASSERT_FALSE(connections);
  EXPECT_EQ(connections.error().code(), Code::kInvalidArgument);
  EXPECT_NE(connections.error().message().find("--max-connections 65537"), std::string::npos);
  auto threads = PlanServeLimits(0, kMaxServeThreads + 1, 0, config, kGiB);
  ASSERT_FALSE(threads);
  EXPECT_NE(threads.error().message().find("--threads 65"), std::string::npos);
}

}  // namespace
}  // namespace tessera
