"""Memory models as consistency checks on execution graphs: SC, x86-TSO, PSO, `weak`, and (from
:mod:`rmapwalk.engine.lkmm`) LKMM and LKMM-alpha.

Each model is the classic axiomatic one (Alglave, Maranget, Tautschnig, "Herding cats", 2014):

* SC:  acyclic(po | rf | co | fr)
* TSO: acyclic(po-loc | rf | co | fr)  and  acyclic(ppo | rfe | co | fr), where ppo drops
  write->read pairs of po unless a full fence or a locked (RMW) instruction lies between them.
* PSO: as TSO, and ppo also drops write->write pairs to different locations unless a store fence
  (smp_wmb) or a full fence lies between them.  An RMW acts on memory directly: its read never
  takes a value from the store buffer (earlier stores to its location go out first) and its write
  is ordered before everything after it; a fully ordered (``mb``) RMW is bracketed by full fences,
  and a ``release`` RMW waits for every earlier store.  A release store waits for every earlier
  access (it orders nothing after it).

All three also require RMW atomicity (nothing in co between an RMW's read source and its write),
which the explorer guarantees by construction.

The explorer only ever adds edges at a *sink* of an already consistent graph, so a check is one
reachability question: does the co-successor of the write a new read (or placed write) sits after
reach an event that must precede it?  ``read_ok``/``write_ok`` answer exactly that; ``consistent``
is the full check, used by replay and by the tests.
"""

from __future__ import annotations

from rmapwalk.engine.events import ACQUIRE, F_ACQUIRE, F_MB, F_RELEASE, F_RMB, F_WMB, MB, RELEASE
from rmapwalk.engine.graph import GF, GR, GW, Ev
from rmapwalk.engine.lkmm import LKMM, LKMMAlpha
from rmapwalk.engine.model_base import MemoryModel, co_succ


class SC(MemoryModel):
    """Sequential consistency: every execution is an interleaving of the threads."""

    name = "sc"
    store_forwarding = False
    check_loc = False

    def ordered_after(self, a: Ev, evs: list[Ev]) -> list[Ev]:
        for j in range(a.idx + 1, len(evs)):
            b = evs[j]
            if b.kind <= GW:
                return [b]
        return []

    def ordered_before(self, b: Ev, evs: list[Ev]) -> list[Ev]:
        for j in range(b.idx - 1, -1, -1):
            a = evs[j]
            if a.kind <= GW:
                return [a]
        return []


def _full(e: Ev) -> bool:
    return e.kind == GF and e.mode == F_MB


class TSO(MemoryModel):
    """x86-TSO: a FIFO store buffer per CPU; locked instructions and mfence drain it."""

    name = "tso"

    @staticmethod
    def _ord(a: Ev, b: Ev, full_between: bool) -> bool:
        if a.kind == GW and not a.rmw and b.kind == GR and not b.rmw:
            return full_between
        return True

    def ordered_after(self, a: Ev, evs: list[Ev]) -> list[Ev]:
        out = []
        full = a.rmw
        for j in range(a.idx + 1, len(evs)):
            b = evs[j]
            if b.kind > GW:
                if _full(b):
                    full = True
                continue
            if self._ord(a, b, full):
                out.append(b)
                if b.kind == GR:
                    break
            if b.rmw:
                full = True
        return out

    def ordered_before(self, b: Ev, evs: list[Ev]) -> list[Ev]:
        out = []
        full = b.rmw
        for j in range(b.idx - 1, -1, -1):
            a = evs[j]
            if a.kind > GW:
                if _full(a):
                    full = True
                continue
            if self._ord(a, b, full):
                out.append(a)
            if a.rmw:
                full = True
        return out


def _pso_mb_rmw(e: Ev) -> bool:
    # a successful fully ordered RMW is bracketed by full fences: nothing crosses it either way
    # (a failed one is only a load and orders nothing: Documentation/atomic_t.txt)
    return e.rmw and e.mode == MB and (e.kind == GW or e.wr is not None)


def _pso_full_before(e: Ev) -> bool:
    return e.rmw and e.kind == GR and e.mode == MB and e.wr is not None


def _pso_stores_before(e: Ev) -> bool:
    # a successful release RMW waits for every earlier store before it reads
    return e.rmw and e.kind == GR and e.mode == RELEASE and e.wr is not None


def _pso_full_after(e: Ev) -> bool:
    # An atomic RMW acts on memory itself (as SPARC's atomics do): its write is visible before
    # anything after it in program order executes, whatever its kernel ordering mode.
    return e.rmw and e.kind == GW


def _pso_ss_before(e: Ev) -> bool:
    return e.kind == GW and (e.mode == RELEASE or (e.rmw and e.mode == MB))


def _pso_ss_fence(e: Ev) -> bool:
    return e.kind == GF and (e.mode == F_WMB or e.mode == F_RELEASE)


class PSO(MemoryModel):
    """SPARC PSO: a store buffer per CPU and per location; stores to different locations may
    become visible out of order unless a store fence (smp_wmb, a release) orders them."""

    name = "pso"

    @staticmethod
    def _ord(a: Ev, b: Ev, full: bool, ss: bool) -> bool:
        if a.kind == GR:
            return True
        # a is a write
        if b.kind == GR:
            # an RMW reads memory, never the store buffer: same-location stores go out first
            return (full or _pso_full_after(a) or _pso_full_before(b) or _pso_stores_before(b)
                    or (b.rmw and a.loc == b.loc))
        return full or ss or a.loc == b.loc or _pso_full_after(a) or _pso_ss_before(b)

    def ordered_after(self, a: Ev, evs: list[Ev]) -> list[Ev]:
        out = []
        full = ss = False
        for j in range(a.idx + 1, len(evs)):
            b = evs[j]
            if b.kind > GW:
                if _full(b):
                    full = True
                elif _pso_ss_fence(b):
                    ss = True
                continue
            if self._ord(a, b, full, ss):
                out.append(b)
                if b.kind == GR:
                    break
            if _pso_mb_rmw(b):
                full = True
        return out

    def ordered_before(self, b: Ev, evs: list[Ev]) -> list[Ev]:
        out = []
        full = ss = False
        for j in range(b.idx - 1, -1, -1):
            a = evs[j]
            if a.kind > GW:
                if _full(a):
                    full = True
                elif _pso_ss_fence(a):
                    ss = True
                continue
            if self._ord(a, b, full, ss):
                out.append(a)
            if _pso_mb_rmw(a):
                full = True
        return out


def _rr_fence(e: Ev) -> bool:
    return e.kind == GF and e.mode in (F_RMB, F_ACQUIRE)


def _addr_dep(a: Ev, b: Ev) -> bool:
    """Does ``b``'s address depend on the value ``a`` read?  (Both of one thread; the behaviour
    node of ``b`` lists the reads its address came from by their depth in the thread.)"""
    na, nb = a.node, b.node
    if na is None or nb is None or nb.deps is None:
        return False
    return na.depth in nb.deps[0]


class Weak(PSO):
    """A weaker, multi-copy-atomic CPU: PSO, and loads may also be performed out of order with
    each other (as on Arm) -- except that a load is never reordered after a later store (no load
    buffering: executions stay (po | rf)-acyclic, which the explorer relies on).

    A load is ordered before a later load by ``smp_rmb``, ``smp_mb``, being an acquire load or
    RMW, the same location, or an *address dependency*: the later load's address computed from
    the earlier one's value (dependencies are tracked, :mod:`rmapwalk.engine.deps`), which every
    CPU but Alpha keeps whatever the load's primitive.  So ``rcu_dereference`` orders exactly what
    is loaded through the pointer it returns, like ``READ_ONCE`` (a consume orders only what
    depends on it), and an independent later load needs ``smp_rmb()``.  A control dependency
    does not order loads (CPUs speculate past branches).  RCU and locks keep their portable
    stand-ins here (full barriers); Alpha's missing dependency ordering is ``lkmm-alpha``."""

    name = "weak"
    tracks_deps = True

    @staticmethod
    def _ordw(a: Ev, b: Ev, full: bool, ss: bool, rr: bool) -> bool:
        if a.kind == GR:
            if b.kind == GW:
                return True
            return (full or rr or a.loc == b.loc or a.mode == ACQUIRE
                    or (a.rmw and a.mode in (ACQUIRE, MB) and a.wr is not None) or _pso_full_before(b)
                    or _addr_dep(a, b))
        return PSO._ord(a, b, full, ss)

    def _scan(self, e: Ev, evs: list[Ev], forward: bool) -> list[Ev]:
        out = []
        full = ss = rr = False
        rng = range(e.idx + 1, len(evs)) if forward else range(e.idx - 1, -1, -1)
        for j in rng:
            x = evs[j]
            if x.kind > GW:
                if _full(x):
                    full = True
                elif _pso_ss_fence(x):
                    ss = True
                elif _rr_fence(x):
                    rr = True
                continue
            if self._ordw(e, x, full, ss, rr) if forward else self._ordw(x, e, full, ss, rr):
                out.append(x)
            if _pso_mb_rmw(x):
                full = True
        return out

    def ordered_after(self, a: Ev, evs: list[Ev]) -> list[Ev]:
        return self._scan(a, evs, True)

    def ordered_before(self, b: Ev, evs: list[Ev]) -> list[Ev]:
        return self._scan(b, evs, False)


MODELS: dict[str, type[MemoryModel]] = {"sc": SC, "tso": TSO, "pso": PSO, "weak": Weak, "lkmm": LKMM,
                                        "lkmm-alpha": LKMMAlpha}


def get_model(name: str) -> MemoryModel:
    try:
        return MODELS[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown memory model {name!r} (choose from {', '.join(MODELS)})") from None


__all__ = ["LKMM", "MODELS", "PSO", "SC", "TSO", "LKMMAlpha", "MemoryModel", "Weak", "co_succ", "get_model"]
