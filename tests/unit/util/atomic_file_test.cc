#include "core/util/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/util/uuid.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AtomicFile, WritesReplacesAndLeavesNoTemporary) {
  fs::path dir = fs::temp_directory_path() / fmt::format("tessera-atomic-{}", RandomU64());
  fs::create_directories(dir);
  std::string path = (dir / "f.conf").string();
  ASSERT_TRUE(WriteFileAtomically(path, "one\n", 0600));
  EXPECT_EQ(Slurp(path), "one\n");
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A stale temporary from a crashed writer is overwritten.
  std::ofstream(path + ".tmp") << "garbage from a crash";
  ASSERT_TRUE(WriteFileAtomically(path, "two\n", 0600));
  EXPECT_EQ(Slurp(path), "two\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  // A directory that does not exist: a clear error, nothing made.
  std::string missing = (dir / "no-such-dir" / "f.conf").string();
  auto failed = WriteFileAtomically(missing, "x", 0600);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Code::kIOError);
  EXPECT_NE(failed.error().message().find("no-such-dir"), std::string::npos) << failed.error().message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera
