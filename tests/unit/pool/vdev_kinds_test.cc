// Vdev kinds: the `kind` attribute picks a vdev's opener (vdev_kinds.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "core/pool/pool.h"
#include "core/pool/vdev_kinds.h"
#include "core/vdev/file_vdev.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/pool/pool_test_util.h"

namespace tessera {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A second kind, registered by this test through the public extension
// point: memory devices kept by path for the life of the process.
class MemoryKind {
 public:
  static constexpr char kName[] = "test-memory";

  static MemoryKind& Registered() {
    static MemoryKind* kind = [] {
      auto* made = new MemoryKind;
      Status registered = RegisterVdevKind(kName, [made](const VdevConfig& vc, const VdevOpenOptions& options) {
        return made->Open(vc, options);
      });
      EXPECT_TRUE(registered) << registered.error().ToString();
      return made;
    }();
    return *kind;
  }

  bool Holds(const std::string& path) {
    std::lock_guard lock(mu_);
    return devices_.contains(path);
  }
  void Drop(const std::string& path) {
    std::lock_guard lock(mu_);
    devices_.erase(path);
  }

 private:
  Result<OpenedVdev> Open(const VdevConfig& vc, const VdevOpenOptions& options) {
    std::lock_guard lock(mu_);
    auto it = devices_.find(vc.path);
    if (!options.create) {
      if (it == devices_.end()) return Err(Code::kNotFound, "{} is missing", VdevDescription(vc));
      return OpenedVdev{.device = it->second};
    }
    if (it != devices_.end()) return Err(Code::kInvalidArgument, "{} already exists", VdevDescription(vc));
    auto device = std::make_shared<MemoryVdev>(BlockCount{vc.size_bytes / kBlockSize});
    devices_[vc.path] = device;
    return OpenedVdev{.device = device, .undo_create = [this, path = vc.path] { Drop(path); }};
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<MemoryVdev>> devices_;
};

TEST(VdevKinds, UnknownKindIsRefusedAndNothingIsCreated) {
  TempDir dir;
  PoolConfig config = *ParsePoolConfig(
      "[vdev a]\npath = a.img\nsize = 16M\n[vdev b]\npath = b.img\nsize = 16M\nkind = nfs\n", dir.path());
  for (bool create : {true, false}) {
    auto devices = OpenVdevs(config, {.create = create, .allow_missing = !create});
    ASSERT_FALSE(devices) << "create " << create;
    EXPECT_EQ(devices.error().code(), Code::kInvalidArgument);
    const std::string& message = devices.error().message();
    EXPECT_TRUE(Contains(message, "vdev 'b'")) << message;
    EXPECT_TRUE(Contains(message, "unknown kind 'nfs'")) << message;
    EXPECT_TRUE(Contains(message, "known kinds: file")) << message;
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/a.img")) << "create " << create;
  }
}

TEST(VdevKinds, ExplicitFileKindIsTheDefault) {
  TempDir dir;
  PoolConfig config = *ParsePoolConfig(
      "[vdev a]\npath = a.img\nsize = 16M\n[vdev b]\npath = b.img\nsize = 16M\nkind = file\n", dir.path());
  EXPECT_EQ(VdevKind(config.vdevs[0]), "file");
  EXPECT_EQ(VdevKind(config.vdevs[1]), "file");
  auto created = OpenVdevs(config, {.create = true});
  ASSERT_TRUE(created) << created.error().ToString();
  ASSERT_TRUE(Pool::Create(config, *created));
  created->clear();
  auto again = OpenVdevs(config, {.create = true});
  ASSERT_FALSE(again);
  EXPECT_TRUE(Contains(again.error().message(), "vdev 'a'")) << again.error().message();
  EXPECT_TRUE(Contains(again.error().message(), "refusing to overwrite")) << again.error().message();
  std::filesystem::remove(dir.path() + "/b.img");
  auto missing = OpenVdevs(config, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_TRUE(Contains(missing.error().message(), "vdev 'b'")) << missing.error().message();
  auto degraded = OpenVdevs(config, {.allow_missing = true});
  ASSERT_TRUE(degraded) << degraded.error().ToString();
  EXPECT_NE(dynamic_cast<FileVdev*>((*degraded)[0].get()), nullptr);
  EXPECT_EQ((*degraded)[1], nullptr) << "a missing file is a null device";
}

TEST(VdevKinds, NameTakenIsRefused) {
  MemoryKind::Registered();
  for (const char* kind : {"file", MemoryKind::kName}) {
    Status again = RegisterVdevKind(kind, [](const VdevConfig&, const VdevOpenOptions&) -> Result<OpenedVdev> {
      return Err(Code::kIOError, "never called");
    });
    ASSERT_FALSE(again) << kind;
    EXPECT_TRUE(Contains(again.error().message(), "already registered")) << again.error().message();
  }
}

TEST(VdevKinds, RegisteredKindOpensTheVdevsNamingIt) {
  MemoryKind& memory = MemoryKind::Registered();
  TempDir dir;
  PoolConfig config = *ParsePoolConfig("[vdev f]\npath = f.img\nsize = 16M\n"
                                       "[vdev m]\npath = m.mem\nsize = 16M\ntier = slow\nkind = test-memory\n",
                                       dir.path());
  const std::string m_path = config.vdevs[1].path;
  {
    auto created = OpenVdevs(config, {.create = true});
    ASSERT_TRUE(created) << created.error().ToString();
    EXPECT_NE(dynamic_cast<FileVdev*>((*created)[0].get()), nullptr);
    EXPECT_NE(dynamic_cast<MemoryVdev*>((*created)[1].get()), nullptr);
    EXPECT_FALSE(std::filesystem::exists(m_path)) << "the memory kind makes no file";
    ASSERT_TRUE(Pool::Create(config, *created));
  }
  auto devices = OpenVdevs(config, {});
  ASSERT_TRUE(devices) << devices.error().ToString();
  auto pool = Pool::Open(config, *devices);
  ASSERT_TRUE(pool) << pool.error().ToString();
  ExpectBlockRoundTrip(**pool, DiskAddress::Make(Tier::kSlow, 0, 100), 9);  // on the memory vdev
  pool->reset();
  devices->clear();

  // Missing is the kind's answer (NotFound), and allow_missing turns it
  // into a null device.
  memory.Drop(m_path);
  auto missing = OpenVdevs(config, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  auto degraded = OpenVdevs(config, {.allow_missing = true});
  ASSERT_TRUE(degraded) << degraded.error().ToString();
  EXPECT_EQ((*degraded)[1], nullptr);
}

TEST(VdevKinds, FailedCreateUndoesEveryKind) {
  MemoryKind& memory = MemoryKind::Registered();
  TempDir dir;
  PoolConfig config = *ParsePoolConfig("[vdev m]\npath = undo.mem\nsize = 16M\nkind = test-memory\n"
                                       "[vdev f]\npath = f.img\nsize = 16M\n"
                                       "[vdev late]\npath = missing-dir/late.img\nsize = 16M\n",
                                       dir.path());
  auto devices = OpenVdevs(config, {.create = true});
  ASSERT_FALSE(devices);
  EXPECT_TRUE(Contains(devices.error().message(), "vdev 'late'")) << devices.error().message();
  EXPECT_FALSE(memory.Holds(config.vdevs[0].path));
  EXPECT_FALSE(std::filesystem::exists(config.vdevs[1].path));
}

}  // namespace
}  // namespace tessera
