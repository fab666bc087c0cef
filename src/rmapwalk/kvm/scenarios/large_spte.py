"""Large sptes in a slot where dirty logging is being enabled (R4, and R5's fix).

3.11 zaps large sptes when logging is enabled (``large_wp=zap``).  "Lazily drop large spte"
(``large_wp=readonly``) only clears their W bit: its first version (caf6900f2d8a, reverted as
6b73a9606) let ``fast_page_fault`` set W again on such a large spte and mark only one gfn dirty
(R4); the re-applied version (c126d94f2c90) refuses the fast path above level 1
(``fast_pf_large=forbid``), and the fault path then drops the large spte before mapping 4K
pages (404381c5839d, modelled with ``large_wp=readonly``).
"""

from __future__ import annotations

from rmapwalk.engine import Program
from rmapwalk.kvm.invariants import I1, migration_thread, require_no_dirty_page_lost
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.scenarios import HOLDS, Scenario, expect, ext_unchanged
from rmapwalk.kvm.switches import Switches
from rmapwalk.kvm.vcpu import guest_write, kvm_create_vcpu, prefault_spte

ALL_HOLD = {"sc": HOLDS, "tso": HOLDS, "pso": HOLDS}


def large_spte(sw: Switches) -> Program:
    """A writable large spte (level-2 direct root, 4 gfns per entry) maps gfns 0-3, all dirty.
    ``migrate`` enables dirty logging (``kvm_mmu_slot_remove_write_access``), harvests once and
    copies; ``vcpu0`` writes gfn 1 once."""
    p = Program(f"large-spte[{sw.describe()}]")
    kvm = KvmMmu(p, sw, npages=4, max_level=2, sp_capacity=2, desc_capacity=1)
    vcpu = kvm_create_vcpu(kvm, root_level=2)
    prefault_spte(kvm, 0, writable=True, level=2)

    def vcpu0() -> None:
        guest_write(vcpu, 1, 1)

    p.thread(vcpu0, name=vcpu.name)
    p.thread(migration_thread(kvm, 1, enable_logging=True), name="migrate")
    require_no_dirty_page_lost(kvm)
    return p


LARGE_SPTE = Scenario(
    name="large-spte",
    question="If enabling dirty logging makes large sptes read-only instead of zapping them, must "
             "fast_page_fault refuse to make them writable again (c126d94f2c90)?",
    races=("R4",),
    size=ext_unchanged("one spte") + (
        "One large page of"
        " 4 gfns (512 in the kernel), one harvest, one guest write."
    ),
    base={"pte_list_ext": 3},
    build_fn=large_spte,
    # I3 only, so that the broken setting runs to its consequence, the lost dirty page (I1), which
    # the review shows and the CLI tests (tests/test_cli_kvm.py, tests/report/) expect; with I8 or
    # I11 on, the run stops at the cause instead (test_i8_catches_the_fast_path_on_the_wrong_spte,
    # test_i11_catches_r4_in_large_spte)
    checks=("I3",),
    expected=(
        expect({"large_wp": "zap", "fast_pf_large": "allow"}, ALL_HOLD)
        # R4: the writes through the re-enabled large spte to its other gfns are never
        # reported (I1).  (With I11 on, the harvest returning with the large spte writable
        # would fire too: test_i11_catches_r4_in_large_spte.)
        + expect({"large_wp": "readonly", "fast_pf_large": "allow"},
                 {m: frozenset({I1}) for m in ("sc", "tso", "pso")})
        + expect({"large_wp": "readonly", "fast_pf_large": "forbid"}, ALL_HOLD)
        # LKMM (review --full)
        + expect({"large_wp": "zap", "fast_pf_large": "allow"}, {"lkmm": HOLDS})
        + expect({"large_wp": "readonly", "fast_pf_large": "allow"}, {"lkmm": frozenset({I1})})
        + expect({"large_wp": "readonly", "fast_pf_large": "forbid"}, {"lkmm": HOLDS})
    ),
    quick_models=("sc", "tso", "pso"),
)

SCENARIOS = (LARGE_SPTE,)

__all__ = ["LARGE_SPTE", "SCENARIOS", "large_spte"]
