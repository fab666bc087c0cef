"""--estimate: Knuth's estimator over the explorer's search tree is within a factor of 3 of the
true number of executions on every benchmark whose count is known (fixed seed)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

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


def test_time_estimate_is_steps_times_the_time_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The time estimate is the estimated number of steps of the exhaustive run times the time
    per step measured while sampling.  Both halves are checked without the clock: the steps
    estimate against the steps the exhaustive run takes (counted), the product on a clock that
    moves one tick per step sampled."""
    prog = PROGRAMS["lastzero"](10)
    run = explore(PROGRAMS["lastzero"](10), "sc")
    steps = run.stats.executions + run.stats.inconsistent  # one step per execution or inconsistent revisit
    mod = importlib.import_module("rmapwalk.engine.estimate")
    tick = 0.5**10  # (sums of it are exact)
    now = [0.0]
    monkeypatch.setattr(mod, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    sample_path, step = mod._Sampler.path, mod._Sampler._step

    def path(self: Any, rng: Any) -> Any:
        now[0] += tick  # the root of the path
        return sample_path(self, rng)

    def ticking_step(self: Any, *args: Any) -> None:
        now[0] += tick
        step(self, *args)

    monkeypatch.setattr(mod._Sampler, "path", path)
    monkeypatch.setattr(mod._Sampler, "_step", ticking_step)
    est = estimate(prog, "sc", seed=0, time_budget=None, max_samples=4000)
    assert steps / 3 <= est.steps <= steps * 3, (est.steps, steps)
    assert est.sampling_seconds == now[0] > 0
    assert est.seconds == pytest.approx(est.steps * tick, rel=1e-9)
    text = est.describe()
    assert "executions" in text and "samples" in text
    assert set(est.as_json()) >= {"executions", "seconds", "samples"}


def test_exact_on_a_tree_without_choices() -> None:
    est = estimate(PROGRAMS["casrot"](2), "sc", seed=1, time_budget=None)
    assert est.executions == pytest.approx(2, rel=0.2)
