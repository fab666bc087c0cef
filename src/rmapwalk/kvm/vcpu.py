"""vCPUs: guest accesses through a per-vCPU TLB, remote TLB flushes as requests each vCPU must
acknowledge, and the two page-fault paths (``fast_page_fault`` and the slow path
``__direct_map`` -> ``mmu_set_spte`` -> ``set_spte`` -> ``rmap_add``) of arch/x86/kvm/mmu.c and
arch/x86/kvm/x86.c, Linux 3.11 (``kvm-reference.md`` §1.6, §2.6, §2.7, §2.13-2.15, §3.4).

The model of a vCPU (shared locations, named after the vCPU):

* ``<vcpu>.mode``: ``vcpu->mode``: ``OUTSIDE_GUEST_MODE``, ``IN_GUEST_MODE`` or
  ``READING_SHADOW_PAGE_TABLES`` (a lockless walk with interrupts off);
* ``<vcpu>.requests``: ``vcpu->requests``; bit ``KVM_REQ_TLB_FLUSH``;
* ``<vcpu>.tlb[g]``: the TLB entry for gfn ``g``: ``TLB_NONE``, ``TLB_RO`` or ``TLB_RW``.  Only
  the vCPU itself touches its TLB (it keeps a copy in its thread-local state, so filling and
  flushing are stores only).

A guest access (:func:`guest_write`, :func:`guest_read`) enters guest mode
(:func:`vcpu_enter_guest`: ``mode = IN_GUEST_MODE``, ``smp_mb()``, then a pending
``KVM_REQ_TLB_FLUSH`` empties the TLB), uses a TLB entry that grants the access or walks the
shadow page table (one ``READ_ONCE`` per level, as the MMU's page walker) and fills the TLB, does
the access on ``mem[g]`` (the guest page), and leaves guest mode (``smp_store_release`` of
``OUTSIDE_GUEST_MODE``).  An access the walk does not allow is a fault: the vCPU leaves guest
mode, runs ``tdp_page_fault`` (fast path, else slow path under ``mmu_lock``) and retries.  So a
vCPU takes interrupts (the flush IPI) only between guest accesses: every access is one guest
instruction.

``kvm_flush_remote_tlbs`` sets ``KVM_REQ_TLB_FLUSH`` in every vCPU (``set_bit``, ``smp_mb()``)
and then waits, vCPU by vCPU, until it reads that vCPU's mode as ``OUTSIDE_GUEST_MODE``
(``assume``): a vCPU in guest mode must take the IPI (leave guest mode) first, and one in a
lockless walk with interrupts off cannot take it before the walk ends.  A vCPU outside guest mode
is not waited for: it sees the request when it next enters (store-buffering pair of ``smp_mb``).

Not modelled: hardware A/D updates of sptes, ``mmu_notifier_seq``, ``tlbs_dirty``, shadowed
guest page tables (``mmu_need_write_protect``, ``has_wrprotected_page``), MMIO sptes, large
mappings created by faults (``mapping_level`` always gives level 1 in a logged slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rmapwalk.engine.mutation import mutation_point, not_a_site
from rmapwalk.engine.ops import assume, program, thread_id, thread_local
from rmapwalk.engine.program import Loc
from rmapwalk.engine.runtime import ModelError, Violated
from rmapwalk.kernel.barriers import smp_mb, smp_wmb
from rmapwalk.kernel.bitops import set_bit, test_and_clear_bit, test_bit
from rmapwalk.kernel.once import READ_ONCE, WRITE_ONCE, smp_load_acquire, smp_store_release
from rmapwalk.kernel.rcu import rcu_read_lock, rcu_read_unlock
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm.memslot import gfn_to_memslot, mark_page_dirty
from rmapwalk.kvm.mmu_checks import check_fast_path_target, ghost_mark_pending, kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu, kvm_mmu_alloc_page, kvm_mmu_page_get_gfn, page_header, spte_index
from rmapwalk.kvm.rmap import rmap_add
from rmapwalk.kvm.spte import (
    ACC_ALL,
    ACC_WRITE_MASK,
    PT_ACCESSED_MASK,
    PT_DIRTY_MASK,
    PT_PAGE_TABLE_LEVEL,
    PT_WRITABLE_MASK,
    is_large_pte,
    is_last_spte,
    is_rmap_spte,
    is_shadow_present_pte,
    is_writable_pte,
    make_nonleaf_spte,
    make_spte,
    spte_is_locklessly_modifiable,
    spte_to_pfn,
)
from rmapwalk.kvm.spte_ops import drop_spte, mmu_spte_get_lockless, mmu_spte_set, mmu_spte_update

OUTSIDE_GUEST_MODE = 0
IN_GUEST_MODE = 1
EXITING_GUEST_MODE = 2
READING_SHADOW_PAGE_TABLES = 3

#: bit number of the flush request in ``vcpu->requests`` (3.11: KVM_REQ_TLB_FLUSH = 0)
KVM_REQ_TLB_FLUSH = 0

TLB_NONE, TLB_RO, TLB_RW = 0, 1, 2

#: attempts of one guest access before the model reports an endless fault loop
MAX_FAULT_RETRIES = 4


@dataclass
class KvmVcpu:
    """One vCPU (``struct kvm_vcpu`` as far as the model goes).  Python data fixed at build
    time; its state lives in the shared locations ``mode``, ``requests`` and ``tlb[g]``."""

    kvm: KvmMmu
    index: int
    name: str
    mode: Loc
    requests: Loc
    tlb: dict[int, Loc]
    #: the root shadow page (``vcpu->arch.mmu.root_hpa``), its table and level
    root_sp: int
    root_spt: int
    root_level: int
    max_fault_retries: int = MAX_FAULT_RETRIES
    #: how the vCPU's lockless shadow walks are protected: ``False`` (3.11, since c142786c6291):
    #: interrupts off and ``mode = READING_SHADOW_PAGE_TABLES``, so ``kvm_flush_remote_tlbs``
    #: waits for the walk; ``True``: ``rcu_read_lock()`` as in c2a2ac2b563c (2011, "lockless
    #: walking shadow page table"), which no flush waits for (scenario fast-pf-indirect)
    walk_rcu: bool = False


# -- building ---------------------------------------------------------------------------------------------

def guest_memory(kvm: KvmMmu) -> dict[int, Loc]:
    """The guest page of every gfn of every memslot: one observed location ``mem[g]`` each
    (created on first use)."""
    if not kvm.guest_mem:
        for slot in kvm.memslots:
            for g in slot.gfns():
                kvm.guest_mem[g] = kvm.prog.var(f"mem[{g}]")
    return kvm.guest_mem


def mmu_alloc_direct_roots(kvm: KvmMmu, level: int = PT_PAGE_TABLE_LEVEL, key: str = "default") -> tuple[int, int]:
    """Models ``mmu_alloc_direct_roots()`` (arch/x86/kvm/mmu.c, 3.11) at build time: the direct
    root shadow page of ``level`` mapping gfn 0 up, shared by every vCPU with the same role
    (``key`` names the role: vCPUs with different keys get different roots, so one gfn can have
    several sptes).  Returns (sp, spt)."""
    roots = kvm.prog.lib.setdefault("kvm.direct_roots", {})
    if key not in roots:
        sp = kvm.prealloc_page(level, gfn=0, direct=True)
        roots[key] = (sp, int(kvm.prog.init[kvm.sp_field(sp, "spt")]), level)
    sp, spt, lvl = roots[key]
    if lvl != level:
        raise ModelError(f"root {key!r} already has level {lvl}")
    return sp, spt


def kvm_create_vcpu(kvm: KvmMmu, name: str | None = None, *, root_level: int = PT_PAGE_TABLE_LEVEL,
                    role: str = "default", max_fault_retries: int = MAX_FAULT_RETRIES) -> KvmVcpu:
    """Models ``kvm_vm_ioctl_create_vcpu()`` plus the MMU setup of its first entry: the vCPU's
    locations, and its (shared) direct root.  Register the thread yourself:
    ``prog.thread(fn, vcpu, name=vcpu.name)`` (the name must be the vCPU's)."""
    index = len(kvm.vcpus)
    nm = name or f"vcpu{index}"
    prog = kvm.prog
    mem = guest_memory(kvm)
    sp, spt = mmu_alloc_direct_roots(kvm, root_level, role)
    vcpu = KvmVcpu(
        kvm, index, nm,
        mode=prog.var(f"{nm}.mode", observe=False),
        requests=prog.var(f"{nm}.requests", observe=False),
        tlb={g: prog.var(f"{nm}.tlb[{g}]", observe=False) for g in mem},
        root_sp=sp, root_spt=spt, root_level=root_level, max_fault_retries=max_fault_retries,
    )
    kvm.vcpus.append(vcpu)
    return vcpu


def gfn_to_pfn(kvm: KvmMmu, gfn: int) -> int:
    """Models ``gfn_to_pfn()``: the host page backing ``gfn`` (fixed in the model)."""
    return kvm.pfn_base + gfn


def kvm_make_spte(kvm: KvmMmu, gfn: int, level: int = PT_PAGE_TABLE_LEVEL, writable: bool = True, *,
                  mmu_writable: bool | None = None, accessed: bool = True) -> int:
    """The leaf spte ``set_spte`` builds for ``gfn`` (host-writable), with the level encoded in
    the value when ``leaf_check=by_value`` (series v2: every spte says whether it is a leaf)."""
    return make_spte(gfn_to_pfn(kvm, gfn), level, writable, mmu_writable=mmu_writable, accessed=accessed,
                     encode_level=kvm.sw.leaf_check == "by_value")


def shadow_index(kvm: KvmMmu, gfn: int, level: int) -> int:
    """``SHADOW_PT_INDEX(gfn << PAGE_SHIFT, level)`` with the model's table size."""
    return (gfn >> ((level - 1) * kvm.level_bits)) & (kvm.spt_entries - 1)


def prefault_spte(kvm: KvmMmu, gfn: int, *, writable: bool, mmu_writable: bool = True, role: str = "default",
                  dirty: bool | None = None, level: int = PT_PAGE_TABLE_LEVEL) -> int:
    """Build-time state: a leaf spte for ``gfn`` in the direct root ``role`` of ``level`` (a
    large spte if ``level > 1``, mapping the aligned gfn), on its rmap, as the slow path would
    have left it (``writable``), or write-protected for dirty logging (``writable=False,
    mmu_writable=True``: the fast path may restore W).  ``dirty`` (default: ``writable``) sets
    the bits of the gfns it maps in the live dirty bitmap, as the slow path's
    ``mark_page_dirty`` would have.  Returns the spte's address."""
    _, spt = mmu_alloc_direct_roots(kvm, level, role)
    span = kvm.spt_entries ** (level - 1)
    base = gfn - gfn % span
    sptep = kvm.spt_entry(spt, shadow_index(kvm, base, level))
    kvm.set_initial(sptep, kvm_make_spte(kvm, base, level, writable, mmu_writable=writable or mmu_writable))
    with kvm.building():
        rmap_add(kvm, sptep, base)
    if writable if dirty is None else dirty:
        slot = gfn_to_memslot(kvm, base)
        if slot is None or slot.dirty_bitmap is None:
            raise ModelError(f"gfn {base} is not in a logged memslot")
        for g in range(base, base + span):
            word = slot.dirty_bitmap[(g - slot.base_gfn) // 64]
            kvm.set_initial(word, kvm.prog.init.get(int(word), 0) | 1 << ((g - slot.base_gfn) % 64))
    return sptep


# -- the TLB and guest mode --------------------------------------------------------------------------------

def _tlb(vcpu: KvmVcpu) -> dict[int, int]:
    """The vCPU's own copy of its TLB (thread-local: only this vCPU's thread touches it)."""
    tls = thread_local()
    tlb: dict[int, int] | None = tls.get("kvm.tlb")
    if tlb is None:
        tlb = tls["kvm.tlb"] = {}
    return tlb


@not_a_site
def tlb_fill(vcpu: KvmVcpu, gfn: int, entry: int) -> None:
    """The MMU caches a translation of ``gfn`` (``TLB_RO`` or ``TLB_RW``)."""
    tlb = _tlb(vcpu)
    if tlb.get(gfn, TLB_NONE) != entry:
        tlb[gfn] = entry
        WRITE_ONCE(vcpu.tlb[gfn], entry)


@not_a_site
def kvm_vcpu_flush_tlb(vcpu: KvmVcpu) -> None:
    """Models ``kvm_x86_ops->tlb_flush(vcpu)`` (``vmx_flush_tlb``, 3.11): drop every TLB entry."""
    tlb = _tlb(vcpu)
    for g in sorted(tlb):
        if tlb[g] != TLB_NONE:
            WRITE_ONCE(vcpu.tlb[g], TLB_NONE)
    tlb.clear()


def vcpu_enter_guest(vcpu: KvmVcpu) -> None:
    """Models the entry half of ``vcpu_enter_guest()`` (arch/x86/kvm/x86.c, 3.11):
    ``vcpu->mode = IN_GUEST_MODE; smp_mb();`` then ``kvm_check_request(KVM_REQ_TLB_FLUSH)``
    (the kernel checks requests before setting the mode and re-checks after the barrier; one
    check after it is equivalent).  A pending flush empties the TLB before any guest access.
    The model empties the TLB *before* clearing the request bit (fully ordered), the kernel
    after: the same for the guest, and it lets I2 read "request pending or TLB clean"
    consistently."""
    WRITE_ONCE(vcpu.mode, IN_GUEST_MODE)
    smp_mb()
    if test_bit(KVM_REQ_TLB_FLUSH, vcpu.requests):
        kvm_vcpu_flush_tlb(vcpu)
        test_and_clear_bit(KVM_REQ_TLB_FLUSH, vcpu.requests)


def vcpu_exit_guest(vcpu: KvmVcpu) -> None:
    """Models the VM exit in ``vcpu_enter_guest()`` (x86.c, 3.11): ``vcpu->mode =
    OUTSIDE_GUEST_MODE`` after the exit.  A VM exit is serialising, so every guest access is
    visible before it: a release store."""
    smp_store_release(vcpu.mode, OUTSIDE_GUEST_MODE)


def kvm_flush_remote_tlbs(kvm: KvmMmu) -> None:
    """Models ``kvm_flush_remote_tlbs()`` / ``make_all_cpus_request(kvm, KVM_REQ_TLB_FLUSH)``
    (virt/kvm/kvm_main.c, 3.11): for each vCPU, ``kvm_make_request`` (``set_bit``) and
    ``smp_mb()``; then, unless it is the calling vCPU, wait until the vCPU is seen outside guest
    mode (it took the IPI; a vCPU in guest mode or in a lockless walk with interrupts off keeps
    the caller waiting).  ``tlbs_dirty`` is not modelled.

    The wait reads the mode with ``smp_load_acquire``: the kernel waits for the IPI's
    acknowledgement in ``csd_lock_wait`` (kernel/smp.c), an acquire (``smp_cond_load_acquire``
    since 4.x; 3.11's ``cpu_relax`` loop followed by the IPI handler's release of the csd lock is
    the same pairing on x86).  So everything the vCPU did in guest mode before it left (its
    guest writes, which ``vcpu_exit_guest`` publishes with a release store) is visible to what
    the flusher does after the flush returns -- e.g. ``get_dirty_log``'s caller copying the page."""
    me = program().threads[thread_id()].name
    for vcpu in kvm.vcpus:
        set_bit(KVM_REQ_TLB_FLUSH, vcpu.requests)
        smp_mb()
        if vcpu.name == me:
            continue
        mode = smp_load_acquire(vcpu.mode)  # csd_lock_wait: smp_cond_load_acquire
        assume(mutation_point("kvm_flush_remote_tlbs: wait for the IPI", mode == OUTSIDE_GUEST_MODE),
               f"kvm_flush_remote_tlbs: {vcpu.name} has not taken the flush IPI")


# -- the shadow page-table walk ---------------------------------------------------------------------------

def walk_shadow(vcpu: KvmVcpu, gfn: int, stop_level: int = PT_PAGE_TABLE_LEVEL) -> tuple[int, int, int]:
    """Walk the vCPU's shadow page table for ``gfn`` locklessly (the MMU's page walker, and
    ``for_each_shadow_entry_lockless``, arch/x86/kvm/mmu.c 3.11): read the entry of each level
    once (``mmu_spte_get_lockless``); stop at a non-present entry, a leaf, or ``stop_level``.
    Returns (sptep, spte, level) of the last entry read."""
    kvm = vcpu.kvm
    spt, level = vcpu.root_spt, vcpu.root_level
    while True:
        sptep = kvm.spt_entry(spt, shadow_index(kvm, gfn, level))
        s = mmu_spte_get_lockless(kvm, sptep)
        if not is_shadow_present_pte(s) or is_last_spte(s, level) or level <= stop_level:
            return sptep, s, level
        spt = spte_to_pfn(s)
        level -= 1


@not_a_site
def _guest_try(vcpu: KvmVcpu, gfn: int, write: bool) -> tuple[bool, bool]:
    """In guest mode: can the access be done without a fault?  Returns (ok, present)."""
    entry = _tlb(vcpu).get(gfn, TLB_NONE)
    if entry == TLB_RW or (entry == TLB_RO and not write):
        return True, True
    sptep, s, level = walk_shadow(vcpu, gfn)
    if not is_shadow_present_pte(s):
        return False, False
    if vcpu.kvm.hw_accessed_bit and not s & PT_ACCESSED_MASK and (is_writable_pte(s) or not write):
        # the CPU's page walker sets A (a locked RMW) before it caches the translation
        if vcpu.kvm.ops.spte_cmpxchg(sptep, s, s | PT_ACCESSED_MASK) != s:
            return False, True
        s |= PT_ACCESSED_MASK
    if write and is_writable_pte(s) and vcpu.kvm.hw_dirty_bit and not s & PT_DIRTY_MASK:
        # the CPU sets D with a locked RMW before it caches a writable translation; a changed
        # spte makes it walk again (here: a fault, which the fast path retries)
        if vcpu.kvm.ops.spte_cmpxchg(sptep, s, s | PT_DIRTY_MASK) != s:
            return False, True
    tlb_fill(vcpu, gfn, TLB_RW if is_writable_pte(s) else TLB_RO)
    return (is_writable_pte(s) or not write), True


def guest_access(vcpu: KvmVcpu, gfn: int, write: bool, value: Any = None) -> Any:
    """One guest instruction accessing ``gfn``: enter guest mode, access through the TLB or the
    shadow page table, leave guest mode; on a fault, run ``tdp_page_fault`` and retry.  A write
    stores ``value`` in ``mem[gfn]``; a read returns ``mem[gfn]``.  More than
    ``vcpu.max_fault_retries`` faults for one access is the violation ``endless fault loop``."""
    mem = vcpu.kvm.guest_mem[gfn]
    for _ in range(vcpu.max_fault_retries + 1):
        vcpu_enter_guest(vcpu)
        ok, present = _guest_try(vcpu, gfn, write)
        result = None
        if ok:
            if write:
                WRITE_ONCE(mem, value)
            else:
                result = READ_ONCE(mem)
        vcpu_exit_guest(vcpu)
        if ok:
            return result
        tdp_page_fault(vcpu, gfn, write, present)
    raise Violated("endless fault loop",
                   f"{vcpu.name}: {'write' if write else 'read'} of gfn {gfn} faulted "
                   f"{vcpu.max_fault_retries + 1} times")


def guest_write(vcpu: KvmVcpu, gfn: int, value: Any) -> None:
    """The guest writes ``value`` to page ``gfn`` (see :func:`guest_access`)."""
    guest_access(vcpu, gfn, True, value)


def guest_read(vcpu: KvmVcpu, gfn: int) -> Any:
    """The guest reads page ``gfn`` (see :func:`guest_access`)."""
    return guest_access(vcpu, gfn, False)


# -- page faults ------------------------------------------------------------------------------------------

def tdp_page_fault(vcpu: KvmVcpu, gfn: int, write: bool, present: bool) -> None:
    """Models ``tdp_page_fault()`` (arch/x86/kvm/mmu.c, 3.11; ``nonpaging_map`` is the same
    here): ``fast_page_fault`` for a write to a present spte, else the slow path: take
    ``mmu_lock``, ``__direct_map``, drop it.  Level 1 always (``mapping_level_dirty_bitmap``:
    logged slots map 4K pages)."""
    if fast_page_fault(vcpu, gfn, PT_PAGE_TABLE_LEVEL, write, present):
        return
    kvm = vcpu.kvm
    spin_lock(kvm.mmu_lock)
    __direct_map(vcpu, gfn, write, PT_PAGE_TABLE_LEVEL)
    kvm_mmu_unlock(kvm, "tdp_page_fault")


def walk_shadow_page_lockless_begin(vcpu: KvmVcpu) -> None:
    """Models ``walk_shadow_page_lockless_begin()`` (arch/x86/kvm/mmu.c, 3.11):
    ``local_irq_disable(); vcpu->mode = READING_SHADOW_PAGE_TABLES; smp_mb();``.  From here
    until the end, ``kvm_flush_remote_tlbs`` waits for this vCPU.  With ``vcpu.walk_rcu`` it is
    c2a2ac2b563c's (2011) ``rcu_read_lock()`` instead, which no flush waits for.

    The ``smp_mb()`` (switch ``walk_begin_mb``) orders the mode store before the walk's loads:
    with ``kvm_flush_remote_tlbs``'s ``smp_mb()`` between its request and its read of the mode,
    either the flusher sees the walk (and waits) or the walk sees what the zapper did before
    the flush (store buffering).  Without it the flusher can read the old mode while the walk
    reads the table it is about to free."""
    if vcpu.walk_rcu:
        rcu_read_lock()
        return
    WRITE_ONCE(vcpu.mode, READING_SHADOW_PAGE_TABLES)
    if vcpu.kvm.sw.walk_begin_mb == "on":  # off: the broken alternative (scenario walk-begin-mb)
        smp_mb()


def walk_shadow_page_lockless_end(vcpu: KvmVcpu) -> None:
    """Models ``walk_shadow_page_lockless_end()`` (arch/x86/kvm/mmu.c, 3.11):
    ``smp_mb(); vcpu->mode = OUTSIDE_GUEST_MODE; local_irq_enable();`` (with ``vcpu.walk_rcu``:
    ``rcu_read_unlock()``)."""
    if vcpu.walk_rcu:
        rcu_read_unlock()
        return
    smp_mb()
    WRITE_ONCE(vcpu.mode, OUTSIDE_GUEST_MODE)


def fast_pf_fix_direct_spte(vcpu: KvmVcpu, sp: int, sptep: int, spte: int, walk_level: int = 1) -> bool:
    """Models ``fast_pf_fix_direct_spte()`` (arch/x86/kvm/mmu.c, 3.11): the gfn comes from the
    shadow page (``kvm_mmu_page_get_gfn``), never from the spte; ``cmpxchg64`` sets W only if the
    spte is unchanged since the lockless read, and only then ``mark_page_dirty`` (after W is
    set).  Returns ``True`` (the fault is handled, or raced: retry)."""
    kvm = vcpu.kvm
    gfn = kvm_mmu_page_get_gfn(kvm, sp, spte_index(kvm, sptep))
    ghost_mark_pending(kvm, gfn, True)  # I1 state form (opt-in ghost)
    if kvm.ops.spte_cmpxchg(sptep, spte, spte | PT_WRITABLE_MASK) == spte:
        check_fast_path_target(kvm, sp, spte, walk_level)  # I8 (opt-in)
        mark_page_dirty(kvm, gfn)
    ghost_mark_pending(kvm, gfn, False)
    return True


def fast_page_fault(vcpu: KvmVcpu, gfn: int, level: int, write: bool, present: bool) -> bool:
    """Models ``fast_page_fault()`` (arch/x86/kvm/mmu.c, 3.11; §2.15): only for a write fault
    on a present spte (``page_fault_can_be_fast``); a lockless walk with the vCPU in
    ``READING_SHADOW_PAGE_TABLES``; then

    * not an rmap spte any more: zapped meanwhile, retry (``True``);
    * not a leaf: slow path.  The leaf test uses the level where the walk stopped (the series'
      "properly check last spte in fast_page_fault()"; 3.11 passed the requested level);
    * already writable: a stale TLB entry, retry;
    * not locklessly modifiable: slow path;
    * ``fast_pf_indirect=forbid`` (3.11) and an indirect shadow page: slow path;
    * ``fast_pf_large=forbid`` (c126d94f2c90) and a table above level 1: slow path;
    * else :func:`fast_pf_fix_direct_spte`.
    Returns whether the fault was handled (or must simply be retried)."""
    if not (write and present):
        return False
    kvm = vcpu.kvm
    walk_shadow_page_lockless_begin(vcpu)
    sptep, spte, walk_level = walk_shadow(vcpu, gfn, level)
    ret = False
    if not is_rmap_spte(spte):
        ret = True
    elif not mutation_point("fast_page_fault: leaf test", is_last_spte(spte, walk_level)):
        pass
    elif is_writable_pte(spte):
        ret = True
    elif not mutation_point("fast_page_fault: spte_is_locklessly_modifiable", spte_is_locklessly_modifiable(spte)):
        pass
    else:
        sp = page_header(kvm, sptep)
        if kvm.sw.fast_pf_indirect == "forbid" and not mutation_point(
                "fast_page_fault: direct shadow page only", kvm.ops.kernel_read(kvm.sp_field(sp, "role_direct"))):
            pass
        elif kvm.sw.fast_pf_large == "forbid" and not mutation_point(
                "fast_page_fault: level-1 table only", kvm.ops.kernel_read(kvm.sp_field(sp, "role_level")) <= 1):
            pass
        else:
            ret = fast_pf_fix_direct_spte(vcpu, sp, sptep, spte, walk_level)
    walk_shadow_page_lockless_end(vcpu)
    return ret


def _mark_after_rmap(kvm: KvmMmu, gfn: int, spte: int) -> None:
    """``mark_order=after_rmap`` (series patch 6, §3.4): after the spte is written and on its
    rmap, ``smp_wmb()`` (``wmb_before_mark=on``) and then ``mark_page_dirty``."""
    if kvm.sw.mark_order != "after_rmap" or not is_writable_pte(spte):
        return
    if kvm.sw.wmb_before_mark == "on":
        smp_wmb()
    mark_page_dirty(kvm, gfn)


def set_spte(vcpu: KvmVcpu, sptep: int, pte_access: int, level: int, gfn: int, pfn: int,
             speculative: bool = False, can_unsync: bool = True, host_writable: bool = True) -> tuple[int, int]:
    """Models ``set_spte()`` (arch/x86/kvm/mmu.c, 3.11; §2.6): build the leaf spte (A unless
    speculative, large bit above level 1, host-writable, W and MMU-writable if ``pte_access``
    allows writes) and install it with ``mmu_spte_update``, flushing remote TLBs if that says
    so.  With ``mark_order=mark_first`` (3.11) a writable spte's gfn is marked dirty *before* it
    is written.  Returns (``ret``, the spte written); ``ret`` is always 0 here (no shadowed guest
    page tables: ``mmu_need_write_protect`` and ``has_wrprotected_page`` are not modelled)."""
    kvm = vcpu.kvm
    if not host_writable:
        pte_access &= ~ACC_WRITE_MASK
    writable = bool(pte_access & ACC_WRITE_MASK)
    spte = make_spte(pfn, level, writable, accessed=not speculative, host_writable=host_writable,
                     encode_level=kvm.sw.leaf_check == "by_value")
    if writable and kvm.sw.mark_order == "mark_first":
        mark_page_dirty(kvm, gfn)
    if mmu_spte_update(kvm, sptep, spte):
        kvm_flush_remote_tlbs(kvm)
    return 0, spte


def mmu_set_spte(vcpu: KvmVcpu, sptep: int, pte_access: int, write_fault: bool, level: int, gfn: int, pfn: int,
                 speculative: bool = False, host_writable: bool = True) -> None:
    """Models ``mmu_set_spte()`` (arch/x86/kvm/mmu.c, 3.11; §2.7): an rmap spte for another pfn
    is dropped first (and remote TLBs flushed); ``set_spte``; a newly present spte is added to
    its rmap *after* it was written (a lockless walker may see it present and not yet on the
    rmap).  With ``mark_order=after_rmap`` the dirty mark follows the ``rmap_add``.

    The kernel re-reads ``*sptep`` after ``set_spte``; the model uses the value ``set_spte``
    wrote (only mmu_lock holders change present-ness).  Replacing a non-leaf entry by a large
    leaf (``drop_parent_pte``) and ``rmap_recycle`` are not modelled."""
    kvm = vcpu.kvm
    was_rmapped = False
    old = int(kvm.ops.spte_read(sptep))
    if is_rmap_spte(old):
        if level > PT_PAGE_TABLE_LEVEL and not is_large_pte(old):
            raise ModelError("mmu_set_spte: replacing a non-leaf entry by a large spte is not modelled")
        if pfn != spte_to_pfn(old):
            drop_spte(kvm, sptep)
            kvm_flush_remote_tlbs(kvm)
        else:
            was_rmapped = True
    pending = kvm.sw.mark_order == "after_rmap" and bool(pte_access & ACC_WRITE_MASK)
    if pending:
        ghost_mark_pending(kvm, gfn, True)  # I1 state form (opt-in ghost)
    _, spte = set_spte(vcpu, sptep, pte_access, level, gfn, pfn, speculative, True, host_writable)
    if is_shadow_present_pte(spte) and not was_rmapped:
        rmap_add(kvm, sptep, gfn)
    _mark_after_rmap(kvm, gfn, spte)
    if pending:
        ghost_mark_pending(kvm, gfn, False)


def drop_large_spte(kvm: KvmMmu, sptep: int, spte: int) -> None:
    """Models ``drop_large_spte()`` (arch/x86/kvm/mmu.c, 3.11): drop a large spte
    (``__drop_large_spte``: ``drop_spte``) and flush remote TLBs.  Under mmu_lock."""
    if is_large_pte(spte):
        drop_spte(kvm, sptep)
        kvm_flush_remote_tlbs(kvm)


def link_shadow_page(kvm: KvmMmu, sptep: int, child_spt: int, level: int) -> None:
    """Models ``link_shadow_page()`` (arch/x86/kvm/mmu.c, 3.11): point a non-present entry of a
    level-``level`` table at a child table (``mmu_spte_set``)."""
    mmu_spte_set(kvm, sptep, make_nonleaf_spte(child_spt, level, encode_level=kvm.sw.leaf_check == "by_value"))


def __direct_map(vcpu: KvmVcpu, gfn: int, write: bool, level: int = PT_PAGE_TABLE_LEVEL) -> None:  # noqa: N807
    """Models ``__direct_map()`` (arch/x86/kvm/mmu.c, 3.11): walk down from the root under
    ``mmu_lock``, allocating and linking missing direct shadow pages (``kvm_mmu_get_page``
    without the hash lookup: only mmu_lock holders create them), and at ``level`` install the
    leaf with ``mmu_set_spte(..., ACC_ALL, ...)``: a *read* fault too creates a writable spte
    and marks the gfn dirty (3.11; R16).  A large spte met above ``level``: with
    ``large_wp=zap`` (3.11) it ends the walk without mapping anything, as ``shadow_walk_next``
    does, and the guest faults again (in 3.11 a logged slot has no large spte: enabling logging
    zapped them); with ``large_wp=readonly`` it is dropped first (``drop_large_spte``, 404381c5839d,
    the fix of R5 that goes with "lazily drop large spte")."""
    kvm = vcpu.kvm
    pfn = gfn_to_pfn(kvm, gfn)
    spt, lvl = vcpu.root_spt, vcpu.root_level
    while True:
        sptep = kvm.spt_entry(spt, shadow_index(kvm, gfn, lvl))
        if lvl == level:
            mmu_set_spte(vcpu, sptep, ACC_ALL, write, lvl, gfn, pfn)
            return
        s = int(kvm.ops.spte_read(sptep))
        if is_shadow_present_pte(s) and is_last_spte(s, lvl):
            if kvm.sw.large_wp != "readonly":
                return  # 3.11: the walk ends at a large spte in the way; the guest refaults (R5)
            drop_large_spte(kvm, sptep, s)  # 404381c5839d, with "lazily drop large spte"
            s = 0
        if not is_shadow_present_pte(s):
            span = kvm.spt_entries ** (lvl - 1)
            child = kvm_mmu_alloc_page(kvm, lvl - 1, gfn - gfn % span, True, parent_pte=sptep)
            spt = int(kvm.ops.kernel_read(kvm.sp_field(child, "spt")))
            link_shadow_page(kvm, sptep, spt, lvl)
        else:
            spt = spte_to_pfn(s)
        lvl -= 1


__all__ = [
    "EXITING_GUEST_MODE", "IN_GUEST_MODE", "KVM_REQ_TLB_FLUSH", "MAX_FAULT_RETRIES", "OUTSIDE_GUEST_MODE",
    "READING_SHADOW_PAGE_TABLES", "TLB_NONE", "TLB_RO", "TLB_RW", "KvmVcpu", "__direct_map", "fast_page_fault",
    "fast_pf_fix_direct_spte", "gfn_to_pfn", "guest_access", "guest_memory", "guest_read", "guest_write",
    "drop_large_spte", "kvm_create_vcpu", "kvm_flush_remote_tlbs", "kvm_make_spte", "kvm_vcpu_flush_tlb",
    "link_shadow_page",
    "mmu_alloc_direct_roots", "mmu_set_spte", "prefault_spte", "set_spte", "shadow_index", "tdp_page_fault",
    "tlb_fill", "vcpu_enter_guest", "vcpu_exit_guest", "walk_shadow", "walk_shadow_page_lockless_begin",
    "walk_shadow_page_lockless_end",
]
