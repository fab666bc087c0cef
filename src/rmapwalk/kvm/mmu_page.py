"""Shadow pages (``struct kvm_mmu_page`` and its ``spt`` table) and the VM's MMU state.

:class:`KvmMmu` is the VM as far as the model needs it: the design switches, ``mmu_lock``,
the memslots, and the kmem caches of shadow-page headers, shadow page tables and
``pte_list_desc``.  It is created while the program is built; thread code reads its Python
attributes freely (they never change during exploration) and reaches shared memory only through
:mod:`rmapwalk.kvm.access`.

A shadow page is two slab objects (``kvm-reference.md`` §1.2):

* the header, from ``mmu_page_header`` (3.11: ``mmu_page_header_cache``), fields
  ``role_level``, ``role_direct``, ``role_invalid``, ``gfn``, ``spt`` (address of the table),
  ``parent_ptes`` (a pte-list head, §1.2) and ``gfns[i]`` (indirect pages only);
* the table, from ``mmu_page_spt``: ``spt_entries`` sptes at *even* offsets (so an spte pointer
  has bit 0 clear, as the rmap encoding needs; the odd words stand for the rest of the 8-byte
  spte and are never accessed) and ``private``, the ``page_private()`` of the table's struct page
  that points back to the header (``page_header()``).  3.11 takes tables from the page allocator
  and frees them at once (``spt_cache=plain``: touching a freed table is a use-after-free);
  Gleb's proposal takes them from a ``SLAB_DESTROY_BY_RCU`` cache (``spt_cache=typesafe_by_rcu``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rmapwalk.engine.deps import with_deps
from rmapwalk.engine.program import DYN_OBJ_STRIDE, Loc, Program
from rmapwalk.engine.runtime import ModelError, Violated
from rmapwalk.kernel.slab import SLAB_TYPESAFE_BY_RCU, KmemCache, kmem_cache_create
from rmapwalk.kvm.access import MmuOps, build_ops, check_alloc, runtime_ops
from rmapwalk.kvm.memslot import KvmMemorySlot
from rmapwalk.kvm.pte_list import pte_list_add
from rmapwalk.kvm.switches import Switches

MMU_PAGE_HEADER_CACHE = "mmu_page_header"
MMU_PAGE_SPT_CACHE = "mmu_page_spt"
PTE_LIST_DESC_CACHE = "pte_list_desc"


def spt_fields(n: int, stride: int = 2) -> list[str]:
    """Fields of a shadow page table object: ``spt[i]`` at offset ``stride*i`` (the other words
    stand for the rest of the 8-byte spte), then ``private``.  ``stride`` 2 keeps bit 0 of every
    spte pointer clear (3.11's rmap tag); 6.15's head word also tags bit 1 (``KVM_RMAP_LOCKED``),
    so ``pte_list=6.15`` lays sptes out 4 words apart."""
    out: list[str] = []
    for i in range(n):
        out += [f"spt[{i}]", f"spt[{i}].hi"] + [f"spt[{i}].hi{k}" for k in range(2, stride)]
    return out + ["private"]


def sp_fields(n: int) -> list[str]:
    """Fields of a ``struct kvm_mmu_page`` header object."""
    return ["role_level", "role_direct", "role_invalid", "gfn", "spt", "parent_ptes"] + [
        f"gfns[{i}]" for i in range(n)
    ]


def desc_fields(ext: int, pte_list: str = "3.11") -> list[str]:
    """Fields of a ``struct pte_list_desc``: ``sptes[0..ext-1]`` and ``more``; with
    ``pte_list=6.15`` the 2023 layout, ``more``, ``spte_count``, ``tail_count``, ``sptes[]``
    (``rmapwalk.kvm.pte_list_615``)."""
    if pte_list == "6.15":
        return ["more", "spte_count", "tail_count"] + [f"sptes[{i}]" for i in range(ext)]
    return [f"sptes[{i}]" for i in range(ext)] + ["more"]


class KvmMmu:
    """The VM's MMU state (``struct kvm`` / ``kvm->arch`` as far as the model goes).

    ``KvmMmu(prog, Switches(...), npages=4)`` lays out, in ``prog``:

    * ``kvm.mmu_lock`` (a spinlock word);
    * one memslot (``memslots[0]``) of ``npages`` gfns from ``base_gfn``, rmaps for levels
      ``1..max_level``, a dirty bitmap if ``log_dirty_pages``;
    * kmem caches ``mmu_page_header`` and ``mmu_page_spt`` (``sp_capacity`` objects each) and
      ``pte_list_desc`` (``desc_capacity`` objects, ``SLAB_TYPESAFE_BY_RCU`` if
      ``desc_cache=typesafe_by_rcu``).

    Keyword arguments that are switch names override ``switches``.
    Build initial state with ``with kvm.building(): ...`` around the same functions the
    threads call (see :mod:`rmapwalk.kvm.access`), or the ``prealloc_*`` shorthands.
    """

    def __init__(self, prog: Program, switches: Switches | None = None, *, npages: int = 4,
                 base_gfn: int = 0, max_level: int = 1, log_dirty_pages: bool = True,
                 desc_capacity: int = 3, sp_capacity: int = 2, **switch_values: Any) -> None:
        sw = switches or Switches()
        if switch_values:
            sw = sw.replace(**switch_values)
        if "kvm" in prog.lib:
            raise ValueError("this program already has a KvmMmu")
        prog.lib["kvm"] = self
        self.prog = prog
        self.sw = sw
        self.ext = sw.pte_list_ext
        self.spt_entries = sw.spt_entries
        #: bits of gfn per page-table level (the kernel's PT64_LEVEL_BITS = 9)
        self.level_bits = sw.spt_entries.bit_length() - 1
        #: the primitive of each kind of access (``rmapwalk.kvm.access``)
        self.ops: MmuOps = runtime_ops(sw)
        self._runtime_ops = self.ops
        self.mmu_lock: Loc = prog.var("kvm.mmu_lock", observe=False)
        #: ``kvm->slots_lock`` (a mutex in the kernel; a spinlock word here): serialises
        #: KVM_GET_DIRTY_LOG and memslot updates
        self.slots_lock: Loc = prog.var("kvm.slots_lock", observe=False)
        #: the vCPUs (``rmapwalk.kvm.vcpu.KvmVcpu``), added by ``kvm_create_vcpu``
        self.vcpus: list[Any] = []
        #: guest memory: one location per gfn (``rmapwalk.kvm.vcpu.guest_memory``), created lazily
        self.guest_mem: dict[int, Loc] = {}
        #: the host pfn backing gfn g is ``pfn_base + g`` (fixed: no host unmap yet)
        self.pfn_base = 0x100
        #: gfn -> the ghost "host page dirty" flag of its pfn (``kvm_set_pfn_dirty``), for the
        #: gfns a program tracks (I10); empty: no tracking, no events
        self.host_dirty: dict[int, Loc] = {}
        #: whether a guest write through a writable spte without D sets D (the CPU's page walker
        #: does a locked RMW on the spte); off unless a program needs it (I10)
        self.hw_dirty_bit = False
        #: I6's bound on the lockless walker's restarts (None: derived from the program's size,
        #: ``rmapwalk.kvm.pte_list.max_walk_restarts``)
        self.max_walk_restarts: int | None = None
        #: opt-in checks that add events (reads), off unless a scenario or test turns them on:
        #: I3 at each release of mmu_lock, I11 when a write-protection of a logged slot returns
        self.check_i3 = False
        self.check_i11 = False
        #: opt-in (adds events): I1's state form at every release of mmu_lock
        #: (``rmapwalk.kvm.mmu_checks.check_dirty_state``), with its ghost flags
        self.check_i1_state = False
        #: opt-in (adds reads of the shadow page header): I8 at each successful fast-path cmpxchg
        self.check_i8 = False
        #: opt-in (adds reads): I9 (c) when ``kvm_mmu_slot_remove_write_access`` returns
        self.check_i9_slot = False
        #: opt-in (no events): the I12 monitor of the single-word rmap discipline
        #: (``rmapwalk.kvm.rmap_lock``; pte_list=6.15)
        self.check_i12 = False
        #: I10's aging half: rmap head address -> the sptes the program keeps on that rmap, present
        #: and Accessed, throughout every aging walk (ghost knowledge; ``rmapwalk.kvm.aging``)
        self.young_required: dict[int, set[int]] = {}
        #: I1 state form's ghost locations, made by ``mmu_checks.enable_i1_state``:
        #: gfn -> "a harvest that took bit(g) has not finished its write-protect + flush"
        self.ghost_harvesting: dict[int, Loc] = {}
        #: (thread name, gfn) -> "this thread made an spte for g writable and has not marked g yet"
        self.ghost_mark_pending: dict[tuple[str, int], Loc] = {}
        #: serializes I1's state check with a lockless harvest (``mmu_checks.ghost_lockless_harvest``)
        self.ghost_check_lock: Loc | None = None
        #: gfn -> the ghost "host page accessed" flag of its pfn (``kvm_set_pfn_accessed``), for
        #: I10's accessed half; empty: no tracking, no events
        self.host_accessed: dict[int, Loc] = {}
        #: whether a guest access through a present spte without A sets A (the CPU's page walker)
        self.hw_accessed_bit = False
        #: I3's completeness is checked for these sptes (address -> level of their table)
        self.i3_sptes: dict[int, int] = {}
        #: I5: rmap head address -> the sptes the program keeps on that rmap throughout every
        #: lockless walk (ghost knowledge; checking it adds no events)
        self.i5_present: dict[int, set[int]] = {}
        self.memslots: list[KvmMemorySlot] = [
            KvmMemorySlot.create(prog, 0, base_gfn, npages, max_level=max_level, level_bits=self.level_bits,
                                 log_dirty_pages=log_dirty_pages)
        ]
        # sp_free=typesafe_slab (series v2): headers and tables from SLAB_DESTROY_BY_RCU caches
        typesafe_sp = sw.sp_free == "typesafe_slab"
        self.sp_cache: KmemCache = kmem_cache_create(prog, MMU_PAGE_HEADER_CACHE, sp_fields(self.spt_entries),
                                                     SLAB_TYPESAFE_BY_RCU if typesafe_sp else 0, sp_capacity)
        spt_flags = SLAB_TYPESAFE_BY_RCU if sw.spt_cache == "typesafe_by_rcu" or typesafe_sp else 0
        spt_stride = 4 if sw.pte_list == "6.15" else 2
        self.spt_cache: KmemCache = kmem_cache_create(prog, MMU_PAGE_SPT_CACHE,
                                                      spt_fields(self.spt_entries, spt_stride), spt_flags, sp_capacity)
        desc_flags = SLAB_TYPESAFE_BY_RCU if sw.desc_cache == "typesafe_by_rcu" else 0
        self.desc_cache: KmemCache = kmem_cache_create(prog, PTE_LIST_DESC_CACHE, desc_fields(self.ext, sw.pte_list),
                                                       desc_flags, desc_capacity)
        for obj in self.spt_cache.objects:
            if obj % DYN_OBJ_STRIDE:
                raise AssertionError("shadow page tables must be aligned (spte pointers have bit 0 clear)")
        #: spte address -> (table object, index): ``page_header``'s address arithmetic
        self._spte_at: dict[int, tuple[int, int]] = {}
        for obj in self.spt_cache.objects:
            for i in range(self.spt_entries):
                self._spte_at[self.spt_cache.f(obj, f"spt[{i}]")] = (obj, i)

    # -- building the initial state -------------------------------------------------------------
    @property
    def is_building(self) -> bool:
        return self.ops is not self._runtime_ops

    @contextmanager
    def building(self) -> Iterator[KvmMmu]:
        """Run model functions on the initial memory (``prog.init``) instead of in a thread."""
        if self.is_building:
            raise ModelError("KvmMmu.building() does not nest")
        self.ops = build_ops(self.prog)
        try:
            yield self
        finally:
            self.ops = self._runtime_ops

    def prealloc_page(self, level: int, gfn: int, direct: bool = True) -> int:
        """A shadow page allocated before the threads start (``kvm_mmu_alloc_page`` at build time)."""
        with self.building():
            return kvm_mmu_alloc_page(self, level, gfn, direct)

    def initial_sptep(self, sp: int, index: int) -> int:
        """The address of entry ``index`` of a shadow page built at build time."""
        return self.spt_entry(int(self.prog.init[self.sp_field(sp, "spt")]), index)

    def set_initial(self, addr: int, value: Any) -> None:
        """Set the initial value of a location (an spte, ``gfns[i]``...)."""
        if value == 0:
            self.prog.init.pop(int(addr), None)
        else:
            self.prog.init[int(addr)] = value

    # -- addresses (Python arithmetic, no events) -------------------------------------------------
    def sp_field(self, sp: int, name: str) -> int:
        return self.sp_cache.f(sp, name)

    def spt_entry(self, spt: int, index: int) -> int:
        """``&spt[index]``: the address of an spte."""
        if not 0 <= index < self.spt_entries:
            raise ModelError(f"spte index {index} out of range (spt_entries = {self.spt_entries})")
        return self.spt_cache.f(spt, f"spt[{index}]")

    def spte_location(self, sptep: int) -> tuple[int, int]:
        """(table object, index) of the spte at ``sptep`` (``__pa(sptep) & PAGE_MASK`` and
        ``sptep - sp->spt``); a pointer that is not an spte is a model bug."""
        found = self._spte_at.get(int(sptep))
        if found is None:
            raise ModelError(f"{sptep!r} is not the address of an spte")
        # address arithmetic: both carry the dependencies of the pointer (the dict lookup would
        # drop them, and an address dependency lost is an ordering LKMM would no longer see)
        return with_deps(found[0], sptep), with_deps(found[1], sptep)

    def rmap_level_count(self) -> int:
        return max(slot.max_level for slot in self.memslots)

    # -- final states ---------------------------------------------------------------------------
    def observe_rmaps(self) -> None:
        """Put every rmap head, every desc field and the desc cache's freelist into the final
        state (``prog.observed``), so that conditions can decode the rmaps with
        :meth:`final_mem` and ``pte_list.pte_list_entries``."""
        locs: list[Loc] = [h for slot in self.memslots for h in slot.rmap_heads()]
        for obj in self.desc_cache.objects:
            for name in self.desc_cache.fields:
                addr = self.desc_cache.f(obj, name)
                locs.append(Loc(addr, self.prog.names[addr]))
        locs.append(self.desc_cache.freelist)
        have = {int(x) for x in self.prog.observed}
        self.prog.observed.extend(x for x in locs if int(x) not in have)

    def observe_dirty_bitmaps(self) -> None:
        """Put every memslot's live dirty-bitmap words into the final state."""
        have = {int(x) for x in self.prog.observed}
        for slot in self.memslots:
            for w in slot.dirty_bitmap or []:
                if int(w) not in have:
                    self.prog.observed.append(w)

    def final_mem(self, final: Mapping[str, Any]) -> Callable[[int], Any]:
        """``mem(addr)``: the value of an observed location in a final state."""
        names = self.prog.names
        return lambda addr: final[names[int(addr)]]

    def free_descs(self, final: Mapping[str, Any]) -> tuple[int, ...]:
        """The free desc objects in a final state (needs :meth:`observe_rmaps`)."""
        return tuple(final[self.desc_cache.freelist.name])


# -- struct kvm_mmu_page -----------------------------------------------------------------------------

def kvm_mmu_alloc_page(kvm: KvmMmu, level: int, gfn: int, direct: bool = True, parent_pte: int = 0) -> int:
    """Models ``kvm_mmu_alloc_page()`` with the initialisation ``kvm_mmu_get_page()`` and
    ``init_shadow_page_table()`` then do (arch/x86/kvm/mmu.c, 3.11): take a header and a table,
    ``set_page_private(virt_to_page(sp->spt), sp)``, set ``role.level``, ``role.direct``,
    ``gfn``, ``parent_ptes = 0`` (plus the parent pte if given), and zero every spte.

    Returns the header's address.  Differences: caches are slab caches of the model (3.11 pops
    them from the vCPU's pre-filled ``mmu_page_header_cache``/``mmu_page_cache``; both are filled
    before mmu_lock is taken, so allocation never fails under the lock); no hash list, no active
    list, no ``kvm_mod_used_mmu_pages``.  The caller holds mmu_lock.
    """
    if level < 1:
        raise ModelError(f"kvm_mmu_alloc_page: bad level {level}")
    ops, f = kvm.ops, kvm.sp_field
    sp = check_alloc(kvm.sp_cache, ops.cache_alloc(kvm.sp_cache))
    spt = check_alloc(kvm.spt_cache, ops.cache_alloc(kvm.spt_cache))
    ops.kernel_write(f(sp, "spt"), spt)
    ops.kernel_write(kvm.spt_cache.f(spt, "private"), sp)  # set_page_private()
    ops.write(f(sp, "parent_ptes"), 0)  # a pte-list head, accessed as the rmap heads are
    if parent_pte:
        pte_list_add(kvm, parent_pte, f(sp, "parent_ptes"))  # mmu_page_add_parent_pte()
    ops.kernel_write(f(sp, "gfn"), gfn)
    ops.kernel_write(f(sp, "role_level"), level)
    ops.kernel_write(f(sp, "role_direct"), 1 if direct else 0)
    ops.kernel_write(f(sp, "role_invalid"), 0)
    init_shadow_page_table(kvm, spt)
    return sp


def init_shadow_page_table(kvm: KvmMmu, spt: int) -> None:
    """Models ``init_shadow_page_table()`` (arch/x86/kvm/mmu.c, 3.11): every entry of a new
    table set to 0.  ``spt_init=plain``: plain C stores, as 3.11's ``sp->spt[i] = 0ull`` (a
    table fresh from the page allocator has no reader); ``once``: ``WRITE_ONCE``, the store
    ``__set_spte`` makes -- what a table from a type-stable cache needs, since a lockless
    walker still holding a pointer into its previous life may ``READ_ONCE`` the same words
    (a plain store against that read is a data race)."""
    write = kvm.ops.spte_write if kvm.sw.spt_init == "once" else kvm.ops.kernel_write
    for i in range(kvm.spt_entries):
        write(kvm.spt_entry(spt, i), 0)


def kvm_mmu_free_page(kvm: KvmMmu, sp: int) -> None:
    """Models ``kvm_mmu_free_page()`` (arch/x86/kvm/mmu.c, 3.11): free the table
    (3.11: ``free_page(sp->spt)``, immediately) and the header (``kmem_cache_free``).
    No hash/active list.  Callers that need the freeing delayed (call_rcu, the 2013 v1
    ``rcu_free_shadow_page``) call this from an RCU callback."""
    spt = kvm.ops.kernel_read(kvm.sp_field(sp, "spt"))
    kvm.ops.cache_free(kvm.spt_cache, spt)
    kvm.ops.cache_free(kvm.sp_cache, sp)


def page_header(kvm: KvmMmu, sptep: int) -> int:
    """Models ``page_header(__pa(sptep))`` (arch/x86/kvm/mmu.h, 3.11): the shadow page whose
    table holds ``sptep``, read from the table's ``page_private`` (one plain load)."""
    spt, _ = kvm.spte_location(sptep)
    return kvm.ops.kernel_read(kvm.spt_cache.f(spt, "private"))


def spte_index(kvm: KvmMmu, sptep: int) -> int:
    """``sptep - sp->spt``: the index of an spte in its table (address arithmetic)."""
    return kvm.spte_location(sptep)[1]


def kvm_mmu_page_get_gfn(kvm: KvmMmu, sp: int, index: int) -> int:
    """Models ``kvm_mmu_page_get_gfn()`` (arch/x86/kvm/mmu.c, 3.11): ``sp->gfns[index]`` for an
    indirect page; for a direct one ``sp->gfn + (index << ((level - 1) * level_bits))``."""
    ops, f = kvm.ops, kvm.sp_field
    if not ops.kernel_read(f(sp, "role_direct")):
        return int(ops.kernel_read(f(sp, f"gfns[{index}]")))
    gfn = int(ops.kernel_read(f(sp, "gfn")))
    level = int(ops.kernel_read(f(sp, "role_level")))
    return gfn + (index << ((level - 1) * kvm.level_bits))


def kvm_mmu_page_set_gfn(kvm: KvmMmu, sp: int, index: int, gfn: int) -> None:
    """Models ``kvm_mmu_page_set_gfn()`` (arch/x86/kvm/mmu.c, 3.11): record the gfn of an
    indirect page's entry; for a direct page, ``BUG_ON`` if it is not the computed one."""
    ops, f = kvm.ops, kvm.sp_field
    if ops.kernel_read(f(sp, "role_direct")):
        expected = kvm_mmu_page_get_gfn(kvm, sp, index)
        if gfn != expected:
            raise Violated("BUG", f"kvm_mmu_page_set_gfn: gfn {gfn} in a direct page that maps {expected}")
    else:
        ops.kernel_write(f(sp, f"gfns[{index}]"), gfn)


__all__ = [
    "MMU_PAGE_HEADER_CACHE", "MMU_PAGE_SPT_CACHE", "PTE_LIST_DESC_CACHE", "KvmMmu", "desc_fields",
    "init_shadow_page_table",
    "kvm_mmu_alloc_page", "kvm_mmu_free_page", "kvm_mmu_page_get_gfn", "kvm_mmu_page_set_gfn",
    "page_header", "sp_fields", "spt_fields", "spte_index",
]
