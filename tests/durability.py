#!/usr/bin/python3
"""Durability checks that end in kill -9 of the server.

    durability.py fua       SOCK EXPORT EXPECTED SERVER_PID [SEED]
    durability.py multiconn SOCK EXPORT EXPECTED SERVER_PID [SEED]
    durability.py verify    SOCK EXPORT EXPECTED

fua: FUA writes (unaligned too), a FUA trim and a FUA zero, no flush at all;
then kill -9 of SERVER_PID while the connection is still open.
multiconn: 4 connections; writes on connections 1..3 (interleaved, some
overlapping each other, unaligned too), one flush on connection 4 only (the
server promises can_multi_conn), then kill -9 while all 4 are open.
Both record in EXPECTED (JSON) what every byte range must hold afterwards.
verify: after a restart, every recorded range reads back as recorded.

A server that keeps acknowledged-but-unflushed data only in its own memory
fails verify; so does one whose flush covers only its own connection.
(kill -9 does not drop the kernel's page cache: power loss below the server
is the fault vdev's job, in the unit tests.)
"""
import base64
import json
import os
import random
import signal
import sys

import nbd

from nbd_helpers import connect, differs, save_atomically


class Expected:
    """A byte model of the export plus a mask of the bytes the test wrote."""

    def __init__(self, size):
        self.model = bytearray(size)
        self.mask = bytearray(size)
        self.count = 0

    def put(self, offset, data):
        self.model[offset:offset + len(data)] = data
        self.mask[offset:offset + len(data)] = b"\x01" * len(data)

    def ranges(self):
        """[(offset, bytes)] of maximal runs of written bytes."""
        out = []
        i, size = 0, len(self.mask)
        while i < size:
            i = self.mask.find(1, i)
            if i < 0:
                break
            j = self.mask.find(0, i)
            j = size if j < 0 else j
            out.append((i, bytes(self.model[i:j])))
            i = j
        return out

    def save(self, path):
        doc = [(o, base64.b64encode(d).decode()) for o, d in self.ranges()]
        self.count = sum(len(d) for _, d in self.ranges())
        save_atomically(path, json.dumps(doc))


def kill_server(pid):
    os.kill(pid, signal.SIGKILL)


def fua(sock, export, expected_path, pid, seed):
    rng = random.Random(seed)
    h = connect(sock, export, unaligned=True)
    if not h.can_fua():
        sys.exit("the server does not advertise FUA")
    size = h.get_size()
    exp = Expected(size)
    # Something to trim and zero later, written with FUA as well.
    for off, n in [(0, 65536), (1 << 20, 4096), (3 * 4096 + 7, 9000), (size - 4096 - 333, 4096),
                   (5 << 20, 128 * 1024), (6 << 20, 128 * 1024)]:
        data = rng.randbytes(n)
        h.pwrite(data, off, nbd.CMD_FLAG_FUA)
        exp.put(off, data)
    for i in range(200):  # many small FUA writes, overlapping
        off = rng.randrange(2 << 20, 4 << 20)
        data = rng.randbytes(rng.randrange(1, 3000))
        h.pwrite(data, off, nbd.CMD_FLAG_FUA)
        exp.put(off, data)
    h.trim(64 * 1024, 5 << 20, nbd.CMD_FLAG_FUA)
    exp.put(5 << 20, bytes(64 * 1024))
    h.zero(64 * 1024, 6 << 20, nbd.CMD_FLAG_FUA)
    exp.put(6 << 20, bytes(64 * 1024))
    exp.save(expected_path)
    kill_server(pid)
    print("fua: %d bytes written with FUA, server killed" % exp.count)


def multiconn(sock, export, expected_path, pid, seed):
    rng = random.Random(seed)
    hs = [connect(sock, export, unaligned=True) for _ in range(4)]
    for i, h in enumerate(hs):
        if not h.can_multi_conn():
            sys.exit("connection %d: the server does not advertise can_multi_conn" % (i + 1))
    exp = Expected(hs[0].get_size())
    # Each of connections 1..3 owns a 1 MiB area, and all share a hot 64 KiB.
    for round_no in range(60):
        for c in range(3):
            if rng.random() < 0.5:
                off = (8 << 20) + c * (1 << 20) + rng.randrange(0, (1 << 20) - 8192)
            else:
                off = (16 << 20) + rng.randrange(0, 65536 - 8192)
            data = rng.randbytes(rng.choice([4096, 8192, rng.randrange(1, 8192)]))
            hs[c].pwrite(data, off)
            exp.put(off, data)
    # Whole blocks too, so that a block-granular cache holds complete pages.
    for c in range(3):
        off = (24 << 20) + c * (256 << 10)
        data = rng.randbytes(256 << 10)
        hs[c].pwrite(data, off)
        exp.put(off, data)
    hs[3].flush()
    exp.save(expected_path)
    kill_server(pid)
    print("multiconn: %d bytes written on connections 1-3, flushed on 4, server killed"
          % exp.count)


def verify(sock, export, expected_path):
    h = connect(sock, export, unaligned=True)
    with open(expected_path) as f:
        doc = json.load(f)
    bad = 0
    total = 0
    for off, b64 in doc:
        want = base64.b64decode(b64)
        got = h.pread(len(want), off)
        total += len(want)
        problem = differs(got, want, "LOST", off)
        if problem:
            print(problem)
            bad += 1
    if bad:
        sys.exit("verify: %d of %d ranges lost after kill -9" % (bad, len(doc)))
    print("verify: all %d ranges (%d bytes) survived kill -9" % (len(doc), total))


def main():
    mode = sys.argv[1]
    if mode == "verify":
        verify(*sys.argv[2:5])
    else:
        seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
        {"fua": fua, "multiconn": multiconn}[mode](*sys.argv[2:5], int(sys.argv[5]), seed)


if __name__ == "__main__":
    main()
