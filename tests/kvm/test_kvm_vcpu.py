"""vCPUs (kvm.vcpu): guest accesses through the TLB, the slow path and the fast path, the flush
request protocol, a two-level direct map, large sptes and the fault-loop bound."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kvm_helpers import node_labels

from rmapwalk.engine import Loc, Program, Result, explore, observe
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, spin_lock, spin_unlock
from rmapwalk.kvm import KvmMmu, Switches, gfn_to_rmap
from rmapwalk.kvm import spte as S
from rmapwalk.kvm.invariants import FAULT_LOOP, I1, migration_thread, require_no_dirty_page_lost
from rmapwalk.kvm.pte_list import pte_list_entries
from rmapwalk.kvm.vcpu import (
    TLB_RW,
    KvmVcpu,
    guest_read,
    guest_write,
    kvm_create_vcpu,
    kvm_flush_remote_tlbs,
    prefault_spte,
    shadow_index,
    walk_shadow_page_lockless_begin,
    walk_shadow_page_lockless_end,
)


def labels_of(res_prog: Program, model: str = "sc") -> tuple[Result, list[str]]:
    labels: list[str] = []

    def collect(g: Any, kind: str) -> None:
        labels.extend(node_labels(g))

    return explore(res_prog, model, on_execution=collect), labels


def one_vcpu(body: Callable[[KvmMmu, KvmVcpu], None], sw: Switches | None = None, *, npages: int = 1,
             setup: Callable[[KvmMmu], Any] | None = None, **kvm_kw: Any) -> tuple[KvmMmu, KvmVcpu, dict[str, Any]]:
    """Run ``body`` in a single vCPU thread; return the (only) final state, with the rmaps, the
    bitmap and the root table's sptes observed."""
    p = Program("vcpu")
    kvm = KvmMmu(p, sw or Switches(), npages=npages, **kvm_kw)
    vcpu = kvm_create_vcpu(kvm, root_level=kvm_kw.get("max_level", 1))
    if setup:
        setup(kvm)
    kvm.observe_rmaps()
    kvm.observe_dirty_bitmaps()
    for i in range(kvm.spt_entries):
        loc = kvm.spt_entry(vcpu.root_spt, i)
        p.observed.append(Loc(loc, p.names[loc]))
    p.thread(lambda: body(kvm, vcpu), name=vcpu.name)
    res = explore(p, "sc")
    assert res.verdict == "holds", res.violations[:1]
    assert len(res.outcomes) == 1
    return kvm, vcpu, dict(next(iter(res.outcomes)))


def spte_at(kvm: KvmMmu, vcpu: KvmVcpu, final: dict[str, Any], gfn: int, level: int = 1) -> int:
    return int(final[kvm.prog.names[kvm.spt_entry(vcpu.root_spt, shadow_index(kvm, gfn, level))]])


@pytest.mark.parametrize("order", ["mark_first", "after_rmap"])
def test_slow_path_maps_writable_adds_to_rmap_and_marks(order: str) -> None:
    def body(kvm: KvmMmu, vcpu: KvmVcpu) -> None:
        guest_write(vcpu, 0, 7)
        guest_write(vcpu, 0, 8)  # TLB hit: no second fault
        observe("tlb", READ_ONCE(vcpu.tlb[0]))

    kvm, vcpu, f = one_vcpu(body, Switches(mark_order=order))
    s = spte_at(kvm, vcpu, f, 0)
    assert S.is_writable_pte(s) and S.spte_is_locklessly_modifiable(s) and S.spte_to_pfn(s) == kvm.pfn_base
    assert pte_list_entries(kvm, gfn_to_rmap(kvm, 0, 1), kvm.final_mem(f)) == [kvm.spt_entry(vcpu.root_spt, 0)]
    assert f["slot0.dirty_bitmap[0]"] == 1 and f["mem[0]"] == 8 and f["vcpu0:tlb"] == TLB_RW


def test_read_fault_creates_a_writable_spte_and_marks_the_page_r16() -> None:
    def body(kvm: KvmMmu, vcpu: KvmVcpu) -> None:
        observe("r", guest_read(vcpu, 1))

    kvm, vcpu, f = one_vcpu(body, npages=2)
    assert S.is_writable_pte(spte_at(kvm, vcpu, f, 1)) and f["slot0.dirty_bitmap[0]"] == 2 and f["vcpu0:r"] == 0


def test_fast_path_restores_w_without_mmu_lock_and_marks() -> None:
    def body(kvm: KvmMmu, vcpu: KvmVcpu) -> None:
        guest_write(vcpu, 0, 1)

    p = Program("fast")
    kvm = KvmMmu(p, npages=1)
    vcpu = kvm_create_vcpu(kvm)
    sptep = prefault_spte(kvm, 0, writable=False, mmu_writable=True)
    kvm.observe_dirty_bitmaps()
    def run() -> None:
        body(kvm, vcpu)
        observe("spte", READ_ONCE(sptep))

    p.thread(run, name=vcpu.name)
    res, labels = labels_of(p)
    f = dict(next(iter(res.outcomes)))
    assert S.is_writable_pte(f["vcpu0:spte"]) and f["slot0.dirty_bitmap[0]"] == 1
    assert "spin_lock" not in labels and "cmpxchg" in labels
    assert labels.index("cmpxchg") < labels.index("set_bit")  # W first, then the mark


def test_shadow_page_protected_spte_takes_the_slow_path() -> None:
    """Not MMU-writable: the fast path refuses; the slow path finds the same pfn (was_rmapped),
    makes it writable and keeps exactly one rmap entry."""
    def setup(kvm: KvmMmu) -> None:
        prefault_spte(kvm, 0, writable=False, mmu_writable=False)

    kvm, vcpu, f = one_vcpu(lambda kvm, v: guest_write(v, 0, 1), setup=setup)
    assert S.is_writable_pte(spte_at(kvm, vcpu, f, 0)) and f["slot0.dirty_bitmap[0]"] == 1
    assert len(pte_list_entries(kvm, gfn_to_rmap(kvm, 0, 1), kvm.final_mem(f))) == 1


def test_two_level_direct_map_allocates_and_links_a_child_table() -> None:
    kvm, vcpu, f = one_vcpu(lambda kvm, v: guest_write(v, 5, 1), npages=8, max_level=2, sp_capacity=2)
    top = spte_at(kvm, vcpu, f, 5, level=2)
    assert S.is_shadow_present_pte(top) and S.is_ghost_nonleaf(top) and not S.is_large_pte(top)
    child_spt = S.spte_to_pfn(top)
    leaf = kvm.spt_entry(child_spt, shadow_index(kvm, 5, 1))
    assert pte_list_entries(kvm, gfn_to_rmap(kvm, 5, 1), kvm.final_mem(f)) == [leaf]
    assert f["mem[5]"] == 1 and f["slot0.dirty_bitmap[0]"] == 1 << 5


def test_fault_loop_bound() -> None:
    p = Program("loop")
    kvm = KvmMmu(p, npages=1)
    vcpu = kvm_create_vcpu(kvm, max_fault_retries=0)
    p.thread(lambda: guest_write(vcpu, 0, 1), name=vcpu.name)
    res = explore(p, "sc")
    assert {v.kind for v in res.violations} == {FAULT_LOOP}


# -- large sptes in a logged slot (R4, R5) ------------------------------------------------------------------

def large_readonly(sw: Switches) -> Program:
    """A read-only (dirty-log protected, MMU-writable) large spte maps gfns 0-3, as "lazily drop
    large spte" leaves it; the guest writes gfn 1 once; migration harvests once."""
    p = Program(f"large[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=4, max_level=2, sp_capacity=1)
    vcpu = kvm_create_vcpu(kvm, root_level=2, max_fault_retries=2)
    prefault_spte(kvm, 0, writable=False, level=2)
    p.thread(lambda: guest_write(vcpu, 1, 1), name=vcpu.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    return p


def test_r4_fast_fixing_a_large_spte_marks_only_its_first_gfn() -> None:
    res = explore(large_readonly(Switches(fast_pf_large="allow")), "sc", keep_violations=100)
    assert {v.kind for v in res.violations} == {I1}
    # gfn 1 was written through the large spte; the fast path marked gfn 0 (the sp's gfn) instead
    assert all("mem[1]=1" in v.message and "migrate:copy[1]=0" in v.message for v in res.violations)


def test_r5_refusing_the_fast_path_without_dropping_the_large_spte_loops() -> None:
    res = explore(large_readonly(Switches(fast_pf_large="forbid")), "sc", keep_violations=100)
    assert {v.kind for v in res.violations} == {FAULT_LOOP}


# -- the flush request protocol -----------------------------------------------------------------------------

def flush_vs_lockless_walk(wait: bool) -> Program:
    """The shape of kvm_mmu_commit_zap_page: the zapper unlinks a table (``zapped = 1``), flushes
    and may then free it.  A vCPU's lockless walk that still saw the table (``zapped == 0``) must
    be over when the flush returns: a vCPU in READING_SHADOW_PAGE_TABLES cannot take the IPI."""
    p = Program("flush-vs-walk")
    kvm = KvmMmu(p, npages=1)
    vcpu = kvm_create_vcpu(kvm)
    zapped, walked = p.var("zapped"), p.var("walked")

    def walker() -> None:
        walk_shadow_page_lockless_begin(vcpu)
        observe("saw_zapped", READ_ONCE(zapped))
        WRITE_ONCE(walked, 1)
        walk_shadow_page_lockless_end(vcpu)

    def zapper() -> None:
        spin_lock(kvm.mmu_lock)
        WRITE_ONCE(zapped, 1)
        spin_unlock(kvm.mmu_lock)
        if wait:
            kvm_flush_remote_tlbs(kvm)
        observe("walk_over", READ_ONCE(walked))

    p.thread(walker, name=vcpu.name)
    p.thread(zapper, name="zapper")
    p.forbid(lambda f: f["vcpu0:saw_zapped"] == 0 and f["zapper:walk_over"] == 0, "freed under a lockless walker")
    return p


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
def test_flush_waits_for_a_vcpu_in_a_lockless_walk(model: str) -> None:
    assert explore(flush_vs_lockless_walk(True), model).verdict == "holds"
    broken = explore(flush_vs_lockless_walk(False), model)
    assert {v.kind for v in broken.violations} == {"freed under a lockless walker"}
