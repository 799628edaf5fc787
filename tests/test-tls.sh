#!/usr/bin/env bash
# TLS on the network (admin/serve_commands.cc design note 4, plugin design
# note 7): `tessera serve --listen` refuses to start without TLS or an
# explicit --insecure, and refuses a key other users can read; over TLS with
# a PSK file and with X.509 certificates (client certificates checked),
# clients read and write; a wrong key, a missing key, a client certificate of
# another CA and a plaintext client are refused, and a plaintext client lists
# no exports; the Unix socket keeps serving local clients in plaintext;
# --insecure serves plaintext. Traffic goes to 127.0.0.1 only, on ports the
# kernel picks.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo psktool certtool
make_tmpdir

new_pool 1 512M
new_volume v 64M
SOCK=$POOL/nbd.sock

# serve_tls LOG ARGS...: tessera serve --daemon --listen 127.0.0.1:0 ARGS;
# sets PORT (the one bound) and SERVER_PID.
serve_tls() {
  local log=$1
  shift
  TESSERA_PLUGIN=$PLUGIN "$TESSERA_BIN" serve --pool "$POOL" --daemon --listen 127.0.0.1:0 "$@" \
    >"$T/$log" 2>&1 || fail "tessera serve $* failed: $(cat "$T/$log")"
  SERVER_PID=$(cat "$POOL/nbdkit.pid")
  on_exit "kill_started $SERVER_PID"
  PORT=$(sed -n 's/^  tcp  *127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/$log")
  [ -n "$PORT" ] && [ "$PORT" != 0 ] || fail "tessera serve printed no port: $(cat "$T/$log")"
}

stop_serve() {
  kill -TERM "$SERVER_PID"
  local i
  for ((i = 0; i < 600; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || return 0; sleep 0.1; done
  fail "the server did not stop within 60 s of SIGTERM"
}

# nbd_script URI PYTHON: runs PYTHON with h connected to URI (which may name
# key files: libnbd reads those only when allowed).
nbd_script() {
  "$NBDSH" -c "
h.set_uri_allow_local_file(True)
h.connect_uri('$1')
$2"
}

# write_read URI OFFSET BYTE: writes 64 KiB of BYTE at OFFSET, flushes and
# reads it back, through libnbd.
write_read() {
  nbd_script "$1" "
buf = bytes([$3]) * 65536
h.pwrite(buf, $2)
h.flush()
assert h.pread(65536, $2) == buf, 'read back differs'
"
}

read_is() {
  nbd_script "$1" "assert h.pread(65536, $2) == bytes([$3]) * 65536, 'wrong data'"
}

log "--listen without TLS or --insecure is refused, and nothing starts"
expect_fail "serve --listen without TLS" tessera serve --pool "$POOL" --daemon --listen 127.0.0.1:0
expect_match "the refusal" "--tls-psk.*--insecure" "$EXPECT_OUT"
psktool -u alice -p "$T/alice.psk" >/dev/null
cp "$T/alice.psk" "$T/open.psk"
chmod 644 "$T/open.psk"
expect_fail "serve with a key every user can read" \
  tessera serve --pool "$POOL" --daemon --listen 127.0.0.1:0 --tls-psk "$T/open.psk"
expect_match "the refusal" "readable by every user.*chmod 600" "$EXPECT_OUT"
expect_fail "serve with a missing key file" \
  tessera serve --pool "$POOL" --daemon --listen 127.0.0.1:0 --tls-psk "$T/none.psk"
[ ! -e "$POOL/nbdkit.pid" ] || fail "a refused serve left $POOL/nbdkit.pid"
[ ! -S "$SOCK" ] || fail "a refused serve left a socket"

log "TLS with a pre-shared key"
serve_tls psk.log --tls-psk "$T/alice.psk"
grep -q "TLS, PSK user alice" "$T/psk.log" || fail "serve does not say how TCP is secured: $(cat "$T/psk.log")"
uri="nbds://alice@127.0.0.1:$PORT/v?tls-psk-file=$T/alice.psk"
grep -qF "$uri" "$T/psk.log" || fail "serve does not print the export's nbds:// URI: $(cat "$T/psk.log")"
write_read "$uri" $((1 << 20)) 0xa1 || fail "read/write over TLS-PSK failed"
nbdinfo --list "nbds://alice@127.0.0.1:$PORT/?tls-psk-file=$T/alice.psk" >"$T/list.tls" ||
  fail "nbdinfo --list over TLS failed"
grep -q 'export="v"' "$T/list.tls" || fail "v is not listed over TLS: $(cat "$T/list.tls")"

psktool -u alice -p "$T/wrong.psk" >/dev/null
expect_fail "a wrong key" nbdinfo --size "nbds://alice@127.0.0.1:$PORT/v?tls-psk-file=$T/wrong.psk"
psktool -u mallory -p "$T/mallory.psk" >/dev/null
expect_fail "an unknown user" nbdinfo --size "nbds://mallory@127.0.0.1:$PORT/v?tls-psk-file=$T/mallory.psk"
expect_fail "TLS without a key" nbdinfo --size "nbds://127.0.0.1:$PORT/v"
expect_fail "a plaintext client" nbdinfo --size "nbd://127.0.0.1:$PORT/v"
log "  plaintext: $(tail -n 1 <<<"$EXPECT_OUT")"
nbdinfo --list "nbd://127.0.0.1:$PORT/" >"$T/list.plain" 2>&1 || true
if grep -q 'export="v"' "$T/list.plain"; then fail "a plaintext client lists v: $(cat "$T/list.plain")"; fi
read_is "$(nbd_uri v)" $((1 << 20)) 0xa1 || fail "the Unix socket no longer serves local clients"
stop_serve

log "TLS with X.509 certificates, client certificates checked"
# make_ca DIR: a CA key and certificate in DIR.
make_ca() {
  mkdir -p "$1"
  certtool --generate-privkey --key-type=ecdsa --outfile "$1/ca-key.pem" 2>/dev/null
  printf 'cn = tessera test CA\nca\ncert_signing_key\nexpiration_days = 2\n' >"$1/ca.info"
  certtool --generate-self-signed --load-privkey "$1/ca-key.pem" --template "$1/ca.info" \
    --outfile "$1/ca-cert.pem" 2>/dev/null
}
# make_cert CA-DIR OUT-DIR ROLE TEMPLATE: ROLE-key.pem and ROLE-cert.pem
# signed by the CA, and the CA's certificate, in OUT-DIR.
make_cert() {
  mkdir -p "$2"
  certtool --generate-privkey --key-type=ecdsa --outfile "$2/$3-key.pem" 2>/dev/null
  printf '%b' "$4" >"$2/$3.info"
  certtool --generate-certificate --load-ca-certificate "$1/ca-cert.pem" \
    --load-ca-privkey "$1/ca-key.pem" --load-privkey "$2/$3-key.pem" \
    --template "$2/$3.info" --outfile "$2/$3-cert.pem" 2>/dev/null
  cp "$1/ca-cert.pem" "$2/"
}
server_info='cn = 127.0.0.1\nip_address = 127.0.0.1\ndns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n'
client_info='cn = client\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n'
make_ca "$T/ca"
make_cert "$T/ca" "$T/server" server "$server_info"
make_cert "$T/ca" "$T/client" client "$client_info"
make_ca "$T/other-ca"
make_cert "$T/other-ca" "$T/stranger" client "$client_info"
mkdir -p "$T/anonymous" && cp "$T/ca/ca-cert.pem" "$T/anonymous/"

serve_tls x509.log --tls-certificates "$T/server" --tls-verify-peer
grep -q "TLS, X.509, client certificates checked" "$T/x509.log" || fail "serve does not say how TCP is secured: $(cat "$T/x509.log")"
read_is "nbds://127.0.0.1:$PORT/v?tls-certificates=$T/client" $((1 << 20)) 0xa1 ||
  fail "reading over TLS-X.509 failed"
write_read "nbds://127.0.0.1:$PORT/v?tls-certificates=$T/client" $((2 << 20)) 0xb2 ||
  fail "writing over TLS-X.509 failed"
expect_fail "a client certificate of another CA" \
  nbdinfo --size "nbds://127.0.0.1:$PORT/v?tls-certificates=$T/stranger"
expect_fail "a client without a certificate" \
  nbdinfo --size "nbds://127.0.0.1:$PORT/v?tls-certificates=$T/anonymous"
expect_fail "a plaintext client" nbdinfo --size "nbd://127.0.0.1:$PORT/v"
stop_serve

log "--insecure serves plaintext, as asked"
serve_tls insecure.log --insecure
grep -q "plaintext (--insecure)" "$T/insecure.log" || fail "serve does not say TCP is plaintext: $(cat "$T/insecure.log")"
read_is "nbd://127.0.0.1:$PORT/v" $((2 << 20)) 0xb2 || fail "reading over plaintext TCP with --insecure failed"
stop_serve

pool_check
log "passed"
