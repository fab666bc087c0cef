"""The complete load-buffering search on a KVM row where a maximality rule loses executions.

``sp-free sp_free=call_rcu`` under LKMM: the optimal search finds 811 executions, and a complete
search that kept TruSt's maximality rule for ordinary revisits (session 13) found 829; with no
maximality rule under load buffering the complete search finds 895 (docs/design.md, "The
complete search").  Each is a distinct consistent execution (counted once by its name, each
checked against every LKMM axiom at its end), so a search that finds fewer misses some."""

from __future__ import annotations

import pytest

from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.kvm.scenarios import SCENARIOS


@pytest.mark.slow
def test_complete_search_finds_every_execution_of_sp_free_call_rcu() -> None:
    sc = SCENARIOS["sp-free"]
    counts = {}
    for search in ("optimal", "complete"):
        res = Explorer(sc.build(sc.switches(sp_free="call_rcu")), "lkmm", Options(lb_search=search)).run()
        assert res.incomplete_reason is None
        assert set(res.property_counts) == {"use-after-free"}
        counts[search] = res.stats.complete
    assert counts == {"optimal": 811, "complete": 895}
