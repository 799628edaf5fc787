#include "core/control/unix_socket.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/util/uuid.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class UnixSocketTest : public ::testing::Test {
 protected:
  UnixSocketTest() {
    dir_ = fs::temp_directory_path() / fmt::format("tessera-sock-{}", RandomU64());
    fs::create_directories(dir_);
  }
  ~UnixSocketTest() override { fs::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// A connected pair of non-blocking stream sockets.
std::pair<UniqueFd, UniqueFd> Pair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST_F(UnixSocketTest, ListensWithMode0600AndAcceptsConnections) {
  auto listener = ListenUnix(Path("s.sock"));
  ASSERT_TRUE(listener) << listener.error().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(Path("s.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto client = ConnectUnix(Path("s.sock"), DeadlineAfter(milliseconds(1000)));
  EXPECT_TRUE(client) << client.error().ToString();
}

TEST_F(UnixSocketTest, NobodyListeningIsNotFound) {
  auto missing = ConnectUnix(Path("none.sock"), DeadlineAfter(milliseconds(100)));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);

  // A stale socket file: bound once, its listener gone.
  {
    auto listener = ListenUnix(Path("stale.sock"));
    ASSERT_TRUE(listener);
  }
  ASSERT_TRUE(fs::exists(Path("stale.sock")));
  auto stale = ConnectUnix(Path("stale.sock"), DeadlineAfter(milliseconds(100)));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), Code::kNotFound);

  // ...which a new listener replaces.
  auto again = ListenUnix(Path("stale.sock"));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(ConnectUnix(Path("stale.sock"), DeadlineAfter(milliseconds(1000))));
}

TEST_F(UnixSocketTest, NeverReplacesAnOrdinaryFile) {
  std::ofstream(Path("file")) << "precious";
  auto listener = ListenUnix(Path("file"));
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error().code(), Code::kBusy);
  std::ifstream in(Path("file"));
  std::string text;
  in >> text;
  EXPECT_EQ(text, "precious");
}

TEST_F(UnixSocketTest, OverlongPathIsInvalidArgument) {
  std::string path = Path("") + std::string(200, 'x');
  auto listener = ListenUnix(path);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error().code(), Code::kInvalidArgument);
  auto client = ConnectUnix(path, DeadlineAfter(milliseconds(100)));
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code(), Code::kInvalidArgument);
}

TEST(LineReader, SplitsLinesAcrossWritesAndEndsCleanly) {
  auto [a, b] = Pair();
  auto deadline = DeadlineAfter(milliseconds(2000));
  ASSERT_TRUE(WriteAll(a.get(), "one\ntw", deadline));
  ASSERT_TRUE(WriteAll(a.get(), "o\n\nthree\n", deadline));
  a.Reset();
  LineReader reader(b.get());
  for (const char* expected : {"one", "two", "", "three"}) {
    auto line = reader.ReadLine(100, deadline);
    ASSERT_TRUE(line) << line.error().ToString();
    ASSERT_TRUE(line->has_value());
    EXPECT_EQ(**line, expected);
  }
  auto end = reader.ReadLine(100, deadline);
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->has_value());
}

TEST(LineReader, TornLineTooLongLineTimeoutAndStop) {
  {
    auto [a, b] = Pair();
    ASSERT_TRUE(WriteAll(a.get(), "partial", DeadlineAfter(milliseconds(1000))));
    a.Reset();
    LineReader reader(b.get());
    auto line = reader.ReadLine(100, DeadlineAfter(milliseconds(1000)));
    ASSERT_FALSE(line);
    EXPECT_EQ(line.error().code(), Code::kIOError);
  }
  {
    auto [a, b] = Pair();
    ASSERT_TRUE(WriteAll(a.get(), std::string(300, 'x'), DeadlineAfter(milliseconds(1000))));
    LineReader reader(b.get());
    auto line = reader.ReadLine(100, DeadlineAfter(milliseconds(1000)));
    ASSERT_FALSE(line);
    EXPECT_EQ(line.error().code(), Code::kInvalidArgument);
  }
  {
    auto [a, b] = Pair();
    LineReader reader(b.get());
    auto start = std::chrono::steady_clock::now();
    auto line = reader.ReadLine(100, DeadlineAfter(milliseconds(100)));
    ASSERT_FALSE(line);
    EXPECT_EQ(line.error().code(), Code::kIOError);
    EXPECT_NE(line.error().message().find("timed out"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  {
    auto [a, b] = Pair();
    UniqueFd stop(eventfd(1, EFD_CLOEXEC));
    LineReader reader(b.get());
    auto line = reader.ReadLine(100, DeadlineAfter(milliseconds(10'000)), stop.get());
    ASSERT_FALSE(line);
    EXPECT_EQ(line.error().code(), Code::kBusy);
  }
}

}  // namespace
}  // namespace tessera
