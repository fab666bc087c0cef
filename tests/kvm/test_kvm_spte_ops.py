"""The low-level spte writers (kvm.spte_ops): plain store vs xchg, the two flush rules, clearing
with and without tracking, drop_spte; and under concurrency, the xchg that keeps the fast path's
W bit visible to the flush decision (R3's mechanism)."""

from __future__ import annotations

import pytest
from kvm_helpers import node_labels

from rmapwalk.engine import Program, explore, observe
from rmapwalk.kernel import cmpxchg, spin_lock, spin_unlock
from rmapwalk.kvm import KvmMmu, Switches, gfn_to_rmap, rmap_add
from rmapwalk.kvm import spte as S
from rmapwalk.kvm.pte_list import pte_list_entries
from rmapwalk.kvm.spte_ops import (
    drop_spte,
    mmu_spte_clear_no_track,
    mmu_spte_clear_track_bits,
    mmu_spte_update,
    spte_flush_needed,
)

W_ON = S.make_spte(0x10, writable=True)
LOGGED = S.make_spte(0x10, writable=False, mmu_writable=True)  # dirty-log protected: fast path may set W
PT_WP = S.make_spte(0x10, writable=False, mmu_writable=False)  # shadow-page protected


def table(sw: Switches | None = None) -> tuple[KvmMmu, int, list[int]]:
    p = Program("spte-ops")
    kvm = KvmMmu(p, sw or Switches(), npages=2, sp_capacity=1)
    sp = kvm.prealloc_page(1, gfn=0)
    return kvm, sp, [kvm.initial_sptep(sp, i) for i in range(2)]


@pytest.mark.parametrize("rule", ["writable", "mmu_writable"])
def test_flush_rules(rule: str) -> None:
    kvm, _, _ = table(Switches(flush_rule=rule))
    assert spte_flush_needed(kvm, W_ON, LOGGED)  # W 1 -> 0: both rules flush
    assert not spte_flush_needed(kvm, LOGGED, W_ON)  # becomes writable: never
    # W already clear but MMU-writable (another CPU cleared W and has not flushed yet): R3
    assert spte_flush_needed(kvm, LOGGED, PT_WP) == (rule == "mmu_writable")
    assert not spte_flush_needed(kvm, PT_WP, PT_WP)


def test_update_of_a_non_present_spte_is_a_set_without_flush() -> None:
    kvm, _, (s0, _) = table()
    with kvm.building():
        assert not mmu_spte_update(kvm, s0, W_ON)
    assert kvm.prog.init[s0] == W_ON


def test_update_uses_xchg_only_for_volatile_sptes() -> None:
    """Events: a non-volatile old spte (A set, W clear, not MMU-writable) gets a plain store;
    a locklessly modifiable one an xchg."""
    for old, want in [(PT_WP, "WRITE_ONCE"), (LOGGED, "xchg")]:
        kvm, _, (s0, _) = table()
        kvm.set_initial(s0, old)
        labels: list[str] = []

        def t(kvm: KvmMmu = kvm, s0: int = s0) -> None:
            observe("flush", mmu_spte_update(kvm, s0, PT_WP))

        kvm.prog.thread(t)
        res = explore(kvm.prog, "sc", on_execution=lambda g, kind, out=labels: out.extend(node_labels(g)))
        assert res.verdict == "holds"
        assert labels.count(want) == 1 and labels.count("xchg") == (want == "xchg")


def test_clear_track_bits_and_drop_spte() -> None:
    kvm, _, (s0, s1) = table()
    kvm.set_initial(s0, W_ON)
    with kvm.building():
        rmap_add(kvm, s0, 0)
        assert mmu_spte_clear_track_bits(kvm, s1) is False  # was not an rmap spte
        drop_spte(kvm, s0)  # cleared, then removed from the rmap
        assert pte_list_entries(kvm, gfn_to_rmap(kvm, 0, 1), lambda a: kvm.prog.init.get(a, 0)) == []
        kvm.ops.spte_write(s1, S.make_nonleaf_spte(0x20, 2))
        mmu_spte_clear_no_track(kvm, s1)
    assert kvm.prog.init.get(s0, 0) == 0 and kvm.prog.init.get(s1, 0) == 0


def fast_path_vs_update(sw: Switches) -> Program:
    """The fast path sets W locklessly (cmpxchg) on a dirty-log protected spte while a lock holder
    write-protects it for shadow paging (W and MMU-writable off) with mmu_spte_update.  Whenever
    the fast path's W was in memory before the update, the update must ask for a flush (the
    W may already sit in a TLB)."""
    kvm, _, (s0, _) = table(sw)
    kvm.set_initial(s0, LOGGED)
    p = kvm.prog

    @p.thread
    def fast() -> None:
        observe("fixed", cmpxchg(s0, LOGGED, LOGGED | S.PT_WRITABLE_MASK) == LOGGED)

    @p.thread
    def protect() -> None:
        spin_lock(kvm.mmu_lock)
        observe("flush", mmu_spte_update(kvm, s0, PT_WP))
        spin_unlock(kvm.mmu_lock)

    p.forbid(lambda f: f["fast:fixed"] and not f["protect:flush"], "missed flush")
    return p


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
def test_xchg_sees_the_fast_path_w_bit(model: str) -> None:
    """With the 3.11 rule a flush is needed iff the old value had W: the xchg's old value has it
    whenever the fast path won, so no flush is missed; the mmu_writable rule flushes always here."""
    for rule in ["writable", "mmu_writable"]:
        res = explore(fast_path_vs_update(Switches(flush_rule=rule)), model)
        assert res.verdict == "holds", (rule, res.violations[:1])
        outcomes = {(dict(o)["fast:fixed"], dict(o)["protect:flush"]) for o in res.outcomes}
        assert (False, rule == "mmu_writable") in outcomes  # the update came first
