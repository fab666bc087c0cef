"""Scenarios about dirty logging: the locked baseline, the slow path's mark order (R6), and desc
reuse under the lockless walker (R9).  Each checks I1 ("no dirty page lost") end to end: a
migration thread harvests and copies pages; the final bitmap stands for the final harvest after
every thread stopped (``rmapwalk.kvm.invariants``).
"""

from __future__ import annotations

from rmapwalk.engine import Program
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm.invariants import I1, I2, I5, migration_thread, require_no_dirty_page_lost
from rmapwalk.kvm.mmu_checks import kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.scenarios import HOLDS, Scenario, expect, ext_unchanged
from rmapwalk.kvm.spte_ops import drop_spte
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import __direct_map, guest_write, kvm_create_vcpu, kvm_flush_remote_tlbs, prefault_spte

ALL_HOLD = {"sc": HOLDS, "tso": HOLDS, "pso": HOLDS}
I1_ALL = {"sc": frozenset({I1}), "tso": frozenset({I1}), "pso": frozenset({I1})}
I1_I2 = frozenset({I1, I2})
I5_ALL = {"sc": frozenset({I5}), "tso": frozenset({I5}), "pso": frozenset({I5})}


def one_vcpu_two_harvests(sw: Switches, name: str, writes: int = 2, rounds: int = 2, check_i2: bool = True) -> Program:
    """vcpu0 writes gfn 0 ``writes`` times (values 1, 2, ...); gfn 0 starts unmapped, so the
    first write takes the slow path and later ones the TLB, the spte or the fast path.  The
    ``migrate`` thread runs ``rounds`` get_dirty_log calls, checks I2 after each (unless
    ``check_i2=False``) and copies what they report."""
    p = Program(f"{name}[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=1)
    vcpu = kvm_create_vcpu(kvm)

    def vcpu0() -> None:
        for k in range(writes):
            guest_write(vcpu, 0, k + 1)

    p.thread(vcpu0, name=vcpu.name)
    p.thread(migration_thread(kvm, rounds, check_i2=check_i2), name="migrate")
    require_no_dirty_page_lost(kvm)
    return p


BASELINE = Scenario(
    name="baseline-locked",
    question="Does 3.11, with every write-protection under mmu_lock, report every page a vCPU "
             "dirties while get_dirty_log runs (I1)?",
    races=(),
    size=(
        "PTE_LIST_EXT=3. One vCPU writing one gfn twice against two get_dirty_log rounds; one slot of one"
        " page."
    ),
    base={},
    build_fn=lambda sw: one_vcpu_two_harvests(sw, "baseline-locked"),
    expected=(
        expect({}, ALL_HOLD)
        # LKMM (review --full)
        + expect({}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)

#: the series' rmap machinery (irrelevant with one spte per gfn, set for faithfulness)
SERIES_RMAP = {"pte_list": "head", "desc_cache": "typesafe_by_rcu", "nulls": "on", "desc_init": "careful",
               "pte_list_ext": 3}

MARK_ORDER = Scenario(
    name="mark-order",
    question="Once get_dirty_log write-protects without mmu_lock, must the slow path mark the page "
             "dirty only after the spte is writable and on its rmap, with smp_wmb() (series patch 6)?",
    races=("R6",),
    size=ext_unchanged("one spte") + (
        "One vCPU, one gfn"
        " written twice, two harvests."
    ),
    base={"write_protect": "lockless", **SERIES_RMAP},
    build_fn=lambda sw: one_vcpu_two_harvests(sw, "mark-order"),
    expected=(
        expect({"mark_order": "mark_first"}, {"sc": I1_I2, "tso": I1_I2, "pso": I1_I2})
        + expect({"mark_order": "after_rmap", "wmb_before_mark": "on"}, ALL_HOLD)
        + expect({"mark_order": "after_rmap", "wmb_before_mark": "off"},
                 {"sc": HOLDS, "tso": HOLDS, "pso": I1_I2})
        + expect({"mark_order": "mark_first", "write_protect": "locked"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"mark_order": "mark_first"}, {"lkmm": frozenset({I1, I2})})
        + expect({"mark_order": "after_rmap", "wmb_before_mark": "on"}, {"lkmm": HOLDS})
        + expect({"mark_order": "after_rmap", "wmb_before_mark": "off"}, {"lkmm": frozenset({I1, I2})})
        + expect({"mark_order": "mark_first", "write_protect": "locked"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)


def desc_reuse(sw: Switches, name: str = "desc-reuse", check_i5: bool = False, guest: bool = True) -> Program:
    """R9.  Two direct roots (roles A and B) both map gfn 0: spte a (root A) and b (root B), both
    writable, gfn 0 dirty; gfn 0's rmap is the chain [b] -> [a] (PTE_LIST_EXT = 1, the series'
    head pte-list).  gfn 1 is mapped read-only (dirty-log protected) by spte c in root A.

    * ``migrate`` harvests once (lockless write-protect) and copies;
    * ``vcpu1`` (root B), under mmu_lock, zaps b (``drop_spte`` as ``mmu_page_zap_pte`` does, and
      the flush) -- freeing the head desc -- then faults gfn 1 in through root B: gfn 1's rmap
      becomes a chain, and its first new desc is the one just freed (LIFO, type-stable slab);
    * ``vcpu0`` (root A) writes gfn 0 once.

    A walker standing on the freed desc follows its new ``more`` into gfn 1's chain; without a
    nulls marker it ends there, never visits a, and a stays writable: vcpu0's write after the
    harvest is reported by no one.  ``check_i5`` declares a as present throughout the walk (I5);
    ``guest=False`` leaves vcpu0's write out (I5 sees the miss without it)."""
    p = Program(f"{name}[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=2, desc_capacity=3, sp_capacity=2)
    vcpu0 = kvm_create_vcpu(kvm, role="A")
    vcpu1 = kvm_create_vcpu(kvm, role="B")
    a = prefault_spte(kvm, 0, writable=True, role="A")
    if check_i5:  # a stays on gfn 0's rmap throughout (only b is removed)
        kvm.i5_present = {int(gfn_to_rmap(kvm, 0, 1)): {a}}
    b = prefault_spte(kvm, 0, writable=True, role="B")
    prefault_spte(kvm, 1, writable=False, role="A")

    def guest0() -> None:
        guest_write(vcpu0, 0, 1)

    def zap_and_fault() -> None:
        spin_lock(kvm.mmu_lock)
        drop_spte(kvm, b)
        kvm_flush_remote_tlbs(kvm)
        __direct_map(vcpu1, 1, True)
        kvm_mmu_unlock(kvm)

    if guest:
        p.thread(guest0, name=vcpu0.name)
    p.thread(zap_and_fault, name=vcpu1.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    return p


DESC_REUSE = Scenario(
    name="desc-reuse",
    question="Without a nulls marker ending each desc chain, can the lockless walker be carried into "
             "another rmap's chain by a freed and reused desc, and miss a writable spte (series patch 8)?",
    races=("R9",),
    size=(
        "PTE_LIST_EXT=1: the race needs a desc of gfn 0's chain freed and reused in another chain while a"
        " desc behind it stays. At the kernel's 3 that takes four sptes of gfn 0 (four roots) and two of "
        "gfn 1, far past the time goal; with this scenario's sptes at 3 no such desc exists (measured: "
        "nulls=off holds there, 6,866 executions), so the row would not ask the question."
    ),
    base={"write_protect": "lockless", "mark_order": "after_rmap", "pte_list": "head",
          "desc_cache": "typesafe_by_rcu", "desc_init": "careful", "pte_list_ext": 1, "publish": "wmb"},
    # I5 (a stays on gfn 0's rmap throughout the walk) fires where the walk misses it; vcpu0's
    # write after the walk makes the same miss a lost page (I1) where I5 did not stop the run
    build_fn=lambda sw: desc_reuse(sw, check_i5=True, guest=True),
    expected=(
        expect({"nulls": "off"}, I5_ALL) + expect({"nulls": "on"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"nulls": "off"}, {"lkmm": frozenset({I5})})
        + expect({"nulls": "on"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)

DESC_INIT = Scenario(
    name="desc-init",
    question="With descs from a type-safe-by-RCU cache, must a reused pte_list_desc get its "
             "pointers' final values without passing through zero (no kmem_cache_zalloc), so that "
             "a lockless walker still standing on it never reads a transient NULL `more` "
             "(series patch 10)?",
    races=(),
    size=(
        "PTE_LIST_EXT=1, for the reason given under desc-reuse (the same program): at 3 no desc is reused"
        " behind a walker, and desc_init=3.11 holds (6,866 executions)."
    ),
    base={"write_protect": "lockless", "mark_order": "after_rmap", "pte_list": "head",
          "desc_cache": "typesafe_by_rcu", "nulls": "on", "pte_list_ext": 1, "publish": "wmb"},
    # I5 sees the missed spte directly; vcpu0's write makes I1 claimable (a miss would lose it)
    build_fn=lambda sw: desc_reuse(sw, "desc-init", check_i5=True, guest=True),
    expected=(
        expect({"desc_init": "3.11"}, I5_ALL) + expect({"desc_init": "careful"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"desc_init": "3.11"}, {"lkmm": frozenset({I5})})
        + expect({"desc_init": "careful"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)

SCENARIOS = (BASELINE, MARK_ORDER, DESC_REUSE, DESC_INIT)

__all__ = ["BASELINE", "DESC_INIT", "DESC_REUSE", "MARK_ORDER", "SCENARIOS", "desc_reuse", "one_vcpu_two_harvests"]
