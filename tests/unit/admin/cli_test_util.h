// Runs the tessera CLI in-process (RunTessera) against a pool directory
// under TMPDIR, removed afterwards.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "admin/cli.h"
#include "core/util/uuid.h"

namespace tessera {

namespace fs = std::filesystem;

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

inline CliRun Tessera(std::vector<std::string> args) {
  args.insert(args.begin(), "tessera");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = RunTessera(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

class CliTest : public ::testing::Test {
 protected:
  CliTest()
      : dir_((fs::temp_directory_path() / fmt::format("tessera-cli-{}", RandomU64())).string()) {}
  ~CliTest() override { fs::remove_all(dir_); }

  // A pool with one 256M vdev.
  void CreatePool() {
    CliRun run = Tessera({"pool", "create", "--pool", dir_, "--size", "256M"});
    ASSERT_EQ(run.code, 0) << run.err;
  }
  CliRun InPool(std::vector<std::string> args) {
    args.push_back("--pool");
    args.push_back(dir_);
    return Tessera(std::move(args));
  }

  std::string dir_;
};

}  // namespace tessera
