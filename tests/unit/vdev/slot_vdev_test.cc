#include "core/vdev/slot_vdev.h"

#include <gtest/gtest.h>

#include "core/vdev/fault_vdev.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/vdev/vdev_test_util.h"

namespace tessera {
namespace {

using testing::Pattern;

// Contract 2: a slot without a device refuses requests; its Flush fails only
// when a write it took may not be durable.
TEST(SlotVdev, FlushWithoutADeviceFailsOnlyForWritesNotYetFlushed) {
  SlotVdev missing("gone", BlockCount{16}, nullptr, VdevState::kMissing);
  AlignedBuffer block = Pattern(1, 0, 1);
  EXPECT_FALSE(missing.Write(BlockNo{0}, block.span()));
  EXPECT_FALSE(missing.Read(BlockNo{0}, block.span()));
  EXPECT_TRUE(missing.Flush()) << "nothing was ever written through it";

  SlotVdev slot("v", BlockCount{16}, std::make_shared<MemoryVdev>(BlockCount{16}));
  ASSERT_TRUE(slot.Write(BlockNo{1}, block.span()));
  slot.Detach(VdevState::kOffline);
  auto flushed = slot.Flush();
  ASSERT_FALSE(flushed) << "a write that never reached stable storage was reported durable";
  EXPECT_EQ(flushed.error().code(), Code::kIOError);

  ASSERT_TRUE(slot.Attach(std::make_shared<MemoryVdev>(BlockCount{16})));
  ASSERT_TRUE(slot.Write(BlockNo{1}, block.span()));
  ASSERT_TRUE(slot.Flush());
  slot.Detach(VdevState::kOffline);
  EXPECT_TRUE(slot.Flush()) << "every write was flushed before the device went";
}

// A failed flush leaves the writes unflushed: the next Flush, with the
// device gone, still fails.
TEST(SlotVdev, AFailedFlushIsNotForgotten) {
  auto fault = std::make_shared<FaultVdev>(std::make_shared<MemoryVdev>(BlockCount{16}));
  SlotVdev slot("v", BlockCount{16}, fault);
  AlignedBuffer block = Pattern(1, 0, 2);
  ASSERT_TRUE(slot.Write(BlockNo{2}, block.span()));
  fault->FailNth(1, /*persistent=*/false, FaultOpKind::kFlush);
  ASSERT_FALSE(slot.Flush());
  slot.Detach(VdevState::kFaulted);
  EXPECT_FALSE(slot.Flush());
}

}  // namespace
}  // namespace tessera
