"""Randomized search: sampled executions are real executions, seeds reproduce, verdicts are never
"holds", and every violation replays."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.programs import PROGRAMS
from rmapwalk.engine import INCOMPLETE, VIOLATED, Program, explore
from rmapwalk.engine.explore import Options
from rmapwalk.engine.graph import Graph
from rmapwalk.engine.models import get_model
from rmapwalk.engine.randomized import RandomExplorer, sample
from rmapwalk.engine.replay import graph_to_replay, rebuild
from rmapwalk.examples import broken_lock, mp, sb, spinlock

SMALL = [
    (sb.sb, "sc"),
    (sb.sb, "tso"),
    (sb.sb, "pso"),
    (mp.mp_no_wmb, "pso"),
    (spinlock.spinlock, "sc"),
    (spinlock.spinlock, "tso"),
    (broken_lock.broken_lock, "tso"),
    (PROGRAMS["lastzero"](4), "sc"),
    (PROGRAMS["lastzero"](4), "pso"),
    (PROGRAMS["casrot"](3), "sc"),
    (PROGRAMS["wcas"](3), "tso"),
    (PROGRAMS["casw"](2), "pso"),
]


def _ids(cases: list[tuple[Program, str]]) -> list[str]:
    return [f"{p.name}-{m}" for p, m in cases]


@pytest.mark.parametrize(("prog", "model"), SMALL, ids=_ids(SMALL))
@pytest.mark.parametrize("scheduler", ["uniform", "pct"])
def test_samples_are_consistent_executions_of_the_exhaustive_set(prog: Program, model: str, scheduler: str) -> None:
    keys: set[Any] = set()
    full: set[Any] = set()
    mm = get_model(model)

    # (blocked and moot executions are compared apart: the exhaustive search leaves out the moot ones,
    # where a thread waits on a read a later write supersedes, which random runs still sample)
    def seen(g: Graph, kind: str) -> None:
        assert mm.consistent(g)
        if kind not in ("blocked", "moot"):
            keys.add(g.key())

    def seen_full(g: Graph, kind: str) -> None:
        if kind not in ("blocked", "moot"):
            full.add(g.key())

    ex = explore(prog, model, on_execution=seen_full, keep_violations=1000)
    rnd = RandomExplorer(prog, model, Options(on_execution=seen, keep_violations=1000), seed=7, executions=400,
                         scheduler=scheduler).run()
    assert rnd.stats.executions == 400
    assert keys <= full
    assert rnd.outcome_set() <= ex.outcome_set()
    if scheduler == "uniform" and len(full) <= 16:
        # small enough: 400 uniform samples reach every execution (not every one of lastzero(4)'s 32)
        assert keys == full
        assert rnd.outcome_set() == ex.outcome_set()
    assert rnd.verdict != "holds"
    assert rnd.verdict == (VIOLATED if rnd.violation_count else INCOMPLETE)
    if ex.verdict == VIOLATED and scheduler == "uniform":
        assert rnd.verdict == VIOLATED


@pytest.mark.parametrize("scheduler", ["uniform", "pct"])
def test_same_seed_same_result(scheduler: str) -> None:
    prog = PROGRAMS["lastzero"](6)
    a = sample(prog, "tso", seed=11, executions=300, scheduler=scheduler)
    b = sample(PROGRAMS["lastzero"](6), "tso", seed=11, executions=300, scheduler=scheduler)
    c = sample(PROGRAMS["lastzero"](6), "tso", seed=12, executions=300, scheduler=scheduler)
    assert a.outcomes == b.outcomes
    assert a.stats.events == b.stats.events
    assert a.outcomes != c.outcomes or a.stats.events != c.stats.events


def test_verdict_is_never_holds() -> None:
    res = sample(sb.sb_mb, "tso", seed=1, executions=50)
    assert res.verdict == INCOMPLETE
    assert res.incomplete_reason is not None
    assert res.incomplete_reason.startswith("no violation in 50 sampled executions")


@pytest.mark.parametrize(("prog", "model"), [(sb.sb, "tso"), (mp.mp_no_wmb, "pso"), (broken_lock.broken_lock, "sc")])
@pytest.mark.parametrize("scheduler", ["uniform", "pct"])
def test_violations_replay(prog: Program, model: str, scheduler: str) -> None:
    res = sample(prog, model, seed=5, executions=300, scheduler=scheduler, keep_violations=20)
    assert res.verdict == VIOLATED
    for v in res.violations:
        g = rebuild(prog, v.replay)
        assert graph_to_replay(g, model)["threads"] == v.replay["threads"]
        assert graph_to_replay(g, model)["co"] == v.replay["co"]


def test_pct_depth_and_bad_arguments() -> None:
    res = sample(broken_lock.broken_lock, "sc", seed=2, executions=200, scheduler="pct", depth=1)
    assert res.stats.executions == 200
    with pytest.raises(ValueError):
        sample(sb.sb, "sc", scheduler="nope")
    with pytest.raises(ValueError):
        sample(sb.sb, "sc", executions=0)


def test_timeout_stops_sampling() -> None:
    res = sample(PROGRAMS["lastzero"](8), "sc", seed=1, executions=10**9, timeout=0.3)
    assert res.verdict == INCOMPLETE
    assert res.stats.executions < 10**9
    assert "no violation in" in (res.incomplete_reason or "")
