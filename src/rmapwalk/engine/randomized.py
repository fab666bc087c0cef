"""Randomized search: sample executions instead of exploring all of them.

For configurations too large to exhaust.  One sample builds one execution graph from scratch,
adding one event at a time:

* ``uniform``: the next thread is chosen uniformly among the threads that can go on; a read reads
  from a write chosen uniformly among the writes the memory model allows it to read (coherence
  and consistency are checked as the explorer checks them), and a write takes a coherence
  position chosen uniformly among the consistent ones;
* ``pct``: the thread is chosen by PCT (Burckhardt et al., "A randomized scheduler with
  probabilistic guarantees of finding bugs", ASPLOS 2010): random distinct thread priorities,
  ``depth - 1`` random change points where the running thread drops to a low priority; the
  highest-priority thread that can go on runs.  Under ``sc`` each read takes the latest write and
  each write goes last in coherence (a PCT schedule is an interleaving); under the weaker models
  reads and writes choose uniformly among the consistent choices, so that store-buffer effects
  are sampled too.

Every sampled graph is consistent by construction (each event is added at a sink and checked),
so a violation found this way is reported with the same replay data as one found by the
exhaustive explorer.  The same seed gives the same samples.  A sample can repeat an execution
seen before: counts are numbers of samples, and the verdict is never "holds".
"""

from __future__ import annotations

import random
from typing import Any

from rmapwalk.engine.events import END, LIMIT, NO_WRITE, READ, RMW, WRITE
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.engine.graph import Ev, Graph
from rmapwalk.engine.models import MemoryModel, co_succ
from rmapwalk.engine.program import Program
from rmapwalk.engine.result import INCOMPLETE, Result

SCHEDULERS = ("uniform", "pct")

__all__ = ["SCHEDULERS", "RandomExplorer", "sample"]


class RandomExplorer(Explorer):
    """Samples ``executions`` executions of ``prog`` (see the module docstring)."""

    def __init__(self, prog: Program, model: str | MemoryModel = "sc", options: Options | None = None, *,
                 seed: int = 0, executions: int = 1000, scheduler: str = "uniform", depth: int = 3) -> None:
        if scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {scheduler!r}; valid: {', '.join(SCHEDULERS)}")
        if executions < 1:
            raise ValueError("the number of executions to sample must be at least 1")
        if depth < 1:
            raise ValueError("the PCT depth must be at least 1")
        opt = options or Options()
        # the sample budget is the execution bound of the underlying explorer's bookkeeping
        opt.max_executions = executions if opt.max_executions is None else min(opt.max_executions, executions)
        super().__init__(prog, model, opt)
        # a sample is one execution: a wait on a value a later write superseded is still a blocked
        # sample (nothing revisits it here), and counting it keeps the sample budget finite
        self.await_aware = False
        self.seed = seed
        self.samples = executions
        self.scheduler = scheduler
        self.depth = depth
        self.rng = random.Random(seed)
        #: the number of events of the longest sample so far (PCT's ``k``)
        self._steps_seen = 16
        self._free_choice = scheduler == "uniform" or self.model.name != "sc"

    def run(self) -> Result:
        res = super().run()
        done = self.stats.executions
        what = f"{self.scheduler} random search, seed {self.seed}"
        if self.scheduler == "pct":
            what += f", depth {self.depth}"
        if res.violation_count == 0:
            res.verdict = INCOMPLETE
            if done >= self.samples:
                res.incomplete_reason = f"no violation in {done} sampled executions ({what})"
            else:
                res.incomplete_reason = (f"no violation in {done} sampled executions ({what}); "
                                         f"{res.incomplete_reason or 'stopped early'}")
        elif not self.opt.stop_on_first:
            res.incomplete_reason = f"random search: {done} sampled executions ({what})"
        return res

    def _explore(self) -> None:
        while True:  # ends by _Stop from the bounds check after the last sample
            self._sample()

    # -- one sample ------------------------------------------------------------------------------
    def _sample(self) -> None:
        rng = self.rng
        g = Graph(self.prog, self.beh)
        cursor = g.cursor
        n = g.nthreads
        stats = self.stats
        pct = self.scheduler == "pct"
        prio: list[float] = []
        changes: dict[int, int] = {}
        if pct:
            order = list(range(n))
            rng.shuffle(order)
            prio = [0.0] * n
            for rank, t in enumerate(order):
                prio[t] = float(self.depth + rank)
            k = self._steps_seen
            for j in range(1, self.depth):
                changes.setdefault(rng.randrange(1, k + 1), j)
        step = 0
        while True:
            enabled = [t for t in range(n) if cursor[t].kind < END or cursor[t].kind > LIMIT]
            if not enabled:
                if step > self._steps_seen:
                    self._steps_seen = step
                self._finish(g)
                return
            step += 1
            if pct:
                tid = max(enabled, key=prio.__getitem__)
                change = changes.get(step)
                if change is not None:
                    prio[tid] = float(self.depth - change) - 1.0
                    tid = max(enabled, key=prio.__getitem__)
            else:
                tid = enabled[rng.randrange(len(enabled))]
            node = cursor[tid]
            k = node.kind
            stats.events += 1
            if k == READ or k == RMW:
                self._add_read(g, tid, node)
            elif k == WRITE:
                self._add_write(g, tid, node)
            else:
                g.add_plain(tid, node)
                cursor[tid] = node.next  # type: ignore[assignment]

    def _add_read(self, g: Graph, tid: int, node: Any) -> None:
        co = g.co_list(node.loc)
        low = self._co_lower_bound(g, None, tid, node.loc, co)
        r = g.add_read(tid, node, co[-1])
        choice = co[-1]  # always consistent
        if self._free_choice and low < len(co) - 1:
            ok = [c for c in co[low:-1] if self._rf_ok(g, r, c)]
            ok.append(co[-1])
            choice = ok[self.rng.randrange(len(ok))]
            if r.rf is not choice:
                g.set_rf(r, choice)
        if node.kind == RMW:
            val = node.op(choice.val)
            if val is not NO_WRITE:
                g.add_rmw_write(r, val)
        g.advance(tid)

    def _rf_ok(self, g: Graph, r: Ev, c: Ev) -> bool:
        """May read ``r`` (the last event added) read from ``c``?  Leaves ``r`` reading ``c``."""
        g.set_rf(r, c)
        if not self.model.read_ok(g, r):
            return False
        node = r.node
        assert node is not None
        if node.kind != RMW:
            return True
        val = node.op(c.val)  # type: ignore[misc]
        if val is NO_WRITE:
            return True
        if self._rmw_taken(g, c):
            return False  # another RMW already read c: atomicity
        w = g.add_rmw_write(r, val)
        ok = co_succ(g, w) is None or self.model.write_ok(g, w)
        # take the write half back out (restrict would re-run the thread to move its cursor)
        g.threads[r.tid].pop()
        g.co[w.loc].remove(w)
        r.wr = None
        g.next_stamp -= 1
        return ok

    def _add_write(self, g: Graph, tid: int, node: Any) -> None:
        w = g.add_plain(tid, node)
        co = g.co_list(node.loc)
        low = self._co_lower_bound(g, w, tid, node.loc, co)
        co.append(w)
        g.cursor[tid] = node.next
        if not self._free_choice or low >= len(co) - 2:
            return
        places: list[Ev | None] = []
        for p in [p for p in co[low:-2] if not self._rmw_taken(g, p)]:
            co.remove(w)
            co.insert(co.index(p) + 1, w)
            if self.model.write_ok(g, w):
                places.append(p)
        places.append(None)  # last
        pick = places[self.rng.randrange(len(places))]
        co.remove(w)
        if pick is None:
            co.append(w)
        else:
            co.insert(co.index(pick) + 1, w)


def sample(prog: Program, model: str = "sc", *, seed: int = 0, executions: int = 1000,
           scheduler: str = "uniform", depth: int = 3, **kw: Any) -> Result:
    """Sample ``executions`` random executions of ``prog`` (see :class:`RandomExplorer`)."""
    return RandomExplorer(prog, model, Options(**kw), seed=seed, executions=executions,
                          scheduler=scheduler, depth=depth).run()
