"""Orders on a finished execution graph, for checks that library layers run on each execution.

* ``Reach.ghb(g, model)``: the model's global happens-before (under SC po | rf | co | fr; under
  TSO/PSO ppo | rfe | co | fr; under LKMM its executes-before with RCU's guarantee).  If ``a``
  does not reach ``b`` in it, some execution of the machine that produces this graph performs
  ``b`` before ``a``: this is the order for "did this access happen before that free?".
* ``Reach.hb(g, model)``: ``(ppo | rf)+``, the order established by the program itself
  (program order the model keeps, and reading a value); two conflicting accesses unordered by it
  race.

Both are computed once per graph as bitsets over a topological order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rmapwalk.engine.graph import GR, GW, Ev, Graph
from rmapwalk.engine.models import MemoryModel


class Reach:
    """Reflexive-free transitive reachability among the memory events of one graph."""

    def __init__(self, g: Graph, succ: Callable[[Graph, Ev], Iterable[Ev]]) -> None:
        nodes = [e for evs in g.threads for e in evs if e.kind <= GW]
        self.index = {id(e): i for i, e in enumerate(nodes)}
        n = len(nodes)
        out: list[list[int]] = []
        indeg = [0] * n
        for e in nodes:
            s = [self.index[id(y)] for y in succ(g, e) if id(y) in self.index]
            out.append(s)
            for j in s:
                indeg[j] += 1
        order = [i for i in range(n) if indeg[i] == 0]
        k = 0
        while k < len(order):
            for j in out[order[k]]:
                indeg[j] -= 1
                if indeg[j] == 0:
                    order.append(j)
            k += 1
        self.acyclic = len(order) == n
        reach = [0] * n
        for i in reversed(order):
            bits = 0
            for j in out[i]:
                bits |= (1 << j) | reach[j]
            reach[i] = bits
        self.reach = reach

    def __call__(self, a: Ev, b: Ev) -> bool:
        """Does ``a`` reach ``b``?  (Events not in the relation, e.g. initial writes, reach
        nothing and are reached by nothing.)"""
        ia = self.index.get(id(a))
        ib = self.index.get(id(b))
        if ia is None or ib is None:
            return False
        return bool(self.reach[ia] >> ib & 1)

    @classmethod
    def ghb(cls, g: Graph, model: MemoryModel) -> Reach:
        before = getattr(model, "executes_before", None)
        if before is not None:  # a model with its own order (LKMM's executes-before)
            r = cls.__new__(cls)
            r.index, r.reach = before(g)
            r.acyclic = True
            return r
        return cls(g, model._ghb_succ)

    @classmethod
    def hb(cls, g: Graph, model: MemoryModel) -> Reach:
        def succ(g: Graph, e: Ev) -> list[Ev]:
            out = list(model.ordered_after(e, g.threads[e.tid])) if e.tid >= 0 else []
            if e.kind == GW:
                out.extend(r for r in e.readers or () if r.tid != e.tid)
            return out

        return cls(g, succ)


def accesses(g: Graph) -> list[Ev]:
    """Every read and write of the graph's threads (not the initial writes)."""
    return [e for evs in g.threads for e in evs if e.kind == GR or e.kind == GW]
