"""Accessed/dirty tracking (I10): clearing an spte while the fast path and the CPU change it
(``clear-track-bits``, R2, ``volatile_bits``)."""

from __future__ import annotations

from rmapwalk.engine import Program
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm.invariants import I10, require_no_lost_dirty_bit
from rmapwalk.kvm.mmu_checks import kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.scenarios import HOLDS, Scenario, expect, ext_unchanged
from rmapwalk.kvm.spte_ops import drop_spte
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import guest_write, kvm_create_vcpu, kvm_flush_remote_tlbs, prefault_spte

MODELS = ("sc", "tso", "pso")


def clear_track_bits(sw: Switches) -> Program:
    """R2.  gfn 0 has a dirty-log write-protected spte (W clear, MMU-writable, A set, D clear).
    ``vcpu0`` writes gfn 0 once: the fault takes the fast path (cmpxchg sets W), the retry's
    page walk sets D (the CPU's locked RMW) and the write goes through.  ``zap`` drops the spte
    under mmu_lock (``drop_spte`` -> ``mmu_spte_clear_track_bits``, which dirties the host page
    if the old spte had D) and flushes.  If the clear decided on a plain store from a value
    without W and D, the D the CPU set meanwhile is overwritten and the host page never becomes
    dirty."""
    p = Program(f"clear-track-bits[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=1)
    vcpu = kvm_create_vcpu(kvm)
    sptep = prefault_spte(kvm, 0, writable=False, mmu_writable=True, dirty=False)

    def guest() -> None:
        guest_write(vcpu, 0, 1)

    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        drop_spte(kvm, sptep)
        kvm_flush_remote_tlbs(kvm)
        kvm_mmu_unlock(kvm)

    p.thread(guest, name=vcpu.name)
    p.thread(zap, name="zap")
    require_no_lost_dirty_bit(kvm, 0, [sptep])
    return p


CLEAR_TRACK_BITS = Scenario(
    name="clear-track-bits",
    question="Must mmu_spte_clear_track_bits clear a locklessly modifiable spte with xchg, "
             "because the fast path may make it writable and the CPU set D between its read and "
             "its store?",
    races=("R2",),
    size=ext_unchanged("one spte") + (
        "One gfn, one "
        "guest write against one zap."
    ),
    base={"pte_list_ext": 3, "spt_entries": 2},
    build_fn=clear_track_bits,
    expected=(
        expect({"volatile_bits": "ad_only"}, {m: frozenset({I10}) for m in MODELS})
        + expect({"volatile_bits": "mmu_writable"}, {m: HOLDS for m in MODELS})
        # LKMM (review --full)
        + expect({"volatile_bits": "ad_only"}, {"lkmm": frozenset({I10})})
        + expect({"volatile_bits": "mmu_writable"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)

SCENARIOS = (CLEAR_TRACK_BITS,)

__all__ = ["CLEAR_TRACK_BITS", "SCENARIOS", "clear_track_bits"]
