"""TLB-flush obligations (I9): the flush rule of ``mmu_spte_update`` once W can be cleared
without an immediate flush, by the lockless write-protect (``flush-rule``, R3) or by a
write-protector that flushes after dropping mmu_lock (``flush-outside-lock``, R8).
"""

from __future__ import annotations

from rmapwalk.engine import Program
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm.dirty_log import kvm_mmu_slot_remove_write_access, rmap_write_protect
from rmapwalk.kvm.invariants import I9, check_write_protected, migration_thread, require_no_dirty_page_lost
from rmapwalk.kvm.mmu_checks import kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.scenarios import HOLDS, Scenario, expect, ext_unchanged
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import guest_write, kvm_create_vcpu, kvm_flush_remote_tlbs, prefault_spte

MODELS = ("sc", "tso", "pso")
ALL_HOLD = {m: HOLDS for m in MODELS}


def flush_rule(sw: Switches) -> Program:
    """R3.  gfn 0 has a writable spte (dirty).  ``vcpu0`` writes gfn 0 once (its TLB caches the
    writable translation); ``migrate`` harvests once with the lockless write-protect (W cleared
    by cmpxchg, the flush only at the end) and copies; ``protect`` is ``kvm_mmu_get_page``
    shadowing a guest page table at gfn 0: under mmu_lock ``rmap_write_protect`` (pt_protect),
    flush if it says so, then (still under mmu_lock) I9.  If the harvester cleared W first, ``protect`` finds W clear:
    ``flush_rule=writable`` skips the flush while vcpu0's TLB is still writable."""
    p = Program(f"flush-rule[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=1)
    vcpu = kvm_create_vcpu(kvm)
    prefault_spte(kvm, 0, writable=True)

    def guest() -> None:
        guest_write(vcpu, 0, 1)

    def protect() -> None:
        spin_lock(kvm.mmu_lock)
        if rmap_write_protect(kvm, 0):
            kvm_flush_remote_tlbs(kvm)
        # still under mmu_lock: the slow path cannot make the spte writable again (the model
        # has no shadowed guest page tables, so after the unlock a fault legitimately would)
        check_write_protected(kvm, 0, "kvm_mmu_get_page")
        kvm_mmu_unlock(kvm)

    p.thread(guest, name=vcpu.name)
    p.thread(protect, name="protect")
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    return p


FLUSH_RULE = Scenario(
    name="flush-rule",
    question="Once W can be cleared without mmu_lock and without an immediate flush, must "
             "mmu_spte_update flush when the old spte was MMU-writable rather than only when it "
             "was writable (series patch 4)?",
    races=("R3",),
    size=ext_unchanged("one spte") + (
        "One gfn, one "
        "guest write, one harvest against one kvm_mmu_get_page."
    ),
    base={"write_protect": "lockless", "mark_order": "after_rmap", "pte_list": "head",
          "desc_cache": "typesafe_by_rcu", "nulls": "on", "desc_init": "careful", "pte_list_ext": 3,
          "spt_entries": 2},
    build_fn=flush_rule,
    expected=(
        expect({"flush_rule": "writable"}, {m: frozenset({I9}) for m in MODELS})
        + expect({"flush_rule": "mmu_writable"}, ALL_HOLD)
        # 3.11's locked write-protect flushes before anyone can see W clear
        + expect({"flush_rule": "writable", "write_protect": "locked"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"flush_rule": "writable"}, {"lkmm": frozenset({I9})})
        + expect({"flush_rule": "mmu_writable"}, {"lkmm": HOLDS})
        + expect({"flush_rule": "writable", "write_protect": "locked"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)

def flush_outside_lock(sw: Switches) -> Program:
    """R8.  gfn 0 has a writable spte.  ``vcpu0`` writes gfn 0 once (its TLB caches the writable
    translation); ``memslot`` enables dirty logging (``kvm_mmu_slot_remove_write_access``: W
    cleared under mmu_lock, the flush where ``flush_location`` says); ``protect`` is
    ``kvm_mmu_get_page`` write-protecting gfn 0 under mmu_lock (``rmap_write_protect``, flush if
    it says so), then I9.  With the flush after the unlock, ``protect`` can find W already clear
    and no flush pending: only ``flush_rule=mmu_writable`` makes it flush (the argument of
    198c74f43f0f's comment).  ``protect`` runs from a vCPU's fault path and takes no
    ``slots_lock``, so serialising the two flushers by ``slots_lock`` does not help it."""
    p = Program(f"flush-outside-lock[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=1)
    vcpu = kvm_create_vcpu(kvm)
    prefault_spte(kvm, 0, writable=True)

    def guest() -> None:
        guest_write(vcpu, 0, 1)

    def memslot() -> None:
        kvm_mmu_slot_remove_write_access(kvm, kvm.memslots[0])

    def protect() -> None:
        spin_lock(kvm.mmu_lock)
        if rmap_write_protect(kvm, 0):
            kvm_flush_remote_tlbs(kvm)
        check_write_protected(kvm, 0, "kvm_mmu_get_page")
        kvm_mmu_unlock(kvm)

    p.thread(guest, name=vcpu.name)
    p.thread(memslot, name="memslot")
    p.thread(protect, name="protect")
    require_no_dirty_page_lost(kvm)
    return p


I9_ALL = {m: frozenset({I9}) for m in MODELS}

FLUSH_OUTSIDE_LOCK = Scenario(
    name="flush-outside-lock",
    question="May kvm_mmu_slot_remove_write_access flush remote TLBs after dropping mmu_lock "
             "(198c74f43f0f), and what makes that safe for a write-protector that finds W "
             "already clear?",
    races=("R8",),
    size=ext_unchanged("one spte") + (
        "One gfn, one "
        "guest write; one memslot update against one kvm_mmu_get_page."
    ),
    base={"spt_entries": 2, "pte_list_ext": 3},
    build_fn=flush_outside_lock,
    expected=(
        expect({"flush_location": "under_lock", "flush_rule": "writable"}, ALL_HOLD)
        + expect({"flush_location": "after_unlock_unserialized", "flush_rule": "writable"}, I9_ALL)
        + expect({"flush_location": "after_unlock_serialized", "flush_rule": "writable"}, I9_ALL)
        + expect({"flush_location": "after_unlock_serialized", "flush_rule": "mmu_writable"}, ALL_HOLD)
        + expect({"flush_location": "after_unlock_unserialized", "flush_rule": "mmu_writable"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"flush_location": "under_lock", "flush_rule": "writable"}, {"lkmm": HOLDS})
        + expect({"flush_location": "after_unlock_unserialized", "flush_rule": "writable"}, {"lkmm": frozenset({I9})})
        + expect({"flush_location": "after_unlock_serialized", "flush_rule": "writable"}, {"lkmm": frozenset({I9})})
        + expect({"flush_location": "after_unlock_serialized", "flush_rule": "mmu_writable"}, {"lkmm": HOLDS})
        + expect({"flush_location": "after_unlock_unserialized", "flush_rule": "mmu_writable"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)


def flush_slots_lock(sw: Switches) -> Program:
    """R8 proper: two write-protectors of one slot that flush after dropping mmu_lock.  gfn 0
    has a writable spte, its dirty bit set.  ``vcpu0`` writes gfn 0 once (its TLB caches the
    writable translation); ``migrate`` calls ``KVM_GET_DIRTY_LOG`` once (harvest, W cleared under
    mmu_lock, flush where ``flush_location`` says); ``memslot`` (userspace setting
    ``KVM_MEM_LOG_DIRTY_PAGES`` again) runs ``kvm_mmu_slot_remove_write_access`` and, before it
    releases ``slots_lock``, checks I9 (c): a protector that finds W already clear asks for no
    flush (198c74f43f0f flushes only ``if (flush)``), so between the harvest's unlock and its
    flush it returns while vcpu0 can still write gfn 0 without a fault and without a dirty bit."""
    p = Program(f"flush-slots-lock[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=1)
    kvm.check_i9_slot = True
    vcpu = kvm_create_vcpu(kvm)
    prefault_spte(kvm, 0, writable=True)

    def guest() -> None:
        guest_write(vcpu, 0, 1)

    def memslot() -> None:
        kvm_mmu_slot_remove_write_access(kvm, kvm.memslots[0])

    p.thread(guest, name=vcpu.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    p.thread(memslot, name="memslot")
    require_no_dirty_page_lost(kvm)
    return p


FLUSH_SLOTS_LOCK = Scenario(
    name="flush-slots-lock",
    question="Once kvm_vm_ioctl_get_dirty_log and kvm_mmu_slot_remove_write_access flush after "
             "dropping mmu_lock (198c74f43f0f), must they be serialized by slots_lock, because a "
             "second protector that finds W already clear does not flush?",
    races=("R8",),
    size=ext_unchanged("one spte") + (
        "One gfn, one "
        "guest write; one harvest against one memslot update."
    ),
    base={"spt_entries": 2, "pte_list_ext": 3, "flush_rule": "mmu_writable"},
    build_fn=flush_slots_lock,
    expected=(
        expect({"flush_location": "under_lock"}, ALL_HOLD)
        + expect({"flush_location": "after_unlock_serialized"}, ALL_HOLD)
        + expect({"flush_location": "after_unlock_unserialized"}, I9_ALL)
        # LKMM (review --full)
        + expect({"flush_location": "under_lock"}, {"lkmm": HOLDS})
        + expect({"flush_location": "after_unlock_serialized"}, {"lkmm": HOLDS})
        + expect({"flush_location": "after_unlock_unserialized"}, {"lkmm": frozenset({I9})})
    ),
    quick_models=("sc", "tso", "pso"),
)

SCENARIOS = (FLUSH_RULE, FLUSH_OUTSIDE_LOCK, FLUSH_SLOTS_LOCK)

__all__ = ["FLUSH_OUTSIDE_LOCK", "FLUSH_RULE", "FLUSH_SLOTS_LOCK", "SCENARIOS", "flush_outside_lock",
           "flush_rule", "flush_slots_lock"]
