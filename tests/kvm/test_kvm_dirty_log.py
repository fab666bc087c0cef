"""Dirty logging (kvm.dirty_log): enabling logging write-protects a slot (large sptes zapped or
made read-only), get_dirty_log harvests and write-protects in the locked and the lockless form,
where the flush goes, and the leaf check of the lockless write-protect (I7)."""

from __future__ import annotations

from typing import Any

import pytest
from kvm_helpers import node_labels

from rmapwalk.engine import Loc, Program, explore, observe
from rmapwalk.kernel import READ_ONCE
from rmapwalk.kvm import KvmMmu, Switches, gfn_to_rmap
from rmapwalk.kvm import spte as S
from rmapwalk.kvm.dirty_log import (
    kvm_mmu_slot_remove_write_access,
    kvm_vm_ioctl_get_dirty_log,
    spte_write_protect_lockless,
)
from rmapwalk.kvm.invariants import I7
from rmapwalk.kvm.pte_list import pte_list_entries
from rmapwalk.kvm.vcpu import kvm_create_vcpu, prefault_spte


def single_thread(p: Program, body: Any) -> tuple[dict[str, Any], list[str]]:
    labels: list[str] = []

    def collect(g: Any, kind: str) -> None:
        labels.extend(node_labels(g))

    p.thread(body, name="ioctl")
    res = explore(p, "sc", on_execution=collect)
    assert res.verdict == "holds", res.violations[:1]
    assert len(res.outcomes) == 1
    return dict(next(iter(res.outcomes))), labels


def observe_locs(p: Program, *addrs: int) -> None:
    p.observed.extend(Loc(a, p.names[a]) for a in addrs)


@pytest.mark.parametrize("large_wp", ["zap", "readonly"])
def test_enabling_logging_write_protects_the_slot(large_wp: str) -> None:
    p = Program("enable-logging")
    kvm = KvmMmu(p, Switches(large_wp=large_wp), npages=4, max_level=2, sp_capacity=2)
    vcpu = kvm_create_vcpu(kvm)
    small = [prefault_spte(kvm, g, writable=True) for g in (0, 1)]
    large = prefault_spte(kvm, 0, writable=True, level=2, role="big")
    observe_locs(p, *small, large)
    kvm.observe_rmaps()
    p.observed.append(vcpu.requests)
    f, labels = single_thread(p, lambda: kvm_mmu_slot_remove_write_access(kvm, kvm.memslots[0]))
    for s in small:
        v = f[p.names[s]]
        assert not S.is_writable_pte(v) and S.spte_is_locklessly_modifiable(v)  # fast path may restore W
    big = f[p.names[large]]
    level2 = pte_list_entries(kvm, gfn_to_rmap(kvm, 0, 2), kvm.final_mem(f))
    if large_wp == "zap":
        assert big == 0 and level2 == []
    else:
        assert S.is_large_pte(big) and not S.is_writable_pte(big) and level2 == [large]
    assert f["vcpu0.requests"] == 1  # kvm_flush_remote_tlbs made its request
    assert labels.index("set_bit") < labels.index("spin_unlock")  # 3.11: the flush is under mmu_lock


@pytest.mark.parametrize("write_protect", ["locked", "lockless"])
def test_get_dirty_log_harvests_write_protects_and_flushes(write_protect: str) -> None:
    sw = Switches(write_protect=write_protect, desc_cache="typesafe_by_rcu", nulls="on", pte_list_ext=1)
    p = Program("get-dirty-log")
    kvm = KvmMmu(p, sw, npages=2, sp_capacity=2)
    vcpu = kvm_create_vcpu(kvm)
    s0 = prefault_spte(kvm, 0, writable=True)
    s0b = prefault_spte(kvm, 0, writable=True, role="other")  # a second spte: gfn 0's rmap is a chain
    s1 = prefault_spte(kvm, 1, writable=True, dirty=False)  # writable but not dirty (kept as is)
    observe_locs(p, s0, s0b, s1)
    kvm.observe_dirty_bitmaps()
    p.observed.append(vcpu.requests)

    def body() -> None:
        observe("first", tuple(kvm_vm_ioctl_get_dirty_log(kvm)))
        observe("second", tuple(kvm_vm_ioctl_get_dirty_log(kvm)))

    f, labels = single_thread(p, body)
    assert f["ioctl:first"] == (0,) and f["ioctl:second"] == ()
    assert f["slot0.dirty_bitmap[0]"] == 0 and f["vcpu0.requests"] == 1
    for s in (s0, s0b):
        assert not S.is_writable_pte(f[p.names[s]]) and S.spte_is_locklessly_modifiable(f[p.names[s]])
    assert S.is_writable_pte(f[p.names[s1]])
    assert labels.count("set_bit") == 1  # one flush: the second call harvested nothing
    # slots_lock per call, and mmu_lock per call in the locked form only
    assert labels.count("spin_lock") == (4 if write_protect == "locked" else 2)
    assert ("rcu_read_lock" in labels) == (write_protect == "lockless")


@pytest.mark.parametrize("where", ["under_lock", "after_unlock_serialized", "after_unlock_unserialized"])
def test_flush_location(where: str) -> None:
    p = Program("flush-location")
    kvm = KvmMmu(p, Switches(flush_location=where), npages=1)
    kvm_create_vcpu(kvm)
    prefault_spte(kvm, 0, writable=True)
    _, labels = single_thread(p, lambda: kvm_vm_ioctl_get_dirty_log(kvm))
    locks = [lab for lab in labels if lab in ("spin_lock", "spin_unlock", "set_bit")]
    expected = {
        "under_lock": ["spin_lock", "spin_lock", "set_bit", "spin_unlock", "spin_unlock"],
        "after_unlock_serialized": ["spin_lock", "spin_lock", "spin_unlock", "set_bit", "spin_unlock"],
        "after_unlock_unserialized": ["spin_lock", "spin_unlock", "set_bit"],
    }
    assert locks == expected[where]


@pytest.mark.parametrize("leaf_check", ["by_level", "by_value"])
def test_lockless_write_protect_leaf_check_and_i7(leaf_check: str) -> None:
    """A table whose header still says level 1 holds a non-leaf entry (the walker read the level
    before the table was reused at level 2, §3.8): the by-level check takes it for a leaf and
    clears its W (I7 fires); the by-value check sees the level in the value and leaves it."""
    sw = Switches(leaf_check=leaf_check)
    p = Program("leaf-check")
    kvm = KvmMmu(p, sw, npages=1, sp_capacity=2)
    sp = kvm.prealloc_page(1, gfn=0)
    sptep = kvm.initial_sptep(sp, 0)
    kvm.set_initial(sptep, S.make_nonleaf_spte(0x40, 2, encode_level=leaf_check == "by_value"))
    p.thread(lambda: observe("cleared", spte_write_protect_lockless(kvm, sptep)), name="wp")
    p.thread(lambda: observe("v", READ_ONCE(sptep)), name="reader")
    res = explore(p, "sc", keep_violations=10)
    if leaf_check == "by_level":
        assert {v.kind for v in res.violations} == {I7}
    else:
        assert res.verdict == "holds" and {dict(o)["wp:cleared"] for o in res.outcomes} == {False}


def test_lockless_write_protect_retries_when_the_spte_changes() -> None:
    """The cmpxchg fails if the fast path or another writer changed the spte since the read; the
    loop re-reads and clears W of the new value."""
    p = Program("wp-retry")
    kvm = KvmMmu(p, npages=1, sp_capacity=1)
    sptep = prefault_spte(kvm, 0, writable=True)
    w = int(p.init[sptep])

    def other() -> None:
        from rmapwalk.kernel import cmpxchg

        cmpxchg(sptep, w, w | S.PT_DIRTY_MASK)  # e.g. hardware setting D

    p.thread(lambda: observe("cleared", spte_write_protect_lockless(kvm, sptep)), name="wp")
    p.thread(other, name="cpu")
    observe_locs(p, sptep)
    res = explore(p, "sc")
    assert res.verdict == "holds"
    finals = {dict(o)[p.names[sptep]] for o in res.outcomes}
    assert finals == {w & ~S.PT_WRITABLE_MASK, (w | S.PT_DIRTY_MASK) & ~S.PT_WRITABLE_MASK}
