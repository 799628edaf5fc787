// What `tessera serve --listen` needs that runs no process: the address
// parser, the checks of TLS key material, and the URIs printed for clients.
// Unit-tested in tests/unit/admin/listen_test.cc.
//
// Contract
//  1. ParseListenAddress accepts HOST:PORT, where HOST is a name, an IPv4
//     address or a bracketed IPv6 address ([::1]:10809), and PORT is
//     0..65535 (0: the kernel picks one). Anything else is InvalidArgument
//     naming the text.
//  2. CheckTlsPsk and CheckTlsCertificates read, never write. A key that
//     other users can read is PermissionDenied with the chmod that fixes it;
//     a missing or malformed file is InvalidArgument or NotFound naming it.
//  3. The URIs percent-encode the export name and the query values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/status.h"

namespace tessera {

struct ListenAddress {
  std::string host;  // without brackets
  uint16_t port = 0;
};

Result<ListenAddress> ParseListenAddress(std::string_view text);

// A PSK file as nbdkit reads it: lines "USERNAME:HEXKEY". Returns the first
// username, which the printed URIs use.
Result<std::string> CheckTlsPsk(const std::string& path);

// An X.509 directory as nbdkit reads it: ca-cert.pem, server-cert.pem and
// server-key.pem.
Status CheckTlsCertificates(const std::string& dir);

// How a client reaches an export over TLS.
struct TlsClientAuth {
  std::string psk_user;  // with psk_file
  std::string psk_file;
  std::string certificates_dir;
};

// nbds://[USER@]HOST:PORT/NAME?tls-psk-file=F or ?tls-certificates=D.
std::string NbdsTcpUri(const std::string& host, uint16_t port, const std::string& export_name,
                       const TlsClientAuth& auth);

// A host as it appears in a URI: IPv6 addresses bracketed.
std::string UriHost(const std::string& host);

}  // namespace tessera
