"""The tutorial's examples give the documented verdicts under each model."""

from __future__ import annotations

import pytest

from rmapwalk.engine import explore
from rmapwalk.examples import broken_lock, mp, sb, spinlock

EXPECTED = {
    # program: (sc, tso, pso)
    "SB": ("holds", "violated", "violated"),
    "SB+mb": ("holds", "holds", "holds"),
    "MP+wmb+rmb": ("holds", "holds", "holds"),
    "MP+rmb": ("holds", "holds", "violated"),
    "spinlock-2": ("holds", "holds", "holds"),
    "broken-lock": ("violated", "violated", "violated"),
}
PROGS = [sb.sb, sb.sb_mb, mp.mp, mp.mp_no_wmb, spinlock.spinlock, broken_lock.broken_lock]


@pytest.mark.parametrize("prog", PROGS, ids=[p.name for p in PROGS])
@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
def test_example_verdicts(prog, model) -> None:  # type: ignore[no-untyped-def]
    res = explore(prog, model, check_redundancy=True)
    assert res.verdict == EXPECTED[prog.name][["sc", "tso", "pso"].index(model)]
    assert res.stats.redundant == 0


@pytest.mark.parametrize("n", [2, 3, 4])
def test_spinlock_executions_are_the_lock_orders(n: int) -> None:
    import math

    res = explore(spinlock.make(n), "sc", check_redundancy=True)
    assert res.verdict == "holds"
    assert res.stats.complete == math.factorial(n)
    assert res.stats.redundant == 0


def test_removing_the_lock_loses_an_update() -> None:
    from rmapwalk.engine import Program
    from rmapwalk.kernel import READ_ONCE, WRITE_ONCE

    p = Program("nolock")
    c = p.var("counter")
    for i in range(2):
        p.thread(lambda: WRITE_ONCE(c, READ_ONCE(c) + 1), name=f"cpu{i}")
    p.require(lambda f: f["counter"] == 2, "no increment lost")
    res = explore(p, "sc")
    assert res.verdict == "violated"
    assert res.violations[0].kind == "no increment lost"
