"""The KVM x86 shadow-MMU model (Linux 3.11 and Xiao Guangrong's 2013 "locklessly write-protect"
series), built on :mod:`rmapwalk.kernel`.

Foundation modules:

* :mod:`~rmapwalk.kvm.switches`: the design switches (``Switches``);
* :mod:`~rmapwalk.kvm.spte`: spte bits and predicates (pure functions);
* :mod:`~rmapwalk.kvm.mmu_page`: ``KvmMmu`` (the VM's MMU state) and ``struct kvm_mmu_page``;
* :mod:`~rmapwalk.kvm.memslot`: memslots, rmap arrays, dirty bitmaps, ``mark_page_dirty``;
* :mod:`~rmapwalk.kvm.pte_list`: rmap heads, ``pte_list_desc`` chains, the locked iterator and
  the lockless walker;
* :mod:`~rmapwalk.kvm.rmap`: ``gfn_to_rmap``, ``rmap_add``, ``rmap_remove``;
* :mod:`~rmapwalk.kvm.access`: how each kind of access becomes kernel primitives.

The layer above:

* :mod:`~rmapwalk.kvm.spte_ops`: ``mmu_spte_set``/``update``/``clear_*``, ``drop_spte`` and the
  TLB-flush rule (``flush_rule``);
* :mod:`~rmapwalk.kvm.vcpu`: vCPUs (mode, flush requests, TLB), guest reads and writes,
  ``kvm_flush_remote_tlbs``, ``fast_page_fault`` and the slow path (``mark_order``,
  ``wmb_before_mark``, ``fast_pf_large``, ``fast_pf_indirect``);
* :mod:`~rmapwalk.kvm.dirty_log`: ``kvm_mmu_slot_remove_write_access`` and
  ``kvm_vm_ioctl_get_dirty_log``, locked and lockless (``write_protect``, ``flush_location``,
  ``large_wp``, ``leaf_check``);
* :mod:`~rmapwalk.kvm.zap`: ``kvm_mmu_prepare_zap_page`` / ``kvm_mmu_commit_zap_page``
  (``sp_free``);
* :mod:`~rmapwalk.kvm.invariants` and :mod:`~rmapwalk.kvm.mmu_checks`: I1 (end to end, with a
  migration thread, and the opt-in state form), I2, I3, I5-I11;
* :mod:`~rmapwalk.kvm.scenarios`: the named scenarios (``SCENARIOS``).
"""

from rmapwalk.kvm.memslot import KvmMemorySlot, gfn_to_memslot, mark_page_dirty
from rmapwalk.kvm.mmu_page import (
    KvmMmu,
    kvm_mmu_alloc_page,
    kvm_mmu_free_page,
    kvm_mmu_page_get_gfn,
    kvm_mmu_page_set_gfn,
    page_header,
)
from rmapwalk.kvm.pte_list import (
    for_each_rmap_spte,
    pte_list_add,
    pte_list_entries,
    pte_list_layout,
    pte_list_remove,
    pte_list_walk,
    pte_list_walk_lockless,
    rmap_walk,
)
from rmapwalk.kvm.rmap import gfn_to_rmap, rmap_add, rmap_remove, rmap_sptes
from rmapwalk.kvm.spte import (
    is_large_pte,
    is_last_spte,
    is_shadow_present_pte,
    is_writable_pte,
    make_spte,
    spte_is_locklessly_modifiable,
    spte_to_pfn,
)
from rmapwalk.kvm.switches import SWITCHES, Switches

__all__ = [
    "SWITCHES", "KvmMemorySlot", "KvmMmu", "Switches", "for_each_rmap_spte", "gfn_to_memslot", "gfn_to_rmap",
    "is_large_pte", "is_last_spte", "is_shadow_present_pte", "is_writable_pte", "kvm_mmu_alloc_page",
    "kvm_mmu_free_page", "kvm_mmu_page_get_gfn", "kvm_mmu_page_set_gfn", "make_spte", "mark_page_dirty",
    "page_header", "pte_list_add", "pte_list_entries", "pte_list_layout", "pte_list_remove", "pte_list_walk",
    "pte_list_walk_lockless", "rmap_add", "rmap_remove", "rmap_sptes", "rmap_walk", "spte_is_locklessly_modifiable",
    "spte_to_pfn",
]
