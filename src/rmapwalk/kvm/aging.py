"""Lockless aging of shadow-MMU sptes (arch/x86/kvm/mmu/mmu.c, Linux 6.15: bb6c7749ccee "Add
support for lockless walks of rmap SPTEs" and af3b6a9eba48 "Walk rmaps (shadow MMU) without
holding mmu_lock when aging gfns"; ``kvm-reference.md`` §4.2).

``kvm_age_gfn`` / ``kvm_test_age_gfn`` (the MMU notifier's ``clear_young`` / ``test_young`` for
the shadow MMU) call :func:`kvm_rmap_age_gfn_range` *without* ``mmu_lock``: for each level and
each gfn step of that level, the rmap is locked read-only (``kvm_rmap_lock_readonly``), walked
with ``for_each_rmap_spte_lockless`` (each spte read once with ``mmu_spte_get_lockless``,
non-present ones skipped: without ``mmu_lock`` a zapped spte still on its rmap is a normal
transient) and unlocked.  An spte without Accessed is skipped; ``test_only`` returns young at
the first accessed one; otherwise Accessed is cleared (``age_clear``) and the range is young.

The reader holds the rmap lock, so the head and every desc reachable from it are stable and
cannot be freed; the sptes can change (zapped, A/D set by the CPU) but their memory stays valid:
removing an spte from its rmap, which KVM does before it frees the shadow page, needs the lock.

Model notes: the sptes have A/D bits (shadow paging); ``age_clear=cmpxchg`` applies the
A/D-disabled path's instruction (``cmpxchg64`` to ``mark_spte_for_access_track(spte)``, failure
ignored) to them, and ``mark_spte_for_access_track`` of an A/D spte is the spte without A, as in
the kernel.  The TDP MMU, the memslot walk (SRCU) and ``kvm_may_have_shadow_mmu_sptes`` are not
modelled; the range is one memslot's gfns.

**I10, aging half** (``I10 aging never reports an accessed spte old``; ghost knowledge, no
events): ``kvm.young_required[head]`` lists the sptes a program keeps on that rmap, present and
Accessed, throughout every aging walk; a call whose range holds one must report young.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rmapwalk.engine.runtime import ModelError, Violated
from rmapwalk.engine.trace import format_value
from rmapwalk.kernel.atomic_long import cmpxchg64
from rmapwalk.kernel.bitops import clear_bit
from rmapwalk.kvm.memslot import KvmMemorySlot, gfn_to_memslot
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.pte_list_615 import rmap_iterate
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.rmap_lock import kvm_rmap_get, kvm_rmap_lock_readonly, kvm_rmap_unlock_readonly, locked_mode
from rmapwalk.kvm.spte import PT_ACCESSED_MASK, is_shadow_present_pte, shadow_accessed_mask
from rmapwalk.kvm.spte_ops import mmu_spte_get_lockless

I10_YOUNG = "I10 aging never reports an accessed spte old"

#: the bit number of the Accessed bit (``ffs(shadow_accessed_mask) - 1``)
ACCESSED_BIT = PT_ACCESSED_MASK.bit_length() - 1


def is_accessed_spte(spte: int) -> bool:
    """Models ``is_accessed_spte()`` (spte.h, 6.15) for A/D sptes: the Accessed bit."""
    return bool(spte & shadow_accessed_mask)


def mark_spte_for_access_track(spte: int) -> int:
    """Models ``mark_spte_for_access_track()`` (spte.c, 6.15) for an spte with A/D bits: the
    spte without Accessed.  (The A/D-disabled branch, which saves R/X in high bits and clears
    RWX, is not modelled: the model's sptes always have A/D bits.)"""
    return spte & ~shadow_accessed_mask


def for_each_rmap_spte_lockless(kvm: KvmMmu, head: int, rmap_val: Any) -> Iterator[tuple[Any, int]]:
    """Models ``for_each_rmap_spte_lockless(rmap_head, &iter, sptep, spte)`` (mmu.c, 6.15):
    ``(sptep, spte)`` for every entry whose spte is shadow-present (read once,
    ``mmu_spte_get_lockless``).  Where the walk starts (``walk_start``): ``reread_head``, as
    6.15 (v9) does, ``rmap_get_first`` reads the head word again (``kvm_rmap_get``), even when
    ``kvm_rmap_lock_readonly`` found it empty and locked nothing; ``locked_value`` walks from
    ``rmap_val`` (the value the lock returned).  With ``rmap_lock=none`` there is no lock value:
    the walk reads the head once."""
    if locked_mode(kvm) and kvm.sw.walk_start == "locked_value":
        start = rmap_val
    else:
        start = kvm_rmap_get(kvm, head)
    for sptep in rmap_iterate(kvm, start):
        spte = mmu_spte_get_lockless(kvm, sptep)
        if is_shadow_present_pte(spte):
            yield sptep, spte


def _age_clear(kvm: KvmMmu, sptep: Any, spte: int) -> None:
    """Clear Accessed of ``sptep`` (read as ``spte``) without mmu_lock, per ``age_clear``."""
    how = kvm.sw.age_clear
    if how == "clear_bit":
        clear_bit(ACCESSED_BIT, sptep)  # spte_ad_enabled(): clear_bit of the A bit, atomic
    elif how == "cmpxchg":
        cmpxchg64(sptep, spte, mark_spte_for_access_track(spte))  # a failure: it stays young
    else:
        kvm.ops.spte_write(sptep, mark_spte_for_access_track(spte))  # the broken store


def kvm_rmap_age_gfn_range(kvm: KvmMmu, start: int, end: int, test_only: bool,
                           slot: KvmMemorySlot | None = None) -> bool:
    """Models ``kvm_rmap_age_gfn_range(kvm, range, test_only)`` (mmu.c, 6.15) for the gfns
    ``start <= gfn < end`` of ``slot`` (default: the slot of ``start``), without mmu_lock (see
    the module doc).  Returns whether the range is young."""
    slot = slot or gfn_to_memslot(kvm, start)
    if slot is None:
        raise ModelError(f"kvm_rmap_age_gfn_range: gfn {start} is in no memslot")
    young = False
    for level in sorted(slot.rmap):
        step = kvm.spt_entries ** (level - 1)
        gfn = start
        while gfn < end:
            head = gfn_to_rmap(kvm, gfn, level)
            rmap_val = kvm_rmap_lock_readonly(kvm, head)
            for sptep, spte in for_each_rmap_spte_lockless(kvm, head, rmap_val):
                if not is_accessed_spte(spte):
                    continue
                if test_only:
                    kvm_rmap_unlock_readonly(kvm, head, rmap_val)
                    return True
                _age_clear(kvm, sptep, spte)
                young = True
            kvm_rmap_unlock_readonly(kvm, head, rmap_val)
            gfn += step
    return young


def _check_young(kvm: KvmMmu, start: int, end: int, young: bool, who: str) -> None:
    """I10's aging half (see the module doc)."""
    if young or not kvm.young_required:
        return
    slot = gfn_to_memslot(kvm, start)
    if slot is None:
        return
    for level in sorted(slot.rmap):
        for gfn in range(start, end):
            head = int(gfn_to_rmap(kvm, gfn, level))
            need = kvm.young_required.get(head)
            if need:
                shown = ", ".join(format_value(kvm.prog, x) for x in sorted(need))
                raise Violated(I10_YOUNG, f"{who} of gfns [{start}, {end}) reports old, but the spte(s) {shown} "
                                          f"on the rmap of gfn {gfn} were present and Accessed throughout")


def kvm_age_gfn(kvm: KvmMmu, start: int, end: int | None = None) -> bool:
    """Models the shadow-MMU half of ``kvm_age_gfn(kvm, range)`` (mmu.c, 6.15; the MMU
    notifier's ``clear_young``): ``kvm_rmap_age_gfn_range(kvm, range, false)`` without mmu_lock.
    Checks I10's aging half on the result."""
    end = start + 1 if end is None else end
    young = kvm_rmap_age_gfn_range(kvm, start, end, False)
    _check_young(kvm, start, end, young, "kvm_age_gfn")
    return young


def kvm_test_age_gfn(kvm: KvmMmu, start: int, end: int | None = None) -> bool:
    """Models the shadow-MMU half of ``kvm_test_age_gfn(kvm, range)`` (mmu.c, 6.15; the MMU
    notifier's ``test_young``): ``kvm_rmap_age_gfn_range(kvm, range, true)`` without mmu_lock.
    Checks I10's aging half on the result."""
    end = start + 1 if end is None else end
    young = kvm_rmap_age_gfn_range(kvm, start, end, True)
    _check_young(kvm, start, end, young, "kvm_test_age_gfn")
    return young


def require_young(kvm: KvmMmu, gfn: int, sptes: list[int], level: int = 1) -> None:
    """Declare (ghost knowledge, no events) that ``sptes`` stay on the rmap of (``gfn``,
    ``level``), present and Accessed, throughout every aging walk of the program."""
    kvm.young_required.setdefault(int(gfn_to_rmap(kvm, gfn, level)), set()).update(int(s) for s in sptes)


__all__ = [
    "ACCESSED_BIT", "I10_YOUNG", "for_each_rmap_spte_lockless", "is_accessed_spte", "kvm_age_gfn",
    "kvm_rmap_age_gfn_range", "kvm_test_age_gfn", "mark_spte_for_access_track", "require_young",
]
