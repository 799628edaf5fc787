// ErasureCode: every erasure pattern up to m, for every method and a few
// (k, m, w, chunk size), decoded from random data and compared with the
// original chunks; parameter validation; concurrent use.
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "core/segment/erasure_code.h"
#include "core/util/aligned_buffer.h"
#include "tests/unit/vdev/vdev_test_util.h"  // TestSeed

namespace tessera {
namespace {

using testing::TestSeed;

struct CodeParams {
  ErasureMethod method;
  int k, m, w;
  size_t packet_size;  // ignored by matrix methods
};

// k + m chunks of `bytes` each in one buffer, each starting on a 16-byte
// boundary (kErasureBufferAlignment).
struct Stripe {
  Stripe(int k, int m, size_t bytes)
      : k(k), m(m), bytes(bytes), stride((bytes + 15) / 16 * 16), buffer(stride * (k + m)) {}
  std::byte* chunk(int i) { return buffer.data() + stride * i; }
  std::vector<std::byte*> Ptrs() {
    std::vector<std::byte*> out;
    for (int i = 0; i < k + m; i++) out.push_back(chunk(i));
    return out;
  }
  void Randomize(std::mt19937_64& rng) {
    for (size_t i = 0; i < buffer.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(buffer.data() + i, &v, std::min<size_t>(8, buffer.size() - i));
    }
  }
  Status Encode(const ErasureCode& code) {
    auto ptrs = Ptrs();
    std::vector<const std::byte*> data(ptrs.begin(), ptrs.begin() + k);
    return code.Encode(data, std::span(ptrs).subspan(k), bytes);
  }
  Status Decode(const ErasureCode& code, std::span<const int> erasures) {
    auto ptrs = Ptrs();
    return code.Decode(std::span(ptrs).first(k), std::span(ptrs).subspan(k), erasures, bytes);
  }
  int k, m;
  size_t bytes;
  size_t stride;
  AlignedBuffer buffer;
};

// Calls fn(pattern) for every subset of {0..n-1} of size 1..max_size.
template <typename Fn>
void ForEachPattern(int n, int max_size, Fn fn) {
  std::vector<int> pattern;
  auto rec = [&](auto& self, int next) -> void {
    if (!pattern.empty()) fn(pattern);
    if (static_cast<int>(pattern.size()) == max_size) return;
    for (int i = next; i < n; i++) {
      pattern.push_back(i);
      self(self, i + 1);
      pattern.pop_back();
    }
  };
  rec(rec, 0);
}

int Choose(int n, int r) {
  int64_t c = 1;
  for (int i = 0; i < r; i++) c = c * (n - i) / (i + 1);
  return static_cast<int>(c);
}

const std::vector<CodeParams>& Configurations() {
  static const std::vector<CodeParams> configs = {
      {ErasureMethod::kReedSolVan, 4, 2, 8, 0},   {ErasureMethod::kReedSolVan, 6, 3, 8, 0},
      {ErasureMethod::kReedSolVan, 8, 4, 16, 0},  {ErasureMethod::kReedSolVan, 3, 1, 32, 0},
      {ErasureMethod::kReedSolR6Op, 4, 2, 8, 0},  {ErasureMethod::kReedSolR6Op, 6, 2, 16, 0},
      {ErasureMethod::kReedSolR6Op, 3, 2, 32, 0}, {ErasureMethod::kCauchyOrig, 4, 2, 4, 64},
      {ErasureMethod::kCauchyOrig, 6, 3, 8, 8},   {ErasureMethod::kCauchyOrig, 5, 3, 5, 16},
      {ErasureMethod::kCauchyGood, 4, 2, 8, 512}, {ErasureMethod::kCauchyGood, 8, 4, 8, 64},
      {ErasureMethod::kCauchyGood, 10, 4, 16, 8}, {ErasureMethod::kCauchyGood, 3, 2, 3, 24},
      {ErasureMethod::kLiberation, 4, 2, 7, 64},  {ErasureMethod::kLiberation, 7, 2, 7, 8},
      {ErasureMethod::kLiberation, 2, 2, 3, 16},  {ErasureMethod::kLiberation, 10, 2, 11, 8},
      {ErasureMethod::kBlaumRoth, 4, 2, 4, 64},   {ErasureMethod::kBlaumRoth, 6, 2, 6, 8},
      {ErasureMethod::kBlaumRoth, 10, 2, 10, 16}, {ErasureMethod::kBlaumRoth, 2, 2, 2, 8},
      {ErasureMethod::kLiber8tion, 4, 2, 8, 128}, {ErasureMethod::kLiber8tion, 8, 2, 8, 8},
      {ErasureMethod::kLiber8tion, 1, 2, 8, 16},
  };
  return configs;
}

std::string Describe(const CodeParams& p, size_t bytes) {
  return fmt::format("{} k={} m={} w={} packet={} chunk={}", ErasureMethodName(p.method), p.k, p.m,
                     p.w, p.packet_size, bytes);
}

// The test the issue asks for: every erasure pattern of 1..m chunks.
TEST(ErasureCodeTest, EveryErasurePatternUpToMRebuildsTheOriginal) {
  uint64_t seed = TestSeed();
  SCOPED_TRACE("TESSERA_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<bool> covered(AllErasureMethods().size() + 1, false);
  for (const CodeParams& p : Configurations()) {
    auto code = ErasureCode::Create(p.method, p.k, p.m, p.w, p.packet_size);
    ASSERT_TRUE(code) << code.error().ToString();
    covered[static_cast<size_t>(p.method)] = true;
    size_t unit = (*code)->ChunkAlignment();
    for (size_t bytes : {unit, unit * 3, (4096 / unit + 1) * unit}) {
      SCOPED_TRACE(Describe(p, bytes));
      Stripe original(p.k, p.m, bytes);
      original.Randomize(rng);
      ASSERT_TRUE(original.Encode(**code));
      int patterns = 0;
      ForEachPattern(p.k + p.m, p.m, [&](const std::vector<int>& erased) {
        Stripe work(p.k, p.m, bytes);
        std::memcpy(work.buffer.data(), original.buffer.data(), original.buffer.size());
        for (int e : erased) {  // the lost chunks hold garbage
          for (size_t i = 0; i < bytes; i++)
            work.chunk(e)[i] = std::byte(static_cast<uint8_t>(rng()));
        }
        Status s = work.Decode(**code, erased);
        ASSERT_TRUE(s) << s.error().ToString();
        for (int i = 0; i < p.k + p.m; i++) {
          ASSERT_EQ(std::memcmp(work.chunk(i), original.chunk(i), bytes), 0)
              << "chunk " << i << " wrong after erasing "
              << fmt::format("{}", fmt::join(erased, ","));
        }
        patterns++;
      });
      int expected = 0;
      for (int r = 1; r <= p.m; r++) expected += Choose(p.k + p.m, r);
      EXPECT_EQ(patterns, expected);
    }
  }
  for (ErasureMethod method : AllErasureMethods()) {
    EXPECT_TRUE(covered[static_cast<size_t>(method)]) << ErasureMethodName(method) << " untested";
  }
}

// A wiring check that can fail: every method but cauchy_orig puts plain XOR
// parity in coding chunk 0 (an all-ones first row / identity blocks).
TEST(ErasureCodeTest, FirstCodingChunkIsXorParityWhereTheCodeSaysSo) {
  std::mt19937_64 rng(TestSeed());
  for (const CodeParams& p : Configurations()) {
    if (p.method == ErasureMethod::kCauchyOrig) continue;
    auto code = ErasureCode::Create(p.method, p.k, p.m, p.w, p.packet_size);
    ASSERT_TRUE(code);
    size_t bytes = (*code)->ChunkAlignment() * 2;
    SCOPED_TRACE(Describe(p, bytes));
    Stripe s(p.k, p.m, bytes);
    s.Randomize(rng);
    ASSERT_TRUE(s.Encode(**code));
    std::vector<std::byte> x(bytes, std::byte{0});
    for (int d = 0; d < p.k; d++) {
      for (size_t i = 0; i < bytes; i++) x[i] ^= s.chunk(d)[i];
    }
    EXPECT_EQ(std::memcmp(x.data(), s.chunk(p.k), bytes), 0);
    if (p.m > 1 && p.k > 1) {  // with k = 1 every code is a mirror
      EXPECT_NE(std::memcmp(x.data(), s.chunk(p.k + 1), bytes), 0);
    }
  }
}

TEST(ErasureCodeTest, MethodNamesRoundTrip) {
  for (ErasureMethod method : AllErasureMethods()) {
    auto parsed = ParseErasureMethod(ErasureMethodName(method));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, method);
  }
  auto bad = ParseErasureMethod("reed_sol");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("cauchy_good"), std::string::npos);
  EXPECT_FALSE(IsBitmatrixMethod(ErasureMethod::kReedSolVan));
  EXPECT_TRUE(IsBitmatrixMethod(ErasureMethod::kCauchyGood));
}

TEST(ErasureCodeTest, CreateRejectsParametersThatDoNotFit) {
  struct Bad {
    CodeParams p;
    const char* says;
  };
  const Bad cases[] = {
      {{ErasureMethod::kReedSolVan, 4, 2, 7, 0}, "w must be 8, 16 or 32"},
      {{ErasureMethod::kReedSolVan, 200, 100, 8, 0}, "k + m must be <= 2^w"},
      {{ErasureMethod::kReedSolVan, 0, 2, 8, 0}, "k >= 1"},
      {{ErasureMethod::kReedSolVan, 4, 0, 8, 0}, "m >= 1"},
      {{ErasureMethod::kReedSolR6Op, 4, 3, 8, 0}, "m must be 2"},
      {{ErasureMethod::kCauchyGood, 4, 2, 1, 8}, "w must be 2..32"},
      {{ErasureMethod::kCauchyGood, 14, 3, 4, 8}, "k + m must be <= 2^w"},
      {{ErasureMethod::kCauchyGood, 4, 2, 8, 12}, "multiple of sizeof(long)"},
      {{ErasureMethod::kCauchyOrig, 4, 2, 8, 0}, "multiple of sizeof(long)"},
      {{ErasureMethod::kLiberation, 4, 2, 8, 8}, "prime"},
      {{ErasureMethod::kLiberation, 8, 2, 7, 8}, "k must be <= w"},
      {{ErasureMethod::kLiberation, 4, 3, 7, 8}, "m must be 2"},
      {{ErasureMethod::kBlaumRoth, 4, 2, 7, 8}, "w + 1 must be prime"},
      {{ErasureMethod::kBlaumRoth, 5, 2, 4, 8}, "k must be <= w"},
      {{ErasureMethod::kLiber8tion, 4, 2, 7, 8}, "w must be 8"},
      {{ErasureMethod::kLiber8tion, 9, 2, 8, 8}, "k must be <= 8"},
  };
  for (const Bad& c : cases) {
    auto code = ErasureCode::Create(c.p.method, c.p.k, c.p.m, c.p.w, c.p.packet_size);
    ASSERT_FALSE(code) << Describe(c.p, 0);
    EXPECT_EQ(code.error().code(), Code::kInvalidArgument);
    EXPECT_NE(code.error().message().find(c.says), std::string::npos)
        << code.error().message() << " lacks '" << c.says << "'";
  }
  auto unknown = ErasureCode::Create(static_cast<ErasureMethod>(99), 4, 2, 8, 8);
  EXPECT_FALSE(unknown);
}

TEST(ErasureCodeTest, ChunkSizesAndBuffersAreChecked) {
  auto rs = ErasureCode::Create(ErasureMethod::kReedSolVan, 4, 2, 8, 4096);
  ASSERT_TRUE(rs);
  EXPECT_EQ((*rs)->packet_size(), 0u);  // ignored by matrix methods
  EXPECT_EQ((*rs)->ChunkAlignment(), 16u);
  EXPECT_TRUE((*rs)->CheckChunkBytes(16));
  EXPECT_FALSE((*rs)->CheckChunkBytes(8));
  EXPECT_FALSE((*rs)->CheckChunkBytes(0));

  auto cg = ErasureCode::Create(ErasureMethod::kCauchyGood, 4, 2, 8, 256);
  ASSERT_TRUE(cg);
  EXPECT_EQ((*cg)->ChunkAlignment(), 8u * 256);
  EXPECT_TRUE((*cg)->CheckChunkBytes(4096));
  auto bad = (*cg)->CheckChunkBytes(4096 + 256);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("w * packet_size"), std::string::npos);

  Stripe s(4, 2, 4096);
  auto ptrs = s.Ptrs();
  std::vector<const std::byte*> data(ptrs.begin(), ptrs.begin() + 4);
  // Wrong counts.
  EXPECT_FALSE((*cg)->Encode(std::span(data).first(3), std::span(ptrs).subspan(4), 4096));
  // A pointer off the 16-byte grid.
  data[1] += 8;
  EXPECT_FALSE((*cg)->Encode(data, std::span(ptrs).subspan(4), 4096));
}

TEST(ErasureCodeTest, DecodeRefusesTooManyOrInvalidErasuresAndChangesNothing) {
  std::mt19937_64 rng(TestSeed());
  auto code = ErasureCode::Create(ErasureMethod::kReedSolVan, 4, 2, 8, 0);
  ASSERT_TRUE(code);
  Stripe s(4, 2, 1024);
  s.Randomize(rng);
  ASSERT_TRUE(s.Encode(**code));
  std::vector<std::byte> before(s.buffer.span().begin(), s.buffer.span().end());
  for (std::vector<int> erasures : {std::vector<int>{0, 1, 2}, {0, 6}, {-1}, {1, 4, 5}}) {
    Status st = s.Decode(**code, erasures);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(std::memcmp(before.data(), s.buffer.data(), before.size()), 0);
  // Duplicates count once; an empty list is a no-op.
  std::memset(s.chunk(2), 0, 1024);
  ASSERT_TRUE(s.Decode(**code, std::vector<int>{2, 2, 2}));
  ASSERT_TRUE(s.Decode(**code, std::vector<int>{}));
  EXPECT_EQ(std::memcmp(before.data(), s.buffer.data(), before.size()), 0);
}

// Contract 1: one shared code is used from many threads while other codes
// are being created (which touches Jerasure's globals).
TEST(ErasureCodeTest, ConcurrentEncodeDecodeAndCreate) {
  uint64_t seed = TestSeed();
  auto shared = ErasureCode::Create(ErasureMethod::kReedSolR6Op, 4, 2, 8, 0);
  ASSERT_TRUE(shared);
  std::atomic<int> failures{0};
  auto round_trip = [&](const ErasureCode& code, std::mt19937_64& rng) {
    size_t bytes = code.ChunkAlignment() * 4;
    Stripe original(code.k(), code.m(), bytes);
    original.Randomize(rng);
    if (!original.Encode(code)) failures++;
    Stripe work(code.k(), code.m(), bytes);
    std::memcpy(work.buffer.data(), original.buffer.data(), original.buffer.size());
    std::vector<int> erased = {static_cast<int>(rng() % (code.k() + code.m()))};
    std::memset(work.chunk(erased[0]), 0xee, bytes);
    if (!work.Decode(code, erased) ||
        std::memcmp(work.buffer.data(), original.buffer.data(), original.buffer.size()) != 0) {
      failures++;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; t++) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      const CodeParams& p = Configurations()[(t * 5) % Configurations().size()];
      for (int round = 0; round < 20; round++) {
        round_trip(**shared, rng);
        auto own = ErasureCode::Create(p.method, p.k, p.m, p.w, p.packet_size);
        if (!own) {
          failures++;
          return;
        }
        round_trip(**own, rng);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace tessera
