// RowHeat (core/segment/row_heat.h): heat in rows' worth of bytes, halving
// every half-life, split over the rows an access spans, against a model.
#include "core/segment/row_heat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace tessera {
namespace {

constexpr uint64_t kRow = 1 << 20;
constexpr uint64_t kHalfLife = 1'000'000'000;

TEST(RowHeat, AWholeRowReadAddsOneAndHalvesEachHalfLife) {
  uint64_t now = 5;
  RowHeat heat(kRow, kHalfLife, [&] { return now; });
  heat.Touch(0, kRow);
  EXPECT_DOUBLE_EQ(heat.Read(0).heat, 1.0);
  now += kHalfLife;
  EXPECT_NEAR(heat.Read(0).heat, 0.5, 1e-12);
  heat.Touch(kRow / 4, kRow / 4);
  EXPECT_NEAR(heat.Read(0).heat, 0.75, 1e-12);
  EXPECT_EQ(heat.Read(0).idle_ns, 0u);
  now += 3 * kHalfLife;
  EXPECT_NEAR(heat.Read(0).heat, 0.75 / 8, 1e-12);
  EXPECT_EQ(heat.Read(0).idle_ns, 3 * kHalfLife);
}

TEST(RowHeat, AnUntouchedRowIsIdleSinceTheStart) {
  uint64_t now = 100;
  RowHeat heat(kRow, kHalfLife, [&] { return now; });
  now += 7;
  EXPECT_EQ(heat.Read(3 * kRow).heat, 0.0);
  EXPECT_EQ(heat.Read(3 * kRow).idle_ns, 7u);
}

TEST(RowHeat, AnAccessAcrossRowsCountsInEach) {
  uint64_t now = 0;
  RowHeat heat(kRow, kHalfLife, [&] { return now; });
  heat.Touch(kRow / 2, kRow / 2 + 3 * kRow / 4);  // the second half of row 0, three quarters of row 1
  EXPECT_DOUBLE_EQ(heat.Read(0).heat, 0.5);
  EXPECT_DOUBLE_EQ(heat.Read(kRow).heat, 0.75);
  EXPECT_DOUBLE_EQ(heat.Read(2 * kRow).heat, 0.0);
}

TEST(RowHeat, RetainForgetsFreedRows) {
  uint64_t now = 0;
  RowHeat heat(kRow, kHalfLife, [&] { return now; });
  heat.Touch(0, 3 * kRow);
  heat.Retain({kRow});
  EXPECT_EQ(heat.Read(0).heat, 0.0);
  EXPECT_DOUBLE_EQ(heat.Read(kRow).heat, 1.0);
  EXPECT_EQ(heat.Read(2 * kRow).heat, 0.0);
}

// Random accesses at random times against a model that keeps every access
// and sums their decayed sizes.
TEST(RowHeat, MatchesAModelOfDecayedAccesses) {
  std::mt19937_64 rng(7);
  uint64_t now = 0;
  RowHeat heat(kRow, kHalfLife, [&] { return now; });
  struct Access {
    uint64_t row;
    double amount;
    uint64_t at;
  };
  std::vector<Access> model;
  for (int i = 0; i < 2000; i++) {
    now += rng() % (kHalfLife / 4);
    const uint64_t row = rng() % 8;
    const uint64_t blocks = 1 + rng() % 256;
    const uint64_t offset = (rng() % 256) * 4096;
    const uint64_t bytes = std::min(blocks * 4096, kRow - offset);
    heat.Touch(row * kRow + offset, bytes);
    model.push_back({row, static_cast<double>(bytes) / kRow, now});
    if (i % 100 != 99) continue;
    for (uint64_t r = 0; r < 8; r++) {
      double expect = 0;
      for (const Access& a : model) {
        if (a.row == r) expect += a.amount * std::exp2(-static_cast<double>(now - a.at) / kHalfLife);
      }
      EXPECT_NEAR(heat.Read(r * kRow).heat, expect, 1e-9 * (1 + expect)) << "row " << r << " after " << i;
    }
  }
}

}  // namespace
}  // namespace tessera
