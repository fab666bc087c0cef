"""Exhaustive exploration split across worker processes, on this machine or a Dask cluster.

The search is a pool of work units (:mod:`rmapwalk.engine.workunit`): at the start one empty
unit, the whole exploration.  The coordinator (this process) hands units to workers; a worker
explores its unit and returns what it found (counts, outcomes, violations) and, if it paused
before the unit was done, the rest of the unit as new units.  Workers pause

* when another worker waits for work and their unit can be split (local workers see a shared
  "hungry" counter after every execution): dynamic load balancing;
* at the end of a time slice (always on a cluster, where there is no shared counter; locally
  every ``slice_seconds``), which also bounds the work a killed run loses -- or, with
  ``slice_executions``, after that many executions instead, so that how the search is cut
  depends on counts, not on the clock;
* at the time or execution bound of the search.

A unit's results count only when its worker returns them, and then its rest is queued in the
same step, so every execution is counted exactly once: a worker that dies loses nothing but the
time spent, since its unit is still the coordinator's and runs again.  The totals (and so the
verdict, the outcome set and the counts) are those of the sequential explorer; only which
violation is shown first, the order of exploration and the number of thread re-runs differ.

The coordinator's state -- the totals and the units not yet done (queued or running) -- is plain
data, which is what a checkpoint saves (:mod:`rmapwalk.engine.checkpoint`).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from rmapwalk.engine.models import get_model
from rmapwalk.engine.program import Program
from rmapwalk.engine.result import DEFAULT_MAX_OUTCOMES, HOLDS, INCOMPLETE, VIOLATED, Result, Stats
from rmapwalk.engine.runtime import ModelError, Src
from rmapwalk.engine.workunit import (
    COUNTERS,
    Level,
    SearchConfig,
    Unit,
    UnitError,
    UnitOutcome,
    UnitRunner,
    _init_worker,
    run_unit,
    violation_from_data,
)

__all__ = ["ParallelSearch", "SearchError", "default_jobs"]

#: how often a local worker pauses even when nobody waits (bounds the work a kill loses)
SLICE_SECONDS = 10.0
#: time slices on a Dask cluster (there is no cheap "someone waits" signal there)
CLUSTER_SLICE_SECONDS = 2.0
#: a unit whose worker died this many times is given up (a model that kills its process)
MAX_WORKER_DEATHS = 3


#: how long a Dask client tries to reach a scheduler before the search fails (Dask retries a
#: refused connection until then)
CONNECT_TIMEOUT = "10s"

class SearchError(Exception):
    """The distributed search cannot go on (workers keep dying, the cluster is gone, ...)."""


def default_jobs() -> int:
    """The number of worker processes of ``--jobs`` without a value: the usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# -- where units run -----------------------------------------------------------------------------
class _WorkerLost(Exception):
    pass


class _InProcess:
    """Runs units here, one at a time (``--jobs 1`` with a checkpoint; tests)."""

    def __init__(self, config: SearchConfig, prog: Program) -> None:
        self.runner = UnitRunner(config, prog)

    def jobs(self) -> int:
        return 1

    def submit(self, config: SearchConfig, unit: Unit, slice_s: float | None, budget: int | None) -> Any:
        fut: cf.Future[UnitOutcome] = cf.Future()
        try:
            out = self.runner.run(unit, slice_s, budget)
        except UnitError as e:
            out = UnitOutcome(error=("internal", f"bad work unit: {e}", None, None))
        fut.set_result(out)
        return fut

    def wait(self, futs: list[Any], timeout: float) -> set[Any]:
        return set(futs)

    def result(self, fut: Any) -> UnitOutcome:
        return fut.result()

    def set_hungry(self, n: int) -> None:
        pass

    def restart(self) -> None:
        pass

    def close(self) -> None:
        pass


def _ignore_sigint_then_init(hungry: Any, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    _die_with(parent)
    _init_worker(hungry)


def _die_with(parent: int) -> None:
    """Have the kernel kill this worker when the coordinator dies (even by SIGKILL): a killed
    run leaves no worker behind (Linux; elsewhere the pool's own shutdown does it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the coordinator died before prctl took effect
        os._exit(1)


class _LocalPool:
    """``jobs`` worker processes on this machine."""

    def __init__(self, jobs: int) -> None:
        self.n = jobs
        # fork is fast and safe while this process runs no other thread; else spawn
        method = "fork" if threading.active_count() == 1 and "fork" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(method)
        self.hungry = self.ctx.Value("i", 0, lock=False)
        self.ex = self._start()

    def _start(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.n, mp_context=self.ctx, initializer=_ignore_sigint_then_init,
                                      initargs=(self.hungry, os.getpid()))

    def jobs(self) -> int:
        return self.n

    def submit(self, config: SearchConfig, unit: Unit, slice_s: float | None, budget: int | None) -> Any:
        try:
            return self.ex.submit(run_unit, config, unit, slice_s, budget)
        except cf.process.BrokenProcessPool as e:
            raise _WorkerLost(str(e)) from None

    def wait(self, futs: list[Any], timeout: float) -> set[Any]:
        done, _ = cf.wait(futs, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def result(self, fut: Any) -> UnitOutcome:
        try:
            return fut.result()
        except cf.process.BrokenProcessPool as e:
            raise _WorkerLost(str(e) or "a worker process died") from None

    def set_hungry(self, n: int) -> None:
        self.hungry.value = n

    def restart(self) -> None:
        self._kill()
        self.ex = self._start()

    def pids(self) -> list[int]:
        return [p.pid for p in list(getattr(self.ex, "_processes", {}).values()) if p.pid is not None]

    def _kill(self) -> None:
        procs = list(getattr(self.ex, "_processes", {}).values())
        self.ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:  # the processes this pool started, each by its own handle
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)

    def close(self) -> None:
        self._kill()


class _DaskPool:
    """Units as tasks on an existing Dask distributed cluster (one unit per worker at a time)."""

    def __init__(self, address: str, jobs: int | None) -> None:
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover - distributed is a dependency
            raise SearchError(f"--cluster needs dask.distributed: {e}") from None
        self.address = address
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise SearchError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        self.fixed = jobs
        self._lost_since: float | None = None

    def jobs(self) -> int:
        if self.fixed:
            return self.fixed
        try:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        except Exception:  # the cluster went away: wait() reports it
            return 1

    def submit(self, config: SearchConfig, unit: Unit, slice_s: float | None, budget: int | None) -> Any:
        return self.client.submit(run_unit, config, unit, slice_s, budget, pure=False)

    def wait(self, futs: list[Any], timeout: float) -> set[Any]:
        end = time.perf_counter() + timeout
        while True:
            done = {f for f in futs if f.done()}
            if done:
                return done
            status = getattr(self.client, "status", "running")
            if status in ("running", "connecting", "newly-created"):
                self._lost_since = None
            elif self._lost_since is None:
                self._lost_since = time.perf_counter()
            elif time.perf_counter() - self._lost_since > 30:
                raise SearchError(f"lost the Dask cluster at {self.address} (client {status})")
            if time.perf_counter() >= end:
                return done
            time.sleep(0.005)

    def result(self, fut: Any) -> UnitOutcome:
        from distributed import CancelledError

        try:
            return fut.result(timeout=60)
        except CancelledError as e:
            raise _WorkerLost(str(e) or "task cancelled") from None
        except Exception as e:
            if type(e).__name__ == "KilledWorker":
                raise SearchError(f"a unit killed {MAX_WORKER_DEATHS} or more Dask workers: {e}") from None
            if isinstance(e, (OSError, TimeoutError)):
                raise SearchError(f"lost the Dask cluster at {self.address}: {e}") from None
            raise

    def set_hungry(self, n: int) -> None:
        pass

    def restart(self) -> None:
        pass

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except Exception:  # pragma: no cover - closing a client of a dead cluster
            pass


# -- the coordinator -----------------------------------------------------------------------------
class ParallelSearch:
    """The exhaustive exploration of ``config`` with ``jobs`` workers (``jobs == 1`` and no
    cluster: in this process).  ``run()`` returns the same :class:`Result` as the sequential
    explorer; ``stats``/``result`` are live totals while it runs (for a progress line)."""

    def __init__(self, config: SearchConfig, prog: Program, *, jobs: int = 1, cluster: str | None = None,
                 timeout: float | None = None, max_executions: int | None = None,
                 slice_seconds: float | None = None, slice_executions: int | None = None,
                 checkpoint: Callable[[dict[str, Any]], None] | None = None,
                 checkpoint_interval: float = 5.0) -> None:
        self.config = config
        self.prog = prog
        self.model = get_model(config.model)
        self.jobs = max(1, jobs)
        self.cluster = cluster
        self.timeout = timeout
        self.max_executions = max_executions
        self.slice_seconds = slice_seconds
        #: cut units after this many executions instead of after a time slice (and the checkpoint
        #: interval): how the search is split, and so what each checkpoint holds, then depends on
        #: counts only (in this process; workers still split their units for idle ones)
        self.slice_executions = slice_executions
        self.checkpoint = checkpoint
        self.checkpoint_interval = checkpoint_interval
        self.stats = Stats()
        self.result = Result(prog.name, self.model.name, HOLDS, stats=self.stats, max_outcomes=DEFAULT_MAX_OUTCOMES,
                             lb_search=config.lb_search if self.model.load_buffering else None)
        for c in prog.conditions:
            if c.kind == "exists":
                self.result.exists[c.name] = False
        self.pending: deque[Unit] = deque([[]])
        #: seconds of earlier runs of this search (a resumed checkpoint)
        self.seconds_before = 0.0
        self.units_done = 0
        #: seconds workers spent exploring units (busy / (wall * jobs): how well they were kept busy)
        self.busy_seconds = 0.0
        #: the longest the queue of units got
        self.max_pending = 1
        self.worker_deaths = 0
        self.interrupted = False
        self._in_flight: dict[Any, Unit] = {}
        self._running: Unit | None = None
        self._t0 = 0.0
        self.finished = False
        #: hashes of the names of the load-buffering executions counted so far (lkmm)
        self.lb_seen: set[int] = set()

    # -- totals --------------------------------------------------------------------------------
    def _merge(self, out: UnitOutcome) -> None:
        st = self.stats
        for k in COUNTERS:
            setattr(st, k, getattr(st, k) + out.stats.get(k, 0))
        res = self.result
        for key, n in out.outcomes:
            res.count_outcome(key, n)
        seen = self.lb_seen
        for h, key in out.lb_counted:
            if h in seen:  # (another unit counted it: load-buffering revisits are not optimal)
                st.complete -= 1
                res.uncount_outcome(key)
            else:
                seen.add(h)
        res.violation_count += out.violation_count
        for k, n in out.property_counts.items():
            res.property_counts[k] = res.property_counts.get(k, 0) + n
        for k, v in out.exists.items():
            res.exists[k] = res.exists.get(k, False) or v
        for d in out.violations:
            bound = d["kind"] == "event limit"
            kept = sum(1 for v in res.violations if (v.kind == "event limit") == bound)
            if kept < (1 if bound else self.config.keep_violations):
                res.violations.append(violation_from_data(d))
        self.units_done += 1
        self.busy_seconds += out.seconds

    def _queue(self, rest: list[Level], jobs: int) -> None:
        """Queue the rest of a paused unit: each level a unit; when there are few units for
        the workers, also split levels' item lists in two (the oldest items, at the front of a
        list, have the largest subtrees)."""
        units: list[Unit] = []
        few = len(self.pending) + len(rest) < 2 * jobs
        for lv in rest:
            items = lv["items"]
            if few and len(items) > 1:
                h = len(items) // 2
                units.append([{"graph": lv["graph"], "items": items[:h]}])
                units.append([{"graph": lv["graph"], "items": items[h:]}])
            else:
                units.append([lv])
        self.pending.extend(units)
        self.max_pending = max(self.max_pending, len(self.pending))

    def elapsed(self) -> float:
        return self.seconds_before + (time.perf_counter() - self._t0 if self._t0 else 0.0)

    def state(self) -> dict[str, Any]:
        """The search as plain data: configuration, totals and every unit not yet done."""
        res = self.result
        return {
            "config": self.config.as_json(),
            "program": self.prog.name,
            "stats": {k: getattr(self.stats, k) for k in COUNTERS},
            "outcomes": [[key, n] for key, n in res.outcomes.items()],
            "outcomes_untabled": res.untabled,
            "max_outcomes": res.max_outcomes,
            "violation_count": res.violation_count,
            "property_counts": dict(res.property_counts),
            "exists": dict(res.exists),
            "violations": [{"kind": v.kind, "message": v.message, "thread": v.thread, "where": v.where,
                            "replay": v.replay} for v in res.violations],
            "units": [] if self.finished else list(self.pending) + list(self._in_flight.values()),
            "finished": self.finished,
            "seconds": self.elapsed(),
            "units_done": self.units_done,
            "lb_seen": sorted(self.lb_seen),
        }

    # -- running -------------------------------------------------------------------------------
    def _pool(self) -> Any:
        if self.cluster is not None:
            return _DaskPool(self.cluster, None)
        if self.jobs == 1:
            return _InProcess(self.config, self.prog)
        return _LocalPool(self.jobs)

    def run(self) -> Result:
        self._t0 = time.perf_counter()
        t_start = self.elapsed()
        deadline = None if self.timeout is None else self._t0 + max(0.0, self.timeout - t_start)
        pool = self._pool()
        self.pool = pool
        in_flight = self._in_flight
        reason: str | None = None
        stopped = False
        last_ckpt = time.perf_counter()
        time_slice = self.slice_seconds or (CLUSTER_SLICE_SECONDS if self.cluster else SLICE_SECONDS)
        if self.checkpoint is not None:
            time_slice = min(time_slice, self.checkpoint_interval)
        # with slice_executions, units are cut by count (``budget``), not by time
        slice_default = None if self.slice_executions is not None and self.slice_seconds is None else time_slice
        draining_since: float | None = None
        if self.checkpoint is not None:  # from the start on, a killed run can be resumed
            self.checkpoint(self.state())
        try:
            while self.pending or in_flight:
                now = time.perf_counter()
                if reason is None:
                    if deadline is not None and now >= deadline:
                        reason = f"stopped after {self.timeout} s (--timeout)"
                    elif self.max_executions is not None and self.stats.executions >= self.max_executions:
                        reason = f"stopped after {self.stats.executions} executions (--max-executions)"
                if reason is not None:
                    if draining_since is None:
                        draining_since = now
                    if not in_flight or now - draining_since > 5.0:
                        break
                jobs = pool.jobs()
                while reason is None and self.pending and len(in_flight) < jobs:
                    unit = self.pending.popleft()
                    slice_s = slice_default
                    if deadline is not None:
                        slice_s = max(0.001, deadline - now if slice_s is None else min(slice_s, deadline - now))
                    budget = self.slice_executions
                    if self.max_executions is not None:
                        left_n = max(1, self.max_executions - self.stats.executions)
                        budget = left_n if budget is None else min(budget, left_n)
                    self._running = unit  # (in this process, submit runs the unit: Ctrl-C)
                    try:
                        fut = pool.submit(self.config, unit, slice_s, budget)
                    except _WorkerLost:
                        self.pending.appendleft(unit)
                        self._running = None
                        self._worker_died(pool, "the worker pool broke")
                        break
                    in_flight[fut] = unit
                    self._running = None
                pool.set_hungry(jobs - len(in_flight) if not self.pending else 0)
                if not in_flight:
                    continue
                for fut in pool.wait(list(in_flight), 0.25):
                    if fut not in in_flight:  # put back by _worker_died
                        continue
                    unit = in_flight.pop(fut)
                    try:
                        out = pool.result(fut)
                    except _WorkerLost as e:
                        self.pending.appendleft(unit)
                        self._worker_died(pool, str(e))
                        continue
                    if out.error is not None:
                        kind, msg, file, line = out.error
                        if kind == "model":
                            raise ModelError(msg, Src(file, line or 0, "") if file else None)
                        raise SearchError(msg)
                    self._merge(out)
                    self._queue(out.rest, jobs)
                    if out.stopped:
                        stopped = True
                if stopped:
                    break
                if self.checkpoint is not None and time.perf_counter() - last_ckpt >= self.checkpoint_interval:
                    self.checkpoint(self.state())
                    last_ckpt = time.perf_counter()
        except KeyboardInterrupt:
            self.interrupted = True
            reason = "interrupted (Ctrl-C)"
            if self._running is not None:
                self.pending.appendleft(self._running)
                self._running = None
        finally:
            pool.close()
        self.stats.seconds = self.elapsed()
        res = self.result
        left = bool(self.pending or in_flight)
        self.finished = stopped or not left
        if self.checkpoint is not None:
            self.checkpoint(self.state())
        if res.violation_count:
            res.verdict = VIOLATED
            res.incomplete_reason = reason if left and not stopped else None
        elif left or self.stats.bounded:
            res.verdict = INCOMPLETE
            res.incomplete_reason = reason if left else "a thread exceeded the per-thread event bound"
            if left and reason is None:  # pragma: no cover - defensive
                res.incomplete_reason = "the search stopped early"
        else:
            res.verdict = HOLDS
        return res

    def _worker_died(self, pool: Any, why: str) -> None:
        self.worker_deaths += 1
        # every unit that ran in the broken pool goes back to the queue (none was counted)
        for fut, unit in list(self._in_flight.items()):
            if isinstance(pool, _LocalPool):
                self.pending.appendleft(unit)
                del self._in_flight[fut]
        if self.worker_deaths > MAX_WORKER_DEATHS:
            raise SearchError(f"worker processes died {self.worker_deaths} times (last: {why}); giving up")
        pool.restart()
