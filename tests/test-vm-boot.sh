#!/usr/bin/env bash
# A VM boots from a volume: qemu-system-x86_64 (TCG, no KVM needed) with its
# root disk on a volume over NBD, through qemu's own NBD client
# (-drive file=nbd+unix:///VOL?socket=...). The kernel is the one in /boot
# (Debian's linux-image-amd64), the initramfs is built here from
# busybox-static and the kernel's virtio and ext4 modules, and the root
# filesystem is made on the volume itself (mkfs.ext4 -d through nbdfuse, no
# mount). The guest's init (written below) follows tessera.step on the
# kernel command line:
#  1. origin, booted from vol0: writes /marker (the token from the command
#     line), syncs, freezes its root filesystem (as a guest agent would) and
#     says so on the console; the test takes vol0@running while the guest
#     runs and answers on the console; the guest thaws, writes /after,
#     remounts its root read-only and powers off.
#  2. Read back through the exports (nbdfuse + debugfs, no mount): vol0
#     holds /marker and /after with the token; vol0@running holds /marker
#     but not /after.
#  3. check, booted from vol0@running itself (a read-only export: qemu's
#     snapshot=on keeps the guest's writes in a temporary overlay) and then
#     from vm1, a clone of vol0@running: the guest reports what it finds
#     (/marker with the first token, no /after) and writes /check-marker
#     with a token of its own, which the clone then holds and neither vol0
#     nor vol0@running does.
# Each check reads what the guest wrote, so a guest that does not boot, or
# boots and writes nothing, fails the test. Every filesystem read back
# (vol0, vol0@running, vm1) fscks clean.
source "$(dirname "$0")/functions.sh"
require_build
require_fuse
require_cmd qemu-system-x86_64 busybox modprobe cpio gzip mkfs.ext4 debugfs e2fsck mkfifo ldd
# One guest's bound. A guest runs for 10 to 20 s (TCG on two busy cores);
# three run, within the test's own bound (scripts/run-one-test.sh).
GUEST_SECONDS=90

# The newest kernel in /boot whose modules are installed.
KERNEL=""
for k in $(ls -v /boot/vmlinuz-* 2>/dev/null | tac); do
  KVER=${k#/boot/vmlinuz-}
  if [ -r "$k" ] && [ -f "/lib/modules/$KVER/modules.dep" ]; then
    KERNEL=$k
    break
  fi
done
[ -n "$KERNEL" ] || fail "no kernel in /boot with its modules (linux-image-amd64; run scripts/install-test-deps.sh)"
BUSYBOX=$(command -v busybox)
grep -q 'not a dynamic executable' <<<"$(ldd "$BUSYBOX" 2>&1 || true)" ||
  fail "$BUSYBOX is not statically linked (install busybox-static; run scripts/install-test-deps.sh)"
make_tmpdir
log "kernel $KERNEL"

# --- The initramfs: busybox, the modules, an /init that mounts /dev/vda ---
mkdir -p "$T/initrd/bin" "$T/initrd/lib" "$T/initrd/dev" "$T/initrd/proc" "$T/initrd/sys" "$T/initrd/newroot"
cp "$BUSYBOX" "$T/initrd/bin/busybox"
# The modules and what they depend on, in load order (modprobe reads
# modules.dep and modules.softdep of that kernel; nothing is loaded here).
modprobe -a -S "$KVER" --show-depends virtio_pci virtio_blk ext4 >"$T/modules.dep.out" 2>&1 ||
  fail "modprobe --show-depends failed: $(cat "$T/modules.dep.out")"
awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$T/modules.dep.out" >"$T/modules"
for m in virtio_blk ext4; do
  grep -Eq "^(insmod .*/$m\.ko|builtin $m) *\$" "$T/modules.dep.out" ||
    fail "the kernel has no $m: $(cat "$T/modules.dep.out")"
done
while read -r m; do
  cp "$m" "$T/initrd/lib/"
  basename "$m" >>"$T/initrd/lib/order"
done <"$T/modules"
cat >"$T/initrd/init" <<'EOF'
#!/bin/busybox sh
# Loads the modules (those the CPU cannot use, such as crc32c-intel without
# SSE 4.2, fail harmlessly), mounts /dev/vda and hands over to its /sbin/init.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/order); do insmod "/lib/$m" 2>/dev/null || echo "initramfs: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
if ! mount -t ext4 /dev/vda /newroot; then
  echo "initramfs: cannot mount /dev/vda"
  poweroff -f
fi
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
chmod +x "$T/initrd/init"
(cd "$T/initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$T/initrd.img" ||
  fail "building the initramfs failed"

# --- The root filesystem: busybox and the guest's init ---
mkdir -p "$T/rootfs/bin" "$T/rootfs/sbin" "$T/rootfs/dev" "$T/rootfs/proc" "$T/rootfs/sys"
cp "$BUSYBOX" "$T/rootfs/bin/busybox"
cat >"$T/rootfs/sbin/init" <<'EOF'
#!/bin/busybox sh
# The guest's init (tests/test-vm-boot.sh): tessera.step and tessera.token
# come from the kernel command line; every step ends with the root
# filesystem read-only and a power-off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
arg() { sed -n "s/.*tessera\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
say() { echo "guest: $*"; }
token=$(arg token)
step=$(arg step)
say "booted, step $step"
case $step in
  origin)
    echo "$token" >/marker
    sync
    if ! fsfreeze --freeze /; then
      say "cannot freeze"
      poweroff -f
    fi
    say "frozen"
    read -r reply
    fsfreeze --unfreeze / && say "thawed: $reply"
    echo "$token" >/after
    ;;
  check)
    if [ -e /marker ]; then say "marker $(cat /marker)"; else say "marker absent"; fi
    if [ -e /after ]; then say "after present"; else say "after absent"; fi
    echo "$token" >/check-marker
    say "wrote $(cat /check-marker)"
    ;;
esac
sync
mount -o remount,ro / && say "root read-only"
say "powering off"
poweroff -f
EOF
chmod +x "$T/rootfs/sbin/init"

# --- Guests ---

# boot_guest NAME EXPORT STEP TOKEN [DRIVE-OPTIONS]: starts qemu in the
# background with its root disk on EXPORT; the console goes to
# $T/NAME-console.log and reads from the FIFO $T/NAME.in, which the test
# holds open on fd 8. Sets QEMU_PID. A snapshot=on overlay goes in $T.
boot_guest() {
  local name=$1 vol=$2 step=$3 token=$4 drive_options=${5:-}
  mkfifo "$T/$name.in"
  GUEST_START=$SECONDS
  TMPDIR=$T timeout -k 5 "$GUEST_SECONDS" qemu-system-x86_64 -nodefaults -display none -no-reboot \
    -accel tcg -m 256 -serial stdio -kernel "$KERNEL" -initrd "$T/initrd.img" \
    -append "console=ttyS0 panic=-1 quiet tessera.step=$step tessera.token=$token" \
    -drive "file=$(nbd_uri "$vol"),format=raw,if=virtio$drive_options" \
    <"$T/$name.in" >"$T/$name-console.log" 2>&1 &
  QEMU_PID=$!
  on_exit "kill_started $QEMU_PID"
  exec 8>"$T/$name.in"
}

# console_wait NAME TEXT: waits until the guest's console shows TEXT; fails
# if qemu exits first.
console_wait() {
  local log=$T/$1-console.log
  while ! grep -qF -- "$2" "$log"; do
    kill -0 "$QEMU_PID" 2>/dev/null || {
      grep -qF -- "$2" "$log" && return 0
      fail "$1: qemu exited before the console showed '$2'"
    }
    sleep 0.2
  done
}

# console_send TEXT: a line to the guest's console.
console_send() {
  (
    trap '' PIPE
    echo "$1" >&8
  ) 2>/dev/null || fail "cannot write to the guest's console"
}

# guest_exit NAME: waits for qemu to exit after the guest powered off.
guest_exit() {
  local rc=0
  wait "$QEMU_PID" || rc=$?
  exec 8>&-
  case $rc in 124 | 137) fail "$1: the guest still ran after ${GUEST_SECONDS}s" ;; esac
  [ "$rc" -eq 0 ] || fail "$1: qemu exited with status $rc"
  grep -qF "guest: powering off" "$T/$1-console.log" || fail "$1: the guest did not reach its power-off"
  log "$1: the guest ran for $((SECONDS - GUEST_START))s"
}

# check_guest NAME TOKEN: the console of a guest of step check shows the
# snapshot's files as they were (/marker, no /after) and its own write.
check_guest() {
  grep -qF "guest: marker $TOKEN1" "$T/$1-console.log" || fail "$1: the guest did not find /marker"
  grep -qF "guest: after absent" "$T/$1-console.log" ||
    fail "$1: the guest found /after, written after the snapshot"
  grep -qF "guest: wrote $2" "$T/$1-console.log" || fail "$1: the guest could not write its marker"
}

# read_back EXPORT PATH...: each PATH of the ext4 filesystem on EXPORT, read
# through nbdfuse with debugfs (no mount), into GOT[PATH]: its contents, or
# "absent". With fsck as first argument, the filesystem must also fsck clean.
declare -A GOT
read_back() {
  local fsck=0 name path
  if [ "$1" = fsck ]; then
    fsck=1
    shift
  fi
  name=$1
  shift
  attach_fuse "$name"
  [ "$fsck" -eq 0 ] || fsck_clean ext4 "$T/fuse/nbd"
  for path in "$@"; do
    GOT[$path]=$(debugfs -R "cat $path" "$T/fuse/nbd" 2>"$T/debugfs.err") ||
      fail "debugfs on $name failed: $(cat "$T/debugfs.err")"
    ! grep -q 'File not found' "$T/debugfs.err" || GOT[$path]=absent
  done
  detach_fuse
}

# expect_file WHERE PATH CONTENTS: GOT[PATH] (from read_back) is CONTENTS.
expect_file() {
  [ "${GOT[$2]}" = "$3" ] || fail "$1: $2 holds '${GOT[$2]}', expected '$3'"
}

# --- The run ---
TOKEN1=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN2=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN3=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
new_pool 1 512M
new_volume vol0 64M
start_server "$POOL"

log "mkfs.ext4 -d on vol0 (nbdfuse)"
attach_fuse vol0
mkfs.ext4 -q -F -L tessera-root -d "$T/rootfs" "$T/fuse/nbd" >"$T/mkfs.out" 2>&1 ||
  fail "mkfs.ext4 failed: $(cat "$T/mkfs.out")"
detach_fuse

log "boot from vol0; snapshot while the guest runs"
boot_guest origin vol0 origin "$TOKEN1"
console_wait origin "guest: frozen"
log "origin: the guest is up after $((SECONDS - GUEST_START))s"
out=$(tessera snapshot create vol0@running --pool "$POOL" 2>&1) || fail "snapshot create failed: $out"
console_send "snapshot taken"
guest_exit origin
grep -qF "guest: root read-only" "$T/origin-console.log" || fail "origin: the guest could not remount its root read-only"

read_back fsck vol0 /marker /after
expect_file vol0 /marker "$TOKEN1"
expect_file vol0 /after "$TOKEN1"
read_back fsck vol0@running /marker /after
expect_file vol0@running /marker "$TOKEN1"
expect_file vol0@running /after absent

log "boot from vol0@running (read-only; qemu's snapshot=on overlay)"
boot_guest snapshot vol0@running check "$TOKEN2" ",snapshot=on"
guest_exit snapshot
check_guest snapshot "$TOKEN2"
read_back vol0@running /check-marker
expect_file vol0@running /check-marker absent

log "boot from vm1, a clone of vol0@running"
out=$(tessera clone vol0@running vm1 --pool "$POOL" 2>&1) || fail "tessera clone failed: $out"
boot_guest clone vm1 check "$TOKEN3"
guest_exit clone
check_guest clone "$TOKEN3"
read_back fsck vm1 /marker /after /check-marker
expect_file vm1 /marker "$TOKEN1"
expect_file vm1 /after absent
expect_file vm1 /check-marker "$TOKEN3"
read_back vol0 /check-marker
expect_file vol0 /check-marker absent

stop_server
pool_check
