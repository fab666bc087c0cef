"""Estimating the size of an exhaustive exploration before running it.

Knuth's estimator ("Estimating the efficiency of backtrack programs", 1975), over the explorer's
own search tree, as GenMC does: a node of the tree is one step of the explorer (the initial
visit, or one work item processed: a forward or backward revisit) and its children are the work
items that step pushed.  One sample walks from the root, at each node choosing one child
uniformly; with ``b_i`` the number of children at depth ``i``, a node at depth ``d`` stands for
``b_0 * ... * b_(d-1)`` nodes of the tree, so ``sum over the path of (that product * [the node
completed an execution])`` is an unbiased estimate of the number of executions.  The average of
a few hundred such samples is the estimate; the same sum with every node counted estimates the
number of steps, and the time per step measured while sampling gives the time.

The explorer's steps are used as they are (:meth:`Explorer._step`), so the tree sampled is
exactly the tree the exhaustive run walks.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.engine.graph import Graph
from rmapwalk.engine.models import MemoryModel
from rmapwalk.engine.program import Program

__all__ = ["Estimate", "estimate"]


@dataclass
class Estimate:
    """What :func:`estimate` returns."""

    samples: int
    #: estimated number of executions (complete, blocked, stopped by an error) of a full run
    executions: float
    #: estimated number of explorer steps (executions plus inconsistent revisits)
    steps: float
    #: estimated seconds of a sequential exhaustive run
    seconds: float
    #: relative standard error of ``executions`` (0.1: the mean is known to about 10 %)
    rel_error: float
    #: seconds spent sampling
    sampling_seconds: float

    def describe(self) -> str:
        return (f"estimate ({self.samples} samples, +-{100 * self.rel_error:.0f}%): about "
                f"{_round(self.executions)} executions, {_duration(self.seconds)} sequentially")

    def as_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "executions": round(self.executions, 1),
            "steps": round(self.steps, 1),
            "seconds": round(self.seconds, 3),
            "relative_error": round(self.rel_error, 4),
            "sampling_seconds": round(self.sampling_seconds, 3),
        }


def _round(x: float) -> str:
    if x < 1000:
        return f"{x:.0f}"
    digits = int(math.floor(math.log10(x)))
    scale = 10 ** (digits - 1)
    return f"{round(x / scale) * scale:,.0f}"


def _duration(s: float) -> str:
    if s < 1:
        return "under a second"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


class _Sampler(Explorer):
    """The explorer, with executions only counted (no properties checked)."""

    def __init__(self, prog: Program, model: str | MemoryModel, options: Options) -> None:
        super().__init__(prog, model, options)
        self.leaves = 0

    def _finish(self, g: Graph) -> None:
        self.leaves += 1

    def path(self, rng: random.Random) -> tuple[float, float, int]:
        """One random root-to-leaf path: (executions estimate, steps estimate, steps taken)."""
        g = Graph(self.prog, self.beh)
        wl: list[Any] = []
        execs: list[Any] = [(g, wl)]
        self.leaves = 0
        self._visit(g, wl)
        weight = 1.0
        execs_est = float(self.leaves)
        steps_est = 1.0
        steps = 1
        while True:
            g, wl = execs[-1]
            m = len(wl)
            if m == 0:
                break
            weight *= m
            item = wl[rng.randrange(m)]
            wl.clear()
            before = self.leaves
            self._step(execs, g, wl, item)
            steps += 1
            steps_est += weight
            execs_est += weight * (self.leaves - before)
            if len(execs) > 1:
                del execs[:-1]
        return execs_est, steps_est, steps


def estimate(prog: Program, model: str | MemoryModel = "sc", *, samples: int = 300, seed: int = 0,
             max_events: int = 1000, time_budget: float | None = 2.0, max_samples: int = 5000,
             target_error: float = 0.1) -> Estimate:
    """Estimate the executions and time of exploring ``prog`` under ``model`` exhaustively.

    Takes ``samples`` random paths of the explorer's search tree, then goes on (up to
    ``max_samples``) while the relative standard error is above ``target_error`` and the
    ``time_budget`` (seconds) lasts.  The same seed gives the same estimate of executions."""
    sampler = _Sampler(prog, model, Options(max_events=max_events))
    rng = random.Random(seed)
    n = 0
    total = 0.0
    total_sq = 0.0
    st_total = 0.0
    steps_taken = 0
    t0 = time.perf_counter()
    rel = 0.0
    while n < max(1, max_samples):
        e, s, k = sampler.path(rng)
        n += 1
        total += e
        total_sq += e * e
        st_total += s
        steps_taken += k
        mean = total / n
        var = max(0.0, (total_sq - n * mean * mean) / (n - 1)) if n > 1 else 0.0
        rel = math.sqrt(var / n) / mean if mean > 0 else 0.0
        if n >= samples and (rel <= target_error or (
                time_budget is not None and time.perf_counter() - t0 > time_budget)):
            break
    spent = time.perf_counter() - t0
    mean = total / n
    steps_mean = st_total / n
    per_step = spent / steps_taken if steps_taken else 0.0
    return Estimate(samples=n, executions=mean, steps=steps_mean, seconds=steps_mean * per_step,
                    rel_error=rel, sampling_seconds=spent)
