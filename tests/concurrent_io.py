#!/usr/bin/python3
"""Concurrent sub-block writes from several connections.

    concurrent_io.py SOCK EXPORT [--threads N] [--seconds S]

N threads, one connection each, write at the same time into the same 4 KiB
blocks: thread t owns bytes [t*S, (t+1)*S) of every block (S = 4096/N), and
keeps rewriting random runs inside its slices (unaligned, some with FUA).
Concurrent non-overlapping writes must all take effect: a server that does read-modify-write of whole blocks without a lock
loses some of them. At the end every slice must hold its thread's last write
(checked from a fresh connection, and again by `verify` after a restart).
"""
import argparse
import random
import sys
import threading
import time

import nbd

from nbd_helpers import connect, save_atomically

BLOCK = 4096
REGION_BLOCKS = 64  # 256 KiB of shared blocks


def run(args):
    n = args.threads
    slice_len = BLOCK // n
    base = args.offset
    model = bytearray(REGION_BLOCKS * BLOCK)
    errors = []
    counts = [0] * n
    stop = time.time() + args.seconds

    def worker(t):
        h = connect(args.sock, args.export, unaligned=True)
        rng = random.Random(args.seed * 100 + t)
        try:
            while time.time() < stop:
                b = rng.randrange(REGION_BLOCKS)
                # A random run inside this thread's slice of block b.
                start = rng.randrange(slice_len)
                length = rng.randrange(1, slice_len - start + 1)
                off = b * BLOCK + t * slice_len + start
                data = rng.randbytes(length)
                fua = rng.random() < 0.1
                h.pwrite(data, base + off, nbd.CMD_FLAG_FUA if fua else 0)
                model[off:off + length] = data  # only this thread touches these bytes
                counts[t] += 1
            h.flush()
        except nbd.Error as e:
            errors.append("thread %d: %s" % (t, e))
        h.shutdown()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        sys.exit("concurrent_io: " + "; ".join(errors))
    save_atomically(args.model, model)
    print("concurrent_io: %d threads wrote %s sub-block pieces into %d shared blocks"
          % (n, counts, REGION_BLOCKS))
    verify(args)


def verify(args):
    n = args.threads
    slice_len = BLOCK // n
    with open(args.model, "rb") as f:
        model = f.read()
    h = connect(args.sock, args.export, unaligned=True)
    got = h.pread(len(model), args.offset)
    h.shutdown()
    bad = []
    for b in range(REGION_BLOCKS):
        for t in range(n):
            lo = b * BLOCK + t * slice_len
            if got[lo:lo + slice_len] != model[lo:lo + slice_len]:
                bad.append((b, t))
    if bad:
        sys.exit("concurrent_io: %d of %d slices lost a write (block, thread): %s"
                 % (len(bad), REGION_BLOCKS * n, bad[:10]))
    print("concurrent_io: all %d slices hold their last write" % (REGION_BLOCKS * n))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run", "verify"])
    p.add_argument("sock")
    p.add_argument("export")
    p.add_argument("model")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--offset", type=int, default=1 << 20)
    args = p.parse_args()
    run(args) if args.mode == "run" else verify(args)


if __name__ == "__main__":
    main()
