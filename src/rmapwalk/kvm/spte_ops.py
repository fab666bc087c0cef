"""The low-level spte writers and the TLB-flush rule (arch/x86/kvm/mmu.c, Linux 3.11;
``kvm-reference.md`` §2.5, §2.8, §2.17).

Every access to an spte goes through ``kvm.ops.spte_*`` (``READ_ONCE``/``WRITE_ONCE``, ``xchg``,
``cmpxchg``; see :mod:`rmapwalk.kvm.access`), so each is one event of the checker.

Callers hold ``kvm.mmu_lock``, except :func:`mmu_spte_get_lockless` (lockless walkers).

Not modelled: the host page's accessed/dirty propagation (``kvm_set_pfn_accessed`` /
``kvm_set_pfn_dirty``): :func:`mmu_spte_update` and :func:`mmu_spte_clear_track_bits` return or
compute it but do not store it anywhere yet (invariant I10 will need it), and the 32-bit host's
``clear_spte_count``.
"""

from __future__ import annotations

from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.rmap import rmap_remove
from rmapwalk.kvm.spte import (
    is_rmap_spte,
    is_shadow_present_pte,
    is_writable_pte,
    spte_has_volatile_bits,
    spte_is_locklessly_modifiable,
)


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
    if not spte_has_volatile_bits(old):
        kvm.ops.spte_write(sptep, new_spte)
    else:
        old = int(kvm.ops.spte_xchg(sptep, new_spte))
    return spte_flush_needed(kvm, old, new_spte)


def mmu_spte_clear_track_bits(kvm: KvmMmu, sptep: int) -> bool:
    """Models ``mmu_spte_clear_track_bits()`` (arch/x86/kvm/mmu.c, 3.11): set a leaf spte to 0
    (plain store, or ``xchg`` if it has volatile bits) and report whether the old value was an
    rmap spte (so the caller removes it from its rmap).  The A/D propagation to the host page is
    not modelled (module doc)."""
    old = int(kvm.ops.spte_read(sptep))
    if not spte_has_volatile_bits(old):
        kvm.ops.spte_write(sptep, 0)
    else:
        old = int(kvm.ops.spte_xchg(sptep, 0))
    return is_rmap_spte(old)


def mmu_spte_clear_no_track(kvm: KvmMmu, sptep: int) -> None:
    """Models ``mmu_spte_clear_no_track()`` (arch/x86/kvm/mmu.c, 3.11): a plain store of 0, for
    non-leaf entries and MMIO sptes."""
    kvm.ops.spte_write(sptep, 0)


def drop_spte(kvm: KvmMmu, sptep: int) -> None:
    """Models ``drop_spte()`` (arch/x86/kvm/mmu.c, 3.11): clear the spte *first*, then remove it
    from its rmap (a lockless walker may meet a cleared spte still on the rmap)."""
    if mmu_spte_clear_track_bits(kvm, sptep):
        rmap_remove(kvm, sptep)


__all__ = [
    "drop_spte", "mmu_spte_clear_no_track", "mmu_spte_clear_track_bits", "mmu_spte_get_lockless", "mmu_spte_set",
    "mmu_spte_update", "spte_flush_needed",
]
