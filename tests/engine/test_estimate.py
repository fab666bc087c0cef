"""--estimate: Knuth's estimator over the explorer's search tree is within a factor of 3 of the
true number of executions on every benchmark whose count is known (fixed seed)."""

from __future__ import annotations

import time

import pytest

from benchmarks.programs import KNOWN_COUNTS, PROGRAMS
from rmapwalk.engine import explore
from rmapwalk.engine.estimate import estimate


@pytest.mark.parametrize(("name", "n"), sorted(KNOWN_COUNTS), ids=[f"{b}({n})" for b, n in sorted(KNOWN_COUNTS)])
def test_estimate_within_factor_3_of_known_count(name: str, n: int) -> None:
    truth = KNOWN_COUNTS[(name, n)]
    # no time budget: the number of samples (and so the estimate) depends on the seed only
    est = estimate(PROGRAMS[name](n), "sc", seed=0, time_budget=None, max_samples=4000)
    assert truth / 3 <= est.executions <= truth * 3, (est, truth)
    assert est.samples >= 300


@pytest.mark.parametrize("model", ["tso", "pso"])
def test_estimate_under_weak_models(model: str) -> None:
    truth = explore(PROGRAMS["lastzero"](8), model).stats.executions
    est = estimate(PROGRAMS["lastzero"](8), model, seed=0, time_budget=None, max_samples=4000)
    assert truth / 3 <= est.executions <= truth * 3


def test_same_seed_same_estimate() -> None:
    a = estimate(PROGRAMS["N-writers"](3), "sc", seed=4, time_budget=None)
    b = estimate(PROGRAMS["N-writers"](3), "sc", seed=4, time_budget=None)
    assert a.executions == b.executions and a.samples == b.samples


def test_time_estimate_has_the_right_order_of_magnitude() -> None:
    prog = PROGRAMS["lastzero"](10)
    est = estimate(prog, "sc", seed=0, time_budget=None, max_samples=4000)
    t0 = time.perf_counter()
    explore(PROGRAMS["lastzero"](10), "sc")
    real = time.perf_counter() - t0
    assert real / 10 <= est.seconds <= real * 10, (est.seconds, real)
    text = est.describe()
    assert "executions" in text and "samples" in text
    assert set(est.as_json()) >= {"executions", "seconds", "samples"}


def test_exact_on_a_tree_without_choices() -> None:
    est = estimate(PROGRAMS["casrot"](2), "sc", seed=1, time_budget=None)
    assert est.executions == pytest.approx(2, rel=0.2)
