"""The explorer's shortcuts under LKMM change what it costs, never what it finds.

``LKMM.hb_ahead`` lets the explorer reject a gap read's choices without building relations: what
it returns must be events the read happens before (so reading one of them closes an hb cycle),
and the exploration must be the same with and without it, down to every statistic.  The KVM
scenarios are where load-buffering graphs with gaps, acquire reads and locks meet.
"""

from __future__ import annotations

from typing import Any

import pytest

from rmapwalk.engine.explore import Explorer
from rmapwalk.engine.graph import Ev, Graph
from rmapwalk.engine.lkmm import LKMM, plus
from rmapwalk.kvm.scenarios import SCENARIOS
from rmapwalk.review import settings_of

RUNS = [("rcu-accessors", {"publish": "wmb"}), ("large-spte", {"large_wp": "readonly", "fast_pf_large": "allow"})]


def _program(name: str, settings: dict[str, Any]) -> Any:
    sc = SCENARIOS[name]
    assert any(all(st.get(k) == v for k, v in settings.items()) for st in settings_of(sc)), settings
    return sc.build(sc.switches(None, **settings))


@pytest.mark.parametrize("name,settings", RUNS, ids=[r[0] for r in RUNS])
def test_hb_ahead_is_part_of_hb(name: str, settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    asked = [0, 0]
    orig = LKMM.hb_ahead

    def checked(self: LKMM, g: Graph, r: Ev) -> set[int]:
        got = orig(self, g, r)
        rel = self.relations(g)
        rel.hb_ok  # noqa: B018 (builds hb whole, or finds the quick cycle)
        if rel._hb is None:  # (a (ppo | rfe) cycle: hb is cyclic, no need to build it)
            return got
        closure = plus(rel.hb)
        row = closure[rel.index[id(r)]]
        for i, e in enumerate(rel.evs):
            if id(e) in got:
                assert row >> i & 1, (r, e)
        asked[0] += 1
        asked[1] += len(got)
        return got

    monkeypatch.setattr(LKMM, "hb_ahead", checked)
    Explorer(_program(name, settings), "lkmm").run()
    assert asked[0] > 0  # (the shortcut was asked, on graphs whose hb is acyclic)


@pytest.mark.parametrize("name,settings", RUNS, ids=[r[0] for r in RUNS])
def test_the_same_exploration_without_hb_ahead(name: str, settings: dict[str, Any]) -> None:
    with_it = Explorer(_program(name, settings), "lkmm")
    assert with_it.hb_ahead is not None
    a = with_it.run()
    without = Explorer(_program(name, settings), "lkmm")
    without.hb_ahead = None
    b = without.run()
    keys = ("complete", "blocked", "events", "inconsistent", "lb_duplicates", "lb_dropped", "moot", "errors")
    assert {k: getattr(a.stats, k) for k in keys} == {k: getattr(b.stats, k) for k in keys}
    assert a.verdict == b.verdict and a.outcomes == b.outcomes


PLAIN_RUNS = [pytest.param("sp-rcu", {"sp_free": "call_rcu"}, id="sp-rcu"),
              # (40 s: in CI's slow step)
              pytest.param("large-spte", {"large_wp": "zap", "fast_pf_large": "allow"}, id="large-spte",
                           marks=pytest.mark.slow)]


@pytest.mark.parametrize("name,settings", PLAIN_RUNS)
def test_plain_coherence_at_each_choice_prunes_and_loses_nothing(name: str, settings: dict[str, Any],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking plain-coherence of growing graphs (always, never, or as LKMM.prefix_consistent
    decides) changes how many graphs run to their ends, never the executions found."""
    def run(mode: str) -> Any:
        ex = Explorer(_program(name, settings), "lkmm")
        model = ex.model
        assert isinstance(model, LKMM)
        if mode == "always":
            model._plain_hits = 10**9
        elif mode == "never":
            monkeypatch.setattr(model, "prefix_consistent",
                                lambda g: model.relations(g).prefix_consistent_but_plain())
        return ex.run()

    always, never, default = run("always"), run("never"), run("default")
    assert always.stats.events < never.stats.events  # (it rejects graphs here)
    for res in (always, default):
        assert (res.verdict, res.stats.complete, res.stats.blocked, res.stats.errors) == \
            (never.verdict, never.stats.complete, never.stats.blocked, never.stats.errors)
        assert res.outcomes == never.outcomes and res.property_counts == never.property_counts
