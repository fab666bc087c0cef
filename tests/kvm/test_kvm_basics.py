"""Switches, spte bits, memslots, shadow pages and rmap_add/rmap_remove (one thread each)."""

from __future__ import annotations

from typing import Any

import pytest

from rmapwalk.engine import ModelError, Program, explore, observe
from rmapwalk.kernel import READ_ONCE
from rmapwalk.kvm import (
    KvmMmu,
    Switches,
    gfn_to_memslot,
    gfn_to_rmap,
    kvm_mmu_alloc_page,
    kvm_mmu_free_page,
    kvm_mmu_page_get_gfn,
    mark_page_dirty,
    page_header,
    rmap_add,
    rmap_remove,
    rmap_sptes,
)
from rmapwalk.kvm import spte as S
from rmapwalk.kvm.memslot import gfn_to_index, kvm_dirty_bitmap_words
from rmapwalk.kvm.switches import SWITCHES, switch_table


def final_of(prog: Program, model: str = "sc") -> dict[str, Any]:
    res = explore(prog, model)
    assert res.verdict == "holds", res.violations[:1]
    assert len(res.outcomes) == 1
    return dict(next(iter(res.outcomes)))


# -- switches -------------------------------------------------------------------------------------------------

def test_switch_defaults_are_3_11() -> None:
    sw = Switches()
    assert sw.pte_list == "3.11" and sw.desc_cache == "plain" and sw.nulls == "off"
    assert sw.desc_init == "3.11" and sw.rmap_access == "marked" and sw.publish == "none"
    assert sw.pte_list_ext == 3 and sw.spt_entries == 4
    assert sw.describe() == "defaults"
    assert set(sw.as_dict()) == set(SWITCHES)


def test_switch_validation_names_the_valid_choices() -> None:
    with pytest.raises(ValueError, match="3.11, head"):
        Switches(pte_list="tail")
    with pytest.raises(ValueError, match="valid switches: pte_list, add_position, desc_cache"):
        Switches(pte_lists="head")
    with pytest.raises(ValueError, match="valid switches"):
        Switches.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="1 <= n <= 16"):
        Switches(pte_list_ext=0)
    with pytest.raises(ValueError, match="not an int"):
        Switches(pte_list_ext="3")
    with pytest.raises(ValueError, match="power of two"):
        Switches(spt_entries=6)


def test_switch_replace_and_table() -> None:
    sw = Switches.from_dict({"pte_list": "head"}, nulls="on")
    sw2 = sw.replace(desc_cache="typesafe_by_rcu")
    assert (sw2.pte_list, sw2.nulls, sw2.desc_cache) == ("head", "on", "typesafe_by_rcu")
    assert sw.desc_cache == "plain"  # immutable
    assert sw2.describe() == "pte_list=head desc_cache=typesafe_by_rcu nulls=on"
    assert sw2 == Switches(pte_list="head", nulls="on", desc_cache="typesafe_by_rcu")
    text = switch_table()
    assert all(name in text for name in SWITCHES) and "default 3.11" in text


def test_kvm_keyword_switches_override() -> None:
    p = Program("kw")
    kvm = KvmMmu(p, Switches(pte_list="head"), nulls="on")
    assert kvm.sw.pte_list == "head" and kvm.sw.nulls == "on"
    with pytest.raises(ValueError):
        KvmMmu(Program("x"), bogus="on")


# -- spte bits --------------------------------------------------------------------------------------------------

def test_spte_bits() -> None:
    s = S.make_spte(0x42, writable=True)
    assert S.is_shadow_present_pte(s) and S.is_writable_pte(s) and not S.is_large_pte(s)
    assert S.spte_to_pfn(s) == 0x42
    assert S.spte_is_locklessly_modifiable(s) and S.spte_has_volatile_bits(s)
    assert S.is_last_spte(s, 1) and not S.is_last_spte(s, 2)
    ro = S.make_spte(0x42, mmu_writable=True)  # dirty-log write-protected: fast path may fix it
    assert not S.is_writable_pte(ro) and S.spte_is_locklessly_modifiable(ro)
    pt = S.make_spte(0x42, mmu_writable=False)  # shadow-page write-protected
    assert not S.spte_is_locklessly_modifiable(pt)
    large = S.make_spte(7, level=2, writable=True)
    assert S.is_large_pte(large) and S.is_last_spte(large, 2)
    nohost = S.make_spte(1, host_writable=False)
    assert not nohost & S.SPTE_HOST_WRITEABLE
    with pytest.raises(ValueError):
        S.make_spte(1, writable=True, host_writable=False)
    assert not S.is_shadow_present_pte(0) and not S.is_rmap_spte(0)
    mmio = S.SHADOW_MMIO_MASK | (5 << S.PAGE_SHIFT)
    assert S.is_mmio_spte(mmio) and not S.is_shadow_present_pte(mmio)
    assert S.spte_is_bit_cleared(s, s & ~S.PT_WRITABLE_MASK, S.PT_WRITABLE_MASK)
    assert "W" in S.spte_describe(s) and S.spte_describe(0) == "0"


def test_level_marker_decides_leafness_from_the_value() -> None:
    leaf1 = S.make_spte(3, level=1, encode_level=True)
    leaf2 = S.make_spte(3, level=2, encode_level=True)
    table = S.make_nonleaf_spte(0x99, level=2, encode_level=True)
    assert S.spte_level(leaf1) == 1 and S.spte_level(table) == 2
    assert S.is_last_spte_by_value(leaf1) and S.is_last_spte_by_value(leaf2)
    assert not S.is_last_spte_by_value(table)
    assert not S.is_last_spte_by_value(S.make_spte(3))  # no level encoded: not known to be a leaf
    # without the marker, a level-1 leaf and a non-leaf entry differ only by the table's level
    assert S.is_last_spte(S.make_spte(3), 1) and not S.is_last_spte(S.make_nonleaf_spte(3, 2), 2)
    assert S.spte_to_pfn(table) == 0x99 and S.is_writable_pte(table)
    assert S.make_spte(3) == S.make_spte(3, encode_level=True) & ~S.SPTE_LEVEL_MASK


def test_volatile_bits() -> None:
    assert not S.spte_has_volatile_bits(0)
    a_ro = S.make_spte(1, mmu_writable=False)  # A set, W clear, not MMU-writable
    assert not S.spte_has_volatile_bits(a_ro)
    no_a = S.make_spte(1, accessed=False, mmu_writable=False)
    assert S.spte_has_volatile_bits(no_a)  # the CPU may still set A


# -- memslots ---------------------------------------------------------------------------------------------------

def test_memslot_geometry() -> None:
    p = Program("slot")
    kvm = KvmMmu(p, npages=8, base_gfn=6, max_level=2)  # spt_entries = 4: 2 bits per level
    slot = kvm.memslots[0]
    assert len(slot.rmap[1]) == 8 and len(slot.rmap[2]) == 3  # gfns 6..13: large pages 1, 2, 3
    assert gfn_to_index(13, 6, 2, 2) == 2
    assert gfn_to_rmap(kvm, 7, 1) == slot.rmap[1][1]
    assert gfn_to_rmap(kvm, 8, 2) == gfn_to_rmap(kvm, 11, 2) == slot.rmap[2][1]
    assert gfn_to_rmap(kvm, 6, 2) == slot.rmap[2][0]
    assert gfn_to_memslot(kvm, 5) is None and gfn_to_memslot(kvm, 13) is slot
    assert kvm_dirty_bitmap_words(64) == 1 and kvm_dirty_bitmap_words(65) == 2
    assert slot.dirty_bitmap is not None and len(slot.dirty_bitmap) == 1
    with pytest.raises(ValueError):
        gfn_to_rmap(kvm, 7, 3)


def test_mark_page_dirty_sets_the_bit() -> None:
    p = Program("dirty")
    kvm = KvmMmu(p, npages=70, base_gfn=10)
    bitmap = kvm.memslots[0].dirty_bitmap
    assert bitmap is not None and len(bitmap) == 2

    @p.thread
    def vcpu() -> None:
        mark_page_dirty(kvm, 11)
        mark_page_dirty(kvm, 10 + 65)
        mark_page_dirty(kvm, 1000)  # no slot: nothing
        observe("w", (READ_ONCE(bitmap[0]), READ_ONCE(bitmap[1])))

    assert final_of(p)["vcpu:w"] == (0b10, 0b10)


def test_no_bitmap_without_dirty_logging() -> None:
    p = Program("nolog")
    kvm = KvmMmu(p, log_dirty_pages=False)
    assert kvm.memslots[0].dirty_bitmap is None
    p.thread(lambda: mark_page_dirty(kvm, 1), name="vcpu")
    res = explore(p, "sc")
    assert res.verdict == "holds" and res.stats.events <= 2


# -- shadow pages and rmap_add/rmap_remove ---------------------------------------------------------------------

def test_shadow_page_alloc_free_and_page_header() -> None:
    p = Program("sp")
    kvm = KvmMmu(p, npages=8, max_level=2, sp_capacity=2)
    kvm.observe_rmaps()

    @p.thread
    def vcpu() -> None:
        sp = kvm_mmu_alloc_page(kvm, 1, 4)
        spt = kvm.ops.kernel_read(kvm.sp_field(sp, "spt"))
        sptep = kvm.spt_entry(spt, 3)
        observe("hdr", page_header(kvm, sptep) == sp)
        observe("gfn", kvm_mmu_page_get_gfn(kvm, sp, 3))
        observe("zero", READ_ONCE(sptep))
        sp2 = kvm_mmu_alloc_page(kvm, 2, 0, parent_pte=0)
        observe("gfn2", kvm_mmu_page_get_gfn(kvm, sp2, 1))  # level 2: index << 2
        kvm_mmu_free_page(kvm, sp)
        observe("again", kvm_mmu_alloc_page(kvm, 1, 0) == sp)  # freed objects are reused at once

    f = final_of(p)
    assert f["vcpu:hdr"] and f["vcpu:gfn"] == 7 and f["vcpu:zero"] == 0
    assert f["vcpu:gfn2"] == 4 and f["vcpu:again"]


def test_parent_pte_goes_on_the_parent_list() -> None:
    p = Program("parent")
    kvm = KvmMmu(p, npages=4, max_level=2, sp_capacity=2)
    root = kvm.prealloc_page(2, 0)
    parent_pte = kvm.initial_sptep(root, 0)

    @p.thread
    def vcpu() -> None:
        child = kvm_mmu_alloc_page(kvm, 1, 0, parent_pte=parent_pte)
        from rmapwalk.kvm import rmap_walk

        observe("parents", tuple(rmap_walk(kvm, kvm.sp_field(child, "parent_ptes"))))

    assert final_of(p)["vcpu:parents"] == (parent_pte,)


def test_exhausted_shadow_page_cache_is_a_model_error() -> None:
    p = Program("exhausted")
    kvm = KvmMmu(p, sp_capacity=1)
    kvm.prealloc_page(1, 0)
    p.thread(lambda: kvm_mmu_alloc_page(kvm, 1, 0), name="vcpu")
    with pytest.raises(ModelError, match="mmu_page_header is exhausted"):
        explore(p, "sc")


@pytest.mark.parametrize("algo", ["3.11", "head"])
def test_rmap_add_and_remove_use_the_table_level(algo: str) -> None:
    """A 4K spte goes on the level-1 rmap of its gfn, a large spte in a level-2 table on the
    level-2 rmap; indirect pages record the gfn in gfns[]; removal finds the same rmap."""
    p = Program("rmap")
    kvm = KvmMmu(p, Switches(pte_list=algo, pte_list_ext=1), npages=8, max_level=2, sp_capacity=3,
                 desc_capacity=4)
    l1 = kvm.prealloc_page(1, 4)  # direct: entry i maps gfn 4 + i
    l2 = kvm.prealloc_page(2, 0)  # direct: entry i maps gfns 4i .. 4i + 3
    ind = kvm.prealloc_page(1, 100, direct=False)
    a, b = kvm.initial_sptep(l1, 1), kvm.initial_sptep(l1, 2)
    big = kvm.initial_sptep(l2, 1)
    c = kvm.initial_sptep(ind, 0)
    for s in (a, b, c):
        kvm.set_initial(s, S.make_spte(0x5, writable=True))
    kvm.set_initial(big, S.make_spte(0x8, level=2, writable=True))

    @p.thread
    def vcpu() -> None:
        rmap_add(kvm, a, 5)
        rmap_add(kvm, b, 6)
        rmap_add(kvm, big, 4)
        rmap_add(kvm, c, 5)  # the guest page table maps gfn 5 too
        observe("g5", tuple(rmap_sptes(kvm, 5)))
        observe("g6", tuple(rmap_sptes(kvm, 6)))
        observe("L2", tuple(rmap_sptes(kvm, 7, 2)))
        observe("gfns0", kvm.ops.kernel_read(kvm.sp_field(ind, "gfns[0]")))
        rmap_remove(kvm, a)
        rmap_remove(kvm, big)
        observe("g5b", tuple(rmap_sptes(kvm, 5)))
        observe("L2b", tuple(rmap_sptes(kvm, 4, 2)))

    f = final_of(p)
    assert sorted(f["vcpu:g5"]) == sorted((a, c)) and f["vcpu:g6"] == (b,)
    assert f["vcpu:L2"] == (big,) and f["vcpu:gfns0"] == 5
    assert f["vcpu:g5b"] == (c,) and f["vcpu:L2b"] == ()


def test_rmap_add_with_a_wrong_gfn_in_a_direct_page_is_a_bug() -> None:
    p = Program("bug")
    kvm = KvmMmu(p, npages=8)
    sp = kvm.prealloc_page(1, 4)
    s = kvm.initial_sptep(sp, 0)
    p.thread(lambda: rmap_add(kvm, s, 5), name="vcpu")
    res = explore(p, "sc")
    assert {v.kind for v in res.violations} == {"BUG"}
    assert "direct page" in res.violations[0].message


def test_one_kvm_per_program_and_building_does_not_nest() -> None:
    p = Program("one")
    kvm = KvmMmu(p)
    with pytest.raises(ValueError):
        KvmMmu(p)
    with kvm.building():
        assert kvm.is_building
        with pytest.raises(ModelError):
            with kvm.building():
                pass
    assert not kvm.is_building


def test_switches_and_runtime_ops_pickle() -> None:
    """Parallel exploration ships programs to worker processes."""
    import pickle

    sw = Switches(nulls="on", pte_list="head")
    assert pickle.loads(pickle.dumps(sw)) == sw
    kvm = KvmMmu(Program("pickle"), sw)
    assert pickle.loads(pickle.dumps(kvm.ops)) == kvm.ops
