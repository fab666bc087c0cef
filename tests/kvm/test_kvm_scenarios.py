"""The scenario registry (kvm.scenarios): every expected verdict of every scenario, under every
model it names, with exactly the expected properties; every counterexample replays; and the
end-to-end invariants catch a harvest that does not flush (break one thing, see it fire)."""

from __future__ import annotations

import os

import pytest

import rmapwalk.kvm.dirty_log as dirty_log
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.kvm import Switches
from rmapwalk.kvm.invariants import I1, I2
from rmapwalk.kvm.scenarios import SCENARIOS, Expect, Scenario, check, seed
from rmapwalk.kvm.scenarios.lost_dirty import one_vcpu_two_harvests

#: the rows the default review runs (each scenario's quick models), and the others (the LKMM rows of
#: the older questions, 1-240 s each: ``review --full``, RMAPWALK_SLOW=1, run by .ci/run)
ROWS = [(sc, e) for sc in SCENARIOS.values() for e in sc.expected
        if sc.quick_models is None or e.model in sc.quick_models]
FULL_ROWS = [(sc, e) for sc in SCENARIOS.values() for e in sc.expected
             if sc.quick_models is not None and e.model not in sc.quick_models]


def test_registry() -> None:
    assert {"baseline-locked", "mark-order", "desc-reuse", "large-spte", "sp-free", "spt-reuse",
            "remove-move", "flush-rule", "flush-outside-lock", "clear-track-bits", "desc-init",
            "fast-pf-indirect"} <= set(SCENARIOS)
    for name, sc in SCENARIOS.items():
        assert sc.name == name and sc.question.endswith("?") and sc.expected
        if sc.name in {s.name for s in seed.SCENARIOS}:  # the seed's questions: x86 and portably
            assert {"sc", "tso", "pso"} <= {e.model for e in sc.expected} <= set(seed.MODELS)
        elif sc.review == "2013":  # x86 and PSO by default, LKMM with review --full
            assert {"sc", "tso", "pso"} <= {e.model for e in sc.expected} <= {"sc", "tso", "pso", "lkmm"}
            assert sc.quick_models in (None, ("sc", "tso", "pso")) and sc.size
        else:  # the 2025 scenarios also run under LKMM
            assert {"sc", "tso", "pso", "lkmm"} <= {e.model for e in sc.expected}
        assert any(e.verdict == "holds" for e in sc.expected)
        if sc.races:
            assert any(e.verdict == "violated" for e in sc.expected)
    mo = SCENARIOS["mark-order"]
    sw = mo.switches(mark_order="after_rmap")
    assert sw.write_protect == "lockless" and sw.mark_order == "after_rmap" and sw.pte_list_ext == 3
    assert mo.switches(Switches(flush_rule="mmu_writable")).flush_rule == "mmu_writable"  # a preset under the base


@pytest.mark.parametrize(("scenario", "row"), ROWS, ids=[f"{sc.name}:{e.describe()}" for sc, e in ROWS])
def test_expected_verdict(scenario: Scenario, row: Expect) -> None:
    _check_row(scenario, row)


@pytest.mark.skipif(not os.environ.get("RMAPWALK_SLOW"), reason="the LKMM rows of review --full, minutes in all: "
                    "RMAPWALK_SLOW=1 (run by .ci/run)")
@pytest.mark.parametrize(("scenario", "row"), FULL_ROWS, ids=[f"{sc.name}:{e.describe()}" for sc, e in FULL_ROWS])
def test_expected_verdict_of_the_full_review(scenario: Scenario, row: Expect) -> None:
    _check_row(scenario, row)


def _check_row(scenario: Scenario, row: Expect) -> None:
    sw = scenario.switches(**row.settings)
    res = check(scenario, sw, row.model, keep_violations=1)
    assert res.verdict == row.verdict, res.violations[:1]
    assert res.incomplete_reason is None
    assert set(res.property_counts) == row.properties  # every violation found, not only the kept one
    if res.violations:  # the first counterexample replays to the same trace
        v = res.violations[0]
        assert render(rebuild(scenario.build(sw), v.replay), row.model)


@pytest.mark.parametrize("write_protect", ["locked", "lockless"])
def test_a_harvest_without_its_flush_loses_pages(write_protect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Break one thing (get_dirty_log's kvm_flush_remote_tlbs): I1 fires, and I2 too where it is
    checked; with the flush both hold."""
    sw = Switches(write_protect=write_protect, mark_order="after_rmap")
    for check_i2 in (False, True):
        ok = check(Scenario("x", "?", (), {}, lambda s, c=check_i2: one_vcpu_two_harvests(s, "x", check_i2=c)), sw)
        assert ok.verdict == "holds"
    monkeypatch.setattr(dirty_log, "kvm_flush_remote_tlbs", lambda kvm: None)
    for check_i2, fired in ((False, {I1}), (True, {I1, I2})):
        prog = one_vcpu_two_harvests(sw, "noflush", check_i2=check_i2)
        res = check(Scenario("x", "?", (), {}, lambda s, p=prog: p), sw, keep_violations=10_000)
        assert {v.kind for v in res.violations} == fired


def test_review_switches_exist_with_their_docs() -> None:
    from rmapwalk.kvm.switches import SWITCHES

    for name in ["write_protect", "mark_order", "wmb_before_mark", "sp_free", "leaf_check", "flush_rule",
                 "flush_location", "large_wp", "fast_pf_large", "fast_pf_indirect"]:
        assert name in SWITCHES and len(SWITCHES[name].doc) > 60
    assert "NOT IMPLEMENTED" not in SWITCHES["sp_free"].doc
    sw = Switches()
    assert (sw.write_protect, sw.mark_order, sw.flush_rule, sw.flush_location, sw.large_wp) == (
        "locked", "mark_first", "writable", "under_lock", "zap")  # the defaults are 3.11


def test_mark_order_trace_reads_like_the_race() -> None:
    """R6's counterexample: the harvester takes the bit and finds the rmap still empty; the copy
    is older than the page."""
    sc = SCENARIOS["mark-order"]
    sw = sc.switches(mark_order="mark_first")
    res = check(sc, sw, "sc", keep_violations=10_000)
    v = next(v for v in res.violations if v.kind == I1)
    trace = render(rebuild(sc.build(sw), v.replay), "sc")
    assert "set_bit(slot0.dirty_bitmap[0])" in trace and "xchg(slot0.dirty_bitmap[0])" in trace
    assert "READ_ONCE(slot0.rmap[1][0]) = 0" in trace


def test_fast_pf_indirect_irq_off_walk_holds() -> None:
    """R1 needs a lockless walk that flushes do not wait for: with 3.11's interrupts-off walk
    (mode READING_SHADOW_PAGE_TABLES) the notifier's flush waits for the fast path, and even the
    allowed fast path on the indirect page holds."""
    from rmapwalk.engine import explore
    from rmapwalk.kvm.scenarios.indirect import fast_pf_indirect

    sc = SCENARIOS["fast-pf-indirect"]
    res = explore(fast_pf_indirect(sc.switches(fast_pf_indirect="allow"), walk_rcu=False), "sc")
    assert res.verdict == "holds", res.violations[:1]


def test_fast_pf_indirect_trace_marks_the_old_gfn() -> None:
    """R1's counterexample: the fast path's cmpxchg succeeds after gfn 2 was mapped at the entry,
    and it marks gfn 1 (bit 1), not gfn 2."""
    sc = SCENARIOS["fast-pf-indirect"]
    sw = sc.switches(fast_pf_indirect="allow")
    res = check(sc, sw, "sc", keep_violations=1, stop_on_first=True)
    trace = render(rebuild(sc.build(sw), res.violations[0].replay), "sc")
    assert "cmpxchg(mmu_page_spt#0.spt[0])" in trace and "plain read(mmu_page_header#0.gfns[0]) = 1" in trace


def test_fast_pf_indirect_with_i8_stops_at_the_cmpxchg() -> None:
    """The scenario runs without I8, so the allowed fast path ends in the lost write (I1, its
    expected row); with the I8 check on, the same run stops earlier, at the fast path's cmpxchg on
    an indirect page (I8 is the fast-path discipline, violated by definition there)."""
    import dataclasses

    from rmapwalk.kvm.invariants import I8

    sc = SCENARIOS["fast-pf-indirect"]
    assert "I8" not in sc.checks
    sw = sc.switches(fast_pf_indirect="allow")
    res = check(dataclasses.replace(sc, checks=("I3", "I8", "I11")), sw, "sc", keep_violations=1)
    assert set(res.property_counts) == {I8}


def test_desc_reuse_loses_the_write_end_to_end() -> None:
    """R9 end to end: with vcpu0's write and without the I5 declaration, the walk that ends in
    gfn 1's chain leaves a writable and vcpu0's write after the harvest is reported by no one (I1).
    (The same program with nulls holds: 7-9 s, covered by the review's history, not run here.)"""
    from rmapwalk.engine import explore
    from rmapwalk.kvm.scenarios.lost_dirty import desc_reuse

    sc = SCENARIOS["desc-reuse"]
    broken = explore(desc_reuse(sc.switches(nulls="off")), "sc", keep_violations=1, stop_on_first=True)
    assert broken.verdict == "violated" and set(broken.property_counts) == {I1}
