"""LKMM in the engine on Python models: the shapes whose verdict LKMM decides (dependencies
written as ordinary Python, load buffering, non-multi-copy atomicity, RCU, locks, data races),
and ``lkmm-alpha``, where only ``rcu_dereference`` orders the reads that depend on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rmapwalk.engine import Program, explore, observe
from rmapwalk.engine.deps import DInt, deps_of
from rmapwalk.kernel import (
    READ_ONCE,
    WRITE_ONCE,
    rcu_assign_pointer,
    rcu_dereference,
    rcu_read_lock,
    rcu_read_unlock,
    report_data_races,
    smp_load_acquire,
    smp_mb,
    smp_rmb,
    smp_store_release,
    smp_wmb,
    spin_lock,
    spin_unlock,
    synchronize_rcu,
)
from rmapwalk.kernel.once import plain_read, plain_write


def outcome(prog: Program, model: str, cond: Callable[[Any], bool]) -> bool:
    """Whether some execution of ``prog`` under ``model`` ends in a state satisfying ``cond``."""
    prog.exists(cond, "cond")
    res = explore(prog, model)
    assert res.incomplete_reason is None
    return res.exists["cond"]


def lb(dep: str) -> Program:
    p = Program(f"LB+{dep}")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        r = READ_ONCE(x)
        observe("r", r)
        if dep == "ctrl":
            if r:
                WRITE_ONCE(y, 1)
        elif dep == "data":
            WRITE_ONCE(y, r + 1 - r if r else 1)
        elif dep == "ctrl-after-join":
            if r == 5:
                WRITE_ONCE(y, 2)
            WRITE_ONCE(y, 1)
        else:
            WRITE_ONCE(y, 1)

    @p.thread
    def P1() -> None:
        r = READ_ONCE(y)
        observe("r", r)
        if dep in ("ctrl", "data"):
            if r:
                WRITE_ONCE(x, 1)
        else:
            WRITE_ONCE(x, 1)

    return p


@pytest.mark.parametrize(("dep", "allowed"), [("none", True), ("ctrl-after-join", True), ("ctrl", False),
                                              ("data", False)])
def test_load_buffering(dep: str, allowed: bool) -> None:
    """LB+poonceonces is Sometimes under LKMM; a control or data dependency on both sides forbids
    it; a write after the join of a branch is not control-dependent (herd's meaning)."""
    both = outcome(lb(dep), "lkmm", lambda f: f["P0:r"] == 1 and f["P1:r"] == 1)
    assert both is allowed
    assert outcome(lb(dep), "pso", lambda f: f["P0:r"] == 1 and f["P1:r"] == 1) is False


def mp(reader: str) -> Program:
    p = Program(f"MP+{reader}")
    data = p.var("data")
    ptr = p.var("ptr")

    @p.thread
    def writer() -> None:
        WRITE_ONCE(data, 1)
        if reader == "release":
            smp_store_release(ptr, data)
        else:
            smp_wmb()
            rcu_assign_pointer(ptr, data) if reader == "rcu" else WRITE_ONCE(ptr, data)

    @p.thread
    def reader_() -> None:
        if reader == "rcu":
            rcu_read_lock()
            q = rcu_dereference(ptr)
        elif reader == "release":
            q = smp_load_acquire(ptr)
        else:
            q = READ_ONCE(ptr)
        if reader == "rmb":
            smp_rmb()
        if reader == "independent":
            v = READ_ONCE(data)  # not computed from q: no address dependency
        else:
            v = READ_ONCE(q) if q else 1
        if reader == "rcu":
            rcu_read_unlock()
        observe("q", int(q))
        observe("v", v)

    return p


@pytest.mark.parametrize(("reader", "lkmm", "alpha"), [
    ("addr", False, True),          # READ_ONCE then *p: ordered since 4.15 (READ_ONCE implies the barrier)
    ("rcu", False, False),          # rcu_dereference then *p: ordered even on Alpha
    ("rmb", False, False),
    ("release", False, False),
    ("independent", True, True),    # no dependency, no barrier: the stale read is allowed
])
def test_message_passing_through_a_pointer(reader: str, lkmm: bool, alpha: bool) -> None:
    def stale(f: Any) -> bool:
        return bool(f["reader_:q"]) and f["reader_:v"] == 0

    assert outcome(mp(reader), "lkmm", stale) is lkmm
    assert outcome(mp(reader), "lkmm-alpha", stale) is alpha


def test_dependencies_follow_python_arithmetic() -> None:
    """A value read under LKMM carries the read it came from through operators; int() drops it."""
    seen: dict[str, Any] = {}
    p = Program("deps")
    x = p.var("x", init=4)

    @p.thread
    def P0() -> None:
        v = READ_ONCE(x)
        seen["v"] = v
        seen["expr"] = (v * 2 + 1) & 0xff
        seen["cmp"] = v == 4
        seen["int"] = int(v)

    explore(p, "lkmm")
    assert isinstance(seen["v"], DInt) and deps_of(seen["expr"]) == deps_of(seen["v"]) != frozenset()
    assert seen["cmp"] and deps_of(seen["cmp"]) == deps_of(seen["v"])
    assert type(seen["int"]) is int and not deps_of(seen["int"])
    explore(p, "sc")
    assert type(seen["v"]) is int  # other models return plain values


def iriw(fence: bool) -> Program:
    p = Program("IRIW")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def W0() -> None:
        WRITE_ONCE(x, 1)

    @p.thread
    def W1() -> None:
        WRITE_ONCE(y, 1)

    for name, a, b in (("R0", x, y), ("R1", y, x)):
        def reader(a: Any = a, b: Any = b) -> None:
            r0 = READ_ONCE(a)
            if fence:
                smp_mb()
            else:
                smp_rmb()
            r1 = READ_ONCE(b)
            observe("r0", r0)
            observe("r1", r1)

        p.thread(reader, name=name)
    return p


@pytest.mark.parametrize(("fence", "allowed"), [(False, True), (True, False)])
def test_iriw_is_not_multicopy_atomic(fence: bool, allowed: bool) -> None:
    """IRIW with smp_rmb is allowed (writes may reach the readers in different orders); with
    smp_mb it is forbidden.  PSO (multi-copy atomic) forbids both."""
    def disagree(f: Any) -> bool:
        return f["R0:r0"] == 1 and f["R0:r1"] == 0 and f["R1:r0"] == 1 and f["R1:r1"] == 0

    assert outcome(iriw(fence), "lkmm", disagree) is allowed
    assert outcome(iriw(fence), "pso", disagree) is False


def wrc(release: bool) -> Program:
    p = Program("WRC")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(x, 1)

    @p.thread
    def P1() -> None:
        r = READ_ONCE(x)
        observe("r", r)
        smp_store_release(y, 1) if release else WRITE_ONCE(y, 1)

    @p.thread
    def P2() -> None:
        r0 = smp_load_acquire(y)
        r1 = READ_ONCE(x)
        observe("r0", r0)
        observe("r1", r1)

    return p


@pytest.mark.parametrize(("release", "allowed"), [(False, True), (True, False)])
def test_wrc_needs_a_cumulative_release(release: bool, allowed: bool) -> None:
    assert outcome(wrc(release), "lkmm", lambda f: f["P1:r"] == 1 and f["P2:r0"] == 1 and f["P2:r1"] == 0) \
        is allowed


def rcu_mp(sync: bool) -> Program:
    """The RCU guarantee: a reader section that sees the first store (before the grace period)
    must see... rather, the updater's second store after synchronize_rcu() cannot be seen by a
    section that missed the first (MP across a grace period, RCU+sync shape)."""
    p = Program("RCU-MP")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        r0 = READ_ONCE(x)
        r1 = READ_ONCE(y)
        rcu_read_unlock()
        observe("r0", r0)
        observe("r1", r1)

    @p.thread
    def updater() -> None:
        WRITE_ONCE(y, 1)
        if sync:
            synchronize_rcu()
        WRITE_ONCE(x, 1)

    return p


@pytest.mark.parametrize(("sync", "allowed"), [(False, True), (True, False)])
def test_rcu_grace_period_orders_a_reader_section(sync: bool, allowed: bool) -> None:
    assert outcome(rcu_mp(sync), "lkmm", lambda f: f["reader:r0"] == 1 and f["reader:r1"] == 0) is allowed


def test_a_section_that_stops_inside_is_still_ordered_against_grace_periods() -> None:
    """RCU-MP whose reader fails inside its section: the execution ends before
    rcu_read_unlock(), and the section still counts as ending after what it did (else the
    grace period would not wait for it and the reader could see y's old value after x's new)."""
    p = Program("RCU-MP-inside")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def reader() -> None:
        rcu_read_lock()
        r0 = READ_ONCE(x)
        r1 = READ_ONCE(y)
        assert not (r0 == 1 and r1 == 0), "the grace period did not wait for the section"
        rcu_read_unlock()

    @p.thread
    def updater() -> None:
        WRITE_ONCE(y, 1)
        synchronize_rcu()
        WRITE_ONCE(x, 1)

    for model in ("lkmm", "lkmm-alpha"):
        res = explore(p, model)
        assert res.verdict == "holds", [v.message for v in res.violations]


def locked_counter(lock: bool) -> Program:
    p = Program("locked-counter")
    c, lk = p.var("c"), p.var("lock")
    for name in ("P0", "P1"):
        def inc() -> None:
            if lock:
                spin_lock(lk)
            v = plain_read(c)
            plain_write(c, v + 1)
            if lock:
                spin_unlock(lk)

        p.thread(inc, name=name)
    p.observe_locations([c])
    return p


@pytest.mark.parametrize("lock", [False, True])
def test_locks_and_lkmm_data_races(lock: bool) -> None:
    """Two plain increments race (herd's data-race) and can lose one; under a spinlock neither."""
    prog = locked_counter(lock)
    report_data_races(prog)
    res = explore(prog, "lkmm")
    assert ("data race" in res.property_counts) is not lock
    lost = any(dict(k).get("c") == 1 for k in res.outcomes)
    assert lost is not lock


def test_sb_needs_full_barriers() -> None:
    def sb(mb: bool) -> Program:
        p = Program("SB")
        x, y = p.var("x"), p.var("y")
        for name, a, b in (("P0", x, y), ("P1", y, x)):
            def t(a: Any = a, b: Any = b) -> None:
                WRITE_ONCE(a, 1)
                if mb:
                    smp_mb()
                observe("r", READ_ONCE(b))

            p.thread(t, name=name)
        return p

    assert outcome(sb(False), "lkmm", lambda f: f["P0:r"] == 0 and f["P1:r"] == 0)
    assert not outcome(sb(True), "lkmm", lambda f: f["P0:r"] == 0 and f["P1:r"] == 0)


def test_a_load_buffering_counterexample_replays() -> None:
    """The replay record of an execution with a reads-from cycle rebuilds it (recorded values let
    each thread run before the write it reads exists)."""
    from rmapwalk.engine.replay import rebuild

    prog = lb("none")
    prog.forbid(lambda f: f["P0:r"] == 1 and f["P1:r"] == 1, "load buffering")
    res = explore(prog, "lkmm")
    (v,) = res.violations
    g = rebuild(lb("none"), v.replay)
    reads = {(e.tid, e.idx): e.rf.ref for evs in g.threads for e in evs if e.kind == 0}  # type: ignore[union-attr]
    assert reads == {(0, 0): (1, 2), (1, 0): (0, 2)}


def test_a_load_buffering_cycle_through_an_rmw_replays() -> None:
    """The reads in the reads-from cycle are RMWs (relaxed xchgs, each reading a po-later write
    of the other thread): one takes its recorded value ahead, and its write half follows."""
    from rmapwalk.engine.replay import rebuild
    from rmapwalk.kernel import xchg_relaxed

    def build() -> Program:
        p = Program("LB+xchg")
        x, y = p.var("x"), p.var("y")

        @p.thread
        def P0() -> None:
            observe("r", xchg_relaxed(x, 1))
            WRITE_ONCE(y, 1)

        @p.thread
        def P1() -> None:
            observe("r", xchg_relaxed(y, 2))
            WRITE_ONCE(x, 2)

        p.forbid(lambda f: f["P0:r"] == 2 and f["P1:r"] == 1, "load buffering")
        return p

    res = explore(build(), "lkmm")
    (v,) = res.violations
    g = rebuild(build(), v.replay)
    reads = {(e.tid, e.idx): e.rf.ref for evs in g.threads for e in evs if e.kind == 0}  # type: ignore[union-attr]
    assert reads == {(0, 0): (1, 3), (1, 0): (0, 3)}


@pytest.mark.parametrize("lb_search", ["optimal", "complete"])
def test_prefix_verdicts_are_remembered(lb_search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The explorer asks LKMM about the same graph many times (three lockers: each spin of a
    lock makes again graphs asked before); a verdict is kept by the graph's name and thread
    paths, so fewer relations are built, and the executions are the ones found without."""
    from rmapwalk.engine import lkmm
    from rmapwalk.engine.explore import Explorer, Options

    def lockers() -> Program:
        p = Program("three lockers")
        x, y, lk = p.var("x"), p.var("y"), p.var("l", observe=False)

        def body(i: int) -> None:
            spin_lock(lk)
            WRITE_ONCE(x, READ_ONCE(x) + 1)
            spin_unlock(lk)
            WRITE_ONCE(y, i)

        for i in range(3):
            p.thread(body, i, name=f"P{i}")
        return p

    built = [0]

    class Counted(lkmm.Relations):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built[0] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(lkmm, "Relations", Counted)
    runs = {}
    for kept in (0, 1 << 18):
        monkeypatch.setattr(lkmm, "_VERDICTS_KEPT", kept)
        built[0] = 0
        res = Explorer(lockers(), "lkmm", Options(lb_search=lb_search)).run()
        runs[kept] = (res.stats.complete, res.outcomes, built[0])
    (n0, out0, built0), (n1, out1, built1) = runs[0], runs[1 << 18]
    assert (n1, out1) == (n0, out0)
    assert n1 == 36  # 3! orders of the critical sections, times 3! orders of the y writes
    assert built1 < 0.7 * built0
