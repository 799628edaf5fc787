// JerasureSegment over a LunSegment over a Pool of FaultVdevs over
// MemoryVdevs: round trips for every method, device loss, corruption,
// stale and misplaced chunks, never-written stripes, Inspect, the exNode
// form and concurrency. Each test checks reads against a flat byte model.
#include "core/segment/jerasure_segment.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "core/segment/jerasure_format.h"
#include "core/util/checksum.h"
#include "tests/unit/segment/jerasure_test_util.h"

namespace tessera::testing {
namespace {

TEST(JerasureFormatTest, HeaderRoundTripAndClassification) {
  ChunkHeader h{.method = ErasureMethod::kReedSolVan,
                .segment_id = 5,
                .stripe = 9,
                .generation = 77,
                .index = 2,
                .k = 3,
                .m = 2,
                .w = 8,
                .packet_size = 0,
                .data_bytes = 12288,
                .checksums = {1, 2, 3, 4, 5}};
  std::vector<std::byte> block(kChunkHeaderBytes);
  EncodeChunkHeader(h, block);
  ChunkHeader out;
  ASSERT_EQ(DecodeChunkHeader(block, out), ChunkHeaderProblem::kNone);
  EXPECT_EQ(out.checksums, h.checksums);
  EXPECT_EQ(out.generation, 77u);
  EXPECT_EQ(out.index, 2u);
  EXPECT_TRUE(out.SameWrite(h));
  block[100] ^= std::byte{1};
  EXPECT_EQ(DecodeChunkHeader(block, out), ChunkHeaderProblem::kCorrupt);
  block[0] = std::byte{'X'};
  EXPECT_EQ(DecodeChunkHeader(block, out), ChunkHeaderProblem::kNotAHeader);
  std::fill(block.begin(), block.end(), std::byte{0});
  EXPECT_EQ(DecodeChunkHeader(block, out), ChunkHeaderProblem::kZero);
}

TEST(JerasureSegmentTest, CreateChecksParametersAgainstTheLun) {
  EcRig rig(Rs(4, 2));
  auto make = [&](JerasureOptions o) { return JerasureSegment::Create(1, o, rig.lun); };
  auto expect_error = [](auto result, const char* says) {
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message().find(says), std::string::npos) << result.error().message();
  };
  expect_error(make({.n_data_devs = 3, .n_parity_devs = 2}), "has 6 devices, K + M is 5");
  expect_error(make({.n_data_devs = 6, .n_parity_devs = 0}), "need K >= 1, M >= 1");
  expect_error(
      make({.n_data_devs = 4, .n_parity_devs = 2, .w = 7, .method = ErasureMethod::kReedSolVan}),
      "w must be 8, 16 or 32");
  // liberation w=7: D = 12288 is not a multiple of 7 * 8.
  expect_error(
      make({.n_data_devs = 4, .n_parity_devs = 2, .w = 7, .method = ErasureMethod::kLiberation}),
      "must be a multiple of w * 8 = 56");
  expect_error(
      make({.n_data_devs = 4, .n_parity_devs = 2, .w = 8, .method = ErasureMethod::kLiberation}),
      "prime");
  auto small = std::make_shared<LunSegment>(9, LunOptions{.n_devices = 6, .chunk_size = 4096},
                                            rig.pool.get(), rig.source.get());
  expect_error(JerasureSegment::Create(1, {}, small),
               "chunk_size 4096 must be a multiple of 4096 in [8192");
  auto odd = std::make_shared<LunSegment>(
      9, LunOptions{.n_devices = 6, .chunk_size = 16384, .max_block_size = 20480}, rig.pool.get(),
      rig.source.get());
  expect_error(JerasureSegment::Create(1, {}, odd), "a stripe would straddle rows");
  EXPECT_EQ(*JerasureSegment::PacketSizeFor(ErasureMethod::kCauchyGood, 8, 61440), 7680u);
  EXPECT_EQ(*JerasureSegment::PacketSizeFor(ErasureMethod::kLiberation, 7, 28672), 4096u);
  EXPECT_EQ(*JerasureSegment::PacketSizeFor(ErasureMethod::kReedSolVan, 8, 61440), 0u);
}

TEST(JerasureSegmentTest, EveryMethodRoundTripsAndSmallReadsUseOnlyDataChunks) {
  TESSERA_SEEDED_RNG(rng);
  const EcRigOptions cases[] = {
      Rs(4, 2, 64 * 1024),
      Rs(3, 1, 16 * 1024, ErasureMethod::kReedSolVan),
      Rs(4, 2, 16 * 1024, ErasureMethod::kReedSolR6Op, 16),
      Rs(5, 3, 16 * 1024, ErasureMethod::kCauchyOrig, 4),
      Rs(5, 2, 32 * 1024, ErasureMethod::kLiberation, 7),
      Rs(4, 2, 16 * 1024, ErasureMethod::kBlaumRoth, 4),
      Rs(6, 2, 16 * 1024, ErasureMethod::kLiber8tion),
      Rs(2, 2, 16 * 1024, ErasureMethod::kReedSolVan),
  };
  for (const EcRigOptions& o : cases) {
    EcRig rig(o);
    SCOPED_TRACE(rig.seg->Signature());
    ASSERT_EQ(rig.seg->Size(), 4 * rig.seg->stripe_bytes());
    auto model = Fill(rig, rng);
    EXPECT_EQ(ReadAll(*rig.seg), model);
    EXPECT_EQ(ReadAllCopying(*rig.seg), model);
    for (int i = 0; i < 40; i++) {
      uint64_t off = rng() % model.size();
      size_t len =
          1 + rng() % std::min<uint64_t>(model.size() - off, 3 * rig.seg->stripe_bytes() / 2);
      std::vector<std::byte> out(len);
      ASSERT_TRUE(rig.seg->Read(off, out));
      ASSERT_EQ(std::memcmp(out.data(), model.data() + off, len), 0) << off << " +" << len;
    }
    // A small healthy read of stripe 0 (chunk j at position j) reads no parity.
    const uint32_t k = rig.seg->geometry().k, n = rig.seg->geometry().n();
    std::vector<uint64_t> before;
    for (uint32_t v = 0; v < n; v++) before.push_back(rig.faults[v]->Counters().reads);
    std::vector<std::byte> small(100);
    ASSERT_TRUE(rig.seg->Read(10, small));
    for (uint32_t v = 0; v < n; v++) {
      bool parity = v >= k;
      EXPECT_EQ(rig.faults[v]->Counters().reads > before[v], !parity || k <= rig.seg->geometry().m)
          << "vdev " << v;
    }
    JerasureStats st = rig.seg->stats();
    EXPECT_EQ(st.stripes_written, 4u);
    EXPECT_EQ(st.degraded_reads + st.corrupt_chunks + st.chunk_read_errors + st.stale_chunks, 0u);
  }
}

TEST(JerasureSegmentTest, WritesMustBeWholeStripesAndChangeNothingOtherwise) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2));
  auto model = Fill(rig, rng);
  uint64_t sb = rig.seg->stripe_bytes();
  auto data = Random(sb, rng);
  for (auto [off, len] : {std::pair<uint64_t, uint64_t>{4096, sb},
                          {0, sb - 4096},
                          {sb, sb + 4096},
                          {3 * sb, 2 * sb}}) {
    std::vector<std::byte> buf(len);
    Status s = rig.seg->Write(off, buf, kWriteNone);
    ASSERT_FALSE(s) << off << " +" << len;
    EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  }
  BlockWrite good{.offset = 0, .data = data}, bad{.offset = sb + 4096, .data = data};
  BlockWrite batch[] = {good, bad};
  EXPECT_FALSE(rig.seg->WriteBlocks(batch));
  EXPECT_EQ(ReadAll(*rig.seg), model);  // nothing of the batch was written
  EXPECT_EQ(rig.seg->BlockSize(), sb);
}

TEST(JerasureSegmentTest, NeverWrittenAndTornFirstWritesReadAsZeros) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2));
  EXPECT_EQ(ReadAll(*rig.seg), std::vector<std::byte>(rig.seg->Size()));
  auto r = rig.seg->Inspect(InspectMode::kScan);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bad, 0u);
  // Stripe 1 written on only M devices (K chunks never landed): zeros, and
  // Inspect reports the incomplete write.
  auto data = Random(rig.seg->stripe_bytes(), rng);
  ASSERT_TRUE(rig.seg->Write(rig.seg->stripe_bytes(), data, kWriteNone));
  std::vector<std::byte> zero(rig.options.chunk_size);
  for (uint32_t j = 0; j < 4; j++) rig.PutRawChunk(1, j, zero);
  EXPECT_EQ(ReadAll(*rig.seg), std::vector<std::byte>(rig.seg->Size()));
  EXPECT_GT(rig.seg->stats().zero_stripe_reads, 0u);
  r = rig.seg->Inspect(InspectMode::kScan);
  EXPECT_EQ(r->bad, 2u);
  ASSERT_FALSE(r->problems.empty());
  EXPECT_NE(r->problems[0].find("incomplete write"), std::string::npos) << r->problems[0];
}

TEST(JerasureSegmentTest, LosingMDevicesLosesNothingAndWritesGoOnDegraded) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2));
  auto model = Fill(rig, rng);
  rig.FailVdev(1);
  rig.FailVdev(4);
  EXPECT_EQ(ReadAll(*rig.seg), model);
  JerasureStats st = rig.seg->stats();
  EXPECT_GT(st.rebuilt_chunks, 0u);
  EXPECT_GT(st.chunk_read_errors, 0u);
  EXPECT_EQ(st.repaired_chunks, 0u);  // the failed devices refuse the rewrite
  EXPECT_EQ(st.repair_write_failures, st.rebuilt_chunks);
  // Writes: each stripe loses 2 chunk writes, which is allowed.
  auto fresh = Random(2 * rig.seg->stripe_bytes(), rng);
  ASSERT_TRUE(rig.seg->Write(rig.seg->stripe_bytes(), Aligned(fresh).span(), kWriteFua));
  std::copy(fresh.begin(), fresh.end(), model.begin() + rig.seg->stripe_bytes());
  EXPECT_EQ(ReadAll(*rig.seg), model);
  EXPECT_EQ(rig.seg->stats().failed_chunk_writes, 4u);
  EXPECT_EQ(rig.seg->stats().failed_vdev_flushes, 2u);
  // A third device: reads and writes are IOError, never wrong data.
  rig.FailVdev(0);
  std::vector<std::byte> out(model.size());
  Status s = rig.seg->Read(0, out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kIOError);
  EXPECT_NE(s.error().message().find("stripe 0: 3 of 6 chunks lost"), std::string::npos)
      << s.error().message();
  // It says why, with the device's own message for the first chunk lost.
  EXPECT_NE(s.error().message().find("; the first unreadable: "), std::string::npos) << s.error().message();
  EXPECT_GT(rig.seg->stats().unrecoverable_stripes, 0u);
  uint64_t sb = rig.seg->stripe_bytes();
  Status w = rig.seg->Write(3 * sb, std::span(fresh).first(sb), kWriteNone);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), Code::kIOError);
  EXPECT_NE(w.error().message().find("stripe 3: 3 of 6 chunk writes failed"), std::string::npos)
      << w.error().message();
  // Back to two failed vdevs: stripes 0..2 read again. The failed write
  // landed on 3 chunks of stripe 3, so neither its old nor its new content
  // is agreed by K = 4 chunks: IOError (contract 1), still never wrong data.
  rig.faults[0]->ClearFailures();
  std::vector<std::byte> head(3 * sb);
  ASSERT_TRUE(rig.seg->Read(0, head));
  EXPECT_EQ(std::memcmp(head.data(), model.data(), head.size()), 0);
  EXPECT_EQ(rig.seg->Read(3 * sb, std::span(out).first(sb)).error().code(), Code::kIOError);
}

TEST(JerasureSegmentTest, ReadErrorsAreRebuiltAndRewritten) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2));
  auto model = Fill(rig, rng);
  rig.faults[2]->FailNth(1, /*persistent=*/false, FaultOpKind::kRead);
  EXPECT_EQ(ReadAll(*rig.seg), model);
  JerasureStats st = rig.seg->stats();
  EXPECT_EQ(st.chunk_read_errors, 1u);
  EXPECT_EQ(st.repaired_chunks, 1u);
  EXPECT_EQ(ReadAll(*rig.seg), model);
  EXPECT_EQ(rig.seg->stats().degraded_reads, st.degraded_reads);
}

// Corrupts M chunks of every stripe (headers, data, parity): reads are
// right, each bad chunk is rewritten once, and a second read needs nothing.
TEST(JerasureSegmentTest, CorruptChunksOnMDevicesAreRepairedInPlace) {
  TESSERA_SEEDED_RNG(rng);
  int round = 0;
  for (EcRigOptions o : {Rs(4, 2), Rs(3, 3, 16 * 1024, ErasureMethod::kReedSolVan),
                         Rs(5, 2, 32 * 1024, ErasureMethod::kLiberation, 7)}) {
    EcRig rig(o);
    // Alternately rebuilt into the caller's aligned buffer and copied out.
    const bool aligned = round++ % 2 == 0;
    SCOPED_TRACE(rig.seg->Signature());
    auto model = Fill(rig, rng);
    uint32_t n = rig.seg->geometry().n(), m = rig.seg->geometry().m;
    uint64_t corrupted = 0;
    for (uint64_t s = 0; s < rig.seg->StripeCount(); s++) {
      // Corruption starts at a data chunk, so the read path sees the stripe
      // (parity alone is not read on the fast path; Inspect kFull finds it).
      uint32_t first = static_cast<uint32_t>(rng() % rig.seg->geometry().k);
      for (uint32_t e = 0; e < m; e++) {
        uint32_t j = (first + e) % n;
        uint64_t at = rng() % rig.options.chunk_size;
        rig.Scribble(s, j, at, std::min<uint64_t>(64, rig.options.chunk_size - at), rng);
        corrupted++;
      }
    }
    EXPECT_EQ(aligned ? ReadAll(*rig.seg) : ReadAllCopying(*rig.seg), model);
    JerasureStats st = rig.seg->stats();
    EXPECT_EQ(st.corrupt_chunks, corrupted);
    EXPECT_EQ(st.repaired_chunks, corrupted);
    EXPECT_EQ(ReadAll(*rig.seg), model);
    EXPECT_EQ(rig.seg->stats().degraded_reads, st.degraded_reads);
    auto r = rig.seg->Inspect(InspectMode::kFull);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->bad, 0u) << (r->problems.empty() ? "" : r->problems[0]);
    // One more than M: IOError, never data.
    for (uint32_t j = 0; j <= m; j++) rig.Scribble(2, j, 5000, 8, rng);
    std::vector<std::byte> out(rig.seg->stripe_bytes());
    Status bad = rig.seg->Read(2 * rig.seg->stripe_bytes(), out);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Code::kIOError);
  }
}

TEST(JerasureSegmentTest, StaleAndMisplacedChunksAreDetected) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2));
  auto model = Fill(rig, rng);
  uint64_t sb = rig.seg->stripe_bytes();
  // Save stripe 0's data chunk 1 and parity chunk 4, rewrite the stripe, and
  // put the old chunks back: they verify on their own, but are stale.
  auto old1 = rig.RawChunk(0, 1), old4 = rig.RawChunk(0, 4);
  auto fresh = Random(sb, rng);
  ASSERT_TRUE(rig.seg->Write(0, fresh, kWriteNone));
  std::copy(fresh.begin(), fresh.end(), model.begin());
  rig.PutRawChunk(0, 1, old1);
  rig.PutRawChunk(0, 4, old4);
  EXPECT_EQ(ReadAll(*rig.seg), model);
  EXPECT_EQ(rig.seg->stats().stale_chunks, 2u);
  EXPECT_EQ(rig.seg->stats().repaired_chunks, 2u);
  EXPECT_NE(rig.RawChunk(0, 1), old1);  // rewritten in place
  EXPECT_NE(rig.RawChunk(0, 4), old4);
  // Chunk 2 of stripe 3 copied over chunk 2 of stripe 1: a valid header of
  // this segment in the wrong place.
  rig.PutRawChunk(1, 2, rig.RawChunk(3, 2));
  auto r = rig.seg->Inspect(InspectMode::kScan);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->bad, 1u);
  EXPECT_NE(r->problems[0].find("stripe 1 chunk 2"), std::string::npos) << r->problems[0];
  EXPECT_NE(r->problems[0].find("misplaced"), std::string::npos) << r->problems[0];
  EXPECT_EQ(ReadAll(*rig.seg), model);
  EXPECT_EQ(rig.seg->stats().corrupt_chunks, 1u);
}

// A stripe whose blocks hold only other stripes' chunks (a row allocated over
// recycled blocks, whose tail the log never wrote) was never written: it
// reads as zeros and an inspect with repair counts nothing unrecoverable.
// Chunks of the stripe's own write among them make it lost instead.
TEST(JerasureSegmentTest, StripeOverRecycledChunksReadsAsNeverWritten) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2));
  uint64_t sb = rig.seg->stripe_bytes();
  const uint64_t last = rig.seg->Size() / sb - 1;
  ASSERT_GE(last, 3u);
  for (uint64_t s = 0; s < 3; s++) ASSERT_TRUE(rig.seg->Write(s * sb, Random(sb, rng), kWriteNone));
  std::vector<std::byte> zero(rig.options.chunk_size);
  for (uint32_t j = 0; j < 6; j++) rig.PutRawChunk(last, j, j < 4 ? rig.RawChunk(j % 2, j) : zero);
  std::vector<std::byte> out(sb);
  ASSERT_TRUE(rig.seg->Read(last * sb, out));
  EXPECT_EQ(out, std::vector<std::byte>(sb));
  auto r = rig.seg->InspectRows(InspectMode::kScan, RowInspectOptions{.repair = true});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->unrecoverable, 0u);
  EXPECT_EQ(r->bad, 0u);

  // Stripe 2 with four of its chunks recycled from stripe 0: lost, not
  // never written (two chunks still hold stripe 2's write).
  for (uint32_t j = 0; j < 4; j++) rig.PutRawChunk(2, j, rig.RawChunk(0, j));
  r = rig.seg->InspectRows(InspectMode::kScan, RowInspectOptions{.repair = true});
  EXPECT_GT(r->unrecoverable, 0u);
  EXPECT_FALSE(rig.seg->Read(2 * sb, out));
}

TEST(JerasureSegmentTest, InspectLevelsSeeWhatTheyRead) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2));
  auto model = Fill(rig, rng);
  for (InspectMode mode : {InspectMode::kQuick, InspectMode::kScan, InspectMode::kFull}) {
    auto r = rig.seg->Inspect(mode);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->bad, 0u);
  }
  // Data corruption: only kFull reads data.
  rig.Scribble(0, 3, 9000, 16, rng);
  EXPECT_EQ(rig.seg->Inspect(InspectMode::kScan)->bad, 0u);
  auto full = rig.seg->Inspect(InspectMode::kFull);
  ASSERT_EQ(full->bad, 1u);
  EXPECT_NE(full->problems[0].find("data checksum mismatch"), std::string::npos)
      << full->problems[0];
  // Parity that is wrong but self-consistent (checksums updated in every
  // header): only the re-encode of kFull catches it; reads are unaffected.
  const uint32_t n = 6, parity = 5;
  std::vector<std::vector<std::byte>> raw;
  for (uint32_t j = 0; j < n; j++) raw.push_back(rig.RawChunk(2, j));
  raw[parity][kChunkHeaderBytes + 100] ^= std::byte{0x40};
  uint64_t sum = Checksum64(raw[parity].data() + kChunkHeaderBytes,
                            rig.options.chunk_size - kChunkHeaderBytes);
  for (uint32_t j = 0; j < n; j++) {
    ChunkHeader h;
    ASSERT_EQ(DecodeChunkHeader(raw[j], h), ChunkHeaderProblem::kNone);
    h.checksums[parity] = sum;
    EncodeChunkHeader(h, raw[j]);
    rig.PutRawChunk(2, j, raw[j]);
  }
  EXPECT_EQ(rig.seg->Inspect(InspectMode::kScan)->bad, 0u);
  full = rig.seg->Inspect(InspectMode::kFull);
  ASSERT_EQ(full->bad, 2u);
  EXPECT_NE(full->problems[1].find("parity does not match"), std::string::npos)
      << full->problems[1];
  EXPECT_EQ(ReadAll(*rig.seg), model);
}

// A row whose blocks share a vdev voids the code's guarantee: kQuick says so.
TEST(JerasureSegmentTest, InspectQuickFindsRowsOnSharedVdevs) {
  EcRig rig(Rs(4, 2));
  struct OneVdev final : LunBlockSource {
    uint64_t next = 1000;
    Result<std::vector<LunBlock>> AllocateRow(uint32_t n, uint64_t bytes,
                                              const std::string&) override {
      std::vector<LunBlock> row;
      for (uint32_t i = 0; i < n; i++, next += bytes / kBlockSize) {
        row.push_back({.id = next,
                       .address = DiskAddress::Make(Tier::kFastest, 0, next),
                       .size = bytes,
                       .vdev = "v0"});
      }
      return row;
    }
  } one;
  auto lun = std::make_shared<LunSegment>(
      5, LunOptions{.n_devices = 6, .chunk_size = 16384, .max_block_size = 65536}, rig.pool.get(),
      &one);
  ASSERT_TRUE(lun->Grow());
  auto seg = JerasureSegment::Create(6, {}, lun);
  ASSERT_TRUE(seg);
  auto r = (*seg)->Inspect(InspectMode::kQuick);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->bad, 1u);
  EXPECT_NE(r->problems[0].find("6 blocks on only 1 distinct vdevs"), std::string::npos)
      << r->problems[0];
  EXPECT_EQ(rig.seg->Inspect(InspectMode::kQuick)->bad, 0u);
}

TEST(JerasureSegmentTest, ExnodeRoundTripAndBadSections) {
  TESSERA_SEEDED_RNG(rng);
  EcRig rig(Rs(4, 2, 16 * 1024, ErasureMethod::kReedSolVan));
  auto model = Fill(rig, rng);
  Exnode ex{.id = 1, .name = "v", .default_segment = rig.seg->id()};
  ASSERT_TRUE(rig.seg->Serialize(ex));
  for (const auto& s : ex.segments) ex.view_segments.push_back(s.id);
  auto text = SerializeExnode(ex);
  ASSERT_TRUE(text) << text.error().ToString();
  EXPECT_NE(text->find("type=jerasure\nsegment=77\nn_data_devs=4\nn_parity_devs=2\nw=8\n"
                       "chunk_size=16384\nmethod=reed_sol_van\n"),
            std::string::npos)
      << *text;
  auto parsed = ParseExnode(*text);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  const ExnodeSegment* js = parsed->FindSegment(rig.seg->id());
  std::shared_ptr<LunSegment> lun = std::move(
      *LunSegment::FromExnode(*parsed, *parsed->FindSegment(77), rig.pool.get(), rig.source.get()));
  auto reopened = JerasureSegment::FromExnode(*js, lun, rig.pool.get());
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ(ReadAll(**reopened), model);
  EXPECT_EQ((*reopened)->Signature(), rig.seg->Signature());

  auto expect_bad = [&](std::function<void(ExnodeSegment&)> edit, const char* says) {
    ExnodeSegment bad = *js;
    edit(bad);
    auto r = JerasureSegment::FromExnode(bad, lun);
    ASSERT_FALSE(r) << says;
    EXPECT_NE(r.error().message().find("[segment-88]"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(says), std::string::npos) << r.error().message();
  };
  auto set = [](std::string key, std::string value) {
    return [=](ExnodeSegment& s) {
      for (auto& kv : s.params) {
        if (kv.key == key) kv.value = value;
      }
    };
  };
  expect_bad(set("method", "reed_solomon"), "unknown erasure method 'reed_solomon'");
  expect_bad(set("segment", "12"), "names lun segment 12");
  expect_bad(set("chunk_size", "8192"), "differs from lun 77's chunk_size 16384");
  expect_bad(set("n_parity_devs", "3"), "has 6 devices, K + M is 7");
  expect_bad(set("w", "abc"), "'w'");
  expect_bad([](ExnodeSegment& s) { s.Add("packet", "8"); }, "unknown key 'packet'");
  expect_bad(
      [](ExnodeSegment& s) { std::erase_if(s.params, [](auto& kv) { return kv.key == "w"; }); },
      "'w' missing");
}

TEST(JerasureSegmentTest, ConcurrentWritersReadersAndRepairs) {
  TESSERA_SEEDED_RNG(rng);
  const uint64_t seed = rng_seed;
  EcRigOptions o = Rs(4, 2);
  o.rows = 2;
  EcRig rig(o);
  const uint64_t sb = rig.seg->stripe_bytes(), stripes = rig.seg->StripeCount();
  // Stripe content is a function of (stripe, version); version is its first 8 bytes.
  auto content = [&](uint64_t stripe, uint64_t version) {
    std::mt19937_64 r(stripe * 1000003 + version);
    auto out = Random(sb, r);
    std::memcpy(out.data(), &version, 8);
    return out;
  };
  for (uint64_t s = 0; s < stripes; s++)
    ASSERT_TRUE(rig.seg->Write(s * sb, content(s, 0), kWriteNone));
  // A data chunk of every even stripe (reads do not look at parity when
  // the data verifies).
  for (uint64_t s = 0; s < stripes; s += 2)
    rig.Scribble(s, static_cast<uint32_t>(s % 4), 100, 32, rng);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++) {  // writers: odd stripes only, so corrupt even ones stay for readers
    threads.emplace_back([&, t] {
      for (uint64_t v = 1; v <= 10; v++) {
        for (uint64_t s = 1 + 2 * t; s < stripes; s += 4) {
          if (!rig.seg->Write(s * sb, content(s, v), kWriteNone)) failures++;
        }
      }
    });
  }
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      std::mt19937_64 r(seed + t);
      std::vector<std::byte> out(sb);
      for (int i = 0; i < 60; i++) {
        uint64_t s = r() % stripes;
        uint64_t version = 0;
        if (!rig.seg->Read(s * sb, out)) {
          failures++;
          continue;
        }
        std::memcpy(&version, out.data(), 8);
        if (out != content(s, version)) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto r = rig.seg->Inspect(InspectMode::kFull);
  EXPECT_EQ(r->bad, 0u) << (r->problems.empty() ? "" : r->problems[0]);
}

TEST(JerasureSegmentTest, SizeRowsTruncateTrimExtentsAndSignature) {
  EcRig rig(Rs(4, 2));
  uint64_t sb = rig.seg->stripe_bytes();
  EXPECT_EQ(sb, 4u * (16384 - 4096));
  EXPECT_EQ(rig.seg->Size(), 4 * sb);
  ASSERT_TRUE(rig.seg->Truncate(4 * sb + 1));  // grows by one lun row (4 stripes)
  EXPECT_EQ(rig.seg->Size(), 8 * sb);
  ASSERT_TRUE(rig.seg->Truncate(sb));  // never shrinks
  EXPECT_EQ(rig.seg->Size(), 8 * sb);
  EXPECT_EQ(rig.seg->row_bytes(), 4 * sb);
  auto grown = rig.seg->Grow();
  ASSERT_TRUE(grown);
  EXPECT_EQ(grown->seg_offset, 8 * sb);
  EXPECT_EQ(grown->seg_end, 12 * sb);
  EXPECT_EQ(rig.seg->Size(), 12 * sb);
  EXPECT_TRUE(rig.seg->Trim(0, sb));
  EXPECT_FALSE(rig.seg->Trim(0, 13 * sb));
  auto ext = rig.seg->Extents(4096, sb);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{{.offset = 4096, .length = sb, .hole = false}}));
  EXPECT_EQ(
      rig.seg->Signature(),
      "jerasure(method=cauchy_good,k=4,m=2,w=8,chunk=16384)/lun(n=6,chunk=16384,block=65536)");
  // The cleaner removes the middle row: a gap that I/O refuses and Inspect skips.
  std::vector<std::byte> data(rig.seg->Size(), std::byte{7});
  ASSERT_TRUE(rig.seg->Write(0, data, kWriteNone));
  EXPECT_FALSE(rig.seg->RemoveRow(4 * sb + 4096));
  auto removed = rig.seg->RemoveRow(4 * sb);
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(removed->seg_end, 8 * sb);
  EXPECT_EQ(removed->blocks.size(), 6u);
  EXPECT_EQ(rig.seg->Size(), 12 * sb);
  ASSERT_EQ(rig.seg->Rows().size(), 2u);
  EXPECT_EQ(rig.seg->Rows()[1].seg_offset, 8 * sb);
  std::vector<std::byte> stripe(sb);
  EXPECT_EQ(rig.seg->Read(5 * sb, stripe).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(rig.seg->Write(5 * sb, stripe, kWriteNone).error().code(), Code::kInvalidArgument);
  ASSERT_TRUE(rig.seg->Read(9 * sb, stripe));
  EXPECT_EQ(stripe, std::vector<std::byte>(sb, std::byte{7}));
  EXPECT_FALSE(rig.seg->LocateChunk(5, 0));
  auto r = rig.seg->Inspect(InspectMode::kFull);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->bad, 0u);
  EXPECT_EQ(r->checked, 8u * 6 + 2 + 12);  // chunks of 8 stripes, plus rows and lun blocks
  std::vector<std::byte> out(10);
  EXPECT_EQ(rig.seg->Read(rig.seg->Size() - 5, out).error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::testing

namespace tessera {
namespace {

using namespace tessera::testing;

// Inspect with repair rewrites bad chunks (corrupt, on a replaced block,
// unreadable-then-back) so that a second pass finds nothing; stripes past
// live_end and rows the filter leaves out are not touched; beyond M bad
// chunks a stripe counts as unrecoverable and nothing is written.
TEST(JerasureSegmentRepairTest, InspectWithRepairRewritesWhatItCanOnce) {
  TESSERA_SEEDED_RNG(rng);
  EcRigOptions o = Rs(4, 2);
  o.rows = 2;
  EcRig rig(o);
  auto model = Fill(rig, rng);
  const uint64_t stripes = rig.seg->StripeCount();
  ASSERT_EQ(stripes, 8u);
  rig.Scribble(0, 1, 9000, 8, rng);                       // data of a data chunk
  rig.Scribble(1, 4, 100, 8, rng);                        // header of a parity chunk
  rig.PutRawChunk(2, 0, std::vector<std::byte>(o.chunk_size));  // blank, like a fresh device
  rig.Scribble(6, 2, 9000, 8, rng);                       // row 1
  rig.Scribble(7, 5, 9000, 8, rng);                       // row 1, past live_end below

  RowInspectOptions only_row0{.repair = true};
  only_row0.rows = [](const LunRowDesc& row) { return row.seg_offset == 0; };
  uint64_t last_done = 0, last_total = 0;
  only_row0.progress = [&](uint64_t done, uint64_t total) {
    last_done = done;
    last_total = total;
  };
  auto first = rig.seg->InspectRows(InspectMode::kFull, only_row0);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->bad, 3u);
  EXPECT_EQ(first->repaired, 3u);
  EXPECT_EQ(first->unrecoverable, 0u);
  EXPECT_EQ(last_done, 4u);
  EXPECT_EQ(last_total, 4u);
  EXPECT_EQ(rig.seg->stats().repaired_chunks, 3u);

  RowInspectOptions before_last{.repair = true, .live_end = 7 * rig.seg->stripe_bytes()};
  auto second = rig.seg->InspectRows(InspectMode::kFull, before_last);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->repaired, 1u);  // stripe 6; stripe 7 is past live_end
  auto all = rig.seg->InspectRows(InspectMode::kFull, RowInspectOptions{.repair = true});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->repaired, 1u);  // stripe 7
  auto clean = rig.seg->Inspect(InspectMode::kFull);
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->bad, 0u);
  EXPECT_EQ(ReadAll(*rig.seg), model);

  // Three chunks of stripe 3 bad: unrecoverable, and nothing is rewritten.
  for (uint32_t j : {0u, 2u, 4u}) rig.Scribble(3, j, 9000, 8, rng);
  auto raw = rig.RawChunk(3, 1);
  auto lost = rig.seg->InspectRows(InspectMode::kFull, RowInspectOptions{.repair = true});
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->repaired, 0u);
  EXPECT_EQ(lost->unrecoverable, 3u);
  EXPECT_EQ(rig.RawChunk(3, 1), raw);
  std::vector<std::byte> out(rig.seg->stripe_bytes());
  auto read = rig.seg->Read(3 * rig.seg->stripe_bytes(), out);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kIOError);
}

}  // namespace
}  // namespace tessera
