"""The 2025 model: the per-rmap lock (kvm.rmap_lock), 6.15's pte-list (kvm.pte_list_615) and
lockless aging (kvm.aging).  Every expected verdict of the 2025 scenarios is asserted by
tests/kvm/test_kvm_scenarios.py (it runs every scenario's table); here: the structures, the
preset, each invariant catching exactly its race (break one thing, see that property fire), the
opt-in I12 monitor on every broken setting, and the traces the review shows."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import rmapwalk.kvm.aging as aging
from rmapwalk.engine import Program, Result, explore
from rmapwalk.engine.ops import observe
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.kernel import spin_lock, spin_unlock
from rmapwalk.kvm import KvmMmu, Switches
from rmapwalk.kvm.aging import I10_YOUNG, kvm_age_gfn, kvm_test_age_gfn, mark_spte_for_access_track
from rmapwalk.kvm.invariants import I10
from rmapwalk.kvm.presets import PRESETS, preset_switches
from rmapwalk.kvm.pte_list import pte_list_add, pte_list_entries, pte_list_layout, pte_list_remove, rmap_walk
from rmapwalk.kvm.pte_list_615 import RMAP_EXACT, kvm_zap_all_rmap_sptes, layout_problems
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.rmap_lock import I12, KVM_RMAP_LOCKED, KVM_RMAP_MANY, RMAP_LOCK_SITES
from rmapwalk.kvm.scenarios import SCENARIOS, Scenario, check
from rmapwalk.kvm.scenarios.aging import BASE, DEADLOCK, UAF
from rmapwalk.kvm.spte import PT_ACCESSED_MASK, PT_DIRTY_MASK, make_spte

AGING = [sc for sc in SCENARIOS.values() if sc.review == "2025"]


def props(res: Result) -> set[str]:
    return set(res.property_counts)


def run(sc: Scenario, model: str = "sc", keep: int = 1, **settings: Any) -> Result:
    res = check(sc, sc.switches(**settings), model, keep_violations=keep)
    assert res.incomplete_reason is None
    return res


def with_checks(name: str, checks: tuple[str, ...]) -> Scenario:
    return dataclasses.replace(SCENARIOS[name], checks=checks)


# -- registry, switches, preset -----------------------------------------------------------------

def test_the_2025_scenarios_and_their_models() -> None:
    names = {sc.name for sc in AGING}
    assert {"age-vs-add", "age-vs-remove", "age-vs-zap", "age-empty-rmap", "age-ordering", "head-reread",
            "age-empty-walk", "age-clear", "age-three-way"} == names
    for sc in AGING:
        models = {e.model for e in sc.expected}
        assert {"sc", "tso", "pso", "lkmm"} <= models, sc.name
        assert any(e.verdict == "holds" for e in sc.expected) and any(e.verdict == "violated" for e in sc.expected)
        assert sc.switches().pte_list == "6.15" and sc.switches().rmap_lock == "locked"
    assert "lkmm-alpha" in {e.model for e in SCENARIOS["age-ordering"].expected}
    # each switch of the issue is varied by some scenario
    varied = {k for sc in AGING for e in sc.expected for k in e.settings}
    assert {"rmap_lock", "empty_rmap", "readonly_unlock", "rmap_lock_order", "head_reads", "age_clear",
            "walk_start"} <= varied


def test_preset_upstream_615() -> None:
    sw = preset_switches("upstream-6.15")
    assert (sw.pte_list, sw.rmap_lock, sw.empty_rmap, sw.readonly_unlock, sw.rmap_lock_order, sw.head_reads,
            sw.age_clear) == ("6.15", "locked", "skip", "restore_locked_value", "acquire_release", "once",
                              "clear_bit")
    assert sw.flush_rule == "mmu_writable" and sw.large_wp == "readonly"  # the merged 2013 prep patches
    assert {k: v for k, v in BASE.items() if k not in ("pte_list_ext", "spt_entries")} == {
        k: v for k, v in PRESETS["upstream-6.15"].values.items() if k not in ("pte_list_ext", "spt_entries")}
    with pytest.raises(ValueError, match="rmap_lock"):
        Switches(rmap_lock="sometimes")


def test_rmap_lock_sites_name_kernel_primitives() -> None:
    import rmapwalk.kernel as kernel

    for _site, (fn, prims) in RMAP_LOCK_SITES.items():
        assert fn.startswith("rmapwalk.kvm.rmap_lock.")
        assert set(prims) == {"acquire_release", "release_only", "full_cmpxchg", "relaxed"}
        for p in prims.values():
            assert hasattr(kernel, p)


# -- 6.15's pte-list --------------------------------------------------------------------------------

def _vm(**kw: Any) -> tuple[Program, KvmMmu]:
    p = Program("pte-list-615")
    sw = Switches(**{**BASE, **kw})
    return p, KvmMmu(p, sw, npages=2, log_dirty_pages=False, desc_capacity=3, sp_capacity=1)


S = [0x1000 * (i + 1) for i in range(6)]  # spte addresses (the lists never dereference them here)


def test_tail_count_layout_add_and_remove() -> None:
    p, kvm = _vm()
    head = gfn_to_rmap(kvm, 0, 1)
    mem = lambda a: p.init.get(int(a), 0)  # noqa: E731
    with kvm.building():
        assert [pte_list_add(kvm, s, head) for s in S[:5]] == [0, 1, 2, 3, 4]
    lay = pte_list_layout(kvm, head, mem)
    # the head desc holds the newest entry; every tail desc is full; tail_count counts what follows
    assert [(c, t) for c, t, _ in lay[:-1]] == [(1, 4), (2, 2), (2, 0)] and lay[-1] == 0
    assert pte_list_entries(kvm, head, mem) == [S[4], S[2], S[3], S[0], S[1]]
    assert layout_problems(kvm, head, mem) == []
    with kvm.building():
        pte_list_remove(kvm, S[0], head)  # refilled from the head desc's last entry; head freed
    assert pte_list_entries(kvm, head, mem) == [S[2], S[3], S[4], S[1]]
    assert layout_problems(kvm, head, mem) == [] and mem(head) & KVM_RMAP_MANY
    with kvm.building():
        for s in (S[1], S[2], S[3]):
            pte_list_remove(kvm, s, head)
    # one entry left, in a desc: a chain is not collapsed back to a single pointer
    assert mem(head) & KVM_RMAP_MANY and pte_list_entries(kvm, head, mem) == [S[4]]
    assert layout_problems(kvm, head, mem) == []


def test_kvm_zap_all_rmap_sptes_and_the_locked_iterator() -> None:
    p, kvm = _vm()
    head = gfn_to_rmap(kvm, 0, 1)
    ptr = [kvm.spt_entry(kvm.spt_cache.objects[0], i) for i in range(2)]
    with kvm.building():
        for s in ptr:
            kvm.set_initial(s, make_spte(0x100, 1))
            pte_list_add(kvm, s, head)
    @p.thread
    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        observe("seen", tuple(sorted(int(x) for x in rmap_walk(kvm, head))))
        assert kvm_zap_all_rmap_sptes(kvm, head)
        assert not kvm_zap_all_rmap_sptes(kvm, head)  # empty now: nothing to do
        spin_unlock(kvm.mmu_lock)

    p.observe_locations([_loc(p, head), *(_loc(p, s) for s in ptr)])
    res = explore(p, "sc")
    assert res.verdict == "holds"
    (final, _), = res.outcomes.items()
    f = dict(final)
    assert f["zap:seen"] == tuple(sorted(ptr)) and f["slot0.rmap[1][0]"] == 0
    assert all(v == 0 for k, v in f.items() if k.startswith("mmu_page_spt"))


def test_pte_list_615_needs_two_slots() -> None:
    from rmapwalk.engine.runtime import ModelError

    p, kvm = _vm(pte_list_ext=1)
    with pytest.raises(ModelError, match="pte_list_ext >= 2"), kvm.building():
        pte_list_add(kvm, S[0], gfn_to_rmap(kvm, 0, 1))


def test_lock_bit_is_not_a_pointer_bit() -> None:
    """Every spte pointer has bits 0 and 1 clear in the 6.15 layout (bit 1 is KVM_RMAP_LOCKED)."""
    p, kvm = _vm(spt_entries=4)
    for obj in kvm.spt_cache.objects:
        for i in range(4):
            assert kvm.spt_entry(obj, i) & (KVM_RMAP_MANY | KVM_RMAP_LOCKED) == 0


def test_mark_spte_for_access_track_clears_only_accessed() -> None:
    s = make_spte(0x100, 1, True, dirty=True)
    assert mark_spte_for_access_track(s) == s & ~PT_ACCESSED_MASK and mark_spte_for_access_track(s) & PT_DIRTY_MASK


# -- each invariant catches its race --------------------------------------------------------------

def test_no_rmap_update_lost_catches_a_write_back_over_a_fill() -> None:
    """Break one thing (the read-only unlock writes back 0 for an rmap it did not lock): the
    page fault's fill is lost and only 'no rmap update lost' fires."""
    sc = SCENARIOS["age-empty-rmap"]
    assert props(run(sc, readonly_unlock="restore_locked_value")) == set()
    assert props(run(sc, readonly_unlock="write_zero")) == {RMAP_EXACT}


def test_i10_young_catches_a_walk_that_misses_an_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break one thing (the lockless walk skips the first entry of the rmap): the aging reader
    reports gfn 0 old although its spte a was Accessed throughout; only I10's aging half fires."""
    sc = SCENARIOS["age-ordering"]
    assert props(run(sc)) == set()
    real = aging.rmap_iterate

    def skip_first(kvm: KvmMmu, rmap_val: Any, read: Any = None) -> Any:
        for n, s in enumerate(real(kvm, rmap_val, read)):
            if n:
                yield s

    monkeypatch.setattr(aging, "rmap_iterate", skip_first)
    assert props(run(sc)) == {I10_YOUNG}


def test_i4_catches_a_reader_without_the_lock() -> None:
    """Break one thing (no rmap lock): the reader clears Accessed through an sptep whose table
    the notifier zapped and freed; only the use-after-free check fires."""
    sc = SCENARIOS["age-vs-zap"]
    res = run(sc, keep=10, rmap_lock="none")
    assert props(res) == {UAF}
    assert any("mmu_page_spt" in v.message and "ager" in v.message for v in res.violations)


def test_deadlock_catches_a_lock_left_held() -> None:
    """Break one thing (empty rmaps are locked, but the read-only unlock of 0 writes nothing): the
    next writer spins on KVM_RMAP_LOCKED forever."""
    sc = SCENARIOS["age-empty-rmap"]
    res = run(sc, keep=1, empty_rmap="lock", readonly_unlock="restore_locked_value")
    assert props(res) == {DEADLOCK}
    assert "__kvm_rmap_lock" in res.violations[0].message


def test_i10_dirty_catches_a_plain_store() -> None:
    sc = SCENARIOS["age-clear"]
    assert props(run(sc, age_clear="store")) == {I10}
    assert props(run(sc, age_clear="clear_bit")) == set()


# -- the I12 monitor -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "settings", "fires"), [
    ("head-reread", {"head_reads": "once"}, False),
    ("head-reread", {"head_reads": "reread"}, True),
    ("age-empty-rmap", {"readonly_unlock": "restore_locked_value"}, False),
    ("age-empty-rmap", {"readonly_unlock": "write_zero"}, True),
    ("age-empty-rmap", {"readonly_unlock": "write_reread_value"}, True),
    ("age-empty-rmap", {"empty_rmap": "lock", "readonly_unlock": "write_zero"}, True),
    ("age-vs-remove", {}, False),
    ("age-ordering", {}, False),
])
def test_i12_monitor(name: str, settings: dict[str, Any], fires: bool) -> None:
    """With the monitor on, each break of the single-word discipline stops its thread at the
    offending access with I12 (and nothing else fires: the consequence never happens); the
    6.15 settings hold with it on."""
    sc = with_checks(name, ("I12",))
    res = run(sc, **settings)
    assert props(res) == ({I12} if fires else set())


def test_i12_monitor_says_what_broke() -> None:
    res = run(with_checks("head-reread", ("I12",)), head_reads="reread")
    assert "pte_list_add reads the head word" in res.violations[0].message
    res = run(with_checks("age-empty-rmap", ("I12",)), readonly_unlock="write_zero")
    assert "did not lock" in res.violations[0].message
    res = run(with_checks("age-empty-rmap", ("I12",)), empty_rmap="lock", readonly_unlock="write_zero")
    assert "empty rmaps are never locked" in res.violations[0].message


# -- traces ----------------------------------------------------------------------------------------

def trace_of(sc: Scenario, model: str, **settings: Any) -> str:
    sw = sc.switches(**settings)
    res = check(sc, sw, model, keep_violations=1)
    assert res.violations
    return render(rebuild(sc.build(sw), res.violations[0].replay), model)


def test_age_empty_walk_trace_reads_the_head_twice() -> None:
    """The v9 window: the reader's lock finds the rmap empty, the walk reads it again, finds the
    fault's spte and reads it after the zap freed its table."""
    t = trace_of(SCENARIOS["age-empty-walk"], "sc")
    lines = t.splitlines()
    col = lines[0].rindex("| ager")  # the reader's column
    reader = [x[col + 1:].strip() for x in lines[2:] if len(x) > col + 1 and x[col + 1:].strip()]
    assert reader[0].startswith("atomic_long_read(slot0.rmap[1][0]) = 0")
    assert reader[1].startswith("atomic_long_read(slot0.rmap[1][0]) = &mmu_page_spt#1")
    assert "kmem_cache_free(mmu_page_spt.freelist)" in t


def test_age_ordering_trace_shows_the_store_buffer() -> None:
    t = trace_of(SCENARIOS["age-ordering"], "pso", rmap_lock_order="relaxed")
    assert "atomic_long_set(slot0.rmap[1][0], &pte_list_desc#0|1)" in t and "-> store buffer" in t
    assert "plain read(pte_list_desc#0.sptes[0]) = 0" in t


def test_trace_shows_the_lock_bit() -> None:
    t = trace_of(SCENARIOS["age-ordering"], "pso", rmap_lock_order="relaxed")
    assert "&pte_list_desc#0|3" in t  # desc | KVM_RMAP_MANY | KVM_RMAP_LOCKED


# -- the aging functions -------------------------------------------------------------------------

@pytest.mark.parametrize("test_only", [False, True])
def test_aging_alone_reports_young_and_clears(test_only: bool) -> None:
    p, kvm = _vm()
    head = gfn_to_rmap(kvm, 0, 1)
    ptr = [kvm.spt_entry(kvm.spt_cache.objects[0], i) for i in range(2)]
    with kvm.building():
        for s in ptr:
            kvm.set_initial(s, make_spte(0x100, 1, True))
            pte_list_add(kvm, s, head)
    p.observe_locations([_loc(p, s) for s in ptr])

    @p.thread
    def ager() -> None:
        observe("young0", kvm_test_age_gfn(kvm, 0) if test_only else kvm_age_gfn(kvm, 0))
        observe("young1", kvm_test_age_gfn(kvm, 1))  # an empty rmap: old, nothing locked

    res = explore(p, "sc")
    assert res.verdict == "holds"
    (final, _), = res.outcomes.items()
    f = dict(final)
    assert (f["ager:young0"], f["ager:young1"]) == (True, False)
    accessed = [v & PT_ACCESSED_MASK for k, v in f.items() if k.startswith("mmu_page_spt")]
    assert accessed == ([PT_ACCESSED_MASK] * 2 if test_only else [0, 0])


def _loc(p: Program, addr: int) -> Any:
    from rmapwalk.engine.program import Loc

    return Loc(int(addr), p.names[int(addr)])


# -- the helpers' single-word discipline, as events ------------------------------------------------

def _head_events(head_reads: str) -> list[str]:
    """The labels of the events a writer makes on the head word for one add and one remove."""
    from rmapwalk.kvm.mmu_checks import kvm_mmu_unlock

    p, kvm = _vm(head_reads=head_reads)
    head = gfn_to_rmap(kvm, 0, 1)
    with kvm.building():
        pte_list_add(kvm, S[0], head)
        pte_list_add(kvm, S[1], head)

    @p.thread
    def writer() -> None:
        spin_lock(kvm.mmu_lock)
        pte_list_add(kvm, S[2], head)   # the head desc is full: a new head desc
        pte_list_remove(kvm, S[2], head)  # the new head desc empties: freed
        kvm_mmu_unlock(kvm)

    from rmapwalk.engine.explore import Explorer, Options

    labels: list[str] = []

    def grab(gr: Any, kind: str) -> None:
        if not labels:
            labels.extend(e.node.label for e in gr.threads[0] if e.loc == int(head) and e.node is not None)

    assert Explorer(p, "sc", Options(on_execution=grab)).run().verdict == "holds"
    return labels


def test_helpers_touch_the_head_word_once_each() -> None:
    """With head_reads=once each helper reads the word once (its lock: a read, then the
    try_cmpxchg) and writes it once (its unlock); with reread, pte_list_add reads it again at each
    use and stores the new head desc in the middle of the change."""
    once = _head_events("once")  # (the try_cmpxchg is two events: its read and its write)
    assert once == ["atomic_long_read", "atomic_long_try_cmpxchg_acquire", "atomic_long_try_cmpxchg_acquire",
                    "atomic_long_set_release"] * 2
    reread = _head_events("reread")
    assert reread.count("atomic_long_set") >= 2 and len(reread) > len(once)


def test_writers_need_mmu_lock() -> None:
    p, kvm = _vm()

    @p.thread
    def writer() -> None:
        pte_list_add(kvm, S[0], gfn_to_rmap(kvm, 0, 1))

    assert props(explore(p, "sc")) == {"lock misuse"}


def test_review_runs_only_the_rows_of_the_table() -> None:
    from rmapwalk.review import scenario_models

    sc = SCENARIOS["age-three-way"]
    assert scenario_models(sc, {"rmap_lock": "locked"}) == ["sc", "tso", "pso", "lkmm"]
    assert scenario_models(sc, {"rmap_lock": "none"}) == ["sc", "tso", "pso"]
    assert scenario_models(SCENARIOS["age-ordering"]) == ["sc", "tso", "pso", "lkmm", "lkmm-alpha"]
