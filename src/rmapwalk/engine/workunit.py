"""Work units: pieces of an exhaustive exploration as plain data, and running them.

The explorer's state is a stack of *levels*, each an execution graph with its list of pending
work items (forward revisits, coherence placements, backward revisits; see ``explore.py``).
A level's items depend only on its graph, and levels do not share events, so any level, or any
subset of one level's items (with the same graph), can be explored anywhere else: that is a work
unit.  Exploring all the units of a paused exploration visits exactly the executions the
uninterrupted exploration would have visited, each once.

A unit is plain data (lists of ints, JSON-able): per level, the graph as, per thread, one row per
event ``[stamp, flags, rf_thread, rf_index]`` (``flags``: kind, revisitable, added maximally,
RMW), the coherence order and the reads of each location, and the items ``[kind, t1, i1, t2,
i2, tainted]``.  Thread code is not in it: the receiving process loads the program itself (from
a :class:`ProgramSource`) and rebuilds each event's place in the thread's behaviour by walking
the behaviour trie with the values the reads read.  An empty unit (no levels) is the whole
exploration.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rmapwalk.engine.events import ALLOC, FENCE, FREE, OBSERVE, READ, RMW, SPECIAL, WRITE
from rmapwalk.engine.explore import LB_SEARCHES, Explorer, Options
from rmapwalk.engine.graph import GF, GO, GR, GW, Ev, Graph
from rmapwalk.engine.program import Program
from rmapwalk.engine.result import HOLDS, Result, Stats, Violation
from rmapwalk.engine.runtime import ModelError, Src

__all__ = [
    "COUNTERS",
    "Level",
    "ProgramSource",
    "SearchConfig",
    "Unit",
    "UnitError",
    "UnitOutcome",
    "UnitRunner",
    "graph_from_data",
    "graph_to_data",
    "level_from_data",
    "level_to_data",
    "run_unit",
    "violation_from_data",
]

Level = dict[str, Any]
Unit = list[Level]

_REVISITABLE = 4
_ADDED_MAX = 8
_RMW = 16
#: load-buffering state (lkmm): no longer revisitable by a load-buffering revisit; a read a
#: load-buffering revisit gave its write (see ``Ev``)
_NOT_LB_REVISITABLE = 32
_LB = 64
#: a write that revisited a read (``Ev.revisitor``)
_REVISITOR = 128


class UnitError(Exception):
    """A work unit (or a checkpoint holding units) does not fit the program."""


@dataclass(frozen=True)
class ProgramSource:
    """How a worker process gets the program: a model file (``path``, with the program's
    ``name``/``symbol`` and the file's ``sha256`` to notice edits) or a factory function
    (``module``, ``function``, ``args``: ``benchmarks.programs``, ``lastzero``, ``[15]``)."""

    path: str | None = None
    name: str | None = None
    symbol: str | None = None
    sha256: str | None = None
    module: str | None = None
    function: str | None = None
    args: tuple[Any, ...] = ()

    def load(self) -> Program:
        if self.path is not None:
            from rmapwalk.loader import load_model  # the engine's one use of the loader layer

            loaded = load_model(self.path, self.name, self.symbol)
            if self.sha256 is not None and loaded.sha256 != self.sha256:
                raise UnitError(f"{self.path} changed since the search started")
            return loaded.program
        if self.module is None or self.function is None:
            raise UnitError("a program source needs a model file or a module and function")
        fn = getattr(importlib.import_module(self.module), self.function)
        prog = fn(*self.args)
        if not isinstance(prog, Program):
            raise UnitError(f"{self.module}.{self.function} did not return a Program")
        return prog

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["args"] = list(self.args)
        return {k: v for k, v in d.items() if v not in (None, [])}

    @classmethod
    def from_json(cls, d: Any) -> ProgramSource:
        if not isinstance(d, dict):
            raise UnitError("program source: expected an object")
        known = {"path", "name", "symbol", "sha256", "module", "function", "args"}
        if set(d) - known:
            raise UnitError(f"program source: unknown keys {sorted(set(d) - known)}")
        for k in known - {"args"}:
            if k in d and not isinstance(d[k], str):
                raise UnitError(f"program source: {k!r} should be a string")
        args = d.get("args", [])
        if not isinstance(args, list):
            raise UnitError("program source: 'args' should be a list")
        return cls(path=d.get("path"), name=d.get("name"), symbol=d.get("symbol"), sha256=d.get("sha256"),
                   module=d.get("module"), function=d.get("function"), args=tuple(args))

    def describe(self) -> str:
        if self.path is not None:
            return self.path + (f" ({self.name})" if self.name else "")
        return f"{self.module}.{self.function}{tuple(self.args)!r}"


@dataclass(frozen=True)
class SearchConfig:
    """Everything a worker needs besides the unit: the program, the memory model and the
    options that change what an exploration counts."""

    source: ProgramSource
    model: str = "sc"
    max_events: int = 1000
    keep_violations: int = 1
    stop_on_first: bool = False
    lb_search: str = "optimal"

    def key(self) -> str:
        return repr((self.source, self.model, self.max_events, self.keep_violations, self.stop_on_first,
                     self.lb_search))

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source.as_json(), "model": self.model, "max_events": self.max_events,
                "keep_violations": self.keep_violations, "stop_on_first": self.stop_on_first,
                "lb_search": self.lb_search}

    @classmethod
    def from_json(cls, d: Any) -> SearchConfig:
        if not isinstance(d, dict):
            raise UnitError("search configuration: expected an object")
        src = ProgramSource.from_json(d.get("source"))
        model = d.get("model")
        me = d.get("max_events")
        kv = d.get("keep_violations")
        so = d.get("stop_on_first")
        if not isinstance(model, str):
            raise UnitError("search configuration: 'model' should be a string")
        for name, v in (("max_events", me), ("keep_violations", kv)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise UnitError(f"search configuration: {name!r} should be a positive integer")
        if not isinstance(so, bool):
            raise UnitError("search configuration: 'stop_on_first' should be true or false")
        # (absent from checkpoints written before the complete search existed: those searched so)
        lbs = d.get("lb_search", "optimal")
        if lbs not in LB_SEARCHES:
            raise UnitError(f"search configuration: 'lb_search' should be one of {', '.join(LB_SEARCHES)}")
        return cls(src, model, me, kv, so, lbs)  # type: ignore[arg-type]


# -- graphs as data ------------------------------------------------------------------------------
def graph_to_data(g: Graph) -> dict[str, Any]:
    threads: list[list[list[int]]] = []
    for evs in g.threads:
        rows: list[list[int]] = []
        for e in evs:
            flags = e.kind | (_REVISITABLE if e.revisitable else 0) | (_ADDED_MAX if e.added_max else 0) | (
                _RMW if e.rmw else 0) | (0 if e.lb_revisitable else _NOT_LB_REVISITABLE) | (_LB if e.lb else 0) | (
                _REVISITOR if e.revisitor else 0)
            if e.kind == GR:
                w = e.rf
                assert w is not None
                rows.append([e.stamp, flags, w.tid, int(w.idx)])
            else:
                rows.append([e.stamp, flags])
        threads.append(rows)
    return {
        "threads": threads,
        "co": [[int(loc), [[w.tid, w.idx] for w in ws[1:]]] for loc, ws in g.co.items()],
        "reads": [[int(loc), [[r.tid, r.idx] for r in rs]] for loc, rs in g.loc_reads.items()],
        "next_stamp": g.next_stamp,
    }


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _ref(x: Any) -> tuple[int, int]:
    if not (isinstance(x, list) and len(x) == 2 and all(_is_int(v) for v in x)):
        raise UnitError(f"bad event reference {x!r}")
    return (x[0], x[1])


def graph_from_data(prog: Program, beh: list[Any], data: Any) -> Graph:
    """Rebuild the graph :func:`graph_to_data` described, in ``prog`` with behaviours ``beh``."""
    try:
        return _graph_from_data(prog, beh, data)
    except UnitError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise UnitError(f"malformed graph data: {type(e).__name__}: {e}") from None


def _graph_from_data(prog: Program, beh: list[Any], data: Any) -> Graph:
    if not isinstance(data, dict):
        raise UnitError("graph data: expected an object")
    rows_t = data["threads"]
    if not isinstance(rows_t, list) or len(rows_t) != len(beh):
        raise UnitError(f"graph data has {len(rows_t)} threads, program {prog.name!r} has {len(beh)}")
    g = Graph(prog, beh)
    for loc, _ in data["co"]:
        g.co_list(int(loc))
    n = len(beh)
    progress = True
    while progress:
        progress = False
        for t in range(n):
            rows = rows_t[t]
            evs = g.threads[t]
            while len(evs) < len(rows):
                row = rows[len(evs)]
                stamp, flags = int(row[0]), int(row[1])
                kind = flags & 3
                rmw = bool(flags & _RMW)
                if kind == GW and rmw:  # the write half of the RMW just before
                    r = evs[-1] if evs else None
                    if r is None or r.kind != GR or not r.rmw or r.rf is None:
                        raise UnitError("graph data: an RMW write without its read")
                    node = r.node
                    assert node is not None
                    e = Ev(t, len(evs), GW, node.loc, node.op(r.rf.val), node.mode, node, stamp, True)  # type: ignore[misc]
                    r.wr = e
                else:
                    node = g.cursor[t]
                    nk = node.kind
                    if kind == GR:
                        if nk != READ and nk != RMW:
                            raise UnitError(f"graph data does not match thread {prog.threads[t].name}: "
                                            f"event {len(evs)} is not a read")
                        wt, wi = int(row[2]), int(row[3])
                        if wt >= 0 and wi >= len(g.threads[wt]):
                            break  # its write is not rebuilt yet
                        w = g.ev((wt, wi))
                        if w.kind != GW or w.loc != node.loc:
                            raise UnitError("graph data: a read reads from something that is no write of its location")
                        e = Ev(t, len(evs), GR, node.loc, None, node.mode, node, stamp, nk == RMW)
                        e.rf = w
                        w.readers.append(e)  # type: ignore[union-attr]
                    else:
                        if nk not in _NODE_KINDS[kind]:
                            raise UnitError(f"graph data does not match thread {prog.threads[t].name} "
                                            f"at event {len(evs)}")
                        e = Ev(t, len(evs), kind, node.loc, node.value, node.mode, node, stamp)
                e.revisitable = bool(flags & _REVISITABLE)
                e.added_max = bool(flags & _ADDED_MAX)
                e.lb_revisitable = not flags & _NOT_LB_REVISITABLE
                e.lb = bool(flags & _LB)
                e.revisitor = bool(flags & _REVISITOR)
                evs.append(e)
                g.advance(t)
                progress = True
    for t in range(n):
        if len(g.threads[t]) != len(rows_t[t]):
            raise UnitError("graph data is cyclic: a read reads a write that is never rebuilt")
    for loc, refs in data["co"]:
        co = g.co[int(loc)]
        writes = [g.ev(_ref(r)) for r in refs]
        have = [e for evs in g.threads for e in evs if e.kind == GW and e.loc == int(loc)]
        if sorted(map(id, writes)) != sorted(map(id, have)):
            raise UnitError(f"graph data: the coherence order of location {loc} does not match its writes")
        co[1:] = writes
    for loc, refs in data["reads"]:
        reads = [g.ev(_ref(r)) for r in refs]
        if any(r.kind != GR for r in reads):
            raise UnitError("graph data: a read list names a non-read")
        g.loc_reads[int(loc)] = reads
    g.next_stamp = int(data["next_stamp"])
    return g


#: graph event kind (not a read) -> the node kinds it can come from
_NODE_KINDS = {GW: frozenset({WRITE}), GF: frozenset({FENCE}), GO: frozenset({OBSERVE, ALLOC, FREE, SPECIAL})}


def level_to_data(g: Graph, items: list[Any]) -> Level:
    return {"graph": graph_to_data(g),
            "items": [[k, a.tid, int(a.idx if a.tid >= 0 else a.loc), b.tid, int(b.idx if b.tid >= 0 else b.loc),
                       1 if tainted else 0] for k, a, b, tainted in items]}


def level_from_data(prog: Program, beh: list[Any], level: Any) -> tuple[Graph, list[Any]]:
    if not isinstance(level, dict) or "graph" not in level or not isinstance(level.get("items"), list):
        raise UnitError("a work unit level needs 'graph' and 'items'")
    g = graph_from_data(prog, beh, level["graph"])
    items: list[Any] = []
    for it in level["items"]:
        if not (isinstance(it, list) and len(it) == 6 and all(_is_int(v) for v in it) and 0 <= it[0] <= 2):
            raise UnitError(f"bad work item {it!r}")
        try:
            items.append((it[0], g.ev((it[1], it[2])), g.ev((it[3], it[4])), bool(it[5])))
        except (IndexError, KeyError):
            raise UnitError(f"work item {it!r} names an event the graph does not have") from None
    return g, items


# -- running units -------------------------------------------------------------------------------
@dataclass
class UnitOutcome:
    """What exploring one unit (or a slice of it) found, as plain data."""

    stats: dict[str, int] = field(default_factory=dict)
    outcomes: list[tuple[Any, int]] = field(default_factory=list)
    violation_count: int = 0
    property_counts: dict[str, int] = field(default_factory=dict)
    exists: dict[str, bool] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    #: the work left when the slice ended (each level a unit of its own); empty when done
    rest: list[Level] = field(default_factory=list)
    #: stopped at a violation (stop_on_first): the whole search ends
    stopped: bool = False
    #: the unit could not be explored: (kind, message, file, line); kind "model" (the model
    #: raised), "load" (the model file could not be loaded) or "internal"
    error: tuple[str, str, str | None, int | None] | None = None
    seconds: float = 0.0
    #: under load buffering, (hash of its name, outcome) of each complete execution counted: two
    #: units may both make one execution (see ``Explorer._finish``), which the search counts once
    lb_counted: list[tuple[int, Any]] = field(default_factory=list)


COUNTERS = ("complete", "blocked", "errors", "bounded", "redundant", "inconsistent", "moot", "events",
            "thread_runs")


class UnitRunner:
    """Explores units of one search in this process (the program is loaded once and its
    behaviour tries are kept from unit to unit)."""

    def __init__(self, config: SearchConfig, prog: Program | None = None) -> None:
        self.config = config
        self.prog = prog if prog is not None else config.source.load()
        self.explorer = Explorer(self.prog, config.model, Options(
            max_events=config.max_events, keep_violations=config.keep_violations,
            stop_on_first=config.stop_on_first, lb_search=config.lb_search))

    def run(self, unit: Unit, slice_seconds: float | None = None, max_executions: int | None = None,
            hungry: Callable[[], bool] | None = None) -> UnitOutcome:
        """Explore ``unit`` until it is done, or pause after ``slice_seconds`` / ``max_executions``
        executions, or as soon as ``hungry()`` (another worker waits for work) once the unit can
        be split."""
        ex = self.explorer
        ex.stats = stats = Stats()
        ex.result = Result(self.prog.name, ex.model.name, HOLDS, stats=stats)
        for c in self.prog.conditions:
            if c.kind == "exists":
                ex.result.exists[c.name] = False
        runs0 = sum(b.runs for b in ex.beh)
        ex._execs = [level_from_data(self.prog, ex.beh, lv) for lv in unit]
        for g, _ in ex._execs:
            g.lb = ex.lb  # (rebuilt without load buffering, which its threads in order need not)
        t0 = time.perf_counter()
        end = t0 + slice_seconds if slice_seconds is not None else None
        execs = ex._execs

        def pause() -> bool:
            return wants_pause() and shippable()

        def wants_pause() -> bool:
            if max_executions is not None and stats.executions >= max_executions:
                return True
            now = time.perf_counter()
            if end is not None and now >= end:
                return True
            if hungry is not None and now - t0 > 0.02 and hungry():
                n = 0
                for _, wl in execs:
                    n += len(wl)
                    if n > 1:
                        return True
            return False

        def shippable() -> bool:
            # A graph a load-buffering revisit made (a read of a write po-after it in
            # (po | rf), or a gap a thread has yet to fill) cannot be rebuilt from plain data by
            # running the threads in order: the unit goes on until no such graph has work left.
            return not ex.lb or not any(wl and (g.holes or ex._porf_cyclic(g)) for g, wl in execs)

        out = UnitOutcome()
        if ex.lb:
            # (this runner serves every search of its configuration in this process: the
            # executions counted are the search's to merge, see ParallelSearch._merge)
            ex._lb_seen = set()
            ex._lb_revisited = set()
            ex.lb_counted = out.lb_counted
        try:
            done = ex.run_slice(pause)
        except ModelError as e:
            src: Src | None = e.src
            out.error = ("model", str(e), src.file if src else None, src.line if src else None)
            return out
        res = ex.result
        stats.thread_runs = sum(b.runs for b in ex.beh) - runs0
        out.stats = {k: getattr(stats, k) for k in COUNTERS}
        out.seconds = time.perf_counter() - t0
        out.outcomes = list(res.outcomes.items())
        out.violation_count = res.violation_count
        out.property_counts = dict(res.property_counts)
        out.exists = dict(res.exists)
        out.violations = [{"kind": v.kind, "message": v.message, "thread": v.thread, "where": v.where,
                           "replay": v.replay} for v in res.violations]
        out.stopped = done and res.violation_count > 0 and self.config.stop_on_first
        if not done:
            out.rest = [level_to_data(g, wl) for g, wl in ex._execs if wl]
        ex._execs = []
        return out


_RUNNERS: dict[str, UnitRunner] = {}
_LOCK = threading.Lock()
#: set in local worker processes: how many workers wait for work (a shared integer)
_HUNGRY: Any = None


def _init_worker(hungry: Any) -> None:
    global _HUNGRY
    _HUNGRY = hungry
    os.environ.setdefault("RMAPWALK_WORKER", "1")


def _is_hungry() -> bool:
    return bool(_HUNGRY is not None and _HUNGRY.value > 0)


def run_unit(config: SearchConfig, unit: Unit, slice_seconds: float | None = None,
             max_executions: int | None = None) -> UnitOutcome:
    """Explore one unit in this process (the function workers run; the runner is cached)."""
    with _LOCK:  # thread code runs one thread at a time per process (Dask workers have threads)
        key = config.key()
        runner = _RUNNERS.get(key)
        try:
            if runner is None:
                _RUNNERS.clear()  # one search at a time per worker: drop the tries of the last one
                runner = UnitRunner(config)
                _RUNNERS[key] = runner
            return runner.run(unit, slice_seconds, max_executions, _is_hungry if _HUNGRY is not None else None)
        except ModelError as e:
            return UnitOutcome(error=("model", str(e), e.src.file if e.src else None, e.src.line if e.src else None))
        except UnitError as e:
            return UnitOutcome(error=("internal", f"bad work unit: {e}", None, None))
        except Exception as e:
            kind = "load" if type(e).__name__ == "LoadError" else "internal"
            msg = str(e) if kind == "load" else f"{type(e).__name__}: {e}"
            return UnitOutcome(error=(kind, " ".join(msg.split()), None, None))


def violation_from_data(d: dict[str, Any]) -> Violation:
    return Violation(d["kind"], d["message"], d.get("thread"), d.get("where"), d["replay"])

