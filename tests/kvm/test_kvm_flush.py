"""rmap_write_protect, I9 and the flush-rule scenario (R3)."""

from __future__ import annotations

from rmapwalk.engine import Program, explore, observe
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.kernel import READ_ONCE
from rmapwalk.kernel.spinlock import spin_lock, spin_unlock
from rmapwalk.kvm import KvmMmu, Switches
from rmapwalk.kvm import spte as S
from rmapwalk.kvm.dirty_log import rmap_write_protect
from rmapwalk.kvm.invariants import I9
from rmapwalk.kvm.scenarios import SCENARIOS, check
from rmapwalk.kvm.vcpu import prefault_spte


def test_rmap_write_protect_clears_w_and_mmu_writable_and_asks_for_a_flush() -> None:
    for flush_rule, writable, flush in [("writable", True, True), ("writable", False, False),
                                        ("mmu_writable", True, True), ("mmu_writable", False, True)]:
        p = Program("wp")
        kvm = KvmMmu(p, Switches(flush_rule=flush_rule), npages=1, sp_capacity=1, desc_capacity=1)
        sptep = prefault_spte(kvm, 0, writable=writable, mmu_writable=True)

        def protect(k: KvmMmu = kvm, s: int = sptep) -> None:
            spin_lock(k.mmu_lock)
            observe("flush", rmap_write_protect(k, 0))
            spin_unlock(k.mmu_lock)
            observe("spte", READ_ONCE(s))

        p.thread(protect, name="t")
        res = explore(p, "sc")
        (final,) = [dict(o) for o in res.outcomes]
        assert final["t:flush"] == flush, (flush_rule, writable)
        assert not final["t:spte"] & (S.PT_WRITABLE_MASK | S.SPTE_MMU_WRITEABLE)


def test_flush_rule_trace_shows_the_harvester_clearing_w_first() -> None:
    """R3's counterexample: the lockless harvester's cmpxchg clears W, the protector reads W
    clear and decides no flush, vcpu0's writable TLB entry survives (I9)."""
    sc = SCENARIOS["flush-rule"]
    sw = sc.switches(flush_rule="writable")
    res = check(sc, sw, "sc", keep_violations=100)
    assert {v.kind for v in res.violations} == {I9}
    trace = render(rebuild(sc.build(sw), res.violations[0].replay), "sc")
    assert "cmpxchg(" in trace and "vcpu0.tlb[0]" in trace


def test_flush_outside_lock_needs_the_mmu_writable_rule() -> None:
    """R8: flushing after the unlock is safe only with flush_rule=mmu_writable; slots_lock does
    not help a write-protector on a vCPU's fault path."""
    sc = SCENARIOS["flush-outside-lock"]
    for loc, rule, fired in [("after_unlock_serialized", "writable", {I9}),
                             ("after_unlock_serialized", "mmu_writable", set()),
                             ("under_lock", "writable", set())]:
        res = check(sc, sc.switches(flush_location=loc, flush_rule=rule), "sc", keep_violations=100)
        assert {v.kind for v in res.violations} == fired, (loc, rule)
