"""The seed mail's first question, asked of whole programs under the kernel's memory model.

Gleb asked of "[PATCH 09/12] introduce pte-list lockless walker" whether the walker should load
with ``rcu_dereference()`` and its writers publish with ``rcu_assign_pointer()``, or whether the
writers' ``smp_wmb()`` with the walker's plain ``READ_ONCE`` guarantee the order.  On x86 (TSO)
every load is ordered after earlier loads, and so under SC, TSO and PSO these switches cannot
matter on the reading side; the portable answer is LKMM's: ``lkmm`` (READ_ONCE heads an address
dependency, as since Linux 4.15) and ``lkmm-alpha`` (only ``rcu_dereference`` and acquire loads
do, the kernel of 2013).

``rcu-accessors``: a vCPU faults a second spte onto gfn 0's rmap while the migration thread's
lockless write-protect walks it.  The rmap held one spte ``a``, so the add builds a desc (both
sptes in its slots, ``PTE_LIST_EXT=3`` as in the kernel) and links it from the head word: the
walker that loads the new head must see the desc's slots, or it misses ``a``, which stayed on the
rmap throughout (I5) and stays writable, so vCPU A's later write is reported by no harvest (I1).
LKMM's data races are reported (``data race``).
"""

from __future__ import annotations

from rmapwalk.engine import Program
from rmapwalk.kernel.races import report_data_races
from rmapwalk.kvm.invariants import I5, migration_thread, require_no_dirty_page_lost
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.rmap import gfn_to_rmap
from rmapwalk.kvm.scenarios import HOLDS, Expect, Scenario, expect, ext_unchanged
from rmapwalk.kvm.scenarios.zapping import sp_free
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import guest_write, kvm_create_vcpu, prefault_spte

#: the models of the seed questions: x86 and the weaker hardware models, then the kernel's
MODELS = ("sc", "tso", "pso", "lkmm", "lkmm-alpha")
RACE = "data race"
X86_PSO = MODELS[:3]
LKMMS = MODELS[3:]

#: the series' rmap machinery as posted (patches 7-10), at the kernel's PTE_LIST_EXT
SERIES = {"write_protect": "lockless", "mark_order": "after_rmap", "pte_list": "head", "walk_order": "bottom_up",
          "desc_cache": "typesafe_by_rcu", "nulls": "on", "desc_init": "careful", "pte_list_ext": 3,
          "rmap_access": "marked"}


def rcu_accessors(sw: Switches) -> Program:
    """gfn 0 is mapped writable (dirty) by spte ``a`` in root A, alone on its rmap.  ``vcpu1``
    (root B) writes gfn 0 twice: the first write faults (the slow path's ``rmap_add`` turns the
    head into a desc holding ``a`` and the new spte ``b``), the second goes through ``b``;
    ``migrate`` harvests once (lockless write-protect) and copies.  A walk that misses ``a``
    breaks I5 (``a`` would stay writable); one that reads ``b`` stale (not yet present) leaves
    it writable, and vcpu1's second write is then reported by no harvest (I1)."""
    p = Program(f"rcu-accessors[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=1, desc_capacity=1, sp_capacity=2)
    kvm_create_vcpu(kvm, role="A")
    vcpu1 = kvm_create_vcpu(kvm, role="B")
    a = prefault_spte(kvm, 0, writable=True, role="A")
    kvm.i5_present = {int(gfn_to_rmap(kvm, 0, 1)): {a}}

    def vcpu1_writes() -> None:
        guest_write(vcpu1, 0, 1)  # a write fault: the slow path adds vcpu1's spte to the rmap
        guest_write(vcpu1, 0, 2)  # through that spte, unless a harvest write-protected it

    p.thread(vcpu1_writes, name=vcpu1.name)
    p.thread(migration_thread(kvm, 1), name="migrate")
    require_no_dirty_page_lost(kvm)
    report_data_races(p)
    return p


def _rows(settings: dict[str, str], violated: dict[str, frozenset[str]],
          models: tuple[str, ...] = MODELS) -> tuple[Expect, ...]:
    return expect(settings, {m: violated.get(m, HOLDS) for m in models})


MISSED = frozenset({I5})
#: the models rcu-accessors' rows are pinned under: all, LKMM's two included
ACCESSOR_MODELS = MODELS
RACY = frozenset({RACE})

RCU_ACCESSORS = Scenario(
    name="rcu-accessors",
    question="Seed question 1 (Gleb on patch 09/12): must the lockless walker load with "
             "rcu_dereference() and its writers publish with rcu_assign_pointer(), or do the "
             "writers' smp_wmb() and the walker's READ_ONCE() guarantee the order?  On x86, and "
             "portably (LKMM; LKMM-alpha: the kernel before READ_ONCE() ordered dependent loads)?",
    races=(),
    size=(
        "PTE_LIST_EXT=3 as in the kernel. One gfn with two sptes (two roots), one harvest, tables of 2 "
        "entries instead of 512; one guest writer."
    ),
    base=SERIES,
    build_fn=rcu_accessors,
    expected=(
        _rows({"publish": "none"}, {"pso": MISSED, "lkmm": MISSED, "lkmm-alpha": MISSED}, ACCESSOR_MODELS)
        + _rows({"publish": "wmb"}, {"lkmm-alpha": MISSED}, ACCESSOR_MODELS)
        + _rows({"publish": "rcu_assign_pointer"}, {"lkmm-alpha": MISSED}, ACCESSOR_MODELS)
        + _rows({"publish": "wmb", "lockless_deref": "desc_pointers"}, {}, ACCESSOR_MODELS)
        + _rows({"publish": "rcu_assign_pointer", "lockless_deref": "rcu_dereference"}, {}, ACCESSOR_MODELS)
        + _rows({"publish": "wmb", "rmap_access": "plain"},
                {m: RACY | (MISSED if m.startswith("lkmm") else frozenset()) for m in MODELS}, ACCESSOR_MODELS)
    ),
)

def sp_rcu(sw: Switches) -> Program:
    """``sp-free`` with a refault (:func:`~rmapwalk.kvm.scenarios.zapping.sp_free`): ``vcpu0``,
    under mmu_lock, zaps P (freed as ``sp_free`` says) and write-faults gfn 0 back in, while
    ``migrate``'s lockless write-protect walks gfn 0's rmap inside ``rcu_read_lock``: it loads
    the sptep, the spte and, for the leaf check, ``page_private`` of the table's page and that
    shadow page's ``role.level``.  Data races are reported."""
    return sp_free(sw, refault=True, races=True, name="sp-rcu")


UAF = "use-after-free"
NULL = "NULL pointer dereference"

SP_RCU = Scenario(
    name="sp-rcu",
    question="Seed question 2 (Gleb): does freeing shadow pages with call_rcu() mean that they are "
             "protected by RCU, and what exactly is: the table the walker's sptep points into, the "
             "page_private() and sp->role.level it reads plainly for the leaf check, and their "
             "initialisation when a new table is published on the rmap?",
    races=("R10",),
    size=ext_unchanged("two sptes") + (
        "Tables of 2 "
        "entries, two levels, one zap and refault, one harvest."
    ),
    base={**SERIES, "spt_entries": 2, "spt_init": "once", "publish": "wmb"},
    build_fn=sp_rcu,
    # LKMM counts the walker's plain header reads as ordered by nothing: racing with the page's
    # reuse, and not before the callback's free (use-after-free by LKMM's rules)
    expected=(
        _rows({"sp_free": "immediate"}, {m: frozenset({UAF, RACE}) for m in MODELS})
        + _rows({"sp_free": "call_rcu"}, {m: frozenset({UAF, RACE}) for m in LKMMS})
        + _rows({"sp_free": "typesafe_slab"}, {m: RACY for m in MODELS})
        + _rows({"sp_free": "call_rcu", "publish": "none"},
                {m: frozenset({UAF, NULL, RACE}) for m in ("pso", *LKMMS)})
    ),
)

SCENARIOS = (RCU_ACCESSORS, SP_RCU)

#: the seed mail's questions, first in the review: these two, then Gleb's type-stable sp->spt
#: and Xiao's answer that the level must then be in the spte (scenarios of ``zapping``)
SEED_QUESTIONS = ("rcu-accessors", "sp-rcu", "spt-reuse", "spt-reuse-aba")

__all__ = ["MODELS", "RCU_ACCESSORS", "SCENARIOS", "SEED_QUESTIONS", "SP_RCU", "rcu_accessors", "sp_rcu"]
