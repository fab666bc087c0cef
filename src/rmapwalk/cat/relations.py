"""Relation algebra on bit matrices.

Events are numbered ``0..n-1``.  A set of events is an ``int`` bitmask (bit ``i`` = event ``i``).  A relation is one
``int`` of ``n*n`` bits: bit ``i*n + j`` is the pair ``(i, j)``, so row ``i`` (the successors of ``i``) is
``(m >> i*n) & row_mask``.  Union, intersection and difference are single big-int operations; composition,
transposition and transitive closure use ``n`` multiplications each (a column shifted down to the row starts,
multiplied by a row, lays that row at every selected row without carries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache


class Rel:
    """A relation value of the interpreter: one bit matrix (see the module docstring)."""

    __slots__ = ("m",)

    def __init__(self, m: int) -> None:
        self.m = m

    def __eq__(self, other: object) -> bool:
        return type(other) is Rel and other.m == self.m

    def __hash__(self) -> int:
        return hash(("rel", self.m))

    def __repr__(self) -> str:
        return f"Rel({self.m:#x})"


def bits(s: int) -> Iterator[int]:
    """The members of a bitmask set, ascending."""
    while s:
        low = s & -s
        yield low.bit_length() - 1
        s ^= low


class Shape:
    """Constants for relations over ``n`` events (shared by all executions of that size)."""

    __slots__ = (
        "n",
        "row",
        "starts",
        "diag",
        "full",
        "cols",
        "gather",
        "gshift",
        "fold_bits",
        "fold_rows",
        "cjs",
        "_rows_cache",
        "_diag_cache",
    )

    def __init__(self, n: int) -> None:
        self.n = n
        self.row = (1 << n) - 1
        self.starts = sum(1 << (i * n) for i in range(n))  # bit i*n for every i
        self.diag = sum(1 << (i * n + i) for i in range(n))
        self.full = (1 << (n * n)) - 1
        self.cols = [self.starts << j for j in range(n)]  # column j
        # gather: bit i*n -> bit gshift + i (bit i*n times 1 << (n-1)(n-1-i)); no two products collide
        self.gather = sum(1 << (k * (n - 1)) for k in range(n)) if n > 1 else 1
        self.gshift = (n - 1) * (n - 1) if n > 1 else 0
        # shifts that OR bits i*n .. i*n+n-1 into bit i*n, without crossing rows
        plan = []
        span = 0
        while span < n - 1:
            t = min(span + 1, n - 1 - span)
            plan.append(t)
            span += t
        self.fold_bits = tuple(plan)
        self.fold_rows = tuple(t * n for t in plan)
        self.cjs = tuple((self.cols[j], j, j * n) for j in range(n))  # (column mask, index, row shift)
        self._rows_cache: dict[int, int] = {}
        self._diag_cache: dict[int, int] = {}

    # -- conversions ----------------------------------------------------------------------------------------------
    def from_succ(self, succ: Sequence[int]) -> int:
        n = self.n
        m = 0
        for i, s in enumerate(succ):
            if s:
                m |= s << (i * n)
        return m

    def to_succ(self, m: int) -> tuple[int, ...]:
        n = self.n
        row = self.row
        return tuple((m >> (i * n)) & row for i in range(n))

    def from_pairs(self, pairs: Iterable[tuple[int, int]]) -> int:
        n = self.n
        m = 0
        for i, j in pairs:
            m |= 1 << (i * n + j)
        return m

    def pairs(self, m: int) -> Iterator[tuple[int, int]]:
        n = self.n
        for b in bits(m):
            yield divmod(b, n)

    def row_starts(self, s: int) -> int:
        """Bit ``i*n`` for each ``i`` in ``s``."""
        c = self._rows_cache.get(s)
        if c is None:
            n = self.n
            c = 0
            for i in bits(s):
                c |= 1 << (i * n)
            if len(self._rows_cache) > 8192:
                self._rows_cache.clear()
            self._rows_cache[s] = c
        return c

    # -- set to relation ------------------------------------------------------------------------------------------
    def ident(self, s: int) -> int:
        """``[s]``: identity restricted to ``s``."""
        c = self._diag_cache.get(s)
        if c is None:
            n1 = self.n + 1
            c = 0
            for i in bits(s):
                c |= 1 << (i * n1)
            if len(self._diag_cache) > 8192:
                self._diag_cache.clear()
            self._diag_cache[s] = c
        return c

    def cart(self, a: int, b: int) -> int:
        """``a * b``."""
        return self.row_starts(a) * b

    def rows_of(self, s: int) -> int:
        """All pairs whose source is in ``s`` (``s * _``)."""
        return self.row_starts(s) * self.row

    def cols_of(self, s: int) -> int:
        """All pairs whose target is in ``s`` (``_ * s``)."""
        return self.starts * s

    # -- relation operations --------------------------------------------------------------------------------------
    def domain(self, m: int) -> int:
        if not m:
            return 0
        for t in self.fold_bits:
            m |= m >> t
        return (((m & self.starts) * self.gather) >> self.gshift) & self.row

    def range(self, m: int) -> int:
        for t in self.fold_rows:
            m |= m >> t
        return m & self.row

    def compose(self, a: int, b: int) -> int:
        """``a ; b``: for each pivot j, the column j of a (moved to row starts) times the row j of b."""
        if not a or not b:
            return 0
        row = self.row
        n = self.n
        out = 0
        for c, j, _ in self.cjs:
            if not b:
                break
            bj = b & row
            if bj:
                col = a & c
                if col:
                    out |= (col >> j) * bj
            b >>= n
        return out

    def inverse(self, m: int) -> int:
        if not m:
            return 0
        g = self.gather
        sh = self.gshift
        row = self.row
        out = 0
        for c, j, sj in self.cjs:
            col = m & c
            if col:
                out |= ((((col >> j) * g) >> sh) & row) << sj
        return out

    def closure(self, m: int) -> int:
        """Transitive closure ``m+`` (Warshall, one multiplication per pivot)."""
        if not m:
            return 0
        row = self.row
        for c, k, sk in self.cjs:
            col = m & c
            if col:
                r = (m >> sk) & row
                if r:
                    m |= (col >> k) * r
        return m

    def acyclic(self, m: int) -> bool:
        if not m:
            return True
        if m & self.diag:
            return False
        # peel off events without predecessors (or successors) until nothing changes
        live = self.domain(m) | self.range(m)
        while True:
            srcs = live & ~self.range(m)
            sinks = live & ~self.domain(m)
            drop = srcs | sinks
            if not drop:
                return not m
            live &= ~drop
            keep = self.rows_of(live) & self.cols_of(live)
            m &= keep
            if not m:
                return True

    def irreflexive(self, m: int) -> bool:
        return not (m & self.diag)


@lru_cache(maxsize=64)
def shape(n: int) -> Shape:
    return Shape(n)


def linear_extensions(sh: Shape, nodes: int, order: int) -> Iterator[int]:
    """All strict total orders on ``nodes`` containing ``order`` (first transitively closed, then restricted to
    ``nodes``), each as a transitive relation.  Nothing if ``order`` is cyclic on ``nodes``."""
    n = sh.n
    m = sh.closure(order)
    m &= sh.rows_of(nodes) & sh.cols_of(nodes)
    if not sh.irreflexive(m):
        return
    preds = [0] * n
    for i, j in sh.pairs(m):
        preds[j] |= 1 << i
    members = list(bits(nodes))

    def walk(placed: int, starts: int, rel: int, left: int) -> Iterator[int]:
        if not left:
            yield rel
            return
        for e in members:
            if left >> e & 1 and not (preds[e] & ~placed):
                yield from walk(placed | (1 << e), starts | (1 << (e * n)), rel | (starts << e), left & ~(1 << e))

    yield from walk(0, 0, 0, nodes)
