"""The base of every memory model of the engine: a consistency check on execution graphs, asked
one reachability question at a time as the explorer extends a graph (see :mod:`rmapwalk.engine.models`)."""

from __future__ import annotations

from collections.abc import Iterable

from rmapwalk.engine.graph import GR, GW, Ev, Graph


def co_succ(g: Graph, w: Ev) -> Ev | None:
    co = g.co[w.loc]
    i = co.index(w) + 1
    return co[i] if i < len(co) else None


class MemoryModel:
    """A memory model: a preserved-program-order rule plus the shared communication relations."""

    name = "model"
    #: reads may take values from their own thread's earlier writes before others see them
    store_forwarding = True
    #: whether per-location coherence needs its own check (SC's main check implies it)
    check_loc = True
    #: whether threads return tracked values and record dependencies (rmapwalk.engine.deps)
    tracks_deps = False
    #: whether the kernel layer emits LKMM's own events (RCU read-side sections and grace
    #: periods, the lock-related fences) instead of their portable stand-ins (full barriers)
    lkmm_events = False
    #: whether a read may take its value from a po-later write it does not depend on (the
    #: explorer then revisits by dependency prefixes: :meth:`Graph.dep_masks`)
    load_buffering = False
    #: whether :meth:`consistent` must also be asked of every finished execution (the model
    #: prunes partial graphs by a weaker, exact-for-its-part check)
    check_when_complete = False
    #: whether the explorer asks :meth:`prefix_consistent` of a graph each time a read or write
    #: takes another than its first choice (a forward revisit), dropping the graph and all its
    #: extensions when it fails; sound when that check is monotone (no extension of an
    #: inconsistent graph is consistent), worth it when most such graphs are inconsistent
    prune_choices = False

    # -- ppo -----------------------------------------------------------------------------------
    def ordered_after(self, a: Ev, evs: list[Ev]) -> list[Ev]:
        """Memory events po-after ``a`` (in its thread ``evs``) that ppo orders after it;
        enough of them that their ppo-closure gives the rest."""
        raise NotImplementedError

    def ordered_before(self, b: Ev, evs: list[Ev]) -> list[Ev]:
        """Memory events po-before ``b`` that ppo orders before it (all of them)."""
        raise NotImplementedError

    # -- reachability ------------------------------------------------------------------------
    def _ghb_succ(self, g: Graph, e: Ev) -> Iterable[Ev]:
        out: list[Ev] = []
        if e.tid >= 0:
            out.extend(self.ordered_after(e, g.threads[e.tid]))
        if e.kind == GW:
            for r in e.readers:  # type: ignore[union-attr]
                if r.tid != e.tid or not self.store_forwarding:
                    out.append(r)
            s = co_succ(g, e)
            if s is not None:
                out.append(s)
        elif e.kind == GR:
            s = co_succ(g, e.rf)  # type: ignore[arg-type]
            if s is not None:
                out.append(s)
        return out

    @staticmethod
    def _loc_succ(g: Graph, e: Ev) -> Iterable[Ev]:
        out: list[Ev] = []
        if e.tid >= 0:
            evs = g.threads[e.tid]
            for j in range(e.idx + 1, len(evs)):
                b = evs[j]
                if b.loc == e.loc and b.kind <= GW:
                    out.append(b)
                    break
        if e.kind == GW:
            out.extend(e.readers)  # type: ignore[arg-type]
            s = co_succ(g, e)
            if s is not None:
                out.append(s)
        else:
            s = co_succ(g, e.rf)  # type: ignore[arg-type]
            if s is not None:
                out.append(s)
        return out

    def _reaches(self, g: Graph, start: Ev, targets: set[int], loc_only: bool) -> bool:
        if not targets:
            return False
        seen = {id(start)}
        stack = [start]
        succ = self._loc_succ if loc_only else self._ghb_succ
        while stack:
            x = stack.pop()
            if id(x) in targets:
                return True
            for y in succ(g, x):
                i = id(y)
                if i not in seen:
                    seen.add(i)
                    stack.append(y)
        return False

    def _sink_ok(self, g: Graph, e: Ev, succ: Ev | None) -> bool:
        """Adding ``e`` at a sink, with its only outgoing edge to ``succ`` (and succ's closure)."""
        if succ is None:
            return True
        evs = g.threads[e.tid]
        if not self._reaches(g, succ, {id(x) for x in self.ordered_before(e, evs)}, False):
            if not self.check_loc:
                return True
            loc_preds = {id(x) for x in evs[: e.idx] if x.loc == e.loc and x.kind <= GW}
            return not self._reaches(g, succ, loc_preds, True)
        return False

    def read_ok(self, g: Graph, r: Ev) -> bool:
        """Is the graph still consistent with read ``r`` (a po-maximal sink) reading ``r.rf``?"""
        return self._sink_ok(g, r, co_succ(g, r.rf))  # type: ignore[arg-type]

    def write_ok(self, g: Graph, w: Ev) -> bool:
        """Is the graph still consistent with write ``w`` (po-maximal, unread) at its co place?"""
        return self._sink_ok(g, w, co_succ(g, w))

    def raced_revisit_ok(self, g: Graph, w: Ev, r: Ev) -> bool:
        """Is ``g`` consistent, where RMW write ``w`` was added right after the write ``c`` that an
        earlier RMW had already taken (so, unchecked), and has just revisited read ``r``?

        The rest of ``g`` is a restriction of a consistent graph, as for any revisit; what is new
        is ``w`` (in: its po-predecessors, ``c``, what reads ``c``; out: ``r``, its co-successor)
        and ``r`` (po-maximal; in: ``w``; out: the co-successor).  So every new cycle goes
        through ``w``'s co-successor, and one search from it decides -- where a full check of the
        graph was made before (a quarter of the time of RMW races such as ``indexer``).  The
        other RMW's atomicity (broken if it was kept) is checked too.
        """
        if not _atomic(g):
            return False
        s = co_succ(g, w)
        if s is None:
            return True
        co = g.co[w.loc]
        c = co[co.index(w) - 1]
        evs_w, evs_r = g.threads[w.tid], g.threads[r.tid]
        entry = {id(c)} | {id(x) for x in c.readers}  # type: ignore[union-attr]
        targets = entry | {id(x) for x in self.ordered_before(w, evs_w)} | {
            id(x) for x in self.ordered_before(r, evs_r)}
        if self._reaches(g, s, targets, False):
            return False
        if not self.check_loc:
            return True
        loc_targets = entry | {id(x) for x in evs_w[: w.idx] if x.loc == w.loc and x.kind <= GW} | {
            id(x) for x in evs_r[: r.idx] if x.loc == r.loc and x.kind <= GW}
        return not self._reaches(g, s, loc_targets, True)

    # -- full check ----------------------------------------------------------------------------
    def prefix_consistent(self, g: Graph) -> bool:
        """Whether ``g`` can still grow into a consistent execution: the axioms that adding events
        can only break (all of them, for every model here; LKMM asks them in its own order)."""
        return self.consistent(g)

    def consistent(self, g: Graph) -> bool:
        nodes = [e for e in g.events() if e.kind <= GW] + [co[0] for co in g.co.values()]
        if not _acyclic(g, nodes, self._ghb_succ):
            return False
        # per-location coherence: its edges are all in ghb's closure when ppo keeps all of po-loc
        # (SC), so a cycle among them is a ghb cycle already found
        if self.check_loc and not _acyclic(g, nodes, self._loc_succ):
            return False
        return _atomic(g)


def _acyclic(g: Graph, nodes: list[Ev], succ: object) -> bool:
    # events hash by identity, so they key the colours directly (no id() calls: this search
    # runs once per checked graph and is the hot loop of RMW-heavy programs)
    color: dict[Ev, int] = {}
    f = succ
    for root in nodes:
        if root in color:
            continue
        stack = [(root, iter(f(g, root)))]  # type: ignore[operator]
        color[root] = 1
        while stack:
            x, it = stack[-1]
            for y in it:
                c = color.get(y)
                if c == 1:
                    return False
                if c is None:
                    color[y] = 1
                    stack.append((y, iter(f(g, y))))  # type: ignore[operator]
                    break
            else:
                color[x] = 2
                stack.pop()
    return True


def _atomic(g: Graph) -> bool:
    for evs in g.threads:
        for e in evs:
            if e.kind == GW and e.rmw:
                r = evs[e.idx - 1]
                co = g.co[e.loc]
                if co.index(e) != co.index(r.rf) + 1:  # type: ignore[arg-type]
                    return False
    return True


__all__ = ["MemoryModel", "co_succ"]
