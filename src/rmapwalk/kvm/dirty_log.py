"""Dirty logging: write-protection of sptes, ``kvm_mmu_slot_remove_write_access`` (enabling
dirty logging) and ``kvm_vm_ioctl_get_dirty_log`` (harvesting), in the 3.11 locked form and the
2013 series' lockless form (arch/x86/kvm/mmu.c and arch/x86/kvm/x86.c, Linux 3.11;
``kvm-reference.md`` §2.9-2.11, §3.3, §3.8-3.9).

Switches used here: ``write_protect`` (locked | lockless), ``flush_location`` (under_lock |
after_unlock_serialized | after_unlock_unserialized), ``large_wp`` (zap | readonly),
``leaf_check`` (by_level | by_value), and through ``mmu_spte_update`` ``flush_rule``.

``slots_lock`` is a spinlock word in the model (a mutex in the kernel); it is taken by
``kvm_vm_ioctl_get_dirty_log`` and, standing for its caller ``kvm_set_memory_region``, by
``kvm_mmu_slot_remove_write_access`` -- except with ``flush_location=after_unlock_unserialized``,
the broken setting of R8, where neither takes it.
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine.mutation import mutation_point
from rmapwalk.engine.runtime import Violated
from rmapwalk.kernel.barriers import smp_rmb
from rmapwalk.kernel.bitops import BITS_PER_LONG, xchg_word
from rmapwalk.kernel.once import READ_ONCE
from rmapwalk.kernel.spinlock import spin_lock, spin_unlock
from rmapwalk.kvm.memslot import KvmMemorySlot
from rmapwalk.kvm.mmu_checks import (
    check_no_writable_large_spte,
    check_slot_write_protected,
    ghost_harvesting,
    ghost_lockless_harvest,
    kvm_mmu_unlock,
)
from rmapwalk.kvm.mmu_page import KvmMmu, page_header
from rmapwalk.kvm.pte_list import pte_list_walk_lockless, rmap_walk
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.spte import (
    PT_PAGE_TABLE_LEVEL,
    PT_WRITABLE_MASK,
    SPTE_MMU_WRITEABLE,
    is_ghost_nonleaf,
    is_large_pte,
    is_last_spte,
    is_last_spte_by_value,
    is_mmio_spte,
    is_shadow_present_pte,
    is_writable_pte,
    spte_describe,
    spte_is_locklessly_modifiable,
)
from rmapwalk.kvm.spte_ops import drop_spte, mmu_spte_get_lockless, mmu_spte_update
from rmapwalk.kvm.vcpu import guest_memory, kvm_flush_remote_tlbs

# -- write-protection under mmu_lock ----------------------------------------------------------------------

def __drop_large_spte(kvm: KvmMmu, sptep: int, spte: int) -> bool:  # noqa: N807 - the kernel's name
    """Models ``__drop_large_spte()`` (arch/x86/kvm/mmu.c, 3.11): drop a large spte; whether it
    was one (``stat.lpages`` is not modelled)."""
    if is_large_pte(spte):
        drop_spte(kvm, sptep)
        return True
    return False


def spte_write_protect(kvm: KvmMmu, sptep: int, pt_protect: bool) -> tuple[bool, bool]:
    """Models ``spte_write_protect(kvm, sptep, &flush, pt_protect)`` (arch/x86/kvm/mmu.c, 3.11;
    §2.9), under mmu_lock.  Returns (``dropped``: the rmap changed and the caller must restart
    its walk, ``flush``).

    * neither writable nor (``pt_protect`` and locklessly modifiable): nothing to do;
    * a large spte: ``large_wp=zap`` (3.11) drops it; ``readonly`` ("lazily drop large spte",
      c126d94f2c90) clears W like any other;
    * ``pt_protect`` (shadow-page protection) also clears ``SPTE_MMU_WRITEABLE``; dirty logging
      keeps it, so the fast path may restore W;
    * the new value is installed with ``mmu_spte_update``, whose flush rule is ``flush_rule``."""
    spte = int(kvm.ops.spte_read(sptep))
    if not is_writable_pte(spte) and not (pt_protect and spte_is_locklessly_modifiable(spte)):
        return False, False
    if kvm.sw.large_wp == "zap" and __drop_large_spte(kvm, sptep, spte):
        return True, True
    if pt_protect:
        spte &= ~SPTE_MMU_WRITEABLE
    spte &= ~PT_WRITABLE_MASK
    return False, mmu_spte_update(kvm, sptep, spte)


def __rmap_write_protect(kvm: KvmMmu, head: int, pt_protect: bool) -> bool:  # noqa: N807 - the kernel's name
    """Models ``__rmap_write_protect()`` (arch/x86/kvm/mmu.c, 3.11): ``spte_write_protect`` on
    every spte of the rmap at ``head``, restarting the iteration when a large spte was dropped.
    Returns whether a flush is needed.  Under mmu_lock."""
    flush = False
    restart = True
    while restart:
        restart = False
        for sptep in rmap_walk(kvm, head):
            dropped, need = spte_write_protect(kvm, sptep, pt_protect)
            flush |= need
            if dropped:
                restart = True
                break
    return flush


def kvm_mmu_write_protect_pt_masked(kvm: KvmMmu, slot: KvmMemorySlot, gfn_offset: int, mask: int) -> None:
    """Models ``kvm_mmu_write_protect_pt_masked()`` (arch/x86/kvm/mmu.c, 3.11): for each set bit
    of ``mask``, ``__rmap_write_protect`` of the level-1 rmap of that gfn (level 1 only: a logged
    slot has no writable large spte, I11).  Under mmu_lock."""
    for b in range(BITS_PER_LONG):
        if mask >> b & 1:
            gfn = slot.base_gfn + gfn_offset + b
            __rmap_write_protect(kvm, gfn_to_rmap(kvm, gfn, PT_PAGE_TABLE_LEVEL), False)


def rmap_write_protect(kvm: KvmMmu, gfn: int) -> bool:
    """Models ``rmap_write_protect(kvm, gfn)`` (arch/x86/kvm/mmu.c, 3.11): write-protect every
    spte of ``gfn`` at every level with ``pt_protect=true`` (also clearing MMU-writable, so the
    fast path cannot restore W), as ``kvm_mmu_get_page`` does before shadowing a guest page
    table.  Returns whether the caller must flush remote TLBs (``flush_rule``, R3).  Under
    mmu_lock."""
    flush = False
    for level in range(1, kvm.rmap_level_count() + 1):
        flush |= __rmap_write_protect(kvm, gfn_to_rmap(kvm, gfn, level), True)
    return flush


# -- the series' lockless write-protection ------------------------------------------------------------------

def check_lockless_wp_target(kvm: KvmMmu, sptep: int, old_spte: int) -> None:
    """Invariant I7 at a lockless W-clear that succeeded: the entry was a shadow-present leaf
    spte, never a non-leaf entry (which would write-protect a whole subtree) nor an MMIO spte.
    Uses the model's ghost marker of non-leaf values: no memory access."""
    if is_ghost_nonleaf(old_spte) or is_mmio_spte(old_spte) or not is_shadow_present_pte(old_spte):
        raise Violated("I7 lockless write-protect only on leaf sptes",
                       f"cleared W of {sptep!r} = {spte_describe(old_spte)}, which is not a present leaf spte")


def spte_write_protect_lockless(kvm: KvmMmu, sptep: int) -> bool:
    """The series' lockless W-clear of one spte found by the lockless rmap walk ("locklessly
    write-protect the page", reconstructed, §3.8), without mmu_lock, inside the walker's RCU
    read-side section:

    ``loop: s = mmu_spte_get_lockless(sptep); if !present(s) || !writable(s): return; if
    !leaf(s): return; if cmpxchg64(sptep, s, s & ~W) != s: goto loop``

    The leaf test is ``leaf_check``: ``by_level`` reads ``sp->role.level`` through
    ``page_header`` (the table may meanwhile hold another level's entries), ``by_value`` uses the
    level encoded in the value (series v2).  No flush here: the caller flushes once.  Returns
    whether it cleared W.

    With ``by_level`` the level is known before the spte is read, as in series v1, whose walker
    passes the level of the rmap it walks to ``__rmap_write_protect_lockless(sptep, level)``: the
    model reads ``sp->role.level`` once, before the loop.  A table freed and reused at another
    level between that read and the spte read is R10 (scenario ``spt-reuse``).

    ``by_level_reread`` reads the spte first, then (after ``smp_rmb()``) ``page_header(sptep)``
    and ``sp->role.level`` again on every try, so the level belongs to the table as it is after
    the load; the pair is still two reads, and the ``cmpxchg`` validates only the spte."""
    level = 0
    check = kvm.sw.leaf_check
    if check == "by_level":
        sp = page_header(kvm, sptep)
        level = int(kvm.ops.kernel_read(kvm.sp_field(sp, "role_level")))
    while True:
        spte = mmu_spte_get_lockless(kvm, sptep)
        if not is_shadow_present_pte(spte) or not is_writable_pte(spte):
            return False
        if check == "by_value":
            leaf = is_last_spte_by_value(spte)
        elif check == "by_level_reread":
            smp_rmb()  # the level of the table as it is after the spte load
            sp = page_header(kvm, sptep)
            leaf = is_last_spte(spte, int(kvm.ops.kernel_read(kvm.sp_field(sp, "role_level"))))
        else:
            leaf = is_last_spte(spte, level)
        if not mutation_point("lockless write-protect: leaf test", leaf):
            return False
        if kvm.ops.spte_cmpxchg(sptep, spte, spte & ~PT_WRITABLE_MASK) == spte:
            check_lockless_wp_target(kvm, sptep, spte)
            return True


def kvm_mmu_write_protect_pt_masked_lockless(kvm: KvmMmu, slot: KvmMemorySlot, gfn_offset: int,
                                             mask: int) -> None:
    """The series' lockless ``kvm_mmu_write_protect_pt_masked`` (reconstructed, §3.8-3.9): for
    each set bit, walk the level-1 rmap with ``pte_list_walk_lockless`` (RCU read side, nulls
    check and restart) and W-clear each spte found with :func:`spte_write_protect_lockless`."""
    for b in range(BITS_PER_LONG):
        if mask >> b & 1:
            gfn = slot.base_gfn + gfn_offset + b
            head = gfn_to_rmap(kvm, gfn, PT_PAGE_TABLE_LEVEL)
            pte_list_walk_lockless(kvm, head, lambda sptep: spte_write_protect_lockless(kvm, sptep))


# -- the two callers --------------------------------------------------------------------------------------

def _serialized(kvm: KvmMmu) -> bool:
    return kvm.sw.flush_location != "after_unlock_unserialized"


def kvm_mmu_slot_remove_write_access(kvm: KvmMmu, slot: KvmMemorySlot) -> None:
    """Models ``kvm_mmu_slot_remove_write_access()`` (arch/x86/kvm/mmu.c, 3.11; §2.10), the
    write-protection of a whole slot when dirty logging is enabled: under mmu_lock,
    ``__rmap_write_protect(pt_protect=false)`` of every non-empty rmap of every level, then
    ``kvm_flush_remote_tlbs``: under mmu_lock (``flush_location=under_lock``, 3.11,
    unconditional) or after dropping it and only if some ``__rmap_write_protect`` said so
    (198c74f43f0f: ``if (flush) kvm_flush_remote_tlbs(kvm)``).  An spte whose W another
    protector cleared without having flushed yet asks for no flush (``spte_write_protect`` returns
    early on W clear, whatever ``flush_rule``): hence 198c74f43f0f's requirement that this
    function and ``kvm_vm_ioctl_get_dirty_log`` be serialized by ``slots_lock`` (R8, scenario
    ``flush-slots-lock``).  Opt-in I9 (c) check before ``slots_lock`` is released
    (``kvm.check_i9_slot``).  Always the locked form.  The ``cond_resched_lock`` break is not
    modelled."""
    if _serialized(kvm):
        spin_lock(kvm.slots_lock)
    spin_lock(kvm.mmu_lock)
    flush = False
    for level in sorted(slot.rmap):
        for head in slot.rmap[level]:
            flush |= __rmap_write_protect(kvm, head, False)
    if kvm.sw.flush_location == "under_lock":
        kvm_flush_remote_tlbs(kvm)
    check_no_writable_large_spte(kvm, slot, "kvm_mmu_slot_remove_write_access")
    kvm_mmu_unlock(kvm, "kvm_mmu_slot_remove_write_access")
    if kvm.sw.flush_location != "under_lock" and flush:
        kvm_flush_remote_tlbs(kvm)
    check_slot_write_protected(kvm, slot, "kvm_mmu_slot_remove_write_access")
    if _serialized(kvm):
        spin_unlock(kvm.slots_lock)


def kvm_vm_ioctl_get_dirty_log(kvm: KvmMmu, slot: KvmMemorySlot | None = None) -> list[int]:
    """Models ``kvm_vm_ioctl_get_dirty_log()`` (arch/x86/kvm/x86.c, 3.11; §2.11) and the
    series' lockless version (§3.8).  Returns the gfns it reports (the snapshot buffer copied to
    userspace), in order.

    For each bitmap word that reads non-zero: ``xchg`` it with 0 (the harvest: a full barrier
    before the write-protection), remember it, and write-protect the gfns of its set bits:

    * ``write_protect=locked`` (3.11): under mmu_lock, ``kvm_mmu_write_protect_pt_masked``;
    * ``write_protect=lockless`` (series): no mmu_lock, the lockless rmap walk and cmpxchg.

    If any bit was harvested, ``kvm_flush_remote_tlbs`` (3.11: whether or not an spte changed):
    under mmu_lock (``flush_location=under_lock``, locked form only) or after it.  The whole
    ioctl holds ``slots_lock`` unless ``flush_location=after_unlock_unserialized``."""
    slot = slot or kvm.memslots[0]
    if slot.dirty_bitmap is None:
        raise Violated("BUG", f"get_dirty_log: slot {slot.id} does not log dirty pages (-ENOENT)")
    locked = kvm.sw.write_protect == "locked"
    if _serialized(kvm):
        spin_lock(kvm.slots_lock)
    reported: list[int] = []
    is_dirty = False
    if not locked:
        ghost_lockless_harvest(kvm, True)  # I1 state form (opt-in ghost)
    if locked:
        spin_lock(kvm.mmu_lock)
    ghosts: list[int] = []
    for i, word in enumerate(slot.dirty_bitmap):
        if not READ_ONCE(word):
            continue
        is_dirty = True
        if kvm.check_i1_state:  # I1 state form's ghost: every gfn of the word, narrowed after the xchg
            ghosts = [g for g in slot.gfns() if (g - slot.base_gfn) // BITS_PER_LONG == i]
            ghost_harvesting(kvm, ghosts, True)
        mask = xchg_word(word, 0)  # xchg(&dirty_bitmap[i], 0): the harvest, fully ordered
        got = [slot.base_gfn + i * BITS_PER_LONG + b for b in range(BITS_PER_LONG) if mask >> b & 1]
        reported += got
        ghost_harvesting(kvm, [g for g in ghosts if g not in got], False)
        ghosts = [g for g in ghosts if g in got]
        if locked:
            kvm_mmu_write_protect_pt_masked(kvm, slot, i * BITS_PER_LONG, mask)
        else:
            kvm_mmu_write_protect_pt_masked_lockless(kvm, slot, i * BITS_PER_LONG, mask)
    if is_dirty and locked and kvm.sw.flush_location == "under_lock":
        kvm_flush_remote_tlbs(kvm)
    if locked:
        check_no_writable_large_spte(kvm, slot, "kvm_vm_ioctl_get_dirty_log")
        kvm_mmu_unlock(kvm, "kvm_vm_ioctl_get_dirty_log")
    if is_dirty and not (locked and kvm.sw.flush_location == "under_lock"):
        kvm_flush_remote_tlbs(kvm)
    ghost_harvesting(kvm, reported, False)
    if not locked:
        ghost_lockless_harvest(kvm, False)
    if _serialized(kvm):
        spin_unlock(kvm.slots_lock)
    return reported


# -- userspace: live migration --------------------------------------------------------------------------------

def migration_copy(kvm: KvmMmu, gfns: list[int], copies: dict[int, Any]) -> None:
    """What userspace does with a dirty log during live migration: copy each reported page
    (``READ_ONCE(mem[g])``) to the destination, after ``KVM_GET_DIRTY_LOG`` returned."""
    mem = guest_memory(kvm)
    for g in gfns:
        copies[g] = READ_ONCE(mem[g])


__all__ = [
    "__drop_large_spte", "__rmap_write_protect", "check_lockless_wp_target", "kvm_mmu_slot_remove_write_access",
    "kvm_mmu_write_protect_pt_masked", "kvm_mmu_write_protect_pt_masked_lockless", "kvm_vm_ioctl_get_dirty_log",
    "migration_copy", "rmap_write_protect", "spte_write_protect", "spte_write_protect_lockless",
]
