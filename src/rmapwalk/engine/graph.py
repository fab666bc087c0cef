"""Execution graphs: events per thread in program order, reads-from, coherence order.

An execution graph is what an execution *is* for the memory models here: which write each read
took its value from (``rf``) and, per location, the order in which writes hit memory (``co``).
Events carry a *stamp*, the order in which the explorer added them; the explorer's revisiting
rules depend on it.  Because events are added in program order, each thread's events with stamps
up to some bound form a prefix of that thread, so a set of events closed under "added before" or
under (po | rf)-prefix is described by one index per thread (a *view*).
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine.events import (
    ALLOC,
    FENCE,
    FREE,
    NO_WRITE,
    OBSERVE,
    READ,
    RMW,
    SPECIAL,
    TERMINAL_KINDS,
    WRITE,
)
from rmapwalk.engine.program import Program
from rmapwalk.engine.runtime import Node, ThreadBehaviour

# graph event kinds
GR = 0  # read (or the read half of an RMW)
GW = 1  # write (or the write half of an RMW); also the initial write of each location
GF = 2  # fence
GO = 3  # any other event (observe, alloc, free, special): in po for traces, no memory effect

_NODE_TO_GK = {READ: GR, RMW: GR, WRITE: GW, FENCE: GF, OBSERVE: GO, ALLOC: GO, FREE: GO, SPECIAL: GO}
_new = object.__new__


class Ev:
    """One event of an execution graph."""

    __slots__ = (
        "tid",
        "idx",
        "kind",
        "loc",
        "val",
        "mode",
        "node",
        "rf",
        "stamp",
        "revisited",
        "readers",
        "rmw",
        "revisitable",
        "added_max",
        "wr",
        "unverified",
        "lb",
        "lb_revisitable",
        "revisitor",
    )

    def __init__(self, tid: int, idx: int, kind: int, loc: int, val: Any, mode: str, node: Node | None,
                 stamp: int, rmw: bool = False) -> None:
        self.tid = tid
        self.idx = idx
        self.kind = kind
        self.loc = loc
        self.val = val
        self.mode = mode
        self.node = node
        self.rf: Ev | None = None
        self.stamp = stamp
        #: a read whose stamp a load-buffering graph's backward revisit moved to that revisit
        self.revisited = False
        self.readers: list[Ev] | None = [] if kind == GW else None
        self.rmw = rmw
        self.revisitable = True
        self.added_max = True
        #: for the read half of an RMW: its write half, or None while it has none (failed)
        self.wr: Ev | None = None
        #: kept across a load-buffering revisit past a gap in its thread: the thread must still
        #: reach it, on the new path of values, once the gap is filled (see Graph.advance)
        self.unverified = False
        #: this read took its value from a write it is (po | rf)-before: a load-buffering
        #: revisit set it, and the finished execution must still have that cycle (else it is
        #: one the ordinary revisits reach too)
        self.lb = False
        #: a load-buffering revisit may still change what this read reads (False once it is in
        #: the dependency prefix of a write that revisited a read: ``revisitable`` is the same
        #: for the (po | rf)-prefix and ordinary revisits)
        self.lb_revisitable = True
        #: this write revisited a read: its (po | rf)-prefix is why events are not
        #: ``revisitable`` (read again when a load-buffering revisit shrinks that prefix)
        self.revisitor = False

    def copy(self) -> Ev:
        """A fresh event with this one's identity, value, stamp and flags, for a copy of its
        graph: ``rf`` still names this event's write (the caller maps it to the copy's),
        ``readers`` starts empty and ``wr`` unset.  (Copies are most of a backward revisit's
        cost: this is __init__ without the argument passing.)"""
        ne = _new(Ev)
        ne.tid = self.tid
        ne.idx = self.idx
        ne.kind = self.kind
        ne.loc = self.loc
        ne.val = self.val
        ne.mode = self.mode
        ne.node = self.node
        ne.rf = self.rf
        ne.stamp = self.stamp
        ne.revisited = self.revisited
        ne.readers = [] if self.kind == GW else None
        ne.rmw = self.rmw
        ne.revisitable = self.revisitable
        ne.added_max = self.added_max
        ne.wr = None
        ne.unverified = self.unverified
        ne.lb = self.lb
        ne.lb_revisitable = self.lb_revisitable
        ne.revisitor = self.revisitor
        return ne

    @property
    def ref(self) -> tuple[int, int]:
        """A name for this event that survives restriction and copying: (thread, index);
        initial writes are (-1, location)."""
        return (self.tid, self.idx)

    def __repr__(self) -> str:
        k = "RWFO"[self.kind]
        if self.tid < 0:
            return f"Init({self.loc})"
        return f"{k}{'*' if self.rmw else ''}({self.tid}.{self.idx} loc={self.loc} val={self.val!r} st={self.stamp})"


def _dep_shape(node: Node) -> tuple[int, int, int]:
    """How many reads an event's address, value and execution depend on (see Node.deps)."""
    d = node.deps
    return (0, 0, 0) if d is None else (len(d[0]), len(d[1]), len(d[2]))


def _twin_ahead(cur: Node, kept: Node) -> bool:
    """Is ``cur`` (a node like the kept event's ``kept``: same kind, location, value, line) not
    the kept event because a later node of the thread, before its next read, is like it too and
    has the kept event's dependency shape (a write in a branch, then the same write after the
    join)?  Only then does the shape decide: a kept event whose dependencies changed is still
    the same event (the full check judges the execution)."""
    shape = _dep_shape(kept)
    if _dep_shape(cur) == shape:
        return False
    n = cur.next
    while n is not None and n.kind not in TERMINAL_KINDS and n.kind != READ and n.kind != RMW:
        if (n.kind == kept.kind and n.loc == kept.loc and n.value == kept.value and n.mode == kept.mode
                and n.src is not None and kept.src is not None and n.src.line == kept.src.line
                and _dep_shape(n) == shape):
            return True
        n = n.next
    return False


class Graph:
    """A (partial) execution graph of a program, with each thread's position in its behaviour."""

    __slots__ = ("prog", "beh", "threads", "cursor", "co", "loc_reads", "next_stamp", "nthreads", "lb", "holes",
                 "broken")

    def __init__(self, prog: Program, beh: list[ThreadBehaviour]) -> None:
        self.prog = prog
        self.beh = beh
        self.nthreads = len(beh)
        self.threads: list[list[Ev]] = [[] for _ in beh]
        self.cursor: list[Node] = [b.root for b in beh]
        self.co: dict[int, list[Ev]] = {}
        self.loc_reads: dict[int, list[Ev]] = {}
        self.next_stamp = 0
        #: a load-buffering revisit made this graph: a thread's events may have gaps (``None``
        #: slots, counted by ``holes``) and stamps that do not grow along the thread
        self.lb = False
        self.holes = 0
        #: why this graph is no execution after all (a kept event did not recur), or None
        self.broken: str | None = None

    # -- locations -------------------------------------------------------------------------------
    def co_list(self, loc: int) -> list[Ev]:
        co = self.co.get(loc)
        if co is None:
            init = Ev(-1, loc, GW, loc, self.prog.initial(loc), "init", None, -1)
            init.revisitable = False
            co = self.co[loc] = [init]
        return co

    def ev(self, ref: tuple[int, int]) -> Ev:
        tid, idx = ref
        if tid < 0:
            return self.co_list(idx)[0]
        return self.threads[tid][idx]

    # -- adding events ---------------------------------------------------------------------------
    def _new_ev(self, tid: int, kind: int, loc: int, val: Any, mode: str, node: Node, rmw: bool = False) -> Ev:
        evs = self.threads[tid]
        if self.holes:
            p = self.fill_pos(tid)
            if p < len(evs):
                e = Ev(tid, p, kind, loc, val, mode, node, self.next_stamp, rmw)
                self.next_stamp += 1
                evs[p] = e
                self.holes -= 1
                return e
        e = Ev(tid, len(evs), kind, loc, val, mode, node, self.next_stamp, rmw)
        self.next_stamp += 1
        evs.append(e)
        return e

    def _open_gap(self, tid: int, i: int) -> None:
        """Move thread ``tid``'s events from index ``i`` on one place on, leaving a gap at ``i``."""
        evs = self.threads[tid]
        evs.insert(i, None)  # type: ignore[arg-type]
        for x in evs[i + 1:]:
            if x is not None:
                x.idx += 1
        self.holes += 1

    def align(self, tid: int, node: Node) -> bool:
        """Before thread ``tid`` makes ``node`` in its first gap: if the gap runs up to a kept
        event that ``node`` is (the same source line, kind, location and value: a branch before
        it got shorter), close the gap by moving the kept events back instead.  True if done."""
        evs = self.threads[tid]
        h = self.fill_pos(tid)
        j = h
        while j < len(evs) and evs[j] is None:
            j += 1
        if j == h or j == len(evs):
            return False
        e = evs[j]
        old = e.node
        if not e.unverified or old is None or old.src is None or node.src is None:
            return False
        if (old.kind != node.kind or old.loc != node.loc or old.value != node.value or old.mode != node.mode
                or old.src.file != node.src.file or old.src.line != node.src.line or _twin_ahead(node, old)):
            return False
        d = j - h
        del evs[h:j]
        for x in evs[h:]:
            if x is not None:
                x.idx -= d
        self.holes -= d
        self.advance(tid)
        return True

    def fill_pos(self, tid: int) -> int:
        """Where thread ``tid``'s next event goes: its first gap, or its end."""
        evs = self.threads[tid]
        if self.holes:
            for i, e in enumerate(evs):
                if e is None:
                    return i
        return len(evs)

    def add_plain(self, tid: int, node: Node) -> Ev:
        """Add a non-value event (write, fence, other) of ``node``; the write is not yet in co."""
        gk = _NODE_TO_GK[node.kind]
        return self._new_ev(tid, gk, node.loc, node.value, node.mode, node)

    def add_read(self, tid: int, node: Node, rf: Ev) -> Ev:
        """Add the read (or RMW read half) of ``node`` reading from ``rf``."""
        e = self._new_ev(tid, GR, node.loc, None, node.mode, node, node.kind == RMW)
        e.rf = rf
        rf.readers.append(e)  # type: ignore[union-attr]
        lr = self.loc_reads.get(node.loc)
        if lr is None:
            self.loc_reads[node.loc] = [e]
        else:
            lr.append(e)
        return e

    def rmw_value(self, r: Ev) -> Any:
        """What the RMW whose read half is ``r`` writes, or NO_WRITE."""
        return r.node.op(r.rf.val)  # type: ignore[union-attr,misc]

    def add_rmw_write(self, r: Ev, val: Any) -> Ev:
        """Add the write half of RMW read ``r``, placed in co immediately after ``r.rf``."""
        node = r.node
        assert node is not None
        if self.lb:
            evs = self.threads[r.tid]
            i = r.idx + 1
            if i < len(evs) and evs[i] is not None:  # a kept event: the write half goes before it
                self._open_gap(r.tid, i)
        w = self._new_ev(r.tid, GW, r.loc, val, node.mode, node, True)
        r.wr = w
        co = self.co_list(r.loc)
        co.insert(co.index(r.rf) + 1, w)  # type: ignore[arg-type]
        return w

    def set_rf(self, r: Ev, w: Ev) -> None:
        old = r.rf
        if old is not None and old.readers is not None:
            try:
                old.readers.remove(r)
            except ValueError:
                pass
        r.rf = w
        w.readers.append(r)  # type: ignore[union-attr]
        r.lb = False
        if self.lb:  # what the thread does after r may change: check it again
            for e in self.threads[r.tid][r.idx + 1:]:
                if e is not None:
                    e.unverified = True

    def advance(self, tid: int) -> None:
        """Recompute thread ``tid``'s cursor from its last event (in a load-buffering graph: from
        the last event before its first gap, checking that the thread, on its current path of
        values, still makes each kept event it passes)."""
        if self.lb:
            self._advance_lb(tid)
            return
        evs = self.threads[tid]
        if not evs:
            self.cursor[tid] = self.beh[tid].root
            return
        e = evs[-1]
        node = e.node
        assert node is not None
        if e.kind == GR:
            if e.rmw:
                # the read half alone: the RMW failed, or its write half is still to be added
                self.cursor[tid] = self.beh[tid].child(node, e.rf.val)  # type: ignore[union-attr]
            else:
                self.cursor[tid] = self.beh[tid].child(node, e.rf.val)  # type: ignore[union-attr]
        elif e.rmw:  # write half of an RMW: continue after the RMW with the value it read
            r = evs[-2]
            self.cursor[tid] = self.beh[tid].child(node, r.rf.val)  # type: ignore[union-attr]
        else:
            nxt = node.next
            assert nxt is not None
            self.cursor[tid] = nxt

    def _after(self, evs: list[Ev], i: int) -> Node:
        """The cursor after event ``evs[i]`` (a read continues with the value it read)."""
        e = evs[i]
        node = e.node
        assert node is not None
        if e.kind == GR:
            return self.beh[e.tid].child(node, e.rf.val)  # type: ignore[union-attr]
        if e.rmw:
            return self.beh[e.tid].child(node, evs[i - 1].rf.val)  # type: ignore[union-attr]
        assert node.next is not None
        return node.next

    def _advance_lb(self, tid: int) -> None:
        evs = self.threads[tid]
        p = self.fill_pos(tid)
        s = p
        while s > 0 and evs[s - 1].unverified:
            s -= 1
        if 0 < s < p and evs[s] is not None and evs[s].kind == GW and evs[s].rmw:
            s -= 1  # (a kept write half whose read changed: check it from its read)
        cur = self._after(evs, s - 1) if s > 0 else self.beh[tid].root
        i = s
        while i < p:
            e = evs[i]
            k = cur.kind
            ok = False
            if e.kind == GR:
                ok = (k == READ or k == RMW) and (k == RMW) == e.rmw and cur.loc == e.loc and cur.mode == e.mode
            elif e.kind == GW:
                if e.rmw:
                    r = evs[i - 1]
                    ok = r.node is cur and cur.op(r.rf.val) == e.val  # type: ignore[misc,union-attr]
                    if ok:  # the write half belongs to the node of its read half
                        e.node = cur
                        e.unverified = False
                        cur = self.beh[tid].child(cur, r.rf.val)  # type: ignore[union-attr]
                        i += 1
                        continue
                else:
                    ok = k == WRITE and cur.loc == e.loc and cur.value == e.val and cur.mode == e.mode
            elif e.kind == GF:
                ok = k == FENCE and cur.mode == e.mode
            else:
                ok = k == OBSERVE or k == ALLOC or k == FREE or k == SPECIAL
                if ok:
                    e.val = cur.value
            if ok and e.node is not None and _twin_ahead(cur, e.node):
                # the same kind of access on the same line, but another program point: a write
                # in a branch, and the kept one is the same write after the join (it comes next)
                ok = False
            if not ok:
                if k in TERMINAL_KINDS:
                    # The thread ends (or waits, fails, hits its bound) before the kept event: this
                    # graph is no execution, and none is lost.  The reads in the gap that led here
                    # were added with their alternatives, which may lead to the kept event.
                    self.broken = (f"thread {self.prog.threads[tid].name} ends before its kept event "
                                   f"{e!r} once an earlier read changed")
                    self.cursor[tid] = cur
                    return
                if len(evs) >= self.beh[tid].limit or (e.kind == GW and e.rmw):
                    self.broken = (f"thread {self.prog.threads[tid].name} no longer makes its event "
                                   f"{e!r} once an earlier read changed")
                    self.cursor[tid] = cur
                    return
                # The thread makes another event here (a branch before the kept one got longer):
                # the kept events move one place on, and the new event fills the gap.
                self._open_gap(tid, i)
                self.cursor[tid] = cur
                return
            e.node = cur
            e.unverified = False
            if e.kind == GR and e.rmw and i + 1 < p and evs[i + 1].rmw and evs[i + 1].kind == GW:
                i += 1  # the write half: checked against this node next
                continue
            cur = self._after(evs, i)
            i += 1
        if p < len(evs) and cur.kind in TERMINAL_KINDS:
            self.broken = f"thread {self.prog.threads[tid].name} ends before its kept event {p + 1}"
        self.cursor[tid] = cur

    # -- removing events -------------------------------------------------------------------------
    def _unlink(self, e: Ev, evs: list[Ev | None]) -> None:
        if e.kind == GR:
            e.rf.readers.remove(e)  # type: ignore[union-attr]
            self.loc_reads[e.loc].remove(e)
        elif e.kind == GW:
            self.co[e.loc].remove(e)
            if e.rmw and e.idx > 0:
                r = evs[e.idx - 1]
                if r is not None:
                    r.wr = None

    def _restrict_lb(self, stamp: int) -> None:
        # Whether the graph is broken is a property of what it holds now: a thread that failed
        # to make a kept event under a later choice (an earlier work item of this level) may
        # make it again once that choice is undone.  So the mark is cleared and every thread is
        # checked again (a stale mark dropped the level's later work items unexplored).
        self.broken = None
        for tid in range(self.nthreads):
            evs: list[Any] = self.threads[tid]
            changed = False
            for i, e in enumerate(evs):
                if e is not None and e.stamp > stamp:
                    self._unlink(e, evs)
                    evs[i] = None
                    self.holes += 1
                    changed = True
            if changed:
                while evs and evs[-1] is None:
                    evs.pop()
                    self.holes -= 1
                self.mark_unverified(tid)
        for tid in range(self.nthreads):
            self.advance(tid)
        if self.next_stamp > stamp + 1:
            self.next_stamp = stamp + 1

    def mark_unverified(self, tid: int) -> None:
        """Every event after thread ``tid``'s first gap must be made again when it is filled."""
        evs = self.threads[tid]
        gap = False
        for e in evs:
            if e is None:
                gap = True
            elif gap:
                e.unverified = True

    def restrict(self, stamp: int) -> None:
        """Remove every event added after ``stamp``."""
        if self.lb:
            self._restrict_lb(stamp)
            return
        for tid in range(self.nthreads):
            evs = self.threads[tid]
            if not evs or evs[-1].stamp <= stamp:
                continue
            while evs and evs[-1].stamp > stamp:
                e = evs.pop()
                if e.kind == GR:
                    e.rf.readers.remove(e)  # type: ignore[union-attr]
                    self.loc_reads[e.loc].remove(e)
                elif e.kind == GW:
                    self.co[e.loc].remove(e)
                    if e.rmw and evs:
                        evs[-1].wr = None
            self.advance(tid)
        if self.next_stamp > stamp + 1:
            self.next_stamp = stamp + 1

    def release(self) -> None:
        """Break the rf/readers cycles of a graph the explorer is done with, so that reference
        counting frees its events at once.  Left to the cyclic collector, dropped graphs cost a
        third of indexer(15)'s time.  The graph must not be used afterwards."""
        for co in self.co.values():
            for w in co:
                w.readers = None

    def _shell(self, lb: bool) -> tuple[Graph, dict[int, Ev]]:
        """A new graph of the same program and thread positions, with no events yet, and fresh
        initial writes by location (for the copies below to fill)."""
        g = Graph.__new__(Graph)
        g.prog = self.prog
        g.beh = self.beh
        g.nthreads = self.nthreads
        g.cursor = list(self.cursor)
        g.next_stamp = self.next_stamp
        g.lb = lb
        g.holes = 0
        g.broken = None
        inits: dict[int, Ev] = {}
        for loc, co in self.co.items():
            ni = Ev(-1, loc, GW, loc, co[0].val, "init", None, -1)
            ni.revisitable = False
            inits[loc] = ni
        return g, inits

    def copy_view(self, view: list[int]) -> Graph:
        """A copy of this graph keeping, in each thread t, events 0..view[t] (a prefix)."""
        g, inits = self._shell(self.lb)
        threads: list[list[Ev]] = []
        for tid, evs in enumerate(self.threads):
            nl: list[Ev] = []
            for e in evs[: view[tid] + 1]:
                ne = e.copy()  # (its rf is the old write: remapped below)
                if e.kind == GW and e.rmw and nl:
                    nl[-1].wr = ne
                nl.append(ne)
            threads.append(nl)
        g.threads = threads
        g.co = {}
        for loc, co in self.co.items():
            g.co[loc] = [inits[loc]] + [threads[w.tid][w.idx] for w in co[1:] if w.idx <= view[w.tid]]
        loc_reads: dict[int, list[Ev]] = {}
        g.loc_reads = loc_reads
        for nl in threads:
            for ne in nl:
                if ne.kind == GR:
                    old = ne.rf
                    assert old is not None
                    if old.tid < 0:
                        nrf = inits[old.loc]
                    elif old.idx <= view[old.tid]:
                        nrf = threads[old.tid][old.idx]
                    else:  # its write is not kept: read the latest write instead
                        nrf = g.co[ne.loc][-1]
                        ne.added_max = True
                    ne.rf = nrf
                    nrf.readers.append(ne)  # type: ignore[union-attr]
                    lr = loc_reads.get(ne.loc)
                    if lr is None:
                        loc_reads[ne.loc] = [ne]
                    else:
                        lr.append(ne)
        for tid in range(g.nthreads):
            if len(threads[tid]) != len(self.threads[tid]):
                g.advance(tid)
        return g

    # -- load buffering: kept sets as bitmasks of indices per thread -------------------------------
    def copy_masks(self, masks: list[int]) -> tuple[Graph, dict[int, Ev]]:
        """A copy keeping, in each thread t, the events whose index is in bitmask ``masks[t]``;
        the others leave gaps, refilled as the thread runs again (a load-buffering revisit).
        Also returns each kept event's copy by ``id`` of the original (indices may change: the
        copy's threads are checked again, which can move kept events)."""
        g, inits = self._shell(True)
        threads: list[list[Any]] = []
        copies: dict[int, Ev] = {}
        for tid, evs in enumerate(self.threads):
            m = masks[tid]
            nl: list[Any] = []
            for e in evs:
                if e is None or not m >> e.idx & 1:
                    nl.append(None)
                    continue
                ne = e.copy()
                copies[id(e)] = ne
                if e.kind == GW and e.rmw and e.idx > 0 and nl[e.idx - 1] is not None:
                    nl[e.idx - 1].wr = ne
                nl.append(ne)
            while nl and nl[-1] is None:
                nl.pop()
            g.holes += sum(1 for x in nl if x is None)
            threads.append(nl)
        g.threads = threads
        g.co = {}
        for loc, co in self.co.items():
            g.co[loc] = [inits[loc]] + [threads[w.tid][w.idx] for w in co[1:]
                                        if w.idx < len(threads[w.tid]) and threads[w.tid][w.idx] is not None]
        loc_reads: dict[int, list[Ev]] = {}
        g.loc_reads = loc_reads
        for nl in threads:
            for ne in nl:
                if ne is None or ne.kind != GR:
                    continue
                old = ne.rf
                assert old is not None
                if old.tid < 0:
                    nrf = inits[old.loc]
                else:
                    ot = threads[old.tid]
                    kept = ot[old.idx] if old.idx < len(ot) else None
                    if kept is not None:
                        nrf = kept
                    else:  # its write is not kept: read the latest write instead
                        nrf = g.co[ne.loc][-1]
                        ne.added_max = True
                ne.rf = nrf
                nrf.readers.append(ne)  # type: ignore[union-attr]
                loc_reads.setdefault(ne.loc, []).append(ne)
        for tid in range(g.nthreads):
            g.mark_unverified(tid)
            g.advance(tid)
        return g, copies

    def dep_masks(self, a: Ev) -> list[int]:
        """Per thread, the bitmask of the events ``a`` needs to exist with its value: itself, the
        writes its reads read (and what those need), the reads its address, value or execution
        depends on, and the other half of each RMW (what a load-buffering revisit by ``a`` may
        never change: HMC's prefix)."""
        masks = [0] * self.nthreads
        by_depth: dict[int, dict[int, Ev]] = {}
        stack = [a]
        while stack:
            x = stack.pop()
            t = x.tid
            if t < 0 or masks[t] >> x.idx & 1:
                continue
            masks[t] |= 1 << x.idx
            evs = self.threads[t]
            if x.kind == GR:
                w = x.rf
                if w is not None and w.tid >= 0:
                    stack.append(w)
                if x.rmw and x.wr is not None:
                    stack.append(x.wr)
            elif x.kind == GW and x.rmw:
                stack.append(evs[x.idx - 1])
            node = x.node
            if node is None or node.deps is None:
                continue
            a_d, d_d, c_d = node.deps
            if not (a_d or d_d or c_d):
                continue
            reads = by_depth.get(t)
            if reads is None:
                reads = by_depth[t] = {e.node.depth: e for e in evs  # type: ignore[union-attr]
                                       if e is not None and e.kind == GR and not e.unverified}
            for d in a_d | d_d | c_d:
                r = reads.get(d)
                if r is not None:
                    stack.append(r)
        return masks

    def dependents(self, r: Ev) -> list[int]:
        """Per thread, the bitmask of the events whose existence or value depends on read
        ``r``'s value (not ``r`` itself): the events of its thread whose address, value or
        execution depends on it (recorded dependencies), the write half of its RMW, the reads
        of such writes, and so on."""
        # (one pass lists each event's direct dependents, then a search from r follows them,
        # each edge once; a fixpoint over every event cost a pass per link of the chain.  An
        # edge is (event, whether it is the write half of the RMW read it leaves))
        after: dict[int, list[tuple[Ev, bool]]] = {}
        for evs in self.threads:
            reads = {e.node.depth: e for e in evs if e is not None and e.kind == GR and e.node is not None}
            for e in evs:
                if e is None:
                    continue
                if e.kind == GR:
                    if e.rf is not None:
                        after.setdefault(id(e.rf), []).append((e, False))
                elif e.kind == GW and e.rmw:
                    rd = evs[e.idx - 1]
                    if rd is not None:
                        after.setdefault(id(rd), []).append((e, True))
                node = e.node
                if node is not None and node.deps is not None:
                    for d in node.deps[0] | node.deps[1] | node.deps[2]:
                        x = reads.get(d)
                        if x is not None:
                            after.setdefault(id(x), []).append((e, False))
        masks = [0] * self.nthreads
        dset = {id(r)}
        stack = [r]
        while stack:
            x = stack.pop()
            for e, half in after.get(id(x), ()):
                if id(e) in dset:
                    continue
                if half and x is r and not getattr(e.node.op, "reads_old", True):  # type: ignore[union-attr]
                    # An exchange writes what it writes whatever it read: the write half of r
                    # itself stays (r is kept, with another value); any other read in the set is
                    # deleted and made again, its write half with it.
                    continue
                dset.add(id(e))
                masks[e.tid] |= 1 << e.idx
                stack.append(e)
        return masks

    def stamp_masks(self, stamp: int) -> list[int]:
        """Per thread, the bitmask of the events added no later than ``stamp``."""
        out = []
        for evs in self.threads:
            m = 0
            for e in evs:
                if e is not None and e.stamp <= stamp:
                    m |= 1 << e.idx
            out.append(m)
        return out

    # -- views -----------------------------------------------------------------------------------
    def porf_view(self, e: Ev) -> list[int]:
        """Per thread, the last index in the (po | rf)*-prefix of ``e`` (-1: none)."""
        view = [-1] * self.nthreads
        stack = [e]
        threads = self.threads
        while stack:
            x = stack.pop()
            t = x.tid
            if t < 0 or x.idx <= view[t]:
                continue
            evs = threads[t]
            for i in range(view[t] + 1, x.idx + 1):
                y = evs[i]
                if y is not None and y.kind == GR:
                    rf = y.rf
                    if rf.tid >= 0 and rf.idx > view[rf.tid]:  # type: ignore[union-attr]
                        stack.append(rf)  # type: ignore[arg-type]
            view[t] = x.idx
        return view

    def stamp_view(self, stamp: int) -> list[int]:
        """Per thread, the last index of an event added no later than ``stamp``."""
        view = []
        for evs in self.threads:
            i = len(evs) - 1
            while i >= 0 and evs[i].stamp > stamp:
                i -= 1
            view.append(i)
        return view

    # -- reading results ---------------------------------------------------------------------------
    def events(self) -> list[Ev]:
        return [e for evs in self.threads for e in evs if e is not None]

    def final_memory(self, loc: int) -> Any:
        co = self.co.get(loc)
        if co is None:
            return self.prog.initial(loc)
        return co[-1].val

    def key(self) -> tuple[Any, ...]:
        """A canonical name of this execution: its reads-from map and coherence orders."""
        rf = tuple(
            (e.tid, e.idx, e.rf.tid, e.rf.idx)  # type: ignore[union-attr]
            for evs in self.threads
            for e in evs
            if e is not None and e.kind == GR
        )
        # (a location's list exists once any branch touched it: one with no write is no part
        # of the name, or one execution would have two)
        co = tuple(sorted((loc, tuple((w.tid, w.idx) for w in ws[1:])) for loc, ws in self.co.items()
                          if len(ws) > 1))
        shape = tuple(len(evs) for evs in self.threads)
        return (shape, rf, co)


__all__ = ["GF", "GO", "GR", "GW", "NO_WRITE", "Ev", "Graph"]
