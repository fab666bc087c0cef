"""Every violation replays to the same execution and the same trace."""

from __future__ import annotations

import pytest

from rmapwalk.engine import Program, explore
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.engine.replay import ReplayError, graph_to_replay, rebuild
from rmapwalk.engine.trace import render
from rmapwalk.examples import broken_lock, mp, sb, spinlock

CASES = [
    (sb.sb, "tso"),
    (sb.sb, "pso"),
    (mp.mp_no_wmb, "pso"),
    (broken_lock.broken_lock, "sc"),
    (broken_lock.broken_lock, "tso"),
    (broken_lock.broken_lock, "pso"),
]


@pytest.mark.parametrize(("prog", "model"), CASES, ids=[f"{p.name}-{m}" for p, m in CASES])
def test_every_violation_replays_to_the_same_trace(prog: Program, model: str) -> None:
    traces: list[tuple[dict, str]] = []

    def keep(g, kind):  # type: ignore[no-untyped-def]
        if kind == "error" or (kind == "complete" and False):
            traces.append((graph_to_replay(g, model), render(g, model)))

    res = Explorer(prog, model, Options(keep_violations=100, on_execution=keep)).run()
    assert res.violations
    for v in res.violations:
        g = rebuild(prog, v.replay)
        again = rebuild(prog, v.replay)
        assert render(g, model) == render(again, model)
        assert graph_to_replay(g, model)["threads"] == v.replay["threads"]
        assert graph_to_replay(g, model)["co"] == v.replay["co"]
    # the traces recorded while exploring are exactly those rebuilt from the replay data
    for data, text in traces:
        assert render(rebuild(prog, data), model) == text


def test_replay_rejects_an_inconsistent_execution() -> None:
    res = explore(sb.sb, "tso")
    data = res.violations[0].replay
    bad = dict(data, model="sc")  # store buffering is not an SC execution
    with pytest.raises(ReplayError, match="not consistent"):
        rebuild(sb.sb, bad)


def test_replay_rejects_foreign_data() -> None:
    with pytest.raises(ReplayError):
        rebuild(sb.sb, {"format": "something else"})
    res = explore(sb.sb, "tso")
    with pytest.raises(ReplayError):
        rebuild(spinlock.spinlock, res.violations[0].replay | {"threads": res.violations[0].replay["threads"][:1]})
