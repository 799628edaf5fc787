// Writes the seed corpora of the fuzz targets (fuzz/corpus/TARGET/) with
// the real encoders, so each seed is a well-formed input that the target
// then mutates. Usage: fuzz_make_corpus DIR (scripts/fuzz.sh --seeds).
// Seeds are small (a few KiB) and deterministic, except for the generation
// (a clock reading) in the real chunk header.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/db/superblock.h"
#include "core/exnode/exnode.h"
#include "core/pool/config.h"
#include "core/pool/label.h"
#include "core/segment/jerasure_format.h"
#include "core/segment/jerasure_segment.h"
#include "core/segment/log_format.h"
#include "core/tree/codec.h"
#include "core/tree/message_action.h"
#include "core/volume/diff_stream.h"
#include "fuzz/fuzz_pool.h"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

std::string g_dir;

void Put(const std::string& target, const std::string& name, std::span<const std::byte> bytes) {
  fs::create_directories(g_dir + "/" + target);
  std::ofstream out(g_dir + "/" + target + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void Put(const std::string& target, const std::string& name, std::string_view text) {
  Put(target, name, std::as_bytes(std::span(text.data(), text.size())));
}

// Trailing zeros add nothing (the targets zero-fill short blocks).
std::span<const std::byte> Trim(std::span<const std::byte> block) {
  size_t n = block.size();
  while (n > 0 && block[n - 1] == std::byte{0}) n--;
  return block.first(n);
}

void Labels() {
  std::vector<std::byte> block(kBlockSize);
  EncodeLabel(VdevLabel{.pool_uuid = {1, 2, 3}, .vdev_guid = 77, .tier = Tier::kFast, .index = 2,
                        .size_blocks = 262144, .name = "fast2"},
              block);
  Put("label", "fast2", block);
}

void Superblocks() {
  std::vector<std::byte> block(kBlockSize);
  Superblock sb{.pool_uuid = {9, 8, 7}, .txg = 1234, .next_dataset_id = 5, .commit_time = 1700000000};
  sb.root.address = 4096;
  sb.root.copy_address = 8192;
  sb.root.stored_bytes = 700;
  sb.root.checksum = 0x1234;
  sb.root.birth = 1233;
  EncodeSuperblock(sb, block);
  Put("superblock", "txg1234", block);
}

void LogHeaders() {
  std::vector<std::byte> block(kBlockSize);
  EncodeLogHeader(LogHeader{.kind = LogBatchKind::kData, .volume_id = 42, .epoch = 3, .seq = 17,
                            .offset = 65536, .entries = {{5, 0xabc}, {6, 0xdef}, {100, 1}}},
                  block);
  Put("log_header", "data3", Trim(block));
  EncodeLogHeader(LogHeader{.kind = LogBatchKind::kTrim, .volume_id = 42, .epoch = 3, .seq = 18,
                            .offset = 81920, .entries = {{10, 20}}},
                  block);
  Put("log_header", "trim", Trim(block));
}

// chunk_header_fuzz.cc: a byte choosing the chunk, then its header.
void ChunkHeaders() {
  std::vector<std::byte> block(kChunkHeaderBytes);
  EncodeChunkHeader(ChunkHeader{.method = ErasureMethod::kReedSolVan, .segment_id = 6, .stripe = 0,
                                .generation = 1, .index = 5, .k = 4, .m = 2, .w = 8, .packet_size = 0,
                                .data_bytes = 61440, .checksums = {1, 2, 3, 4, 5, 6}},
                    block);
  block.insert(block.begin(), std::byte{2});
  Put("chunk_header", "k4m2", Trim(block));

  // The real header of chunk 1 of stripe 0, as the target's segment writes it.
  fuzz::FuzzBlockSource source;
  auto lun = std::make_shared<LunSegment>(
      31, LunOptions{.n_devices = 3, .chunk_size = 16384, .max_block_size = 32768}, fuzz::FuzzPool(), &source);
  if (!lun->Grow()) std::abort();
  auto seg = JerasureSegment::Create(32, JerasureOptions{.n_data_devs = 2, .n_parity_devs = 1, .w = 8}, lun,
                                     fuzz::FuzzPool());
  if (!seg) std::abort();
  std::vector<std::byte> written((*seg)->stripe_bytes());
  for (size_t i = 0; i < written.size(); i++) written[i] = std::byte(static_cast<uint8_t>(i * 7));
  auto where = (*seg)->LocateChunk(0, 1);
  std::vector<std::byte> header(kChunkHeaderBytes);
  if (!(*seg)->Write(0, written, 0) || !where || !fuzz::FuzzPool()->Read(where->address, header)) std::abort();
  header.insert(header.begin(), std::byte{1});
  Put("chunk_header", "k2m1-real", Trim(header));
}

void TreeNodes() {
  DefaultMessageActions actions;
  Compression used;
  Node leaf;
  for (int i = 0; i < 6; i++) leaf.leaf.Append("key" + std::to_string(i), std::string(i * 3, 'v'));
  std::string stored = EncodeNode(leaf, false, &used);
  Put("tree_node", "leaf", stored);

  Node internal;
  internal.level = 1;
  internal.children.resize(2);
  internal.pivots = {"m"};
  internal.RecomputePivotBytes();
  for (size_t c = 0; c < 2; c++) {
    internal.children[c].ptr = BlockPtr{100 + c, 200 + c, 4096, 1234 + c, 7, Compression::kNone};
  }
  internal.children[0].buffer.AddRange("b", "d");
  internal.children[0].buffer.Put("e", Message{MsgType::kInsert, "five"}, actions);
  Message up{MsgType::kUpsert, {}};
  AppendUpsertOp(&up.payload, kActionCounterAdd, CounterDelta(5));
  internal.children[1].buffer.Put("q", up, actions);
  internal.children[1].buffer.Put("r", Message{MsgType::kDelete, {}}, actions);
  stored = EncodeNode(internal, false, &used);
  Put("tree_node", "internal", stored);
}

void Queries() {
  Put("query", "tier", "1:tier:1:FAST:1");
  Put("query", "distinct-hosts", "1:tier:1:FAST:1.1:host:65:any:3.3:any:3:any:3");
  Put("query", "not-or", "1:kind:1:ssd:1.2:any:3:any:3.1:name:2:vdev:2.4:any:3:any:3");
}

void PoolConfigs() {
  Put("pool_config", "two-tiers",
      "[pool]\nname = tank\n\n[vdev fast0]\npath = fast0.img\nsize = 1G\ntier = fastest\nio = buffered\n\n"
      "[vdev slow0]\npath = /srv/slow0.img\nsize = 64M\ntier = slow\nstate = offline\nhost = h1\n");
}

void DiffStreams() {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  DiffStreamWriter writer(f, "seed");
  DiffStreamHeader header{.flags = kDiffFlagIncremental, .volume_size = 1 << 20, .source_volume_id = 3,
                          .base_guid = 11, .base_txg = 5, .target_guid = 12, .target_txg = 9,
                          .target_created_unix = 1700000000, .volume = "vol0", .base_name = "a",
                          .target_name = "b"};
  std::vector<std::byte> data(kBlockSize, std::byte{0x42});
  if (!writer.WriteHeader(header) || !writer.AddData(8192, data) || !writer.AddZero(65536, 8192) ||
      !writer.Finish()) {
    std::abort();
  }
  std::fclose(f);
  Put("diff_stream", "incremental", std::as_bytes(std::span(buf, len)));
  std::free(buf);
}

void Exnodes() {
  Pool* pool = fuzz::FuzzPool();
  fuzz::FuzzBlockSource source;
  Exnode simple{.id = 1000, .name = "vol0", .default_segment = 20, .view_segments = {20}};
  {
    LunSegment lun(30, LunOptions{.n_devices = 1, .chunk_size = 65536, .max_block_size = 65536}, pool, &source);
    if (!lun.Grow() || !lun.Serialize(simple)) std::abort();
    ExnodeSegment log{.id = 20, .type = SegmentType::kLog};
    log.Add("size", "1048576");
    log.Add("volume_id", "1000");
    log.Add("data", "30");
    simple.segments.insert(simple.segments.begin(), log);
  }
  Put("exnode", "simple", *SerializeExnode(simple));

  Exnode rs{.id = 2000, .name = "vol1", .default_segment = 10, .view_segments = {10}};
  auto lun = std::make_shared<LunSegment>(
      31, LunOptions{.n_devices = 3, .chunk_size = 16384, .max_block_size = 32768}, pool, &source);
  if (!lun->Grow()) std::abort();
  auto jer = JerasureSegment::Create(32, JerasureOptions{.n_data_devs = 2, .n_parity_devs = 1, .w = 8}, lun, pool);
  if (!jer || !(*jer)->Serialize(rs)) std::abort();
  ExnodeSegment cache{.id = 10, .type = SegmentType::kCache};
  cache.Add("segment", "21");
  ExnodeSegment log{.id = 21, .type = SegmentType::kLog};
  log.Add("size", "4194304");
  log.Add("volume_id", "2000");
  log.Add("data", "32");
  rs.segments.insert(rs.segments.begin(), {cache, log});
  auto text = SerializeExnode(rs);
  if (!text) {
    std::fprintf(stderr, "%s\n", text.error().ToString().c_str());
    std::abort();
  }
  Put("exnode", "rs2+1", *text);
}

void LogReplays() {
  // Format in log_replay_fuzz.cc: flags, then (control, count, entries).
  std::string data_then_trim;
  auto u64 = [](std::string& s, uint64_t v) {
    for (int i = 0; i < 8; i++) s.push_back(static_cast<char>(v >> (8 * i)));
  };
  data_then_trim += '\0';
  data_then_trim += std::string("\x00\x03", 2);
  for (uint64_t lba : {1, 2, 40}) {
    u64(data_then_trim, lba);
    u64(data_then_trim, 0);
  }
  data_then_trim += std::string("\x01\x01", 2);
  u64(data_then_trim, 2);
  u64(data_then_trim, 3);
  Put("log_replay", "data-trim", data_then_trim);

  std::string clone_with_head = std::string("\x03\x05\x00\x02", 4);  // head at block 5, seq 2; a clone
  clone_with_head += std::string("\x08\x02", 2);  // next row, two blocks
  for (uint64_t lba : {4, 5}) {
    u64(clone_with_head, lba);
    u64(clone_with_head, 0);
  }
  clone_with_head += std::string("\x01\x01", 2);
  u64(clone_with_head, 0);
  u64(clone_with_head, 8);
  Put("log_replay", "clone-head", clone_with_head);
}

void ControlRequests() {
  Put("control", "list", R"({"op":"volume.list"})");
  Put("control", "create", R"({"op":"volume.create","name":"v1","size":8388608,"layout":"rs:1+1"})");
  Put("control", "snapshot", R"({"op":"snapshot.create","volume":"v1","snapshot":"s1"})");
  Put("control", "diff", R"({"op":"volume.diff","volume":"v1","from":"s1"})");
  Put("control", "stream", R"({"op":"diff.stream","volume":"v1","to":"s1"})");
  Put("control", "apply", R"({"op":"diff.apply","volume":"v2"})");
  Put("control", "inspect", R"({"op":"volume.inspect","name":"v1","depth":"full","repair":true})");
  Put("control", "resize", R"({"op":"volume.resize","name":"v1","size":16777216,"force":false})");
  Put("control", "response", R"({"ok":true,"result":{"name":"v1","size":4096,"layout":"simple"}})");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  Labels();
  Superblocks();
  LogHeaders();
  ChunkHeaders();
  TreeNodes();
  Queries();
  PoolConfigs();
  DiffStreams();
  Exnodes();
  LogReplays();
  ControlRequests();
  return 0;
}
