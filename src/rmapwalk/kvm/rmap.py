"""Reverse maps: which rmap an spte belongs to, and adding/removing it
(arch/x86/kvm/mmu.c, Linux 3.11; ``kvm-reference.md`` §1.4, §2.4).

An spte lives on the rmap of (its gfn, ``sp->role.level`` of the table holding it): the level
of the table, not of the mapping request.  Callers hold ``kvm.mmu_lock``.
"""

from __future__ import annotations

from collections.abc import Iterator

from rmapwalk.engine.program import Loc
from rmapwalk.engine.runtime import ModelError
from rmapwalk.kvm.memslot import __gfn_to_rmap, gfn_to_memslot
from rmapwalk.kvm.mmu_page import (
    KvmMmu,
    kvm_mmu_page_get_gfn,
    kvm_mmu_page_set_gfn,
    page_header,
    spte_index,
)
from rmapwalk.kvm.pte_list import pte_list_add, pte_list_remove, rmap_walk

#: ``rmap_add`` returns more than this -> ``rmap_recycle`` (3.11: 1000)
RMAP_RECYCLE_THRESHOLD = 1000


def gfn_to_rmap(kvm: KvmMmu, gfn: int, level: int) -> Loc:
    """Models ``gfn_to_rmap()`` (arch/x86/kvm/mmu.c, 3.11): the address of the rmap head of
    ``gfn`` at ``level`` (memslots are fixed during exploration: no event)."""
    slot = gfn_to_memslot(kvm, gfn)
    if slot is None:
        raise ModelError(f"gfn_to_rmap: gfn {gfn} is in no memslot")
    return __gfn_to_rmap(gfn, level, slot)


def rmap_add(kvm: KvmMmu, sptep: int, gfn: int) -> int:
    """Models ``rmap_add(vcpu, spte, gfn)`` (arch/x86/kvm/mmu.c, 3.11): ``sp = page_header(spte)``;
    ``kvm_mmu_page_set_gfn(sp, spte - sp->spt, gfn)``; add ``sptep`` to the rmap of
    (``gfn``, ``sp->role.level``).  Returns ``pte_list_add``'s count.  Takes the VM instead of the
    vCPU (the model's desc cache is the VM's, not a per-vCPU pre-filled cache)."""
    sp = page_header(kvm, sptep)
    kvm_mmu_page_set_gfn(kvm, sp, spte_index(kvm, sptep), gfn)
    level = int(kvm.ops.kernel_read(kvm.sp_field(sp, "role_level")))
    return pte_list_add(kvm, sptep, gfn_to_rmap(kvm, gfn, level))


def rmap_remove(kvm: KvmMmu, sptep: int) -> None:
    """Models ``rmap_remove()`` (arch/x86/kvm/mmu.c, 3.11): gfn from
    ``kvm_mmu_page_get_gfn(sp, index)``, level from ``sp->role.level``, then
    ``pte_list_remove``."""
    sp = page_header(kvm, sptep)
    gfn = kvm_mmu_page_get_gfn(kvm, sp, spte_index(kvm, sptep))
    level = int(kvm.ops.kernel_read(kvm.sp_field(sp, "role_level")))
    pte_list_remove(kvm, sptep, gfn_to_rmap(kvm, gfn, level))


def rmap_sptes(kvm: KvmMmu, gfn: int, level: int = 1) -> Iterator[int]:
    """``for sptep in rmap_sptes(kvm, gfn, level)``: the locked iterator over one gfn's rmap."""
    return rmap_walk(kvm, gfn_to_rmap(kvm, gfn, level))


__all__ = ["RMAP_RECYCLE_THRESHOLD", "gfn_to_rmap", "rmap_add", "rmap_remove", "rmap_sptes"]
