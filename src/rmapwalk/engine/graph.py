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
        "readers",
        "rmw",
        "revisitable",
        "added_max",
        "wr",
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
        self.readers: list[Ev] | None = [] if kind == GW else None
        self.rmw = rmw
        self.revisitable = True
        self.added_max = True
        #: for the read half of an RMW: its write half, or None while it has none (failed)
        self.wr: Ev | None = None

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


class Graph:
    """A (partial) execution graph of a program, with each thread's position in its behaviour."""

    __slots__ = ("prog", "beh", "threads", "cursor", "co", "loc_reads", "next_stamp", "nthreads")

    def __init__(self, prog: Program, beh: list[ThreadBehaviour]) -> None:
        self.prog = prog
        self.beh = beh
        self.nthreads = len(beh)
        self.threads: list[list[Ev]] = [[] for _ in beh]
        self.cursor: list[Node] = [b.root for b in beh]
        self.co: dict[int, list[Ev]] = {}
        self.loc_reads: dict[int, list[Ev]] = {}
        self.next_stamp = 0

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
        e = Ev(tid, len(evs), kind, loc, val, mode, node, self.next_stamp, rmw)
        self.next_stamp += 1
        evs.append(e)
        return e

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

    def advance(self, tid: int) -> None:
        """Recompute thread ``tid``'s cursor from its last event."""
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

    # -- removing events -------------------------------------------------------------------------
    def restrict(self, stamp: int) -> None:
        """Remove every event added after ``stamp``."""
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

    def copy_view(self, view: list[int]) -> Graph:
        """A copy of this graph keeping, in each thread t, events 0..view[t] (a prefix)."""
        g = Graph.__new__(Graph)
        g.prog = self.prog
        g.beh = self.beh
        g.nthreads = self.nthreads
        g.cursor = list(self.cursor)
        g.next_stamp = self.next_stamp
        inits: dict[int, Ev] = {}
        for loc, co in self.co.items():
            ni = Ev(-1, loc, GW, loc, co[0].val, "init", None, -1)
            ni.revisitable = False
            inits[loc] = ni
        threads: list[list[Ev]] = []
        for tid, evs in enumerate(self.threads):
            nl: list[Ev] = []
            for e in evs[: view[tid] + 1]:
                ne = Ev(e.tid, e.idx, e.kind, e.loc, e.val, e.mode, e.node, e.stamp, e.rmw)
                ne.revisitable = e.revisitable
                ne.added_max = e.added_max
                ne.rf = e.rf  # the old write: remapped below
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
                if y.kind == GR:
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
        return [e for evs in self.threads for e in evs]

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
            if e.kind == GR
        )
        co = tuple(sorted((loc, tuple((w.tid, w.idx) for w in ws[1:])) for loc, ws in self.co.items()))
        shape = tuple(len(evs) for evs in self.threads)
        return (shape, rf, co)


__all__ = ["GF", "GO", "GR", "GW", "NO_WRITE", "Ev", "Graph"]
