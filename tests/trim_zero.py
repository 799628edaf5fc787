#!/usr/bin/python3
"""Trim, zero and extents on a Tessera export.

    trim_zero.py write SOCK EXPORT   writes data, then trims and zeroes ranges
    trim_zero.py check SOCK EXPORT   reads everything back and checks extents

The same seed gives both phases the same data, so `check` can run after a
server restart. What `check` requires:
  - trimmed and zeroed ranges read as zeros, everything else as written;
  - base:allocation reports every aligned trimmed range, every range zeroed
    with may-trim, and the never-written tail as holes (STATE_HOLE);
  - no extent flagged STATE_ZERO holds a non-zero byte, and no written range
    is reported as a hole (a sparse copy would lose it).
"""
import sys

import nbd

from nbd_helpers import connect, first_difference, seeded_bytes

MiB = 1 << 20
WRITTEN = 8 * MiB  # [0, WRITTEN) is written first; the rest never is
# (offset, length, operation, flags); all end up reading as zeros.
OPS = [
    (1 * MiB, MiB, "trim", 0),                                # aligned trim: a hole
    (3 * MiB + 1000, 10000, "trim", 0),                       # unaligned trim
    (4 * MiB, MiB, "zero", 0),                                # may trim: a hole
    (5 * MiB + 123, 5000, "zero", "NO_HOLE"),                 # unaligned, no hole
    (6 * MiB, 64 * 1024, "zero", "FAST_ZERO"),
    (7 * MiB - 4096, 4096 * 3, "trim", "FUA"),                # straddles written data
    (WRITTEN - 512, 512, "zero", 0),                          # one sector at the edge
]
MUST_BE_HOLE = [(1 * MiB, MiB), (4 * MiB, MiB)]


def model():
    data = bytearray(seeded_bytes(42, WRITTEN))
    for off, length, _, _ in OPS:
        data[off:off + length] = bytes(length)
    return data


def flag(name):
    return {0: 0, "NO_HOLE": nbd.CMD_FLAG_NO_HOLE, "FAST_ZERO": nbd.CMD_FLAG_FAST_ZERO,
            "FUA": nbd.CMD_FLAG_FUA}[name]


def write(h):
    data = seeded_bytes(42, WRITTEN)
    for off in range(0, WRITTEN, MiB):
        h.pwrite(data[off:off + MiB], off)
    for off, length, op, f in OPS:
        if op == "trim":
            h.trim(length, off, flag(f))
        else:
            h.zero(length, off, flag(f))
    h.flush()


def extents(h, size):
    """[(offset, length, flags)] covering [0, size)."""
    result = []
    off = 0
    while off < size:
        got = []

        def cb(metacontext, offset, entries, err):
            if metacontext == nbd.CONTEXT_BASE_ALLOCATION:
                for i in range(0, len(entries), 2):
                    got.append((entries[i], entries[i + 1]))
            return 0

        h.block_status(min(size - off, 16 * MiB), off, cb)
        if not got:
            sys.exit("block_status at %d returned no extents" % off)
        for length, flags in got:
            length = min(length, size - off)
            result.append((off, length, flags))
            off += length
            if off >= size:
                break
    return result


def check(h):
    size = h.get_size()
    want = model()
    got = bytearray()
    for off in range(0, size, 4 * MiB):
        got += h.pread(min(4 * MiB, size - off), off)
    errors = []
    i = first_difference(got[:WRITTEN], want)
    if i is not None:
        op = [o for o in OPS if o[0] <= i < o[0] + o[1]]
        errors.append("data differs at offset %d (%s): got %r, want %r"
                      % (i, op[0][2] + " range" if op else "written range",
                         bytes(got[i:i + 8]), bytes(want[i:i + 8])))
    if any(got[WRITTEN:]):
        errors.append("the never-written tail is not all zeros")

    ext = extents(h, size)
    holes = [(o, o + n) for o, n, f in ext if f & nbd.STATE_HOLE]

    def covered(a, b):
        return all(any(s <= x < e for s, e in holes) for x in range(a, b, 4096))

    for a, n in MUST_BE_HOLE + [(WRITTEN, size - WRITTEN)]:
        if not covered(a, a + n):
            errors.append("[%d, +%d) should be reported as a hole; extents: %s"
                          % (a, n, ext[:40]))
    for o, n, f in ext:
        if f & nbd.STATE_ZERO and any(got[o:o + n]):
            errors.append("extent [%d, +%d) is flagged zero but holds data" % (o, n))
        if f & nbd.STATE_HOLE and o < WRITTEN:
            for i in range(o, min(o + n, WRITTEN), 512):
                if any(want[i:i + 512]):
                    errors.append("written data at %d is reported as a hole" % i)
                    break
    if errors:
        sys.exit("trim_zero: " + "\n  ".join(errors))
    print("trim_zero: data, zeros and %d extents (%d holes) are right"
          % (len(ext), len(holes)))


def main():
    mode, sock, export = sys.argv[1:4]
    h = connect(sock, export, unaligned=True, base_allocation=True)
    if not h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION):
        sys.exit("the server does not offer base:allocation")
    write(h) if mode == "write" else check(h)
    h.shutdown()


if __name__ == "__main__":
    main()
