"""Scenarios where shadow pages are zapped or rmap entries removed under the lockless
write-protect: the freeing of zapped shadow pages (``sp-free``, ``sp_free``), a table reused at
another level (``spt-reuse``, R10, ``leaf_check``) and the within-desc move of a removal
(``remove-move``, R7, ``pte_list`` x ``walk_order``).

The lockless write-protect runs in ``get_dirty_log`` on the migration thread, which is no vCPU:
``kvm_flush_remote_tlbs`` does not wait for it, so only RCU (or type-stable memory) keeps what
it reads alive.
"""

from __future__ import annotations

from rmapwalk.engine import Program
from rmapwalk.kernel.races import report_data_races
from rmapwalk.kernel.rcu import init_rcu
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm.invariants import I5, I7, migration_thread, require_no_dirty_page_lost
from rmapwalk.kvm.mmu_checks import kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu, kvm_mmu_alloc_page
from rmapwalk.kvm.rmap import gfn_to_rmap, rmap_add
from rmapwalk.kvm.scenarios import HOLDS, Scenario, expect, ext_unchanged
from rmapwalk.kvm.spte import is_shadow_present_pte, make_nonleaf_spte, spte_to_pfn
from rmapwalk.kvm.spte_ops import drop_spte, mmu_spte_set
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import (
    __direct_map,
    guest_write,
    kvm_create_vcpu,
    kvm_flush_remote_tlbs,
    kvm_make_spte,
    mmu_alloc_direct_roots,
    prefault_spte,
    shadow_index,
)
from rmapwalk.kvm.zap import kvm_mmu_zap_page, sp_of_table

MODELS = ("sc", "tso", "pso")
ALL_HOLD = {m: HOLDS for m in MODELS}
#: I4 is the kernel layer's slab check
UAF = "use-after-free"


#: the data-race report (``rmapwalk.kernel.races``)
RACE = "data race"
MIXED = "mixed accesses"


def _all(prop: str) -> dict[str, frozenset[str]]:
    return {m: frozenset({prop}) for m in MODELS}


def _all2(*props: str) -> dict[str, frozenset[str]]:
    return {m: frozenset(props) for m in MODELS}


def prefault_path(kvm: KvmMmu, gfn: int, root_level: int, *, writable: bool = True,
                  mmu_writable: bool | None = None) -> tuple[int, int]:
    """Build-time state: the direct root of ``root_level`` and the tables down to level 1 for
    ``gfn`` (created with ``kvm_mmu_alloc_page`` and linked as ``__direct_map`` does), a leaf
    spte for ``gfn`` on its rmap, and (if ``writable``) its dirty bit set; ``writable=False,
    mmu_writable=True`` gives a dirty-log write-protected leaf the fast path may fix.  Returns
    (the leaf's sptep, the level-1 shadow page)."""
    _, spt = mmu_alloc_direct_roots(kvm, root_level)
    enc = kvm.sw.leaf_check == "by_value"
    with kvm.building():
        level = root_level
        while level > 1:
            sptep = kvm.spt_entry(spt, shadow_index(kvm, gfn, level))
            s = int(kvm.ops.spte_read(sptep))
            if is_shadow_present_pte(s):
                spt = spte_to_pfn(s)
            else:
                span = kvm.spt_entries ** (level - 1)
                child = kvm_mmu_alloc_page(kvm, level - 1, gfn - gfn % span, True, parent_pte=sptep)
                spt = int(kvm.ops.kernel_read(kvm.sp_field(child, "spt")))
                mmu_spte_set(kvm, sptep, make_nonleaf_spte(spt, level, encode_level=enc))
            level -= 1
        leaf = kvm.spt_entry(spt, shadow_index(kvm, gfn, 1))
        mmu_spte_set(kvm, leaf, kvm_make_spte(kvm, gfn, 1, writable, mmu_writable=mmu_writable))
        rmap_add(kvm, leaf, gfn)
        sp = sp_of_table(kvm, spt)
    if writable:
        word = kvm.memslots[0].dirty_bitmap[0]  # type: ignore[index]
        kvm.set_initial(word, kvm.prog.init.get(int(word), 0) | 1 << gfn)
    return leaf, sp


#: the series' rmap machinery, with one-slot descs
SERIES = {"write_protect": "lockless", "mark_order": "after_rmap", "pte_list": "head", "walk_order": "bottom_up",
          "desc_cache": "typesafe_by_rcu", "nulls": "on", "desc_init": "careful", "pte_list_ext": 3,
          "spt_entries": 2}


def sp_free(sw: Switches, *, refault: bool = False, races: bool = False, name: str = "sp-free") -> Program:
    """A level-2 direct root, a level-1 table P under it, and in P a writable spte for gfn 0
    (dirty).  ``migrate`` harvests once (the lockless write-protect walks gfn 0's rmap inside
    ``rcu_read_lock``) and copies; ``zap`` (an MMU-notifier-like kernel thread, no vCPU) zaps P
    under mmu_lock: the spte is dropped from the rmap, P unlinked from the root, remote TLBs
    flushed (the zapping vCPU does not wait for itself), P freed as ``sp_free`` says.  Then
    ``vcpu0`` writes gfn 0 as a guest: the write faults (``tdp_page_fault``), maps gfn 0 again
    through a new level-1 table -- P's page again unless ``sp_free=call_rcu`` keeps it for a grace
    period -- and marks the page dirty, so I1 asks that the harvest report it or leave it
    write-protected; the question is I4.

    ``refault``: instead of the guest write, ``vcpu0`` maps gfn 0 again inside the zap's
    mmu_lock section (``__direct_map``), so the new spte is on the rmap the walker may be on
    (scenario ``sp-rcu``); ``races``: LKMM's data races reported."""
    p = Program(f"{name}[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, max_level=1, sp_capacity=3, desc_capacity=1)
    vcpu = kvm_create_vcpu(kvm, root_level=2)
    _, sp = prefault_path(kvm, 0, 2)

    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        kvm_mmu_zap_page(kvm, sp)
        if refault:
            __direct_map(vcpu, 0, True)
        kvm_mmu_unlock(kvm)
        if not refault:
            guest_write(vcpu, 0, 1)

    p.thread(zap, name=vcpu.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    if races:
        report_data_races(p)
    if sw.sp_free == "call_rcu":
        init_rcu(p, callbacks=1)
    return p


SP_FREE = Scenario(
    name="sp-free",
    question="Once get_dirty_log walks rmaps without mmu_lock, must zapped shadow pages be freed "
             "only after an RCU grace period (call_rcu) or from a type-stable cache, instead of at "
             "once after the TLB flush as in 3.11?",
    races=("R10",),
    size=ext_unchanged("one spte") + (
        "Tables of 2 "
        "entries, two levels, one zap, one guest write, one harvest."
    ),
    # (the guest write maps gfn 0 again while the walker may be on its rmap: the series'
    # smp_wmb() before publishing a new entry, without which the walker can follow the sptep
    # before its table's header is written: sp-rcu's publish=none row)
    base={**SERIES, "publish": "wmb"},
    build_fn=sp_free,
    expected=(
        expect({"sp_free": "immediate"}, _all(UAF))
        + expect({"sp_free": "call_rcu"}, ALL_HOLD)
        + expect({"sp_free": "typesafe_slab"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"sp_free": "immediate"}, {"lkmm": frozenset({UAF})})
        + expect({"sp_free": "call_rcu"}, {"lkmm": frozenset({UAF})})
        + expect({"sp_free": "typesafe_slab"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)


def spt_reuse(sw: Switches) -> Program:
    """R10.  ``spt_entries=2``; a level-3 direct root R, R[0] -> level-2 table Q, Q[0] -> level-1
    table P, P[0] a writable spte for gfn 0 (dirty).  ``migrate`` harvests once (lockless) and
    copies; ``vcpu0`` (R's vCPU, no guest access) under mmu_lock zaps P and then maps gfn 4
    (``__direct_map``): the new level-2 table for R[1] is P's freed header and table (LIFO), and
    its entry 0 -- the walker's ``sptep`` -- becomes a non-leaf entry pointing to a new level-1
    table; then the vCPU writes gfn 4 (I1: the page must be reported).  A walker that learnt
    ``level = 1`` before the reuse takes that entry for a leaf, and its W-clear of the non-leaf
    entry makes the guest's write to gfn 4 fault; data races are reported (the walker's reads of
    a table and header that are reinitialised under it)."""
    p = Program(f"spt-reuse[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=5, max_level=1, sp_capacity=5, desc_capacity=1)
    vcpu = kvm_create_vcpu(kvm, root_level=3)
    _, sp = prefault_path(kvm, 0, 3)

    def zap_and_map() -> None:
        spin_lock(kvm.mmu_lock)
        kvm_mmu_zap_page(kvm, sp)
        __direct_map(vcpu, 4, True)
        kvm_mmu_unlock(kvm)
        guest_write(vcpu, 4, 1)

    p.thread(zap_and_map, name=vcpu.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    if sw.sp_free == "call_rcu":
        init_rcu(p, callbacks=1)
    return p


SPT_REUSE = Scenario(
    name="spt-reuse",
    question="With shadow page tables from a type-stable cache, can the lockless write-protect "
             "clear W of an entry whose table was reused at another level, unless leaf-ness is "
             "read from the spte value itself (Gleb's question, series v2)?",
    races=("R10",),
    size=ext_unchanged("one spte") + (
        "Tables of 2 "
        "entries instead of 512 (entry 0 is reused, which is all the race needs), three levels, one "
        "harvest."
    ),
    base={**SERIES, "sp_free": "typesafe_slab"},
    build_fn=spt_reuse,
    checks=("I3", "I8", "I11", "data race"),
    expected=(
        expect({"leaf_check": "by_level"}, _all2(I7, RACE))
        # re-reading the level after the spte holds here; spt-reuse-aba shows it is not enough
        + expect({"leaf_check": "by_level_reread"}, _all(RACE))
        # by value, but the reused table zeroed with plain stores (3.11 init_shadow_page_table)
        + expect({"leaf_check": "by_value"}, _all(RACE))
        + expect({"leaf_check": "by_value", "spt_init": "once"}, ALL_HOLD)
        # the same race with the 3.11 free (R10's second half: a freed table, I4) and with call_rcu
        + expect({"leaf_check": "by_level", "sp_free": "immediate"}, {m: frozenset({I7, UAF, RACE}) for m in MODELS})
        + expect({"leaf_check": "by_value", "sp_free": "immediate", "spt_init": "once"}, _all(UAF))
        + expect({"leaf_check": "by_level", "sp_free": "call_rcu"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"leaf_check": "by_level"}, {"lkmm": frozenset({I7, RACE, MIXED})})
        + expect({"leaf_check": "by_level_reread"}, {"lkmm": frozenset({RACE, MIXED})})
        + expect({"leaf_check": "by_value"}, {"lkmm": frozenset({RACE, MIXED})})
        + expect({"leaf_check": "by_value", "spt_init": "once"}, {"lkmm": HOLDS})
        + expect({"leaf_check": "by_level", "sp_free": "immediate"}, {"lkmm": frozenset({I7, RACE, MIXED, UAF})})
        + expect({"leaf_check": "by_value", "sp_free": "immediate", "spt_init": "once"}, {"lkmm": frozenset({UAF})})
        + expect({"leaf_check": "by_level", "sp_free": "call_rcu"}, {"lkmm": frozenset({RACE, MIXED})})
    ),
    quick_models=("sc", "tso", "pso"),
)


def spt_reuse_aba(sw: Switches) -> Program:
    """R10 with the level re-read (``leaf_check=by_level_reread``): the table is reused three
    times.  ``spt_entries=2``; a level-3 direct root R, R[0] -> level-2 table Q, Q[0] -> level-1
    table P, P[0] a writable spte for gfn 0 (dirty).  ``migrate`` harvests once (lockless) and
    copies; ``vcpu0`` (R's vCPU, no guest access) runs, each step under mmu_lock:

    1. zap P; map gfn 4: the level-2 table for R[1] is P again (LIFO) and P[0] points to a new
       level-1 table X: P[0] holds the non-leaf value N (writable, as upper levels are);
    2. zap X, then P; map gfn 2: Q[1]'s new level-1 table is P (level 1 now, P[0] gfn 2's leaf);
    3. zap P; map gfn 4 again: R[1] -> P (level 2) and P[0] -> X: P[0] holds N again.

    A walker that read N in life 1, the level (1) in life 2 and cmpxchg's in life 3 clears W of
    a non-leaf entry (I7): the spte and the level are two reads, and the cmpxchg validates only
    the spte (an ABA on the value).  The level encoded in the value is one read."""
    p = Program(f"spt-reuse-aba[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=5, max_level=1, sp_capacity=4, desc_capacity=1)
    vcpu = kvm_create_vcpu(kvm, root_level=3)
    _, sp = prefault_path(kvm, 0, 3)
    root_spt = vcpu.root_spt

    def table_at(sptep: int) -> int:
        return sp_of_table(kvm, spte_to_pfn(int(kvm.ops.spte_read(sptep))))

    def zap_and_map() -> None:
        spin_lock(kvm.mmu_lock)
        kvm_mmu_zap_page(kvm, sp)
        __direct_map(vcpu, 4, True)  # life 1: P at level 2 under R[1], P[0] -> X
        kvm_mmu_unlock(kvm)
        spin_lock(kvm.mmu_lock)
        p1 = table_at(kvm.spt_entry(root_spt, 1))
        x = table_at(kvm.spt_entry(int(kvm.ops.kernel_read(kvm.sp_field(p1, "spt"))), 0))
        kvm_mmu_zap_page(kvm, x)
        kvm_mmu_zap_page(kvm, p1)
        __direct_map(vcpu, 2, True)  # life 2: P at level 1 under Q[1]
        kvm_mmu_unlock(kvm)
        spin_lock(kvm.mmu_lock)
        q = table_at(kvm.spt_entry(root_spt, 0))
        kvm_mmu_zap_page(kvm, table_at(kvm.spt_entry(int(kvm.ops.kernel_read(kvm.sp_field(q, "spt"))), 1)))
        __direct_map(vcpu, 4, True)  # life 3: P at level 2 again, P[0] -> X again
        kvm_mmu_unlock(kvm)

    p.thread(zap_and_map, name=vcpu.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    return p


SPT_REUSE_ABA = Scenario(
    name="spt-reuse-aba",
    question="With shadow page tables from a type-stable cache, is re-reading sp->role.level after "
             "the spte load (with smp_rmb) enough for the lockless write-protect's leaf test, or must "
             "the level be encoded in the spte (Xiao's answer to Gleb in the seed mail)?",
    races=("R10",),
    size=ext_unchanged("one spte") + (
        "Tables of 2 "
        "entries, three levels, the table reused three times (the fewest that fool the re-read), one "
        "harvest. LKMM: by_level_reread is left out (it finds its I7 violation after about 300 s and "
        "does not finish in 5 minutes; by_level takes about 4 minutes)."
    ),
    base={**SERIES, "sp_free": "typesafe_slab"},
    build_fn=spt_reuse_aba,
    expected=(
        expect({"leaf_check": "by_level_reread"}, _all(I7))
        + expect({"leaf_check": "by_value"}, ALL_HOLD)
        + expect({"leaf_check": "by_level"}, _all(I7))
        # LKMM (review --full)
        + expect({"leaf_check": "by_value"}, {"lkmm": HOLDS})
        + expect({"leaf_check": "by_level"}, {"lkmm": frozenset({I7})})
    ),
    quick_models=("sc", "tso", "pso"),
)


def remove_move(sw: Switches) -> Program:
    """R7.  ``PTE_LIST_EXT = 3``; two direct roots (roles A and B) map gfn 0 with writable
    sptes a and b (dirty); gfn 0's rmap is one desc holding both.  ``migrate`` harvests once
    (lockless) and copies; ``zap`` drops a under mmu_lock (``drop_spte``, the removal moves an
    entry inside the desc) and flushes; ``vcpu0`` (role B) writes gfn 0 once through b.  A walker
    that reads the slots in the direction entries move misses b, which stays writable."""
    p = Program(f"remove-move[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=2)
    vcpu = kvm_create_vcpu(kvm, role="B")
    a = prefault_spte(kvm, 0, writable=True, role="A")
    b = prefault_spte(kvm, 0, writable=True, role="B")
    kvm.i5_present = {int(gfn_to_rmap(kvm, 0, 1)): {b}}  # I5: b is on gfn 0's rmap throughout

    def guest() -> None:
        guest_write(vcpu, 0, 1)

    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        drop_spte(kvm, a)
        kvm_flush_remote_tlbs(kvm)
        kvm_mmu_unlock(kvm)

    p.thread(guest, name=vcpu.name)
    p.thread(zap, name="zap")
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    return p


REMOVE_MOVE = Scenario(
    name="remove-move",
    question="Does the lockless walker miss an spte that a concurrent pte_list_remove moves "
             "within a desc, unless it walks against the direction of the refill (series: head "
             "refill, bottom-up walk)?",
    races=("R7",),
    size=ext_unchanged("two sptes") + (
        "Two roots, one "
        "desc, one zap, one harvest."
    ),
    base={"write_protect": "lockless", "mark_order": "after_rmap", "desc_cache": "typesafe_by_rcu",
          "nulls": "on", "desc_init": "careful", "pte_list_ext": 3, "publish": "wmb", "spt_entries": 2},
    build_fn=remove_move,
    # I5 fires where the walk misses b, before the lost write shows as I1
    expected=(
        expect({"pte_list": "3.11", "walk_order": "ascending"}, _all(I5))
        + expect({"pte_list": "head", "walk_order": "bottom_up"}, ALL_HOLD)
        # the bottom-up argument needs the slots read in order: smp_rmb() on weak CPUs (LKMM)
        + expect({"pte_list": "head", "walk_order": "bottom_up", "walk_rmb": "on"}, ALL_HOLD)
        # the walk order alone decides it (both algorithms move the last entry down)
        + expect({"pte_list": "3.11", "walk_order": "bottom_up"}, ALL_HOLD)
        + expect({"pte_list": "head", "walk_order": "ascending"}, _all(I5))
        # LKMM (review --full)
        + expect({"pte_list": "3.11", "walk_order": "ascending"}, {"lkmm": frozenset({I5})})
        + expect({"pte_list": "head", "walk_order": "bottom_up"}, {"lkmm": frozenset({I5})})
        + expect({"pte_list": "head", "walk_order": "bottom_up", "walk_rmb": "on"}, {"lkmm": HOLDS})
        + expect({"pte_list": "3.11", "walk_order": "bottom_up"}, {"lkmm": frozenset({I5})})
        + expect({"pte_list": "head", "walk_order": "ascending"}, {"lkmm": frozenset({I5})})
    ),
    quick_models=("sc", "tso", "pso"),
)

SCENARIOS = (SP_FREE, SPT_REUSE, SPT_REUSE_ABA, REMOVE_MOVE)

__all__ = ["REMOVE_MOVE", "SCENARIOS", "SPT_REUSE", "SPT_REUSE_ABA", "SP_FREE", "prefault_path", "remove_move",
           "sp_free", "spt_reuse", "spt_reuse_aba"]
