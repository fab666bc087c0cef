"""Zapping shadow pages (kvm.zap) and the scenarios built on it (sp-free, spt-reuse,
remove-move): what a zap leaves behind, how ``sp_free`` frees, and that each broken setting
fires exactly its property with a trace that reads like the race."""

from __future__ import annotations

import pytest

from rmapwalk.engine import Program, explore, observe
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.kernel import READ_ONCE
from rmapwalk.kernel.rcu import init_rcu
from rmapwalk.kernel.spinlock import spin_lock, spin_unlock
from rmapwalk.kvm import KvmMmu, Switches, gfn_to_rmap
from rmapwalk.kvm.invariants import I1, I7
from rmapwalk.kvm.scenarios import SCENARIOS, check
from rmapwalk.kvm.scenarios.zapping import prefault_path
from rmapwalk.kvm.zap import kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page


@pytest.mark.parametrize("sp_free", ["immediate", "call_rcu", "typesafe_slab"])
def test_zap_drops_sptes_unlinks_parents_and_frees(sp_free: str) -> None:
    """A level-1 page under a level-2 root, holding gfn 0's spte: after prepare+commit, the rmap
    is empty, the root entry is clear, and header and table are back in their caches (through
    the RCU callback for call_rcu)."""
    sw = Switches(sp_free=sp_free, spt_entries=2)
    p = Program("zap")
    kvm = KvmMmu(p, sw, npages=1, sp_capacity=2, desc_capacity=1)
    leaf, sp = prefault_path(kvm, 0, 2)
    root_spt = p.lib["kvm.direct_roots"]["default"][1]
    root_entry = kvm.spt_entry(root_spt, 0)
    spt = int(p.init[kvm.sp_field(sp, "spt")])
    assert p.init[leaf] and p.init[root_entry] and p.init[int(gfn_to_rmap(kvm, 0, 1))] == leaf

    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        invalid: list[int] = []
        assert kvm_mmu_prepare_zap_page(kvm, sp, invalid) == 1 and invalid == [sp]
        kvm_mmu_commit_zap_page(kvm, invalid)
        spin_unlock(kvm.mmu_lock)
        observe("rmap", READ_ONCE(gfn_to_rmap(kvm, 0, 1)))
        observe("root_entry", READ_ONCE(root_entry))

    p.thread(zap, name="zap")
    if sp_free == "call_rcu":
        init_rcu(p, callbacks=1)
    p.observed.extend([kvm.sp_cache.freelist, kvm.spt_cache.freelist])
    res = explore(p, "sc")
    assert res.verdict == "holds"
    finals = [dict(o) for o in res.outcomes]
    assert all(f["zap:rmap"] == 0 and f["zap:root_entry"] == 0 for f in finals)
    freed = [f for f in finals if sp in f[kvm.sp_cache.freelist.name] and spt in f[kvm.spt_cache.freelist.name]]
    if sp_free == "call_rcu":  # the callback may not have run by the end of an execution
        assert freed and len(freed) < len(finals)
    else:
        assert freed == finals
    assert kvm.sp_cache.typesafe_by_rcu == kvm.spt_cache.typesafe_by_rcu == (sp_free == "typesafe_slab")


def test_sp_free_immediate_trace_is_a_read_of_the_freed_table() -> None:
    sc = SCENARIOS["sp-free"]
    sw = sc.switches(sp_free="immediate")
    res = check(sc, sw, "sc", keep_violations=100)
    v = res.violations[0]
    assert v.kind == "use-after-free" and "migrate reads mmu_page_spt#" in v.message
    trace = render(rebuild(sc.build(sw), v.replay), "sc")
    assert "kmem_cache_free" in trace and "rcu_read_lock" in trace


def test_spt_reuse_trace_clears_w_of_a_nonleaf_entry() -> None:
    """R10: the walker read level 1, the table was reused at level 2, its cmpxchg W-clears the
    non-leaf entry (NL) now in its sptep."""
    sc = SCENARIOS["spt-reuse"]
    sw = sc.switches(leaf_check="by_level")
    res = check(sc, sw, "sc", keep_violations=100)
    v = next(v for v in res.violations if v.kind == I7)
    assert "NL" in v.message
    trace = render(rebuild(sc.build(sw), v.replay), "sc")
    assert "role_level) = 1" in trace and "cmpxchg(" in trace


def test_remove_move_is_decided_by_the_walk_order() -> None:
    """R7: the ascending walker reads slot 0 before the move and slot 1 after it, missing b,
    which was on the rmap throughout (I5); without the I5 declaration the same race shows end
    to end: the moved spte stays writable and vCPU0's write is lost (I1)."""
    from rmapwalk.engine import explore
    from rmapwalk.kvm.invariants import I5

    sc = SCENARIOS["remove-move"]
    sw = sc.switches(pte_list="3.11", walk_order="ascending")
    res = check(sc, sw, "sc", keep_violations=100)
    assert {v.kind for v in res.violations} == {I5}
    trace = render(rebuild(sc.build(sw), res.violations[0].replay), "sc")
    assert "sptes[1]) = 0" in trace
    prog = sc.build(sw)
    prog.lib["kvm"].i5_present = {}
    assert set(explore(prog, "sc", keep_violations=1).property_counts) == {I1}


def test_zap_scenarios_are_small() -> None:
    """Each configuration of the new scenarios explores in well under a second's worth of
    executions (the benchmark budget is 60 s under SC)."""
    for name in ("sp-free", "spt-reuse", "remove-move"):
        sc = SCENARIOS[name]
        for e in sc.expected:
            if e.model == "sc":
                res = check(sc, sc.switches(**e.settings), "sc")
                assert res.stats.complete < 8000, (name, e.settings)  # (with the I3 checks on)


def test_clear_track_bits_plain_store_loses_the_cpus_dirty_bit() -> None:
    """R2: the zapper reads W=0/D=0, decides on a plain store; the fast path sets W, the CPU sets
    D, the guest writes; the store of 0 loses D and the host page stays clean (I10)."""
    from rmapwalk.kvm.invariants import I10

    sc = SCENARIOS["clear-track-bits"]
    sw = sc.switches(volatile_bits="ad_only")
    res = check(sc, sw, "sc", keep_violations=100)
    assert {v.kind for v in res.violations} == {I10}
    trace = render(rebuild(sc.build(sw), res.violations[0].replay), "sc")
    assert "WRITE_ONCE(mem[0], 1)" in trace and "WRITE_ONCE(mmu_page_spt#0.spt[0], 0)" in trace
    ok = check(sc, sc.switches(volatile_bits="mmu_writable"), "sc")
    assert ok.verdict == "holds"
