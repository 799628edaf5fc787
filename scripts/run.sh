#!/usr/bin/env bash
# Installs what is missing, builds what serving needs (the tessera CLI and
# the nbdkit plugin; scripts/test.sh builds everything), creates a pool in
# ./var/pool with one volume (first run only; later runs reuse the pool),
# and serves it in the foreground on ./var/pool/nbd.sock only: the socket
# and the pool directory are the owner's alone. TCP is opt-in with
# TESSERA_LISTEN, and then TLS: with a pre-shared key made on first use
# (DIR/tls.psk) unless TESSERA_TLS_CERTIFICATES names an X.509 directory.
# Ctrl-C stops the server cleanly (the pool is committed). The commands it
# prints name paths relative to the directory it was started from, so they
# work when copied into a shell there (tests/test-run-sh.sh runs them).
#
# Environment (all optional):
#   TESSERA_POOL         pool directory                  (default ./var/pool)
#   TESSERA_VOLUME       volume created on the first run (default vol0)
#   TESSERA_VOLUME_SIZE  its size                        (default 8G, less on a small disk)
#   TESSERA_VDEVS        number of file vdevs            (default 2)
#   TESSERA_VDEV_SIZE    size of each sparse vdev file   (default 8G, less on a small disk)
#   TESSERA_LISTEN       TCP HOST:PORT to serve, with TLS (default: none, Unix socket only)
#   TESSERA_TLS_PSK      its key file USERNAME:HEXKEY    (default DIR/tls.psk, made once)
#   TESSERA_TLS_CERTIFICATES  X.509 directory instead of a key (ca-cert.pem, server-*.pem)
#   TESSERA_BUILD_DIR    build directory                 (default ./build)
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
POOL=${TESSERA_POOL:-$ROOT/var/pool}
[[ $POOL == /* ]] || POOL=$ROOT/$POOL
VOLUME=${TESSERA_VOLUME:-vol0}
VDEVS=${TESSERA_VDEVS:-2}
LISTEN=${TESSERA_LISTEN:-}
SOCK=$POOL/nbd.sock
TESSERA=$BUILD_DIR/admin/tessera

scripts/install-deps.sh
TESSERA_BUILD_DIR=$BUILD_DIR scripts/build.sh --target tessera --target nbdkit-tessera-plugin

mib() { echo $(($1 >> 20))M; }
pool_bytes() {
  "$TESSERA" pool status --pool "$POOL" --json | sed -n 's/^  "size_bytes": \([0-9]*\),*$/\1/p'
}
# Half the pool, at most 8G: the log-structured data segment needs room to
# rewrite.
default_volume_size() {
  local bytes=$(($(pool_bytes) / 2 >> 20 << 20))
  [ "$bytes" -gt $((8 << 30)) ] && bytes=$((8 << 30))
  mib "$bytes"
}

if [ -f "$POOL/pool.conf" ]; then
  echo "run: reusing the pool in $POOL"
  if ! "$TESSERA" volume list --pool "$POOL" --json | grep -q '"name"'; then
    "$TESSERA" volume create "$VOLUME" --pool "$POOL" --size "${TESSERA_VOLUME_SIZE:-$(default_volume_size)}"
  fi
else
  mkdir -p "$(dirname "$POOL")"
  avail=$(df -B1 --output=avail "$(dirname "$POOL")" | tail -n 1)
  # The vdev files are sparse: they take disk space only as data is written.
  # Keep their full size within half the free space, so that filling the
  # pool cannot fill the disk.
  if [ -n "${TESSERA_VDEV_SIZE:-}" ]; then
    vdev_size=$TESSERA_VDEV_SIZE
  else
    per_vdev=$((avail / 2 / VDEVS))
    [ "$per_vdev" -gt $((8 << 30)) ] && per_vdev=$((8 << 30))
    if [ "$per_vdev" -lt $((256 << 20)) ]; then
      echo "run: only $((avail >> 20)) MiB free under $(dirname "$POOL"); Tessera wants at least" \
        "$((VDEVS * 512)) MiB (or set TESSERA_VDEV_SIZE)" >&2
      exit 1
    fi
    vdev_size=$(mib $((per_vdev >> 20 << 20)))
  fi
  "$TESSERA" pool create --pool "$POOL" --vdevs "$VDEVS" --size "$vdev_size"
  "$TESSERA" volume create "$VOLUME" --pool "$POOL" --size "${TESSERA_VOLUME_SIZE:-$(default_volume_size)}"
fi

"$TESSERA" volume list --pool "$POOL"
# Serve the named volume if it exists, else the first one.
if ! "$TESSERA" volume info "$VOLUME" --pool "$POOL" >/dev/null 2>&1; then
  VOLUME=$("$TESSERA" volume list --pool "$POOL" --json | sed -n 's/.*"name": "\(.*\)".*/\1/p' | head -n 1)
fi

# TCP serves with TLS (tessera serve --listen): an X.509 directory when
# given, else a pre-shared key, made here once (32 random bytes, hex) and
# kept private in the pool directory.
listen_args=()
if [ -n "$LISTEN" ]; then
  if [ -n "${TESSERA_TLS_CERTIFICATES:-}" ]; then
    listen_args=(--listen "$LISTEN" --tls-certificates "$TESSERA_TLS_CERTIFICATES")
  else
    PSK=${TESSERA_TLS_PSK:-$POOL/tls.psk}
    if [ ! -e "$PSK" ]; then
      (umask 077 && printf 'tessera:%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$PSK")
      echo "run: made the TLS pre-shared key $PSK (user tessera); clients need a copy"
    fi
    listen_args=(--listen "$LISTEN" --tls-psk "$PSK")
  fi
fi

URI="nbd+unix:///$VOLUME?socket=$SOCK"
# A path as the caller can type it: relative below the directory run.sh was
# started from, absolute elsewhere.
shown() { if [[ $1 == "$CALLER_DIR"/* ]]; then echo "${1#"$CALLER_DIR"/}"; else echo "$1"; fi; }
REL_TESSERA=$(shown "$TESSERA")
REL_POOL=$(shown "$POOL")
REL_FIO_JOB=$(shown "$ROOT/fio-jobs/randwrite-4k-qd32.fio")
REL_BENCH=$(shown "$ROOT/scripts/bench.sh")
cat <<EOT

================================================================================
Serving pool $POOL
  volume $VOLUME:   $URI$([ -n "$LISTEN" ] && printf '\n                  over TCP with TLS: the nbds:// URI printed below')

Check that it answers (another terminal):
  nbdinfo '$URI'

Attach it as a block device (another terminal, as root):
  $REL_TESSERA attach $VOLUME --pool $REL_POOL     # prints /dev/nbdX, or /dev/loopN (nbdfuse + loop)
  mkfs.ext4 DEVICE && mount DEVICE /mnt
  umount /mnt && $REL_TESSERA detach $VOLUME --pool $REL_POOL
or by hand, without the nbd kernel module:
  mkdir -p /tmp/$VOLUME && nbdfuse /tmp/$VOLUME '$URI' &
  timeout 10 sh -c 'until [ -e /tmp/$VOLUME/nbd ]; do sleep 0.1; done'   # nbdfuse mounts in the background
  losetup -f --show /tmp/$VOLUME/nbd            # prints /dev/loopN
  losetup -d /dev/loopN && fusermount3 -u /tmp/$VOLUME   # later, to take it apart

qemu:
  qemu-img info '$URI'
  qemu-img convert -p -n -O raw disk.img '$URI'
  qemu-system-x86_64 -m 2G -drive 'file=$URI,format=raw,if=virtio,cache=none'

fio:
  fio --name=randwrite --ioengine=nbd --uri='$URI' \\
      --rw=randwrite --bs=4k --iodepth=32 --size=1g --runtime=20 --time_based
  URI='$URI' SIZE=1g RUNTIME=20 IO_LIMIT=2g fio $REL_FIO_JOB
  $REL_BENCH --quick                      # tessera vs nbdkit file vs qemu-nbd

Volumes: $REL_TESSERA volume list|create|info|resize|rename|delete --pool $REL_POOL
Ctrl-C stops the server; $(shown "$ROOT/scripts/run.sh") again reuses the pool.
================================================================================

EOT

exec "$TESSERA" serve --pool "$POOL" --socket "$SOCK" "${listen_args[@]}"
