// Volume diffs and diff streams: the diff between two snapshots is exactly
// the blocks written or trimmed between them (against a model); a stream
// round trip reproduces the target; a bad stream or a wrong base changes
// nothing.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>

#include "volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kSize = 8 << 20;
constexpr uint64_t kBlocks = kSize / 4096;

// Per block: 0 = unmapped, otherwise the id of the write that mapped it.
using BlockModel = std::vector<uint64_t>;

std::set<uint64_t> ModelChanges(const BlockModel& a, const BlockModel& b) {
  std::set<uint64_t> out;
  for (uint64_t i = 0; i < a.size(); i++) {
    if (a[i] != b[i]) out.insert(i);
  }
  return out;
}

std::set<uint64_t> DiffBlocks(const VolumeDiff& diff, const BlockModel& newer) {
  std::set<uint64_t> out;
  uint64_t last_end = UINT64_MAX;
  for (const DiffRange& r : diff.ranges) {
    EXPECT_EQ(r.offset % 4096, 0u);
    EXPECT_EQ(r.length % 4096, 0u);
    EXPECT_NE(r.offset, last_end) << "adjacent ranges were not merged";
    EXPECT_TRUE(last_end == UINT64_MAX || r.offset > last_end) << "ranges out of order";
    last_end = r.offset + r.length;
    for (uint64_t b = r.offset / 4096; b < last_end / 4096; b++) {
      out.insert(b);
      if (r.zero) {
        EXPECT_EQ(newer[b], 0u) << "a zero range covers mapped block " << b;
      }
    }
  }
  EXPECT_EQ(diff.changed_bytes, out.size() * 4096);
  return out;
}

// Random writes (1..32 blocks) and trims, applied to the volume and the model.
void RandomOps(std::mt19937_64& rng, Volume& volume, BlockModel& model, int ops,
               uint64_t* next_id) {
  for (int i = 0; i < ops; i++) {
    uint64_t n = 1 + rng() % 32;
    uint64_t first = rng() % (kBlocks - n);
    if (rng() % 5 == 0) {
      ASSERT_TRUE(volume.Trim(first * 4096, n * 4096, false));
      for (uint64_t b = first; b < first + n; b++) model[b] = 0;
    } else {
      uint64_t id = (*next_id)++;
      ASSERT_TRUE(volume.Write(first * 4096, Pattern(n * 4096, id), false));
      for (uint64_t b = first; b < first + n; b++) model[b] = id;
    }
  }
}

TEST(VolumeDiff, SnapshotDiffsMatchTheModel) {
  PoolDir pd(1, 256ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  auto volume = std::move(*storage->OpenVolume("v"));
  std::mt19937_64 rng(42);
  uint64_t next_id = 1;
  BlockModel model(kBlocks, 0);
  std::vector<BlockModel> at;  // model as of snapshot i
  for (int s = 0; s < 8; s++) {
    RandomOps(rng, *volume, model, s % 3 == 0 ? 40 : 3, &next_id);
    ASSERT_TRUE(storage->CreateSnapshot("v", fmt::format("s{}", s)));
    at.push_back(model);
    if (s % 2 == 1) {
      ASSERT_TRUE(storage->Commit());
    }
  }
  RandomOps(rng, *volume, model, 10, &next_id);  // unflushed: the diff flushes
  for (int i = 0; i < 8; i++) {
    for (int j = 0; j < 8; j++) {
      auto diff = storage->DiffVolume("v", fmt::format("s{}", i), fmt::format("s{}", j));
      ASSERT_TRUE(diff) << diff.error().ToString();
      EXPECT_EQ(DiffBlocks(*diff, at[j]), ModelChanges(at[i], at[j])) << i << " -> " << j;
      EXPECT_EQ(diff->size, kSize);
    }
    auto live = storage->DiffVolume("v", fmt::format("s{}", i), "");
    ASSERT_TRUE(live) << live.error().ToString();
    EXPECT_EQ(DiffBlocks(*live, model), ModelChanges(at[i], model)) << i << " -> live";
    auto full = storage->DiffVolume("v", "", fmt::format("s{}", i));
    ASSERT_TRUE(full);
    EXPECT_EQ(DiffBlocks(*full, at[i]), ModelChanges(BlockModel(kBlocks, 0), at[i]))
        << "full " << i;
  }
  EXPECT_EQ(storage->DiffVolume("v", "nope", "").error().code(), Code::kNotFound);
  EXPECT_EQ(storage->DiffVolume("w", "s1", "").error().code(), Code::kNotFound);
}

std::vector<std::byte> ReadAll(Storage& storage, const std::string& name) {
  auto v = storage.OpenVolume(name);
  EXPECT_TRUE(v) << v.error().ToString();
  std::vector<std::byte> out(kSize);
  EXPECT_TRUE((*v)->Read(0, out));
  return out;
}

std::vector<std::string> SnapshotNames(Storage& storage, const std::string& volume) {
  std::vector<std::string> out;
  auto list = storage.ListSnapshots(volume);
  EXPECT_TRUE(list);
  if (list) {
    for (const auto& s : *list) out.push_back(s.name);
  }
  return out;
}

class DiffStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::move(*pd_.Create());
    ASSERT_TRUE(storage_->CreateVolume({.name = "v", .size = kSize}));
    ASSERT_TRUE(storage_->CreateVolume({.name = "w", .size = kSize}));
    auto volume = std::move(*storage_->OpenVolume("v"));
    std::mt19937_64 rng(7);
    uint64_t id = 1;
    BlockModel model(kBlocks, 0);
    RandomOps(rng, *volume, model, 60, &id);
    ASSERT_TRUE(storage_->CreateSnapshot("v", "a"));
    RandomOps(rng, *volume, model, 30, &id);
    ASSERT_TRUE(storage_->CreateSnapshot("v", "b"));
    RandomOps(rng, *volume, model, 10, &id);  // the live volume moves on
  }
  std::string Path(const std::string& name) { return pd_.Outside(name); }

  PoolDir pd_{1, 256ull << 20};
  std::unique_ptr<Storage> storage_;
};

TEST_F(DiffStreamTest, FullThenIncrementalRoundTrip) {
  auto full = storage_->WriteDiffStream("v", "", "a", StreamOut(Path("full")));
  ASSERT_TRUE(full) << full.error().ToString();
  auto inc = storage_->WriteDiffStream("v", "a", "b", StreamOut(Path("inc")));
  ASSERT_TRUE(inc) << inc.error().ToString();
  EXPECT_GT(inc->zero_bytes, 0u);  // the random ops trimmed some mapped blocks
  EXPECT_LT(inc->stream_bytes, full->stream_bytes);

  // The incremental stream needs its base first.
  auto early = storage_->ApplyDiffStream("w", StreamIn(Path("inc")));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code(), Code::kInvalidArgument);
  EXPECT_NE(early.error().ToString().find("not at the stream's base"), std::string::npos)
      << early.error().ToString();

  auto applied = storage_->ApplyDiffStream("w", StreamIn(Path("full")));
  ASSERT_TRUE(applied) << applied.error().ToString();
  EXPECT_EQ(applied->data_bytes, full->data_bytes);
  EXPECT_TRUE(ReadAll(*storage_, "w") == ReadAll(*storage_, "v@a"));
  EXPECT_EQ(SnapshotNames(*storage_, "w"), std::vector<std::string>{"a"});
  auto w_list = storage_->ListSnapshots("w");
  auto v_list = storage_->ListSnapshots("v");
  ASSERT_TRUE(w_list && v_list);
  EXPECT_EQ(w_list->at(0).guid, v_list->at(0).guid);

  ASSERT_TRUE(storage_->ApplyDiffStream("w", StreamIn(Path("inc"))));
  EXPECT_TRUE(ReadAll(*storage_, "w") == ReadAll(*storage_, "v@b"));
  EXPECT_TRUE(ReadAll(*storage_, "w@a") == ReadAll(*storage_, "v@a"));
  EXPECT_EQ(SnapshotNames(*storage_, "w"), (std::vector<std::string>{"a", "b"}));
  auto diff = storage_->DiffVolume("w", "b", "");
  ASSERT_TRUE(diff);
  EXPECT_TRUE(diff->ranges.empty());

  // Applying it again: the copy already holds the target.
  EXPECT_EQ(storage_->ApplyDiffStream("w", StreamIn(Path("inc"))).error().code(), Code::kInvalidArgument);
  // A full stream needs an unwritten volume.
  EXPECT_EQ(storage_->ApplyDiffStream("w", StreamIn(Path("full"))).error().code(), Code::kInvalidArgument);
  auto report = storage_->Check();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->Summary();
}

TEST_F(DiffStreamTest, StreamNeedsASnapshotTarget) {
  EXPECT_EQ(storage_->WriteDiffStream("v", "a", "", StreamOut(Path("x"))).error().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(storage_->WriteDiffStream("v", "a", "zz", StreamOut(Path("x"))).error().code(), Code::kNotFound);
}

// Every corruption is refused before anything changes: the copy keeps its
// contents and gets no snapshot.
TEST_F(DiffStreamTest, CorruptStreamsChangeNothing) {
  ASSERT_TRUE(storage_->WriteDiffStream("v", "", "a", StreamOut(Path("full"))));
  ASSERT_TRUE(storage_->ApplyDiffStream("w", StreamIn(Path("full"))));
  ASSERT_TRUE(storage_->WriteDiffStream("v", "a", "b", StreamOut(Path("inc"))));
  std::ifstream in(Path("inc"), std::ios::binary);
  std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(good.size(), 1024u + 32u + 8192u);
  auto before = ReadAll(*storage_, "w");

  std::mt19937_64 rng(3);
  std::vector<std::pair<std::string, std::string>> bad;
  for (int i = 0; i < 6; i++) {
    std::string flipped = good;
    size_t at = i == 0   ? 20
                : i == 1 ? 1030
                         : rng() % good.size();  // header, record header, anywhere
    flipped[at] = static_cast<char>(flipped[at] ^ (1 << (rng() % 8)));
    bad.emplace_back(fmt::format("bit flip at {}", at), flipped);
  }
  bad.emplace_back("truncated", good.substr(0, good.size() - 4096 - 40));
  bad.emplace_back("no end record", good.substr(0, good.size() - 32));
  bad.emplace_back("trailing bytes", good + "x");
  bad.emplace_back("empty", "");
  for (const auto& [what, bytes] : bad) {
    std::ofstream(Path("bad"), std::ios::binary | std::ios::trunc) << bytes;
    auto result = storage_->ApplyDiffStream("w", StreamIn(Path("bad")));
    ASSERT_FALSE(result) << what;
    EXPECT_EQ(result.error().code(), Code::kCorruption)
        << what << ": " << result.error().ToString();
    EXPECT_TRUE(ReadAll(*storage_, "w") == before) << what << " changed the volume";
    EXPECT_EQ(SnapshotNames(*storage_, "w"), std::vector<std::string>{"a"}) << what;
  }
  // The intact stream still applies afterwards.
  std::ofstream(Path("good"), std::ios::binary | std::ios::trunc) << good;
  ASSERT_TRUE(storage_->ApplyDiffStream("w", StreamIn(Path("good"))));
  EXPECT_TRUE(ReadAll(*storage_, "w") == ReadAll(*storage_, "v@b"));
}

// A copy that changed since its base snapshot refuses the stream.
TEST_F(DiffStreamTest, ChangedCopyIsRefused) {
  ASSERT_TRUE(storage_->WriteDiffStream("v", "", "a", StreamOut(Path("full"))));
  ASSERT_TRUE(storage_->WriteDiffStream("v", "a", "b", StreamOut(Path("inc"))));
  ASSERT_TRUE(storage_->ApplyDiffStream("w", StreamIn(Path("full"))));
  {
    auto w = std::move(*storage_->OpenVolume("w"));
    ASSERT_TRUE(w->Write(4096 * 9, Pattern(4096, 99), true));
  }
  auto before = ReadAll(*storage_, "w");
  auto result = storage_->ApplyDiffStream("w", StreamIn(Path("inc")));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().ToString().find("changed since its snapshot 'a'"), std::string::npos)
      << result.error().ToString();
  EXPECT_TRUE(ReadAll(*storage_, "w") == before);
  // A volume of another size refuses it too.
  ASSERT_TRUE(storage_->CreateVolume({.name = "x", .size = kSize * 2}));
  EXPECT_EQ(storage_->ApplyDiffStream("x", StreamIn(Path("full"))).error().code(), Code::kInvalidArgument);
}

// storage.h: a stream file is a regular file and none of the pool's; a
// descriptor of a vdev (also reached through a symlink), of pool.conf, or of
// a FIFO is refused before a byte of it is touched.
TEST_F(DiffStreamTest, StreamFilesOfThePoolOrNotPlainFilesAreRefused) {
  auto size_of = [](const std::string& path) { return std::filesystem::file_size(path); };
  auto sum_of = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::hash<std::string>()(bytes);
  };
  const std::string vdev = pd_.dir() + "/vdev0.img";
  const std::string conf = pd_.dir() + "/pool.conf";
  ASSERT_TRUE(storage_->Commit());
  const uint64_t vdev_size = size_of(vdev);
  const size_t conf_sum = sum_of(conf);
  const std::string link = Path("link-to-vdev");
  std::filesystem::create_symlink(vdev, link);
  const std::string fifo = Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  for (const std::string& path : {vdev, link, conf}) {
    auto wrote = storage_->WriteDiffStream("v", "", "a", StreamFd{UniqueFd(::open(path.c_str(), O_RDWR))});
    ASSERT_FALSE(wrote) << path;
    EXPECT_EQ(wrote.error().code(), Code::kInvalidArgument) << path;
    EXPECT_NE(wrote.error().message().find("of this pool"), std::string::npos)
        << path << ": " << wrote.error().ToString();
    auto applied = storage_->ApplyDiffStream("w", StreamIn(path));
    ASSERT_FALSE(applied) << path;
    EXPECT_EQ(applied.error().code(), Code::kInvalidArgument) << path;
  }
  // O_RDWR opens a FIFO without waiting for a peer; the storage must not
  // wait on it either (it would hold the pool's lock).
  auto wrote = storage_->WriteDiffStream("v", "", "a", StreamFd{UniqueFd(::open(fifo.c_str(), O_RDWR))});
  ASSERT_FALSE(wrote);
  EXPECT_NE(wrote.error().message().find("regular file"), std::string::npos) << wrote.error().ToString();
  auto applied = storage_->ApplyDiffStream("w", StreamFd{UniqueFd(::open(fifo.c_str(), O_RDWR))});
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message().find("regular file"), std::string::npos);

  EXPECT_EQ(size_of(vdev), vdev_size);
  EXPECT_EQ(sum_of(conf), conf_sum);
  EXPECT_EQ(SnapshotNames(*storage_, "w"), std::vector<std::string>{});
  ExpectClean(*storage_);
}

}  // namespace
}  // namespace tessera::testing
