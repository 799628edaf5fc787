// Contract 9 of the jerasure segment: the writes a vdev missed in degraded
// stripe writes, and in flushes it failed, are reported with its vdev and
// lun row, and only those.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "tests/unit/segment/jerasure_test_util.h"

namespace tessera {
namespace {

using namespace tessera::testing;

using Missed = std::set<std::pair<uint32_t, uint64_t>>;  // vdev index, lun row

struct Recorder {
  Missed missed;
  void Attach(JerasureSegment& seg) {
    seg.SetMissedWriteHook([this](Tier, uint32_t vdev, uint64_t row) { missed.insert({vdev, row}); });
  }
};

EcRigOptions TwoRows() {
  EcRigOptions o = Rs(4, 2);
  o.rows = 2;
  return o;
}

TEST(JerasureMissedWrites, AFailedChunkWriteNamesItsVdevAndRow) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(TwoRows());
  Recorder r;
  r.Attach(*rig.seg);
  Fill(rig, rng);
  ASSERT_TRUE(rig.seg->Flush());
  EXPECT_TRUE(r.missed.empty()) << "a healthy write reported misses";

  rig.FailVdev(3, FaultOpKind::kWrite);
  const uint64_t row1 = rig.lun->row_bytes();
  const uint64_t first_of_row1 = row1 / rig.seg->geometry().stripe_lun_bytes();
  auto data = Random(rig.seg->stripe_bytes(), rng);
  ASSERT_TRUE(rig.seg->Write(first_of_row1 * rig.seg->stripe_bytes(), Aligned(data).span(), kWriteNone));
  EXPECT_EQ(r.missed, (Missed{{3, row1}}));
  EXPECT_EQ(rig.seg->stats().failed_chunk_writes, 1u);
}

// The chunks landed, then the vdev's flush failed: every row written since
// the last good flush that has a block there is reported, and rows written
// before that flush are not.
TEST(JerasureMissedWrites, AFailedFlushNamesTheRowsWrittenSinceTheLastGoodOne) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(TwoRows());
  Recorder r;
  r.Attach(*rig.seg);
  const uint64_t sb = rig.seg->stripe_bytes();
  const uint64_t row1 = rig.lun->row_bytes();
  const uint64_t stripes_per_row = row1 / rig.seg->geometry().stripe_lun_bytes();
  auto data = Random(sb, rng);
  ASSERT_TRUE(rig.seg->Write(0, Aligned(data).span(), kWriteNone));  // row 0
  ASSERT_TRUE(rig.seg->Flush());
  ASSERT_TRUE(rig.seg->Write(stripes_per_row * sb, Aligned(data).span(), kWriteNone));  // row 1
  rig.FailVdev(5, FaultOpKind::kFlush);
  ASSERT_TRUE(rig.seg->Flush());  // one of M vdevs failing is tolerated
  EXPECT_EQ(rig.seg->stats().failed_vdev_flushes, 1u);
  EXPECT_EQ(r.missed, (Missed{{5, row1}}));

  // A flush that fails beyond M keeps its rows for the next flush.
  r.missed.clear();
  ASSERT_TRUE(rig.seg->Write(0, Aligned(data).span(), kWriteNone));  // row 0 again
  rig.FailVdev(1, FaultOpKind::kFlush);
  rig.FailVdev(2, FaultOpKind::kFlush);
  ASSERT_FALSE(rig.seg->Flush());
  rig.faults[1]->ClearFailures();
  rig.faults[2]->ClearFailures();
  r.missed.clear();
  ASSERT_TRUE(rig.seg->Flush());  // vdev 5 still fails: row 0 is reported for it
  EXPECT_EQ(r.missed, (Missed{{5, 0}}));
  r.missed.clear();
  ASSERT_TRUE(rig.seg->Flush());  // nothing written since the last good flush
  EXPECT_TRUE(r.missed.empty());
}

}  // namespace
}  // namespace tessera
