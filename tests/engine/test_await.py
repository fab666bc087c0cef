"""Await-aware exploration: waits (``assume`` on a read value, locks, spin loops written with
``relax()`` / ``cpu_relax()``) give no blocked executions unless the wait can never end there, and
then the violation names it.  The counts of complete executions are those of the same programs
explored with ``await_aware=False`` (every wait that fails explored to its end)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from rmapwalk.engine import Program, assume, explore, load, observe, relax, store
from rmapwalk.examples import spinlock
from rmapwalk.examples.waitloop import make as waiting_loop
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, cpu_relax, smp_cond_load_acquire, smp_store_release

MODELS = ("sc", "tso", "pso", "lkmm")


def _both(prog: Callable[[], Program], model: str) -> tuple[object, object]:
    return explore(prog(), model), explore(prog(), model, await_aware=False)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("nvals", "waiters"), [(3, 1), (3, 2), (4, 2)])
def test_a_wait_that_always_ends_gives_no_blocked_execution(model: str, nvals: int, waiters: int) -> None:
    res, plain = _both(lambda: waiting_loop(nvals, waiters, nvals), model)
    assert res.verdict == "holds"
    assert res.stats.blocked == 0
    assert res.stats.moot > 0
    # the same complete executions as the exploration that keeps every failed wait
    assert res.stats.complete == plain.stats.complete
    assert res.outcome_set() == plain.outcome_set()
    assert plain.stats.blocked > res.stats.complete


def test_the_loop_is_cut_where_a_pass_changed_nothing() -> None:
    # one waiter, values 1..3, waiting for 3: a pass reads a value, the next pass reading any value
    # that is not 3 changes nothing (no write, same locals) and ends as a spin; so the complete
    # executions are: 3 at once, or one of 0, 1, 2 and then 3
    res = explore(waiting_loop(3, 1, 3), "sc")
    assert (res.stats.complete, res.stats.blocked) == (4, 0)


@pytest.mark.parametrize("model", MODELS)
def test_a_spin_no_write_ends_is_a_violation_with_its_trace(model: str) -> None:
    res = explore(waiting_loop(2, 1, 5), model)
    assert res.verdict == "violated"
    assert res.stats.complete == 0
    assert set(res.property_counts) == {"spin loop"}
    v = res.violations[0]
    assert "spins forever" in v.message and "waiter0" in v.message
    lines, first = inspect.getsourcelines(waiting_loop)
    relax_line = first + next(i for i, ln in enumerate(lines) if "cpu_relax()" in ln and "while" not in ln)
    assert v.where is not None and v.where.endswith(f":{relax_line}")  # the cpu_relax() of the loop
    assert v.replay  # saved for `rmapwalk replay`


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("model", MODELS)
def test_spinlocks_have_no_blocked_executions(n: int, model: str) -> None:
    res = explore(spinlock.make(n), model)
    assert res.verdict == "holds"
    assert res.stats.blocked == 0
    assert res.stats.complete == explore(spinlock.make(n), model, await_aware=False).stats.complete


def test_an_abba_deadlock_is_still_found() -> None:
    p = Program("abba")
    a, b = p.var("a"), p.var("b")

    def lock(loc: int) -> None:
        from rmapwalk.engine import cmpxchg

        assume(cmpxchg(loc, 0, 1, "acquire") == 0, "lock held", kind="lock")

    def t0() -> None:
        lock(a)
        lock(b)

    def t1() -> None:
        lock(b)
        lock(a)

    p.thread(t0)
    p.thread(t1)
    res = explore(p, "sc")
    assert res.property_counts.get("deadlock", 0) >= 1
    assert res.stats.complete == 0


def test_locals_that_change_keep_the_loop_going() -> None:
    # a pass that counts is not a pass that changed nothing: the loop is not cut, so the count
    # reaches every value the bounded loop allows
    p = Program("counting")
    x = p.var("x")

    def waiter() -> None:
        n = 0
        while READ_ONCE(x) != 1 and n < 3:
            n += 1
            cpu_relax()
        observe("n", n)

    p.thread(waiter)
    p.thread(lambda: WRITE_ONCE(x, 1), name="writer")
    res = explore(p, "sc")
    assert {dict(o)["waiter:n"] for o in res.outcomes} == {0, 1, 2, 3}
    assert res.stats.blocked == 0


def test_a_pass_that_writes_is_not_cut() -> None:
    p = Program("writes")
    x, y = p.var("x"), p.var("y")

    def waiter() -> None:
        while load(x) != 1:
            store(y, 1)
            relax()

    p.thread(waiter)
    p.thread(lambda: store(x, 1), name="writer")
    res = explore(p, "sc", max_events=20)
    # the pass stores each time, so nothing cuts it: with no fairness, reading 0 forever runs
    # into the event bound
    assert res.verdict == "incomplete"


@pytest.mark.parametrize("model", MODELS)
def test_smp_cond_load_acquire_orders_what_follows(model: str) -> None:
    p = Program("mp-cond-load")
    data, flag = p.var("data"), p.var("flag")

    def producer() -> None:
        WRITE_ONCE(data, 1)
        smp_store_release(flag, 1)

    def consumer() -> None:
        smp_cond_load_acquire(flag, lambda v: v == 1)
        observe("data", READ_ONCE(data))

    p.thread(producer)
    p.thread(consumer)
    res = explore(p, model)
    assert res.verdict == "holds"
    assert {dict(o)["consumer:data"] for o in res.outcomes} == {1}
    assert res.stats.blocked == 0


def test_a_cmpxchg_spin_is_cut_where_it_fails_and_not_where_it_writes() -> None:
    from rmapwalk.engine import cmpxchg, fetch_add

    p = Program("cas-spin")
    lock = p.var("lock")

    def taker() -> None:
        while cmpxchg(lock, 0, 1, "acquire") != 0:  # a failed cmpxchg writes nothing: a pass to cut
            relax()

    def holder() -> None:
        store(lock, 1)
        store(lock, 0)

    p.thread(taker)
    p.thread(holder)
    res = explore(p, "sc")
    assert (res.verdict, res.stats.blocked) == ("holds", 0)
    assert res.stats.complete == explore(p, "sc", await_aware=False).stats.complete

    q = Program("fadd-spin")
    c = q.var("c")

    def counter() -> None:
        while fetch_add(c, 1) < 3:  # every pass writes: never cut
            relax()

    q.thread(counter)
    r = explore(q, "sc")
    assert r.verdict == "holds" and r.outcome_set() == {(("c", 4),)}
