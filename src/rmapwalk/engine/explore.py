"""Exhaustive exploration with optimal dynamic partial-order reduction (TruSt).

The algorithm is that of Kokologiannakis, Marmanis, Gladstein and Vafeiadis, "Truly Stateless,
Optimal Dynamic Partial Order Reduction" (POPL 2022), as GenMC implements it:

* the state is one execution graph; threads are extended in a fixed order (lowest thread first);
* a new read is added reading from the co-latest write (always consistent); every other
  coherent write it could read from becomes a *forward revisit* item;
* a new write is placed co-last; every other co placement becomes an item; then every earlier
  read of its location outside its (po | rf)-prefix may be *backward revisited* to read from it,
  keeping only the reads' "added before" prefix plus the write's prefix, provided that every
  event the revisit deletes was added *maximally* (the condition that makes each execution
  graph reachable in exactly one way, hence optimality);
* items are processed last-in first-out; a forward item restricts the graph to the events added
  up to the revisited event; a backward item works on a restricted copy (a nested execution).

Each complete graph is visited once per (rf, co) class: under SC that is one execution per
Mazurkiewicz trace, and under TSO/PSO one per consistent execution graph.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rmapwalk.engine.events import (
    BLOCK,
    END,
    ERROR,
    LIMIT,
    NO_WRITE,
    OBSERVE,
    PLAIN,
    READ,
    RMW,
    WRITE,
)
from rmapwalk.engine.graph import GR, GW, Ev, Graph
from rmapwalk.engine.models import MemoryModel, co_succ, get_model
from rmapwalk.engine.program import Final, Program
from rmapwalk.engine.result import DEFAULT_MAX_OUTCOMES, HOLDS, INCOMPLETE, VIOLATED, Result, Stats, Violation
from rmapwalk.engine.runtime import MODEL_ERROR, ModelError, ThreadBehaviour

_RF, _CO, _BREV = 0, 1, 2
#: a work item: (kind, event, write, tainted) -- see Explorer._explore.  Items hold the events
#: of their level's graph themselves (not their (thread, index) names): in a load-buffering
#: graph kept events can move along their thread, and an item must follow them.
_Item = tuple[int, Ev, Ev, bool]


@dataclass
class Options:
    """Bounds and switches of one exploration."""

    max_executions: int | None = None
    max_events: int = 1000
    timeout: float | None = None
    #: stop at the first violation instead of exploring everything
    stop_on_first: bool = False
    #: keep a trace for at most this many violations (all are counted)
    keep_violations: int = 1
    #: remember every execution to count duplicates (tests only: memory grows)
    check_redundancy: bool = False
    #: called on every finished execution with (graph, kind); for tests and extensions
    on_execution: Callable[[Graph, str], None] | None = None
    #: extra checks on complete executions: fn(graph, final) -> list of (kind, message)
    final_checks: tuple[Callable[[Graph, Final], list[tuple[str, str]]], ...] = ()
    #: table at most this many distinct final outcomes (None: all; memory then grows with them);
    #: conditions and checks still see every execution's outcome (``Result.count_outcome``)
    max_outcomes: int | None = DEFAULT_MAX_OUTCOMES
    #: await-aware exploration (see ``Explorer._moot``): a failed wait on a value a later write
    #: supersedes is no blocked execution (moot); off, every failed wait is explored to its end
    #: and counted as a blocked execution (for comparisons)
    await_aware: bool = True
    #: how a load-buffering model (``lkmm``, ``lkmm-alpha``) searches, see :data:`LB_SEARCHES`
    lb_search: str = "optimal"


#: ``optimal``: TruSt's maximality rule, extended to the revisits that keep events po-after the
#: read they change; fast, but it can miss executions (docs/design.md, "Load buffering": the
#: differential campaigns miss 0.1% of random programs, and KVM rows lose executions).
#: ``complete``: no maximality rule under load buffering -- every revisit a write may make is
#: made; ordinary revisits leave what they keep open to load-buffering revisits, and a read
#: leaves the (po | rf)-prefix that made it unrevisitable once a load-buffering revisit takes it
#: out; each graph and each execution is explored once by hash.  No execution is missed (no
#: campaign or KVM row has shown one), at about the same time on the kernel's litmus tests, 1.3x
#: on the default review's LKMM rows in all, up to 3-5x on a heavy KVM row and 11x on
#: lock-heavy random programs (docs/design.md).
#: Models without load buffering search the same way under both.
LB_SEARCHES = ("optimal", "complete")
#: how every command and the pytest plugin search load buffering unless told (exact counts,
#: no missed execution).  ``Options`` keep ``optimal``: the tests' counts and the mutation
#: table's event budgets were measured so.
DEFAULT_LB_SEARCH = "complete"


class _Stop(Exception):
    pass


class _Pause(Exception):
    """Raised after an execution is fully counted when :attr:`Explorer._pause` says so."""


class Explorer:
    """Explores every execution of ``prog`` under ``model``."""

    def __init__(self, prog: Program, model: str | MemoryModel = "sc", options: Options | None = None) -> None:
        if not prog.threads:
            raise ModelError(f"program {prog.name!r} has no threads")
        self.prog = prog
        self.model = get_model(model) if isinstance(model, str) else model
        self.opt = options or Options()
        deps = self.model.tracks_deps
        #: revisits keep the dependency prefix of the write, not its (po | rf)-prefix: reads may
        #: take values from po-later writes they do not depend on (load buffering)
        self.lb = self.model.load_buffering
        if self.opt.lb_search not in LB_SEARCHES:
            raise ValueError(f"lb_search must be one of {', '.join(LB_SEARCHES)}, not {self.opt.lb_search!r}")
        #: the complete load-buffering search, see :data:`LB_SEARCHES`
        self.lb_complete = self.lb and self.opt.lb_search == "complete"
        self.await_aware = self.opt.await_aware
        self.hb_ahead = getattr(self.model, "hb_ahead", None) if self.model.prune_choices else None
        self.beh = [ThreadBehaviour(td, i, self.opt.max_events, prog, deps, self.model.check_when_complete,
                                    self.model.lkmm_events)
                    for i, td in enumerate(prog.threads)]
        self.stats = Stats()
        self.result = Result(prog.name, self.model.name, HOLDS, stats=self.stats, max_outcomes=self.opt.max_outcomes,
                             lb_search=self.opt.lb_search if self.lb else None)
        for c in prog.conditions:
            if c.kind == "exists":
                self.result.exists[c.name] = False
        self._seen: set[Any] = set()
        #: under load buffering, hashes of the names of the executions counted (see _finish)
        self._lb_seen: set[Any] = set()
        #: hashes of the graphs load-buffering revisits made (see _step1)
        self._lb_revisited: set[int] = set()
        #: when a list: (hash of its name, outcome) of every complete execution counted under
        #: load buffering, for a search split into units to count each once (ParallelSearch)
        self.lb_counted: list[tuple[int, Any]] | None = None
        self._deadline = 0.0
        #: the exploration state: a stack of levels (graph, work list); a paused exploration
        #: (see :meth:`run_slice`) continues from it
        self._execs: list[tuple[Graph, list[_Item]]] = []
        #: asked after every execution whether to pause (work units, checkpoints)
        self._pause: Callable[[], bool] | None = None

    # ---------------------------------------------------------------------------------------
    def run(self) -> Result:
        t0 = time.perf_counter()
        self._deadline = t0 + self.opt.timeout if self.opt.timeout else 0.0
        try:
            self._explore()
        except _Stop:
            pass
        except KeyboardInterrupt:  # Ctrl-C: stop cleanly with what was explored so far
            self.result.incomplete_reason = "interrupted (Ctrl-C)"
        self.stats.seconds = time.perf_counter() - t0
        self.stats.thread_runs = sum(b.runs for b in self.beh)
        res = self.result
        if res.violation_count:
            res.verdict = VIOLATED
        elif res.incomplete_reason or self.stats.bounded:
            res.verdict = INCOMPLETE
            if not res.incomplete_reason:
                res.incomplete_reason = "a thread exceeded the per-thread event bound"
        return res

    def run_slice(self, pause: Callable[[], bool] | None = None) -> bool:
        """Go on exploring from the current state (:attr:`_execs`; empty: from the start) until
        the exploration is done (True) or ``pause()``, asked after every execution, returns true
        (False; the rest of the work stays in :attr:`_execs`).  A bound or ``stop_on_first``
        ends it as in :meth:`run` (True, with ``result.incomplete_reason`` set or a violation)."""
        self._pause = pause
        t0 = time.perf_counter()
        try:
            self._explore()
        except _Pause:
            return False
        except _Stop:
            self._execs.clear()
        finally:
            self._pause = None
            self.stats.seconds += time.perf_counter() - t0
        return True

    def _explore(self) -> None:
        execs = self._execs
        if not execs:
            g = Graph(self.prog, self.beh)
            g.lb = self.lb
            wl: list[_Item] = []
            execs.append((g, wl))
            self._visit(g, wl)
        step = self._step
        while execs:
            g, wl = execs[-1]
            if not wl:
                execs.pop()
                g.release()
                continue
            step(execs, g, wl, wl.pop())

    def _step(self, execs: list[tuple[Graph, list[_Item]]], g: Graph, wl: list[_Item], item: _Item) -> None:
        """Process one work item of level ``(g, wl)``: a forward revisit (rf or co) in place, or
        a backward revisit as a new level pushed on ``execs``."""
        self._step1(execs, g, wl, item)

    def _step1(self, execs: list[tuple[Graph, list[_Item]]], g: Graph, wl: list[_Item], item: _Item) -> None:
        model = self.model
        kind, e1, e2, tainted = item
        if kind == _RF:
            r, w = e1, e2
            g.restrict(r.stamp)
            g.set_rf(r, w)
            r.added_max = False
            r.revisited = False
            if g.broken:
                # (restrict judged r's thread by what r read before: with r's new value it may
                # make its kept events after all; _after_read checks it again)
                g.broken = None
                for t in range(g.nthreads):
                    if t != r.tid:
                        g.advance(t)
            if not model.read_ok(g, r) or (model.prune_choices and not model.prefix_consistent(g)):
                if self.lb and r.rmw:
                    self._lb_race_revisit(g, wl, r)
                self.stats.inconsistent += 1
                return
            if not self._after_read(g, wl, r):
                self.stats.inconsistent += 1
                return
            if self.await_aware and g.cursor[r.tid].kind == BLOCK and self._moot(g, r.tid):
                return
            self._visit(g, wl)
        elif kind == _CO:
            w, p = e1, e2
            g.restrict(w.stamp)
            co = g.co[w.loc]
            co.remove(w)
            co.insert(co.index(p) + 1, w)
            w.added_max = False
            if not model.write_ok(g, w) or (model.prune_choices and not model.prefix_consistent(g)):
                self.stats.inconsistent += 1
                return
            self._calc_revisits(g, wl, w)
            self._visit(g, wl)
        else:
            r, a = e1, e2
            g.restrict(self._revisit_stamp(g, r, a) if self.lb else a.stamp)
            # (a load-buffering revisit: r is in a's (po | rf)-prefix)
            lb_rev = self.lb and r.idx <= g.porf_view(a)[r.tid]
            if self.lb:
                view, prefix = self._lb_view(g, r, a)  # type: ignore[misc]
                # The complete search leaves the reads an ordinary revisit keeps in its write's
                # dependency prefix open to load-buffering revisits: that revisit's read may be
                # deleted later, and its marks with it, by another path to the same graph, whose
                # load-buffering revisits TruSt's rule then leaves to the marked one (cat 12
                # executions, 9 with the marks; see KNOWN of the differential test)
                lb_marks = not self.lb_complete or lb_rev
                deps = g.dep_masks(a)
                g2, copies = g.copy_masks(view)
                r2, a2 = copies[id(r)], copies[id(a)]
                # (what stays in a's (po | rf)-prefix once the revisit has deleted what it
                # deletes: events that were in it only through deleted ones may be revisited)
                prefix = [m & ((1 << (v + 1)) - 1) for m, v in zip(prefix, g2.porf_view(a2), strict=True)]
                for t, m in enumerate(prefix):
                    evs = g.threads[t]
                    m &= view[t]
                    d = deps[t]
                    while m:
                        low = m & -m
                        i = low.bit_length() - 1
                        m ^= low
                        e = evs[i] if i < len(evs) else None
                        if e is None:
                            continue  # (a gap in the prefix)
                        ne = copies[id(e)]
                        ne.revisitable = False
                        if d & low and lb_marks:
                            ne.lb_revisitable = False
            else:
                porf = g.porf_view(a)
                view = [max(x, y) for x, y in zip(g.stamp_view(r.stamp), porf, strict=True)]
                g2 = g.copy_view(view)
                for t, last in enumerate(porf):
                    evs = g2.threads[t]
                    for i in range(last + 1):
                        evs[i].revisitable = False
            if not self.lb:
                r2 = g2.ev(r.ref)
                a2 = g2.ev(a.ref)
            g2.set_rf(r2, a2)
            a2.revisitor = True
            r_stamp = r2.stamp
            if self.lb and not lb_rev:
                r2.stamp = g2.next_stamp
                g2.next_stamp += 1
                r2.revisited = True
            if lb_rev:
                # A load-buffering revisit keeps events after r: a happens-before cycle through
                # them shows now, not after the threads have run on (check the whole graph).
                r2.lb = True
                tainted = True
                if self.lb_complete:
                    self._unmark_left_prefixes(g, g2, copies, a2)
            r2.added_max = g2.co[a2.loc][-1] is a2
            if self.lb and not r2.lb:
                # An ordinary revisit in a load-buffering model restamps its read (above), which
                # lets more revisits pass TruSt's maximality check: two of them can make the same
                # graph, down to the order of its stamps.  The exploration from a graph is a
                # function of that state, so the second explores nothing the first did not
                # (flush-rule writable write_protect=locked under LKMM: 1,284 of 9,390 such
                # revisits, and 58% of the events explored under them).
                state = self._exact_state(g2, tainted, r_stamp, self.lb_complete)
                if state is not None:
                    if state in self._lb_revisited:
                        self.stats.lb_duplicates += 1
                        g2.release()
                        return
                    self._lb_revisited.add(state)
            if r2.lb:
                # Some load-buffering revisits are made without TruSt's check that no other
                # graph makes them (see _maximal_in and kept_after), so two of them can undo
                # each other for ever: each graph a load-buffering revisit makes is explored
                # once (the graph and every flag the exploration reads: the same subtree).
                state = hash((g2.key(), tainted, tuple(
                    (e.revisitable, e.lb_revisitable, e.added_max, e.lb, self.lb_complete and e.revisitor)
                    if e is not None else None
                    for evs in g2.threads for e in evs)))
                if state in self._lb_revisited:
                    self.stats.lb_duplicates += 1
                    g2.release()
                    return
                self._lb_revisited.add(state)
            if self.lb and r2.rmw and not self._move_kept_write(g2, r2, a2):
                self.stats.inconsistent += 1
                g2.release()
                return
            wl2: list[_Item] = []
            # A revisit computed in a graph that broke RMW atomicity (see _after_read) starts
            # from a graph not known to be consistent: check all of it under load buffering,
            # else what the unchecked RMW write adds (MemoryModel.raced_revisit_ok).
            if not tainted:
                ok = model.read_ok(g2, r2)
            elif self.lb:
                ok = model.prefix_consistent(g2)
            else:
                ok = model.raced_revisit_ok(g2, a2, r2)
            if not ok or not self._after_read(g2, wl2, r2, kept_after=r_stamp if self.lb else None):
                self.stats.inconsistent += 1
                if wl2:  # revisits pushed before an atomicity conflict was found
                    execs.append((g2, wl2))
                else:
                    g2.release()
                return
            if self.await_aware and g2.cursor[r2.tid].kind == BLOCK and self._moot(g2, r2.tid):
                g2.release()
                return  # (a read that blocks gives no RMW write: nothing was pushed on wl2)
            if self.lb:
                # Reads of a's location added after r and kept (in a's (po | rf)-prefix, outside
                # its dependency prefix) keep what they read; they may read a too, in an LB cycle
                # through r, and no later write would revisit them: push those revisits here.
                later = [x for x in g2.loc_reads.get(a2.loc, ()) if x is not r2 and x.stamp > r_stamp]
                if later:
                    self._calc_revisits_lb(g2, wl2, a2, later, True, kept_after=r_stamp)
            execs.append((g2, wl2))
            self._visit(g2, wl2)

    @staticmethod
    def _unmark_left_prefixes(g: Graph, g2: Graph, copies: dict[int, Ev], a2: Ev) -> None:
        """``g2`` is ``g`` after a load-buffering revisit changed what a read reads (``copies``:
        each kept event's copy by ``id``), so the (po | rf)-prefix of a write that revisited
        earlier and is kept may have lost the events it held through the read's old write.
        TruSt makes the events of such a prefix unrevisitable, for optimality only (no other
        revisit should make the graph that one made); the complete search makes those that left
        every such prefix revisitable again: the execution in which one of them reads a later
        write may be reached only so (two exchanges of y in an LB cycle: cat 8 executions,
        optimal search 7).  Events marked by a write the revisit deleted stay marked, as in the
        optimal search, and so do those of the prefix of ``a2``, the revisit's own write."""
        before = [-1] * g.nthreads
        after = g2.porf_view(a2)
        for evs in g.threads:
            for e in evs:
                if e is None or not e.revisitor:
                    continue
                e2 = copies.get(id(e))
                if e2 is None:
                    continue
                before = [max(x, y) for x, y in zip(before, g.porf_view(e), strict=True)]
                after = [max(x, y) for x, y in zip(after, g2.porf_view(e2), strict=True)]
        for t, evs in enumerate(g.threads):
            for e in evs:
                if e is None or e.revisitable or e.idx > before[t]:
                    continue
                e2 = copies.get(id(e))
                if e2 is not None and e2.idx > after[e2.tid]:
                    e2.revisitable = True

    @staticmethod
    def _exact_state(g: Graph, tainted: bool, kept_after: int, revisitors: bool = False) -> int | None:
        """A hash of everything the exploration from a graph a revisit made reads: its name, each
        event's path node, value and flags, the order of the stamps (only compared, never
        counted: ranks stand for them) and where ``kept_after`` falls in it.  None when a value
        cannot be hashed (that graph is then explored, as without this test)."""
        stamps = sorted(e.stamp for evs in g.threads for e in evs if e is not None)
        rank = {st: i for i, st in enumerate(stamps)}
        try:
            return hash(("exact", g.key(), tainted, bisect_left(stamps, kept_after), tuple(
                (rank[e.stamp], e.node.serial if e.node is not None else -1, e.val, e.revisitable,
                 e.lb_revisitable, e.added_max, e.lb, e.revisited, e.unverified, revisitors and e.revisitor)
                if e is not None else None
                for evs in g.threads for e in evs), tuple(c.serial for c in g.cursor)))
        except TypeError:
            return None

    @staticmethod
    def _revisit_stamp(g: Graph, r: Ev, a: Ev) -> int:
        """What a revisit of ``r`` by ``a`` restricts the graph to: what was added up to ``a``,
        and the write half of an RMW read a backward revisit gave ``a`` (the revisits pushed
        from the graph that revisit made, see :meth:`_step1`, come from that graph: the read
        was added before ``a``, its write after).  Restricting to ``a`` alone would keep such a
        read without its write."""
        stamp = a.stamp
        for x in a.readers or ():
            if x is r:
                continue
            if x.stamp > stamp and x.revisited:
                # (a read a's backward revisit gave a: it counts as added at that revisit, after
                # a, and the revisits pushed from the graph that revisit made keep it)
                stamp = x.stamp
            if not x.rmw:
                continue
            evs = g.threads[x.tid]
            w = evs[x.idx + 1] if x.idx + 1 < len(evs) else None
            if w is not None and w.kind == GW and w.rmw and w.stamp > stamp:
                stamp = w.stamp
        return stamp

    @staticmethod
    def _kept_write(g: Graph, r: Ev) -> Ev | None:
        """The write half of RMW read ``r`` if the graph still has it (a load-buffering revisit
        of ``r`` keeps an exchange's write, which does not depend on the value read)."""
        evs = g.threads[r.tid]
        w = evs[r.idx + 1] if r.idx + 1 < len(evs) else None
        return w if w is not None and w.kind == GW and w.rmw else None

    def _move_kept_write(self, g: Graph, r: Ev, a: Ev) -> bool:
        """``r`` now reads ``a``: its kept write half goes right after ``a`` in coherence
        (False: another RMW already read ``a``; the revisit's checks judge the rest)."""
        w = self._kept_write(g, r)
        if w is None:
            return True
        if self._rmw_taken(g, a):
            return False
        co = g.co[a.loc]
        co.remove(w)
        co.insert(co.index(a) + 1, w)
        return True

    # ---------------------------------------------------------------------------------------
    @staticmethod
    def _rmw_taken(g: Graph, w: Ev) -> bool:
        """Does a successful RMW already read from ``w``?  (Its write sits right after ``w``.)"""
        s = co_succ(g, w)
        return s is not None and s.rmw and g.threads[s.tid][s.idx - 1].rf is w

    def _after_read(self, g: Graph, wl: list[_Item], r: Ev, kept_after: int | None = None) -> bool:
        """Finish adding read ``r`` whose rf was just (re)chosen: the RMW write half, the cursor.

        Returns False when the graph cannot go on: inconsistent, or the RMW's write conflicts
        with another RMW that read the same write.  In the second case (as in GenMC) the
        backward revisits of the new RMW write are still pushed first: they are how the
        execution where this RMW wins the race is reached.
        """
        kept = self._kept_write(g, r) if self.lb and r.rmw else None
        if kept is not None:  # (an exchange's write half, kept by a load-buffering revisit)
            self._calc_revisits(g, wl, kept, kept_after=kept_after)
        elif r.rmw:
            val = g.rmw_value(r)
            if val is not NO_WRITE:
                taken = self._rmw_taken(g, r.rf)  # type: ignore[arg-type]
                w = g.add_rmw_write(r, val)
                if taken:
                    g.advance(r.tid)
                    self._calc_revisits(g, wl, w, tainted=True, kept_after=kept_after)
                    return False
                if co_succ(g, w) is not None and not self.model.write_ok(g, w):
                    return False
                self._calc_revisits(g, wl, w, kept_after=kept_after)
        g.advance(r.tid)
        return True

    def _lb_race_revisit(self, g: Graph, wl: list[_Item], r: Ev) -> None:
        """RMW read ``r`` was just given a write ``c`` that another RMW already read, which
        :meth:`_rf_allowed` allows under load buffering when that RMW is in the (po | rf)-prefix
        of ``r``'s write; the graph is inconsistent as it stands (typically that RMW, successful
        and fully ordered, closes an hb cycle).  Push the one revisit that can make it consistent:
        ``r``'s write's load-buffering revisit of the other RMW, when reading that write makes it
        fail (so it no longer writes, nor orders its thread as a successful RMW does; checked in
        full).  Only then: pushed for every such race, they made 13,000 more graphs that the full
        check rejected in ``desc-reuse`` under LKMM, and twice its time."""
        c = r.rf
        assert c is not None
        if not self._rmw_taken(g, c):
            return
        s = co_succ(g, c)
        assert s is not None
        other = g.threads[s.tid][s.idx - 1]
        val = g.rmw_value(r)
        if val is NO_WRITE or other.node is None or other.node.op(val) is not NO_WRITE:  # type: ignore[misc]
            return  # (the other RMW would still succeed, and still be ordered as it is now)
        w = g.add_rmw_write(r, val)
        g.advance(r.tid)
        if other.idx <= g.porf_view(w)[other.tid]:
            self._calc_revisits_lb(g, wl, w, [other], True)

    def _rf_allowed(self, g: Graph, r: Ev, c: Ev) -> bool:
        """May RMW read ``r`` (which would succeed reading ``c``) read from ``c``?  Not when an
        RMW that already read ``c`` successfully is settled: it can never be revisited, or it
        is in ``r``'s own (po | rf)-prefix (GenMC's rule; unsettled ones are raced).  Under
        load buffering, one in that prefix may still be revisited by ``r``'s write when it is
        outside ``r``'s dependency prefix and would not wait on the value it then reads."""
        s = co_succ(g, c)
        if s is None or not s.rmw:
            return True
        other = g.threads[s.tid][s.idx - 1]
        if other.rf is not c:
            return True
        if other.tid == r.tid:
            return False
        if not other.revisitable and not (self.lb and other.lb_revisitable):
            return False  # no revisit can change what it reads
        # r's write's (po | rf)-prefix with r reading c: r's thread before r, and (under load
        # buffering, where rf may close a cycle through ``other``) c's own prefix
        bound = g.porf_view(g.threads[r.tid][r.idx - 1])[other.tid] if r.idx else -1
        if self.lb and c.tid >= 0:
            bound = max(bound, g.porf_view(c)[other.tid])
        if other.idx > bound:
            return other.revisitable  # r's write may revisit it as usual
        # In that prefix, only a load-buffering revisit can change what ``other`` reads: it may
        # no longer be revisited as usual (an earlier revisit put it in a write's prefix) and
        # still be revisitable so (it is not in that write's dependency prefix).
        if not self.lb or not other.lb_revisitable:
            return False
        # Under load buffering the write of r can also revisit ``other`` in its
        # (po | rf)-prefix, unless ``other`` is in that write's dependency prefix (see _lb_view):
        # r's own, with r reading c.  Not when the thread of ``other`` would wait on the value
        # it then reads (a spin_lock finding the lock held): its later events, through which
        # r comes after ``other``, are gone, and so is the load-buffering cycle (the revisit
        # would make executions that the ordinary revisits make too).
        if other.node is None or r.node is None:
            return False
        if g.beh[other.tid].child(other.node, r.node.op(c.val)).kind == BLOCK:  # type: ignore[misc]
            return False
        old = r.rf
        r.rf = c
        try:
            need = g.dep_masks(r)
        finally:
            r.rf = old
        return not need[other.tid] >> other.idx & 1

    @staticmethod
    def _co_lower_bound(g: Graph, e: Ev | None, tid: int, loc: int, co: list[Ev]) -> int:
        """Index in ``co`` of the co-latest write that coherence forces before a new access of
        ``loc`` by thread ``tid`` (its own earlier writes, and what its earlier reads read)."""
        low = 0
        for x in g.threads[tid]:
            if x is e or x is None:  # (a gap: where a new event of a load-buffering graph goes)
                break
            if x.loc == loc:
                w = x if x.kind == GW else x.rf if x.kind == GR else None
                if w is not None:
                    i = co.index(w)
                    if i > low:
                        low = i
        return low

    @staticmethod
    def _co_upper_bound(g: Graph, tid: int, loc: int, co: list[Ev], high: int, e: Ev | None = None) -> int:
        """Index in ``co`` of the co-latest write that a new access of ``loc`` by thread ``tid``,
        made in a gap of a load-buffering graph, may read or follow: coherence bounds it by the
        kept events after the gap (a read no later than what a kept read reads, and before a
        kept write; a write before both)."""
        evs = g.threads[tid]
        pos = g.fill_pos(tid) if e is None else e.idx
        for x in evs[pos + 1:]:
            if x is None or x.loc != loc:
                continue
            if x.kind == GW:
                high = min(high, co.index(x) - 1)
            elif x.kind == GR and x.rf is not None:
                i = co.index(x.rf)
                high = min(high, i if e is None else i - 1)
        return high

    def _calc_revisits(self, g: Graph, wl: list[_Item], a: Ev, tainted: bool = False,
                       kept_after: int | None = None) -> None:
        reads = g.loc_reads.get(a.loc)
        if not reads:
            return
        if self.lb:
            self._calc_revisits_lb(g, wl, a, reads, tainted, kept_after)
            return
        porf: list[int] | None = None
        succ = None if a.rmw else co_succ(g, a)
        for r in reads:
            # a read of a's own thread is po-before it (a is po-maximal): in its prefix, and
            # so is an RMW write's own read half, the first candidate of every RMW
            if not r.revisitable or r.rf is a or r.tid == a.tid:
                continue
            if porf is None:
                porf = g.porf_view(a)
            if r.idx <= porf[r.tid]:
                continue
            view = [max(x, y) for x, y in zip(g.stamp_view(r.stamp), porf, strict=True)]
            if succ is not None and succ.idx > view[succ.tid]:
                continue  # the write's co-successor would be deleted
            if self._maximal(g, r, a, view):
                wl.append((_BREV, r, a, tainted))

    @staticmethod
    def _lb_view(g: Graph, r: Ev, a: Ev, porf: list[int] | None = None) -> tuple[list[int], list[int]] | None:
        """What a revisit of ``r`` by ``a`` keeps, as bitmasks per thread, and ``a``'s
        (po | rf)-prefix; None if ``a`` cannot be read by ``r``.

        As in TruSt, the events added up to ``r`` and ``a``'s (po | rf)-prefix are kept.  Under
        load buffering ``r`` may itself be in that prefix (``a`` comes after something that
        comes after ``r``): then what depends on ``r``'s value (:meth:`Graph.dependents`) is
        dropped, leaving gaps that the threads fill again with ``r``'s new value -- unless ``a``
        depends on ``r``, which would be a value out of thin air.  (``porf``: ``a``'s
        (po | rf)-prefix as :meth:`Graph.porf_view` gives it, when already known.)"""
        if porf is None:
            porf = g.porf_view(a)
        prefix = [(1 << (v + 1)) - 1 for v in porf]
        if r.idx > porf[r.tid]:
            view = [x | y for x, y in zip(g.stamp_masks(r.stamp), prefix, strict=True)]
            return view, prefix
        if r.tid == a.tid:
            return None  # r would read a po-later write of its own thread: never coherent
        dep = g.dependents(r)
        if dep[a.tid] >> a.idx & 1:
            return None
        # Keep only what a needs to exist (its dependency prefix, HMC's rule), not its whole
        # (po | rf)-prefix: events po-after r may read or write differently once r's value
        # changes (a branch taken now writes before a kept read of its location).
        need = g.dep_masks(a)
        stamp = g.stamp_masks(r.stamp)
        view = [(x | y) & ~d for x, y, d in zip(stamp, need, dep, strict=True)]
        for t, evs in enumerate(g.threads):
            m = view[t]
            for i in range(1, len(evs)):
                # an RMW read kept with its value keeps its write (added later, when a revisit
                # gave the read a new write): the thread would not make it again
                w = evs[i]
                if (w is not None and w.kind == GW and w.rmw and not m >> i & 1 and m >> (i - 1) & 1
                        and evs[i - 1] is not r):
                    m |= 1 << i
                # and an RMW write half goes with its read: an exchange's write does not depend
                # on what it read, but its thread makes it again only after the read
                elif w is not None and w.kind == GW and w.rmw and m >> i & 1 and not m >> (i - 1) & 1:
                    if w is a:
                        return None
                    m &= ~(1 << i)
            view[t] = m
        return view, prefix

    def _calc_revisits_lb(self, g: Graph, wl: list[_Item], a: Ev, reads: list[Ev], tainted: bool,
                          kept_after: int | None = None) -> None:
        """As :meth:`_calc_revisits`, also for reads in ``a``'s (po | rf)-prefix (load buffering:
        see :meth:`_lb_view`)."""
        succ = None if a.rmw else co_succ(g, a)
        porf = g.porf_view(a)
        for r in reads:
            if r.rf is a:
                continue
            # (which flag may allow the revisit is known before the costlier view is built)
            lb_rev = r.idx <= porf[r.tid]
            if not (r.lb_revisitable if lb_rev else r.revisitable):
                continue
            got = self._lb_view(g, r, a, porf)
            if got is None:
                continue
            view, prefix = got
            if succ is not None and not view[succ.tid] >> succ.idx & 1:
                continue  # the write's co-successor would be deleted
            if (self.lb_complete or (kept_after is not None and r.stamp > kept_after and lb_rev)
                    or self._maximal_masks(g, r, a, view, lb_rev, prefix if lb_rev else None)):
                wl.append((_BREV, r, a, tainted))

    @staticmethod
    def _maximal_masks(g: Graph, r: Ev, a: Ev, view: list[int], lb_rev: bool = False,
                       prefix: list[int] | None = None) -> bool:
        """:meth:`_maximal` for kept sets given as bitmasks (load buffering); ``lb_rev``: ``r`` is
        in ``a``'s (po | rf)-prefix (a load-buffering revisit), ``prefix`` that prefix: the writes
        of it that the revisit deletes (outside ``a``'s dependency prefix) are not checked --
        TruSt keeps them, so never asks whether they were added maximally.  (Not checking the
        deleted reads of it either finds more executions -- 981 instead of 555 in spt-reuse-aba
        leaf_check=by_value under LKMM, 4 instead of 9 misses in a random campaign -- but made
        mark-order's LKMM rows 3.6 times slower: not yet.)"""
        keep = view if prefix is None else [v | p for v, p in zip(view, prefix, strict=True)]
        return Explorer._maximal_in(
            g, r, a, lambda x: x.tid < 0 or bool(view[x.tid] >> x.idx & 1),
            (e for t, evs in enumerate(g.threads) for e in evs
             if e is not None and not view[t] >> e.idx & 1 and (e.kind != GW or not keep[t] >> e.idx & 1)),
            lb_rev, view)

    @staticmethod
    def _maximal(g: Graph, r: Ev, a: Ev, view: list[int]) -> bool:
        """Was every event the revisit deletes (and ``r`` itself) added maximally?

        TruSt's rule, event by event: it runs for every candidate revisit of every write (a third
        of indexer's time once went to building :meth:`_maximal_in`'s closures for it)."""
        if not Explorer._added_max_plain(g, r, a, view):
            return False
        for t, evs in enumerate(g.threads):
            for i in range(view[t] + 1, len(evs)):
                if not Explorer._added_max_plain(g, evs[i], a, view):
                    return False
        return True

    @staticmethod
    def _added_max_plain(g: Graph, e: Ev, a: Ev, view: list[int]) -> bool:
        """TruSt's maximality of one event ``e`` that a revisit by ``a`` deletes (or of the
        revisited read), keeping the prefix ``view``: it was added reading (or as) the co-latest write,
        and nothing kept other than ``a`` and its own thread's later writes follows that write in
        co (no kept event follows a deleted one without load buffering: none of the bounds of
        :meth:`_maximal_in` apply)."""
        kind = e.kind
        if kind == GR:
            if not e.added_max:
                return False
            w = e.rf
            assert w is not None
            if w.tid >= 0 and w.idx > view[w.tid] and w.stamp > e.stamp:
                return False  # (a deleted write revisited it: that revisit made this graph)
        elif kind == GW:
            if not e.added_max:
                return False
            w = e
        else:
            return True
        co = g.co[w.loc]
        tid, idx = e.tid, e.idx
        for j in range(co.index(w) + 1, len(co)):
            s = co[j]
            if s is not a and (s.tid < 0 or s.idx <= view[s.tid]) and not (s.tid == tid and s.idx > idx):
                return False
        return True

    @staticmethod
    def _maximal_in(g: Graph, r: Ev, a: Ev, in_view: Callable[[Ev], bool], deleted: Iterable[Ev],
                    lb_rev: bool, lb_view: list[int]) -> bool:
        """Were ``r`` and every event in ``deleted`` added maximally, given what a revisit in a
        load-buffering graph keeps (``in_view``; ``lb_view``: the same as bitmasks)?  Its
        executions are counted once by hash, so rules that may let two graphs make one revisit
        are allowed (the atomicity rule below).  (Without load buffering, :meth:`_maximal`.)"""

        def kept_after(e: Ev) -> bool:
            # (only a load-buffering revisit keeps events after deleted ones in a thread)
            return bool(lb_view[e.tid] >> (e.idx + 1))

        def co_before_kept(w: Ev, e: Ev, limit: int) -> bool:
            # (a kept write po-after e in e's own thread does not count: only a load-buffering
            # revisit keeps such writes, and e could never have read them)
            co = g.co[w.loc]
            i = co.index(w)
            for j in range(i + 1, min(limit, len(co))):
                s = co[j]
                if s is not a and in_view(s) and not (s.tid == e.tid and s.idx > e.idx):
                    # (both need a kept event after a deleted one in a thread: load buffering)
                    if forced_before(co, i, s) or (e.kind == GR and e.rmw and taken(s, e)):
                        continue
                    return True
            return False

        def taken(s: Ev, e: Ev) -> bool:
            # (an RMW read could never read a write a kept successful RMW reads: atomicity)
            return any(x is not e and x.rmw and x.wr is not None and in_view(x) and in_view(x.wr)
                       for x in s.readers)  # type: ignore[union-attr]

        def forced_limit(w: Ev) -> int:
            # A deleted write po-before a kept read of its location that reads another write
            # must, made again, come co-before what that read reads: its latest place is there.
            co = g.co[w.loc]
            limit = len(co)
            if not kept_after(w):
                return limit
            for x in g.threads[w.tid][w.idx + 1 :]:
                if (x is not None and x.kind == GR and x.loc == w.loc and in_view(x)
                        and x.rf is not None and x.rf is not w and x.rf.tid >= 0 and in_view(x.rf)):
                    limit = min(limit, co.index(x.rf))
            return limit

        def read_limit(e: Ev) -> int:
            # A deleted read po-before a kept access of its location in its thread, made again,
            # must read co-before that write (or no later than what that read reads): writes
            # from there on were never its to read.
            co = g.co[e.loc]
            limit = len(co)
            if not kept_after(e):
                return limit
            for x in g.threads[e.tid][e.idx + 1 :]:
                if x is None or x.loc != e.loc or not in_view(x):
                    continue
                if x.kind == GW:
                    limit = min(limit, co.index(x))
                elif x.kind == GR and x.rf is not None and x.rf.tid >= 0 and in_view(x.rf):
                    limit = min(limit, co.index(x.rf) + 1)
            return limit

        def forced_before(co: list[Ev], i: int, s: Ev) -> bool:
            # A deleted write co-before a kept one only because a deleted read po-before that
            # write (in its thread, which only a load-buffering revisit keeps past a gap) reads
            # it or a later write: coherence put it there, and once that read is gone the write,
            # made again, is added after the kept one.  No graph has it after the kept write
            # with that read, so this is the graph the revisit must come from.
            loc = co[i].loc
            for x in g.threads[s.tid][: s.idx]:
                if (x is not None and x.kind == GR and x.loc == loc and not in_view(x)
                        and x.rf is not None and co.index(x.rf) >= i):
                    return True
            return False

        def check(e: Ev) -> bool:
            if e.kind == GR:
                limit = read_limit(e)
                if not e.added_max and (e is r or limit == len(g.co[e.loc])):
                    # (a deleted read whose choices a kept later access of its thread bounds
                    # counts as maximal if it read the last write below that bound, checked
                    # next: made again after the revisit, that is its first choice)
                    return False
                w = e.rf
                assert w is not None
                if not in_view(w) and w.stamp > e.stamp and not (e is r and lb_rev):
                    # (a read that a deleted write revisited: the graph came from that revisit,
                    # and TruSt makes this one from the graph before it.  Not so for the read a
                    # load-buffering revisit changes: the graph before it may read values that
                    # make the revisit an ordinary one, which keeps more, so the execution is
                    # reached from no graph; the duplicates this allows are counted once)
                    return False
                return not co_before_kept(w, e, limit)
            if e.kind == GW:
                if e.rmw and lb_rev and g.threads[e.tid][e.idx - 1] is r:
                    # (the write half of the read a load-buffering revisit changes: atomicity put
                    # it right after what r read, no choice of its own)
                    return True
                limit = forced_limit(e)
                if not e.added_max and limit == len(g.co[e.loc]):
                    return False
                return not co_before_kept(e, e, limit)
            return True

        return check(r) and all(check(e) for e in deleted)

    # ---------------------------------------------------------------------------------------
    def _visit(self, g: Graph, wl: list[Any]) -> None:
        """Extend ``g`` thread by thread until the execution ends, pushing alternatives."""
        stats = self.stats
        cursor = g.cursor
        n = g.nthreads
        # The next thread is the first that can go on.  Only that thread's cursor changes in
        # this loop, so a thread found unable to go on stays so: the scan resumes where it is.
        first = 0
        while True:
            if g.broken:
                self._drop(g)
                return
            tid = -1
            for t in range(first, n):
                k = cursor[t].kind
                if k < END or k > LIMIT:  # not END, ERROR, BLOCK or LIMIT: the thread can go on
                    tid = first = t
                    break
            if tid < 0:
                self._finish(g)
                return
            node = cursor[tid]
            k = node.kind
            if g.holes and g.align(tid, node):
                continue
            stats.events += 1
            if k == READ or k == RMW:
                co = g.co_list(node.loc)
                low = self._co_lower_bound(g, None, tid, node.loc, co)
                last = len(co) - 1
                if g.holes and k == READ:
                    # A read made in a gap, before kept events of its location: writes past what
                    # they allow (coherence) were never its to read, so its first choice is the
                    # latest write below them (a subtree under a later one is all incoherent).
                    last = self._co_upper_bound(g, tid, node.loc, co, last)
                    if last < low:
                        stats.inconsistent += 1
                        return
                w = co[last]
                r = g.add_read(tid, node, w)
                if low < last:
                    ahead = None
                    if g.holes and k == READ and self.hb_ahead is not None and node.mode != PLAIN:
                        ahead = self.hb_ahead(g, r)
                    for i in range(low, last):
                        c = co[i]
                        if k == RMW and node.op(c.val) is not NO_WRITE and not self._rf_allowed(g, r, c):  # type: ignore[misc]
                            continue
                        if ahead and id(c) in ahead and c.tid != tid:
                            stats.inconsistent += 1
                            continue
                        wl.append((_RF, r, c, False))
                if k == RMW:
                    val = node.op(w.val)  # type: ignore[misc]
                    if val is not NO_WRITE:
                        w2 = g.add_rmw_write(r, val)
                        self._calc_revisits(g, wl, w2)
                g.advance(tid)
            elif k == WRITE:
                w = g.add_plain(tid, node)
                co = g.co_list(node.loc)
                low = self._co_lower_bound(g, w, tid, node.loc, co)
                m = len(co) - 1  # w goes right after co[m]
                if g.holes:
                    # (likewise a write made in a gap goes co-before the kept accesses after it)
                    m = self._co_upper_bound(g, tid, node.loc, co, m, w)
                    while m >= low and m + 1 < len(co) and self._rmw_taken(g, co[m]):
                        m -= 1
                    if m < low:
                        co.append(w)  # (the graph stays whole: the work items pushed from it restrict it)
                        stats.inconsistent += 1
                        return
                co.insert(m + 1, w)
                for i in range(low, m):
                    p = co[i]
                    if self._rmw_taken(g, p):
                        continue
                    wl.append((_CO, w, p, False))
                self._calc_revisits(g, wl, w)
                if g.lb:  # (kept events may follow: check them)
                    g.advance(tid)
                else:
                    cursor[tid] = node.next  # type: ignore[assignment]
            else:  # fence, observe, alloc, free, special
                g.add_plain(tid, node)
                if g.lb:  # (kept events may follow: check them)
                    g.advance(tid)
                else:
                    cursor[tid] = node.next  # type: ignore[assignment]
                # (after a read or a write the thread's last access is one added maximally: a
                # block there is never moot; after other events it may follow a revisited read)
                if self.await_aware and cursor[tid].kind == BLOCK and self._moot(g, tid):
                    return

    # -- await-aware exploration -------------------------------------------------------------
    # A thread that blocks (a failed ``assume``, a lock found taken, a spin pass that changed
    # nothing) waits on what its last read returned.  Two rules keep failed waits from becoming
    # blocked executions (GenMC's await-aware exploration: Kokologiannakis, Marmanis, Vafeiadis,
    # "Unblocking Dynamic Partial Order Reduction", CAV 2023):
    #
    # * at the block (:meth:`_moot`): a read that was not added reading the co-latest write (a
    #   forward revisit gave it an older one), or that no write may revisit any more, makes the
    #   graph *moot*; it is dropped with its whole subtree.  The graph in which the read takes the
    #   later write is explored anyway, so no complete execution is lost, and a wait that never
    #   ends is still reached where the read took the latest write.
    # * at the end (:meth:`_stale_wait`): an execution in which a waiting read's write was
    #   superseded by a later one (added after the thread blocked) is no execution in which the
    #   wait never ends: it is counted as moot, not blocked.  Its subtree is still explored: a
    #   later write's revisits of other reads are pushed from such graphs, and the executions they
    #   lead to may be reached from there only (the differential test finds such programs).
    #
    # So every blocked execution left is one where the wait can never end: a deadlock, a spin no
    # thread ends (both reported as violations) or an ``assume`` that never holds.

    def _moot(self, g: Graph, tid: int) -> bool:
        """Thread ``tid`` has just blocked: is its last access a read that was not added reading
        the co-latest write, or that no write may revisit any more?  (Counted in ``stats.moot``.)"""
        for e in reversed(g.threads[tid]):
            if e is None:
                continue
            if e.kind == GW:
                return False
            if e.kind == GR:
                if e.added_max and (e.revisitable or (self.lb and e.lb_revisitable)):
                    return False
                self.stats.moot += 1
                return True
        return False

    @staticmethod
    def _stale_wait(g: Graph) -> bool:
        """Is some blocked thread's last access a read whose write is no longer the co-latest?"""
        for t, c in enumerate(g.cursor):
            if c.kind != BLOCK:
                continue
            for e in reversed(g.threads[t]):
                if e is None:
                    continue
                if e.kind == GR and g.co[e.loc][-1] is not e.rf:
                    return True
                if e.kind == GR or e.kind == GW:
                    break
        return False

    def _final(self, g: Graph) -> Final:
        d: dict[str, Any] = {}
        prog = self.prog
        for t, evs in enumerate(g.threads):
            tname = prog.threads[t].name
            for e in evs:
                if e.node is not None and e.node.kind == OBSERVE:
                    d[f"{tname}:{e.node.label}"] = e.val
            end = g.cursor[t]
            if end.kind == END and isinstance(end.value, dict):
                for k, v in end.value.items():
                    d[f"{tname}:{k}"] = v
        for loc in prog.observed:
            d[loc.name] = g.final_memory(loc)
        return Final(d)

    @staticmethod
    def _porf_cyclic(g: Graph) -> bool:
        """Does some read read a write that comes after it in (po | rf)?  (A load-buffering
        execution: only a load-buffering revisit makes one.)"""
        threads = g.threads
        pos = [0] * len(threads)
        left = sum(len(evs) for evs in threads)
        moved = True
        while left and moved:
            moved = False
            for t, evs in enumerate(threads):
                i = pos[t]
                while i < len(evs):
                    e = evs[i]
                    if e is not None and e.kind == GR:
                        w = e.rf
                        if w is not None and w.tid >= 0 and w.idx >= pos[w.tid]:
                            break  # (its write is not placed yet)
                    i += 1
                if i != pos[t]:
                    left -= i - pos[t]
                    pos[t] = i
                    moved = True
        return left > 0

    def _drop(self, g: Graph) -> None:
        """A load-buffering graph that is no execution: a thread did not make again an event the
        revisit kept.  When the thread ended or waits before it, the kept write never happens
        and nothing is lost; when it makes another event there, the kept one may come later
        (a branch before it changed length) and that execution is not explored: incomplete."""
        self.stats.lb_dropped += 1
        if g.broken and "no longer makes" in g.broken and not self.result.incomplete_reason:
            self.result.incomplete_reason = ("load buffering: an execution was not explored because "
                                             f"{g.broken} (a branch before it changed length)")
        self._check_bounds()

    def _finish(self, g: Graph) -> None:
        stats = self.stats
        opt = self.opt
        if g.broken or g.holes:
            if g.holes and not g.broken:
                g.broken = "a thread ended before the gap left by a revisit was filled"
            self._drop(g)
            return
        lb_key: int | None = None
        if g.lb:
            cyclic = self._porf_cyclic(g)
            if not cyclic and any(e is not None and e.lb for evs in g.threads for e in evs):
                # A load-buffering revisit ended in an execution with no load-buffering cycle
                # left: once the events that depended on the revisited read were made again,
                # they took values that break the cycle, and the ordinary revisits reach that
                # execution.  (A cycle through another read keeps it: only load-buffering
                # revisits make those.)
                self.stats.lb_dropped += 1
                self._check_bounds()
                return
            # Load-buffering revisits are not yet optimal: two of them can rebuild the same
            # execution (the maximality rule of TruSt does not single out one parent once a
            # revisit keeps events po-after the revisited read), and one of them can rebuild an
            # execution the ordinary revisits make.  Count each execution once (by the hash of
            # its name: one machine word per execution).
            lb_key = hash(g.key())
            if lb_key in self._lb_seen:
                stats.lb_duplicates += 1
                self._check_bounds()
                return
            self._lb_seen.add(lb_key)
        if self.model.check_when_complete and not self.model.consistent(g):
            stats.inconsistent += 1
            self._check_bounds()
            return
        for end in g.cursor:  # the model's own error, in an execution that is one
            if end.kind == ERROR and end.label == MODEL_ERROR:
                raise end.value
        # A thread that failed an assertion (or ran past the event bound) stopped there; the
        # others ran on, so that their later writes could still revisit earlier reads.
        for t, end in enumerate(g.cursor):
            if end.kind == ERROR:
                self._violation(g, end.label or "assertion", str(end.value), t, end, ends_execution=True)
                return
        for t, end in enumerate(g.cursor):
            if end.kind == LIMIT:
                self._violation(g, "event limit", f"thread {self.prog.threads[t].name} exceeded "
                                f"{self.opt.max_events} events (a loop that never ends?)", t, end,
                                ends_execution=True, bound=True)
                return
        blocked = any(c.kind == BLOCK for c in g.cursor)
        if opt.check_redundancy:
            key = g.key()
            if key in self._seen:
                stats.redundant += 1
            self._seen.add(key)
        for check in self.prog.checks:
            for found in check(g, self.model):
                self._violation(g, found[0], found[1], None, None, order=found[2] if len(found) > 2 else None)
        if blocked and self.await_aware and self._stale_wait(g):
            # a thread waits on a value that a later write superseded: it would read again, so
            # this is no execution in which the wait never ends (the one where it reads the
            # later write is explored through that write's revisit)
            stats.moot += 1
            if opt.on_execution:
                opt.on_execution(g, "moot")
        elif blocked:
            stats.blocked += 1
            if self._deadlocked(g):
                blocked_at = [(t, c) for t, c in enumerate(g.cursor) if c.kind == BLOCK]
                waits = ", ".join(f"{self.prog.threads[t].name} in {c.label}" for t, c in blocked_at)
                if all(c.value == "spin" for _, c in blocked_at):
                    # a spin (assume(..., kind="spin")) that nothing left can end: a livelock, named
                    # by what the spin waited for
                    self._violation(g, str(blocked_at[0][1].label), f"spins forever on values no thread will change "
                                    f"again: {waits}", blocked_at[0][0], blocked_at[0][1])
                else:
                    self._violation(g, "deadlock", f"every running thread waits forever: {waits}", None, None)
            if opt.on_execution:
                opt.on_execution(g, "blocked")
        else:
            stats.complete += 1
            final = self._final(g)
            okey = final.key()
            res = self.result
            res.count_outcome(okey)
            if self.lb_counted is not None and lb_key is not None:
                self.lb_counted.append((lb_key, okey))
            for c in self.prog.conditions:
                sat = bool(c.pred(final))
                if c.kind == "exists":
                    if sat:
                        res.exists[c.name] = True
                elif (c.kind == "forbid") == sat:
                    self._violation(g, c.name, f"final state {final!r}", None, None)
            for fcheck in opt.final_checks:
                for kind, msg in fcheck(g, final):
                    self._violation(g, kind, msg, None, None)
            if opt.on_execution:
                opt.on_execution(g, "complete")
        self._check_bounds()

    @staticmethod
    def _deadlocked(g: Graph) -> bool:
        """Every thread that has not ended waits for a lock or spins, and nothing left in this
        execution can end the wait: a lock waiter's last read took the latest write of its
        location; a spinner's reads since its last write or fence (the pass it would repeat)
        all did."""
        waiting = False
        for t, c in enumerate(g.cursor):
            if c.kind == END:
                continue
            if c.kind != BLOCK or c.value not in ("lock", "spin"):
                return False
            evs = [e for e in g.threads[t] if e is not None]
            if c.value == "lock":
                last = next((e for e in reversed(evs) if e.kind == GR), None)
                if last is None or g.co[last.loc][-1] is not last.rf:
                    return False
            else:
                for e in reversed(evs):
                    if e.kind != GR:
                        break
                    if g.co[e.loc][-1] is not e.rf:
                        return False
            waiting = True
        return waiting

    def _check_bounds(self) -> None:
        st = self.stats
        opt = self.opt
        if opt.max_executions is not None and st.executions >= opt.max_executions:
            self.result.incomplete_reason = f"stopped after {st.executions} executions (--max-executions)"
            raise _Stop
        if self._deadline and time.perf_counter() > self._deadline:
            self.result.incomplete_reason = f"stopped after {opt.timeout} s (--timeout)"
            raise _Stop
        if self._pause is not None and self._pause():
            raise _Pause

    def _violation(self, g: Graph, kind: str, message: str, tid: int | None, node: Any,
                   ends_execution: bool = False, bound: bool = False, order: Any = None) -> None:
        """Record a violation found in ``g``.  ``ends_execution``: the execution stops here (a
        failed assertion) rather than being a complete one whose final state is wrong;
        ``bound``: not a violation but a bound that made the search incomplete."""
        from rmapwalk.engine.replay import graph_to_replay

        res = self.result
        if ends_execution:
            if bound:
                self.stats.bounded += 1
            else:
                self.stats.errors += 1
            if self.opt.on_execution:
                self.opt.on_execution(g, "bounded" if bound else "error")
        if not bound:
            res.violation_count += 1
            res.property_counts[kind] = res.property_counts.get(kind, 0) + 1
        kept = sum(1 for v in res.violations if (v.kind == "event limit") == bound)
        if kept < (1 if bound else self.opt.keep_violations):
            where = None
            if node is not None and node.src is not None:
                where = f"{node.src.file}:{node.src.line}"
            data = graph_to_replay(g, self.model.name)
            tname = self.prog.threads[tid].name if tid is not None else None
            data["violation"] = {"kind": kind, "message": message, "thread": tname, "where": where}
            if order:
                data["violation"]["order"] = [[list(a), list(b)] for a, b in order]
            res.violations.append(Violation(kind, message, tname, where, data))
        if not bound and self.opt.stop_on_first:
            self.result.incomplete_reason = None
            raise _Stop
        if ends_execution:
            self._check_bounds()


def explore(prog: Program, model: str = "sc", **kw: Any) -> Result:
    """Explore every execution of ``prog`` under ``model`` (``sc``, ``tso`` or ``pso``)."""
    return Explorer(prog, model, Options(**kw)).run()
