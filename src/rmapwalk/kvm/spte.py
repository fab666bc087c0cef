"""Shadow page-table entries (sptes) as 64-bit values: the bit layout and the predicates of
``arch/x86/kvm/mmu.c`` (Linux 3.11), plus the level marker of the 2013 review.

Everything here is a pure function on ints: no memory access, no event.  Reading or writing an
spte in shared memory is done by the callers with kernel primitives.

Layout (``kvm-reference.md`` §1.1):

====== ======================== ===========================================================
bit    name                     meaning
====== ======================== ===========================================================
0      ``PT_PRESENT_MASK``      present
1      ``PT_WRITABLE_MASK``     hardware-writable (W)
2      ``PT_USER_MASK``         user
5, 6   ``PT_ACCESSED_MASK``,    accessed / dirty (shadow paging values; the model has A/D)
       ``PT_DIRTY_MASK``
7      ``PT_PAGE_SIZE_MASK``    large page (set only in leaves of tables above level 1)
10     ``SPTE_HOST_WRITEABLE``  the host mapping of the gfn is writable
11     ``SPTE_MMU_WRITEABLE``   the guest pte allows writes and the gfn is not write-protected
12..51 ``PT64_BASE_ADDR_MASK``  pfn (leaf) or child table address (non-leaf)
52..54 ``SPTE_LEVEL_MASK``      model only, optional: level of the table holding the spte
62, 63 (in ``SHADOW_MMIO_MASK``) with bit 0: marks an MMIO spte
63     ``PT64_NX_MASK``         no-execute
====== ======================== ===========================================================

The level field is the proposal of the 2013 review (seed mail: Gleb suggested taking ``sp->spt``
from a ``SLAB_DESTROY_BY_RCU`` cache; Xiao answered that the mapping level must then be encoded
in the spte "so that cmpxchg can understand if the page table has been moved to another mapping
level"; v2 patch "check last spte with unawareness of mapping level", §3.8).  The exact encoding
of the series was not recovered; this one uses software-available bits 52..54 and is only set
when ``encode_level=True``, so 3.11 values are unchanged.
"""

from __future__ import annotations

PT_PRESENT_MASK = 1 << 0
PT_WRITABLE_MASK = 1 << 1
PT_USER_MASK = 1 << 2
PT_ACCESSED_MASK = 1 << 5
PT_DIRTY_MASK = 1 << 6
PT_PAGE_SIZE_MASK = 1 << 7
PT64_NX_MASK = 1 << 63

PT_FIRST_AVAIL_BITS_SHIFT = 10
PT64_SECOND_AVAIL_BITS_SHIFT = 52
SPTE_HOST_WRITEABLE = 1 << PT_FIRST_AVAIL_BITS_SHIFT
SPTE_MMU_WRITEABLE = 1 << (PT_FIRST_AVAIL_BITS_SHIFT + 1)

PAGE_SHIFT = 12
PT64_BASE_ADDR_MASK = ((1 << 52) - 1) & ~((1 << PAGE_SHIFT) - 1)

#: model only: the level of the table holding the spte (0 = not encoded)
SPTE_LEVEL_SHIFT = PT64_SECOND_AVAIL_BITS_SHIFT
SPTE_LEVEL_MASK = 0x7 << SPTE_LEVEL_SHIFT

#: model only, never read by the modelled kernel code: set in every non-leaf entry
#: (``make_nonleaf_spte``) so that invariant checks (I7) can tell a non-leaf entry from a level-1
#: leaf by the value without any memory access
SPTE_GHOST_NONLEAF = 1 << 57

#: shadow paging's MMIO marker (3.11 sets reserved bits plus present through
#: ``kvm_mmu_set_mmio_spte_mask``; the model keeps bits 62, 63 and 0)
SHADOW_MMIO_MASK = (0x3 << 62) | PT_PRESENT_MASK

PT_PAGE_TABLE_LEVEL = 1
PT_DIRECTORY_LEVEL = 2
PT_PDPE_LEVEL = 3
KVM_NR_PAGE_SIZES = 3

ACC_EXEC_MASK = 1
ACC_WRITE_MASK = PT_WRITABLE_MASK
ACC_USER_MASK = PT_USER_MASK
ACC_ALL = ACC_EXEC_MASK | ACC_WRITE_MASK | ACC_USER_MASK

#: the shadow A/D masks of shadow paging (EPT without A/D support would make them 0)
shadow_accessed_mask = PT_ACCESSED_MASK
shadow_dirty_mask = PT_DIRTY_MASK


def is_mmio_spte(spte: int) -> bool:
    """Models ``is_mmio_spte()`` (arch/x86/kvm/mmu.c, 3.11)."""
    return spte & SHADOW_MMIO_MASK == SHADOW_MMIO_MASK


def is_shadow_present_pte(spte: int) -> bool:
    """Models ``is_shadow_present_pte()`` (arch/x86/kvm/mmu.c, 3.11): present and not MMIO."""
    return bool(spte & PT_PRESENT_MASK) and not is_mmio_spte(spte)


def is_rmap_spte(spte: int) -> bool:
    """Models ``is_rmap_spte()`` (arch/x86/kvm/mmu.c, 3.11): the sptes that live on rmaps are
    exactly the shadow-present ones."""
    return is_shadow_present_pte(spte)


def is_writable_pte(spte: int) -> bool:
    """Models ``is_writable_pte()`` (arch/x86/kvm/mmu.h, 3.11): the hardware W bit."""
    return bool(spte & PT_WRITABLE_MASK)


def is_large_pte(spte: int) -> bool:
    """Models ``is_large_pte()`` (arch/x86/kvm/mmu.c, 3.11): the PSE bit."""
    return bool(spte & PT_PAGE_SIZE_MASK)


def is_last_spte(spte: int, level: int) -> bool:
    """Models ``is_last_spte(pte, level)`` (arch/x86/kvm/mmu.c, 3.11): a leaf iff the table
    holding it is level 1 or the large bit is set.  Needs the level of the *table*; the value
    alone does not say whether a level-1 entry is a leaf (bit 7 is PAT there)."""
    return level == PT_PAGE_TABLE_LEVEL or is_large_pte(spte)


def spte_level(spte: int) -> int:
    """Model only: the table level encoded in ``spte`` by ``encode_level=True``, 0 if none."""
    return (spte & SPTE_LEVEL_MASK) >> SPTE_LEVEL_SHIFT


def is_last_spte_by_value(spte: int) -> bool:
    """Leaf-ness decided from the value alone, the 2013 series' v2 "check last spte with
    unawareness of mapping level" (reconstructed, §3.8; not in 3.11): a leaf iff the encoded
    table level is 1, or it is above 1 and the large bit is set.  A value without an encoded
    level is not known to be a leaf: ``False``."""
    lvl = spte_level(spte)
    if lvl == 0:
        return False
    return lvl == PT_PAGE_TABLE_LEVEL or is_large_pte(spte)


def spte_to_pfn(spte: int) -> int:
    """Models ``spte_to_pfn()`` (arch/x86/kvm/mmu.c, 3.11)."""
    return (spte & PT64_BASE_ADDR_MASK) >> PAGE_SHIFT


def spte_is_locklessly_modifiable(spte: int) -> bool:
    """Models ``spte_is_locklessly_modifiable()`` (arch/x86/kvm/mmu.c, 3.11): both
    SPTE_HOST_WRITEABLE and SPTE_MMU_WRITEABLE are set, so ``fast_page_fault`` may set W without
    mmu_lock."""
    both = SPTE_HOST_WRITEABLE | SPTE_MMU_WRITEABLE
    return spte & both == both


def spte_has_volatile_bits(spte: int, lockless_volatile: bool = True) -> bool:
    """Models ``spte_has_volatile_bits()`` (arch/x86/kvm/mmu.c, 3.11): whether overwriting the
    spte must use an atomic xchg (the fast path may set W, the CPU may set A/D).
    ``lockless_volatile=False`` drops the first test (switch ``volatile_bits=ad_only``, R2)."""
    if lockless_volatile and spte_is_locklessly_modifiable(spte):
        return True
    if not shadow_accessed_mask:
        return False
    if not is_shadow_present_pte(spte):
        return False
    if spte & shadow_accessed_mask and (not is_writable_pte(spte) or spte & shadow_dirty_mask):
        return False
    return True


def spte_is_bit_cleared(old_spte: int, new_spte: int, bit_mask: int) -> bool:
    """Models ``spte_is_bit_cleared()`` (arch/x86/kvm/mmu.c, 3.11)."""
    return bool(old_spte & bit_mask) and not new_spte & bit_mask


def make_spte(pfn: int, level: int = PT_PAGE_TABLE_LEVEL, writable: bool = False, *,
              user: bool = True, accessed: bool = True, dirty: bool = False,
              host_writable: bool = True, mmu_writable: bool | None = None,
              encode_level: bool = False) -> int:
    """A leaf spte mapping ``pfn`` from a table of ``level``: the value ``set_spte()``
    (arch/x86/kvm/mmu.c, 3.11) computes, without the MMIO, memtype and NX parts.

    * present; ``PT_PAGE_SIZE_MASK`` iff ``level > 1``; A unless ``accessed=False``
      (a speculative spte); U if ``user``;
    * ``host_writable`` sets SPTE_HOST_WRITEABLE; without it the spte cannot be writable
      (``set_spte`` drops ACC_WRITE_MASK);
    * ``writable`` sets W and SPTE_MMU_WRITEABLE;
    * ``mmu_writable=True`` with ``writable=False`` gives a dirty-log write-protected spte
      (W clear, MMU-writable: the fast path may restore W); ``mmu_writable=False`` with
      ``writable=False`` a shadow-page write-protected one;
    * ``encode_level`` adds the model's level field (see the module doc).
    """
    if writable and not host_writable:
        raise ValueError("make_spte: a writable spte needs host_writable")
    if mmu_writable is None:
        mmu_writable = writable
    if writable and not mmu_writable:
        raise ValueError("make_spte: a writable spte is always MMU-writable")
    s = PT_PRESENT_MASK | (pfn << PAGE_SHIFT) & PT64_BASE_ADDR_MASK
    if pfn << PAGE_SHIFT & ~PT64_BASE_ADDR_MASK:
        raise ValueError(f"make_spte: pfn {pfn:#x} does not fit")
    if user:
        s |= PT_USER_MASK
    if accessed:
        s |= shadow_accessed_mask
    if dirty:
        s |= shadow_dirty_mask
    if level > PT_PAGE_TABLE_LEVEL:
        s |= PT_PAGE_SIZE_MASK
    if host_writable:
        s |= SPTE_HOST_WRITEABLE
    if mmu_writable:
        s |= SPTE_MMU_WRITEABLE
    if writable:
        s |= PT_WRITABLE_MASK
    if encode_level:
        s |= level << SPTE_LEVEL_SHIFT
    return s


def make_nonleaf_spte(child: int, level: int, *, encode_level: bool = False) -> int:
    """The non-leaf entry ``link_shadow_page()`` (arch/x86/kvm/mmu.c, 3.11) writes into a table
    of ``level`` (> 1) to point at a child table: present, writable, user, accessed (upper levels
    are always fully permissive), with ``child`` (the child table's address in the model) in
    the address field, and the model's ghost marker ``SPTE_GHOST_NONLEAF`` (for invariants only)."""
    if level <= PT_PAGE_TABLE_LEVEL:
        raise ValueError("make_nonleaf_spte: a level-1 table holds only leaves")
    s = PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK | PT_ACCESSED_MASK | SPTE_GHOST_NONLEAF
    s |= (child << PAGE_SHIFT) & PT64_BASE_ADDR_MASK
    if child << PAGE_SHIFT & ~PT64_BASE_ADDR_MASK:
        raise ValueError(f"make_nonleaf_spte: child {child:#x} does not fit")
    if encode_level:
        s |= level << SPTE_LEVEL_SHIFT
    return s


def is_ghost_nonleaf(spte: int) -> bool:
    """Model only (invariant checks): whether ``spte`` is a non-leaf entry written by
    ``make_nonleaf_spte``.  Modelled kernel code must not call this."""
    return bool(spte & SPTE_GHOST_NONLEAF)


def spte_describe(spte: int) -> str:
    """A short human-readable form, e.g. ``P|W|HW|MW|A pfn=0x3`` (for traces and messages)."""
    if spte == 0:
        return "0"
    if is_mmio_spte(spte):
        return f"mmio({spte:#x})"
    names = [("P", PT_PRESENT_MASK), ("W", PT_WRITABLE_MASK), ("U", PT_USER_MASK),
             ("A", PT_ACCESSED_MASK), ("D", PT_DIRTY_MASK), ("L", PT_PAGE_SIZE_MASK),
             ("HW", SPTE_HOST_WRITEABLE), ("MW", SPTE_MMU_WRITEABLE), ("NL", SPTE_GHOST_NONLEAF)]
    bits = "|".join(n for n, m in names if spte & m) or "-"
    lvl = spte_level(spte)
    return f"{bits} pfn={spte_to_pfn(spte):#x}" + (f" lvl={lvl}" if lvl else "")


__all__ = [
    "ACC_ALL", "ACC_EXEC_MASK", "ACC_USER_MASK", "ACC_WRITE_MASK", "KVM_NR_PAGE_SIZES", "PAGE_SHIFT",
    "PT64_BASE_ADDR_MASK", "PT64_NX_MASK", "PT_ACCESSED_MASK", "PT_DIRECTORY_LEVEL", "PT_DIRTY_MASK",
    "PT_PAGE_SIZE_MASK", "PT_PAGE_TABLE_LEVEL", "PT_PDPE_LEVEL", "PT_PRESENT_MASK", "PT_USER_MASK",
    "PT_WRITABLE_MASK", "SHADOW_MMIO_MASK", "SPTE_GHOST_NONLEAF", "SPTE_HOST_WRITEABLE", "SPTE_LEVEL_MASK",
    "SPTE_LEVEL_SHIFT", "SPTE_MMU_WRITEABLE", "is_ghost_nonleaf", "is_large_pte", "is_last_spte",
    "is_last_spte_by_value", "is_mmio_spte", "is_rmap_spte", "is_shadow_present_pte", "is_writable_pte",
    "make_nonleaf_spte", "make_spte", "spte_describe", "spte_has_volatile_bits", "spte_is_bit_cleared",
    "spte_is_locklessly_modifiable", "spte_level", "spte_to_pfn",
]
