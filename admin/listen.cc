// `tessera serve --listen` parsing and TLS checks (see listen.h).
//
// Design notes
//  1. A key is refused when other users may read it (mode o+r): nbdkit
//     would serve with it, but the secret would no longer be one. The group
//     may read it, so that a key shared with an operators' group still works.
//  2. The checks read the files only to find their shape; the key bytes are
//     never copied or printed.
#include "admin/listen.h"

#include <sys/stat.h>

#include <charconv>
#include <fstream>

#include "admin/args.h"

namespace tessera {
namespace {

bool IsHexKey(std::string_view text) {
  if (text.empty() || text.size() % 2 != 0) return false;
  for (char c : text) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

// Design note 1.
Status CheckPrivate(const std::string& path, const char* what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Err(Code::kNotFound, "{} {} does not exist", what, path);
  }
  if (!S_ISREG(st.st_mode)) return Err(Code::kInvalidArgument, "{} {} is not a file", what, path);
  if ((st.st_mode & S_IROTH) != 0) {
    return Err(Code::kPermissionDenied,
               "{} {} is readable by every user (mode {:04o}); make it private first: chmod 600 {}",
               what, path, st.st_mode & 07777, path);
  }
  return Ok();
}

}  // namespace

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Err(Code::kInvalidArgument,
               "--listen '{}': {}; expected HOST:PORT, e.g. 127.0.0.1:10809 or [::1]:10809", text,
               why);
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']') || host.size() < 3) return bad("unclosed '['");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address needs brackets");
  }
  if (host.empty()) return bad("no host (0.0.0.0 listens on every IPv4 address)");
  for (char c : host) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '-' || c == ':' || c == '%' || c == '_';
    if (!ok) return bad("the host has a character no address has");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("the port is not a number from 0 to 65535");
  }
  return ListenAddress{.host = std::string(host), .port = static_cast<uint16_t>(port)};
}

Result<std::string> CheckTlsPsk(const std::string& path) {
  TRY_STATUS(CheckPrivate(path, "TLS key file"));
  std::ifstream in(path);
  if (!in) return Err(Code::kPermissionDenied, "cannot read TLS key file {}", path);
  std::string first_user;
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    line_no++;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string::npos ||
        !IsHexKey(std::string_view(line).substr(colon + 1))) {
      return Err(Code::kInvalidArgument,
                 "TLS key file {} line {} is not USERNAME:HEXKEY (make one with: psktool -u "
                 "NAME -p {})",
                 path, line_no, path);
    }
    if (first_user.empty()) first_user = line.substr(0, colon);
  }
  if (first_user.empty()) {
    return Err(Code::kInvalidArgument, "TLS key file {} holds no key (make one with: psktool -u NAME -p {})",
               path, path);
  }
  return first_user;
}

Status CheckTlsCertificates(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Err(Code::kNotFound, "TLS certificate directory {} does not exist", dir);
  }
  for (const char* name : {"ca-cert.pem", "server-cert.pem"}) {
    std::string path = dir + "/" + name;
    if (::stat(path.c_str(), &st) != 0) {
      return Err(Code::kNotFound, "TLS certificate directory {} has no {}", dir, name);
    }
  }
  return CheckPrivate(dir + "/server-key.pem", "TLS server key");
}

std::string UriHost(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

std::string NbdsTcpUri(const std::string& host, uint16_t port, const std::string& export_name,
                       const TlsClientAuth& auth) {
  std::string user = auth.psk_user.empty() ? "" : PercentEncode(auth.psk_user, false) + "@";
  std::string query = !auth.psk_file.empty()
                          ? "?tls-psk-file=" + PercentEncode(auth.psk_file, true)
                          : "?tls-certificates=" + PercentEncode(auth.certificates_dir, true);
  return fmt::format("nbds://{}{}:{}/{}{}", user, UriHost(host), port,
                     PercentEncode(export_name, false), query);
}

}  // namespace tessera
