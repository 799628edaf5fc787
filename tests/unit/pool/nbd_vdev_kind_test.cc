// The `nbd` vdev kind (nbd_vdev_kind.h) against nbdkit servers: pool.conf's
// form of an nbd vdev, create and open through OpenVdevs, and what create
// refuses.
#include "core/pool/nbd_vdev_kind.h"

#include <gtest/gtest.h>

#include "core/pool/pool.h"
#include "tests/unit/vdev/nbdkit_server.h"

namespace tessera {
namespace {

using testing::NbdkitServer;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

PoolConfig NbdPool(const std::vector<std::string>& uris) {
  PoolConfig config;
  for (size_t i = 0; i < uris.size(); i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("d{}", i),
                                      .path = uris[i],
                                      .index = static_cast<uint32_t>(i),
                                      .attrs = {{"kind", "nbd"}, {"uri", uris[i]}, {"timeout", "2"}}});
  }
  return config;
}

TEST(NbdVdevKind, IsBuiltIn) {
  auto kinds = KnownVdevKinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "nbd"), kinds.end());
}

TEST(NbdVdevKind, PoolConfHoldsTheUriAloneAndTheSizeOnceKnown) {
  const std::string text =
      "[pool]\nname = default\n\n[vdev d0]\nkind = nbd\nuri = nbd+unix:///e?socket=/run/d0.sock\ntier = slow\n";
  auto config = ParsePoolConfig(text, "/pool");
  ASSERT_TRUE(config) << config.error().ToString();
  const VdevConfig& vc = config->vdevs[0];
  EXPECT_EQ(vc.path, "nbd+unix:///e?socket=/run/d0.sock");
  EXPECT_EQ(vc.size_bytes, 0u);
  EXPECT_EQ(SerializePoolConfig(*config).find("path ="), std::string::npos);
  PoolConfig sized = *config;
  sized.vdevs[0].size_bytes = 64 << 20;
  auto again = ParsePoolConfig(SerializePoolConfig(sized), "/pool");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->vdevs[0].path, vc.path);
  EXPECT_EQ(again->vdevs[0].size_bytes, 64u << 20);

  auto both = ParsePoolConfig(text + "path = d0.img\n", "/pool");
  ASSERT_FALSE(both);
  EXPECT_TRUE(Contains(both.error().message(), "both a path and a uri")) << both.error().ToString();
  // Without kind = nbd the uri would be taken for a file's path.
  for (const char* kind : {"", "kind = file\n"}) {
    auto as_file = ParsePoolConfig(std::string("[vdev d0]\n") + kind + "uri = nbd://h/e\nsize = 64M\n", "/pool");
    ASSERT_FALSE(as_file) << kind;
    EXPECT_TRUE(Contains(as_file.error().message(), "a file vdev does not take")) << as_file.error().ToString();
  }
  auto file_without_size = ParsePoolConfig("[vdev f]\npath = f.img\n", "/pool");
  ASSERT_FALSE(file_without_size);
  EXPECT_TRUE(Contains(file_without_size.error().message(), "no size"));
}

TEST(NbdVdevKind, CreateTakesTheExportsSizeAndAPoolOpensOnIt) {
  NbdkitServer a({"memory", "64M"}), b({"memory", "32M"});
  PoolConfig config = NbdPool({a.uri(), b.uri()});
  auto devices = OpenVdevs(config, {.create = true});
  ASSERT_TRUE(devices) << devices.error().ToString();
  EXPECT_EQ((*devices)[0]->Size().bytes(), 64u << 20);
  EXPECT_EQ((*devices)[1]->Size().bytes(), 32u << 20);
  auto pool = Pool::Create(config, *devices);
  ASSERT_TRUE(pool) << pool.error().ToString();
  Uuid uuid = (*pool)->uuid();
  pool->reset();
  devices->clear();

  auto reopened = OpenVdevs(config, {});
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  auto opened = Pool::Open(config, *reopened);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ((*opened)->uuid(), uuid);
  EXPECT_TRUE((*opened)->vdevs()[1].device->online());
}

TEST(NbdVdevKind, CreateRefusesALabelledOrSmallExport) {
  NbdkitServer server({"memory", "64M"});
  PoolConfig config = NbdPool({server.uri()});
  {
    auto devices = OpenVdevs(config, {.create = true});
    ASSERT_TRUE(devices) << devices.error().ToString();
    ASSERT_TRUE(Pool::Create(config, *devices));
  }
  auto again = OpenVdevs(config, {.create = true});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(again.error().message(), "already holds the label of vdev 'd0'")) << again.error().ToString();
  EXPECT_TRUE(Contains(again.error().message(), "vdev 'd0'"));

  NbdkitServer small({"memory", "8M"});
  auto too_small = OpenVdevs(NbdPool({small.uri()}), {.create = true});
  ASSERT_FALSE(too_small);
  EXPECT_EQ(too_small.error().code(), Code::kInvalidArgument) << too_small.error().ToString();

  PoolConfig larger = NbdPool({server.uri()});
  larger.vdevs[0].size_bytes = 128 << 20;  // more than the export holds
  auto short_export = OpenVdevs(larger, {.create = true});
  ASSERT_FALSE(short_export);
  EXPECT_EQ(short_export.error().code(), Code::kInvalidArgument) << short_export.error().ToString();
}

TEST(NbdVdevKind, AnUnreachableExportIsMissing) {
  PoolConfig config = NbdPool({"nbd+unix:///?socket=/nonexistent/d0.sock"});
  auto strict = OpenVdevs(config, {});
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().code(), Code::kNotFound);
  EXPECT_TRUE(Contains(strict.error().message(), "vdev 'd0'")) << strict.error().ToString();
  EXPECT_TRUE(Contains(strict.error().message(), "unreachable"));
  auto degraded = OpenVdevs(config, {.allow_missing = true});
  ASSERT_TRUE(degraded) << degraded.error().ToString();
  EXPECT_EQ((*degraded)[0], nullptr);

  config.vdevs[0].attrs["uri"] = "nbd+unix:///?socket=/nonexistent/d0.sock";
  config.vdevs[0].attrs["timeout"] = "soon";
  auto bad_timeout = OpenVdevs(config, {});
  ASSERT_FALSE(bad_timeout);
  EXPECT_EQ(bad_timeout.error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
