#include "core/control/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <filesystem>
#include <thread>

#include "control_test_util.h"
#include "core/control/client.h"
#include "core/control/ops.h"
#include "core/control/pool_client.h"

namespace tessera {
namespace {

using std::chrono::milliseconds;
using testing::TempPool;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = pool_.Create();
    ASSERT_TRUE(storage) << storage.error().ToString();
    storage_ = std::move(*storage);
  }
  void StartServer(ControlServerOptions options = {}) {
    auto server = ControlServer::Start(*storage_, pool_.socket(), options);
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }
  std::unique_ptr<ControlClient> Connect() {
    auto client = ControlClient::Connect(pool_.socket(), milliseconds(2000));
    EXPECT_TRUE(client) << client.error().ToString();
    return client ? std::move(*client) : nullptr;
  }

  TempPool pool_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ServerTest, ServesRequestsOnASocketOnlyTheOwnerCanUse) {
  StartServer();
  struct stat st {};
  ASSERT_EQ(::stat(pool_.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto client = Connect();
  ASSERT_TRUE(client);
  auto created =
      client->Call(RequestJson<ops::VolumeCreate>({.name = "v", .size = 32 << 20}), milliseconds(10'000));
  ASSERT_TRUE(created) << created.error().ToString();
  // Several requests on one connection; errors keep their code and message.
  auto missing = client->Call(RequestJson<ops::VolumeInfoOp>({"ghost"}), milliseconds(10'000));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  auto bad = client->Call(Json{{"op", "nope"}}, milliseconds(10'000));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  auto listed = client->Call(RequestJson<ops::VolumeList>({}), milliseconds(10'000));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(ServerTest, ConcurrentClients) {
  StartServer();
  constexpr int kClients = 6;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto client = ControlClient::Connect(pool_.socket(), milliseconds(5000));
      if (!client) return (void)failures++;
      std::string name = fmt::format("vol{}", i);
      if (!(*client)->Call(RequestJson<ops::VolumeCreate>({.name = name, .size = 16 << 20}),
                           milliseconds(30'000)))
        failures++;
      if (!(*client)->Call(RequestJson<ops::VolumeInfoOp>({name}), milliseconds(30'000))) failures++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(storage_->ListVolumes()->size(), static_cast<size_t>(kClients));
}

TEST_F(ServerTest, OverlongLineGetsAnErrorThenTheConnectionCloses) {
  StartServer();
  auto fd = ConnectUnix(pool_.socket(), DeadlineAfter(milliseconds(2000)));
  ASSERT_TRUE(fd);
  std::string huge(kMaxRequestLine + 4096, 'x');
  (void)WriteAll(fd->get(), huge, DeadlineAfter(milliseconds(5000)));
  LineReader reader(fd->get());
  auto line = reader.ReadLine(kMaxResponseLine, DeadlineAfter(milliseconds(5000)));
  ASSERT_TRUE(line) << line.error().ToString();
  ASSERT_TRUE(line->has_value());
  auto response = ResultFromResponse(*ParseLine(**line));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code(), Code::kInvalidArgument);
  auto end = reader.ReadLine(kMaxResponseLine, DeadlineAfter(milliseconds(5000)));
  EXPECT_TRUE(!end || !end->has_value());  // closed (EOF or reset)
}

TEST_F(ServerTest, IdleConnectionsAreClosed) {
  StartServer({.idle_timeout = milliseconds(200)});
  auto client = Connect();
  ASSERT_TRUE(client);
  std::this_thread::sleep_for(milliseconds(600));
  auto result = client->Call(RequestJson<ops::VolumeList>({}), milliseconds(2000));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), Code::kIOError);
}

TEST_F(ServerTest, StopIsPromptAndRemovesTheSocket) {
  StartServer();
  auto idle = Connect();  // an idle client must not hold Stop up
  ASSERT_TRUE(idle);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_FALSE(std::filesystem::exists(pool_.socket()));
  auto after = ControlClient::Connect(pool_.socket(), milliseconds(200));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), Code::kNotFound);
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, ConnectOrOpenPrefersTheServerAndAgreesWithLocal) {
  ASSERT_TRUE(storage_->CreateVolume({.name = "a", .size = 16 << 20}));
  StartServer();
  auto connected = ConnectOrOpen(pool_.dir());
  ASSERT_TRUE(connected) << connected.error().ToString();
  PoolApi& remote = **connected;
  EXPECT_TRUE(remote.remote());
  auto remote_info = remote.GetVolumeInfo("a");
  ASSERT_TRUE(remote_info);
  auto remote_status = remote.GetPoolStatus();
  ASSERT_TRUE(remote_status);
  ASSERT_TRUE(remote.Commit());
  auto check = remote.Check();
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->clean()) << check->Summary();
  ASSERT_TRUE(remote.Close());

  // Without a server (its socket removed) the pool is opened directly and
  // answers the same.
  server_.reset();
  ASSERT_TRUE(storage_->Close());
  storage_.reset();
  ConnectOptions options;
  options.storage = TempPool::Options();
  auto opened = ConnectOrOpen(pool_.dir(), options);
  ASSERT_TRUE(opened) << opened.error().ToString();
  PoolApi& local = **opened;
  EXPECT_FALSE(local.remote());
  auto local_info = local.GetVolumeInfo("a");
  ASSERT_TRUE(local_info);
  EXPECT_EQ(local_info->id, remote_info->id);
  EXPECT_EQ(local_info->size, remote_info->size);
  EXPECT_EQ(local.GetPoolStatus()->uuid, remote_status->uuid);
  EXPECT_TRUE(local.Close());
}

TEST_F(ServerTest, LockedPoolWithoutServerIsBusyAndStaleSocketIsIgnored) {
  ConnectOptions options;
  options.busy_retry = milliseconds(200);
  options.storage = TempPool::Options();
  auto busy = ConnectOrOpen(pool_.dir(), options);  // storage_ holds the lock
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), Code::kBusy);
  EXPECT_NE(busy.error().message().find("in use by another process"), std::string::npos);

  // A stale control.sock left by a crashed server: fall back to opening.
  {
    auto listener = ListenUnix(pool_.socket());
    ASSERT_TRUE(listener);
  }
  ASSERT_TRUE(std::filesystem::exists(pool_.socket()));
  ASSERT_TRUE(storage_->Close());
  storage_.reset();
  auto local = ConnectOrOpen(pool_.dir(), options);
  ASSERT_TRUE(local) << local.error().ToString();
  EXPECT_FALSE((*local)->remote());
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// What a connection as `uid` reads first: the server's first line, or an
// error description (runs in a forked child, which exits with the result).
[[noreturn]] void ConnectAsAndExit(const std::string& socket_path, uid_t uid) {
  if (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(3);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) ::_exit(2);
  const char request[] = "{\"op\":\"volume.list\"}\n";
  (void)::send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL);  // the server may have closed already
  char buf[512] = {};
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::_exit(n > 0 && std::strstr(buf, "PermissionDenied") != nullptr ? 0 : 1);
}

// Contract 6: with the socket's mode opened up, a user who is neither root
// nor the pool's owner still gets nothing but PermissionDenied.
TEST_F(ServerTest, RefusesPeersThatAreNeitherRootNorThePoolsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  StartServer();
  std::filesystem::permissions(std::filesystem::path(pool_.socket()).parent_path(),
                               std::filesystem::perms(0755));
  std::filesystem::permissions(pool_.socket(), std::filesystem::perms(0666));
  constexpr uid_t kNobody = 65534;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ConnectAsAndExit(pool_.socket(), kNobody);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: served or no PermissionDenied line, 2: could not connect, 3: setuid failed";
  // The owner (root here) is still served.
  auto client = Connect();
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->Call(RequestJson<ops::VolumeList>({}), milliseconds(10'000)));
}

}  // namespace
}  // namespace tessera
