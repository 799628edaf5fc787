#include "core/util/volume_ref.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(VolumeRef, ParsesAVolumeAndASnapshot) {
  EXPECT_EQ(ParseVolumeRef("vol").value(), (VolumeRef{"vol", ""}));
  EXPECT_EQ(ParseVolumeRef("vol@snap").value(), (VolumeRef{"vol", "snap"}));
  EXPECT_EQ(ParseSnapshotRef("vol@snap").value(), (VolumeRef{"vol", "snap"}));
}

TEST(VolumeRef, FormatsWhatItParses) {
  for (const char* text : {"vol", "vol@snap"}) EXPECT_EQ(ParseVolumeRef(text)->ToString(), text);
  EXPECT_EQ((VolumeRef{"v", ""}).ToString(), "v");
  EXPECT_EQ((VolumeRef{"v", "s"}).ToString(), "v@s");
}

void ExpectRefused(const Result<VolumeRef>& ref, std::string_view says) {
  ASSERT_FALSE(ref.has_value());
  EXPECT_EQ(ref.error().code(), Code::kInvalidArgument);
  EXPECT_NE(ref.error().message().find(says), std::string::npos) << ref.error().message();
}

TEST(VolumeRef, RefusesBadInputWithTheReason) {
  ExpectRefused(ParseVolumeRef(""), "'' is not VOLUME or VOLUME@SNAPSHOT: the name is empty");
  ExpectRefused(ParseVolumeRef("vol@"), "'vol@' is not VOLUME or VOLUME@SNAPSHOT: it has no snapshot name after '@'");
  ExpectRefused(ParseVolumeRef("@snap"), "'@snap' is not VOLUME or VOLUME@SNAPSHOT: it has no volume name before '@'");
  ExpectRefused(ParseVolumeRef("@"), "it has no volume name");
  ExpectRefused(ParseVolumeRef("a@b@c"), "'a@b@c' is not VOLUME or VOLUME@SNAPSHOT: it has more than one '@'");
  ExpectRefused(ParseSnapshotRef("vol"), "'vol' is not VOLUME@SNAPSHOT: it names no snapshot");
  ExpectRefused(ParseSnapshotRef("vol@"), "'vol@' is not VOLUME@SNAPSHOT: it has no snapshot name after '@'");
  ExpectRefused(ParseSnapshotRef("a@b@c"), "it has more than one '@'");
}

}  // namespace
}  // namespace tessera
