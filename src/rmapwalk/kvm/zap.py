"""Zapping shadow pages: ``kvm_mmu_prepare_zap_page`` / ``kvm_mmu_commit_zap_page`` and their
helpers (arch/x86/kvm/mmu.c, Linux 3.11; ``kvm-reference.md`` §2.16, §3.7), with the
``sp_free`` switch:

* ``immediate`` (3.11): after the remote-TLB flush, ``kvm_mmu_free_page`` at once.  The flush
  waits for vCPUs in a lockless shadow walk (interrupts off), which protects
  ``fast_page_fault``, but not for a lockless *rmap* walker that is no vCPU (the series'
  lockless write-protect in ``get_dirty_log``): it may touch the freed table (I4,
  ``use-after-free``);
* ``call_rcu`` (series v1, ``rcu_free_shadow_page``): the free runs from an RCU callback, after
  every RCU reader that could hold an sptep into the page has finished;
* ``typesafe_slab`` (series v2, Gleb's proposal): freed at once, but headers and tables come
  from ``SLAB_DESTROY_BY_RCU`` caches (``KvmMmu`` creates them so), so a reader may still touch
  them, and a table may be reused, at another level, under the reader's feet (R10,
  ``leaf_check``).

Callers hold ``kvm.mmu_lock``.  Not modelled: unsync children (``mmu_zap_unsync_children``), the
hash and active lists, ``root_count`` (roots are never zapped), ``kvm_mod_used_mmu_pages``.
"""

from __future__ import annotations

from rmapwalk.engine.mutation import mutation_point
from rmapwalk.engine.runtime import ModelError
from rmapwalk.kernel.rcu import call_rcu
from rmapwalk.kvm.mmu_page import KvmMmu, kvm_mmu_free_page
from rmapwalk.kvm.pte_list import pte_list_remove, rmap_walk
from rmapwalk.kvm.spte import is_last_spte, is_shadow_present_pte, spte_to_pfn
from rmapwalk.kvm.spte_ops import drop_spte, mmu_spte_clear_no_track
from rmapwalk.kvm.vcpu import kvm_flush_remote_tlbs


def sp_of_table(kvm: KvmMmu, spt: int) -> int:
    """``page_header(__pa(spt))`` for a table address taken from a non-leaf spte: the
    table's ``page_private`` (one plain load)."""
    return int(kvm.ops.kernel_read(kvm.spt_cache.f(spt, "private")))


def mmu_page_remove_parent_pte(kvm: KvmMmu, sp: int, parent_pte: int) -> None:
    """Models ``mmu_page_remove_parent_pte()`` (3.11): ``pte_list_remove(parent_pte,
    &sp->parent_ptes)``."""
    pte_list_remove(kvm, parent_pte, kvm.sp_field(sp, "parent_ptes"))


def drop_parent_pte(kvm: KvmMmu, sp: int, parent_pte: int) -> None:
    """Models ``drop_parent_pte()`` (3.11): forget the parent entry, then clear it
    (``mmu_spte_clear_no_track``)."""
    mmu_page_remove_parent_pte(kvm, sp, parent_pte)
    mmu_spte_clear_no_track(kvm, parent_pte)


def mmu_page_zap_pte(kvm: KvmMmu, sp: int, spte: int) -> bool:
    """Models ``mmu_page_zap_pte()`` (3.11): a present leaf is dropped (``drop_spte``: cleared,
    then removed from its rmap); a non-leaf entry is unlinked from its child
    (``drop_parent_pte``).  Returns whether the entry was present."""
    pte = int(kvm.ops.spte_read(spte))
    if not is_shadow_present_pte(pte):
        return False
    level = int(kvm.ops.kernel_read(kvm.sp_field(sp, "role_level")))
    if is_last_spte(pte, level):
        drop_spte(kvm, spte)
    else:
        drop_parent_pte(kvm, sp_of_table(kvm, spte_to_pfn(pte)), spte)
    return True


def kvm_mmu_page_unlink_children(kvm: KvmMmu, sp: int) -> None:
    """Models ``kvm_mmu_page_unlink_children()`` (3.11): ``mmu_page_zap_pte`` on every entry."""
    spt = int(kvm.ops.kernel_read(kvm.sp_field(sp, "spt")))
    for i in range(kvm.spt_entries):
        mmu_page_zap_pte(kvm, sp, kvm.spt_entry(spt, i))


def kvm_mmu_unlink_parents(kvm: KvmMmu, sp: int) -> None:
    """Models ``kvm_mmu_unlink_parents()`` (3.11): ``while ((sptep = rmap_get_first(
    sp->parent_ptes))) drop_parent_pte(sp, sptep);``."""
    head = kvm.sp_field(sp, "parent_ptes")
    while True:
        first = next(iter(rmap_walk(kvm, head)), None)
        if first is None:
            return
        drop_parent_pte(kvm, sp, first)


def kvm_mmu_prepare_zap_page(kvm: KvmMmu, sp: int, invalid_list: list[int]) -> int:
    """Models ``kvm_mmu_prepare_zap_page()`` (3.11): unlink the children (dropping leaf sptes
    from their rmaps) and the parents, mark the page invalid and queue it on ``invalid_list``
    (no ``root_count``: roots are not zapped).  Returns the number of pages zapped (1)."""
    if sp in invalid_list:
        raise ModelError("kvm_mmu_prepare_zap_page: page already zapped")
    kvm_mmu_page_unlink_children(kvm, sp)
    kvm_mmu_unlink_parents(kvm, sp)
    kvm.ops.kernel_write(kvm.sp_field(sp, "role_invalid"), 1)
    invalid_list.append(sp)
    return 1


def _free_pages(kvm: KvmMmu, sps: tuple[int, ...]) -> None:
    for sp in sps:
        kvm_mmu_free_page(kvm, sp)


def kvm_mmu_commit_zap_page(kvm: KvmMmu, invalid_list: list[int]) -> None:
    """Models ``kvm_mmu_commit_zap_page()`` (3.11): ``kvm_flush_remote_tlbs`` (which waits for
    vCPUs in lockless shadow walks), then free the pages per ``sp_free``: at once
    (``immediate``, ``typesafe_slab``) or in one RCU callback for the whole list (``call_rcu``,
    series v1 ``rcu_free_shadow_page``; the program needs ``init_rcu``).

    ``zap_flush=none`` frees without the flush: a vCPU may still be in a lockless walk of the
    page (``fast_page_fault``) or hold TLB entries through it."""
    if not invalid_list:
        return
    # zap_flush=none: the broken alternative (scenario zap-flush); its mutant skips the flush too
    if not mutation_point("kvm_mmu_commit_zap_page: no flush needed", kvm.sw.zap_flush == "none"):
        kvm_flush_remote_tlbs(kvm)
    sps = tuple(invalid_list)
    invalid_list.clear()
    if kvm.sw.sp_free == "call_rcu":
        call_rcu(sps, lambda pages: _free_pages(kvm, pages))
    else:
        _free_pages(kvm, sps)


def kvm_mmu_zap_page(kvm: KvmMmu, sp: int) -> None:
    """``kvm_mmu_prepare_zap_page`` then ``kvm_mmu_commit_zap_page`` of one page (as
    ``kvm_mmu_unprotect_page`` and the MMU notifier paths do).  Under mmu_lock."""
    invalid: list[int] = []
    kvm_mmu_prepare_zap_page(kvm, sp, invalid)
    kvm_mmu_commit_zap_page(kvm, invalid)


__all__ = [
    "drop_parent_pte", "kvm_mmu_commit_zap_page", "kvm_mmu_page_unlink_children", "kvm_mmu_prepare_zap_page",
    "kvm_mmu_unlink_parents", "kvm_mmu_zap_page", "mmu_page_remove_parent_pte", "mmu_page_zap_pte",
    "sp_of_table",
]
