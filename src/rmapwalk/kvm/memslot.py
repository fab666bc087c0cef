"""Memory slots: per-level rmap arrays and the dirty bitmap (``struct kvm_memory_slot`` and
``struct kvm_arch_memory_slot``, include/linux/kvm_host.h and arch/x86/include/asm/kvm_host.h,
Linux 3.11; ``kvm-reference.md`` §1.4, §1.5, §2.12).

A slot is built with the program and never changes during exploration: memslot updates are
serialised by ``slots_lock`` and readers are protected by SRCU in the kernel, and no scenario of
this model changes the slot layout while threads run.  Its geometry (``base_gfn``, ``npages``,
addresses of the arrays) is therefore Python data that thread code may read freely; only the
*contents* of the rmap heads and bitmap words are shared locations.

Geometry is scaled with the model's page tables: a level-L rmap entry covers
``spt_entries ** (L-1)`` gfns (the kernel: ``512 ** (L-1)``).  With ``spt_entries = 4`` and
``npages = 8``, the level-2 array has two entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rmapwalk.engine.program import Loc, Program
from rmapwalk.kernel.bitops import BITS_PER_LONG, set_bit

KVM_MEM_LOG_DIRTY_PAGES = 1 << 0


def gfn_to_index(gfn: int, base_gfn: int, level: int, level_bits: int) -> int:
    """Models ``gfn_to_index()`` (include/linux/kvm_host.h, 3.11), with ``level_bits`` bits per
    level (the kernel's 9 = ``PT64_LEVEL_BITS``)."""
    shift = level_bits * (level - 1)
    return (gfn >> shift) - (base_gfn >> shift)


@dataclass
class KvmMemorySlot:
    """``struct kvm_memory_slot`` with its ``arch.rmap[]`` arrays.

    ``rmap[level]`` is the list of rmap head locations of that level (level 1 always; higher
    levels up to ``max_level``).  ``dirty_bitmap`` is the live half of the bitmap (64-bit words,
    ``None`` without ``KVM_MEM_LOG_DIRTY_PAGES``), ``dirty_bitmap_buffer`` the second half that
    ``KVM_GET_DIRTY_LOG`` uses as its snapshot buffer (§1.5).
    """

    id: int
    base_gfn: int
    npages: int
    flags: int
    level_bits: int
    rmap: dict[int, list[Loc]] = field(default_factory=dict)
    dirty_bitmap: list[Loc] | None = None
    dirty_bitmap_buffer: list[Loc] | None = None

    @classmethod
    def create(cls, prog: Program, slot_id: int, base_gfn: int, npages: int, *, max_level: int = 1,
               level_bits: int = 2, log_dirty_pages: bool = True, name: str | None = None) -> KvmMemorySlot:
        """Lay out the slot's shared locations in ``prog`` (all initially 0, not observed)."""
        if npages < 1:
            raise ValueError("a memslot needs at least one page")
        nm = name or f"slot{slot_id}"
        slot = cls(slot_id, base_gfn, npages, KVM_MEM_LOG_DIRTY_PAGES if log_dirty_pages else 0, level_bits)
        last = base_gfn + npages - 1
        for level in range(1, max_level + 1):
            n = gfn_to_index(last, base_gfn, level, level_bits) + 1
            slot.rmap[level] = prog.array(f"{nm}.rmap[{level}]", n, observe=False)
        if log_dirty_pages:
            words = kvm_dirty_bitmap_words(npages)
            slot.dirty_bitmap = prog.array(f"{nm}.dirty_bitmap", words, observe=False)
            slot.dirty_bitmap_buffer = prog.array(f"{nm}.dirty_bitmap_buffer", words, observe=False)
        return slot

    @property
    def max_level(self) -> int:
        return max(self.rmap)

    def contains(self, gfn: int) -> bool:
        return self.base_gfn <= gfn < self.base_gfn + self.npages

    def gfns(self) -> range:
        return range(self.base_gfn, self.base_gfn + self.npages)

    def rmap_heads(self) -> list[Loc]:
        """Every rmap head of the slot, level by level."""
        return [h for level in sorted(self.rmap) for h in self.rmap[level]]


def kvm_dirty_bitmap_words(npages: int) -> int:
    """``kvm_dirty_bitmap_bytes()`` (include/linux/kvm_host.h, 3.11) in 64-bit words:
    ``ALIGN(npages, BITS_PER_LONG) / BITS_PER_LONG``."""
    return (npages + BITS_PER_LONG - 1) // BITS_PER_LONG


class HasMemslots(Protocol):
    """What the functions below use of the VM (``rmapwalk.kvm.mmu_page.KvmMmu``, which imports this
    module): its memslots."""

    @property
    def memslots(self) -> Sequence[KvmMemorySlot]: ...


def gfn_to_memslot(kvm: HasMemslots, gfn: int) -> KvmMemorySlot | None:
    """Models ``gfn_to_memslot()`` (virt/kvm/kvm_main.c, 3.11): the slot holding ``gfn``, or
    ``None``.  Slots are fixed during exploration, so this is a Python lookup (no event)."""
    for slot in kvm.memslots:
        if slot.contains(gfn):
            return slot
    return None


def __gfn_to_rmap(gfn: int, level: int, slot: KvmMemorySlot) -> Loc:  # noqa: N807 - the kernel's name
    """Models ``__gfn_to_rmap()`` (arch/x86/kvm/mmu.c, 3.11): ``&slot->arch.rmap[level-1][idx]``
    (an address: no event)."""
    if level not in slot.rmap:
        raise ValueError(f"slot {slot.id} has no level-{level} rmaps (max_level {slot.max_level})")
    return slot.rmap[level][gfn_to_index(gfn, slot.base_gfn, level, slot.level_bits)]


def mark_page_dirty_in_slot(kvm: HasMemslots, slot: KvmMemorySlot | None, gfn: int) -> None:
    """Models ``mark_page_dirty_in_slot()`` (virt/kvm/kvm_main.c, 3.11): if the slot logs dirty
    pages, atomically set bit ``gfn - base_gfn`` of its live bitmap (``set_bit_le``, an
    unordered atomic RMW: ``kvm.kernel.bitops.set_bit``).  No lock."""
    if slot is not None and slot.dirty_bitmap is not None:
        set_bit(gfn - slot.base_gfn, slot.dirty_bitmap[0])


def mark_page_dirty(kvm: HasMemslots, gfn: int) -> None:
    """Models ``mark_page_dirty()`` (virt/kvm/kvm_main.c, 3.11)."""
    mark_page_dirty_in_slot(kvm, gfn_to_memslot(kvm, gfn), gfn)


__all__ = [
    "KVM_MEM_LOG_DIRTY_PAGES", "KvmMemorySlot", "__gfn_to_rmap", "gfn_to_index", "gfn_to_memslot",
    "kvm_dirty_bitmap_words", "mark_page_dirty", "mark_page_dirty_in_slot",
]
