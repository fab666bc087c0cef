"""Scenarios that need one protection each that no other scenario needs: where ``pte_list_add``
puts an entry (``add-position``, §3.10), the barrier before a desc is linked (``publish-link``),
the vCPU's lockless walk against a zap that frees the page (``zap-vcpu-walk``: the ``smp_mb()``
of ``walk_shadow_page_lockless_begin`` and the flush of ``kvm_mmu_commit_zap_page``) and the
order of ``drop_spte`` (``drop-order``).

Each has a setting that removes the protection and a run that then violates, under the weakest
memory model where the protection is needed.
"""

from __future__ import annotations

from rmapwalk.engine import Program
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm.invariants import I1, I5, migration_thread, require_no_dirty_page_lost
from rmapwalk.kvm.mmu_checks import kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.scenarios import HOLDS, Scenario, expect
from rmapwalk.kvm.scenarios.zapping import UAF, prefault_path
from rmapwalk.kvm.spte_ops import drop_spte
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import (
    __direct_map,
    fast_page_fault,
    guest_write,
    kvm_create_vcpu,
    kvm_flush_remote_tlbs,
    prefault_spte,
)
from rmapwalk.kvm.zap import kvm_mmu_zap_page

MODELS = ("sc", "tso", "pso")
ALL_HOLD = {m: HOLDS for m in MODELS}


def _all(prop: str) -> dict[str, frozenset[str]]:
    return {m: frozenset({prop}) for m in MODELS}


#: the series' lockless write-protect with its walker (bottom-up, nulls, type-safe descs)
LOCKLESS = {"write_protect": "lockless", "mark_order": "after_rmap", "desc_cache": "typesafe_by_rcu",
            "nulls": "on", "walk_order": "bottom_up", "desc_init": "careful", "publish": "wmb",
            "spt_entries": 2}


# -- add-position --------------------------------------------------------------------------------------

def add_position(sw: Switches) -> Program:
    """§3.10 ADD_POSITION (series patch 7).  gfn 0 has ``3 * PTE_LIST_EXT`` writable sptes
    ``a[0..]``, one per direct root (roles ``r0``...), added in order at build time; then, as
    3.11 lays them out, ``a[ext+1..2ext-1]`` are dropped, so the chain is three descs ``D1`` (full)
    -> ``D2`` (``a[ext]`` alone) -> ``D3`` (full) -> nulls.  (The series' head algorithm lays the
    same adds out as head ``[a[2ext..]]`` -> ``[a[ext..]]`` -> ``[a[0..]]``; its drops refill from
    the head.)

    * ``migrate`` harvests once (the lockless walk of gfn 0's rmap) and copies;
    * ``zap`` (a lock holder) drops ``a[ext]`` and flushes -- with 3.11's same-desc refill ``D2``
      is emptied, unlinked (``D1->more = D3``) and freed -- then a vCPU of a new role faults gfn
      0 in (``__direct_map``): appended at the tail (3.11: ``D1`` and ``D3`` are full) the new
      entry takes the freed ``D2`` (LIFO, type-safe cache) and ``D3->more = D2``, ``D2->more =
      nulls``.

    A walker standing on ``D2`` reads its own nulls marker there and ends the walk without
    restart, missing ``D3``'s entries, which were on the rmap throughout (I5).  Inserted at the
    head, the add never puts a freed desc behind a walker."""
    ext = sw.pte_list_ext
    n = 3 * ext
    p = Program(f"add-position[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=3, sp_capacity=n + 1)
    sptes = [prefault_spte(kvm, 0, writable=True, role=f"r{i}") for i in range(n)]
    with kvm.building():
        for i in range(ext + 1, 2 * ext):  # D2 keeps a[ext] only
            drop_spte(kvm, sptes[i])
    victim = sptes[ext]
    kept = {a for i, a in enumerate(sptes) if not ext <= i < 2 * ext}
    kvm.i5_present = {int(gfn_to_rmap(kvm, 0, 1)): kept}
    vnew = kvm_create_vcpu(kvm, role="new")

    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        drop_spte(kvm, victim)
        kvm_flush_remote_tlbs(kvm)
        __direct_map(vnew, 0, True)
        kvm_mmu_unlock(kvm)

    p.thread(zap, name="zap")
    p.thread(migration_thread(kvm, 1), name="migrate")
    return p


_I5 = _all(I5)

ADD_POSITION = Scenario(
    name="add-position",
    question="With a nulls-terminated, type-safe desc chain and the bottom-up walk, can 3.11's "
             "append-at-tail put a desc freed under the lockless walker back at the tail, behind the "
             "walker's own nulls marker, so that the walk ends early without a restart (series patch 7: "
             "insert at the head)?",
    races=("R7",),
    size=(
        "PTE_LIST_EXT=1 and 3 (both rows): three descs, the fewest for the walker to stand on a middle "
        "one; 3 * PTE_LIST_EXT roots."
    ),
    base=LOCKLESS,
    build_fn=add_position,
    expected=(
        expect({"pte_list": "3.11", "pte_list_ext": 1}, _I5)
        + expect({"pte_list": "head", "pte_list_ext": 1}, ALL_HOLD)
        # the add position alone decides it: each removal refill with the other add
        + expect({"pte_list": "3.11", "add_position": "head", "pte_list_ext": 1}, ALL_HOLD)
        + expect({"pte_list": "head", "add_position": "tail", "pte_list_ext": 1}, _I5)
        + expect({"pte_list": "3.11", "pte_list_ext": 3}, _I5)
        + expect({"pte_list": "head", "pte_list_ext": 3}, ALL_HOLD)
        + expect({"pte_list": "head", "pte_list_ext": 1, "walk_rmb": "on"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"pte_list": "3.11", "pte_list_ext": 1}, {"lkmm": frozenset({I5})})
        + expect({"pte_list": "head", "pte_list_ext": 1}, {"lkmm": frozenset({I5})})
        + expect({"pte_list": "3.11", "add_position": "head", "pte_list_ext": 1}, {"lkmm": HOLDS})
        + expect({"pte_list": "head", "add_position": "tail", "pte_list_ext": 1}, {"lkmm": frozenset({I5})})
        + expect({"pte_list": "3.11", "pte_list_ext": 3}, {"lkmm": frozenset({I5})})
        + expect({"pte_list": "head", "pte_list_ext": 3}, {"lkmm": HOLDS})
        + expect({"pte_list": "head", "pte_list_ext": 1, "walk_rmb": "on"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)


# -- publish-link --------------------------------------------------------------------------------------

def publish_link(sw: Switches) -> Program:
    """The ``smp_wmb()`` before a desc is linked (``publish``).  gfn 0 has one writable spte
    ``a`` (root role A): its rmap head is the pointer itself.  ``vcpuB`` faults gfn 0 in through
    root role B under mmu_lock: ``pte_list_add`` turns the rmap into a chain, a new desc holding
    ``[a, b]`` linked from the head word.  ``migrate`` harvests once (lockless walk) and
    copies.  ``a`` is on the rmap throughout (I5): a walker that sees the new head word before
    the desc's slots reads empty slots and a NULL ``more`` and misses it."""
    p = Program(f"publish-link[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=2, sp_capacity=2)
    a = prefault_spte(kvm, 0, writable=True, role="A")
    kvm.i5_present = {int(gfn_to_rmap(kvm, 0, 1)): {a}}
    vcpu = kvm_create_vcpu(kvm, role="B")

    def fault() -> None:
        spin_lock(kvm.mmu_lock)
        __direct_map(vcpu, 0, True)
        kvm_mmu_unlock(kvm, "tdp_page_fault")

    p.thread(fault, name=vcpu.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    return p


PUBLISH_LINK = Scenario(
    name="publish-link",
    question="Must pte_list_add order the filling of a new desc before the store that links it "
             "(smp_wmb() or rcu_assign_pointer(), Gleb's rcu question in the seed mail), for a "
             "lockless walker reading the rmap while it turns from one entry into a chain?",
    races=(),
    size="PTE_LIST_EXT=3 as in the kernel. Two sptes (two roots), one fault, one harvest.",
    base={**LOCKLESS, "pte_list": "head", "pte_list_ext": 3},
    build_fn=publish_link,
    expected=(
        expect({"publish": "wmb"}, ALL_HOLD)
        + expect({"publish": "rcu_assign_pointer"}, ALL_HOLD)
        + expect({"publish": "none"}, {"sc": HOLDS, "tso": HOLDS, "pso": frozenset({I5})})
        # LKMM (review --full)
        + expect({"publish": "wmb"}, {"lkmm": HOLDS})
        + expect({"publish": "rcu_assign_pointer"}, {"lkmm": HOLDS})
        + expect({"publish": "none"}, {"lkmm": frozenset({I5})})
    ),
    quick_models=("sc", "tso", "pso"),
)


# -- zap-vcpu-walk ----------------------------------------------------------------------------------

def zap_vcpu_walk(sw: Switches) -> Program:
    """3.11's protection of the vCPU's lockless shadow walk.  A level-2 direct root R, a
    level-1 table P under it, in P a dirty-log write-protected (W clear, MMU-writable) spte for
    gfn 0.  ``vcpu0``'s write to gfn 0 has faulted on it: ``fast_page_fault`` (interrupts off,
    ``vcpu->mode = READING_SHADOW_PAGE_TABLES``, ``smp_mb()``, the walk, the cmpxchg); ``zap``
    (an MMU-notifier-like thread) zaps P under mmu_lock: the spte dropped, R's entry cleared,
    ``kvm_flush_remote_tlbs`` (which waits for a vCPU seen in the walk), P freed at once (3.11).
    The walk must never read P after it is freed (I4, ``use-after-free``)."""
    p = Program(f"zap-vcpu-walk[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, max_level=1, sp_capacity=2, desc_capacity=1)
    vcpu = kvm_create_vcpu(kvm, root_level=2)
    _, sp = prefault_path(kvm, 0, 2, writable=False, mmu_writable=True)

    def guest0() -> None:
        fast_page_fault(vcpu, 0, 1, True, True)  # the write fault on the present spte

    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        kvm_mmu_zap_page(kvm, sp)
        kvm_mmu_unlock(kvm)

    p.thread(guest0, name=vcpu.name)
    p.thread(zap, name="zap")
    return p


ZAP_VCPU_WALK = Scenario(
    name="zap-vcpu-walk",
    question="Does 3.11 keep a vCPU's lockless shadow walk (fast_page_fault) off a shadow page "
             "that a concurrent zap frees, and does it need both the smp_mb() of "
             "walk_shadow_page_lockless_begin and the flush before kvm_mmu_commit_zap_page frees?",
    races=(),
    size=(
        "PTE_LIST_EXT=3 as in the kernel. Tables of 2 entries, two levels, one fast-path fault against "
        "one zap."
    ),
    base={"spt_entries": 2, "pte_list_ext": 3},
    build_fn=zap_vcpu_walk,
    expected=(
        expect({}, ALL_HOLD)
        + expect({"walk_begin_mb": "off"}, {"sc": HOLDS, "tso": frozenset({UAF}), "pso": frozenset({UAF})})
        + expect({"zap_flush": "none"}, _all(UAF))
        # LKMM (review --full)
        + expect({}, {"lkmm": HOLDS})
        + expect({"walk_begin_mb": "off"}, {"lkmm": frozenset({UAF})})
        + expect({"zap_flush": "none"}, {"lkmm": frozenset({UAF})})
    ),
    quick_models=("sc", "tso", "pso"),
)


# -- drop-order ---------------------------------------------------------------------------------------

def drop_order(sw: Switches) -> Program:
    """``drop_spte``'s order under the lockless write-protect.  gfn 0 has a writable spte ``a``
    (dirty), the only entry of its rmap.  ``zap`` drops ``a`` under mmu_lock and flushes;
    ``migrate`` harvests once (lockless) and copies; ``vcpu0`` writes gfn 0 once.  Removed from
    the rmap before it is cleared, ``a`` is still present and writable when the walker finds the
    rmap empty: the harvest's flush empties vcpu0's TLB, but vcpu0 walks to ``a`` again, writes
    without a fault and so without a dirty bit, and the page is lost (I1)."""
    p = Program(f"drop-order[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=1)
    vcpu = kvm_create_vcpu(kvm)
    a = prefault_spte(kvm, 0, writable=True)

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


DROP_ORDER = Scenario(
    name="drop-order",
    question="With the lockless write-protect, must drop_spte clear the spte before it removes it "
             "from the rmap (3.11's order), so that the walker never misses a present spte?",
    races=(),
    size="PTE_LIST_EXT=3 as in the kernel. One spte, one zap, one guest write, one harvest.",
    base={**LOCKLESS, "pte_list": "head", "pte_list_ext": 3},
    build_fn=drop_order,
    expected=(
        expect({"drop_order": "clear_first"}, ALL_HOLD) + expect({"drop_order": "remove_first"}, _all(I1))
        # LKMM (review --full)
        + expect({"drop_order": "clear_first"}, {"lkmm": HOLDS})
        + expect({"drop_order": "remove_first"}, {"lkmm": frozenset({I1})})
    ),
    quick_models=("sc", "tso", "pso"),
)

SCENARIOS = (ADD_POSITION, PUBLISH_LINK, ZAP_VCPU_WALK, DROP_ORDER)

__all__ = ["ADD_POSITION", "DROP_ORDER", "PUBLISH_LINK", "SCENARIOS", "ZAP_VCPU_WALK", "add_position",
           "drop_order", "publish_link", "zap_vcpu_walk"]
