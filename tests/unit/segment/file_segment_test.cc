#include "tests/unit/segment/file_segment.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "tests/unit/segment/segment_test_util.h"

namespace tessera {
namespace {

using testing::Bytes;
using testing::RandomBytes;
using testing::ReadAll;
using testing::TempDir;

std::unique_ptr<FileSegment> MustOpen(const std::string& path, uint64_t size, bool create) {
  auto seg = FileSegment::Open(7, path, size, create);
  EXPECT_TRUE(seg) << seg.error().ToString();
  return seg ? std::move(*seg) : nullptr;
}

TEST(FileSegment, CreateStartsZeroed) {
  TempDir dir;
  auto seg = MustOpen(dir.File("f"), 10000, true);
  ASSERT_TRUE(seg);
  EXPECT_EQ(seg->Size(), 10000u);
  EXPECT_EQ(seg->BlockSize(), 4096u);
  EXPECT_EQ(ReadAll(*seg), std::vector<std::byte>(10000));
  EXPECT_EQ(std::filesystem::file_size(dir.File("f")), 12288u);  // Rounded up to 4 KiB.
}

// Random unaligned writes, reads and trims against a flat byte array.
TEST(FileSegment, UnalignedIoMatchesModelAndPersists) {
  TempDir dir;
  const uint64_t size = 64 * 1024 + 123;
  uint64_t seed = testing::TestSeed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun: TESSERA_TEST_SEED)");
  std::mt19937_64 rng(seed);
  std::vector<std::byte> model(size);
  {
    auto seg = MustOpen(dir.File("f"), size, true);
    ASSERT_TRUE(seg);
    for (int op = 0; op < 600; ++op) {
      uint64_t len = rng() % 3 == 0 ? rng() % 20000 : rng() % 300;
      len = std::min(len, size);
      uint64_t off = rng() % (size - len + 1);
      int kind = static_cast<int>(rng() % 10);
      if (kind < 5) {
        auto data = RandomBytes(len, rng);
        ASSERT_TRUE(seg->Write(off, data, rng() % 8 == 0 ? kWriteFua : kWriteNone));
        std::copy(data.begin(), data.end(), model.begin() + off);
      } else if (kind < 6) {
        ASSERT_TRUE(seg->Trim(off, len));
        std::fill(model.begin() + off, model.begin() + off + len, std::byte{0});
      } else {
        std::vector<std::byte> out(len);
        ASSERT_TRUE(seg->Read(off, out));
        ASSERT_TRUE(std::equal(out.begin(), out.end(), model.begin() + off))
            << "op " << op << " read " << off << "+" << len;
      }
    }
    ASSERT_TRUE(seg->Flush());
    EXPECT_EQ(ReadAll(*seg), model);
  }
  auto again = MustOpen(dir.File("f"), size, false);
  ASSERT_TRUE(again);
  EXPECT_EQ(ReadAll(*again), model);
}

TEST(FileSegment, OpenMissingOrTooSmall) {
  TempDir dir;
  auto missing = FileSegment::Open(1, dir.File("nope"), 4096, false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  ASSERT_TRUE(MustOpen(dir.File("f"), 4096, true));
  auto small = FileSegment::Open(1, dir.File("f"), 8192, false);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().code(), Code::kInvalidArgument);
  EXPECT_NE(small.error().message().find(dir.File("f")), std::string::npos);
}

TEST(FileSegment, OutOfRangeIsInvalidAndChangesNothing) {
  TempDir dir;
  auto seg = MustOpen(dir.File("f"), 8192, true);
  ASSERT_TRUE(seg);
  ASSERT_TRUE(seg->Write(0, Bytes(8192, 4), kWriteNone));
  for (auto [off, len] : {std::pair<uint64_t, uint64_t>{8000, 200}, {8192, 1}, {UINT64_MAX, 2}}) {
    EXPECT_EQ(seg->Write(off, Bytes(len, 9), kWriteNone).error().code(),
              Code::kInvalidArgument);
    EXPECT_EQ(seg->Trim(off, len).error().code(), Code::kInvalidArgument);
    std::vector<std::byte> out(len);
    EXPECT_EQ(seg->Read(off, out).error().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(ReadAll(*seg), Bytes(8192, 4));
}

TEST(FileSegment, TruncateShrinkZeroesAndGrowExtendsFile) {
  TempDir dir;
  auto seg = MustOpen(dir.File("f"), 8192, true);
  ASSERT_TRUE(seg);
  ASSERT_TRUE(seg->Write(0, Bytes(8192, 6), kWriteNone));
  ASSERT_TRUE(seg->Truncate(5000));
  EXPECT_EQ(seg->Size(), 5000u);
  ASSERT_TRUE(seg->Truncate(40000));
  EXPECT_GE(std::filesystem::file_size(dir.File("f")), 40960u);
  std::vector<std::byte> expect(40000);
  std::fill(expect.begin(), expect.begin() + 5000, std::byte{6});
  EXPECT_EQ(ReadAll(*seg), expect);
  ASSERT_TRUE(seg->Write(39990, Bytes(10, 1), kWriteNone));
  std::fill(expect.begin() + 39990, expect.end(), std::byte{1});
  EXPECT_EQ(ReadAll(*seg), expect);
}

TEST(FileSegment, SerializeAndOpenFromExnodeRoundTrip) {
  TempDir dir;
  auto seg = MustOpen(dir.File("f"), 20000, true);
  ASSERT_TRUE(seg);
  ASSERT_TRUE(seg->Write(10, Bytes(100, 8), kWriteNone));
  ASSERT_TRUE(seg->Flush());
  Exnode ex;
  ASSERT_TRUE(seg->Serialize(ex));
  ASSERT_EQ(ex.segments.size(), 1u);
  const ExnodeSegment& section = ex.segments[0];
  EXPECT_EQ(section.id, 7u);
  EXPECT_EQ(section.type, SegmentType::kFile);
  EXPECT_EQ(*section.GetString("path"), dir.File("f"));
  EXPECT_EQ(*section.GetU64("size"), 20000u);
  // A second Serialize into the same exNode is refused.
  EXPECT_EQ(seg->Serialize(ex).error().code(), Code::kInvalidArgument);
  seg.reset();

  auto reopened = FileSegment::OpenFromExnode(section);
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->id(), 7u);
  EXPECT_EQ((*reopened)->Size(), 20000u);
  std::vector<std::byte> out(100);
  ASSERT_TRUE((*reopened)->Read(10, out));
  EXPECT_EQ(out, Bytes(100, 8));
}

TEST(FileSegment, OpenFromExnodeNamesWhatIsWrong) {
  TempDir dir;
  ExnodeSegment no_path{.id = 9, .type = SegmentType::kFile, .params = {{"size", "4096"}}};
  auto r = FileSegment::OpenFromExnode(no_path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_NE(r.error().message().find("'path'"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("[segment-9]"), std::string::npos) << r.error().message();

  ExnodeSegment no_size{.id = 9, .type = SegmentType::kFile, .params = {{"path", dir.File("f")}}};
  r = FileSegment::OpenFromExnode(no_size);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_NE(r.error().message().find("'size'"), std::string::npos) << r.error().message();

  ExnodeSegment bad_size{.id = 9,
                         .type = SegmentType::kFile,
                         .params = {{"path", dir.File("f")}, {"size", "12k"}}};
  r = FileSegment::OpenFromExnode(bad_size);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);

  ExnodeSegment wrong_type{.id = 9, .type = SegmentType::kLog, .params = {}};
  r = FileSegment::OpenFromExnode(wrong_type);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);

  ExnodeSegment missing_file{.id = 9,
                             .type = SegmentType::kFile,
                             .params = {{"path", dir.File("absent")}, {"size", "4096"}}};
  r = FileSegment::OpenFromExnode(missing_file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_NE(r.error().message().find("[segment-9]"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace tessera
