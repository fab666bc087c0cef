"""Thread running, bounds and error reporting of the engine."""

from __future__ import annotations

import pytest

from rmapwalk.engine import (
    INCOMPLETE,
    VIOLATED,
    ModelError,
    Options,
    Program,
    assume,
    explore,
    load,
    observe,
    store,
)
from rmapwalk.engine.explore import Explorer


def test_thread_code_runs_once_per_distinct_behaviour() -> None:
    calls = []
    p = Program("memo")
    x = p.var("x")

    @p.thread
    def w() -> None:
        store(x, 1)
        store(x, 2)

    @p.thread
    def r() -> None:
        calls.append(1)
        observe("a", load(x))
        observe("b", load(x))

    res = Explorer(p, "sc", Options()).run()
    assert res.stats.complete == 6  # (a, b) in {00,01,02,11,12,22}
    # the reader runs once for its first read and once per distinct value path after it:
    # 1 (root) + 3 (a = 0,1,2) + 6 (b after a) = 10 runs, not one per execution per event
    assert len(calls) == 10


def test_assertion_failure_is_a_violation_with_where() -> None:
    p = Program("assert")
    x = p.var("x")

    @p.thread
    def t0() -> None:
        store(x, 1)

    @p.thread
    def t1() -> None:
        assert load(x) == 0, "saw the store"

    res = explore(p, "sc")
    assert res.verdict == VIOLATED
    v = res.violations[0]
    assert v.kind == "assertion" and v.message == "saw the store"
    assert v.where is not None and "test_runtime.py:" in v.where
    assert res.stats.complete == 1


def _divides() -> Program:
    """t1 divides by the value it reads: the execution where it reads 0 raises."""
    p = Program("divides")
    x = p.var("x")

    @p.thread
    def t0() -> None:
        store(x, 2)

    @p.thread
    def t1() -> None:
        v = load(x)
        observe("q", 10 / v)

    return p


def test_exception_in_thread_is_a_violation_ending_only_its_execution() -> None:
    res = explore(_divides(), "sc")
    assert res.verdict == VIOLATED
    assert res.property_counts == {"exception": 1}
    assert res.stats.errors == 1 and res.stats.complete == 1  # the other execution still counts
    assert [dict(o) for o in res.outcomes] == [{"t1:q": 5.0, "x": 2}]
    (v,) = res.violations
    assert v.kind == "exception" and v.message == "ZeroDivisionError: division by zero"
    assert v.thread == "t1"
    assert v.where is not None and v.where.endswith(f"test_runtime.py:{_DIV_LINE}")


_DIV_LINE = next(i for i, line in enumerate(open(__file__, encoding="utf-8"), 1) if "10 / v" in line)


def test_exception_trace_and_replay() -> None:
    from rmapwalk.engine.replay import rebuild
    from rmapwalk.engine.trace import render

    prog = _divides()
    (v,) = explore(prog, "sc").violations
    text = render(rebuild(prog, v.replay), "sc")
    assert f"EXCEPTION at test_runtime.py:{_DIV_LINE}: ZeroDivisionError: division by zero" in text
    assert "load(x) = 0  <- init" in text
    assert v.replay["violation"]["kind"] == "exception"


def test_exception_found_by_random_search_and_estimate() -> None:
    from rmapwalk.engine.estimate import estimate
    from rmapwalk.engine.randomized import sample

    res = sample(_divides(), "sc", seed=1, executions=40)
    assert res.property_counts.get("exception", 0) >= 1
    assert res.violations[0].message == "ZeroDivisionError: division by zero"
    assert estimate(_divides(), "sc", samples=20, time_budget=None).executions == pytest.approx(2)


def test_exception_on_the_first_run_of_a_thread() -> None:
    p = Program("at-once")
    x = p.var("x")

    @p.thread
    def t0() -> None:
        store(x, 1)
        raise KeyError("k")

    res = explore(p, "sc")
    assert res.verdict == VIOLATED and res.violations[0].message == "KeyError: 'k'"
    assert res.violations[0].kind == "exception"


def test_event_bound_makes_the_verdict_incomplete() -> None:
    p = Program("spin")
    x = p.var("x")

    @p.thread
    def t0() -> None:
        while load(x) == 0:  # nobody ever writes x
            pass

    res = Explorer(p, "sc", Options(max_events=20)).run()
    assert res.verdict == INCOMPLETE
    assert res.stats.bounded == 1
    assert res.violations and res.violations[0].kind == "event limit"


def test_max_executions_stops_with_incomplete() -> None:
    p = Program("many")
    xs = p.array("x", 3)
    for i in range(3):
        p.thread(lambda i=i: [store(xs[i], 1), observe("s", sum(load(y) for y in xs))], name=f"t{i}")
    full = explore(p, "sc")
    assert full.stats.complete > 5
    res = Explorer(p, "sc", Options(max_executions=5)).run()
    assert res.verdict == INCOMPLETE and res.stats.complete == 5
    assert "5 executions" in (res.incomplete_reason or "")


def test_blocked_executions_are_counted_apart() -> None:
    p = Program("await")
    flag = p.var("flag")

    @p.thread
    def setter() -> None:
        store(flag, 1)

    @p.thread
    def waiter() -> None:
        assume(load(flag) == 1, "waiting for flag")
        observe("done", 1)

    res = explore(p, "sc")
    assert res.stats.complete == 1
    # the waiter reading 0 after the setter's store is moot (await-aware: it would read 1 again)
    assert (res.stats.blocked, res.stats.moot) == (0, 1)
    assert res.verdict == "holds"
    assert res.outcome_set() == {(("flag", 1), ("waiter:done", 1))}


def test_a_wait_no_write_can_end_is_a_blocked_execution() -> None:
    p = Program("await-never")
    flag = p.var("flag")

    @p.thread
    def setter() -> None:
        store(flag, 2)

    @p.thread
    def waiter() -> None:
        assume(load(flag) == 1, "waiting for flag")

    res = explore(p, "sc")
    # the waiter reads the latest write, 2, and blocks for good: a blocked execution; reading the
    # init 0 that the store supersedes is moot
    assert (res.stats.complete, res.stats.blocked, res.stats.moot) == (0, 1, 1)


def test_nondeterministic_thread_code_is_reported() -> None:
    import itertools

    counter = itertools.count()
    p = Program("nondet")
    x = p.var("x")

    @p.thread
    def t0() -> None:
        store(x, 1)

    @p.thread
    def t1() -> None:
        n = next(counter)
        load(x)
        for _ in range(n % 2):
            load(x)

    with pytest.raises(ModelError):
        explore(p, "sc")


def test_operation_outside_a_thread_is_an_error() -> None:
    p = Program("outside")
    x = p.var("x")
    with pytest.raises(ModelError):
        load(x)


def test_bad_location_and_mode_are_model_errors() -> None:
    p = Program("bad")

    @p.thread
    def t0() -> None:
        load("x")  # type: ignore[arg-type]

    with pytest.raises(ModelError, match="not a shared location"):
        explore(p, "sc")

    q = Program("badmode")
    y = q.var("y")

    @q.thread
    def t1() -> None:
        store(y, 1, "acquire")

    with pytest.raises(ModelError, match="bad mode"):
        explore(q, "sc")


def test_two_racing_rmws_both_orders_are_explored() -> None:
    """Regression: the RMW explored second must also be able to win the race."""
    from rmapwalk.engine import fetch_add

    p = Program("2rmw")
    x = p.var("x")
    for name in ("a", "b"):
        p.thread(lambda: observe("r", fetch_add(x, 1)), name=name)
    res = explore(p, "sc", check_redundancy=True)
    assert res.stats.complete == 2
    assert res.stats.redundant == 0
    assert {dict(o)["a:r"] for o in res.outcomes} == {0, 1}


def test_a_null_pointer_dereference_is_a_violation_not_a_broken_model() -> None:
    """Thread code that loads through a pointer it read as NULL oopses in that execution (the
    publisher's store not yet seen); any other non-location stays a model error."""
    p = Program("null")
    obj, ptr = p.var("obj"), p.var("ptr")

    @p.thread
    def publisher() -> None:
        store(obj, 1)
        store(ptr, int(obj))

    @p.thread
    def reader() -> None:
        observe("v", load(load(ptr)))

    res = explore(p, "sc")
    assert res.verdict == VIOLATED and res.property_counts == {"NULL pointer dereference": 1}
    assert res.stats.complete == 1  # the reader that saw the pointer read the object
    (v,) = res.violations
    assert v.thread == "reader" and "address 0" in v.message

    q = Program("bad")
    q.var("x")

    @q.thread
    def broken() -> None:
        load(-5)

    with pytest.raises(ModelError, match="not a shared location"):
        explore(q, "sc")
