"""I1's state form, I8 (fast-path discipline) and I10's accessed half: each catches its race when
exactly one thing is broken, and holds on the fixed setting."""

from __future__ import annotations

import pytest

import rmapwalk.kvm.spte_ops as spte_ops
from rmapwalk.engine import Program, explore
from rmapwalk.kernel.spinlock import spin_lock
from rmapwalk.kvm import Switches
from rmapwalk.kvm.invariants import I1, I1_STATE, I8, I10, require_no_lost_accessed_bit
from rmapwalk.kvm.mmu_checks import enable_i1_state, kvm_mmu_unlock
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.scenarios import SCENARIOS
from rmapwalk.kvm.scenarios.lost_dirty import one_vcpu_two_harvests
from rmapwalk.kvm.spte_ops import drop_spte
from rmapwalk.kvm.vcpu import guest_write, kvm_create_vcpu, kvm_flush_remote_tlbs, prefault_spte


def _without(prog: Program, name: str) -> Program:
    prog.conditions = [c for c in prog.conditions if c.name != name]
    return prog


def _props(prog: Program, model: str = "sc") -> set[str]:
    return set(explore(prog, model, keep_violations=1).property_counts)


# -- I1, state form ---------------------------------------------------------------------------------

def mark_order_with_state_check(mark_order: str, write_protect: str = "lockless") -> Program:
    sw = Switches(write_protect=write_protect, mark_order=mark_order, pte_list_ext=1)
    prog = _without(one_vcpu_two_harvests(sw, "i1-state", check_i2=False), I1)  # only the state form
    enable_i1_state(prog.lib["kvm"])
    return prog


@pytest.mark.parametrize("model", ["sc", "pso"])
def test_i1_state_form_catches_r6(model: str) -> None:
    """R6 (3.11's mark-then-spte order under the lockless harvest): at the vCPU's release of
    mmu_lock the writable spte's bit was already harvested and the harvest is over."""
    assert _props(mark_order_with_state_check("mark_first"), model) == {I1_STATE}


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
@pytest.mark.parametrize(("mark_order", "write_protect"), [("after_rmap", "lockless"), ("mark_first", "locked")])
def test_i1_state_form_holds_on_the_fixed_settings(model: str, mark_order: str, write_protect: str) -> None:
    assert _props(mark_order_with_state_check(mark_order, write_protect), model) == set()


def test_i1_state_form_needs_its_mark_pending_ghost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path's window between its cmpxchg and its mark is legitimate (I1 (c)): with the
    ghost flag 3.11 holds; without it (break the ghost) the state check reports the window."""
    import rmapwalk.kvm.vcpu as vcpu_mod

    def build() -> Program:
        prog = _without(one_vcpu_two_harvests(Switches(pte_list_ext=1), "i1-state", check_i2=False), I1)
        enable_i1_state(prog.lib["kvm"])
        return prog

    assert _props(build()) == set()
    monkeypatch.setattr(vcpu_mod, "ghost_mark_pending", lambda kvm, gfn, pending: None)
    assert _props(build()) == {I1_STATE}


# -- I8 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("scenario", "settings"), [
    ("large-spte", {"large_wp": "readonly", "fast_pf_large": "allow"}),   # R4: a level-2 spte
    ("fast-pf-indirect", {"fast_pf_indirect": "allow"}),                  # R1: an indirect page
])
def test_i8_catches_the_fast_path_on_the_wrong_spte(scenario: str, settings: dict[str, str]) -> None:
    sc = SCENARIOS[scenario]
    prog = sc.build(sc.switches(**settings))
    prog.lib["kvm"].check_i8 = True
    assert _props(prog) == {I8}


@pytest.mark.parametrize(("scenario", "settings"), [
    ("large-spte", {"large_wp": "readonly", "fast_pf_large": "forbid"}),
    ("large-spte", {"large_wp": "zap", "fast_pf_large": "allow"}),
    ("clear-track-bits", {"volatile_bits": "mmu_writable"}),  # the fast path on a direct level-1 spte
])
def test_i8_holds_where_the_fast_path_is_restricted(scenario: str, settings: dict[str, str]) -> None:
    sc = SCENARIOS[scenario]
    prog = sc.build(sc.switches(**settings))
    prog.lib["kvm"].check_i8 = True
    assert _props(prog) == set()


# -- I10, accessed half -------------------------------------------------------------------------------

def accessed_program() -> Program:
    """gfn 0 has a speculative spte (A clear, writable).  vcpu0 writes gfn 0 (the CPU sets A,
    then D); ``zap`` drops the spte under mmu_lock (``mmu_spte_clear_track_bits`` must pass A on
    to the host page) and flushes."""
    p = Program("i10-accessed")
    kvm = KvmMmu(p, Switches(pte_list_ext=1, spt_entries=2), npages=1, desc_capacity=1, sp_capacity=1)
    vcpu = kvm_create_vcpu(kvm)
    sptep = prefault_spte(kvm, 0, writable=True)
    kvm.set_initial(sptep, int(kvm.prog.init[sptep]) & ~spte_ops.shadow_accessed_mask)

    def guest() -> None:
        guest_write(vcpu, 0, 1)

    def zap() -> None:
        spin_lock(kvm.mmu_lock)
        drop_spte(kvm, sptep)
        kvm_flush_remote_tlbs(kvm)
        kvm_mmu_unlock(kvm)

    p.thread(guest, name=vcpu.name)
    p.thread(zap, name="zap")
    require_no_lost_accessed_bit(kvm, 0, [sptep])
    return p


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
def test_i10_accessed_half_holds(model: str) -> None:
    assert _props(accessed_program(), model) == set()


def test_i10_accessed_half_catches_a_dropped_accessed_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break one thing: mmu_spte_clear_track_bits no longer passes A to the host page."""
    monkeypatch.setattr(spte_ops, "kvm_set_pfn_accessed", lambda kvm, pfn: None)
    assert _props(accessed_program()) == {I10}


# -- I11 on R4 ----------------------------------------------------------------------------------------

def test_i11_catches_r4_in_large_spte() -> None:
    """large-spte runs without I11 in its table (see its Scenario.checks); turned on, I11 fires
    on the broken setting (the harvest returns with the large spte writable again) and holds on
    the fixed ones."""
    from rmapwalk.kvm.mmu_checks import I11

    sc = SCENARIOS["large-spte"]
    for settings, want in (({"large_wp": "readonly", "fast_pf_large": "allow"}, {I1, I11}),
                           ({"large_wp": "readonly", "fast_pf_large": "forbid"}, set()),
                           ({"large_wp": "zap", "fast_pf_large": "allow"}, set())):
        prog = sc.build(sc.switches(**settings))
        prog.lib["kvm"].check_i11 = True
        assert _props(prog) == want, settings
