"""The low-level spte writers and the TLB-flush rule (arch/x86/kvm/mmu.c, Linux 3.11;
``kvm-reference.md`` §2.5, §2.8, §2.17).

Every access to an spte goes through ``kvm.ops.spte_*`` (``READ_ONCE``/``WRITE_ONCE``, ``xchg``,
``cmpxchg``; see :mod:`rmapwalk.kvm.access`), so each is one event of the checker.

Callers hold ``kvm.mmu_lock``, except :func:`mmu_spte_get_lockless` (lockless walkers).

The host page's dirty and accessed flags (``kvm_set_pfn_dirty``, ``kvm_set_pfn_accessed``) are
recorded by :func:`mmu_spte_clear_track_bits` for the gfns a program tracks (I10,
``kvm.host_dirty``, ``kvm.host_accessed``).
Not modelled: the A/D propagation of :func:`mmu_spte_update`, and the
32-bit host's ``clear_spte_count``.  ``spte_has_volatile_bits`` follows ``volatile_bits``.
"""

from __future__ import annotations

from rmapwalk.engine.mutation import mutation_point
from rmapwalk.kernel.once import WRITE_ONCE
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.rmap import rmap_remove
from rmapwalk.kvm.spte import (
    is_rmap_spte,
    is_shadow_present_pte,
    is_writable_pte,
    shadow_accessed_mask,
    shadow_dirty_mask,
    spte_has_volatile_bits,
    spte_is_locklessly_modifiable,
    spte_to_pfn,
)


def kvm_set_pfn_dirty(kvm: KvmMmu, pfn: int) -> None:
    """Models ``kvm_set_pfn_dirty()`` (virt/kvm/kvm_main.c, 3.11): the host page becomes dirty
    (``SetPageDirty``).  Recorded only for the gfns whose host page the program tracks
    (``kvm.host_dirty``, made by ``invariants.require_no_lost_dirty_bit``): elsewhere no event."""
    loc = kvm.host_dirty.get(pfn - kvm.pfn_base)
    if loc is not None:
        WRITE_ONCE(loc, 1)


def kvm_set_pfn_accessed(kvm: KvmMmu, pfn: int) -> None:
    """Models ``kvm_set_pfn_accessed()`` (virt/kvm/kvm_main.c, 3.11): ``mark_page_accessed`` of
    the host page.  Recorded only for the gfns whose host page the program tracks
    (``kvm.host_accessed``, made by ``invariants.require_no_lost_accessed_bit``)."""
    loc = kvm.host_accessed.get(pfn - kvm.pfn_base)
    if loc is not None:
        WRITE_ONCE(loc, 1)


def mmu_spte_get_lockless(kvm: KvmMmu, sptep: int) -> int:
    """Models ``mmu_spte_get_lockless()`` (arch/x86/kvm/mmu.c, 3.11): one ``ACCESS_ONCE`` load
    of the spte, for walkers without mmu_lock."""
    return int(kvm.ops.spte_read(sptep))


def mmu_spte_set(kvm: KvmMmu, sptep: int, new_spte: int) -> None:
    """Models ``mmu_spte_set()`` (arch/x86/kvm/mmu.c, 3.11): install ``new_spte`` in an spte that
    is not shadow-present (``__set_spte``: one 64-bit store)."""
    kvm.ops.spte_write(sptep, new_spte)


def spte_flush_needed(kvm: KvmMmu, old_spte: int, new_spte: int) -> bool:
    """The TLB-flush rule of ``mmu_spte_update``, per the ``flush_rule`` switch:

    * ``writable`` (3.11): ``is_writable_pte(old) && !is_writable_pte(new)``;
    * ``mmu_writable`` (the 2013 series' "flush tlb if the spte can be locklessly modified",
      merged; later ``is_mmu_writable_spte``): ``spte_is_locklessly_modifiable(old) &&
      !is_writable_pte(new)``.  Closes R3: an spte whose W another CPU cleared without flushing
      yet still has a writable TLB entry somewhere."""
    if is_writable_pte(new_spte):
        return False
    if kvm.sw.flush_rule == "writable":
        return is_writable_pte(old_spte)
    return spte_is_locklessly_modifiable(old_spte)


def mmu_spte_update(kvm: KvmMmu, sptep: int, new_spte: int) -> bool:
    """Models ``mmu_spte_update()`` (arch/x86/kvm/mmu.c, 3.11): replace a present spte by one
    with the same pfn (state bits only); returns whether remote TLBs must be flushed
    (:func:`spte_flush_needed`).

    A non-present old spte is simply set (no flush).  An old spte without volatile bits
    (``spte_has_volatile_bits``) is overwritten with a plain store; otherwise with ``xchg``, and
    the flush decision uses the value the ``xchg`` returned (which includes a W bit the fast path
    may have set meanwhile)."""
    old = int(kvm.ops.spte_read(sptep))
    if not is_shadow_present_pte(old):
        mmu_spte_set(kvm, sptep, new_spte)
        return False
    if mutation_point("mmu_spte_update: no volatile bits (plain store)",
                      not spte_has_volatile_bits(old, kvm.sw.volatile_bits == "mmu_writable")):
        kvm.ops.spte_write(sptep, new_spte)
    else:
        old = int(kvm.ops.spte_xchg(sptep, new_spte))
    return not mutation_point("mmu_spte_update: no TLB flush needed", not spte_flush_needed(kvm, old, new_spte))


def mmu_spte_clear_track_bits(kvm: KvmMmu, sptep: int) -> bool:
    """Models ``mmu_spte_clear_track_bits()`` (arch/x86/kvm/mmu.c, 3.11): set a leaf spte to 0
    (plain store, or ``xchg`` if it has volatile bits), ``kvm_set_pfn_accessed`` if the old value
    had A and ``kvm_set_pfn_dirty`` if it had D, and report whether the old value was an
    rmap spte (so the caller removes it from its rmap)."""
    old = int(kvm.ops.spte_read(sptep))
    if mutation_point("mmu_spte_clear_track_bits: no volatile bits (plain store)",
                      not spte_has_volatile_bits(old, kvm.sw.volatile_bits == "mmu_writable")):
        kvm.ops.spte_write(sptep, 0)
    else:
        old = int(kvm.ops.spte_xchg(sptep, 0))
    if is_rmap_spte(old) and old & shadow_accessed_mask:
        kvm_set_pfn_accessed(kvm, spte_to_pfn(old))
    if is_rmap_spte(old) and old & shadow_dirty_mask:
        kvm_set_pfn_dirty(kvm, spte_to_pfn(old))
    return is_rmap_spte(old)


def mmu_spte_clear_no_track(kvm: KvmMmu, sptep: int) -> None:
    """Models ``mmu_spte_clear_no_track()`` (arch/x86/kvm/mmu.c, 3.11): a plain store of 0, for
    non-leaf entries and MMIO sptes."""
    kvm.ops.spte_write(sptep, 0)


def drop_spte(kvm: KvmMmu, sptep: int) -> None:
    """Models ``drop_spte()`` (arch/x86/kvm/mmu.c, 3.11): clear the spte *first*, then remove it
    from its rmap (a lockless walker may meet a cleared spte still on the rmap, never a present
    spte that is no longer on it).

    ``drop_order=remove_first`` (the broken alternative, scenario drop-order) removes it from
    the rmap before clearing it: until the clear, the spte is present, possibly writable, and
    invisible to a lockless write-protect walking the rmap."""
    if mutation_point("drop_spte: may remove from the rmap before the clear", kvm.sw.drop_order == "remove_first"):
        if is_rmap_spte(int(kvm.ops.spte_read(sptep))):
            rmap_remove(kvm, sptep)
        mmu_spte_clear_track_bits(kvm, sptep)
        return
    if mmu_spte_clear_track_bits(kvm, sptep):
        rmap_remove(kvm, sptep)


__all__ = [
    "drop_spte", "kvm_set_pfn_accessed", "kvm_set_pfn_dirty", "mmu_spte_clear_no_track", "mmu_spte_clear_track_bits",
    "mmu_spte_get_lockless", "mmu_spte_set", "mmu_spte_update", "spte_flush_needed",
]
