#!/usr/bin/python3
"""Hostile NBD clients for tests/test-hostile-clients.sh, and the well-behaved
client that checks the server stays live meanwhile.

    hostile_clients.py live SOCK EXPORT MODEL TAG     write a block, read it back
    hostile_clients.py verify SOCK EXPORT MODEL       every block live wrote
    hostile_clients.py list-storm SOCK SECONDS        NBD_OPT_LIST sessions
    hostile_clients.py cache SOCK EXPORT              NBD_CMD_CACHE over > 4 GiB
    hostile_clients.py idle SOCK EXPORT N READY RELEASE
    hostile_clients.py stall SOCK EXPORT NREQ drain|drop|close READY RELEASE [MIB]
    hostile_clients.py churn SOCK EXPORT ROUNDS
    hostile_clients.py options SOCK EXPORT

Design notes
 1. The raw-socket clients speak the fixed newstyle handshake themselves
    (class Raw), so that they can stop, lie or misbehave at any byte; every
    socket read has a timeout (RECV_TIMEOUT), so a server that hangs fails
    the step instead of hanging the test.
 2. A server may answer abuse with an error reply or by closing the
    connection; both are accepted. A hang, a crash, or a session that cannot
    go on after an error the protocol says is recoverable (unknown option,
    STARTTLS without TLS, an unknown export) fails.
 3. live writes a 4 KiB block whose bytes derive from TAG at the next free
    64 KiB slot (the MODEL file lists slot and tag per line); verify reads
    every slot back.
 4. What nbdkit (1.32) itself does, which the checks allow for: it answers
    one NBD_OPT_LIST per session (later ones get NBD_REP_ERR_INVALID); it
    ends a session that sends too many options without NBD_OPT_GO; it closes
    on option data over 64 MiB; each connection in transmission has 16
    worker threads (nbdkit --threads), each of which keeps a buffer as large
    as the largest read or write it took, up to 64 MiB whatever the export
    advertises, until the connection ends. A client that drops its
    connection while several replies are queued makes nbdkit abort (stall
    ... close), unless each connection has one thread.
"""
import os
import socket
import struct
import sys
import time

import nbd

from nbd_helpers import connect, seeded_bytes

RECV_TIMEOUT = 10.0
NBDMAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS, OPT_INFO, OPT_GO = 1, 2, 3, 5, 6, 7
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
REP_ERR = 1 << 31
REP_NAMES = {1: "ACK", 2: "SERVER", 3: "INFO", REP_ERR + 1: "ERR_UNSUP", REP_ERR + 2: "ERR_POLICY",
             REP_ERR + 3: "ERR_INVALID", REP_ERR + 4: "ERR_PLATFORM", REP_ERR + 5: "ERR_TLS_REQD",
             REP_ERR + 6: "ERR_UNKNOWN", REP_ERR + 7: "ERR_SHUTDOWN", REP_ERR + 8: "ERR_BLOCK_SIZE_REQD",
             REP_ERR + 9: "ERR_TOO_BIG"}
CMD_READ = 0
SLOT = 64 << 10
BLOCK = 4096


class Closed(Exception):
    """The server closed the connection."""


class Hang(Exception):
    """The server did not answer within RECV_TIMEOUT."""


class Raw:
    """One raw Unix-socket NBD connection (design note 1)."""

    def __init__(self, sock_path, timeout=RECV_TIMEOUT):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(sock_path)

    def recv_exact(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self.s.recv_into(view[got:])
            except socket.timeout:
                raise Hang("no answer within %.0f s (%d of %d bytes)" % (RECV_TIMEOUT, got, n))
            except (ConnectionResetError, BrokenPipeError):
                raise Closed("connection reset")
            if not k:
                raise Closed("closed after %d of %d bytes" % (got, n))
            got += k
        return bytes(buf)

    def send(self, data):
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise Closed("send: connection closed")

    def greeting(self):
        g = self.recv_exact(18)
        magic, opt_magic, flags = struct.unpack(">8sQH", g)
        if magic != NBDMAGIC or opt_magic != IHAVEOPT:
            raise AssertionError("not a newstyle greeting: %r" % g)
        return flags

    def client_flags(self, flags=3):  # FIXED_NEWSTYLE | NO_ZEROES
        self.send(struct.pack(">I", flags))

    def handshake(self):
        self.greeting()
        self.client_flags()

    def option(self, opt, data=b""):
        self.send(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)

    def reply(self):
        """One option reply: (type, data)."""
        magic, opt, rtype, length = struct.unpack(">QIII", self.recv_exact(20))
        if magic != REPLY_MAGIC:
            raise AssertionError("bad option reply magic %#x" % magic)
        return rtype, self.recv_exact(length) if length else b""

    def replies_until_final(self):
        """Replies up to the final one (ACK or an error): list of (type, data)."""
        out = []
        while True:
            rtype, data = self.reply()
            out.append((rtype, data))
            if rtype == REP_ACK or rtype & REP_ERR:
                return out

    def go(self, name, opt=OPT_GO):
        n = name.encode() if isinstance(name, str) else name
        self.option(opt, struct.pack(">I", len(n)) + n + struct.pack(">H", 0))
        return self.replies_until_final()

    def request(self, cmd, handle, offset, length, flags=0):
        self.send(struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, handle, offset, length))

    def read_simple(self, length):
        magic, err, handle = struct.unpack(">IIQ", self.recv_exact(16))
        if magic != SIMPLE_REPLY_MAGIC:
            raise AssertionError("bad simple reply magic %#x" % magic)
        return err, self.recv_exact(length) if err == 0 else b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def final_name(replies):
    return REP_NAMES.get(replies[-1][0], hex(replies[-1][0]))


def pattern(tag, slot):
    return seeded_bytes("%s/%d" % (tag, slot), BLOCK)


# --- live, verify (design note 3) ---

def cmd_live(sock, export, model, tag):
    t0 = time.monotonic()
    slot = 0
    if os.path.exists(model):
        with open(model) as f:
            slot = sum(1 for _ in f)
    h = connect(sock, export)
    data = pattern(tag, slot)
    h.pwrite(data, slot * SLOT)
    h.flush()
    if h.pread(BLOCK, slot * SLOT) != data:
        sys.exit("live: slot %d read back wrong data" % slot)
    h.shutdown()
    with open(model, "a") as f:
        f.write("%d %s\n" % (slot, tag))
    print("live client: wrote and read back slot %d (%s) in %.2f s" % (slot, tag, time.monotonic() - t0))


def cmd_verify(sock, export, model):
    h = connect(sock, export)
    n = 0
    with open(model) as f:
        for line in f:
            slot, tag = line.split(None, 1)
            slot, tag = int(slot), tag.strip()
            if h.pread(BLOCK, slot * SLOT) != pattern(tag, slot):
                sys.exit("verify: slot %d (%s) reads back wrong" % (slot, tag))
            n += 1
    h.shutdown()
    print("verify: all %d blocks the live client wrote read back" % n)


# --- 1. list_exports storm ---

def cmd_list_storm(sock, seconds):
    """Sessions of NBD_OPT_LIST, each ended by NBD_OPT_ABORT or a drop."""
    deadline = time.monotonic() + float(seconds)
    sessions = lists = 0
    while time.monotonic() < deadline:
        r = Raw(sock)
        r.handshake()
        r.option(OPT_LIST)
        replies = r.replies_until_final()
        if replies[-1][0] != REP_ACK:
            sys.exit("list-storm: NBD_OPT_LIST ended with %s" % final_name(replies))
        lists += 1
        # nbdkit answers one NBD_OPT_LIST per session; a second gets
        # NBD_REP_ERR_INVALID (option abuse covers it).
        r.option(OPT_LIST)
        if r.replies_until_final()[-1][0] == REP_ACK:
            lists += 1
        if sessions % 2 == 0:
            r.option(OPT_ABORT)
        r.close()
        sessions += 1
    print("list-storm: %d sessions, %d NBD_OPT_LIST answered" % (sessions, lists))


# --- 2. NBD_CMD_CACHE ---

def cmd_cache(sock, export):
    h = connect(sock, export)
    size = h.get_size()
    maxb = h.get_block_size(nbd.SIZE_MAXIMUM)
    # Some written data for the cache requests to reach: 1 MiB every 256 MiB.
    written = b"\xc3" * (1 << 20)
    for off in range(0, size, 256 << 20):
        h.pwrite(written, off)
    h.flush()
    total = 0
    t0 = time.monotonic()
    # The whole volume in maximum-size requests, 16 in flight.
    step = maxb
    off = 0
    while off < size:
        cookies = []
        for _ in range(16):
            if off >= size:
                break
            n = min(step, size - off)
            cookies.append(h.aio_cache(n, off))
            off += n
            total += n
        for c in cookies:
            while not h.aio_command_completed(c):
                h.poll(-1)
    print("cache: %d requests of %d MiB covered the %d GiB volume in %.1f s" %
          ((size + step - 1) // step, step >> 20, size >> 30, time.monotonic() - t0))
    # Requests far above the advertised maximum (libnbd's own checks off):
    # served or refused, but answered.
    h.set_strict_mode(0)
    for n in ((1 << 30), (1 << 32) - 4096):
        t1 = time.monotonic()
        try:
            h.cache(n, 0)
            total += n
            print("cache: a %d MiB request was served in %.1f s" % (n >> 20, time.monotonic() - t1))
        except nbd.Error as e:
            print("cache: a %d MiB request was refused: %s" % (n >> 20, e))
    h.pwrite(b"\x5a" * 4096, size - 4096)
    if h.pread(4096, size - 4096) != b"\x5a" * 4096 or h.pread(1 << 20, size // 2) != written:
        sys.exit("cache: the connection reads back wrong data after the cache requests")
    h.shutdown()
    print("cache: %.2f GiB cached in total" % (total / (1 << 30)))
    if total <= 4 << 30:
        sys.exit("cache: only %d bytes were cached, not more than 4 GiB" % total)


# --- 3. idle connections ---

def wait_release(release, limit=120):
    deadline = time.monotonic() + limit
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.1)


def cmd_idle(sock, export, n, ready, release):
    handles = []
    for i in range(int(n)):
        handles.append(connect(sock, export))
    # A few more that stop in the middle of the handshake (after the greeting).
    raws = []
    for i in range(20):
        r = Raw(sock)
        r.greeting()
        raws.append(r)
    open(ready, "w").close()
    print("idle: %d connections in transmission, %d in the handshake, held" % (len(handles), len(raws)))
    wait_release(release)
    for r in raws:
        r.close()
    bad = 0
    for h in handles:
        try:
            if len(h.pread(512, 0)) != 512:
                bad += 1
            h.shutdown()
        except nbd.Error:
            bad += 1
    if bad:
        sys.exit("idle: %d of %d idle connections failed a read after the hold" % (bad, len(handles)))
    print("idle: every idle connection still read after the hold, then closed")


# --- 4. a client that stops reading replies ---

def cmd_stall(sock, export, nreq, mode, ready, release, mib="32"):
    r = Raw(sock)
    r.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    r.handshake()
    replies = r.go(export)
    if replies[-1][0] != REP_ACK:
        sys.exit("stall: NBD_OPT_GO %s ended with %s" % (export, final_name(replies)))
    size = None
    for rtype, data in replies:
        if rtype == REP_INFO and struct.unpack(">H", data[:2])[0] == 0:
            size = struct.unpack(">Q", data[2:10])[0]
    count = int(mib) << 20  # nbdkit 1.32 takes up to 64 MiB (design note 4)
    sent = 0
    r.s.settimeout(5)
    try:
        for i in range(int(nreq)):
            off = (i * count) % (size - count)
            r.request(CMD_READ, i, off, count)
            sent += 1
    except (Closed, socket.timeout) as e:
        print("stall: the server stopped taking requests after %d (%s)" % (sent, e))
    print("stall: %d reads of %d MiB sent (%d MiB of replies), none read" % (sent, count >> 20, (sent * count) >> 20))
    open(ready, "w").close()
    wait_release(release)
    r.s.settimeout(RECV_TIMEOUT)
    if mode == "drain":
        # Read every reply, then disconnect properly.
        r.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        for i in range(sent):
            err, _ = r.read_simple(count)
            if err:
                sys.exit("stall: read %d failed with error %d" % (i, err))
        r.request(2, 0, 0, 0)  # NBD_CMD_DISC
        print("stall: all %d replies read after the hold, then NBD_CMD_DISC" % sent)
    else:
        # Drop the connection with replies still queued: after reading one
        # (drop: an abortive close), or without reading any (close).
        if mode == "drop":
            err, _ = r.read_simple(count)
            print("stall: the first reply arrived (error %d) once read" % err)
            r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        print("stall: connection dropped (%s) with replies queued" % mode)
    r.close()


# --- 5. connections opened and dropped ---

def cmd_churn(sock, export, rounds):
    kinds = ["connect", "greeting", "half-flags", "flags", "half-option", "list-unread",
             "go-unread", "go", "go-read-unread", "go-disc", "libnbd"]
    counts = dict.fromkeys(kinds, 0)
    for i in range(int(rounds)):
        kind = kinds[i % len(kinds)]
        if kind == "libnbd":
            h = connect(sock, export)
            h.pread(512, 0)
            h.shutdown()
            counts[kind] += 1
            continue
        r = Raw(sock)
        try:
            if kind != "connect":
                r.greeting()
            if kind == "half-flags":
                r.send(b"\x00\x00")
            elif kind != "connect" and kind != "greeting":
                r.client_flags()
            if kind == "half-option":
                r.send(struct.pack(">QI", IHAVEOPT, OPT_GO) + b"\x00\x00")
            elif kind == "list-unread":
                r.option(OPT_LIST)
            elif kind == "go-unread":
                n = export.encode()
                r.option(OPT_GO, struct.pack(">I", len(n)) + n + b"\x00\x00")
            elif kind.startswith("go"):
                if r.go(export)[-1][0] != REP_ACK:
                    sys.exit("churn: NBD_OPT_GO %s refused" % export)
                if kind == "go-read-unread":
                    r.request(CMD_READ, 1, 0, 1 << 20)
                elif kind == "go-disc":
                    r.request(2, 2, 0, 0)  # NBD_CMD_DISC
            if i % 3 == 0:  # an abortive close (RST) now and then
                r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            r.close()
        counts[kind] += 1
    print("churn: %d connections dropped: %s" % (int(rounds), ", ".join("%s %d" % kv for kv in counts.items())))


# --- 6. option-phase abuse ---

def cmd_options(sock, export):
    failures = []
    notes = []

    def session_goes_on(r, what):
        """After a recoverable error the same session selects EXPORT and reads."""
        replies = r.go(export)
        if replies[-1][0] != REP_ACK:
            failures.append("%s: NBD_OPT_GO afterwards ended with %s" % (what, final_name(replies)))
            return
        r.request(CMD_READ, 7, 0, 4096)
        err, data = r.read_simple(4096)
        if err or len(data) != 4096:
            failures.append("%s: a read afterwards failed (error %d)" % (what, err))

    def case(what, fn):
        r = Raw(sock)
        try:
            fn(r)
        except Hang as e:
            failures.append("%s: the server hung: %s" % (what, e))
        except Closed as e:
            notes.append("%s: the server closed the connection (%s)" % (what, e))
        except AssertionError as e:
            failures.append("%s: %s" % (what, e))
        finally:
            r.close()

    def long_name(length, opt):
        def fn(r):
            r.handshake()
            replies = r.go(b"x" * length, opt=opt)
            name = "OPT_GO" if opt == OPT_GO else "OPT_INFO"
            if replies[-1][0] == REP_ACK:
                failures.append("a %d-byte export name was accepted by %s" % (length, name))
                return
            notes.append("a %d-byte export name (%s): %s" % (length, name, final_name(replies)))
            session_goes_on(r, "after a %d-byte export name" % length)
        return fn

    for length in (4096, 4097, 65536, 1 << 20, 60 << 20):
        case("a %d-byte export name" % length, long_name(length, OPT_GO))
    case("a 4096-byte name in NBD_OPT_INFO", long_name(4096, OPT_INFO))

    def claimed_length(r):
        # The option header claims 4 GiB - 1 of data that never comes.
        r.handshake()
        r.send(struct.pack(">QII", IHAVEOPT, OPT_GO, 0xFFFFFFFF) + b"\x00" * 64)
        rtype, _ = r.reply()
        notes.append("an option claiming 4 GiB of data: %s" % REP_NAMES.get(rtype, hex(rtype)))
    case("an option claiming 4 GiB of data", claimed_length)

    def old_export_name(r):
        r.handshake()
        r.option(OPT_EXPORT_NAME, b"y" * 4096)
        try:
            r.recv_exact(1)
            failures.append("NBD_OPT_EXPORT_NAME with an unknown 4096-byte name was served")
        except Closed:
            notes.append("NBD_OPT_EXPORT_NAME with an unknown 4096-byte name: closed, as the protocol says")
    case("NBD_OPT_EXPORT_NAME 4096 bytes", old_export_name)

    def many_options(r):
        r.handshake()
        answered = 0
        lists = {}
        try:
            for i in range(400):
                if i % 2:
                    # Only the first NBD_OPT_LIST of a session is answered
                    # with the list (nbdkit); later ones get an error reply.
                    r.option(OPT_LIST)
                    replies = r.replies_until_final()
                    name = final_name(replies)
                    lists[name] = lists.get(name, 0) + 1
                    if i == 1 and replies[-1][0] != REP_ACK:
                        failures.append("the first NBD_OPT_LIST ended with %s" % name)
                        return
                else:
                    n = export.encode()
                    r.option(OPT_INFO, struct.pack(">I", len(n)) + n + struct.pack(">HH", 1, 3))
                    replies = r.replies_until_final()
                    if replies[-1][0] != REP_ACK:
                        failures.append("NBD_OPT_INFO %d of a long session ended with %s" % (i, final_name(replies)))
                        return
                answered += 1
        except Closed:
            notes.append("400 NBD_OPT_INFO/LIST in one session: the server answered %d, then closed" % answered)
            return
        notes.append("400 NBD_OPT_INFO/LIST in one session: all answered; NBD_OPT_LIST: %s" %
                     ", ".join("%d %s" % (v, k) for k, v in sorted(lists.items())))
        session_goes_on(r, "after 400 options")
    case("hundreds of options in one session", many_options)

    def unknown_options(r):
        r.handshake()
        for opt, data in ((0x1234, b""), (0x7FFFFFFF, b"z" * 100), (0xFFFFFFFF, b""), (0, b"\x00" * 8),
                          (11, b""), (0x1000, b"q" * 4096)):
            r.option(opt, data)
            replies = r.replies_until_final()
            if replies[-1][0] != REP_ERR + 1:
                notes.append("unknown option %#x: %s" % (opt, final_name(replies)))
        session_goes_on(r, "after unknown options")
        notes.append("unknown options: refused, the session went on")
    case("unknown options", unknown_options)

    def starttls(r):
        r.handshake()
        r.option(OPT_LIST)
        r.replies_until_final()
        r.go(export, opt=OPT_INFO)
        r.option(OPT_STARTTLS)
        replies = r.replies_until_final()
        if replies[-1][0] == REP_ACK:
            failures.append("NBD_OPT_STARTTLS was accepted by a server without TLS")
            return
        notes.append("NBD_OPT_STARTTLS after LIST and INFO, no TLS: %s" % final_name(replies))
        r.option(OPT_STARTTLS, b"junk")
        replies = r.replies_until_final()
        notes.append("NBD_OPT_STARTTLS with data: %s" % final_name(replies))
        session_goes_on(r, "after NBD_OPT_STARTTLS")
    case("NBD_OPT_STARTTLS without TLS", starttls)

    def options_before_flags(r):
        r.greeting()
        r.option(OPT_LIST)  # read as client flags 'IHAV', then garbage
        r.option(OPT_STARTTLS)
        try:
            r.replies_until_final()
            r.replies_until_final()
            notes.append("options before the client flags: answered (flags taken from the option bytes)")
        except AssertionError as e:
            notes.append("options before the client flags: garbage answer (%s)" % e)
    case("options before the client flags", options_before_flags)

    def bad_magic(r):
        r.handshake()
        r.send(struct.pack(">QII", 0x0123456789ABCDEF, OPT_LIST, 0))
        r.reply()
        notes.append("an option with a bad magic: answered")
    case("an option with a bad magic", bad_magic)

    def short_go(r):
        r.handshake()
        # The name length says 1000 bytes, the option carries 10.
        r.option(OPT_GO, struct.pack(">I", 1000) + b"vol" + b"\x00" * 3)
        replies = r.replies_until_final()
        notes.append("NBD_OPT_GO with a name longer than the option: %s" % final_name(replies))
        if replies[-1][0] == REP_ACK:
            failures.append("a malformed NBD_OPT_GO was accepted")
            return
        session_goes_on(r, "after a malformed NBD_OPT_GO")
    case("a malformed NBD_OPT_GO", short_go)

    def info_requests(r):
        r.handshake()
        n = export.encode()
        r.option(OPT_GO, struct.pack(">I", len(n)) + n + struct.pack(">H", 2000) +
                 struct.pack(">H", 3) * 2000)
        replies = r.replies_until_final()
        notes.append("NBD_OPT_GO asking 2000 info items: %s" % final_name(replies))
        if replies[-1][0] == REP_ACK:
            r.request(CMD_READ, 9, 0, 4096)
            err, _ = r.read_simple(4096)
            if err:
                failures.append("a read after NBD_OPT_GO with 2000 info items failed")
        else:
            session_goes_on(r, "after NBD_OPT_GO with 2000 info items")
    case("NBD_OPT_GO with 2000 info requests", info_requests)

    for n in notes:
        print("options: " + n)
    if failures:
        sys.exit("options: " + "; ".join(failures))
    print("options: no hang, every recoverable error left the session usable")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fns = {"live": cmd_live, "verify": cmd_verify, "list-storm": cmd_list_storm, "cache": cmd_cache,
           "idle": cmd_idle, "stall": cmd_stall, "churn": cmd_churn, "options": cmd_options}
    if cmd not in fns:
        sys.exit("unknown command %r" % cmd)
    fns[cmd](*args)


if __name__ == "__main__":
    main()
