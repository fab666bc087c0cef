"""Opt-in invariant checks run by model code under ``mmu_lock`` (``kvm-reference.md`` §5.2).

Their reads are events (they add executions), so each is off unless a program turns it on:

* **I3 rmap complete and exact whenever mmu_lock is released** (``kvm.check_i3``):
  :func:`kvm_mmu_unlock` (every release of mmu_lock in the model's code paths) first walks
  every rmap of every memslot and requires *exactness*: each entry is a present leaf spte of
  that rmap's level mapping a gfn of that rmap (pfn ``pfn_base + gfn``), and no entry twice;
  and *completeness*: every present leaf of every shadow page reachable from a root (the
  vCPUs' roots and the direct roots; the linked shadow pages are the live ones, since a zap
  unlinks a page under the same hold of mmu_lock) is on the rmap of the gfn and level it maps,
  as is every present spte a program declares in ``kvm.i3_sptes`` (address -> level of its
  table).

* **I11 no writable large spte in a logged slot** (``kvm.check_i11``):
  :func:`check_no_writable_large_spte`, called under mmu_lock right before a write-protection
  of a slot that logs dirty pages returns (``kvm_mmu_slot_remove_write_access``, the locked
  ``kvm_vm_ioctl_get_dirty_log``): no spte on a rmap above level 1 has W.
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine.mutation import not_a_site
from rmapwalk.engine.runtime import Violated
from rmapwalk.kernel import spin_unlock
from rmapwalk.kvm.memslot import KvmMemorySlot
from rmapwalk.kvm.mmu_page import KvmMmu, kvm_mmu_page_get_gfn, page_header, spte_index
from rmapwalk.kvm.pte_list import rmap_walk
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.spte import is_last_spte, is_shadow_present_pte, is_writable_pte, spte_to_pfn

I3 = "I3 rmap complete and exact"


# -- the checks' observations ------------------------------------------------------------------------

def check_read(loc: int) -> Any:
    """One observation of ``loc`` by an invariant check: ``smp_load_acquire``.

    Guaranteed: the observations a check makes are performed in its program order under every
    memory model (an acquire orders the load before every later access of the checking CPU), so
    a check that reads A, then B, sees B at least as new as every write that preceded (in its
    writer's order, up to a release, a full barrier or a fully ordered RMW) the write of A it saw.
    Each check below reads in the order that makes its excuses sound for the writers' own
    ordering (a vCPU empties its TLB before the fully ordered ``test_and_clear_bit`` of its flush
    request, marks a gfn before the ``smp_mb()`` of its next guest entry, ...).  With
    ``READ_ONCE`` the reads could be satisfied in any order under PSO's sibling models, weak and
    LKMM, and the check would report a state no moment of the execution had (instrumentation, not
    KVM).  The check functions are :func:`not_a_site`: mutations never weaken these loads."""
    from rmapwalk.kernel.once import smp_load_acquire

    return smp_load_acquire(loc)


def check_test_bit(nr: int, addr: int) -> bool:
    """``test_bit`` as an invariant check's observation (:func:`check_read`)."""
    from rmapwalk.kernel.bitops import BITS_PER_LONG

    return bool(int(check_read(addr + nr // BITS_PER_LONG)) >> (nr % BITS_PER_LONG) & 1)
I11 = "I11 no writable large spte in a logged slot"
I1_STATE = "I1 no dirty page lost (state form)"
I8 = "I8 fast path discipline"


# -- I1, state form -------------------------------------------------------------------------------

def enable_i1_state(kvm: KvmMmu) -> None:
    """Turn on I1's state form (see :func:`check_dirty_state`) for a program whose threads are
    all registered: creates the ghost flags (one per logged gfn for "harvest in progress", one
    per thread and gfn for "mark pending")."""
    prog = kvm.prog
    kvm.check_i1_state = True
    if kvm.ghost_check_lock is None:
        kvm.ghost_check_lock = prog.var("ghost.i1_check_lock", observe=False)
    for slot in kvm.memslots:
        if slot.dirty_bitmap is None:
            continue
        for g in slot.gfns():
            kvm.ghost_harvesting.setdefault(g, prog.var(f"ghost.harvesting[{g}]", observe=False))
            for th in prog.threads:
                key = (th.name, g)
                if key not in kvm.ghost_mark_pending:
                    kvm.ghost_mark_pending[key] = prog.var(f"ghost.mark_pending[{th.name}][{g}]", observe=False)


def _me() -> str:
    from rmapwalk.engine.ops import program, thread_id

    return str(program().threads[thread_id()].name)


@not_a_site
def ghost_mark_pending(kvm: KvmMmu, gfn: int, pending: bool) -> None:
    """I1 state form's ghost: this thread is about to make an spte for ``gfn`` writable before
    marking ``gfn`` (``pending``: set, then ``smp_mb``), or has marked it (cleared with a release
    store, after the mark).  No event unless ``kvm.check_i1_state``."""
    if not kvm.check_i1_state:
        return
    from rmapwalk.kernel.barriers import smp_mb
    from rmapwalk.kernel.once import WRITE_ONCE, smp_store_release

    loc = kvm.ghost_mark_pending[(_me(), gfn)]
    if pending:
        WRITE_ONCE(loc, 1)
        smp_mb()
    else:
        smp_store_release(loc, 0)


@not_a_site
def ghost_harvesting(kvm: KvmMmu, gfns: list[int], on: bool) -> None:
    """I1 state form's ghost: a harvest of ``gfns`` is in progress (set before the ``xchg``,
    followed by ``smp_mb``) or finished its write-protect and flush (cleared, release).  No
    event unless ``kvm.check_i1_state``."""
    if not kvm.check_i1_state:
        return
    from rmapwalk.kernel.barriers import smp_mb
    from rmapwalk.kernel.once import WRITE_ONCE, smp_store_release

    for g in gfns:
        if on:
            WRITE_ONCE(kvm.ghost_harvesting[g], 1)
        else:
            smp_store_release(kvm.ghost_harvesting[g], 0)
    if on and gfns:
        smp_mb()


@not_a_site
def ghost_lockless_harvest(kvm: KvmMmu, begin: bool) -> None:
    """The lockless harvest's side of I1's state check: the whole harvest (from before its first
    ``xchg`` to after its flush) holds a ghost lock that the check also takes, so the check's
    reads (which are not one atomic snapshot) never straddle a harvest.  No event unless
    ``kvm.check_i1_state``."""
    if not kvm.check_i1_state or kvm.ghost_check_lock is None:
        return
    from rmapwalk.kernel.spinlock import spin_lock

    if begin:
        spin_lock(kvm.ghost_check_lock)
    else:
        spin_unlock(kvm.ghost_check_lock)


@not_a_site
def check_dirty_state(kvm: KvmMmu, who: str) -> None:
    """I1, state form (reference §5.2), checked by an mmu_lock holder right before it releases
    the lock (so the rmaps it walks are stable): for every gfn ``g`` of a logged slot, if a
    shadow-present spte on one of ``g``'s rmaps is writable, or a vCPU without a pending flush
    request holds a writable TLB entry for ``g``, then ``bit(g)`` is set, or a harvest that took
    ``bit(g)`` has not finished its write-protect and flush (ghost), or some thread made an spte
    for ``g`` writable and has not yet marked ``g`` (ghost).  Checked at every release of
    mmu_lock, not at every step (each check is a few dozen reads); a lockless harvest is checked
    by the lock holders around it, serialized with it by a ghost lock
    (:func:`ghost_lockless_harvest`): that removes the interleavings where a lock holder
    releases mmu_lock in the middle of a lockless harvest, so the state form complements the
    end-to-end form, which sees every interleaving, and does not replace it.

    Read order: the writable spte or TLB entry, then the mark-pending ghosts, the harvest ghost,
    and the dirty bit last (a pending mark cleared before it is read has set the bit)."""
    from rmapwalk.kernel.spinlock import spin_lock

    lock = kvm.ghost_check_lock if kvm.sw.write_protect == "lockless" else None
    if lock is not None:
        spin_lock(lock)
    _check_dirty_state(kvm, who)  # (no try/finally: model operations must not run while unwinding)
    if lock is not None:
        spin_unlock(lock)


def _check_dirty_state(kvm: KvmMmu, who: str) -> None:
    from rmapwalk.kernel.bitops import BITS_PER_LONG

    req, tlb_rw = 0, 2  # rmapwalk.kvm.vcpu.KVM_REQ_TLB_FLUSH, TLB_RW (vcpu imports this module)
    for slot in kvm.memslots:
        if slot.dirty_bitmap is None:
            continue
        for g in slot.gfns():
            where = ""
            for level in sorted(slot.rmap):
                for sptep in rmap_walk(kvm, gfn_to_rmap(kvm, g, level)):
                    spte = int(kvm.ops.spte_read(sptep))
                    if is_shadow_present_pte(spte) and is_writable_pte(spte):
                        where = f"spte {sptep:#x} = {spte:#x}"
            if not where:
                for vcpu in kvm.vcpus:
                    if g in vcpu.tlb and not check_test_bit(req, vcpu.requests) and check_read(vcpu.tlb[g]) == tlb_rw:
                        where = f"{vcpu.name}'s TLB entry"
                        break
            if not where:
                continue
            if any(check_read(loc) for (_, h), loc in sorted(kvm.ghost_mark_pending.items()) if h == g):
                continue
            if check_read(kvm.ghost_harvesting[g]):
                continue
            off = g - slot.base_gfn
            if check_test_bit(off % BITS_PER_LONG, slot.dirty_bitmap[off // BITS_PER_LONG]):
                continue
            raise Violated(I1_STATE, f"{who} releases mmu_lock while {where} lets the guest write gfn {g}, "
                                     f"whose dirty bit is clear, with no harvest of it in progress and no "
                                     f"mark of it pending")


# -- I9 (c) -----------------------------------------------------------------------------------------

I9 = "I9 flush obligations"


@not_a_site
def check_slot_write_protected(kvm: KvmMmu, slot: KvmMemorySlot, who: str) -> None:
    """I9 (c), opt-in (``kvm.check_i9_slot``): when a write-protection of a whole logged slot
    returns (still holding ``slots_lock`` where it takes it), no vCPU without a pending flush
    request holds a writable TLB entry for a gfn of the slot whose dirty bit is clear: the caller
    relies on the slot being write-protected (a later write must fault and be logged).  A second
    protector that found W already cleared by a first one that has not flushed yet returns with
    such an entry (R8)."""
    if not kvm.check_i9_slot or slot.dirty_bitmap is None:
        return
    from rmapwalk.kernel.bitops import BITS_PER_LONG

    req, tlb_rw = 0, 2  # rmapwalk.kvm.vcpu.KVM_REQ_TLB_FLUSH, TLB_RW
    for vcpu in kvm.vcpus:
        if check_test_bit(req, vcpu.requests):
            continue
        for g in slot.gfns():
            if g not in vcpu.tlb or check_read(vcpu.tlb[g]) != tlb_rw:
                continue
            off = g - slot.base_gfn
            if check_test_bit(off % BITS_PER_LONG, slot.dirty_bitmap[off // BITS_PER_LONG]):
                continue
            raise Violated(I9, f"{who} returns with gfn {g} write-protected in its spte, but {vcpu.name}'s "
                               f"TLB still lets it write gfn {g}, no flush is pending and its dirty bit is clear")


# -- I8 ---------------------------------------------------------------------------------------------

@not_a_site
def check_fast_path_target(kvm: KvmMmu, sp: int, spte: int, walk_level: int) -> None:
    """I8 at a successful fast-path ``cmpxchg`` (opt-in ``kvm.check_i8``; reads the shadow page
    header): the old value was a shadow-present leaf (at the level where the walk stopped),
    locklessly modifiable (host- and MMU-writable); the shadow page is direct (its gfn is fixed,
    R1); and in a slot that logs dirty pages, a level-1 table (c126d94f2c90, R4).  (The mark
    after the cmpxchg, of the gfn computed from the shadow page, is the code of
    ``fast_pf_fix_direct_spte`` itself.)"""
    if not kvm.check_i8:
        return
    from rmapwalk.kvm.spte import is_ghost_nonleaf, is_last_spte, spte_is_locklessly_modifiable

    what = ""
    if not is_shadow_present_pte(spte) or is_ghost_nonleaf(spte) or not is_last_spte(spte, walk_level):
        what = "not a shadow-present leaf"
    elif not spte_is_locklessly_modifiable(spte):
        what = "not host- and MMU-writable"
    elif not kvm.ops.kernel_read(kvm.sp_field(sp, "role_direct")):
        what = "in an indirect shadow page (its gfn can change, R1)"
    elif int(kvm.ops.kernel_read(kvm.sp_field(sp, "role_level"))) > 1 and any(
            slot.dirty_bitmap is not None for slot in kvm.memslots):
        what = "in a table above level 1 of a dirty-logged slot (R4)"
    if what:
        raise Violated(I8, f"fast_page_fault set W on {spte:#x}, {what}")


def _spte_gfn(kvm: KvmMmu, sptep: int, spte: int) -> int:
    """The gfn an spte maps: for a direct page the pfn's gfn (the model's fixed host mapping),
    for an indirect one ``kvm_mmu_page_get_gfn`` (``sp->gfns[i]``: the host mapping may change)."""
    sp = page_header(kvm, sptep)
    if kvm.ops.kernel_read(kvm.sp_field(sp, "role_direct")):
        return spte_to_pfn(spte) - kvm.pfn_base
    return kvm_mmu_page_get_gfn(kvm, sp, spte_index(kvm, sptep))


def _live_leaves(kvm: KvmMmu, values: dict[int, int]) -> dict[int, int]:
    """sptep -> table level of every shadow-present leaf reachable from a root (the vCPUs' roots
    and the direct roots built): the sptes of every live, linked shadow page.  Reads each entry
    once (``values`` caches what the caller read already); under mmu_lock the non-leaf entries
    and present-ness do not change."""
    roots = {(vcpu.root_spt, vcpu.root_level) for vcpu in kvm.vcpus}
    roots |= {(int(spt), int(lvl)) for _, spt, lvl in kvm.prog.lib.get("kvm.direct_roots", {}).values()}
    out: dict[int, int] = {}
    todo = sorted(roots, reverse=True)
    seen: set[int] = set()
    while todo:
        spt, level = todo.pop()
        if spt in seen:
            continue
        seen.add(spt)
        for i in range(kvm.spt_entries):
            sptep = kvm.spt_entry(spt, i)
            if sptep not in values:
                values[sptep] = int(kvm.ops.spte_read(sptep))
            v = values[sptep]
            if not is_shadow_present_pte(v):
                continue
            if is_last_spte(v, level):
                out[sptep] = level
            elif level > 1:
                todo.append((spte_to_pfn(v), level - 1))
    return out


@not_a_site
def check_rmap_complete_and_exact(kvm: KvmMmu, who: str = "mmu_lock holder") -> None:
    """I3 (see the module doc); the caller holds mmu_lock.  Each spte is read once."""
    values: dict[int, int] = {}
    on_rmap: dict[int, int] = {}  # sptep -> rmap head address
    for slot in kvm.memslots:
        for level in sorted(slot.rmap):
            for head in slot.rmap[level]:
                for sptep in rmap_walk(kvm, head):
                    if sptep in on_rmap:
                        raise Violated(I3, f"{who} releases mmu_lock with spte {sptep:#x} on a rmap twice")
                    on_rmap[sptep] = int(head)
                    spte = values[sptep] = int(kvm.ops.spte_read(sptep))
                    if not is_shadow_present_pte(spte) or not is_last_spte(spte, level):
                        raise Violated(I3, f"{who} releases mmu_lock with spte {sptep:#x} = {spte:#x} on the "
                                           f"level-{level} rmap {int(head):#x}, not a present leaf")
                    gfn = _spte_gfn(kvm, sptep, spte)
                    if int(gfn_to_rmap(kvm, gfn, level)) != int(head):
                        raise Violated(I3, f"{who} releases mmu_lock with spte {sptep:#x} (gfn {gfn}) on the "
                                           f"rmap {int(head):#x} of another gfn")
    for sptep, level in sorted({**_live_leaves(kvm, values), **kvm.i3_sptes}.items()):
        if sptep not in values:
            values[sptep] = int(kvm.ops.spte_read(sptep))
        spte = values[sptep]
        if not is_shadow_present_pte(spte) or not is_last_spte(spte, level):
            continue
        gfn = _spte_gfn(kvm, sptep, spte)
        if on_rmap.get(sptep) != int(gfn_to_rmap(kvm, gfn, level)):
            raise Violated(I3, f"{who} releases mmu_lock with present spte {sptep:#x} = {spte:#x} "
                               f"(gfn {gfn}) missing from its rmap")


def kvm_mmu_unlock(kvm: KvmMmu, who: str = "mmu_lock holder") -> None:
    """``spin_unlock(&kvm->mmu_lock)``, after checking I3 if ``kvm.check_i3``."""
    if kvm.check_i3:
        check_rmap_complete_and_exact(kvm, who)
    if kvm.check_i1_state:
        check_dirty_state(kvm, who)
    spin_unlock(kvm.mmu_lock)


@not_a_site
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


__all__ = ["I1_STATE", "I3", "I8", "I9", "I11", "check_dirty_state", "check_fast_path_target", "check_read",
           "check_test_bit",
           "check_slot_write_protected",
           "check_no_writable_large_spte", "check_rmap_complete_and_exact", "enable_i1_state",
           "ghost_harvesting", "ghost_lockless_harvest", "ghost_mark_pending", "kvm_mmu_unlock"]
