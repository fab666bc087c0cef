"""The design switches of the KVM shadow-MMU model.

Each design choice debated around the 2013 "locklessly write-protect" series (and the 3.11 code it
started from) is a named switch, so that one scenario can run the 3.11 behaviour, the series'
proposal and the broken alternatives side by side (``kvm-reference.md`` §3.10).

The switches live in one table, :data:`SWITCHES`: name -> allowed values -> default -> one-line
doc.  To add a switch, add a row to the table *and* an annotated attribute of the same name
to :class:`Switches` (the module checks at import time that both agree).

Values are strings (the kernel version or proposal they stand for), except the sizes
``pte_list_ext`` and ``spt_entries``, which are ints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Switch:
    """One row of the switch table."""

    name: str
    #: the allowed values (strings), or ``None`` for an int checked by ``check``
    values: tuple[str, ...] | None
    default: Any
    doc: str
    #: for int switches: a predicate on the value and a phrase describing what is allowed
    check: Callable[[int], bool] | None = None
    allowed: str = ""

    def validate(self, value: Any) -> Any:
        if self.values is not None:
            if value not in self.values:
                raise ValueError(f"switch {self.name}: {value!r} is not one of {', '.join(self.values)}")
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"switch {self.name}: {value!r} is not an int ({self.allowed})")
        if self.check is not None and not self.check(value):
            raise ValueError(f"switch {self.name}: {value} is not allowed ({self.allowed})")
        return value


def _power_of_two(n: int) -> bool:
    return 1 <= n <= 512 and n & (n - 1) == 0


_TABLE: list[Switch] = [
    Switch("pte_list", ("3.11", "head", "6.15"), "3.11",
           "pte-list algorithm: 3.11 (add to the first desc with a free last slot / append at the tail, "
           "remove refills from the same desc) or the series' head variant (add at the head desc, new "
           "desc becomes the head, remove refills from the head's last entry; §3.5), or 6.15's "
           "(the 2023 tail_count descs: spte_count and tail_count per desc, every tail desc full, "
           "with the head word of struct kvm_rmap_head an atomic_long_t carrying KVM_RMAP_MANY and "
           "KVM_RMAP_LOCKED; §4.1, §4.2; kvm.pte_list_615, needs pte_list_ext >= 2)"),
    Switch("add_position", ("pte_list", "tail", "head"), "pte_list",
           "where pte_list_add puts an entry into a chain (the ADD_POSITION of §3.10, separate from the "
           "removal's refill): pte_list (as the pte_list switch says: 3.11 tail, head head), tail (3.11: "
           "the first desc whose last slot is free, else a new desc appended at the tail) or head (the "
           "series' patch 7: the head desc, else a new desc that becomes the head).  Only for pte_list "
           "3.11 and head; implemented (kvm.pte_list; scenario add-position: a desc freed under a walker "
           "and reused at the tail, behind the walker's own nulls marker, hides the rest of the chain)"),
    Switch("desc_cache", ("plain", "typesafe_by_rcu"), "plain",
           "pte_list_desc kmem cache: 3.11 plain cache (freed descs are gone) or SLAB_DESTROY_BY_RCU "
           "(type-stable, for the lockless walker; §3.7)"),
    Switch("nulls", ("off", "on"), "off",
           "end of a desc chain: NULL (3.11) or a nulls marker naming the rmap head, checked by the "
           "lockless walker, which restarts on a foreign marker (§3.6)"),
    Switch("desc_init", ("3.11", "careful"), "3.11",
           "new desc initialisation: 3.11 (kmem_cache_zalloc'ed, so a reused desc is transiently zero, "
           "and an appended desc is linked before its slot is filled) or careful (every field written "
           "once with its final value, and the desc is filled before it is linked; series patch 10).  "
           "Both implemented (kvm.pte_list; scenario desc-init: with a type-safe desc cache a walker "
           "still standing on a reused desc reads the transient NULL more and stops early, I5)"),
    Switch("publish", ("none", "wmb", "rcu_assign_pointer"), "none",
           "ordering of the stores that publish to a lockless walker: none (3.11), smp_wmb() before "
           "every store that links a desc and before clearing the slot a moved entry came from, or "
           "rcu_assign_pointer() (release) for the linking stores and smp_wmb() before the clear"),
    Switch("rmap_access", ("marked", "plain"), "marked",
           "accesses to rmap heads and descs by lock holders: READ_ONCE/WRITE_ONCE, or plain C "
           "accesses as in 3.11 (the data-race check can tell them apart)"),
    Switch("lockless_deref", ("once", "rcu_dereference", "desc_pointers"), "once",
           "loads of the lockless walker: READ_ONCE as the series posted it, rcu_dereference() as "
           "Gleb asked in the review (seed mail), or rcu_dereference() only for the desc pointers "
           "(the head word and `more`) with READ_ONCE for the sptep slots, the minimum if only "
           "pointers to descs needed dependency ordering (seed question 1)"),
    Switch("walk_rmb", ("off", "on"), "off",
           "smp_rmb() after each slot load of the lockless walker, so that the next slot and `more` "
           "are read after it: the read side of the smp_wmb() between storing a moved entry and "
           "clearing its old slot (not in the series; x86 keeps loads in order, LKMM does not: R7 "
           "under lkmm)"),
    Switch("walk_order", ("bottom_up", "ascending"), "bottom_up",
           "slot order of the lockless walker inside a desc: from the highest slot down (series) or "
           "from slot 0 up (the 3.11 iterator's order); §3.9, R7"),
    Switch("spt_cache", ("plain", "typesafe_by_rcu"), "plain",
           "memory of shadow page tables (sp->spt) only: freed at once like 3.11's free_page(), or from a "
           "SLAB_DESTROY_BY_RCU cache (Gleb's proposal, seed mail; §3.7 v2).  It says what memory the "
           "tables are, not when zapped pages are freed (that is sp_free); the shadow-page headers "
           "(page_header(), sp->role.level) stay in a plain cache, so a walker reading a freed "
           "header is still a use-after-free.  sp_free=typesafe_slab is the whole of Gleb's proposal "
           "(headers and tables type-stable) and implies this switch's typesafe_by_rcu whatever it is "
           "set to; this switch alone exists to separate the two halves and no scenario varies it"),
    Switch("write_protect", ("locked", "lockless"), "locked",
           "dirty-log write-protection in kvm_vm_ioctl_get_dirty_log: under mmu_lock through the locked "
           "rmap iterator (3.11), or the series' lockless form (RCU read side, pte_list_walk_lockless, "
           "cmpxchg W-clear of leaf sptes only; §3.8-3.9).  Both implemented (kvm.dirty_log); "
           "kvm_mmu_slot_remove_write_access is always locked"),
    Switch("mark_order", ("mark_first", "after_rmap"), "mark_first",
           "slow-path order of mark_page_dirty: before the spte is made writable and added to the rmap "
           "(3.11 set_spte), or after rmap_add (series patch 6, 'update spte and add it into rmap "
           "before dirty log'; §3.4, R6).  Both implemented (kvm.vcpu)"),
    Switch("wmb_before_mark", ("on", "off"), "on",
           "with mark_order=after_rmap: smp_wmb() between rmap_add and mark_page_dirty (series), or no "
           "barrier (broken only under PSO and weaker).  No effect with mark_first.  Implemented"),
    Switch("sp_free", ("immediate", "call_rcu", "typesafe_slab"), "immediate",
           "freeing of zapped shadow pages in kvm_mmu_commit_zap_page: at once after the flush IPI "
           "(3.11), through call_rcu (series v1, rcu_free_shadow_page), or sp->spt from a "
           "SLAB_DESTROY_BY_RCU caches for both headers and tables (series v2, Gleb's proposal; "
           "implies spt_cache=typesafe_by_rcu: spt_cache types only the tables, sp_free decides the "
           "timing and, with typesafe_slab, the headers too).  All three implemented (kvm.zap; "
           "scenarios sp-free, spt-reuse)"),
    Switch("leaf_check", ("by_level", "by_level_reread", "by_value"), "by_level",
           "leaf test of the lockless write-protector: is_last_spte(spte, sp->role.level) with the level "
           "read from the shadow page header before the spte (3.11 predicate, v1's walker passes the "
           "rmap's level), by_level_reread (the spte first, smp_rmb(), then page_header(sptep) and "
           "sp->role.level read again: the level of the table as it is after the spte load), or from "
           "the value alone with the level encoded in every spte (series v2 'check last spte with "
           "unawareness of mapping level'; §3.8, R10).  All three implemented in the lockless "
           "write-protect (scenario spt-reuse)"),
    Switch("spt_init", ("plain", "once"), "plain",
           "init_shadow_page_table's zeroing of a newly allocated (possibly reused) table: plain C "
           "stores (3.11 'sp->spt[i] = 0ull'; with a type-stable spt cache a lockless walker may "
           "READ_ONCE the same words: a data race) or WRITE_ONCE, as __set_spte stores an spte "
           "(what a table from a SLAB_DESTROY_BY_RCU cache needs, since readers may still read it).  "
           "Both implemented (kvm.mmu_page)"),
    Switch("walk_begin_mb", ("on", "off"), "on",
           "the smp_mb() of walk_shadow_page_lockless_begin between vcpu->mode = "
           "READING_SHADOW_PAGE_TABLES and the walk's loads (3.11: on; off is the broken alternative: "
           "kvm_flush_remote_tlbs can read the old mode and free a table the walk then reads, under "
           "TSO already).  Both implemented (kvm.vcpu; scenario walk-begin-mb)"),
    Switch("zap_flush", ("before_free", "none"), "before_free",
           "kvm_mmu_commit_zap_page: kvm_flush_remote_tlbs before freeing the zapped pages (3.11; the "
           "flush waits for vCPUs in a lockless walk with interrupts off) or no flush (broken: a vCPU's "
           "fast_page_fault walk reads the freed table, I4).  Both implemented (kvm.zap; scenario "
           "zap-flush)"),
    Switch("drop_order", ("clear_first", "remove_first"), "clear_first",
           "drop_spte: clear the spte (mmu_spte_clear_track_bits), then remove it from its rmap (3.11), "
           "or remove first (broken with the lockless write-protect: the walker no longer finds an spte "
           "that is still present and writable, and a write through it after the harvest is lost, I1).  "
           "Both implemented (kvm.spte_ops; scenario drop-order)"),
    Switch("flush_rule", ("writable", "mmu_writable"), "writable",
           "mmu_spte_update's TLB-flush decision: old spte hardware-writable and new not (3.11), or old "
           "spte MMU-writable (locklessly modifiable) and new not writable (series patch 4, merged; "
           "§3.3.2, R3).  Both implemented (kvm.spte_ops)"),
    Switch("volatile_bits", ("mmu_writable", "ad_only"), "mmu_writable",
           "spte_has_volatile_bits: a locklessly modifiable spte (host- and MMU-writable) counts as "
           "volatile, so mmu_spte_update and mmu_spte_clear_track_bits overwrite it with xchg (3.11, "
           "since fast_page_fault exists), or only the A/D bits the CPU may set count (before the fast "
           "path; broken with it: the plain store loses a D bit the fast path and the CPU set "
           "meanwhile, R2, Documentation/virtual/kvm/locking.txt).  Both implemented (kvm.spte_ops; "
           "scenario clear-track-bits)"),
    Switch("flush_location", ("under_lock", "after_unlock_serialized", "after_unlock_unserialized"),
           "under_lock",
           "where get_dirty_log and kvm_mmu_slot_remove_write_access flush remote TLBs: under mmu_lock "
           "(3.11), after dropping it with slots_lock held (198c74f43f0f), or after dropping it without "
           "slots_lock (broken, R8).  All three implemented (kvm.dirty_log: both take slots_lock unless "
           "unserialized; after the unlock kvm_mmu_slot_remove_write_access flushes only if an spte "
           "asked for it, as in 198c74f43f0f; scenarios flush-outside-lock, flush-slots-lock)"),
    Switch("large_wp", ("zap", "readonly"), "zap",
           "write-protection of a large spte: drop it (3.11 __drop_large_spte) or clear W only "
           "('lazily drop large spte', c126d94f2c90; R4, R5), with __direct_map then dropping a large "
           "spte in the way of a 4K mapping (404381c5839d).  Both implemented (spte_write_protect, "
           "__direct_map; scenario large-spte)"),
    Switch("fast_pf_large", ("allow", "forbid"), "allow",
           "fast_page_fault on an spte of a table above level 1: allowed (3.11, where logged slots had "
           "no large sptes; the reverted caf6900f2d8a) or refused (c126d94f2c90; R4).  Both implemented"),
    Switch("fast_pf_indirect", ("allow", "forbid"), "forbid",
           "fast_page_fault on an spte of an indirect (shadowing) page: refused (3.11: the fast path "
           "runs only on direct maps) or allowed (R1, the ABA on the gfn behind the spte).  Both "
           "implemented (kvm.vcpu; scenario fast-pf-indirect builds an indirect page, a changing "
           "guest pte and an MMU notifier)"),
    # -- 2025: the per-rmap lock and lockless aging (pte_list=6.15; kvm.rmap_lock, kvm.aging) --
    Switch("rmap_lock", ("none", "locked"), "none",
           "the per-rmap lock of 4834eaded91e: none (no KVM_RMAP_LOCKED: writers under mmu_lock change "
           "the rmap with plain head stores and the aging reader walks it with nothing held, what "
           "dropping mmu_lock from aging without the series would be) or locked (writers under "
           "mmu_lock take KVM_RMAP_LOCKED around every pte-list change, the aging reader takes it "
           "read-only around its walk; §4.2).  Both implemented (kvm.rmap_lock; pte_list=6.15 only)"),
    Switch("empty_rmap", ("skip", "lock"), "skip",
           "__kvm_rmap_lock on an empty rmap: skip (6.15: the lock is elided and 0 returned; the "
           "read-only unlock of 0 writes nothing) or lock (the bit is taken on the empty word too, 0 -> "
           "KVM_RMAP_LOCKED), James's question (Sep 2024).  Both implemented (kvm.rmap_lock)"),
    Switch("readonly_unlock", ("restore_locked_value", "write_zero", "write_reread_value"),
           "restore_locked_value",
           "kvm_rmap_unlock_readonly: restore_locked_value (6.15: if it locked a value, "
           "atomic_long_set_release of exactly that value; nothing if it locked nothing), write_zero "
           "(the value it got from the lock is written back unconditionally, so 0 for an rmap it "
           "found empty: James's 'we will unconditionally write 0 back at unlock') or "
           "write_reread_value (the head is read again and that value written back; R15).  All three "
           "implemented (kvm.rmap_lock)"),
    Switch("rmap_lock_order", ("acquire_release", "release_only", "full_cmpxchg", "relaxed"),
           "acquire_release",
           "ordering of the rmap lock: acquire_release (6.15: atomic_long_try_cmpxchg_acquire to lock, "
           "atomic_long_set_release to unlock, also the read-only unlock), release_only (a relaxed "
           "try_cmpxchg, release unlock), full_cmpxchg (a fully ordered try_cmpxchg and a plain "
           "atomic_long_set unlock: Sean's first version, 'the atomic is the barrier') or relaxed "
           "(try_cmpxchg_relaxed and atomic_long_set: no ordering beyond the atomic).  All four "
           "implemented (kvm.rmap_lock)"),
    Switch("head_reads", ("once", "reread"), "once",
           "pte-list helpers and the head word: once (9fb13ba6b5ff: every helper reads the head once, "
           "through the lock, computes the new value in a local and writes it once, through the "
           "unlock) or reread (the helpers as before 9fb13ba6b5ff, wrapped in the lock: each use of "
           "rmap_head->val is a read of the head (LOCKED masked off) and each assignment a store, "
           "which drops the LOCKED bit in the middle of the change, and the unlock writes back the "
           "head read again; reconstruction, I12).  Both implemented (kvm.pte_list_615)"),
    Switch("walk_start", ("reread_head", "locked_value"), "reread_head",
           "where for_each_rmap_spte_lockless starts: reread_head (v9 of the series as posted: "
           "rmap_get_first reads the head again through kvm_rmap_get, also after "
           "kvm_rmap_lock_readonly found the rmap empty and took no lock) or locked_value (from the "
           "value kvm_rmap_lock_readonly returned; an rmap found empty is not walked).  Both "
           "implemented (kvm.aging)"),
    Switch("age_clear", ("clear_bit", "cmpxchg", "store"), "clear_bit",
           "how kvm_rmap_age_gfn_range clears Accessed without mmu_lock: clear_bit of the A bit (sptes "
           "with A/D bits), cmpxchg64 to the access-tracked value, ignoring a failure (the A/D-disabled "
           "path; on the model's A/D sptes the access-tracked value is the spte without A, as "
           "mark_spte_for_access_track gives it), or store (WRITE_ONCE of the value read without A: "
           "the broken alternative, which may overwrite a D bit the CPU set meanwhile; I10).  All "
           "three implemented (kvm.aging)"),
    Switch("pte_list_ext", None, 3,
           "PTE_LIST_EXT: slots per pte_list_desc (3 in 3.11; small values force chains)",
           check=lambda n: 1 <= n <= 16, allowed="1 <= n <= 16"),
    Switch("spt_entries", None, 4,
           "entries per shadow page table (512 in the kernel); also the model's gfns per large page "
           "step: a level-L table entry covers spt_entries**(L-1) gfns",
           check=_power_of_two, allowed="a power of two, 1 <= n <= 512"),
]

#: name -> switch
SWITCHES: dict[str, Switch] = {s.name: s for s in _TABLE}


@dataclass(frozen=True, init=False)
class Switches:
    """The values of every design switch (validated; immutable).

    ``Switches(pte_list="head", nulls="on")``; ``Switches.from_dict({...})``;
    ``sw.replace(desc_cache="typesafe_by_rcu")``.  An unknown switch or value raises
    ``ValueError`` naming the valid ones.  Unset switches take their defaults.
    """

    pte_list: str
    add_position: str
    desc_cache: str
    nulls: str
    desc_init: str
    publish: str
    rmap_access: str
    lockless_deref: str
    walk_rmb: str
    walk_order: str
    spt_cache: str
    write_protect: str
    mark_order: str
    wmb_before_mark: str
    sp_free: str
    leaf_check: str
    spt_init: str
    walk_begin_mb: str
    zap_flush: str
    drop_order: str
    flush_rule: str
    volatile_bits: str
    flush_location: str
    large_wp: str
    fast_pf_large: str
    fast_pf_indirect: str
    rmap_lock: str
    empty_rmap: str
    readonly_unlock: str
    rmap_lock_order: str
    head_reads: str
    walk_start: str
    age_clear: str
    pte_list_ext: int
    spt_entries: int

    def __init__(self, **kw: Any) -> None:
        unknown = sorted(set(kw) - set(SWITCHES))
        if unknown:
            raise ValueError(f"unknown switch {', '.join(unknown)}; valid switches: {', '.join(SWITCHES)}")
        for name, sw in SWITCHES.items():
            object.__setattr__(self, name, sw.validate(kw.get(name, sw.default)))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None, **kw: Any) -> Switches:
        """Switches from a mapping (and keywords); unknown names raise ``ValueError``."""
        return cls(**dict(values or {}, **kw))

    def replace(self, **kw: Any) -> Switches:
        """A copy with some switches changed."""
        return Switches.from_dict(self.as_dict(), **kw)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SWITCHES}

    def describe(self) -> str:
        """``name=value`` for every switch that differs from its default."""
        diff = [f"{n}={v}" for n, v in self.as_dict().items() if v != SWITCHES[n].default]
        return " ".join(diff) or "defaults"


def _check_table() -> None:
    names = [f.name for f in dataclasses.fields(Switches)]
    if names != list(SWITCHES):
        raise AssertionError(f"Switches fields {names} and the SWITCHES table {list(SWITCHES)} disagree")


_check_table()


def switch_table() -> str:
    """The switch table as text: name, allowed values, default, doc (for ``--help`` and docs)."""
    lines = []
    for sw in SWITCHES.values():
        allowed = " | ".join(sw.values) if sw.values is not None else sw.allowed
        lines.append(f"{sw.name} = {allowed} (default {sw.default}): {sw.doc}")
    return "\n".join(lines)

__all__ = ["SWITCHES", "Switch", "Switches", "switch_table"]
