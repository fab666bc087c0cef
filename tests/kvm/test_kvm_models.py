"""The KVM model's instrumentation under every memory model: the plain 3.11 ``baseline-locked``
must hold whatever the model, since the kernel's own ordering (locks, the flush IPI's
acknowledgement, fully ordered RMWs) makes it correct; a violation there would come from the
checker's waits or checks, not from KVM."""

from __future__ import annotations

import os

import pytest

from rmapwalk.engine import explore
from rmapwalk.kvm import Switches
from rmapwalk.kvm.scenarios import SCENARIOS, check
from rmapwalk.kvm.scenarios.lost_dirty import one_vcpu_two_harvests


@pytest.mark.parametrize("model", ["sc", "tso", "pso", "weak"])
def test_baseline_locked_holds_under_every_exhaustive_model(model: str) -> None:
    sc = SCENARIOS["baseline-locked"]
    res = check(sc, sc.switches(), model)
    assert res.verdict == "holds", res.violations[:1]
    assert res.incomplete_reason is None


@pytest.mark.parametrize("model", ["lkmm", "lkmm-alpha"])
def test_a_small_baseline_locked_holds_under_lkmm(model: str) -> None:
    """A smaller baseline that still has the race the instrumentation got wrong (two guest
    writes, one harvest with I2: with the flush's wait a READ_ONCE it lost the page under LKMM,
    I1, in the first 153 executions) holds, and the exploration is complete (every
    load-buffering revisit made); under a second."""
    prog = one_vcpu_two_harvests(Switches(), "baseline-locked-small", writes=2, rounds=1)
    kvm = prog.lib["kvm"]
    kvm.check_i3 = kvm.check_i8 = kvm.check_i11 = True
    res = explore(prog, model, keep_violations=1)
    assert res.verdict == "holds", (res.violations[:1], res.incomplete_reason)
    assert res.stats.complete > 100


@pytest.mark.skipif(not os.environ.get("RMAPWALK_SLOW"),
                    reason="about a minute a model: RMAPWALK_SLOW=1 (run by .ci/run)")
@pytest.mark.parametrize("model", ["lkmm", "lkmm-alpha"])
def test_the_whole_baseline_locked_holds_under_lkmm(model: str) -> None:
    """The review's own ``baseline-locked`` (two writes, two harvests) holds under LKMM."""
    sc = SCENARIOS["baseline-locked"]
    res = check(sc, sc.switches(), model)
    assert res.verdict == "holds", (res.violations[:1], res.incomplete_reason)
