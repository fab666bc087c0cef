"""Presets: named groups of switch values standing for one version of the code.

* ``3.11`` -- Linux 3.11: every write-protection under ``mmu_lock``, the 3.11 pte-list and
  iterator, descs and shadow pages freed at once, flushes under the lock, large sptes zapped.
* ``series-v1`` -- "KVM: MMU: locklessly wirte-protect" as first posted (July 2013, 12 patches):
  the lockless write-protect with the head pte-list, bottom-up walker, type-stable desc cache,
  nulls, careful desc init, the slow path's new mark order with ``smp_wmb()``, shadow pages freed
  through ``call_rcu``, leaf check by level, plus the preparatory patches as posted (lazily drop
  large spte in its first form, which let ``fast_page_fault`` make a large spte writable).
* ``series-v2`` -- the series after Gleb's review (v2/v3, 15 patches): as v1, with ``sp->spt``
  from a ``SLAB_DESTROY_BY_RCU`` cache instead of ``call_rcu``, leaf-ness decided from the spte
  value ("check last spte with unawareness of mapping level"), ``rcu_dereference()`` loads and
  ``rcu_assign_pointer()`` publication.
* ``upstream-2014`` -- what was merged: only the preparatory patches on top of 3.11: lazily drop
  large spte as re-applied (c126d94f2c90: read-only large sptes, no fast path above level 1),
  flush if the spte can be locklessly modified (patch 4), flush out of mmu_lock serialized by
  slots_lock (198c74f43f0f).  The write-protect itself stays locked.
* ``upstream-6.15`` -- Linux 6.15: ``upstream-2014`` plus 2023's tail-count pte-list and the
  2025 series "KVM: x86/mmu: Age sptes locklessly" (9fb13ba6b5ff, 4834eaded91e, bb6c7749ccee,
  af3b6a9eba48): the per-rmap lock with acquire/release, empty rmaps not locked, the read-only
  unlock restoring the locked value, helpers reading the head word once, and aging without
  mmu_lock clearing Accessed with ``clear_bit``.  ``PTE_LIST_EXT`` is 2 (14 in the kernel).

Patch numbers and the split of v1/v2 follow ``kvm-reference.md`` §3.2-3.3; everything about the
unmerged patches there is a reconstruction [R].  A preset gives every switch a value; a scenario's
own ``base`` values still apply on top of it (``Scenario.switches``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rmapwalk.kvm.switches import Switches


@dataclass(frozen=True)
class Preset:
    name: str
    doc: str
    #: the switch values that differ from the switch table's defaults
    values: dict[str, Any]

    def switches(self) -> Switches:
        return Switches.from_dict(self.values)


_V311: dict[str, Any] = {
    "pte_list": "3.11",
    "desc_cache": "plain",
    "nulls": "off",
    "desc_init": "3.11",
    "publish": "none",
    "walk_order": "ascending",
    "spt_cache": "plain",
    "write_protect": "locked",
    "mark_order": "mark_first",
    "sp_free": "immediate",
    "leaf_check": "by_level",
    "flush_rule": "writable",
    "flush_location": "under_lock",
    "large_wp": "zap",
    "fast_pf_large": "allow",
    "fast_pf_indirect": "forbid",
    "rmap_access": "plain",                   # 3.11: plain C accesses under mmu_lock
    "pte_list_ext": 3,
}

#: merged preparatory patches (reference §3.3)
_PREP_MERGED: dict[str, Any] = {
    "large_wp": "readonly",                   # patch 3, c126d94f2c90
    "fast_pf_large": "forbid",                # c126d94f2c90's fix of R4
    "flush_rule": "mmu_writable",             # patch 4
    "flush_location": "after_unlock_serialized",  # patch 5, 198c74f43f0f
}

_SERIES_V1: dict[str, Any] = {
    **_V311,
    "large_wp": "readonly",                   # patch 3 as posted (caf6900f2d8a)
    "fast_pf_large": "allow",                 # ... before the revert 6b73a9606 (R4)
    "flush_rule": "mmu_writable",             # patch 4
    "flush_location": "after_unlock_serialized",  # patch 5
    "mark_order": "after_rmap",               # patch 6
    "wmb_before_mark": "on",                  # patch 6
    "pte_list": "head",                       # patch 7
    "nulls": "on",                            # patch 8
    "walk_order": "bottom_up",                # patch 9
    "desc_cache": "typesafe_by_rcu",          # patch 9
    "desc_init": "careful",                   # patch 10
    "publish": "wmb",                         # patches 7-10: smp_wmb() before linking
    "lockless_deref": "once",                 # patch 9 as posted (READ_ONCE)
    "sp_free": "call_rcu",                    # v1 patches 11-12
    "spt_cache": "plain",
    "leaf_check": "by_level",
    "write_protect": "lockless",              # patch 14
    "rmap_access": "marked",                  # the walker's writers use WRITE_ONCE (patch 9)
}

_SERIES_V2: dict[str, Any] = {
    **_SERIES_V1,
    "sp_free": "typesafe_slab",               # v2 patch 11 (Gleb's proposal)
    "spt_cache": "typesafe_by_rcu",           # same, as the spt memory switch
    "leaf_check": "by_value",                 # v2 patch 13
    "lockless_deref": "rcu_dereference",      # Gleb's review of 09/12
    "publish": "rcu_assign_pointer",
}

#: Linux 6.15: the merged 2013 preparatory patches, the 2023 tail-count pte-list and the 2025
#: per-rmap lock with lockless aging (4834eaded91e, 9fb13ba6b5ff, bb6c7749ccee, af3b6a9eba48)
_V615: dict[str, Any] = {
    **_V311,
    **_PREP_MERGED,
    "pte_list": "6.15",                       # 2023 tail_count descs (Lai Jiangshan)
    "pte_list_ext": 2,                        # PTE_LIST_EXT is 14 in 6.15; 2 forces chains in small models
    "rmap_access": "plain",                   # desc fields are plain C accesses, under the rmap lock
    "desc_init": "3.11",                      # descs come zeroed from the __GFP_ZERO top-up
    "rmap_lock": "locked",                    # 4834eaded91e
    "empty_rmap": "skip",                     # empty rmaps are never locked
    "readonly_unlock": "restore_locked_value",  # ... and their read-only unlock writes nothing
    "rmap_lock_order": "acquire_release",     # try_cmpxchg_acquire / atomic_long_set_release
    "head_reads": "once",                     # 9fb13ba6b5ff
    "walk_start": "reread_head",              # v9's rmap_get_first reads the head again (kvm_rmap_get)
    "age_clear": "clear_bit",                 # spte_ad_enabled(): clear_bit of Accessed
    "volatile_bits": "mmu_writable",
}

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("3.11", "Linux 3.11: everything under mmu_lock (the switch table's defaults, with the "
               "3.11 iterator's ascending order)", dict(_V311)),
        Preset("series-v1", "the lockless write-protect as first posted (v1, July 2013): patches 3-12 "
               "and 14 of reference §3.2, shadow pages freed with call_rcu, leaf check by level, "
               "lazily-drop-large-spte in its first (reverted) form", dict(_SERIES_V1)),
        Preset("series-v2", "the lockless write-protect after Gleb's review (v2/v3): v1 plus spt from a "
               "SLAB_DESTROY_BY_RCU cache, leaf check by value (patch 13), rcu_dereference / "
               "rcu_assign_pointer", dict(_SERIES_V2)),
        Preset("upstream-2014", "only the merged preparatory patches on top of 3.11: c126d94f2c90 "
               "(lazily drop large spte, no fast path above level 1), patch 4 (flush rule), "
               "198c74f43f0f (flush after unlock, serialized by slots_lock)",
               {**_V311, **_PREP_MERGED}),
        Preset("upstream-6.15", "Linux 6.15: upstream-2014 plus the 2023 tail-count pte-list and the 2025 "
               "per-rmap lock (KVM_RMAP_LOCKED, acquire/release, empty rmaps not locked, read-only unlock "
               "restoring the locked value, helpers reading the head once) with lockless aging "
               "(clear_bit of Accessed; the walk starts by re-reading the head, as v9 of the series does)",
               dict(_V615)),
    )
}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}") from None


def preset_switches(name: str) -> Switches:
    """The switches of preset ``name`` (``ValueError`` for an unknown one)."""
    return get_preset(name).switches()


# -- the switches documented: the question each settles and the patch behind it ---------------
#: switch -> (the review question it settles, the kernel commit or series patch; reference §)
SWITCH_NOTES: dict[str, tuple[str, str]] = {
    "pte_list": (
        "Does the pte-list have to change shape so that a lockless walker sees every entry "
        "(insert at the head, refill removals from the head's last entry)?",
        "series patch 7 'redesign the algorithm of pte_list' (not merged; the same shape went "
        "upstream in 2023 as 'track tail count'); §3.5, §4.1"),
    "desc_cache": (
        "May a freed pte_list_desc be reused while a lockless walker still reads it?",
        "series patch 9 (pte_list_desc_cache with SLAB_DESTROY_BY_RCU; not merged); §3.7"),
    "nulls": (
        "Can the walker be carried into another rmap's chain by a freed and reused desc (R9)?",
        "series patch 8 'introduce nulls desc' (not merged); §3.6"),
    "desc_init": (
        "Can a concurrent reader of a reused desc see a transient NULL `more` or stale slots?",
        "series patch 10 'initialize the pointers in pte_list_desc properly' (not merged); §3.7"),
    "publish": (
        "Which barrier must publish a new desc or a moved entry to the lockless walker?",
        "series patches 7-9 (smp_wmb) and the review's rcu_assign_pointer request (seed mail); §3.9"),
    "rmap_access": (
        "Must lock holders use marked accesses once a lockless reader exists (data races)?",
        "3.11 uses plain C accesses; the series' walker needs READ_ONCE/WRITE_ONCE pairs; §2.17, §3.9"),
    "lockless_deref": (
        "Gleb: should the walker's loads be rcu_dereference() (documentation and dependency order)?",
        "review of '[PATCH 09/12] introduce pte-list lockless walker' (seed mail); §3.8 item 1"),
    "walk_order": (
        "In which direction must the walker read a desc's slots so that a moved entry is not "
        "missed (R7)?",
        "series patch 9 (bottom-up walker; not merged) vs the 3.11 iterator's ascending order; §3.5, §3.9"),
    "spt_cache": (
        "Gleb: why not allocate sp->spt from a SLAB_DESTROY_BY_RCU cache too?",
        "series v2 patch 11 (not merged); seed mail; §3.7"),
    "write_protect": (
        "Can get_dirty_log write-protect without mmu_lock at all?",
        "series patch 14 'locklessly write-protect the page' (not merged) vs 3.11 "
        "kvm_vm_ioctl_get_dirty_log; §2.11, §3.8"),
    "mark_order": (
        "With a lockless harvester, must the slow path mark the page dirty only after the spte "
        "is writable and on its rmap (R6)?",
        "series patch 6 'update spte and add it into rmap before dirty log' (not merged); §3.4"),
    "wmb_before_mark": (
        "Is the smp_wmb() between rmap_add and mark_page_dirty needed (only under weak models)?",
        "series patch 6 (not merged); §3.4"),
    "sp_free": (
        "How must zapped shadow pages be freed while a non-vCPU lockless walker may read them?",
        "series v1 patches 11-12 (call_rcu, rcu_free_shadow_page) and v2 patch 11 (type-stable "
        "slab); not merged; §3.7"),
    "leaf_check": (
        "Gleb: with reusable tables, how does the lockless writer know an spte is a leaf (R10)?",
        "series v2 patch 13 'check last spte with unawareness of mapping level' (not merged); §3.8"),
    "flush_rule": (
        "Must mmu_spte_update flush when W was already clear but the spte was MMU-writable (R3)?",
        "series patch 4 'flush tlb if the spte can be locklessly modified' (merged); §3.3.2"),
    "volatile_bits": (
        "Since the fast path can set W without mmu_lock, must every locklessly modifiable spte be "
        "cleared and updated with xchg (R2)?",
        "3.11 spte_has_volatile_bits (fast_page_fault series, 2012); Documentation/virtual/kvm/"
        "locking.txt; §5.3 R2"),
    "flush_location": (
        "May the write-protect paths flush remote TLBs after dropping mmu_lock, and what "
        "serializes them (R8)?",
        "198c74f43f0f 'flush tlb out of mmu lock when write-protect the sptes' (merged, series "
        "patch 5); §3.3.3"),
    "large_wp": (
        "May enabling dirty logging make large sptes read-only instead of zapping them (R4, R5)?",
        "caf6900f2d8a 'lazily drop large spte' (reverted as 6b73a9606, re-applied as "
        "c126d94f2c90), 404381c5839d (drop read-only large sptes in __direct_map); §3.3.1"),
    "fast_pf_large": (
        "May fast_page_fault make a read-only large spte writable (R4)?",
        "c126d94f2c90 (forbids it; the fix of the reverted caf6900f2d8a); §3.3.1, §5.3 R4"),
    "fast_pf_indirect": (
        "Why is the fast path only for direct shadow pages (R1, ABA on the gfn)?",
        "3.11 fast_page_fault / Documentation/virtual/kvm/locking.txt; §2.15, §5.3 R1"),
    "rmap_lock": (
        "Can the shadow MMU's rmaps be walked without mmu_lock for aging, and what must then protect the "
        "rmap structure (a lock bit in the head word, not RCU)?",
        "4834eaded91e 'Add infrastructure to allow walking rmaps outside of mmu_lock' (merged, 6.15); §4.2"),
    "empty_rmap": (
        "James: what stops an rmap from being filled while a reader holds it locked, if the read-only "
        "unlock writes back 0?",
        "review of v6/v7 (Sep 2024); 6.15's __kvm_rmap_lock elides the lock of an empty rmap; §4.2, R15"),
    "readonly_unlock": (
        "What may the read-only unlock write back (R15): the locked value, 0, or the head read again?",
        "kvm_rmap_unlock_readonly (4834eaded91e; atomic_long_set_release since James's v8 fix); §4.2, R15"),
    "rmap_lock_order": (
        "James and Sean: does the rmap lock need try_cmpxchg_acquire / atomic_long_set_release on weakly "
        "ordered CPUs, or is the atomic enough because the aging reader tolerates any spte value?",
        "the v6-v8 review (Sep-Nov 2024); 6.15 uses acquire/release; §4.2"),
    "head_reads": (
        "Must every rmap helper read and write the head word exactly once, now that it carries LOCKED (I12)?",
        "9fb13ba6b5ff 'Refactor low level rmap helpers to prep for walking w/o mmu_lock' (merged, 6.15); "
        "§4.2, §5.2 I12"),
    "walk_start": (
        "After kvm_rmap_lock_readonly found an rmap empty (and took no lock), may the lockless walk read the "
        "head again and walk what a writer put there meanwhile?",
        "bb6c7749ccee / v9 11/11: for_each_rmap_spte_lockless starts with rmap_get_first, which reads the "
        "head through kvm_rmap_get; §4.2"),
    "age_clear": (
        "How may aging clear Accessed without mmu_lock without losing a Dirty bit the CPU sets meanwhile (I10)?",
        "af3b6a9eba48: clear_bit where A/D bits exist, else cmpxchg64 to the access-tracked value, failure "
        "ignored; §4.2, I10"),
    "pte_list_ext": (
        "(model size) How many slots per desc: small values force chains in small scenarios.",
        "PTE_LIST_EXT = 3 in 3.11; §1.3"),
    "spt_entries": (
        "(model size) Entries per shadow page table and gfns per large-page step.",
        "512 in the kernel; §1.2"),
}


def _readers(name: str) -> list[str]:
    """The modules of ``rmapwalk.kvm`` (not the scenarios) whose code reads switch ``name``."""
    import pathlib
    import re

    here = pathlib.Path(__file__).parent
    pat = re.compile(rf"\b(?:sw|switches)\.{name}\b")
    return sorted(f.name for f in here.glob("*.py")
                  if f.name not in ("switches.py", "presets.py") and pat.search(f.read_text(encoding="utf-8")))


def _status(name: str, doc: str) -> str:
    """What the switch table's doc says about the implementation (its sentences naming it), or
    else which model modules read the switch."""
    import re

    sentences = [x.strip() for x in re.split(r"(?<=[.)])\s{2,}|(?<=\.)\s+(?=[A-Z])", doc)]
    said = [x for x in sentences if "implemented" in x.lower() or "no effect" in x.lower()]
    if said:
        return " ".join(said)
    readers = _readers(name)
    if readers:
        return ("not stated in the switch table; read by " + ", ".join(f"`kvm/{r}`" for r in readers)
               )
    return "not stated in the switch table, and no model module reads it yet"


def switches_markdown() -> str:
    """``docs/switches.md``: every switch with its question, patch, values, status and presets."""
    from rmapwalk.kvm.scenarios import SCENARIOS
    from rmapwalk.kvm.switches import SWITCHES

    out = [
        "# The design switches of the KVM model",
        "",
        "Generated by `rmapwalk switches --markdown > docs/switches.md` from the switch table "
        "(`rmapwalk.kvm.switches`), the presets (`rmapwalk.kvm.presets`) and the scenarios; do not "
        "edit by hand.  Section numbers (§) refer to `kvm-reference.md`; everything about the "
        "unmerged patches of the 2013 series there is a reconstruction.",
        "",
        "Set a switch with `rmapwalk check kvm --scenario NAME --set KEY=VALUE`; start from a "
        "preset with `--preset P` (the scenario's own base values apply on top of the preset, the "
        "`--set` values on top of both).",
        "",
        "## Presets",
        "",
    ]
    for p in PRESETS.values():
        out.append(f"* `{p.name}`: {p.doc}.")
    out += ["", "| switch | default | " + " | ".join(f"`{p}`" for p in PRESETS) + " |",
            "|---|---|" + "|".join("---" for _ in PRESETS) + "|"]
    for name, sw in SWITCHES.items():
        vals = [str(p.switches().as_dict()[name]) for p in PRESETS.values()]
        out.append(f"| `{name}` | {sw.default} | " + " | ".join(vals) + " |")
    out += ["", "## Switches", ""]
    for name, sw in SWITCHES.items():
        question, patch = SWITCH_NOTES.get(name, ("(not documented yet)", "(not documented yet)"))
        values = " | ".join(f"`{v}`" for v in sw.values) if sw.values is not None else sw.allowed
        varied = [sc.name for sc in SCENARIOS.values() if any(name in e.settings for e in sc.expected)]
        fixed = [f"{sc.name} ({sc.base[name]})" for sc in SCENARIOS.values()
                 if name in sc.base and sc.name not in varied]
        out += [
            f"### `{name}`",
            "",
            f"* **Question:** {question}",
            f"* **Kernel:** {patch}",
            f"* **Values:** {values} (default `{sw.default}`)",
            f"* **Meaning:** {sw.doc}",
            f"* **Implemented:** {_status(name, sw.doc)}",
            f"* **Scenarios varying it:** {', '.join(f'`{u}`' for u in varied) or 'none yet'}",
            f"* **Scenarios fixing it in their base:** {', '.join(f'`{u}`' for u in fixed) or 'none'}",
            "",
        ]
    return "\n".join(out).rstrip("\n") + "\n"


__all__ = ["PRESETS", "SWITCH_NOTES", "Preset", "get_preset", "preset_names", "preset_switches",
           "switches_markdown"]
