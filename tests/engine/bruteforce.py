"""A brute-force *operational* explorer, for differential testing of the engine (tests only).

It implements the memory models as abstract machines, with no reduction at all, and enumerates
every reachable state (a DFS with a visited set):

* SC:  threads interleave; memory is a map from locations to values.
* TSO: one FIFO store buffer per thread.  A store appends to its buffer; a *flush* (a separate,
  nondeterministic step) moves the oldest entry to memory.  A load reads the newest own buffered
  entry of its location, else memory.  ``fence("mb")`` executes only with an empty own buffer, and
  so does an RMW (any mode), which then reads and writes memory directly and atomically.  Other
  fences are no-ops.
* PSO: one store buffer per thread whose entries for different locations may flush out of order,
  except across store fences: each entry carries an *epoch*, incremented by every store fence
  (``fence("wmb")``, ``fence("release")``, and a ``release`` store, which acts as a wmb right
  before the store); only entries of the buffer's minimum epoch may flush, and per location in
  FIFO order.  ``fence("mb")`` waits for an empty buffer.  An RMW waits until the buffer holds no
  entry for its location, and none from before the last store fence (its write is a store, which
  the fence keeps behind the earlier ones); ``mb`` and ``release`` RMWs wait for an empty buffer.
  Then it reads and writes memory directly.  Loads read their own newest buffered entry, else
  memory.  Other fences are no-ops.

Two PSO choices are options (the defaults are the semantics above):

* ``release_store="wmb"``: a release store is a wmb right before the store, so it also keeps the
  stores before it ahead of the stores after it.  ``"one-way"``: a release store only waits for
  every earlier store (its entry flushes only from the front of the buffer) and orders nothing
  after it (the LKMM's smp_store_release).
* ``failed_rmw="ordered"``: a failed RMW (a cmpxchg that does not write) waits like a successful
  one of its mode.  ``"load"``: it only waits for the buffered stores to its own location, then
  reads memory, and orders nothing else (Documentation/atomic_t.txt: a failed cmpxchg is
  unordered; and having no write, it is not ordered by store fences).

A state is final when every thread has ended or blocked and every buffer is empty.  A final state
in which some thread is blocked (``assume`` was false) counts as a *blocked* execution; the others
are complete and give an outcome: the registers recorded by ``observe()`` (``"THREAD:reg"``) and
the final memory of the program's observed locations, as :meth:`Final.key` tuples, exactly what
``explore(...).outcomes`` is keyed by.  A thread reaching a failed assertion ends the execution
with an ``"assertion"`` violation; a complete outcome failing a program condition is a violation
of that condition's name.

Threads are driven through the engine's own memoized behaviour tries
(:class:`rmapwalk.engine.runtime.ThreadBehaviour`), so trie nodes are canonical and the thread
position in a state is just a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine.events import (
    ALLOC,
    BLOCK,
    END,
    ERROR,
    FENCE,
    FREE,
    LIMIT,
    NO_WRITE,
    OBSERVE,
    READ,
    RMW,
    SPECIAL,
    WRITE,
)
from rmapwalk.engine.program import Final, Program
from rmapwalk.engine.runtime import ModelError, Node, ThreadBehaviour

Outcome = tuple[tuple[str, Any], ...]
# one buffered store: (location, value, epoch, one-way release); TSO uses epoch 0 throughout
Entry = tuple[int, Any, int, bool]
# (thread positions, memory, per-thread buffers, per-thread current epochs, per-thread observations)
State = tuple[tuple[Node, ...], tuple[Any, ...], tuple[tuple[Entry, ...], ...], tuple[int, ...],
              tuple[tuple[tuple[str, Any], ...], ...]]

_TERMINAL = (END, BLOCK)
_STORE_FENCES = ("wmb", "release")


@dataclass
class BFResult:
    """What the brute force found."""

    outcomes: set[Outcome] = field(default_factory=set)
    blocked: bool = False
    #: in some blocked execution, every waiting thread would still wait if it read its location
    #: again at the end (the wait can never end there): what the engine must still report
    stuck: bool = False
    violations: set[str] = field(default_factory=set)
    states: int = 0


class _Machine:
    def __init__(self, prog: Program, model: str, max_events: int, release_store: str, failed_rmw: str) -> None:
        model = model.lower()
        if model not in ("sc", "tso", "pso"):
            raise ValueError(f"unknown model {model!r}")
        if release_store not in ("wmb", "one-way") or failed_rmw not in ("ordered", "load"):
            raise ValueError(f"bad options {release_store!r}, {failed_rmw!r}")
        self.release_wmb = release_store == "wmb"
        self.failed_ordered = failed_rmw == "ordered"
        self.model = model
        self.prog = prog
        self.beh = [ThreadBehaviour(td, i, max_events) for i, td in enumerate(prog.threads)]
        self.locs = sorted(prog.names)
        self.index = {loc: i for i, loc in enumerate(self.locs)}
        self.result = BFResult()

    # -- helpers ---------------------------------------------------------------------------------
    def _idx(self, loc: int) -> int:
        try:
            return self.index[loc]
        except KeyError:
            raise ModelError(f"brute force: unknown (dynamic?) location {loc}") from None

    @staticmethod
    def _replace(tup: tuple[Any, ...], i: int, v: Any) -> tuple[Any, ...]:
        return tup[:i] + (v,) + tup[i + 1 :]

    def initial(self) -> State:
        n = len(self.beh)
        mem = tuple(self.prog.initial(loc) for loc in self.locs)
        return (tuple(b.root for b in self.beh), mem, ((),) * n, (0,) * n, ((),) * n)

    # -- flushes ---------------------------------------------------------------------------------
    def flushes(self, st: State) -> list[State]:
        nodes, mem, bufs, epochs, obs = st
        out: list[State] = []
        for t, buf in enumerate(bufs):
            if not buf:
                continue
            if self.model == "tso":
                cands = [0]
            else:  # pso: oldest entry per location, among entries of the minimum epoch
                low = min(e[2] for e in buf)
                seen: set[int] = set()
                cands = []
                for i, (loc, _v, ep, oneway) in enumerate(buf):
                    if loc in seen:
                        continue
                    seen.add(loc)
                    if ep == low and (i == 0 or not oneway):
                        cands.append(i)
            for i in cands:
                loc, v = buf[i][0], buf[i][1]
                nbuf = buf[:i] + buf[i + 1 :]
                nmem = self._replace(mem, self._idx(loc), v)
                nep = self._replace(epochs, t, 0) if not nbuf else epochs
                out.append((nodes, nmem, self._replace(bufs, t, nbuf), nep, obs))
        return out

    # -- thread steps ----------------------------------------------------------------------------
    def _load(self, mem: tuple[Any, ...], buf: tuple[Entry, ...], loc: int) -> Any:
        for e in reversed(buf):
            if e[0] == loc:
                return e[1]
        return mem[self._idx(loc)]

    def step(self, st: State, t: int) -> State | None:
        """Execute thread ``t``'s next event, or None if it cannot execute now."""
        nodes, mem, bufs, epochs, obs = st
        node = nodes[t]
        k = node.kind
        buf = bufs[t]
        beh = self.beh[t]
        model = self.model

        def with_node(nxt: Node, **kw: Any) -> State:
            return (
                self._replace(nodes, t, nxt),
                kw.get("mem", mem),
                kw.get("bufs", bufs),
                kw.get("epochs", epochs),
                kw.get("obs", obs),
            )

        if k == READ:
            return with_node(beh.child(node, self._load(mem, buf, node.loc)))
        if k == WRITE:
            if model == "sc":
                return with_node(node.next, mem=self._replace(mem, self._idx(node.loc), node.value))
            ep = epochs[t]
            nep = epochs
            release = model == "pso" and node.mode == "release" and bool(buf)
            if release and self.release_wmb:
                ep += 1
                nep = self._replace(epochs, t, ep)
            self._idx(node.loc)
            nbuf = buf + ((node.loc, node.value, ep, release and not self.release_wmb),)
            return with_node(node.next, bufs=self._replace(bufs, t, nbuf), epochs=nep)
        if k == RMW:
            if model == "tso" and buf:
                return None
            assert node.op is not None
            i = self._idx(node.loc)
            old = mem[i]
            new = node.op(old)
            if model == "pso":
                if any(e[0] == node.loc for e in buf):  # even one that will fail
                    return None
                if buf and (self.failed_ordered or new is not NO_WRITE):
                    if node.mode in ("mb", "release"):
                        return None
                    # its write is a store: a store fence keeps it after the stores before the fence
                    if any(e[2] < epochs[t] for e in buf):
                        return None
            nmem = mem if new is NO_WRITE else self._replace(mem, i, new)
            return with_node(beh.child(node, old), mem=nmem)
        if k == FENCE:
            if model == "sc":
                return with_node(node.next)
            if node.mode == "mb":
                return None if buf else with_node(node.next)
            if model == "pso" and node.mode in _STORE_FENCES and buf:
                return with_node(node.next, epochs=self._replace(epochs, t, epochs[t] + 1))
            return with_node(node.next)
        if k == OBSERVE:
            nobs = self._replace(obs, t, obs[t] + ((node.label, node.value),))
            return with_node(node.next, obs=nobs)
        if k in (ALLOC, FREE, SPECIAL):
            return with_node(node.next)
        raise AssertionError(f"step on node kind {k}")  # pragma: no cover

    def _reread(self, t: int, block: Node, mem: tuple[Any, ...]) -> Node | None:
        """Where thread ``t``, blocked at ``block`` after its last read, would get if that read
        returned the final memory's value (None: it read nothing)."""
        beh = self.beh[t]
        node, last = beh.root, None
        for v in block.path:
            while node.kind not in (READ, RMW):
                node = node.next
            last = node
            node = beh.child(node, v)
        if last is None:
            return None
        return beh.child(last, mem[self._idx(last.loc)])

    # -- the search ------------------------------------------------------------------------------
    def final(self, st: State) -> None:
        nodes, mem, _bufs, _epochs, obs = st
        res = self.result
        if any(n.kind == BLOCK for n in nodes):
            res.blocked = True
            # what each blocked thread would do if it read again now (no thread can go on)
            again = [self._reread(t, n, mem) for t, n in enumerate(nodes) if n.kind == BLOCK]
            if all(a is None or a.kind == BLOCK for a in again):
                res.stuck = True
                # every thread left waits for a lock or spins: a deadlock, or a spin no thread ends
                # (named by what it waits for)
                waits = [a for a in again if a is not None and a.kind == BLOCK]
                if len(waits) == len(again) and all(a.value in ("lock", "spin") for a in waits):
                    res.violations.add(waits[0].label if all(a.value == "spin" for a in waits) else "deadlock")
            return
        d: dict[str, Any] = {}
        for t, tobs in enumerate(obs):
            tname = self.prog.threads[t].name
            for name, v in tobs:
                d[f"{tname}:{name}"] = v
            end = nodes[t]
            if isinstance(end.value, dict):
                for name, v in end.value.items():
                    d[f"{tname}:{name}"] = v
        for loc in self.prog.observed:
            d[loc.name] = mem[self._idx(loc)]
        final = Final(d)
        res.outcomes.add(final.key())
        for c in self.prog.conditions:
            sat = bool(c.pred(final))
            if c.kind != "exists" and (c.kind == "forbid") == sat:
                res.violations.add(c.name)

    def run(self) -> BFResult:
        start = self.initial()
        seen = {start}
        stack = [start]
        res = self.result
        while stack:
            st = stack.pop()
            nodes = st[0]
            succs: list[State] = []
            stop = False
            for node in nodes:
                k = node.kind
                if k == ERROR:
                    res.violations.add(node.label or "assertion")
                    stop = True
                    break
                if k == LIMIT:
                    res.violations.add("event limit")
                    stop = True
                    break
            if stop:
                continue
            for t, node in enumerate(nodes):
                if node.kind not in _TERMINAL:
                    s = self.step(st, t)
                    if s is not None:
                        succs.append(s)
            if self.model != "sc":
                succs.extend(self.flushes(st))
            if not succs:
                if any(n.kind not in _TERMINAL for n in nodes) or any(st[2]):
                    raise AssertionError("brute force: stuck state")  # pragma: no cover
                self.final(st)
                continue
            for s in succs:
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
        res.states = len(seen)
        return res


def brute_force(prog: Program, model: str = "sc", max_events: int = 1000, *, release_store: str = "wmb",
                failed_rmw: str = "ordered") -> BFResult:
    """Every reachable outcome of ``prog`` under ``model`` ("sc", "tso", "pso"), by brute force.
    ``release_store`` and ``failed_rmw`` choose between PSO variants (see the module docstring)."""
    return _Machine(prog, model, max_events, release_store, failed_rmw).run()


__all__ = ["BFResult", "brute_force"]
