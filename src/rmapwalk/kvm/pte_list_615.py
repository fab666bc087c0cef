"""The pte-list of Linux 6.15 (``pte_list=6.15``): 2023's tail-count descs, 2025's single-word
helpers (9fb13ba6b5ff) and per-rmap lock (4834eaded91e), and the rmap iterators
(arch/x86/kvm/mmu/mmu.c, 6.15; ``kvm-reference.md`` §4.1, §4.2).

A ``struct pte_list_desc`` is ``more`` (the next desc or NULL), ``spte_count`` (entries in this
desc), ``tail_count`` (entries in every desc after it) and ``sptes[PTE_LIST_EXT]``.  New entries
go into the head desc; when it is full a new desc becomes the head, so every tail desc is full.
A removal replaces the victim with the head desc's last entry; an emptied head desc is unlinked
(the head word then points at the next desc, or is 0) and freed.  Descs come from the desc cache
zeroed (``kvm_mmu_memory_cache_alloc`` of a cache topped up with ``__GFP_ZERO``: the model writes
the zeros of the fields the helper does not set when it takes the desc) and go back with
``kmem_cache_free`` at once (no RCU, no type-stable cache).

The helpers (callers hold ``mmu_lock``) read the head word once, through ``kvm_rmap_lock``,
compute the new value in a local and write it once, through ``kvm_rmap_unlock``
(``head_reads=once``).  ``head_reads=reread`` is the same code before 9fb13ba6b5ff with the lock
wrapped around it (a reconstruction: the series never had this shape; it shows what the refactor
prevents): each use of ``rmap_head->val`` reads the head word again (LOCKED masked off) and each
assignment stores it (``atomic_long_set``), which drops LOCKED while the helper still changes
descs; the final unlock writes back the head read once more.

Reused from the 3.11 model unchanged: the callers (``rmap_add``, ``rmap_remove``,
``drop_spte``, ``mmu_set_spte``, ``__direct_map``, the shadow-page zap of ``rmapwalk.kvm.zap``),
which reach this module through ``rmapwalk.kvm.pte_list``'s dispatch on ``pte_list``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from rmapwalk.engine.ops import lkmm_events
from rmapwalk.engine.runtime import ModelError, Violated
from rmapwalk.engine.trace import format_value
from rmapwalk.kvm.memslot import __gfn_to_rmap, gfn_to_memslot
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.rmap_lock import (
    KVM_RMAP_LOCKED,
    KVM_RMAP_MANY,
    head_read,
    head_store,
    helper_begin,
    helper_end,
    helper_extra_access,
    kvm_rmap_get,
    kvm_rmap_lock,
    kvm_rmap_unlock,
    locked_mode,
)

BUG = "BUG"


def gfn_to_rmap(kvm: KvmMmu, gfn: int, level: int) -> Any:
    """The rmap head of (``gfn``, ``level``) (``rmapwalk.kvm.rmap.gfn_to_rmap``, which imports
    this module's dispatcher)."""
    slot = gfn_to_memslot(kvm, gfn)
    if slot is None:
        raise ModelError(f"gfn {gfn} is in no memslot")
    return __gfn_to_rmap(gfn, level, slot)


def is_shadow_present_pte(spte: int) -> bool:
    from rmapwalk.kvm.spte import is_shadow_present_pte as present

    return present(spte)


def _f(kvm: KvmMmu, desc: Any, name: str) -> Any:
    """``&desc->name`` (address arithmetic keeps the dependency on the read that gave ``desc``)."""
    return desc + kvm.desc_cache.offsets[name]


def _slot(kvm: KvmMmu, desc: Any, i: int) -> Any:
    return _f(kvm, desc, f"sptes[{i}]")


def check_615(kvm: KvmMmu) -> None:
    if kvm.ext < 2:
        raise ModelError("pte_list=6.15 needs pte_list_ext >= 2 (a 1->many step puts two entries in a desc)")


# -- desc allocation -------------------------------------------------------------------------------------

def kvm_mmu_memory_cache_alloc(kvm: KvmMmu, set_fields: tuple[str, ...]) -> Any:
    """A desc from the desc cache, zeroed: the model writes 0 to the fields outside
    ``set_fields`` (those the caller writes next), standing for the ``__GFP_ZERO`` of the cache
    top-up.  Running out is a model error (KVM tops up before taking mmu_lock); under the LKMM
    models, whose explorer checks consistency only on finished executions, it is reported as the
    property ``model: kmem cache exhausted`` instead, so an inconsistent partial execution that
    allocates too much is dropped with the execution."""
    obj = kvm.ops.cache_alloc(kvm.desc_cache)
    if not obj:
        if not kvm.is_building and lkmm_events():
            raise Violated("model: kmem cache exhausted", f"{kvm.desc_cache.name} (capacity {kvm.desc_cache.capacity})")
        raise ModelError(f"kmem cache {kvm.desc_cache.name} is exhausted (capacity {kvm.desc_cache.capacity}): "
                         "give the KvmMmu more objects")
    for name in kvm.desc_cache.fields:
        if name not in set_fields:
            kvm.ops.write(_f(kvm, obj, name), 0)
    return obj


def mmu_free_pte_list_desc(kvm: KvmMmu, desc: Any) -> None:
    """Models ``mmu_free_pte_list_desc()`` (mmu.c, 6.15): ``kmem_cache_free`` at once."""
    kvm.ops.cache_free(kvm.desc_cache, int(desc))


# -- the helper's view of the head word --------------------------------------------------------------

class _Head:
    """``rmap_head->val`` as one pte-list helper sees it (``head_reads``): ``once`` keeps the
    value the lock returned in a local; ``reread`` reads and writes the word at every use."""

    def __init__(self, kvm: KvmMmu, head: int, name: str) -> None:
        self.kvm, self.head = kvm, head
        self.reread = kvm.sw.head_reads == "reread"
        self.val = kvm_rmap_lock(kvm, head)
        helper_begin(kvm, name, head)

    def get(self) -> Any:
        """A use of ``rmap_head->val``."""
        if self.reread and not self.kvm.is_building:
            helper_extra_access(self.kvm, "reads")
            self.val = kvm_rmap_get(self.kvm, self.head)
        return self.val

    def set(self, v: Any) -> None:
        """An assignment of ``rmap_head->val``."""
        if self.reread and not self.kvm.is_building:
            helper_extra_access(self.kvm, "writes")
            head_store(self.kvm, self.head, v, release=False)
        self.val = v

    def done(self) -> None:
        """The helper's one unlock: the computed value (``once``), or the head read again
        (``reread``, the naive unlock of an unconverted helper)."""
        helper_end(self.kvm)
        if self.reread and not self.kvm.is_building:
            self.val = kvm_rmap_get(self.kvm, self.head)
        kvm_rmap_unlock(self.kvm, self.head, self.val)


# -- add ------------------------------------------------------------------------------------------------

def pte_list_add(kvm: KvmMmu, sptep: int, head: int) -> int:
    """Models ``pte_list_add(kvm, cache, spte, rmap_head)`` (mmu.c, 6.15): lock the rmap (the one
    read of the head word); 0 -> the pointer itself; one entry -> a new desc holding both
    (``spte_count = 2``, ``tail_count = 0``); many -> the head desc's next slot, or, if the head
    desc is full, a new head desc (``more`` = the old head, ``tail_count`` = every entry so far)
    holding the entry; unlock with the new value (the one write).  Returns the number of entries
    before the add."""
    check_615(kvm)
    if sptep & (KVM_RMAP_MANY | KVM_RMAP_LOCKED) or not sptep:
        raise Violated(BUG, f"pte_list_add: {sptep!r} is not an spte pointer")
    h = _Head(kvm, head, "pte_list_add")
    count = 0
    if not h.get():
        h.set(sptep)
    elif not h.get() & KVM_RMAP_MANY:
        desc = kvm_mmu_memory_cache_alloc(kvm, ("sptes[0]", "sptes[1]", "spte_count", "tail_count"))
        kvm.ops.write(_slot(kvm, desc, 0), h.get())
        kvm.ops.write(_slot(kvm, desc, 1), sptep)
        kvm.ops.write(_f(kvm, desc, "spte_count"), 2)
        kvm.ops.write(_f(kvm, desc, "tail_count"), 0)
        h.set(desc | KVM_RMAP_MANY)
        count = 1
    else:
        desc = h.get() & ~KVM_RMAP_MANY
        n = kvm.ops.read(_f(kvm, desc, "spte_count"))
        count = kvm.ops.read(_f(kvm, desc, "tail_count")) + n
        if n == kvm.ext:  # tail descs are always full: a new head desc
            new = kvm_mmu_memory_cache_alloc(kvm, ("more", "tail_count", "sptes[0]", "spte_count"))
            kvm.ops.write(_f(kvm, new, "more"), h.get() & ~KVM_RMAP_MANY)
            kvm.ops.write(_f(kvm, new, "tail_count"), count)
            h.set(new | KVM_RMAP_MANY)
            desc, n = new, 0
        kvm.ops.write(_slot(kvm, desc, n), sptep)  # desc->sptes[desc->spte_count++] = spte
        kvm.ops.write(_f(kvm, desc, "spte_count"), n + 1)
    h.done()
    return int(count)


# -- remove -----------------------------------------------------------------------------------------------

def pte_list_desc_remove_entry(kvm: KvmMmu, h: _Head, desc: Any, i: int) -> None:
    """Models ``pte_list_desc_remove_entry(kvm, &rmap_val, desc, i)`` (mmu.c, 6.15): the head
    desc's last entry fills slot ``i`` of ``desc`` (tail descs stay full), its slot is cleared and
    its count dropped; an emptied head desc is unlinked (the new head value is its ``more`` with
    ``KVM_RMAP_MANY``, or 0) and freed, before the caller's unlock."""
    head_desc = h.get() & ~KVM_RMAP_MANY
    j = kvm.ops.read(_f(kvm, head_desc, "spte_count")) - 1
    if j < 0:
        raise Violated(BUG, "pte_list_desc_remove_entry: empty head desc (KVM_BUG_ON_DATA_CORRUPTION)")
    kvm.ops.write(_slot(kvm, desc, i), kvm.ops.read(_slot(kvm, head_desc, j)))
    kvm.ops.write(_slot(kvm, head_desc, j), 0)
    kvm.ops.write(_f(kvm, head_desc, "spte_count"), j)
    if j:
        return
    more = kvm.ops.read(_f(kvm, head_desc, "more"))
    h.set(more | KVM_RMAP_MANY if more else 0)
    mmu_free_pte_list_desc(kvm, head_desc)


def pte_list_remove(kvm: KvmMmu, sptep: int, head: int) -> None:
    """Models ``pte_list_remove(kvm, spte, rmap_head)`` (mmu.c, 6.15): lock; an empty rmap or an
    spte that is not there is ``KVM_BUG_ON_DATA_CORRUPTION`` (property ``BUG``); a single entry
    -> 0; else find the entry (descs from the head, slots below ``spte_count``) and
    :func:`pte_list_desc_remove_entry`; unlock with the new value."""
    check_615(kvm)
    h = _Head(kvm, head, "pte_list_remove")
    v = h.get()
    if not v:
        raise Violated(BUG, f"pte_list_remove: {sptep!r} from the empty rmap {kvm.prog.loc_name(int(head))}")
    if not v & KVM_RMAP_MANY:
        if v != sptep:
            raise Violated(BUG, f"pte_list_remove: {sptep!r} is not the single entry {v!r}")
        h.set(0)
    else:
        desc = v & ~KVM_RMAP_MANY
        found = False
        while desc and not found:
            n = kvm.ops.read(_f(kvm, desc, "spte_count"))
            for i in range(int(n)):
                if i >= kvm.ext:
                    raise Violated(BUG, f"pte_list_remove: spte_count {n!r} > PTE_LIST_EXT")
                if kvm.ops.read(_slot(kvm, desc, i)) == sptep:
                    pte_list_desc_remove_entry(kvm, h, desc, i)
                    found = True
                    break
            if not found:
                desc = kvm.ops.read(_f(kvm, desc, "more"))
        if not found:
            raise Violated(BUG, f"pte_list_remove: {sptep!r} not found in {kvm.prog.loc_name(int(head))}")
    h.done()


def kvm_zap_all_rmap_sptes(kvm: KvmMmu, head: int) -> bool:
    """Models ``kvm_zap_all_rmap_sptes(kvm, rmap_head)`` (mmu.c, 6.15; the MMU notifier's unmap
    of a gfn, ``kvm_zap_rmap``): lock; nothing to do for an empty rmap; clear every spte
    (``mmu_spte_clear_track_bits``) and free every desc, then unlock with 0.  Returns whether
    the rmap held anything."""
    from rmapwalk.kvm.spte_ops import mmu_spte_clear_track_bits

    check_615(kvm)
    h = _Head(kvm, head, "kvm_zap_all_rmap_sptes")
    v = h.get()
    if not v:  # an empty rmap: 6.15 returns before any unlock (its lock was elided)
        helper_end(kvm)
        return False
    if not v & KVM_RMAP_MANY:
        mmu_spte_clear_track_bits(kvm, v)
    else:
        desc = v & ~KVM_RMAP_MANY
        while desc:
            n = kvm.ops.read(_f(kvm, desc, "spte_count"))
            for i in range(int(n)):
                sptep = kvm.ops.read(_slot(kvm, desc, i))
                if not sptep:  # a desc whose count and slots disagree: the kernel would oops
                    raise Violated(BUG, f"kvm_zap_all_rmap_sptes: NULL in slot {i} of a desc with "
                                        f"spte_count {n!r}")
                mmu_spte_clear_track_bits(kvm, sptep)
            nxt = kvm.ops.read(_f(kvm, desc, "more"))
            mmu_free_pte_list_desc(kvm, desc)
            desc = nxt
    h.set(0)
    h.done()
    return True


# -- iteration ------------------------------------------------------------------------------------------

def rmap_iterate(kvm: KvmMmu, rmap_val: Any, read: Callable[[Any], Any] | None = None) -> Iterator[Any]:
    """Models ``rmap_get_first()`` / ``rmap_get_next()`` (mmu.c, 6.15) from a head value
    (without LOCKED): the single pointer, or each desc's slots from 0 up until a NULL one, then
    ``more``; a NULL ``sptes[0]`` ends the walk ("cannot be NULL" in the kernel's comment)."""
    rd = read or kvm.ops.read
    if not rmap_val:
        return
    if not rmap_val & KVM_RMAP_MANY:
        yield rmap_val
        return
    desc = rmap_val & ~KVM_RMAP_MANY
    while desc:
        for pos in range(kvm.ext):
            s = rd(_slot(kvm, desc, pos))
            if not s:
                if pos == 0:
                    return
                break
            yield s
        desc = rd(_f(kvm, desc, "more"))


def rmap_walk(kvm: KvmMmu, head: int) -> Iterator[Any]:
    """Models ``for_each_rmap_spte(rmap_head, &iter, sptep)`` (mmu.c, 6.15) for mmu_lock
    holders: the head through ``kvm_rmap_get`` (an aging reader may hold LOCKED meanwhile), then
    :func:`rmap_iterate`."""
    v = kvm_rmap_get(kvm, head) if not kvm.is_building else kvm.ops.read(head)
    yield from rmap_iterate(kvm, v)


# -- snapshots (pure Python, no events) --------------------------------------------------------------

def pte_list_layout(kvm: KvmMmu, head: int, mem: Callable[[int], Any]) -> list[Any]:
    """The list at ``head`` in a memory snapshot: ``[]``, ``[sptep]``, or one
    ``(spte_count, tail_count, [slots])`` per desc followed by the chain's end value; a LOCKED
    bit left in the head word is reported as a leading ``"LOCKED"``.  ``ValueError`` on a cycle."""
    v = mem(int(head))
    out: list[Any] = []
    if v & KVM_RMAP_LOCKED:
        out.append("LOCKED")
        v &= ~KVM_RMAP_LOCKED
    if v == 0:
        return out
    if not v & KVM_RMAP_MANY:
        return out + [v]
    desc: Any = v & ~KVM_RMAP_MANY
    seen: set[int] = set()
    while desc:
        if desc in seen:
            raise ValueError(f"pte-list at {head!r} has a cycle")
        seen.add(desc)
        out.append((mem(_f(kvm, desc, "spte_count")), mem(_f(kvm, desc, "tail_count")),
                    [mem(_slot(kvm, desc, i)) for i in range(kvm.ext)]))
        desc = mem(_f(kvm, desc, "more"))
    return out + [desc]


def pte_list_entries(kvm: KvmMmu, head: int, mem: Callable[[int], Any]) -> list[int]:
    """The entries of the list at ``head`` in a memory snapshot, in iterator order."""
    out: list[int] = []
    for x in pte_list_layout(kvm, head, mem):
        if isinstance(x, tuple):
            out += [s for s in x[2][: x[0]] if s]
        elif isinstance(x, int) and x:
            out.append(x)
    return out


def pte_list_descs(kvm: KvmMmu, head: int, mem: Callable[[int], Any]) -> list[int]:
    """The desc objects of the chain at ``head`` in a memory snapshot."""
    v = mem(int(head)) & ~KVM_RMAP_LOCKED
    out: list[int] = []
    if v == 0 or not v & KVM_RMAP_MANY:
        return out
    desc: Any = v & ~KVM_RMAP_MANY
    while desc and desc not in out:
        out.append(desc)
        desc = mem(_f(kvm, desc, "more"))
    return out


def layout_problems(kvm: KvmMmu, head: int, mem: Callable[[int], Any], free: tuple[int, ...] = ()) -> list[str]:
    """What is wrong with the list at ``head`` in a final snapshot: a LOCKED bit left set, a desc
    that is free, a count that disagrees with the slots, a tail desc that is not full, a wrong
    ``tail_count``."""
    try:
        layout = pte_list_layout(kvm, head, mem)
    except ValueError as e:
        return [str(e)]
    out: list[str] = []
    if layout[:1] == ["LOCKED"]:
        out.append("KVM_RMAP_LOCKED is still set after every thread finished")
        layout = layout[1:]
    descs = [x for x in layout if isinstance(x, tuple)]
    for d in pte_list_descs(kvm, head, mem):
        if d in free:
            out.append(f"desc {kvm.desc_cache.obj_name(d)} on the chain is free")
    after = 0
    for k, (count, tail, slots) in enumerate(reversed(descs)):
        if not 0 < count <= kvm.ext or 0 in slots[:count] or any(slots[count:]):
            out.append(f"desc with spte_count {count} and slots {slots}")
        if k < len(descs) - 1 and count != kvm.ext:  # every desc but the head is full
            out.append(f"tail desc not full (spte_count {count})")
        if tail != after:
            out.append(f"tail_count {tail}, but {after} entries follow")
        after += count
    return out


def is_rmap_head_locked(v: Any) -> bool:
    return bool(v & KVM_RMAP_LOCKED)




# -- "no rmap update lost": the rmaps are exact after every run ------------------------------------

RMAP_EXACT = "no rmap update lost"


def require_rmap_exact(kvm: KvmMmu, sptes: dict[int, tuple[int, int, int]]) -> None:
    """Register the property ``no rmap update lost`` on the program: in every complete execution,
    at the end, each rmap of the VM's memslots holds exactly the present sptes of its gfn and
    level, once each, in a well-formed chain (no LOCKED bit left, no free desc, counts that match
    the slots, full tail descs), whichever readers and writers interleaved.

    ``sptes`` maps every spte the program may make present to (gfn, level, shadow page); an spte
    whose shadow page is free at the end is not counted.  No events: a check of the finished
    execution's final memory (``Program.checks``)."""
    from rmapwalk.engine.events import BLOCK

    prog = kvm.prog
    heads = [h for slot in kvm.memslots for h in slot.rmap_heads()]

    def problems(mem: Callable[[int], Any]) -> list[str]:
        free_descs = tuple(mem(int(kvm.desc_cache.freelist)))
        free_sps = tuple(mem(int(kvm.sp_cache.freelist)))
        want: dict[int, list[int]] = {}
        for sptep, (gfn, level, sp) in sorted(sptes.items()):
            if sp in free_sps or not is_shadow_present_pte(mem(sptep)):
                continue
            want.setdefault(int(gfn_to_rmap(kvm, gfn, level)), []).append(sptep)
        out: list[str] = []
        for h in heads:
            name = prog.loc_name(int(h))
            for p in layout_problems(kvm, h, mem, free_descs):
                out.append(f"{name}: {p}")
            got = sorted(int(x) for x in pte_list_entries(kvm, h, mem))
            exp = sorted(want.get(int(h), []))
            if got != exp:
                out.append(f"{name} holds [{', '.join(format_value(prog, x) for x in got)}] but the present "
                           f"sptes of its gfn are [{', '.join(format_value(prog, x) for x in exp)}]")
        return out

    def check(g: Any, model: Any) -> list[tuple[str, str]]:
        if any(c.kind == BLOCK for c in g.cursor):
            return []  # a blocked execution has no final state
        found = problems(g.final_memory)
        return [(RMAP_EXACT, "after every thread finished, " + "; ".join(found))] if found else []

    kvm.rmap_exact_problems = problems  # type: ignore[attr-defined]
    prog.checks.append(check)


__all__ = [
    "BUG", "RMAP_EXACT", "check_615", "head_read", "is_rmap_head_locked", "kvm_mmu_memory_cache_alloc",
    "kvm_zap_all_rmap_sptes", "require_rmap_exact",
    "layout_problems", "locked_mode", "mmu_free_pte_list_desc", "pte_list_add", "pte_list_desc_remove_entry",
    "pte_list_descs", "pte_list_entries", "pte_list_layout", "pte_list_remove", "rmap_iterate", "rmap_walk",
]
