"""Opt-in invariant checks run by model code under ``mmu_lock`` (``kvm-reference.md`` §5.2).

Their reads are events (they add executions), so each is off unless a program turns it on:

* **I3 rmap complete and exact whenever mmu_lock is released** (``kvm.check_i3``):
  :func:`kvm_mmu_unlock` (every release of mmu_lock in the model's code paths) first walks
  every rmap of every memslot and requires *exactness*: each entry is a present leaf spte of
  that rmap's level mapping a gfn of that rmap (pfn ``pfn_base + gfn``), and no entry twice;
  and *completeness* for the sptes the program declares in ``kvm.i3_sptes`` (address ->
  level of its table): a present spte there is on the rmap of the gfn it maps.  (The model
  keeps no list of live shadow pages, so completeness is over the declared sptes only.)

* **I11 no writable large spte in a logged slot** (``kvm.check_i11``):
  :func:`check_no_writable_large_spte`, called under mmu_lock right before a write-protection
  of a slot that logs dirty pages returns (``kvm_mmu_slot_remove_write_access``, the locked
  ``kvm_vm_ioctl_get_dirty_log``): no spte on a rmap above level 1 has W.
"""

from __future__ import annotations

from rmapwalk.engine.runtime import Violated
from rmapwalk.kernel import spin_unlock
from rmapwalk.kvm.memslot import KvmMemorySlot
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.pte_list import rmap_walk
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.spte import is_last_spte, is_shadow_present_pte, is_writable_pte, spte_to_pfn

I3 = "I3 rmap complete and exact"
I11 = "I11 no writable large spte in a logged slot"


def check_rmap_complete_and_exact(kvm: KvmMmu, who: str = "mmu_lock holder") -> None:
    """I3 (see the module doc); the caller holds mmu_lock."""
    on_rmap: dict[int, int] = {}  # sptep -> rmap head address
    for slot in kvm.memslots:
        for level in sorted(slot.rmap):
            for head in slot.rmap[level]:
                for sptep in rmap_walk(kvm, head):
                    if sptep in on_rmap:
                        raise Violated(I3, f"{who} releases mmu_lock with spte {sptep:#x} on a rmap twice")
                    on_rmap[sptep] = int(head)
                    spte = int(kvm.ops.spte_read(sptep))
                    if not is_shadow_present_pte(spte) or not is_last_spte(spte, level):
                        raise Violated(I3, f"{who} releases mmu_lock with spte {sptep:#x} = {spte:#x} on the "
                                           f"level-{level} rmap {int(head):#x}, not a present leaf")
                    gfn = spte_to_pfn(spte) - kvm.pfn_base
                    if int(gfn_to_rmap(kvm, gfn, level)) != int(head):
                        raise Violated(I3, f"{who} releases mmu_lock with spte {sptep:#x} (gfn {gfn}) on the "
                                           f"rmap {int(head):#x} of another gfn")
    for sptep, level in sorted(kvm.i3_sptes.items()):
        spte = int(kvm.ops.spte_read(sptep))
        if not is_shadow_present_pte(spte) or not is_last_spte(spte, level):
            continue
        gfn = spte_to_pfn(spte) - kvm.pfn_base
        if on_rmap.get(sptep) != int(gfn_to_rmap(kvm, gfn, level)):
            raise Violated(I3, f"{who} releases mmu_lock with present spte {sptep:#x} = {spte:#x} "
                               f"(gfn {gfn}) missing from its rmap")


def kvm_mmu_unlock(kvm: KvmMmu, who: str = "mmu_lock holder") -> None:
    """``spin_unlock(&kvm->mmu_lock)``, after checking I3 if ``kvm.check_i3``."""
    if kvm.check_i3:
        check_rmap_complete_and_exact(kvm, who)
    spin_unlock(kvm.mmu_lock)


def check_no_writable_large_spte(kvm: KvmMmu, slot: KvmMemorySlot, who: str) -> None:
    """I11 (see the module doc), if ``kvm.check_i11`` and ``slot`` logs dirty pages; the caller
    holds mmu_lock."""
    if not kvm.check_i11 or slot.dirty_bitmap is None:
        return
    for level in sorted(slot.rmap):
        if level == 1:
            continue
        for head in slot.rmap[level]:
            for sptep in rmap_walk(kvm, head):
                spte = int(kvm.ops.spte_read(sptep))
                if is_shadow_present_pte(spte) and is_writable_pte(spte):
                    raise Violated(I11, f"{who} returns with the level-{level} spte {sptep:#x} = {spte:#x} "
                                        f"writable in slot {slot.id}, which logs dirty pages")


__all__ = ["I3", "I11", "check_no_writable_large_spte", "check_rmap_complete_and_exact", "kvm_mmu_unlock"]
