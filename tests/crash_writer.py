#!/usr/bin/python3
"""Crash consistency: writes with periodic flushes until the server dies,
then, after a restart, checks what survived.

    crash_writer.py write  SOCK EXPORT STATE [--threads N] [--flush-every N]
    crash_writer.py verify SOCK EXPORT STATE

write: N connections, one thread each; thread t owns the 4 KiB blocks
b with b % N == t and writes whole blocks, each stamped with
(magic, block, seq) plus seq-derived filler, and flushes after every
--flush-every of its writes. It runs until the server goes away (the test
kills it with SIGKILL), then records in STATE every write it issued, which
were acknowledged, in what order relative to the flushes that completed.

verify: for each block, the write that must have survived is the last one
acknowledged before some completed flush was *issued* (a flush on any
connection covers them all: can_multi_conn). The block must hold that write
or a later write it issued (acknowledged or not); a block with no such write
holds its content from before this round (recorded by the previous verify,
zeros at first) or any write issued to it. Anything else -- garbage, a torn
block, an older write, a read error -- is a failure. verify then records
what each block holds, as the starting point of the next round.
"""
import argparse
import itertools
import json
import os
import random
import struct
import sys
import threading

import nbd

from nbd_helpers import connect, save_atomically, seeded_bytes

BLOCK = 4096
MAGIC = b"TSRACRSH"
HEADER = struct.Struct("<8sQQ")


def block_data(block, seq):
    head = HEADER.pack(MAGIC, block, seq)
    return head + seeded_bytes(seq, BLOCK - len(head))


def decode(block, data):
    """The seq a block holds: 0 for zeros, None for anything unrecognized."""
    if data == bytes(BLOCK):
        return 0
    magic, b, seq = HEADER.unpack_from(data)
    if magic != MAGIC or b != block or data != block_data(block, seq):
        return None
    return seq


def load_state(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"round": 0, "next_seq": 1, "holds": {}}


def save_state(path, state):
    save_atomically(path, json.dumps(state))


def write(args):
    state = load_state(args.state)
    handles = [connect(args.sock, args.export) for _ in range(args.threads)]
    if not handles[0].can_multi_conn():
        sys.exit("the server does not advertise can_multi_conn")
    nblocks = handles[0].get_size() // BLOCK
    seqs = itertools.count(state["next_seq"])
    ticks = itertools.count(1)  # next() is atomic under the GIL
    lock = threading.Lock()
    issued = {}  # block -> [seq, ...] in issue order
    acked = {}  # seq -> tick of its acknowledgement
    durable = [0]  # tick at which the latest completed flush was issued
    stats = {"writes": 0, "flushes": 0, "errors": []}

    def worker(t):
        h = handles[t]
        rng = random.Random(state["round"] * 1000 + t)
        owned = range(t, nblocks, args.threads)
        n = 0
        try:
            while True:
                b = rng.choice(owned)
                seq = next(seqs)
                with lock:
                    issued.setdefault(b, []).append(seq)
                h.pwrite(block_data(b, seq), b * BLOCK)
                acked[seq] = next(ticks)
                n += 1
                if n % args.flush_every == 0:
                    start = next(ticks)
                    h.flush()
                    with lock:
                        durable[0] = max(durable[0], start)
                        stats["flushes"] += 1
        except nbd.Error as e:
            stats["errors"].append(str(e))
        with lock:
            stats["writes"] += n

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    state["pending"] = {
        "issued": {str(b): [[s, acked.get(s)] for s in ss] for b, ss in issued.items()},
        "durable_tick": durable[0],
    }
    state["next_seq"] = next(seqs)
    save_state(args.state, state)
    print("crash_writer: round %d: %d writes, %d flushes on %d connections before the "
          "server went away (%s)" % (state["round"], stats["writes"], stats["flushes"],
                                     args.threads, stats["errors"][:1]))
    if stats["flushes"] < 10:
        sys.exit("crash_writer: only %d flushes completed: the run was too short to test"
                 % stats["flushes"])


def verify(args):
    state = load_state(args.state)
    pending = state.pop("pending", None)
    if pending is None:
        sys.exit("crash_writer: no write round recorded in %s" % args.state)
    h = connect(args.sock, args.export)
    nblocks = h.get_size() // BLOCK
    durable = pending["durable_tick"]
    holds = state["holds"]
    failures = []
    counts = {"required": 0, "newer": 0, "untouched": 0}
    chunk = 256
    for first in range(0, nblocks, chunk):
        try:
            data = h.pread(min(chunk, nblocks - first) * BLOCK, first * BLOCK)
        except nbd.Error as e:
            failures.append("read error at blocks %d..%d: %s" % (first, first + chunk - 1, e))
            continue
        for i in range(len(data) // BLOCK):
            b = first + i
            got = decode(b, data[i * BLOCK:(i + 1) * BLOCK])
            writes = pending["issued"].get(str(b), [])
            before = holds.get(str(b), 0)
            required = None
            for seq, tick in writes:
                if tick is not None and tick < durable:
                    required = seq
            if got is None:
                failures.append("block %d holds garbage (neither zeros nor any write)" % b)
            elif required is not None:
                allowed = [s for s, _ in writes if s >= required]
                if got not in allowed:
                    failures.append("block %d holds seq %s; the flushed write is seq %d "
                                    "(allowed: %s)" % (b, got, required, allowed[:6]))
                counts["required" if got == required else "newer"] += 1
            else:
                allowed = [before] + [s for s, _ in writes]
                if got not in allowed:
                    failures.append("block %d holds seq %s; expected its previous seq %s or "
                                    "one of this round's %s" % (b, got, before, allowed[1:6]))
                counts["untouched" if got == before else "newer"] += 1
            if got is not None:
                holds[str(b)] = got
    if failures:
        for f in failures[:20]:
            print("CRASH-CHECK: " + f)
        sys.exit("crash_writer: %d of %d blocks are wrong after kill -9 (round %d)"
                 % (len(failures), nblocks, state["round"]))
    state["round"] += 1
    save_state(args.state, state)
    print("crash_writer: round %d verified: %d blocks hold their flushed write, %d a later "
          "write, %d their earlier content" % (state["round"] - 1, counts["required"],
                                               counts["newer"], counts["untouched"]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["write", "verify"])
    p.add_argument("sock")
    p.add_argument("export")
    p.add_argument("state")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--flush-every", type=int, default=16)
    args = p.parse_args()
    write(args) if args.mode == "write" else verify(args)


if __name__ == "__main__":
    main()
