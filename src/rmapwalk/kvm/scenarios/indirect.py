"""The fast path on an indirect shadow page (R1, ``fast_pf_indirect``): the ABA on the gfn behind
an spte (Documentation/virtual/kvm/locking.txt, "The mapping from gfn to pfn"; ``kvm-reference.md``
§2.15, §5.3 R1).

The minimum of shadow paging the race needs, in this module only:

* one *indirect* level-1 shadow page S (``role.direct = 0``, ``gfn`` = the guest page table, gfn
  0), the root of both vCPUs; its entry ``va`` shadows guest pte ``gpte[va]`` (a guest memory
  word holding a gfn), and ``sp->gfns[va]`` records the gfn it maps (``kvm_mmu_page_set_gfn``);
* the host mapping ``host_pfn[g]`` (the pfn behind gfn ``g``'s hva, 0 when not present) and
  guest memory per host page, ``page[pfn]``;
* ``kvm->mmu_notifier_seq`` and the MMU notifier ``kvm_mmu_notifier_invalidate_page``
  (``kvm_unmap_rmapp``), and the slow path ``FNAME(page_fault)`` of paging_tmpl.h with its two
  re-checks under mmu_lock (``mmu_notifier_retry``, ``FNAME(gpte_changed)``).

Not modelled: the write-protection of the guest page table (the guest's write to its pte is a
plain store, as if KVM had unsynced the page), swapping a page back in (a fault on a swapped-out
gfn ends the execution: ``assume``), guest TLBs for virtual addresses (every access walks S).

The vCPUs' lockless walks are RCU-protected here (``KvmVcpu.walk_rcu``, c2a2ac2b563c, the scheme
fast_page_fault was written against in 2012).  With 3.11's interrupts-off walk (c142786c6291)
the notifier's flush IPI waits for the fast path's walk, which closes this interleaving: the test
``test_fast_pf_indirect_irq_off_walk_holds`` checks that too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rmapwalk.engine import Program
from rmapwalk.engine.ops import assume, observe
from rmapwalk.engine.program import Loc
from rmapwalk.engine.runtime import Violated
from rmapwalk.kernel.barriers import smp_mb, smp_rmb, smp_wmb
from rmapwalk.kernel.once import READ_ONCE, WRITE_ONCE
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm.dirty_log import kvm_vm_ioctl_get_dirty_log
from rmapwalk.kvm.invariants import I1
from rmapwalk.kvm.mmu_checks import kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.pte_list import rmap_walk
from rmapwalk.kvm.rmap import gfn_to_rmap, rmap_add
from rmapwalk.kvm.scenarios import HOLDS, Scenario, expect, ext_unchanged
from rmapwalk.kvm.spte import ACC_ALL, is_shadow_present_pte, is_writable_pte, spte_to_pfn
from rmapwalk.kvm.spte_ops import drop_spte
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import (
    KvmVcpu,
    fast_page_fault,
    guest_memory,
    kvm_flush_remote_tlbs,
    kvm_make_spte,
    mmu_set_spte,
    vcpu_enter_guest,
    vcpu_exit_guest,
    walk_shadow,
)

MODELS = ("sc", "tso", "pso")


class ShadowPaging:
    """The scenario's guest page table, host mapping and pages (see the module doc)."""

    def __init__(self, kvm: KvmMmu, gfns: list[int], pfns: list[int], nva: int = 1) -> None:
        prog = kvm.prog
        self.kvm = kvm
        self.gpte = [prog.var(f"gpte[{va}]", observe=False) for va in range(nva)]
        self.host_pfn = {g: prog.var(f"host_pfn[{g}]") for g in gfns}
        self.page = {p: prog.var(f"page[{p:#x}]") for p in pfns}
        self.mmu_notifier_seq = prog.var("kvm.mmu_notifier_seq", observe=False)


def create_shadow_vcpu(kvm: KvmMmu, sp: int, name: str, *, register: bool = True) -> KvmVcpu:
    """A vCPU whose root is the indirect level-1 shadow page ``sp`` (``mmu_alloc_shadow_roots``
    with a one-level guest table), with RCU-protected lockless walks.  ``register=False``: not
    in ``kvm.vcpus``, so remote flushes skip it (for a vCPU that never runs guest code in the
    program: no TLB to flush, no IPI to take)."""
    prog = kvm.prog
    mem = guest_memory(kvm)
    vcpu = KvmVcpu(kvm, len(kvm.vcpus), name, mode=prog.var(f"{name}.mode", observe=False),
                   requests=prog.var(f"{name}.requests", observe=False),
                   tlb={g: prog.var(f"{name}.tlb[{g}]", observe=False) for g in mem},
                   root_sp=sp, root_spt=int(prog.init[kvm.sp_field(sp, "spt")]), root_level=1, walk_rcu=True)
    if register:
        kvm.vcpus.append(vcpu)
    return vcpu


def fname_page_fault(vcpu: KvmVcpu, sh: ShadowPaging, va: int, write: bool) -> None:
    """Models ``FNAME(page_fault)`` (arch/x86/kvm/paging_tmpl.h, 3.11) for a one-level guest
    table: ``FNAME(walk_addr)`` reads the guest pte; ``mmu_seq = kvm->mmu_notifier_seq;
    smp_rmb()``; ``gfn_to_pfn`` (``host_pfn``); under mmu_lock: ``mmu_notifier_retry`` and
    ``FNAME(gpte_changed)`` (either: return, the guest refaults), else ``FNAME(fetch)``:
    ``mmu_set_spte(ACC_ALL)`` on S's entry (3.11 maps a writable gpte writable even on a read
    fault and marks the gfn dirty, R16)."""
    kvm = vcpu.kvm
    gfn = READ_ONCE(sh.gpte[va])
    mmu_seq = READ_ONCE(sh.mmu_notifier_seq)
    smp_rmb()
    pfn = READ_ONCE(sh.host_pfn[gfn])
    assume(pfn != 0, f"gfn {gfn} is swapped out (swap-in not modelled)")
    spin_lock(kvm.mmu_lock)
    if READ_ONCE(sh.mmu_notifier_seq) == mmu_seq and READ_ONCE(sh.gpte[va]) == gfn:
        sptep = kvm.spt_entry(vcpu.root_spt, va)
        mmu_set_spte(vcpu, sptep, ACC_ALL, write, 1, gfn, pfn)
    kvm_mmu_unlock(kvm, "FNAME(page_fault)")


def guest_access_va(vcpu: KvmVcpu, sh: ShadowPaging, va: int, write: bool, value: Any = None) -> None:
    """One guest instruction on virtual page ``va``: walk S (no TLB), access ``page[pfn]`` of the
    spte; on a fault, ``fast_page_fault`` (switch ``fast_pf_indirect``) else
    :func:`fname_page_fault`, and retry."""
    for _ in range(vcpu.max_fault_retries + 1):
        vcpu_enter_guest(vcpu)
        _, s, _ = walk_shadow(vcpu, va)
        ok = is_shadow_present_pte(s) and (is_writable_pte(s) or not write)
        if ok:
            page = sh.page[spte_to_pfn(s)]
            if write:
                WRITE_ONCE(page, value)
            else:
                READ_ONCE(page)
        vcpu_exit_guest(vcpu)
        if ok:
            return
        if not fast_page_fault(vcpu, va, 1, write, is_shadow_present_pte(s)):
            fname_page_fault(vcpu, sh, va, write)
    raise Violated("endless fault loop", f"{vcpu.name}: access to va {va} faulted {vcpu.max_fault_retries + 1} times")


def kvm_unmap_rmapp(kvm: KvmMmu, head: Loc) -> bool:
    """Models ``kvm_unmap_rmapp()`` (arch/x86/kvm/mmu.c, 3.11): ``while ((sptep =
    rmap_get_first(*rmapp))) drop_spte(kvm, sptep);``; whether it dropped any.  Under mmu_lock."""
    need_flush = False
    while True:
        first = next(iter(rmap_walk(kvm, head)), None)
        if first is None:
            return need_flush
        drop_spte(kvm, first)
        need_flush = True


def kvm_mmu_notifier_invalidate_page(kvm: KvmMmu, sh: ShadowPaging, gfn: int) -> None:
    """Models ``kvm_mmu_notifier_invalidate_page()`` (virt/kvm/kvm_main.c, 3.11) for the hva of
    ``gfn``: under mmu_lock, ``kvm->mmu_notifier_seq++``, ``kvm_unmap_hva`` (the level-1 rmap of
    ``gfn``: ``kvm_unmap_rmapp``) and, if it dropped sptes, ``kvm_flush_remote_tlbs``."""
    spin_lock(kvm.mmu_lock)
    WRITE_ONCE(sh.mmu_notifier_seq, READ_ONCE(sh.mmu_notifier_seq) + 1)
    if kvm_unmap_rmapp(kvm, gfn_to_rmap(kvm, gfn, 1)):
        kvm_flush_remote_tlbs(kvm)
    kvm_mmu_unlock(kvm, "kvm_mmu_notifier_invalidate_page")


GPT_GFN, GFN1, GFN2 = 0, 1, 2


def fast_pf_indirect(sw: Switches, walk_rcu: bool = True) -> Program:
    """R1.  S (indirect, level 1, shadowing the guest page table at gfn 0) maps va 0 through
    ``gpte[0] = 1`` to gfn 1, backed by host page P: ``S.spt[0]`` is dirty-log write-protected
    (W clear, MMU-writable), gfn 1 already harvested.

    * ``vcpu0`` writes va 0: starting from the write fault on the present, write-protected spte
      (``fast_page_fault``, else the slow path), then the retried write;
    * ``host`` swaps gfn 1 out: clears its host pte, the MMU notifier zaps gfn 1's sptes
      (``kvm_unmap_rmapp``) and flushes; then P is reused for gfn 2 (zero-filled, mapped);
    * ``vcpu1`` (the guest) points ``gpte[0]`` at gfn 2 and reads va 0, which faults: the slow
      path maps it to P again (writable, gfn 2 marked dirty);
    * ``migrate`` harvests once (write-protecting gfn 2's spte back to the very value vcpu0 read)
      and copies what it reports.

    I1 for gfn 2 (gfn 1 is swapped out): the destination must end with gfn 2's final content.
    With the fast path on S, vcpu0's cmpxchg can succeed on the recycled value and mark
    ``sp->gfns[0]`` as it read it -- gfn 1 -- while its write lands in gfn 2's page.

    ``walk_rcu=False`` gives vcpu0 3.11's interrupts-off lockless walk instead (see the module
    doc)."""
    p = Program(f"fast-pf-indirect[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=3, desc_capacity=1, sp_capacity=1)
    pfn_p = kvm.pfn_base + GFN1
    sh = ShadowPaging(kvm, [GFN1, GFN2], [pfn_p])
    sp = kvm.prealloc_page(1, GPT_GFN, direct=False)
    vcpu0 = create_shadow_vcpu(kvm, sp, "vcpu0")
    vcpu0.walk_rcu = walk_rcu
    vcpu1 = create_shadow_vcpu(kvm, sp, "vcpu1", register=False)  # runs only the slow path
    sptep = kvm.spt_entry(vcpu0.root_spt, 0)
    kvm.set_initial(sptep, kvm_make_spte(kvm, GFN1, 1, False, mmu_writable=True))
    with kvm.building():
        rmap_add(kvm, sptep, GFN1)
    kvm.set_initial(sh.gpte[0], GFN1)
    kvm.set_initial(sh.host_pfn[GFN1], pfn_p)
    slot = kvm.memslots[0]
    assert slot.dirty_bitmap is not None
    bitmap = slot.dirty_bitmap[0]

    def guest0() -> None:
        # the guest's write to va 0 has faulted on the write-protected spte (W clear)
        if not fast_page_fault(vcpu0, 0, 1, True, True):
            fname_page_fault(vcpu0, sh, 0, True)
        guest_access_va(vcpu0, sh, 0, True, 1)  # the retried write

    def host() -> None:
        WRITE_ONCE(sh.host_pfn[GFN1], 0)  # try_to_unmap: ptep_clear_flush of gfn 1's hva
        smp_mb()
        kvm_mmu_notifier_invalidate_page(kvm, sh, GFN1)
        WRITE_ONCE(sh.page[pfn_p], 0)  # P reallocated for gfn 2: its (zero) content ...
        smp_wmb()
        WRITE_ONCE(sh.host_pfn[GFN2], pfn_p)  # ... then mapped at gfn 2's hva

    def guest1() -> None:
        WRITE_ONCE(sh.gpte[0], GFN2)
        # its next read of va 0 faults (the spte is gone once gfn 2 is backed): the slow path
        fname_page_fault(vcpu1, sh, 0, False)

    def migrate() -> None:
        copy = 0
        for g in kvm_vm_ioctl_get_dirty_log(kvm):
            if g == GFN2:
                pfn = READ_ONCE(sh.host_pfn[GFN2])
                copy = READ_ONCE(sh.page[pfn]) if pfn else 0
        observe(f"copy[{GFN2}]", copy)

    p.thread(guest0, name=vcpu0.name)
    p.thread(host, name="host")
    p.thread(guest1, name=vcpu1.name)
    p.thread(migrate, name="migrate")
    kvm.observe_dirty_bitmaps()
    names = p.names

    def ok(f: Mapping[str, Any]) -> bool:
        if f[names[int(bitmap)]] >> GFN2 & 1:
            return True  # the final harvest reports gfn 2
        content = f[sh.page[pfn_p].name] if f[sh.host_pfn[GFN2].name] == pfn_p else 0
        return bool(f["migrate:copy[2]"] == content)

    p.require(ok, I1)
    return p


FAST_PF_INDIRECT = Scenario(
    name="fast-pf-indirect",
    question="Why may fast_page_fault fix only sptes of direct shadow pages: on an indirect page, "
             "can the gfn behind an spte change between the fast path's read and its cmpxchg "
             "(swap-out, page reuse, guest pte change) so that it marks the wrong gfn dirty?",
    races=("R1",),
    size=ext_unchanged("one spte") + (
        "One shadowed "
        "guest page table of 2 entries, two vCPUs, one swap-out, one harvest. No LKMM rows: with four "
        "threads the forbid row makes 1 execution in 300 s under the engine's LKMM (the allow row finds "
        "its I1 violation only after 300 s)."
    ),
    base={"pte_list_ext": 3, "spt_entries": 2},
    build_fn=fast_pf_indirect,
    # I8 (the fast path's discipline) would fire by definition at the cmpxchg of the allowed
    # fast path; without it the row shows the consequence, the lost write (I1)
    checks=("I3", "I11"),
    expected=(
        expect({"fast_pf_indirect": "allow"}, {m: frozenset({I1}) for m in MODELS})
        + expect({"fast_pf_indirect": "forbid"}, {m: HOLDS for m in MODELS})
    ),
)

SCENARIOS = (FAST_PF_INDIRECT,)

__all__ = ["FAST_PF_INDIRECT", "SCENARIOS", "ShadowPaging", "create_shadow_vcpu", "fast_pf_indirect",
           "fname_page_fault", "guest_access_va", "kvm_mmu_notifier_invalidate_page", "kvm_unmap_rmapp"]
