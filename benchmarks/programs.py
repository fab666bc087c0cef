"""GenMC's synthetic benchmarks, re-expressed as rmapwalk programs.

Each function builds the :class:`~rmapwalk.engine.Program` of one benchmark of GenMC's test suite
(``tests/correct/synthetic/<name>/`` in https://github.com/MPI-SWS/genmc), for the parameter
``N`` that GenMC passes as ``-DN=...``.  The thread bodies follow the C code access by access:
an atomic load is a :func:`load`, an atomic store a :func:`store`, ``atomic_fetch_add`` a
:func:`fetch_add` and ``atomic_compare_exchange_strong`` a :func:`cmpxchg` (a failed CAS is only a
read, as in GenMC).  C11 orderings are kept as the closest engine mode (acquire loads, release
stores, relaxed RMWs); GenMC's counts under SC do not depend on them.

GenMC's ``main`` only initialises thread arguments (non-atomic locations with a single writer,
which contribute no choices) and spawns the threads, so it is not modelled: the arguments become
Python arguments of the thread functions.

:data:`KNOWN_COUNTS` holds GenMC's published number of complete executions under SC with
coherence order tracked (``expected.sc.mo.in``, line *k* belonging to line *k* of
``args.sc.mo.in``); blocked executions are counted apart and none of these programs blocks.
"""

from __future__ import annotations

from collections.abc import Callable

from rmapwalk.engine import ACQUIRE, RELAXED, RELEASE, Program, cmpxchg, fetch_add, load, store

__all__ = [
    "KNOWN_COUNTS",
    "LARGER_COUNTS",
    "PROGRAMS",
    "ainc",
    "binc",
    "casrot",
    "casw",
    "indexer",
    "lastzero",
    "n_writers",
    "readers",
    "wcas",
]


def readers(n: int) -> Program:
    """``readers``: one thread writes ``x = 42``; ``n`` threads each read ``x`` once.

    Every reader independently reads the initial 0 or the 42: ``2**n`` executions.
    """
    p = Program(f"readers({n})")
    x = p.var("x")

    def writer() -> None:
        store(x, 42, RELEASE)

    def reader() -> None:
        load(x, ACQUIRE)

    p.thread(writer, name="writer")
    for i in range(1, n + 1):
        p.thread(reader, name=f"reader{i}")
    return p


def lastzero(n: int) -> Program:
    """``lastzero``: find the last zero of ``array[0..n]`` (all zero at the start).

    Thread 0 scans ``i = n, n-1, ...`` while ``array[i] != 0`` (``array[0]`` is never written, so
    the scan stops there at the latest).  Thread ``j`` (``1 <= j <= n``) does
    ``array[j] = array[j-1] + 1`` (an acquire load, then a release store).
    """
    p = Program(f"lastzero({n})")
    array = p.array("array", n + 1)

    def scanner() -> None:
        i = n
        while load(array[i], ACQUIRE) != 0:
            i -= 1

    def writer(j: int) -> None:
        store(array[j], load(array[j - 1], ACQUIRE) + 1, RELEASE)

    p.thread(scanner, name="scanner")
    for j in range(1, n + 1):
        p.thread(writer, j, name=f"writer{j}")
    return p


def casrot(n: int) -> Program:
    """``casrot``: thread ``i`` (``1 <= i <= n``) does ``CAS(x, i-1, i)``; ``x`` starts at 0.

    Successful CASes form a chain 0 -> 1 -> 2 ...; the others fail and only read.
    """
    p = Program(f"casrot({n})")
    x = p.var("x")

    def thread_n(new: int) -> None:
        cmpxchg(x, new - 1, new, RELAXED)

    for i in range(1, n + 1):
        p.thread(thread_n, i, name=f"t{i}")
    return p


def wcas(n: int) -> Program:
    """``wcas``: one thread stores ``x = 2``; ``n`` threads each do ``CAS(x, 2, 3)``.

    At most one CAS succeeds (reading the 2); the rest fail reading 0, 2 or 3.
    """
    p = Program(f"wcas({n})")
    x = p.var("x")

    def thread_0() -> None:
        store(x, 2, RELEASE)

    def thread_n() -> None:
        cmpxchg(x, 2, 3, RELAXED)

    p.thread(thread_0, name="t0")
    for i in range(1, n + 1):
        p.thread(thread_n, name=f"t{i}")
    return p


def casw(n: int) -> Program:
    """``casw``: thread ``i`` (``0 <= i < n``) does ``CAS(x, 0, 1)`` then stores ``x = i + 3``.

    (GenMC runs it with ``-disable-ipr -disable-sr``: no in-place revisiting, no symmetry
    reduction, so its count is the plain number of rf+co classes.)
    """
    p = Program(f"casw({n})")
    x = p.var("x")

    def thread_n(val: int) -> None:
        cmpxchg(x, 0, 1, RELAXED)
        store(x, val + 3, RELEASE)

    for i in range(n):
        p.thread(thread_n, i, name=f"t{i}")
    return p


def ainc(n: int) -> Program:
    """``ainc``: ``n`` threads each do one relaxed ``fetch_add(x, 1)``: ``n!`` executions."""
    p = Program(f"ainc({n})")
    x = p.var("x")

    def thread_n() -> None:
        fetch_add(x, 1, RELAXED)

    for i in range(n):
        p.thread(thread_n, name=f"t{i}")
    return p


def binc(n: int) -> Program:
    """``binc``: ``n`` threads each do ``fetch_add(x, 1)`` then ``fetch_add(y, 1)`` (relaxed):
    ``n! * n!`` executions."""
    p = Program(f"binc({n})")
    x = p.var("x")
    y = p.var("y")

    def thread_n() -> None:
        fetch_add(x, 1, RELAXED)
        fetch_add(y, 1, RELAXED)

    for i in range(n):
        p.thread(thread_n, name=f"t{i}")
    return p


def n_writers(n: int) -> Program:
    """``N-writers`` (``N_writers_a_reader.c``): one thread reads ``x`` once; ``n + 1`` threads
    ``i = 0..n`` each store ``x = i``.

    ``(n+1)!`` coherence orders times ``n + 2`` writes to read from: ``(n+2)!`` executions.
    (GenMC runs it with ``-disable-ipr -disable-sr``.)
    """
    p = Program(f"N-writers({n})")
    x = p.var("x")

    def thread_r() -> None:
        load(x, ACQUIRE)

    def thread_w(i: int) -> None:
        store(x, i, RELEASE)

    p.thread(thread_r, name="reader")
    for i in range(n + 1):
        p.thread(thread_w, i, name=f"w{i}")
    return p


INDEXER_SIZE = 128
INDEXER_MAX = 4


def indexer(n: int) -> Program:
    """``indexer``: ``n`` threads insert into a 128-slot open-addressing hash table.

    Thread ``tid`` inserts ``w = 11*i + tid`` for ``i = 0..3`` at ``h = 7*w % 128``, probing
    ``h+1, h+2, ...`` while ``CAS(table[h], 0, w)`` fails.  Only equal ``w`` of different threads
    collide (``11*i + tid`` with ``tid >= 11``), so for ``n = 12`` there are three contended slots:
    ``2**3`` executions.
    """
    p = Program(f"indexer({n})")
    # Only the slots a thread can reach are worth reporting in final states.
    table = p.array("table", INDEXER_SIZE, observe=False)

    def thread_n(tid: int) -> None:
        for i in range(INDEXER_MAX):
            w = i * 11 + tid
            h = (w * 7) % INDEXER_SIZE
            while cmpxchg(table[h], 0, w, RELAXED) != 0:
                h = (h + 1) % INDEXER_SIZE

    for tid in range(n):
        p.thread(thread_n, tid, name=f"t{tid}")
    return p


PROGRAMS: dict[str, Callable[[int], Program]] = {
    "readers": readers,
    "lastzero": lastzero,
    "casrot": casrot,
    "wcas": wcas,
    "casw": casw,
    "ainc": ainc,
    "binc": binc,
    "N-writers": n_writers,
    "indexer": indexer,
}
#: the name benchmarks/run.py uses for N-writers (an alias; not iterated by the tests)
PROGRAMS["nwriters"] = n_writers

#: GenMC's published SC (coherence-tracking) complete-execution counts, (benchmark, N) -> count.
KNOWN_COUNTS: dict[tuple[str, int], int] = {
    ("readers", 2): 4,
    ("readers", 8): 256,
    ("lastzero", 5): 64,
    ("lastzero", 10): 3328,
    ("lastzero", 15): 147456,
    ("casrot", 2): 2,
    ("casrot", 3): 5,
    ("casrot", 4): 14,
    ("wcas", 2): 5,
    ("wcas", 3): 13,
    ("wcas", 4): 33,
    ("casw", 2): 6,
    ("casw", 3): 66,
    ("ainc", 4): 24,
    ("binc", 3): 36,
    ("N-writers", 4): 720,
    ("indexer", 12): 8,
}

#: The other counts of the same ``expected.sc.mo.in`` files (larger parameters; slow here).
LARGER_COUNTS: dict[tuple[str, int], int] = {
    ("readers", 13): 8192,
    ("casrot", 5): 43,
    ("casrot", 6): 144,
    ("casrot", 7): 523,
    ("casrot", 8): 2048,
    ("casrot", 9): 8597,
    ("wcas", 5): 81,
    ("wcas", 6): 193,
    ("wcas", 7): 449,
    ("wcas", 8): 1025,
    ("wcas", 9): 2305,
    ("casw", 4): 1200,
    ("casw", 5): 32880,
    ("ainc", 2): 2,
    ("ainc", 3): 6,
    ("ainc", 5): 120,
    ("ainc", 6): 720,
    ("ainc", 7): 5040,
    ("binc", 2): 4,
    ("binc", 4): 576,
    ("indexer", 15): 4096,
}


def litmus(path: str, unroll: int = 2) -> Program:
    """A litmus test as an engine program (loops unrolled ``unroll`` times, as herd does): a
    factory that worker processes can call by name (``ProgramSource``)."""
    from rmapwalk.litmus.engine_bridge import to_program
    from rmapwalk.litmus.runner import ModelSpec, load_test

    return to_program(load_test(path, ModelSpec(engine="lkmm")), unroll=unroll)
