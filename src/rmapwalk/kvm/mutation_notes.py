"""Why a mutant of the KVM model survives (``rmapwalk mutate kvm``, the review's mutation table).

A mutant survives when every scenario run that holds unmutated and reaches the site still holds
with the site weakened.  That says the scenarios do not need the site; it does not say the
kernel does not.  Each surviving mutant of the model is explained here: either the site is needed
for something outside the modelled scope (a scenario that does not exist, a memory model under
which the KVM scenarios do not hold yet), or it is redundant in the model.  A test checks that
every survivor of the review's mutation run has an explanation.

Notes are keyed by (file under ``rmapwalk/``, function, primitive or check name, weakening), so
that they follow the code when lines move; :data:`GENERAL` gives the reason shared by every
site of one weakening (an RMW's full ordering, which PSO cannot tell from a relaxed RMW's).
"""

from __future__ import annotations

import os

from rmapwalk.engine import mutation as mut
from rmapwalk.engine.mutation import Site

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

#: what separates a fully ordered RMW from a relaxed one, where no holding run needs it
_RELAXED = (
    "Under PSO a relaxed RMW still acts on memory: its read bypasses the store buffer and its write is "
    "ordered before everything after it. What the full ordering adds (earlier stores visible before the "
    "RMW, later loads not hoisted above its read) shows only under LKMM, and the LKMM runs that hold and "
    "reach this RMW get the order they rely on from elsewhere (the lock around it, a later barrier or "
    "release). Needed for orderings the scenarios do not exercise")

#: a marked access (READ_ONCE/WRITE_ONCE) made plain
_PLAIN = (
    "The model's plain accesses are single-copy atomic and never torn, fused, repeated or invented: "
    "what READ_ONCE()/WRITE_ONCE() forbid the compiler is not simulated, so a plain access differs "
    "from a marked one only to LKMM's data-race check, and the holding runs that reach this access "
    "with races reported see no concurrent conflicting access there (the lock holders' accesses are "
    "serialized by mmu_lock; rcu-accessors' rmap_access=plain row shows the race where the walker "
    "meets them). Needed against the compiler, outside the modelled scope")

#: an rcu_dereference() made READ_ONCE()
_DEREF = (
    "Since Linux 4.15 READ_ONCE() orders the loads that depend on it as rcu_dereference() does, so "
    "under LKMM the two are equivalent; LKMM-alpha (before 4.15), where they differ, is not among the "
    "mutation table's models: the rcu-accessors rows show the difference (the series' READ_ONCE() "
    "walker loses an entry under LKMM-alpha). Needed on the 2013 kernel")

#: weakening -> the note of every surviving site of that weakening without a note of its own
GENERAL: dict[str, str] = {mut.TO_RELAXED: _RELAXED, mut.TO_PLAIN: _PLAIN}

_ONLY_LOCK_TAKER = (
    "In the scenarios that reach it this thread is the only one taking mmu_lock: the harvester is the "
    "lockless one (it takes slots_lock only) and the vCPU, if any, faults only on the fast path. mmu_lock "
    "serializes this zap against other lock holders (vCPU slow-path faults, the locked write-protect, "
    "other zaps), which these scenarios do not run; where lock holders do meet (baseline-locked, "
    "large-spte, flush-*, clear-track-bits, fast-pf-indirect) removing their mmu_lock is killed. Needed "
    "outside the modelled scope")


def _over_budget(killer: str, prop: str) -> str:
    """The note of a mutant killed only where the table cannot look (an LKMM setting whose
    unmutated run is over the table's budget)."""
    return (f"Not redundant: killed under LKMM by {killer} ({prop}; the test suite runs that kill). The "
            "table does not try it there because that setting's unmutated LKMM exploration is over the "
            "table's event budget (--baseline-budget); the LKMM runs it was tried on do not need the full "
            "ordering")


#: (file under rmapwalk/, function, primitive or check, weakening) -> why it survives
NOTES: dict[tuple[str, str, str, str], str] = {
    ("kvm/vcpu.py", "kvm_flush_remote_tlbs", "set_bit", mut.NON_ATOMIC):
        "The model has one request bit (KVM_REQ_TLB_FLUSH): a non-atomic set still leaves it set when "
        "it returns (racing with the vCPU's test_and_clear_bit it can only revive a cleared one: an extra "
        "flush). The atomic set_bit protects the other bits of vcpu->requests (KVM_REQ_MMU_RELOAD, ...), "
        "which the model does not have: needed outside the modelled scope",
    ("kvm/vcpu.py", "walk_shadow_page_lockless_begin", "rcu_read_lock", mut.REMOVED):
        "The vCPU's RCU-protected lockless walk (c2a2ac2b563c, used by fast-pf-indirect only) keeps the "
        "shadow pages it reads from being freed under it. In fast-pf-indirect the MMU notifier drops an "
        "spte (kvm_unmap_rmapp) and frees no shadow page, so nothing the walk reads is freed: needed for "
        "a zap that frees pages during the walk, outside the modelled scope",
    ("kvm/vcpu.py", "fast_page_fault", "fast_page_fault: leaf test", mut.ALWAYS_PASS):
        "Redundant in the model: tdp_page_fault always asks for level 1 (logged slots map 4K pages) and "
        "walk_shadow stops at the first leaf, so a present spte the walk returns is always a leaf. In the "
        "kernel it guards faults at a larger mapping level, where the lockless walk can end on a non-leaf "
        "entry (the series' 'properly check last spte in fast_page_fault()'): outside the modelled scope",
    ("kvm/scenarios/indirect.py", "fname_page_fault", "smp_rmb", mut.REMOVED):
        "Orders the read of mmu_notifier_seq before gfn_to_pfn's read of the host pte (load->load). SC, "
        "TSO and PSO never reorder two loads, and fast-pf-indirect does not hold unmutated under the models "
        "that do (weak: I1; LKMM), so no run here can need it: needed beyond the modelled memory models",
    # the walker's rcu_dereference() of the rmap head, the descs' slots and their more links
    ("kvm/pte_list.py", "pte_list_walk_lockless", "rcu_dereference", mut.TO_ONCE): _DEREF,
    ("kvm/scenarios/lost_dirty.py", "zap_and_fault", "spin_lock", mut.REMOVED): _ONLY_LOCK_TAKER,
    ("kvm/scenarios/zapping.py", "zap", "spin_lock", mut.REMOVED): _ONLY_LOCK_TAKER,
    ("kvm/scenarios/zapping.py", "zap_and_map", "spin_lock", mut.REMOVED): _ONLY_LOCK_TAKER,
    # add-position's and zap-vcpu-walk's zap, publish-link's fault (drop-order's zap, which meets the
    # vCPU's slow path, is killed)
    ("kvm/scenarios/protections.py", "zap", "spin_lock", mut.REMOVED): _ONLY_LOCK_TAKER,
    ("kvm/scenarios/protections.py", "fault", "spin_lock", mut.REMOVED): _ONLY_LOCK_TAKER,
    # killed under LKMM where the table cannot look (tests/kvm/test_kvm_mutations.py's OVER_BUDGET)
    ("kvm/spte_ops.py", "mmu_spte_update", "xchg", mut.TO_RELAXED): _over_budget(
        "flush-outside-lock [flush_location=under_lock flush_rule=writable]", "I9 flush obligations"),
    ("kvm/vcpu.py", "fast_pf_fix_direct_spte", "cmpxchg", mut.TO_RELAXED): _over_budget(
        "flush-slots-lock [flush_location=after_unlock_serialized]", "I1 no dirty page lost"),
}


def _file(path: str) -> str:
    return path[len(_PKG):] if path.startswith(_PKG) else os.path.basename(path)


def note_key(site: Site, weakening: str) -> tuple[str, str, str, str]:
    return (_file(site.file), site.func, site.primitive, weakening)


def explain(site: Site, weakening: str) -> str | None:
    """Why the mutant ``weakening`` of ``site`` survives, or ``None`` when nothing says."""
    return NOTES.get(note_key(site, weakening)) or GENERAL.get(weakening)


__all__ = ["GENERAL", "NOTES", "explain", "note_key"]
