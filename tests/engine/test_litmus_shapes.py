"""The classic litmus shapes, with and without fences: the exact set of reachable outcomes under
SC, TSO and PSO, derived by hand from the models' definitions, and cross-checked with the
brute-force operational machines of bruteforce.py.

Every location starts at 0.  An expectation lists, per model, the reachable combinations of the
shape's *free* keys (registers and final values that vary); the other keys of the outcome are
fixed and listed once.  The comparison is on complete outcomes: nothing is projected away.

Reminders of what each model relaxes (operationally):
* SC keeps every program order.
* TSO lets a load overtake an earlier store to another location (FIFO store buffer, reads forward
  from it); mfence (fence "mb") and every RMW drain the buffer.  Multi-copy atomic.
* PSO also lets stores to different locations reach memory out of order; smp_wmb and a release
  fence keep earlier stores before later ones, a release store waits for the earlier ones.
  Multi-copy atomic; only stores are buffered, so loads stay in order (R->R) and never let a
  later store pass (R->W).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from bruteforce import brute_force

from rmapwalk.engine import ONCE, RELEASE, Program, explore, fence, load, observe, store, xchg

MODELS = ("sc", "tso", "pso")
Row = tuple[Any, ...]


@dataclass
class Shape:
    name: str
    build: Callable[[], Program]
    free: tuple[str, ...]  # the keys that vary, in the order of the rows below
    fixed: dict[str, Any]  # the keys that do not
    expected: dict[str, set[Row]]  # model -> reachable rows of `free`
    why: str


def _full(shape: Shape, rows: set[Row]) -> set[tuple[tuple[str, Any], ...]]:
    out = set()
    for row in rows:
        d = dict(shape.fixed)
        d.update(zip(shape.free, row, strict=True))
        out.add(tuple(sorted(d.items())))
    return out


def _all(n: int, vals: tuple[Any, ...] = (0, 1)) -> set[Row]:
    return set(itertools.product(vals, repeat=n))


def _f(kind: str | None) -> None:
    if kind:
        fence(kind)


# -- SB ----------------------------------------------------------------------------------------
def sb(f0: str | None, f1: str | None, rmw: bool = False) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("SB")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            if rmw:
                xchg(x, 1)
            else:
                store(x, 1, ONCE)
            _f(f0)
            observe("r0", load(y, ONCE))

        def P1() -> None:
            if rmw:
                xchg(y, 1)
            else:
                store(y, 1, ONCE)
            _f(f1)
            observe("r1", load(x, ONCE))

        p.thread(P0)
        p.thread(P1)
        return p

    return build


SB_SC = _all(2) - {(0, 0)}
SB_WEAK = _all(2)
SB_WHY = ("SB: in SC one store precedes both loads, so r0=r1=0 is impossible; TSO and PSO let each "
          "load overtake its thread's buffered store (store buffering): r0=r1=0.  mb in both "
          "threads (or locked xchg stores) drains the buffers first and forbids it; wmb orders "
          "only stores and mb in one thread only leaves the other free.")

# -- MP ----------------------------------------------------------------------------------------
def mp(f0: str | None, f1: str | None, rel: bool = False) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("MP")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            store(x, 1, ONCE)
            _f(f0)
            store(y, 1, RELEASE if rel else ONCE)

        def P1() -> None:
            r0 = load(y, ONCE)
            _f(f1)
            r1 = load(x, ONCE)
            observe("r0", r0)
            observe("r1", r1)

        p.thread(P0)
        p.thread(P1)
        return p

    return build


MP_SC = _all(2) - {(1, 0)}
MP_WHY = ("MP: r0=1,r1=0 needs y=1 visible before x=1 or the loads reordered.  SC and TSO keep W->W "
          "and R->R; PSO lets the store to y reach memory before the one to x, unless smp_wmb or a "
          "release store orders them (the reader's rmb changes nothing: loads stay in order).")

# -- LB ----------------------------------------------------------------------------------------
def lb(f: str | None) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("LB")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            r0 = load(x, ONCE)
            _f(f)
            store(y, 1, ONCE)
            observe("r0", r0)

        def P1() -> None:
            r1 = load(y, ONCE)
            _f(f)
            store(x, 1, ONCE)
            observe("r1", r1)

        p.thread(P0)
        p.thread(P1)
        return p

    return build


LB_ALL = _all(2) - {(1, 1)}
LB_WHY = ("LB: r0=r1=1 needs a load to see a store that is po-after the other thread's load; no "
          "model here lets a store overtake an earlier load (stores are buffered, loads are not), "
          "so it is forbidden everywhere, fences or not.")

# -- IRIW ----------------------------------------------------------------------------------------
def iriw(f: str | None) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("IRIW")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            store(x, 1, ONCE)

        def P1() -> None:
            store(y, 1, ONCE)

        def P2() -> None:
            r0 = load(x, ONCE)
            _f(f)
            r1 = load(y, ONCE)
            observe("r0", r0)
            observe("r1", r1)

        def P3() -> None:
            r2 = load(y, ONCE)
            _f(f)
            r3 = load(x, ONCE)
            observe("r2", r2)
            observe("r3", r3)

        p.thread(P0)
        p.thread(P1)
        p.thread(P2)
        p.thread(P3)
        return p

    return build


IRIW_ALL = _all(4) - {(1, 0, 1, 0)}
IRIW_WHY = ("IRIW: the readers disagreeing on the order of the two independent stores (1,0,1,0) "
            "needs non-multi-copy-atomic stores or reordered loads: forbidden in SC, TSO and PSO "
            "alike (one memory, loads in order).  Every other combination is reachable.")

# -- 2+2W --------------------------------------------------------------------------------------
def w22(f: str | None) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("2+2W")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            store(x, 1, ONCE)
            _f(f)
            store(y, 2, ONCE)

        def P1() -> None:
            store(y, 1, ONCE)
            _f(f)
            store(x, 2, ONCE)

        p.thread(P0)
        p.thread(P1)
        return p

    return build


W22_SC = {(1, 2), (2, 1), (2, 2)}
W22_WHY = ("2+2W: final x=1,y=1 means each thread's second store hit memory before the other's first: "
           "a cycle under SC and TSO (FIFO buffers keep W->W).  PSO reorders the two stores of a "
           "thread (different locations): allowed; smp_wmb in both threads forbids it again.")

# -- R -----------------------------------------------------------------------------------------
def r_shape(f0: str | None, f1: str | None) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("R")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            store(x, 1, ONCE)
            _f(f0)
            store(y, 1, ONCE)

        def P1() -> None:
            store(y, 2, ONCE)
            _f(f1)
            observe("r0", load(x, ONCE))

        p.thread(P0)
        p.thread(P1)
        return p

    return build


R_SC = {(0, 1), (1, 1), (1, 2)}  # rows: (r0, y)
R_ALL = R_SC | {(0, 2)}
R_WHY = ("R: y=2 final (P0's y=1 first) with r0=0 needs P1's load of x to overtake its store to y "
         "(or P0's stores reordered).  SC forbids it; TSO and PSO allow it (store buffering); mb in "
         "P1 forbids it under TSO but not PSO, where P0's stores may still reorder; wmb in P0 plus "
         "mb in P1 forbids it everywhere.")

# -- S -----------------------------------------------------------------------------------------
def s_shape(f0: str | None) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("S")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            store(x, 2, ONCE)
            _f(f0)
            store(y, 1, ONCE)

        def P1() -> None:
            r0 = load(y, ONCE)
            store(x, 1, ONCE)
            observe("r0", r0)

        p.thread(P0)
        p.thread(P1)
        return p

    return build


S_SC = {(0, 1), (0, 2), (1, 1)}  # rows: (r0, x)
S_WHY = ("S: r0=1 with final x=2 means P1 saw y=1 and still wrote x=1 before P0's x=2: SC and TSO keep "
         "P0's W->W and P1's R->W, so it is forbidden; PSO reorders P0's stores: allowed; smp_wmb "
         "in P0 forbids it.")

# -- WRC ---------------------------------------------------------------------------------------
def wrc(f1: str | None, f2: str | None) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("WRC")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            store(x, 1, ONCE)

        def P1() -> None:
            r0 = load(x, ONCE)
            _f(f1)
            store(y, 1, ONCE)
            observe("r0", r0)

        def P2() -> None:
            r1 = load(y, ONCE)
            _f(f2)
            r2 = load(x, ONCE)
            observe("r1", r1)
            observe("r2", r2)

        p.thread(P0)
        p.thread(P1)
        p.thread(P2)
        return p

    return build


WRC_ALL = _all(3) - {(1, 1, 0)}
WRC_WHY = ("WRC: r0=1,r1=1,r2=0 needs x=1 visible to P1 but not yet to P2 (non-multi-copy "
           "atomicity) or reordered loads/load->store: forbidden in all three models, with or "
           "without fences.  Every other combination is reachable.")


# -- SB+rfi-pos (store forwarding) ----------------------------------------------------------------
def sb_rfi(f: str | None) -> Callable[[], Program]:
    def build() -> Program:
        p = Program("SB+rfi-pos")
        x, y = p.var("x"), p.var("y")

        def P0() -> None:
            store(x, 1, ONCE)
            r0 = load(x, ONCE)
            _f(f)
            r1 = load(y, ONCE)
            observe("r0", r0)
            observe("r1", r1)

        def P1() -> None:
            store(y, 1, ONCE)
            r2 = load(y, ONCE)
            _f(f)
            r3 = load(x, ONCE)
            observe("r2", r2)
            observe("r3", r3)

        p.thread(P0)
        p.thread(P1)
        return p

    return build


RFI_WHY = ("SB+rfi-pos: each thread reads its own store first (always 1: forwarded from the buffer "
           "under TSO/PSO).  That read does not drain the buffer, so r1=r3=0 stays reachable under "
           "TSO and PSO, as in SB; mb between the reads forbids it.")


def _same(rows: set[Row]) -> dict[str, set[Row]]:
    return {m: rows for m in MODELS}


SHAPES = [
    Shape("SB", sb(None, None), ("P0:r0", "P1:r1"), {"x": 1, "y": 1},
          {"sc": SB_SC, "tso": SB_WEAK, "pso": SB_WEAK}, SB_WHY),
    Shape("SB+mbs", sb("mb", "mb"), ("P0:r0", "P1:r1"), {"x": 1, "y": 1}, _same(SB_SC), SB_WHY),
    Shape("SB+mb+po", sb("mb", None), ("P0:r0", "P1:r1"), {"x": 1, "y": 1},
          {"sc": SB_SC, "tso": SB_WEAK, "pso": SB_WEAK}, SB_WHY),
    Shape("SB+wmbs", sb("wmb", "wmb"), ("P0:r0", "P1:r1"), {"x": 1, "y": 1},
          {"sc": SB_SC, "tso": SB_WEAK, "pso": SB_WEAK}, SB_WHY),
    Shape("SB+xchgs", sb(None, None, rmw=True), ("P0:r0", "P1:r1"), {"x": 1, "y": 1}, _same(SB_SC), SB_WHY),
    Shape("SB+rfi-pos", sb_rfi(None), ("P0:r1", "P1:r3"), {"P0:r0": 1, "P1:r2": 1, "x": 1, "y": 1},
          {"sc": SB_SC, "tso": SB_WEAK, "pso": SB_WEAK}, RFI_WHY),
    Shape("SB+rfi-pos+mbs", sb_rfi("mb"), ("P0:r1", "P1:r3"), {"P0:r0": 1, "P1:r2": 1, "x": 1, "y": 1},
          _same(SB_SC), RFI_WHY),
    Shape("MP", mp(None, None), ("P1:r0", "P1:r1"), {"x": 1, "y": 1},
          {"sc": MP_SC, "tso": MP_SC, "pso": _all(2)}, MP_WHY),
    Shape("MP+wmb+rmb", mp("wmb", "rmb"), ("P1:r0", "P1:r1"), {"x": 1, "y": 1}, _same(MP_SC), MP_WHY),
    Shape("MP+po+rmb", mp(None, "rmb"), ("P1:r0", "P1:r1"), {"x": 1, "y": 1},
          {"sc": MP_SC, "tso": MP_SC, "pso": _all(2)}, MP_WHY),
    Shape("MP+release", mp(None, None, rel=True), ("P1:r0", "P1:r1"), {"x": 1, "y": 1}, _same(MP_SC), MP_WHY),
    Shape("MP+mb", mp("mb", None), ("P1:r0", "P1:r1"), {"x": 1, "y": 1}, _same(MP_SC), MP_WHY),
    Shape("LB", lb(None), ("P0:r0", "P1:r1"), {"x": 1, "y": 1}, _same(LB_ALL), LB_WHY),
    Shape("LB+mbs", lb("mb"), ("P0:r0", "P1:r1"), {"x": 1, "y": 1}, _same(LB_ALL), LB_WHY),
    Shape("IRIW", iriw(None), ("P2:r0", "P2:r1", "P3:r2", "P3:r3"), {"x": 1, "y": 1}, _same(IRIW_ALL), IRIW_WHY),
    Shape("IRIW+mbs", iriw("mb"), ("P2:r0", "P2:r1", "P3:r2", "P3:r3"), {"x": 1, "y": 1},
          _same(IRIW_ALL), IRIW_WHY),
    Shape("2+2W", w22(None), ("x", "y"), {}, {"sc": W22_SC, "tso": W22_SC, "pso": W22_SC | {(1, 1)}}, W22_WHY),
    Shape("2+2W+wmbs", w22("wmb"), ("x", "y"), {}, _same(W22_SC), W22_WHY),
    Shape("2+2W+mbs", w22("mb"), ("x", "y"), {}, _same(W22_SC), W22_WHY),
    Shape("R", r_shape(None, None), ("P1:r0", "y"), {"x": 1}, {"sc": R_SC, "tso": R_ALL, "pso": R_ALL}, R_WHY),
    Shape("R+po+mb", r_shape(None, "mb"), ("P1:r0", "y"), {"x": 1},
          {"sc": R_SC, "tso": R_SC, "pso": R_ALL}, R_WHY),
    Shape("R+wmb+mb", r_shape("wmb", "mb"), ("P1:r0", "y"), {"x": 1}, _same(R_SC), R_WHY),
    Shape("R+mbs", r_shape("mb", "mb"), ("P1:r0", "y"), {"x": 1}, _same(R_SC), R_WHY),
    Shape("S", s_shape(None), ("P1:r0", "x"), {"y": 1}, {"sc": S_SC, "tso": S_SC, "pso": S_SC | {(1, 2)}}, S_WHY),
    Shape("S+wmb", s_shape("wmb"), ("P1:r0", "x"), {"y": 1}, _same(S_SC), S_WHY),
    Shape("WRC", wrc(None, None), ("P1:r0", "P2:r1", "P2:r2"), {"x": 1, "y": 1}, _same(WRC_ALL), WRC_WHY),
    Shape("WRC+mb+rmb", wrc("mb", "rmb"), ("P1:r0", "P2:r1", "P2:r2"), {"x": 1, "y": 1},
          _same(WRC_ALL), WRC_WHY),
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_shape_outcomes(shape: Shape, model: str) -> None:
    expected = _full(shape, shape.expected[model])
    res = explore(shape.build(), model, check_redundancy=True)
    assert set(res.outcomes) == expected, f"{shape.name} under {model}: {shape.why}"
    assert res.stats.redundant == 0
    assert res.stats.blocked == 0 and res.violation_count == 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_shape_brute_force(shape: Shape, model: str) -> None:
    """The hand-derived sets agree with the operational machines (checks the brute force too)."""
    bf = brute_force(shape.build(), model)
    assert bf.outcomes == _full(shape, shape.expected[model]), f"{shape.name} under {model}: {shape.why}"
    assert not bf.blocked and not bf.violations
