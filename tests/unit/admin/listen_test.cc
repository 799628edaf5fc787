#include "admin/listen.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace tessera {
namespace {

namespace fs = std::filesystem;

TEST(ParseListenAddress, ReadsNamesIpv4AndBracketedIpv6) {
  auto v4 = ParseListenAddress("127.0.0.1:10809");
  ASSERT_TRUE(v4) << v4.error().ToString();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 10809);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6) << v6.error().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  auto name = ParseListenAddress("storage-1.example:65535");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "storage-1.example");
  EXPECT_EQ(name->port, 65535);
}

TEST(ParseListenAddress, RejectsWhatIsNotHostColonPort) {
  for (const char* bad : {"", "10809", ":10809", "127.0.0.1:", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:80x", "::1:10809", "[::1:10809", "[]:1",
                          "a b:1", "host/x:1"}) {
    auto parsed = ParseListenAddress(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(parsed.error().message().find("HOST:PORT"), std::string::npos) << bad;
  }
}

class TlsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera-listen-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  fs::path dir_;
};

TEST_F(TlsFiles, PskFileGivesItsFirstUser) {
  std::string psk = Write("keys.psk", "alice:0123abcdEF\n\nbob:00ff\n", 0600);
  auto user = CheckTlsPsk(psk);
  ASSERT_TRUE(user) << user.error().ToString();
  EXPECT_EQ(*user, "alice");
  // The group may read it (listen.cc design note 1).
  ::chmod(psk.c_str(), 0640);
  EXPECT_TRUE(CheckTlsPsk(psk));
}

TEST_F(TlsFiles, PskFileThatIsMissingMalformedOrPublicIsRefused) {
  auto missing = CheckTlsPsk((dir_ / "none.psk").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);

  for (const char* text : {"", "\n", "alice\n", ":00ff\n", "alice:xyz\n", "alice:abc\n",
                           "alice:00ff\nbroken\n"}) {
    auto bad = CheckTlsPsk(Write("bad.psk", text, 0600));
    ASSERT_FALSE(bad) << text;
    EXPECT_EQ(bad.error().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(bad.error().message().find("psktool"), std::string::npos) << text;
  }

  std::string open_key = Write("open.psk", "alice:00ff\n", 0644);
  auto public_key = CheckTlsPsk(open_key);
  ASSERT_FALSE(public_key);
  EXPECT_EQ(public_key.error().code(), Code::kPermissionDenied);
  EXPECT_NE(public_key.error().message().find("chmod 600 " + open_key), std::string::npos);
}

TEST_F(TlsFiles, CertificateDirectoryNeedsThreeFilesAndAPrivateKey) {
  EXPECT_FALSE(CheckTlsCertificates((dir_ / "none").string()));
  Write("ca-cert.pem", "ca", 0644);
  Write("server-cert.pem", "cert", 0644);
  auto no_key = CheckTlsCertificates(dir_.string());
  ASSERT_FALSE(no_key);
  EXPECT_NE(no_key.error().message().find("server-key.pem"), std::string::npos);
  std::string key = Write("server-key.pem", "key", 0644);
  auto public_key = CheckTlsCertificates(dir_.string());
  ASSERT_FALSE(public_key);
  EXPECT_EQ(public_key.error().code(), Code::kPermissionDenied);
  ::chmod(key.c_str(), 0600);
  EXPECT_TRUE(CheckTlsCertificates(dir_.string()));
  fs::remove(dir_ / "ca-cert.pem");
  auto no_ca = CheckTlsCertificates(dir_.string());
  ASSERT_FALSE(no_ca);
  EXPECT_NE(no_ca.error().message().find("ca-cert.pem"), std::string::npos);
}

TEST(NbdsTcpUri, NamesTheKeyAndBracketsIpv6) {
  EXPECT_EQ(NbdsTcpUri("127.0.0.1", 10809, "v/1",
                       TlsClientAuth{.psk_user = "alice", .psk_file = "/k/a b.psk"}),
            "nbds://alice@127.0.0.1:10809/v%2F1?tls-psk-file=/k/a%20b.psk");
  EXPECT_EQ(NbdsTcpUri("::1", 1, "v", TlsClientAuth{.certificates_dir = "/etc/pki/t"}),
            "nbds://[::1]:1/v?tls-certificates=/etc/pki/t");
  EXPECT_EQ(UriHost("host"), "host");
}

}  // namespace
}  // namespace tessera
