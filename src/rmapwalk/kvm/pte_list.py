"""pte-lists: the rmap (and ``parent_ptes``) encoding of arch/x86/kvm/mmu.c (Linux 3.11), the
2013 series' variants, and the lockless walker (``kvm-reference.md`` §1.3, §2.1-2.3, §3.5-3.9).
With ``pte_list=6.15`` the entry points (add, remove, the locked iterator, the snapshots) hand
over to :mod:`rmapwalk.kvm.pte_list_615`, so every caller of the 3.11 model runs 6.15's lists.

A pte-list head is ONE word:

* ``0``: empty;
* an even address: the only spte pointer of the list;
* ``desc | 1``: the first ``struct pte_list_desc`` of a chain.

A desc (slab object of ``kvm.desc_cache``) has ``PTE_LIST_EXT`` slots ``sptes[i]`` (spte
pointers, 0 = empty, used slots packed at the front) and ``more``: the next desc, or the end of
the chain: ``0`` (3.11) or, with ``nulls=on``, the nulls marker ``("nulls", head)`` naming the
head the chain belongs to (``rmapwalk.kernel.nulls``; the series used ``(unsigned long)rmapp | 1``,
reconstructed, §3.6).  Slab objects are 1024-aligned and spte pointers even, so bit 0 tags a desc
pointer as in the kernel.

Every shared access goes through :mod:`rmapwalk.kvm.access`, so ``rmap_access``, ``publish``,
``desc_init`` and ``lockless_deref`` decide how each one is marked and ordered.  Writers hold
``kvm.mmu_lock`` (callers take it).  With ``PTE_LIST_EXT = 1`` (allowed, to force chains with
few entries), turning a single entry into a chain takes two descs; the kernel's 1->many step
assumes at least two slots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from rmapwalk.engine.deps import plain
from rmapwalk.engine.mutation import mutation_point
from rmapwalk.engine.ops import assume
from rmapwalk.engine.runtime import ModelError, Violated
from rmapwalk.kernel.nulls import NULLS_MARKER
from rmapwalk.kernel.rcu import rcu_read_lock, rcu_read_unlock
from rmapwalk.kernel.slab import KmemCache
from rmapwalk.kvm.access import MmuOps, check_alloc
from rmapwalk.kvm.memslot import HasMemslots
from rmapwalk.kvm.switches import Switches


class PteListVm(HasMemslots, Protocol):
    """What the pte-list code uses of the VM, ``rmapwalk.kvm.mmu_page.KvmMmu`` (which imports this
    module: a new shadow page is linked to its parent pte with :func:`pte_list_add`)."""

    @property
    def sw(self) -> Switches: ...

    @property
    def ext(self) -> int: ...

    @property
    def ops(self) -> MmuOps: ...

    @property
    def desc_cache(self) -> KmemCache: ...

    @property
    def max_walk_restarts(self) -> int | None: ...

    @property
    def i5_present(self) -> Mapping[int, set[int]]: ...



def _615() -> Any:
    """``rmapwalk.kvm.pte_list_615`` (imported late: it imports this package's modules)."""
    from rmapwalk.kvm import pte_list_615

    return pte_list_615


# -- encoding (pure) ------------------------------------------------------------------------------

def is_desc_ptr(v: Any) -> bool:
    """A ``more`` value that points to a desc (not 0, not a nulls marker)."""
    return isinstance(v, int) and v != 0


def _slot(kvm: PteListVm, desc: int, i: int) -> int:
    return desc + i


def _more(kvm: PteListVm, desc: int) -> int:
    return desc + kvm.ext


def adds_at_head(kvm: PteListVm) -> bool:
    """Whether :func:`pte_list_add` puts a new entry at the head of a chain (switch
    ``add_position``; ``pte_list`` by default: the series' head variant does, 3.11 appends)."""
    pos = kvm.sw.add_position
    return kvm.sw.pte_list == "head" if pos == "pte_list" else pos == "head"


def pte_list_end(kvm: PteListVm, head: int) -> Any:
    """The value that ends the desc chain of ``head``: 0, or its nulls marker (``nulls=on``)."""
    return NULLS_MARKER(int(head)) if kvm.sw.nulls == "on" else 0


# -- desc allocation ---------------------------------------------------------------------------------

def mmu_alloc_pte_list_desc(kvm: PteListVm) -> int:
    """Models ``mmu_alloc_pte_list_desc()`` (arch/x86/kvm/mmu.c, 3.11): a desc from the desc
    cache.  3.11 pops it from the vCPU's ``mmu_pte_list_desc_cache``, which
    ``mmu_topup_memory_cache`` filled with ``kmem_cache_zalloc``: with ``desc_init=3.11`` every
    field is written 0 here (a reader still standing on a reused desc sees the zeroing);
    with ``desc_init=careful`` nothing is written until the caller sets the final values."""
    desc = check_alloc(kvm.desc_cache, kvm.ops.cache_alloc(kvm.desc_cache))
    if kvm.sw.desc_init == "3.11":
        for i in range(kvm.ext):
            kvm.ops.write(_slot(kvm, desc, i), 0)
        kvm.ops.write(_more(kvm, desc), 0)
    return desc


def mmu_free_pte_list_desc(kvm: PteListVm, desc: int) -> None:
    """Models ``mmu_free_pte_list_desc()`` (arch/x86/kvm/mmu.c, 3.11): ``kmem_cache_free`` at
    once (with ``desc_cache=typesafe_by_rcu`` the desc stays a desc for RCU readers)."""
    kvm.ops.cache_free(kvm.desc_cache, desc)


def _new_desc(kvm: PteListVm, entries: list[int], more: Any) -> int:
    """A desc holding ``entries`` with ``more``, fully set before anyone can reach it.

    ``desc_init=3.11``: the zeroed desc gets its entries and, if non-zero, ``more``;
    ``careful``: every field is written once with its final value (series patch 10,
    "initialize the pointers in pte_list_desc properly", reconstructed)."""
    desc = mmu_alloc_pte_list_desc(kvm)
    careful = kvm.sw.desc_init == "careful"
    for i in range(kvm.ext):
        v = entries[i] if i < len(entries) else 0
        if v or careful:
            kvm.ops.write(_slot(kvm, desc, i), v)
    if more != 0 or careful:
        kvm.ops.write(_more(kvm, desc), more)
    return desc


# -- add ------------------------------------------------------------------------------------------------

def pte_list_add(kvm: PteListVm, sptep: int, head: int) -> int:
    """Models ``pte_list_add()`` (arch/x86/kvm/mmu.c, 3.11); returns the count the kernel
    returns (entries before the add, as 3.11 counts them: ``PTE_LIST_EXT`` per desc it walked
    past plus the used slots of the desc it adds to).

    ``pte_list=3.11`` (§2.1): 0 -> the pointer itself; one entry -> a desc with both; many ->
    the first desc whose last slot is free, scanning from the head, else a new desc appended at
    the tail.  With ``desc_init=3.11`` an appended desc is linked (zeroed) *before* its slot is
    written, as in 3.11; with ``careful`` it is filled first.

    ``pte_list=head`` (the 2013 series' "redesign the algorithm of pte_list", §3.5,
    reconstructed): many -> the first free slot of the head desc; if the head is full, a new desc
    holding the entry, whose ``more`` is the old head, becomes the head.  Every non-head desc is
    then full.  The count returned is only the head desc's entries (the series' count is not
    known; nothing in the model depends on it below ``RMAP_RECYCLE_THRESHOLD``).

    The switch ``add_position`` separates the add from the removal's refill: ``tail`` adds as
    3.11 does and ``head`` as the series does, whatever ``pte_list`` (which then decides only
    the refill of :func:`pte_list_remove`).
    """
    if sptep & 1 or not sptep:
        raise Violated("BUG", f"pte_list_add: {sptep!r} is not an spte pointer")
    if kvm.sw.pte_list == "6.15":
        return _615().pte_list_add(kvm, sptep, head)
    ext = kvm.ext
    v = kvm.ops.read(head)
    if v == 0:
        # 0 -> 1 publishes the sptep itself: a lockless walker follows it to the spte and to its
        # shadow page's header (page_private, role.level), which must be visible first; with
        # publish=none (3.11, x86) a plain store, as mmu.c's `*pte_list = (unsigned long)spte`
        kvm.ops.link_barrier()
        kvm.ops.link(head, sptep)
        return 0
    if not v & 1:  # 1 -> many
        end = pte_list_end(kvm, head)
        if ext >= 2:
            first = _new_desc(kvm, [v, sptep], end)
        elif not adds_at_head(kvm):
            second = _new_desc(kvm, [sptep], end)
            first = _new_desc(kvm, [v], second)
        else:
            old = _new_desc(kvm, [v], end)
            first = _new_desc(kvm, [sptep], old)
        kvm.ops.link_barrier()
        kvm.ops.link(head, first | 1)
        return 1
    desc = v & ~1
    if adds_at_head(kvm):
        return _add_at_head(kvm, sptep, head, desc)
    # many -> many, 3.11
    count = 0
    nxt: Any = 0
    while True:
        last = kvm.ops.read(_slot(kvm, desc, ext - 1))
        if not last:
            break
        nxt = kvm.ops.read(_more(kvm, desc))
        if not is_desc_ptr(nxt):
            break
        desc = nxt
        count += ext
    if last:
        if kvm.sw.desc_init == "careful":
            new = _new_desc(kvm, [sptep], nxt)  # nxt: the end of the chain
            kvm.ops.link_barrier()
            kvm.ops.link(_more(kvm, desc), new)
            return count
        new = mmu_alloc_pte_list_desc(kvm)
        if nxt != 0:
            kvm.ops.write(_more(kvm, new), nxt)  # the chain's nulls marker
        kvm.ops.link_barrier()
        kvm.ops.link(_more(kvm, desc), new)
        desc = new
    i = 0
    while kvm.ops.read(_slot(kvm, desc, i)):
        i += 1
        count += 1
    kvm.ops.write(_slot(kvm, desc, i), sptep)
    return count


def _add_at_head(kvm: PteListVm, sptep: int, head: int, desc: int) -> int:
    for i in range(kvm.ext):
        if not kvm.ops.read(_slot(kvm, desc, i)):
            kvm.ops.write(_slot(kvm, desc, i), sptep)
            return i
    new = _new_desc(kvm, [sptep], desc)
    kvm.ops.link_barrier()
    kvm.ops.link(head, new | 1)
    return kvm.ext


# -- remove -----------------------------------------------------------------------------------------------

def pte_list_desc_remove_entry(kvm: PteListVm, head: int, desc: int, i: int, prev_desc: int) -> None:
    """Models ``pte_list_desc_remove_entry()`` (arch/x86/kvm/mmu.c, 3.11), ``pte_list=3.11``:
    the last used entry ``j`` of the *same* desc fills slot ``i``, slot ``j`` is cleared; a desc
    left empty is unlinked (head or ``prev_desc->more``) and freed at once.  (A lockless walker
    going up through this desc misses the moved entry: R7.)"""
    ext = kvm.ext
    j = ext - 1
    while True:  # for (j = PTE_LIST_EXT - 1; !desc->sptes[j] && j > i; --j)
        moved = kvm.ops.read(_slot(kvm, desc, j))
        if moved or j <= i:
            break
        j -= 1
    kvm.ops.write(_slot(kvm, desc, i), moved)
    kvm.ops.move_barrier()
    kvm.ops.write(_slot(kvm, desc, j), 0)
    if j != 0:
        return
    more = kvm.ops.read(_more(kvm, desc))
    if not prev_desc and not is_desc_ptr(more):
        kvm.ops.write(head, 0)
    elif prev_desc:
        kvm.ops.write(_more(kvm, prev_desc), more)
    else:
        kvm.ops.write(head, more | 1)
    mmu_free_pte_list_desc(kvm, desc)


def _remove_refill_from_head(kvm: PteListVm, head: int, first: int, desc: int, i: int) -> None:
    """``pte_list=head`` (§3.5, reconstructed): the head desc's last used entry fills slot ``i``
    of ``desc`` (forward move), the head's slot is cleared; an empty head desc is unlinked
    (``head = head_desc->more | 1``, or 0 at the end of the chain) and freed."""
    j = kvm.ext - 1
    while True:
        moved = kvm.ops.read(_slot(kvm, first, j))
        if moved or j == 0:
            break
        j -= 1
    kvm.ops.write(_slot(kvm, desc, i), moved)
    kvm.ops.move_barrier()
    kvm.ops.write(_slot(kvm, first, j), 0)
    if j != 0:
        return
    more = kvm.ops.read(_more(kvm, first))
    kvm.ops.write(head, more | 1 if is_desc_ptr(more) else 0)
    mmu_free_pte_list_desc(kvm, first)


def pte_list_remove(kvm: PteListVm, sptep: int, head: int) -> None:
    """Models ``pte_list_remove()`` (arch/x86/kvm/mmu.c, 3.11): find ``sptep`` scanning from
    the head desc (slots upward, stopping at an empty slot), then remove it with the 3.11
    same-desc refill or, for ``pte_list=head``, the series' refill from the head desc.  Removing
    an entry that is not there is the kernel's ``BUG()`` (property ``BUG``)."""
    if kvm.sw.pte_list == "6.15":
        return _615().pte_list_remove(kvm, sptep, head)
    v = kvm.ops.read(head)
    if v == 0:
        raise Violated("BUG", f"pte_list_remove: {sptep!r} from an empty list (0->BUG)")
    if not v & 1:
        if v != sptep:
            raise Violated("BUG", f"pte_list_remove: {sptep!r} is not the single entry (1->BUG)")
        kvm.ops.write(head, 0)
        return
    first = v & ~1
    desc, prev = first, 0
    while is_desc_ptr(desc):
        for i in range(kvm.ext):
            s = kvm.ops.read(_slot(kvm, desc, i))
            if not s:
                break
            if s == sptep:
                if kvm.sw.pte_list == "head":
                    _remove_refill_from_head(kvm, head, first, desc, i)
                else:
                    pte_list_desc_remove_entry(kvm, head, desc, i, prev)
                return
        prev = desc
        desc = kvm.ops.read(_more(kvm, desc))
    raise Violated("BUG", f"pte_list_remove: {sptep!r} not found (many->many)")


# -- iteration under mmu_lock ----------------------------------------------------------------------------

def rmap_walk(kvm: PteListVm, head: int) -> Iterator[int]:
    """Models ``rmap_get_first()``/``rmap_get_next()`` (arch/x86/kvm/mmu.c, 3.11; later
    ``for_each_rmap_spte``): ``for sptep in rmap_walk(kvm, head): ...`` under mmu_lock.  Reads
    the head once, then each desc's slots upward until an empty one, then ``more``.  A caller
    that removes the current spte must start a new walk (the removal may move entries).
    With ``pte_list=6.15``: 6.15's ``for_each_rmap_spte`` (``rmapwalk.kvm.pte_list_615``)."""
    if kvm.sw.pte_list == "6.15":
        yield from _615().rmap_walk(kvm, head)
        return
    v = kvm.ops.read(head)
    if v == 0:
        return
    if not v & 1:
        yield v
        return
    desc = v & ~1
    while is_desc_ptr(desc):
        for i in range(kvm.ext):
            s = kvm.ops.read(_slot(kvm, desc, i))
            if not s:
                break
            yield s
        desc = kvm.ops.read(_more(kvm, desc))


for_each_rmap_spte = rmap_walk


def pte_list_walk(kvm: PteListVm, head: int, fn: Callable[[int], Any]) -> None:
    """Models ``pte_list_walk()`` (arch/x86/kvm/mmu.c, 3.11): ``fn(sptep)`` for every entry, in
    the iterator's order, under mmu_lock (used for ``parent_ptes``)."""
    for sptep in rmap_walk(kvm, head):
        fn(sptep)


I5 = "I5 lockless walk visits every entry present throughout"
I6 = "I6 lockless walk terminates"


def max_walk_restarts(kvm: PteListVm) -> int:
    """The bound of I6: ``kvm.max_walk_restarts`` if set, else twice the number of descs plus
    rmap heads of the program (each restart needs a writer to have changed one of them)."""
    if kvm.max_walk_restarts is not None:
        return kvm.max_walk_restarts
    heads = sum(len(hs) for slot in kvm.memslots for hs in slot.rmap.values())
    return 2 * (len(kvm.desc_cache.objects) + heads)


# -- the lockless walker ------------------------------------------------------------------------------------

def _recording(fn: Callable[[int], Any], seen: set[int]) -> Callable[[int], Any]:
    def visit(sptep: int) -> Any:
        seen.add(int(sptep))
        return fn(sptep)
    return visit


def pte_list_walk_lockless(kvm: PteListVm, head: int, fn: Callable[[int], Any]) -> int:
    """The 2013 series' "introduce pte-list lockless walker" (v1 09/12, the seed mail's patch;
    reconstructed as ``kvm-reference.md`` §3.9; no 3.11 counterpart: 3.11 walks rmaps only under
    mmu_lock).  Calls ``fn(sptep)`` for each non-empty slot it reads, without mmu_lock, inside
    ``rcu_read_lock()`` (``fn`` runs inside the section and must tolerate stale or foreign
    sptes).  Returns how many times it restarted.

    * the head word is read once per pass: 0 -> done; a pointer -> ``fn`` once;
    * in each desc every slot is read once (``walk_order``: from the top slot down, or upward),
      empty slots skipped; then ``more``;
    * ``nulls=on``: a nulls marker ends the pass; a foreign one (the walker was carried into
      another rmap's chain through a freed and reused desc) restarts from the head;
    * ``more == 0`` ends the walk, with or without nulls, as it ends the 3.11 iterator
      (``rmap_get_next``) the walker is derived from.  A NULL ``more`` in a nulls-terminated
      chain exists only transiently, while a desc is being (re)initialised the 3.11 way
      (``desc_init=3.11``: zeroed by ``kmem_cache_zalloc``); a walker standing on such a desc
      stops early and misses the rest of its chain (scenario ``desc-init``).  Series patch 10
      ("initialize the pointers in pte_list_desc properly", ``desc_init=careful``) removes the
      transient.  (§3.9 lists "restart on NULL" as a walker option; the hlist_nulls loop the
      series imitates would instead dereference the NULL.  Both are reconstructions [R].)

    I5: with ``kvm.i5_present[head]`` (the sptes the program keeps on this rmap throughout any
    walk, ghost knowledge declared by a scenario or test; no events), a walk that returns
    without having passed each of them to ``fn`` raises ``Violated("I5 lockless walk visits
    every entry present throughout")``.

    Restarts are bounded by ``kvm.max_walk_restarts`` (default: twice the number of descs and
    rmap heads the program can change, a restart needing a concurrent change of one of them):
    one more raises ``Violated("I6 lockless walk terminates")`` (invariant I6), instead of
    running into the engine's event bound.  A restarted pass that reads exactly what the one
    before it read blocks the walker (a spin on values no writer changed since: not a livelock
    where stores propagate; without this, LKMM, which has no fairness, lets every restart read
    the same stale chain).
    """
    if kvm.sw.pte_list == "6.15":
        raise ModelError("the 2013 lockless walker has no 6.15 form (6.15 walks rmaps locklessly only for "
                         "aging: rmapwalk.kvm.aging)")
    required = kvm.i5_present.get(int(head))
    seen: set[int] = set()
    if required:
        fn = _recording(fn, seen)
    nulls = kvm.sw.nulls == "on"
    own = pte_list_end(kvm, head)
    order = list(reversed(range(kvm.ext))) if kvm.sw.walk_order == "bottom_up" else list(range(kvm.ext))
    restarts = 0
    last_pass: list[Any] | None = None
    rcu_read_lock()
    while True:
        v = kvm.ops.walker_read(head)
        if v == 0:
            break
        if not v & 1:
            fn(v)
            break
        desc = v & ~1
        this_pass = [plain(v)]
        while True:
            for i in order:
                p = kvm.ops.walker_read_entry(_slot(kvm, desc, i))
                kvm.ops.walker_slot_barrier()
                this_pass.append(plain(p))
                if p:
                    fn(p)
            m = kvm.ops.walker_read(_more(kvm, desc))
            this_pass.append(plain(m))
            if not is_desc_ptr(m):
                break
            desc = m
        if not nulls or mutation_point("lockless walk: nulls check", m == own) or m == 0:
            break
        # A pass that read exactly what the previous one read made no progress: the walker
        # would spin on values no writer has changed since.  Real stores propagate, so that
        # execution is a blocked spin (as a spin loop's, GenMC's rule), not an I6 violation;
        # the memory models here, LKMM first, have no such fairness and would let every read of
        # the restart return the same stale value forever.  Only if every other thread has
        # ended and the pass read the latest values is it a livelock: I6 (Explorer._deadlocked).
        assume(this_pass != last_pass, I6, kind="spin")
        last_pass = this_pass
        restarts += 1  # a foreign nulls marker: restart from the head
        if restarts > max_walk_restarts(kvm):
            raise Violated(I6, f"the lockless walk of rmap {int(head):#x} restarted {restarts} times "
                               f"(bound {max_walk_restarts(kvm)}): last chain end {m!r}, expected {own!r}")
    # (no try/finally: model operations must not run while the engine unwinds a thread)
    rcu_read_unlock()
    if required and not required <= seen:
        missed = ", ".join(f"{x:#x}" for x in sorted(required - seen))
        raise Violated(I5, f"the lockless walk of rmap {int(head):#x} missed {missed}, on it throughout the walk")
    return restarts


# -- snapshots (pure Python, no events: for checks on final states and invariants) --------------------------

def pte_list_layout(kvm: PteListVm, head: int, mem: Callable[[int], Any]) -> list[Any]:
    """The structure of the list at ``head`` in a memory snapshot ``mem(addr) -> value``:
    ``[]`` (empty), ``[sptep]`` (single pointer) or a list of desc slot lists
    ``[[s0, s1, ...], ...]`` (all slots, 0 for empty), followed by the end value of the chain.
    Raises ``ValueError`` on a cycle.  (``pte_list=6.15``: ``pte_list_615.pte_list_layout``.)"""
    if kvm.sw.pte_list == "6.15":
        return _615().pte_list_layout(kvm, head, mem)
    v = mem(int(head))
    if v == 0:
        return []
    if not v & 1:
        return [v]
    out: list[Any] = []
    desc: Any = v & ~1
    seen: set[int] = set()
    while is_desc_ptr(desc):
        if desc in seen:
            raise ValueError(f"pte-list at {head!r} has a cycle")
        seen.add(desc)
        out.append([mem(_slot(kvm, desc, i)) for i in range(kvm.ext)])
        desc = mem(_more(kvm, desc))
    out.append(desc)
    return out


def pte_list_entries(kvm: PteListVm, head: int, mem: Callable[[int], Any]) -> list[int]:
    """The entries of the list at ``head`` in a memory snapshot, in iterator order."""
    if kvm.sw.pte_list == "6.15":
        return _615().pte_list_entries(kvm, head, mem)
    layout = pte_list_layout(kvm, head, mem)
    if len(layout) <= 1:
        return list(layout)
    return [s for desc in layout[:-1] for s in desc if s]


def pte_list_descs(kvm: PteListVm, head: int, mem: Callable[[int], Any]) -> list[int]:
    """The desc objects of the chain at ``head`` in a memory snapshot."""
    if kvm.sw.pte_list == "6.15":
        return _615().pte_list_descs(kvm, head, mem)
    v = mem(int(head))
    out: list[int] = []
    if v == 0 or not v & 1:
        return out
    desc: Any = v & ~1
    while is_desc_ptr(desc) and desc not in out:
        out.append(desc)
        desc = mem(_more(kvm, desc))
    return out


__all__ = [
    "I5", "I6", "adds_at_head", "for_each_rmap_spte", "is_desc_ptr",
    "mmu_alloc_pte_list_desc", "mmu_free_pte_list_desc", "pte_list_add",
    "pte_list_desc_remove_entry", "pte_list_descs", "pte_list_end", "pte_list_entries", "pte_list_layout",
    "pte_list_remove", "pte_list_walk", "pte_list_walk_lockless", "max_walk_restarts", "rmap_walk",
]
