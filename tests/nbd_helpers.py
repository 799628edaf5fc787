"""What the tests' Python code shares: connecting to a Tessera export, seeded
data, comparing what was read with what was expected, and saving a state
file so that a crash never leaves half of one.

Scripts in tests/ import it directly; tests/functions.sh puts tests/ on
PYTHONPATH, so inline snippets ("$PYTHON" - <<'PY', nbdsh -c) import it too.
"""
import os
import random
import sys

import nbd


def _handle(base_allocation):
    h = nbd.NBD()
    if base_allocation:
        h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    return h


def _relax(h, unaligned, unchecked):
    if unchecked:
        # libnbd checks nothing itself: the server sees every bad request.
        h.set_strict_mode(0)
    elif unaligned:
        # The export advertises a 512-byte minimum block size, so libnbd would
        # refuse unaligned requests itself; send them, to test the server's
        # head/body/tail handling.
        h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_ALIGN)
    return h


def connect(sock, export, unaligned=False, unchecked=False, base_allocation=False):
    """A handle on EXPORT of the server listening on the Unix socket SOCK.

    unaligned: requests need not be aligned to the export's block size.
    unchecked: libnbd refuses no request (out of range, too big, ...).
    base_allocation: block_status reports holes and zeros.
    """
    h = _handle(base_allocation)
    h.set_export_name(export)
    h.connect_unix(sock)
    return _relax(h, unaligned, unchecked)


def connect_uri(uri, unaligned=False, unchecked=False, base_allocation=False):
    """As connect, for an NBD URI (tests/functions.sh nbd_uri)."""
    h = _handle(base_allocation)
    h.connect_uri(uri)
    return _relax(h, unaligned, unchecked)


def seeded_bytes(seed, length):
    """LENGTH bytes that follow from SEED alone (any hashable seed)."""
    return random.Random(seed).randbytes(length)


def first_difference(got, want):
    """The first offset at which GOT and WANT differ, None if they are equal."""
    if got == want:
        return None
    for i in range(min(len(got), len(want))):
        if got[i] != want[i]:
            return i
    return min(len(got), len(want))


def differs(got, want, what, offset=0):
    """None if GOT equals WANT, else a sentence saying where they differ;
    OFFSET is where GOT was read from."""
    i = first_difference(got, want)
    if i is None:
        return None
    return "%s: [%d, +%d) differs first at offset %d: got %r, want %r" % (
        what, offset, len(want), offset + i, bytes(got[i:i + 16]), bytes(want[i:i + 16]))


def expect_equal(got, want, what, offset=0):
    """Exits with the differs() sentence unless GOT equals WANT."""
    problem = differs(got, want, what, offset)
    if problem:
        sys.exit(problem)


def save_atomically(path, data):
    """Writes DATA (bytes or str) to PATH through PATH.tmp, fsynced, so that a
    reader finds the old file or the new one whole, even after a crash."""
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with open(path + ".tmp", mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)
