"""Invariants I3, I5, I6 and I11 (``kvm-reference.md`` §5.2): each catches its bug (break one
thing, see exactly that property fire) and holds on the fixed setting."""

from __future__ import annotations

import pytest

import rmapwalk.kvm.spte_ops as spte_ops
import rmapwalk.kvm.vcpu as vcpu_mod
from rmapwalk.engine import Program, Result, explore
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.kernel import spin_lock, spin_unlock
from rmapwalk.kernel.nulls import NULLS_MARKER
from rmapwalk.kvm import KvmMmu, Switches
from rmapwalk.kvm.mmu_checks import I3, I11, kvm_mmu_unlock
from rmapwalk.kvm.pte_list import I5, I6, pte_list_add, pte_list_descs, pte_list_remove, pte_list_walk_lockless
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.scenarios import SCENARIOS, Expect
from rmapwalk.kvm.spte_ops import drop_spte
from rmapwalk.kvm.vcpu import guest_write, kvm_create_vcpu, mmu_alloc_direct_roots, prefault_spte, shadow_index

SERIES = Switches(pte_list="head", pte_list_ext=1, desc_cache="typesafe_by_rcu", nulls="on",
                  desc_init="careful")
A, B, C, E = 0x100, 0x102, 0x104, 0x106  # spte addresses only (the lists never dereference them)


def kinds(res: Result) -> set[str]:
    return {v.kind for v in res.violations}


def run(prog: Program, model: str = "sc") -> Result:
    res = explore(prog, model, keep_violations=3)
    for v in res.violations:  # every counterexample replays
        assert render(rebuild(prog, v.replay), model)
    return res


# -- I6 the lockless walk terminates ---------------------------------------------------------------------

def walker_with_chain_end(sw: Switches, *, wrong_marker: bool, remover: bool) -> Program:
    """gfn 0's rmap holds a and b in two descs (PTE_LIST_EXT = 1).  With ``wrong_marker`` (a
    deliberately broken initial state: the chain ends with gfn 1's nulls marker instead of gfn
    0's), the walker restarts forever; otherwise it restarts only when a concurrent remover
    (``remover``) changes the chain under it."""
    p = Program(f"walker-chain-end[{sw.describe()} wrong={wrong_marker}]")
    kvm = KvmMmu(p, sw, npages=2, desc_capacity=3)
    heads = [gfn_to_rmap(kvm, 0, 1), gfn_to_rmap(kvm, 1, 1)]
    with kvm.building():
        pte_list_add(kvm, A, heads[0])
        pte_list_add(kvm, B, heads[0])
        pte_list_add(kvm, E, heads[1])
    if wrong_marker:
        last = pte_list_descs(kvm, heads[0], lambda a: p.init.get(a, 0))[-1]
        kvm.set_initial(last + kvm.ext, NULLS_MARKER(int(heads[1])))

    @p.thread
    def reader() -> None:
        pte_list_walk_lockless(kvm, heads[0], lambda s: None)

    if remover:
        @p.thread
        def writer() -> None:
            spin_lock(kvm.mmu_lock)
            pte_list_remove(kvm, A, heads[0])
            spin_unlock(kvm.mmu_lock)

    return p


def test_i6_fires_for_a_walker_that_restarts_forever() -> None:
    res = run(walker_with_chain_end(SERIES, wrong_marker=True, remover=False))
    assert kinds(res) == {I6}
    assert "spins forever" in res.violations[0].message


def test_i6_holds_when_restarts_come_from_a_concurrent_writer() -> None:
    for model in ("sc", "tso"):
        res = run(walker_with_chain_end(SERIES, wrong_marker=False, remover=True), model)
        assert res.verdict == "holds", res.violations[:1]


# -- I3 rmap complete and exact whenever mmu_lock is released ---------------------------------------------

def zapper_and_faulter(sw: Switches) -> Program:
    """gfn 0 is mapped (a writable spte on its rmap); ``zapper`` drops it under mmu_lock while
    ``vcpu0`` writes gfn 1 (slow-path fault: ``rmap_add`` under mmu_lock).  Both release
    mmu_lock through ``kvm_mmu_unlock``, which checks I3 (``kvm.check_i3``), completeness over
    every entry of the vCPU's root table."""
    p = Program(f"zapper-and-faulter[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=2, desc_capacity=2)
    vcpu = kvm_create_vcpu(kvm)
    sptep0 = prefault_spte(kvm, 0, writable=True)
    _, spt = mmu_alloc_direct_roots(kvm, 1, "default")
    kvm.check_i3 = True
    kvm.i3_sptes = {kvm.spt_entry(spt, i): 1 for i in range(kvm.spt_entries)}

    @p.thread
    def zapper() -> None:
        spin_lock(kvm.mmu_lock)
        drop_spte(kvm, sptep0)
        kvm_mmu_unlock(kvm, "zapper")

    def vcpu0() -> None:
        guest_write(vcpu, 1, 1)

    p.thread(vcpu0, name=vcpu.name)
    return p


def test_i3_holds_for_the_model_rmap_add_and_remove() -> None:
    for model in ("sc", "tso"):
        res = run(zapper_and_faulter(Switches()), model)
        assert res.verdict == "holds", res.violations[:1]
        assert res.stats.complete > 1


def test_i3_catches_a_broken_rmap_remove(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spte_ops, "rmap_remove", lambda kvm, sptep: None)  # leaves the entry on the rmap
    res = run(zapper_and_faulter(Switches()))
    assert kinds(res) == {I3}
    assert "not a present leaf" in res.violations[0].message


def test_i3_catches_a_broken_rmap_add(monkeypatch: pytest.MonkeyPatch) -> None:
    p = zapper_and_faulter(Switches())  # built first: the initial spte is on its rmap
    monkeypatch.setattr(vcpu_mod, "rmap_add", lambda kvm, sptep, gfn: 0)  # the fault's entry never is
    res = run(p)
    assert kinds(res) == {I3}
    assert "missing from its rmap" in res.violations[0].message


def test_i3_is_off_by_default() -> None:
    p = zapper_and_faulter(Switches())
    p.lib["kvm"].check_i3 = False
    with_check = run(zapper_and_faulter(Switches())).stats.complete
    assert run(p).stats.complete <= with_check


# -- I11 no writable large spte in a logged slot ------------------------------------------------------------

def large_spte_with_i11(**settings: str) -> Program:
    sc = SCENARIOS["large-spte"]
    p = sc.build(sc.switches(**settings))
    p.lib["kvm"].check_i11 = True
    return p


def test_i11_catches_fast_page_fault_on_a_read_only_large_spte() -> None:
    res = run(large_spte_with_i11(large_wp="readonly", fast_pf_large="allow"))
    assert kinds(res) == {I11}
    assert "returns with the level-2 spte" in res.violations[0].message


def test_i11_holds_on_the_fixed_settings() -> None:
    for settings in ({"large_wp": "readonly", "fast_pf_large": "forbid"},
                     {"large_wp": "zap", "fast_pf_large": "allow"}):
        for model in ("sc", "tso"):
            res = run(large_spte_with_i11(**settings), model)
            assert res.verdict == "holds", (settings, model, res.violations[:1])


# -- I5 the lockless walk visits every entry present throughout -------------------------------------------

def remove_move_with_i5(**settings: str) -> Program:
    """The ``remove-move`` scenario (R7) with I5 declared: b (role B's spte for gfn 0) is on gfn
    0's rmap throughout (only a is dropped)."""
    sc = SCENARIOS["remove-move"]
    p = sc.build(sc.switches(**settings))
    kvm = p.lib["kvm"]
    _, spt_b = mmu_alloc_direct_roots(kvm, 1, "B")
    kvm.i5_present = {int(gfn_to_rmap(kvm, 0, 1)): {kvm.spt_entry(spt_b, shadow_index(kvm, 0, 1))}}
    return p


def test_i5_catches_the_walk_order_of_remove_move() -> None:
    res = run(remove_move_with_i5(pte_list="3.11", walk_order="ascending"))
    assert kinds(res) == {I5}, res.violations[:1]
    assert "missed" in res.violations[0].message


def test_i5_holds_for_the_series_walk_order() -> None:
    for model in ("sc", "tso"):
        res = run(remove_move_with_i5(pte_list="head", walk_order="bottom_up"), model)
        assert res.verdict == "holds", (model, res.violations[:1])


def walker_vs_reuser(sw: Switches) -> Program:
    """gfn 0's rmap holds a and b in two descs (PTE_LIST_EXT = 1), gfn 1's holds e; the writer
    removes a from gfn 0 (freeing a desc) and adds c to gfn 1 (reusing it).  b is on gfn 0's
    rmap throughout (I5)."""
    p = Program(f"walker-vs-reuser[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=2, desc_capacity=3)
    heads = [gfn_to_rmap(kvm, 0, 1), gfn_to_rmap(kvm, 1, 1)]
    with kvm.building():
        pte_list_add(kvm, A, heads[0])
        pte_list_add(kvm, B, heads[0])
        pte_list_add(kvm, E, heads[1])
    kvm.i5_present = {int(heads[0]): {B}}

    @p.thread
    def reader() -> None:
        pte_list_walk_lockless(kvm, heads[0], lambda s: None)

    @p.thread
    def writer() -> None:
        spin_lock(kvm.mmu_lock)
        pte_list_remove(kvm, A, heads[0])
        pte_list_add(kvm, C, heads[1])
        spin_unlock(kvm.mmu_lock)

    return p


def test_i5_catches_a_reused_desc_without_nulls() -> None:
    res = run(walker_vs_reuser(SERIES.replace(nulls="off")))
    assert kinds(res) == {I5}
    assert run(walker_vs_reuser(SERIES)).verdict == "holds"


# -- the model's own code paths keep I3 and I11 on every scenario's fixed setting ---------------------------

HOLD_ROWS = [(name, e) for name, sc in SCENARIOS.items() for e in sc.expected
             if e.model == "sc" and e.verdict == "holds"]


@pytest.mark.parametrize(("name", "row"), HOLD_ROWS, ids=[f"{n}:{e.describe()}" for n, e in HOLD_ROWS])
def test_fixed_settings_keep_i3_and_i11(name: str, row: Expect) -> None:
    sc = SCENARIOS[name]
    p = sc.build(sc.switches(**row.settings))
    p.lib["kvm"].check_i3 = True
    p.lib["kvm"].check_i11 = True
    res = explore(p, "sc", keep_violations=1)
    assert res.verdict == "holds", res.violations[:1]
