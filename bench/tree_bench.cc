// tree_bench: the B-epsilon tree (through a Tessera database on a file vdev)
// against RocksDB, side by side in one run on the same disk.
//
// Phases, for each engine: N random 16-byte keys with 16-byte values are
// inserted, then made durable (Tessera: Commit; RocksDB: Flush + SyncWAL);
// then random point lookups of inserted keys; then range scans of 100 keys
// from random start keys. Each figure is printed with the ratio
// tessera/rocksdb.
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/cache.h>

#include <random>
#include <vector>

#include "bench/bench_util.h"
#include "core/db/database.h"
#include "core/pool/vdev_kinds.h"
#include "core/util/log.h"
#include "core/vdev/file_vdev.h"

namespace tessera::bench {
namespace {

struct Figures {
  double insert_ops = 0;
  double lookup_ops = 0;
  double scan_ops = 0;
};

std::string KeyOf(uint64_t i) {
  // 16 bytes derived from i through a bijective mix, so keys are random-looking.
  uint64_t a = i * 0x9E3779B97F4A7C15ull;
  a ^= a >> 31;
  uint64_t b = a * 0xBF58476D1CE4E5B9ull;
  std::string k(16, '\0');
  std::memcpy(k.data(), &a, 8);
  std::memcpy(k.data() + 8, &b, 8);
  return k;
}

std::string ValueOf(uint64_t i) {
  std::string v(16, '\0');
  uint64_t x = ~i;
  std::memcpy(v.data(), &x, 8);
  std::memcpy(v.data() + 8, &i, 8);
  return v;
}

Figures RunTessera(const std::string& dir, uint64_t keys, uint64_t lookups, uint64_t scans,
                   uint64_t cache_bytes) {
  PoolConfig config;
  config.vdevs.push_back(VdevConfig{.name = "bench0", .path = dir + "/tessera-vdev0",
                                    .size_bytes = 8ull << 30, .tier = Tier::kFastest});
  auto devices = OpenVdevs(config, {.create = true});
  if (!devices) throw std::runtime_error(devices.error().ToString());
  auto pool = Pool::Create(config, *devices);
  if (!pool) throw std::runtime_error(pool.error().ToString());
  DatabaseOptions options;
  options.cache_bytes = cache_bytes;
  auto db = Database::Create(std::move(*pool), options);
  if (!db) throw std::runtime_error(db.error().ToString());
  Tree& tree = (*(*db)->CreateDataset("bench"))->tree();
  Figures f;
  Stopwatch insert;
  for (uint64_t i = 0; i < keys; i++) {
    if (!tree.Insert(KeyOf(i), ValueOf(i))) throw std::runtime_error("insert failed");
  }
  auto txg = (*db)->Commit();
  if (!txg) throw std::runtime_error(txg.error().ToString());
  f.insert_ops = keys / insert.Seconds();

  std::mt19937_64 rng(42);
  Stopwatch lookup;
  for (uint64_t i = 0; i < lookups; i++) {
    uint64_t k = rng() % keys;
    auto v = tree.Get(KeyOf(k));
    if (!v || !*v || **v != ValueOf(k)) throw std::runtime_error("lookup mismatch");
  }
  f.lookup_ops = lookups / lookup.Seconds();

  Stopwatch scan;
  for (uint64_t i = 0; i < scans; i++) {
    int seen = 0;
    auto status = tree.Scan(KeyOf(rng() % keys), "", [&](std::string_view, std::string_view) {
      return ++seen < 100;
    });
    if (!status) throw std::runtime_error(status.error().ToString());
  }
  f.scan_ops = scans / scan.Seconds();
  auto stats = tree.stats();
  fmt::print("tessera: tree height {}, {} flushes, {} splits, cache {} MiB clean\n", stats.height,
             stats.flushes, stats.splits, (*db)->cache().clean_bytes() >> 20);
  return f;
}

Figures RunRocks(const std::string& dir, uint64_t keys, uint64_t lookups, uint64_t scans,
                 uint64_t cache_bytes) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(cache_bytes);
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir + "/rocksdb", &raw);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  Figures f;
  Stopwatch insert;
  rocksdb::WriteOptions wo;
  for (uint64_t i = 0; i < keys; i++) {
    if (!db->Put(wo, KeyOf(i), ValueOf(i)).ok()) throw std::runtime_error("put failed");
  }
  if (!db->Flush(rocksdb::FlushOptions()).ok() || !db->SyncWAL().ok()) {
    throw std::runtime_error("rocksdb sync failed");
  }
  f.insert_ops = keys / insert.Seconds();

  std::mt19937_64 rng(42);
  Stopwatch lookup;
  std::string value;
  for (uint64_t i = 0; i < lookups; i++) {
    uint64_t k = rng() % keys;
    if (!db->Get(rocksdb::ReadOptions(), KeyOf(k), &value).ok() || value != ValueOf(k)) {
      throw std::runtime_error("rocksdb lookup mismatch");
    }
  }
  f.lookup_ops = lookups / lookup.Seconds();

  Stopwatch scan;
  for (uint64_t i = 0; i < scans; i++) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    int seen = 0;
    for (it->Seek(KeyOf(rng() % keys)); it->Valid() && seen < 100; it->Next()) seen++;
  }
  f.scan_ops = scans / scan.Seconds();
  return f;
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  using namespace tessera::bench;
  if (WantsHelp(argc, argv)) {
    fmt::print(
        "usage: tree_bench [--keys=10000000] [--lookups=1000000] [--scans=100000]\n"
        "                  [--cache-mib=1024] [--dir=/var/tmp]\n"
        "Inserts random 16-byte keys with 16-byte values into Tessera's B-epsilon tree and\n"
        "into RocksDB on the same disk, then looks them up and scans; prints ops/s and ratios.\n");
    return 0;
  }
  uint64_t keys = ArgU64(argc, argv, "keys", 10'000'000);
  uint64_t lookups = ArgU64(argc, argv, "lookups", 1'000'000);
  uint64_t scans = ArgU64(argc, argv, "scans", 100'000);
  uint64_t cache = ArgU64(argc, argv, "cache-mib", 1024) << 20;
  std::string base = Arg(argc, argv, "dir", "/var/tmp");
  std::string dir = fmt::format("{}/tessera-tree-bench-{}", base, getpid());
  std::filesystem::create_directories(dir);
  int rc = 0;
  try {
    fmt::print("tree_bench: {} keys, {} lookups, {} scans of 100, cache {} MiB, in {}\n", keys,
               lookups, scans, cache >> 20, dir);
    Figures t = RunTessera(dir, keys, lookups, scans, cache);
    Figures r = RunRocks(dir, keys, lookups, scans, cache);
    fmt::print("{:<22}{:>14}{:>14}{:>10}\n", "ops/s", "tessera", "rocksdb", "ratio");
    fmt::print("{:<22}{:>14.0f}{:>14.0f}{:>9.2f}x\n", "insert (+sync)", t.insert_ops, r.insert_ops,
               t.insert_ops / r.insert_ops);
    fmt::print("{:<22}{:>14.0f}{:>14.0f}{:>9.2f}x\n", "point lookup", t.lookup_ops, r.lookup_ops,
               t.lookup_ops / r.lookup_ops);
    fmt::print("{:<22}{:>14.0f}{:>14.0f}{:>9.2f}x\n", "range scan (100)", t.scan_ops, r.scan_ops,
               t.scan_ops / r.scan_ops);
  } catch (const std::exception& e) {
    fmt::print(stderr, "tree_bench: {}\n", e.what());
    rc = 1;
  }
  std::filesystem::remove_all(dir);
  return rc;
}
