// The diff stream format on its own: encode/decode, and the reader's
// refusal of streams whose records were dropped, reordered or tampered with.
#include "core/volume/diff_stream.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "volume_test_util.h"

namespace tessera::testing {
namespace {

DiffStreamHeader Header() {
  return DiffStreamHeader{.flags = kDiffFlagIncremental,
                          .volume_size = 1 << 20,
                          .source_volume_id = 3,
                          .base_guid = 11,
                          .base_txg = 5,
                          .target_guid = 12,
                          .target_txg = 9,
                          .target_created_unix = 1700000000,
                          .volume = "vol",
                          .base_name = "a",
                          .target_name = "b"};
}

// A stream of: data at 0 (8 KiB), zero at 64 KiB (4 KiB), data at 128 KiB.
std::string GoodStream() {
  std::FILE* f = std::tmpfile();
  DiffStreamWriter w(f, "test");
  EXPECT_TRUE(w.WriteHeader(Header()));
  EXPECT_TRUE(w.AddData(0, Pattern(8192, 1)));
  EXPECT_TRUE(w.AddZero(65536, 4096));
  EXPECT_TRUE(w.AddData(131072, Pattern(4096, 2)));
  EXPECT_FALSE(w.AddZero(4096, 4096)) << "out of order";
  EXPECT_TRUE(w.Finish());
  std::string out(w.bytes_written(), '\0');
  std::rewind(f);
  EXPECT_EQ(std::fread(out.data(), 1, out.size(), f), out.size());
  std::fclose(f);
  return out;
}

Result<int> ReadAll(const std::string& bytes) {
  std::FILE* f = std::tmpfile();
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::rewind(f);
  DiffStreamReader r(f, "test");
  auto run = [&]() -> Result<int> {
    DiffStreamHeader h = TRY(r.ReadHeader());
    EXPECT_EQ(h.target_name, "b");
    EXPECT_EQ(h.base_guid, 11u);
    int records = 0;
    while (TRY(r.Next()).type != DiffRecordType::kEnd) records++;
    return records;
  };
  auto result = run();
  std::fclose(f);
  return result;
}

TEST(DiffStreamFormat, RoundTripsAndRefusesTampering) {
  std::string good = GoodStream();
  ASSERT_EQ(good.size(), 1024u + 32 + 8192 + 32 + 32 + 4096 + 32);
  auto ok = ReadAll(good);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(*ok, 3);

  size_t zero_at = 1024 + 32 + 8192;
  std::string dropped = good;
  dropped.erase(zero_at, 32);  // every record still verifies alone
  auto r = ReadAll(dropped);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kCorruption);
  EXPECT_NE(r.error().ToString().find("end record counts"), std::string::npos)
      << r.error().ToString();

  std::string moved = good;  // the zero record moved first: out of order
  std::string zero = good.substr(zero_at, 32);
  moved.erase(zero_at, 32);
  moved.insert(1024, zero);
  EXPECT_EQ(ReadAll(moved).error().code(), Code::kCorruption);

  std::string header = good;
  header[600] = 'c';  // target name: header checksum
  EXPECT_EQ(ReadAll(header).error().code(), Code::kCorruption);
}

TEST(DiffStreamFormat, HeaderFieldsAreChecked) {
  auto bytes = EncodeDiffHeader(Header());
  auto back = DecodeDiffHeader(bytes);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->volume, "vol");
  EXPECT_EQ(back->target_created_unix, 1700000000u);
  DiffStreamHeader inconsistent = Header();
  inconsistent.base_guid = 0;  // incremental without a base
  EXPECT_EQ(DecodeDiffHeader(EncodeDiffHeader(inconsistent)).error().code(), Code::kCorruption);
  DiffStreamHeader odd = Header();
  odd.volume_size = 4095;
  EXPECT_EQ(DecodeDiffHeader(EncodeDiffHeader(odd)).error().code(), Code::kCorruption);
}

}  // namespace
}  // namespace tessera::testing
