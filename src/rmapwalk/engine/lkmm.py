"""The Linux-kernel memory model (LKMM) as a consistency check on the engine's execution graphs.

This is the model of Linux ``tools/memory-model`` (Alglave, Maranget, McKenney, Parri, Stern,
"Frightening small children and disconcerting grown-ups", ASPLOS 2018, in its current form with
plain accesses and data races), written as Python over bitset relations instead of herd's cat
language, so that it runs on whole programs and needs no model files at run time.  The
differential tests check it against the official ``linux-kernel.cat`` run by the cat back end.

What it decides, for a graph (events, program order, reads-from, coherence, dependencies):

* ``coherence``: acyclic(po-loc | rf | co | fr);  ``atomic``: no write between an RMW's read and
  its write;
* ``happens-before``: acyclic(hb), with hb built from preserved program order (dependencies,
  fences, acquire/release, unlock-lock), external reads-from and internal propagation;
* ``propagation``: acyclic(pb) (each non-rf link of a cycle needs a strong fence);
* ``rcu``: irreflexive(rb) (grace periods against read-side critical sections);
* ``plain-coherence``: plain accesses may not contradict the order that bounds their lifetimes;
* data races (herd's ``Flag data-race``): :meth:`LKMM.data_races`.

How the engine's events map to LKMM's:

* access modes: ``plain`` is Plain; ``once``/``consume`` are ONCE; ``acquire``/``release`` are
  ACQUIRE/RELEASE; RMW modes ``mb``/``acquire``/``release``/``relaxed`` give the RMW's events
  those tags (a failed RMW is only a read and orders nothing); non-value-returning atomics
  (``atomic_inc``, ``set_bit``, ...) have Noreturn reads;
* spinlocks: the read half of a successful ``spin_lock``/``spin_trylock`` RMW is LKR (acquire),
  its write half LKW, the ``spin_unlock`` store UL (release);
* fences by kind: ``mb``, ``wmb``, ``rmb``, ``compiler`` (barrier), ``before-atomic``,
  ``after-atomic``, ``after-spinlock``, ``after-unlock-lock``, ``rcu-lock``, ``rcu-unlock``,
  ``sync-rcu``;  the engine's ``acquire``/``release`` fence kinds are not LKMM events;
* dependencies come from :mod:`rmapwalk.engine.deps` (each node's ``deps``).

``lkmm-alpha`` (:class:`LKMMAlpha`) is LKMM as it was before ``READ_ONCE()`` implied
``smp_read_barrier_depends()`` (Linux 4.15): an address dependency orders a later *read* only
when it starts at an ``rcu_dereference()`` (mode ``consume``) or an acquire.  Dependencies to
writes still order them (no CPU speculates stores).

The check runs on whole graphs.  The explorer prunes partial graphs by per-location coherence
(:meth:`read_ok`/:meth:`write_ok`, exact for that axiom), asks all the axioms
(:meth:`prefix_consistent`) each time a read or a write takes another than its first choice
(plain-coherence while it keeps rejecting graphs, see there), and asks :meth:`consistent` of
each finished execution.  Every axiom is monotone in the graph:
each relation is built from rf, co, fr, po, dependencies and fixed sets of events by union,
sequence, intersection and closure (the only differences, in the race and mixed-accesses flags,
are no axioms), so extending a graph only adds edges, and a graph found inconsistent stays so.
Dropping it early loses nothing, and it saves running the threads to their ends for each of the
many choices that make an hb or pb cycle at once (the full ``baseline-locked`` KVM scenario: 3
executions in 60 s before, all 4,520 in 48 s after).  Plain-coherence is monotone too (a later
fence or marked access that bounds a plain one only adds visibility edges); until session 11 it
was left to the finished execution, and ``large-spte`` under LKMM ran 9,585 graphs to their ends
only to fail it there (59 s; 9 s with it asked at each choice).
"""

from __future__ import annotations

from collections.abc import Callable

from rmapwalk.engine.events import ACQUIRE, CONSUME, F_RCU_LOCK, F_RCU_UNLOCK, MB, PLAIN, RELEASE
from rmapwalk.engine.graph import GF, GR, GW, Ev, Graph
from rmapwalk.engine.model_base import MemoryModel

Rel = list[int]

# fence kinds as the kernel layer emits them under this model
F_KINDS = {
    "mb": "Mb",
    "wmb": "Wmb",
    "rmb": "Rmb",
    "compiler": "Barrier",
    "before-atomic": "Before-atomic",
    "after-atomic": "After-atomic",
    "after-spinlock": "After-spinlock",
    "after-unlock-lock": "After-unlock-lock",
    "rcu-lock": "Rcu-lock",
    "rcu-unlock": "Rcu-unlock",
    "sync-rcu": "Sync-rcu",
    "sync-srcu": "Sync-srcu",
    "after-srcu-read-unlock": "After-srcu-read-unlock",
}
#: the labels of SRCU's read-side events under this model (a marked read and write of the
#: srcu_struct: herd's Srcu-lock and Srcu-unlock)
SRCU_LOCK_LABEL = "srcu_read_lock"
SRCU_UNLOCK_LABEL = "srcu_read_unlock"

#: non-value-returning RMWs: their reads are Noreturn (smp_rmb does not order them)
NORETURN_LABELS = frozenset({
    "atomic_add", "atomic_sub", "atomic_inc", "atomic_dec", "atomic_and", "atomic_or",
    "atomic_xor", "atomic_andnot", "set_bit", "clear_bit", "change_bit",
})
LOCK_LABELS = frozenset({"spin_lock", "spin_trylock"})
UNLOCK_LABELS = frozenset({"spin_unlock"})


# -- relations as rows of bitsets --------------------------------------------------------------
# A relation over the n events of a graph is a list of n ints: bit j of row i says i -> j.  The
# events are numbered initial writes first, then thread by thread in program order, so that the
# events of a thread are a run of consecutive bits and "the events of thread T po-after the event
# at bit b" is the single big-int operation T & -(b << 1), not a loop over bits.
def _bits(x: int) -> list[int]:
    out = []
    while x:
        low = x & -x
        out.append(low.bit_length() - 1)
        x ^= low
    return out


def seq(a: Rel, b: Rel) -> Rel:
    """a ; b.  (Only the bits of a's rows where b's row is not empty are visited.)"""
    d = 0
    for j, row in enumerate(b):
        if row:
            d |= 1 << j
    out = []
    for row in a:
        row &= d
        acc = 0
        while row:
            low = row & -row
            acc |= b[low.bit_length() - 1]
            row ^= low
        out.append(acc)
    return out


def seq_trans(a: Rel, t: Rel) -> Rel:
    """a ; t for a transitive ``t`` (a closure).  Exactly :func:`seq`; faster because a bit of a
    row that an earlier bit's row of ``t`` already reaches adds nothing (its row is contained)
    and is skipped."""
    out = []
    for row in a:
        acc = 0
        while row:
            low = row & -row
            acc |= t[low.bit_length() - 1]
            row = (row ^ low) & ~acc
        out.append(acc)
    return out


def seqs(*rs: Rel) -> Rel:
    r = rs[0]
    for x in rs[1:]:
        r = seq(r, x)
    return r


def union(*rs: Rel) -> Rel:
    out = list(rs[0])
    for r in rs[1:]:
        for i, row in enumerate(r):
            if row:
                out[i] |= row
    return out


def inter(a: Rel, b: Rel) -> Rel:
    return [x & y for x, y in zip(a, b, strict=True)]


def diff(a: Rel, b: Rel) -> Rel:
    return [x & ~y for x, y in zip(a, b, strict=True)]


def inv(a: Rel) -> Rel:
    out = [0] * len(a)
    for i, row in enumerate(a):
        bit = 1 << i
        while row:
            low = row & -row
            out[low.bit_length() - 1] |= bit
            row ^= low
    return out


def dom(s: int, a: Rel) -> Rel:
    """[s] ; a"""
    return [row if s >> i & 1 else 0 for i, row in enumerate(a)]


def rng(a: Rel, s: int) -> Rel:
    """a ; [s]"""
    return [row & s for row in a]


def ident(n: int, s: int = -1) -> Rel:
    return [(1 << i) if s >> i & 1 else 0 for i in range(n)]


def opt(a: Rel) -> Rel:
    """a?"""
    return [row | (1 << i) for i, row in enumerate(a)]


def _warshall(a: Rel) -> Rel:
    r = list(a)
    n = len(r)
    for k in range(n):
        rk = r[k]
        if not rk:
            continue
        bit = 1 << k
        for i in range(n):
            if r[i] & bit:
                r[i] |= rk
    return r


def plus(a: Rel) -> Rel:
    """a+.  An acyclic relation (the usual case) takes one depth-first search over the vertices
    with successors, each row being its successors' rows joined in reverse topological order (a
    successor that an earlier one reaches is skipped); one with a cycle falls back on Warshall's
    algorithm."""
    reach = [0] * len(a)
    unvisited = 0
    for i, row in enumerate(a):
        if row:
            unvisited |= 1 << i
    done = ~unvisited  # (a vertex without successors is finished from the start)
    while unvisited:
        low = unvisited & -unvisited
        unvisited ^= low
        stack = [low.bit_length() - 1]
        while stack:
            v = stack[-1]
            row = a[v]
            nxt = row & unvisited
            if nxt:
                low = nxt & -nxt
                unvisited ^= low
                stack.append(low.bit_length() - 1)
                continue
            stack.pop()
            if row & ~done:  # a successor still on the stack: a cycle
                return _warshall(a)
            acc = 0
            p = row
            while p:
                low = p & -p
                acc |= reach[low.bit_length() - 1]
                p = (p ^ low) & ~acc
            reach[v] = acc | row
            done |= 1 << v
    return reach


def star_seq(p: Rel, b: Rel) -> Rel:
    """p? ; b (p usually sparse: only its non-empty rows are joined)"""
    out = list(b)
    for i, row in enumerate(p):
        if row:
            acc = b[i]
            while row:
                low = row & -row
                acc |= b[low.bit_length() - 1]
                row ^= low
            out[i] = acc
    return out


def seq_plus(a: Rel, p: Rel) -> Rel:
    """a ; p? (p usually sparse and often empty: a's rows joined with p's rows of their bits)"""
    d = 0
    for j, row in enumerate(p):
        if row:
            d |= 1 << j
    if not d:
        return a
    out = list(a)
    for i, row in enumerate(a):
        x = row & d
        if x:
            acc = row
            while x:
                low = x & -x
                acc |= p[low.bit_length() - 1]
                x ^= low
            out[i] = acc
    return out


def star(a: Rel) -> Rel:
    return opt(plus(a))


def acyclic(a: Rel) -> bool:
    """No cycle in ``a``: a depth-first search in which every vertex, when it is left, has all
    its successors finished (a successor still on the stack closes a cycle)."""
    unvisited = 0
    for i, row in enumerate(a):
        if row:
            unvisited |= 1 << i
    done = ~unvisited
    while unvisited:
        low = unvisited & -unvisited
        unvisited ^= low
        stack = [low.bit_length() - 1]
        while stack:
            v = stack[-1]
            row = a[v]
            nxt = row & unvisited
            if nxt:
                low = nxt & -nxt
                unvisited ^= low
                stack.append(low.bit_length() - 1)
                continue
            stack.pop()
            if row & ~done:
                return False
            done |= 1 << v
    return True


def irreflexive(a: Rel) -> bool:
    return not any(row >> i & 1 for i, row in enumerate(a))


def empty(a: Rel) -> bool:
    return not any(a)


def cross(s: int, t: int, n: int) -> Rel:
    return [t if s >> i & 1 else 0 for i in range(n)]


def _fencerel_local(k: int, s: int) -> list[int]:
    """fencerel(s) over one thread's k events (local bits): a -> b with an ``s`` event
    po-between them."""
    out = [0] * k
    if s:
        full = (1 << k) - 1
        for i in range(k):
            y = s & ~((2 << i) - 1)
            if not y:
                break  # (no s event after this one: none after the later ones either)
            out[i] = full & -((y & -y) << 1)
    return out


class _Thread:
    """What one thread's events give by themselves, numbered from 0 along the thread: the event
    classes, po-loc, the raw dependencies and the fence relations inside the thread.  The same
    events (the same behaviour nodes) give the same values, so these are kept per model and
    shifted into place (:class:`Relations`)."""

    __slots__ = ("k", "pos", "masks", "fences", "locs", "po_loc", "addr", "data", "ctrl", "rmb_raw", "mb1",
                 "mb_w", "gp", "acq_po", "po_rel", "rmb", "wmb")

    def __init__(self, t: list[Ev]) -> None:
        evs = [e for e in t if e is not None and e.kind <= GF]
        k = self.k = len(evs)
        #: index in the thread (Ev.idx) -> local number
        self.pos = {e.idx: i for i, e in enumerate(evs)}
        R = W = F = Plain = Acq = Rel_ = Mb = Noreturn = RMWs = LKR = LKW = UL = Consume = SL = SU = 0
        fences: dict[str, int] = {}
        loc_of: dict[int, int] = {}
        locs = [-1] * k
        for i, e in enumerate(evs):
            b = 1 << i
            if e.kind == GF:
                F |= b
                fk = F_KINDS.get(e.mode)
                if fk is not None:
                    fences[fk] = fences.get(fk, 0) | b
                continue
            locs[i] = e.loc
            loc_of[e.loc] = loc_of.get(e.loc, 0) | b
            label = e.node.label if e.node is not None else ""
            ok_rmw = e.rmw and (e.kind == GW or e.wr is not None)
            if e.kind == GR:
                R |= b
                if e.rmw and label in NORETURN_LABELS:
                    Noreturn |= b
                if e.mode == ACQUIRE and (not e.rmw or ok_rmw):
                    Acq |= b
                if e.mode == CONSUME:
                    Consume |= b
                if label == SRCU_LOCK_LABEL:
                    SL |= b
                if e.rmw and ok_rmw and label in LOCK_LABELS:
                    LKR |= b
                    Acq |= b
            else:
                W |= b
                if e.mode == RELEASE:
                    Rel_ |= b
                if e.rmw and label in LOCK_LABELS:
                    LKW |= b
                if label in UNLOCK_LABELS and not e.rmw:
                    UL |= b
                    Rel_ |= b
                if label == SRCU_UNLOCK_LABEL:
                    SU |= b
            if e.rmw:
                RMWs |= b
                if ok_rmw and e.mode == MB:
                    Mb |= b
            elif e.mode == PLAIN:
                Plain |= b
        M = R | W
        self.masks = (R, W, F, Plain, Acq, Rel_, Mb, Noreturn, RMWs, LKR, LKW, UL, Consume, SL, SU)
        self.fences = fences
        self.locs = locs
        full = (1 << k) - 1
        po = [full & -(2 << i) for i in range(k)]
        self.po_loc = [po[i] & loc_of[locs[i]] & M if M >> i & 1 else 0 for i in range(k)]

        # dependencies (addr, data, ctrl) from the behaviour nodes
        addr = [0] * k
        data = [0] * k
        ctrl = [0] * k
        by_depth: dict[int, int] = {}
        for i, e in enumerate(evs):
            if e.kind == GR and e.node is not None:
                by_depth[e.node.depth] = i
        for i, e in enumerate(evs):
            node = e.node
            if (node is not None and e.kind == GR and e.rmw and e.wr is not None and i + 1 < k
                    and evs[i + 1] is e.wr and getattr(node.op, "data_from_old", True)):
                # an RMW that computes its new value from the old (atomic_inc, not cmpxchg or
                # xchg: ops.conditional, ops.constant): herd's data dependency inside it
                data[i] |= 1 << (i + 1)
            if node is None or e.kind > GW or node.deps is None:
                continue
            a_d, d_d, c_d = node.deps
            j = 1 << i
            for d in a_d:
                x = by_depth.get(d)
                if x is not None:
                    addr[x] |= j
            if e.kind == GW:
                for d in d_d:
                    x = by_depth.get(d)
                    if x is not None:
                        data[x] |= j
            for d in c_d:
                x = by_depth.get(d)
                if x is not None:
                    ctrl[x] |= j
        self.addr, self.data, self.ctrl = addr, data, ctrl

        # the fence relations that stay inside the thread (mb but its pulp part, gp, ...)
        rmb_raw = self.rmb_raw = _fencerel_local(k, fences.get("Rmb", 0))
        R4rmb = R & ~Noreturn
        self.rmb = [rmb_raw[i] & R4rmb if R4rmb >> i & 1 else 0 for i in range(k)]
        f_wmb = _fencerel_local(k, fences.get("Wmb", 0))
        self.wmb = [f_wmb[i] & W if W >> i & 1 else 0 for i in range(k)]
        self.acq_po = [po[i] & M if Acq >> i & 1 else 0 for i in range(k)]
        self.po_rel = [po[i] & Rel_ if M >> i & 1 else 0 for i in range(k)]
        f_mb = _fencerel_local(k, fences.get("Mb", 0))
        f_ba = _fencerel_local(k, fences.get("Before-atomic", 0))
        f_aa = _fencerel_local(k, fences.get("After-atomic", 0))
        f_as = _fencerel_local(k, fences.get("After-spinlock", 0))
        f_asu = _fencerel_local(k, fences.get("After-srcu-read-unlock", 0)) if SU else []
        MbR, MbW = Mb & R, Mb & W
        mb1 = [0] * k  # mb but the rows of fully ordered RMW writes and the pulp part
        mb_w = [0] * k  # [Mb & W] ; po ; [M]
        # (fencerel rows shrink along po: x ; fencerel is the row of x's first event, and
        # x ; po? is everything from x's first event on)
        for i in range(k):
            b = 1 << i
            if not M & b:
                continue
            p = po[i]
            row = f_mb[i] & M
            if p & MbR:
                row |= p & MbR
            if MbW & b:
                mb_w[i] = p & M
            x = f_ba[i] & RMWs  # [M] ; fencerel(Before-atomic) ; [RMW] ; po? ; [M]
            if x:
                row |= full & -(x & -x) & M
            x = (p | b) & RMWs  # [M] ; po? ; [RMW] ; fencerel(After-atomic) ; [M]
            if x:
                row |= f_aa[(x & -x).bit_length() - 1] & M
            x = (p | b) & LKW  # [M] ; po? ; [LKW] ; fencerel(After-spinlock) ; [M]
            if x:
                row |= f_as[(x & -x).bit_length() - 1] & M
            x = (p | b) & SU  # [M] ; po? ; [Srcu-unlock] ; fencerel(After-srcu-read-unlock) ; [M]
            if x:
                row |= f_asu[(x & -x).bit_length() - 1] & M
            mb1[i] = row
        self.mb1, self.mb_w = mb1, mb_w
        sr = fences.get("Sync-rcu", 0) | fences.get("Sync-srcu", 0)  # gp = po ; [Sync-rcu | Sync-srcu] ; po?
        gp = [0] * k
        if sr:
            for i in range(k):
                x = po[i] & sr
                if x:
                    gp[i] = full & -(x & -x)
        self.gp = gp


def _closed_threads(g: Graph) -> list[list[Ev]]:
    """Each thread's events (accesses and fences, in program order), followed by one virtual
    ``rcu_read_unlock`` (an Rcu-unlock fence event that belongs to no graph) for each RCU
    read-side critical section still open after them.

    A section is open there when the thread stopped inside it (a violation, an assertion) or has
    not got further yet (a graph still growing).  LKMM's rcu axiom only constrains sections that
    end (``rcu-rscs``), so without the closing unlock such a section would be ordered against no
    grace period, and a grace period could end while it runs: a reader that saw a pointer before
    its removal could then see the object's next life (freed by a ``call_rcu`` callback and
    reused) before it fails.  A real section ends after every event it has executed so far, and
    whatever else it executes only adds relations, so the closed graph's relations are contained
    in those of every completion: judging it is sound for the prefix and for its extensions.
    The virtual unlock only ends program order and starts ``rcu-rscs^-1``; nothing follows it.
    A thread with a gap (a load-buffering graph, where events it must make again follow the
    gap) gets none: its section may end inside the gap, before the events after it."""
    out: list[list[Ev]] = []
    for tid, t in enumerate(g.threads):
        evs = [e for e in t if e is not None and e.kind <= GF]
        if any(e is None for e in t):
            out.append(evs)
            continue
        depth = 0
        for e in evs:
            if e.kind == GF and e.mode == F_RCU_LOCK:
                depth += 1
            elif e.kind == GF and e.mode == F_RCU_UNLOCK and depth:
                depth -= 1
        end = len(t)
        evs.extend(Ev(tid, end + k, GF, 0, None, F_RCU_UNLOCK, None, -1) for k in range(depth))
        out.append(evs)
    return out


def _thread_key(t: list[Ev]) -> tuple[object, ...]:
    """What :class:`_Thread` depends on: each event's node (the object: the key keeps it alive,
    so no other node can take its id), kind, whether an RMW read has its write, and its index
    (a load-buffering graph can have gaps)."""
    return tuple([(e.node, e.kind, e.wr is None, e.idx) for e in t if e is not None and e.kind <= GF])


def _graph_name(g: Graph) -> tuple[object, ...]:
    """What :class:`Relations` of ``g`` are a function of: its name (reads-from, coherence,
    shape) and, for each event, what :func:`_thread_key` names of it but its index (the place in
    the tuple gives that): its node (by serial number, as a node may be let go and its ``id``
    reused), kind, and whether an RMW read has its write.  (The nodes too because a
    load-buffering graph keeps its reads-from and coherence while the thread paths, and so the
    dependencies, of kept events change.)"""
    return (g.key(), tuple(None if e is None else (-1 if e.node is None else e.node.serial, e.kind, e.wr is None)
                           for evs in g.threads for e in evs))


class _Layout:
    """The relations that the threads' own events give (:class:`_Thread`), shifted into place
    after ``first`` initial writes: everything of :class:`Relations` but what reads-from and
    coherence add.  Kept per model by the threads' events."""

    def __init__(self, first: int, parts: list[_Thread | None], offs: list[int], n: int) -> None:
        # the threads' own relations, shifted into place
        R = W = F = Plain = Acq = Rel_ = Mb = Noreturn = RMWs = LKR = LKW = UL = Consume = SL = SU = 0
        IW = (1 << first) - 1
        fences: dict[str, int] = {k: 0 for k in F_KINDS.values()}
        tmasks: list[int] = []
        pairs = [(p, off) for p, off in zip(parts, offs, strict=True) if p is not None]
        for part, off in pairs:
            tmasks.append(((1 << part.k) - 1) << off)
            r, w, f, pl, ac, rl, mb, nr, rm, lkr, lkw, ul, cons, sl, su = part.masks
            R |= r << off
            W |= w << off
            F |= f << off
            Plain |= pl << off
            Acq |= ac << off
            Rel_ |= rl << off
            Mb |= mb << off
            Noreturn |= nr << off
            RMWs |= rm << off
            LKR |= lkr << off
            LKW |= lkw << off
            UL |= ul << off
            Consume |= cons << off
            SL |= sl << off
            SU |= su << off
            for fk, m in part.fences.items():
                fences[fk] |= m << off
        zeros = [0] * first

        def glue(name: str) -> Rel:
            return zeros + [x << off for part, off in pairs for x in getattr(part, name)]

        po_loc, addr, data, ctrl = glue("po_loc"), glue("addr"), glue("data"), glue("ctrl")
        rmb_raw, mb1, mb_w, gp = glue("rmb_raw"), glue("mb1"), glue("mb_w"), glue("gp")
        acq_po, po_rel, rmb, wmb = glue("acq_po"), glue("po_rel"), glue("rmb"), glue("wmb")
        po = zeros + [tm & -(2 << i) for tm in tmasks for i in _bits(tm)]
        intm = zeros + [tm for tm in tmasks for _ in range(tm.bit_count())]
        W |= IW
        M = R | W
        Marked = ((1 << n) - 1) & ~Plain
        self.tmasks = tmasks
        self.R, self.W, self.M, self.IW, self.Plain, self.Marked = R, W, M, IW, Plain, Marked
        self.Noreturn = Noreturn
        self.Acq, self.Rel_, self.Mb, self.RMWs, self.LKR, self.LKW, self.UL = Acq, Rel_, Mb, RMWs, LKR, LKW, UL
        self.Consume = Consume
        #: Srcu-lock and Srcu-unlock (srcu_read_lock's read and srcu_read_unlock's write)
        self.srcu = (SL, SU)
        self.fences = fences
        self.po, self.int_ = po, intm
        self.ext = [M if i < first else (M & ~intm[i] if M >> i & 1 else 0) for i in range(n)]
        self.po_loc = po_loc
        self.rmb_raw, self._mb1, self._mb_w, self.gp = rmb_raw, mb1, mb_w, gp
        self.acq_po, self.po_rel, self.rmb, self.wmb = acq_po, po_rel, rmb, wmb
        self.addr, self.data, self.ctrl = addr, data, ctrl
        self.offs = offs
        self.pos = [p.pos if p is not None else {} for p in parts]


class RelationsCache:
    """What :class:`Relations` keeps from one graph to the next (one per model instance): each
    thread's own relations and whole layouts, by the events that determine them.  Bounded:
    emptied when full."""

    def __init__(self, size: int = 4000) -> None:
        self.size = size
        self.threads: dict[tuple[object, ...], _Thread] = {}
        self.layouts: dict[tuple[object, ...], _Layout] = {}


class Relations:
    """Every LKMM relation of one graph that the axioms and the race check need.

    They are built as they are asked for, one axiom after the other in the order coherence,
    atomicity, happens-before, propagation, RCU, plain accesses (each needs some relations of
    the ones before): a graph that fails an early axiom costs only what that axiom needs.  Each
    value is the one herd's ``linux-kernel.cat`` gives; the staging changes only when it is
    computed."""

    def __init__(self, g: Graph, alpha: bool = False, cache: RelationsCache | None = None) -> None:
        self.alpha = alpha
        inits: list[Ev] = [co[0] for co in g.co.values()]
        first = len(inits)
        evs = list(inits)
        parts: list[_Thread | None] = []
        offs: list[int] = []
        keys: list[object] = [first]
        for t in _closed_threads(g):
            if cache is not None:
                key = _thread_key(t)
                keys.append(key)
                part = cache.threads.get(key)
                if part is None:
                    if len(cache.threads) >= cache.size:
                        cache.threads.clear()
                    part = cache.threads[key] = _Thread(t)
            else:
                part = _Thread(t)
            offs.append(len(evs))
            if part.k:
                evs.extend(e for e in t if e is not None and e.kind <= GF)
                parts.append(part)
            else:
                parts.append(None)
        self.evs = evs
        n = self.n = len(evs)
        self._index: dict[int, int] | None = None
        if cache is not None:
            lkey = tuple(keys)
            lay = cache.layouts.get(lkey)
            if lay is None:
                if len(cache.layouts) >= cache.size // 4:
                    cache.layouts.clear()
                lay = cache.layouts[lkey] = _Layout(first, parts, offs, n)
        else:
            lay = _Layout(first, parts, offs, n)
        self.tmasks = lay.tmasks
        self.R, self.W, self.M, self.IW, self.Plain, self.Marked = lay.R, lay.W, lay.M, lay.IW, lay.Plain, lay.Marked
        self.Marked_mask = lay.Marked
        self.Noreturn, self.Acq, self.Rel_, self.Mb, self.RMWs = lay.Noreturn, lay.Acq, lay.Rel_, lay.Mb, lay.RMWs
        self.LKR, self.LKW, self.UL, self.Consume, self.fences = lay.LKR, lay.LKW, lay.UL, lay.Consume, lay.fences
        #: Srcu-lock and Srcu-unlock (srcu_read_lock's read and srcu_read_unlock's write)
        self.SL, self.SU = lay.srcu
        self.po, self.int_, self.ext, self.po_loc = lay.po, lay.int_, lay.ext, lay.po_loc
        self.rmb_raw, self._mb1, self._mb_w, self.gp = lay.rmb_raw, lay._mb1, lay._mb_w, lay.gp
        self.acq_po, self.po_rel, self.rmb, self.wmb = lay.acq_po, lay.po_rel, lay.rmb, lay.wmb
        addr, data, ctrl = lay.addr, lay.data, lay.ctrl
        intm, offs, pos = lay.int_, lay.offs, lay.pos

        # reads-from, coherence, from-reads (a read's fr row is the co row of its write), rmw
        rf = [0] * n
        co = [0] * n
        fr = [0] * n
        rmw = [0] * n
        for li, cl in enumerate(g.co.values()):
            later = 0
            for wr in reversed(cl):
                i = li if wr.tid < 0 else offs[wr.tid] + pos[wr.tid][wr.idx]
                co[i] = later
                for rd in wr.readers or ():
                    j = offs[rd.tid] + pos[rd.tid][rd.idx]
                    rf[i] |= 1 << j
                    fr[j] |= later
                    if rd.rmw and rd.wr is not None:
                        rmw[j] = 1 << (offs[rd.tid] + pos[rd.tid][rd.wr.idx])
                later |= 1 << i
        self.rf, self.co, self.fr, self.rmw = rf, co, fr, rmw
        ext = self.ext
        self.rfe = [x & y for x, y in zip(rf, ext, strict=True)]
        rfi = self.rfi = [x & y for x, y in zip(rf, intm, strict=True)]
        if any(rfi):
            # (data ; [~Srcu-unlock] ; rfi)* ; dep: a value stored and read back by the same
            # thread carries its dependencies (not an SRCU index stored back by its unlock: the
            # next section's lock reads it, and is no part of the section before)
            su = self.SU
            carry = plus(rfi_after(rng(data, ~su) if su else data, rfi))
            addr = star_seq(carry, addr)
            ctrl = star_seq(carry, ctrl)
            data = star_seq(carry, data)
        self.addr, self.data, self.ctrl = addr, data, ctrl

        self._fencerels: dict[int, Rel] = {}
        self._pb_rel: Rel | None = None
        self._hb_star: Rel | None = None
        self._xb: Rel | None = None
        self._xb_plus: Rel | None = None
        self._coherence: bool | None = None
        self._atomic: bool | None = None
        self._hb: bool | None = None
        #: ppo built (the first half of _build_hb); (ppo | rfe) found cyclic (see hb_ok)
        self._ppo_built = False
        self._hb_quick_cycle = False
        self._pb: bool | None = None
        self._rcu: bool | None = None
        self._plain: bool | None = None

    @property
    def index(self) -> dict[int, int]:
        """The number of each event, by ``id``."""
        if self._index is None:
            self._index = {id(e): i for i, e in enumerate(self.evs)}
        return self._index

    # -- program-order helpers ----------------------------------------------------------------
    def _after(self, x: int) -> int:
        """x ; po: in each thread, the events po-after the first of ``x`` there."""
        out = 0
        for tm in self.tmasks:
            y = x & tm
            if y:
                out |= tm & -((y & -y) << 1)
        return out

    def fencerel(self, s: int) -> Rel:
        """a -> b with an ``s`` event po-between them (each row: the events po-after the first
        ``s`` event po-after a)."""
        got = self._fencerels.get(s)
        if got is not None:
            return got
        out = [0] * self.n
        if s:
            po = self.po
            for tm in self.tmasks:
                if not tm & s:
                    continue
                x = tm
                while x:
                    low = x & -x
                    i = low.bit_length() - 1
                    y = po[i] & s
                    if not y:
                        break  # (no s event after this one: none after the later ones either)
                    out[i] = tm & -((y & -y) << 1)
                    x ^= low
        self._fencerels[s] = out
        return out

    # -- coherence and atomicity ----------------------------------------------------------------
    @property
    def coherence_ok(self) -> bool:
        """acyclic(po-loc | rf | co | fr)"""
        if self._coherence is None:
            rel = [a | b | c | d for a, b, c, d in zip(self.po_loc, self.rf, self.co, self.fr, strict=True)]
            self._coherence = acyclic(rel)
        return self._coherence

    @property
    def atomic_ok(self) -> bool:
        """empty(rmw & (fre ; coe)): nothing of another thread between an RMW's read and write."""
        if self._atomic is None:
            ok = True
            fr, co, ext = self.fr, self.co, self.ext
            for i, w in enumerate(self.rmw):
                if not w:
                    continue
                x = fr[i] & ext[i]
                while x:
                    low = x & -x
                    j = low.bit_length() - 1
                    if co[j] & ext[j] & w:
                        ok = False
                        break
                    x ^= low
                if not ok:
                    break
            self._atomic = ok
        return self._atomic

    # -- preserved program order, happens-before --------------------------------------------
    def _build_ppo(self) -> None:
        """The fences, ``pulp`` and ``ppo`` (what :meth:`hb_ok`'s quick test needs)."""
        self._ppo_built = True
        n, po, M, W, R = self.n, self.po, self.M, self.W, self.R
        Marked, Plain, Acq, LKR, UL = self.Marked, self.Plain, self.Acq, self.LKR, self.UL
        fences = self.fences
        rf, rfi, intm = self.rf, self.rfi, self.int_
        after = self._after

        # pulp = po ; [UL] ; (po | rf) ; [LKR] ; po
        pulp = [0] * n
        if UL and LKR:
            z: dict[int, int] = {}
            for u in _bits(UL):
                y = after((po[u] | rf[u]) & LKR)
                if y:
                    z[u] = y
            if z:
                for tm in self.tmasks:  # (a suffix join along each thread, from its end)
                    acc = 0
                    for i in reversed(_bits(tm)):
                        pulp[i] = acc
                        acc |= z.get(i, 0)
        acq_po, po_rel, wmb, rmb = self.acq_po, self.po_rel, self.wmb, self.rmb
        mb1, mb_w, gp = self._mb1, self._mb_w, self.gp
        aul = fences["After-unlock-lock"]
        if aul and any(pulp):
            # mb's part that is not inside one thread: [M] ; pulp ; [After-unlock-lock] ; po ; [M]
            mb1 = list(mb1)
            for i in range(n):
                x = pulp[i] & aul
                if x and M >> i & 1:
                    mb1[i] |= after(x) & M
            self._mb1 = mb1
        strong = [a | b | c for a, b, c in zip(mb1, mb_w, gp, strict=True)]
        nonrw = [a | b | c for a, b, c in zip(strong, po_rel, acq_po, strict=True)]
        fence = [a | b | c for a, b, c in zip(nonrw, wmb, rmb, strict=True)]
        self.pulp = pulp
        self.strong, self.nonrw, self.fence = strong, nonrw, fence

        # ppo
        addr, data, ctrl = self.addr, self.data, self.ctrl
        co, fr = self.co, self.fr
        overwrite = [a | b for a, b in zip(co, fr, strict=True)]
        self.overwrite = overwrite
        dep = [a | b for a, b in zip(addr, data, strict=True)]
        to_w = [((dep[i] | ctrl[i]) & W) | (overwrite[i] & intm[i]) for i in range(n)]
        if any(addr[i] & Plain for i in range(n)):
            to_w = union(to_w, seq(rng(addr, Plain), wmb))
        if self.alpha:
            # before 4.15, only rcu_dereference() (and acquire) kept a dependent read in order
            cons = self.Consume | Acq
            to_r = [addr[i] & R if cons >> i & 1 else 0 for i in range(n)]
        else:
            to_r = [a & R for a in addr]
        if any(rfi):
            to_r = union(to_r, seq(rng(dep, Marked), rfi))
        ppo = [to_r[i] | to_w[i] | ((fence[i] | pulp[i]) & intm[i]) for i in range(n)]
        self.ppo = ppo

    def _build_hb(self) -> None:
        if not self._ppo_built:
            self._build_ppo()
        n, Marked = self.n, self.Marked
        strong, po_rel, wmb, pulp, ppo = self.strong, self.po_rel, self.wmb, self.pulp, self.ppo
        rf, rfe, intm, ext, overwrite = self.rf, self.rfe, self.int_, self.ext, self.overwrite

        # rmwseq = (rf ; rmw)*, kept as its (usually empty) + part
        rfrmw = seq(rf, self.rmw)
        rmw_plus = plus(rfrmw) if any(rfrmw) else rfrmw
        self.rmw_plus = rmw_plus
        # cumul = [Marked] ; (A-cumul(strong | po-rel) | wmb | pulp) ; [Marked] ; rmwseq
        sp = [a | b for a, b in zip(strong, po_rel, strict=True)]
        cumul = [0] * n
        for i in range(n):
            if not Marked >> i & 1:
                continue
            row = sp[i] | wmb[i] | pulp[i]
            x = rfe[i] & Marked
            while x:
                low = x & -x
                row |= sp[low.bit_length() - 1]
                x ^= low
            cumul[i] = row & Marked
        cumul = seq_plus(cumul, rmw_plus)
        self.cumul = cumul
        cs = plus(cumul)
        # B = cumul* ; rfe? ; [Marked]
        B = [0] * n
        rfe_dom = 0
        for j, row in enumerate(rfe):
            if row:
                rfe_dom |= 1 << j
        for i in range(n):
            c = cs[i] | (1 << i)
            acc = c
            x = c & rfe_dom
            while x:
                low = x & -x
                acc |= rfe[low.bit_length() - 1]
                x ^= low
            B[i] = acc & Marked
        self.cumul_rfe = B
        # prop = [Marked] ; (overwrite & ext)? ; cumul* ; rfe? ; [Marked]
        prop = [0] * n
        for i in range(n):
            if not Marked >> i & 1:
                continue
            acc = B[i]
            x = overwrite[i] & ext[i]
            while x:
                low = x & -x
                acc |= B[low.bit_length() - 1]
                x ^= low
            prop[i] = acc
        self.prop = prop
        hb = [0] * n
        for i in range(n):
            if Marked >> i & 1:
                hb[i] = (ppo[i] | rfe[i] | (prop[i] & ~(1 << i) & intm[i])) & Marked
        self.hb = hb
        self._hb = acyclic(hb)

    @property
    def hb_ok(self) -> bool:
        """acyclic(hb)"""
        if self._hb is None:
            # hb contains (ppo | rfe) on marked events: a cycle there is a cycle of hb, found
            # without prop's closures (most graphs the explorer rejects under LKMM have one:
            # 94% of the hb-inconsistent ones in flush-slots-lock).  _hb stays unset, so what
            # needs hb itself still builds it whole.
            if self._hb_quick_cycle:
                return False
            if not self._ppo_built:
                self._build_ppo()
            Marked, ppo, rfe = self.Marked, self.ppo, self.rfe
            if not acyclic([(ppo[i] | rfe[i]) & Marked if Marked >> i & 1 else 0 for i in range(self.n)]):
                self._hb_quick_cycle = True
                return False
            self._build_hb()
        assert self._hb is not None
        return self._hb

    def _seq_strong(self, x: int) -> int:
        """x ; strong.  Every part of strong has rows that shrink along po (on M for mb but the
        fully ordered RMW writes, on those for their own part, on every event for gp): in each
        thread only the first event of ``x`` in each part counts."""
        M, MbW, mb1, mb_w, gp, sr = self.M, self.Mb & self.W, self._mb1, self._mb_w, self.gp, self._grace_periods
        out = 0
        for tm in self.tmasks:
            y = x & tm
            if not y:
                continue
            z = y & M
            if z:
                out |= mb1[(z & -z).bit_length() - 1]
                z &= MbW
                if z:
                    out |= mb_w[(z & -z).bit_length() - 1]
            if sr:
                out |= gp[(y & -y).bit_length() - 1]
        return out

    def _layers(self, with_hb: bool) -> Rel:
        """hb and pb as one relation over two copies of the events, without building pb: event
        i has an edge to the copy of k for k in (prop ; strong)(i), a copy has the hb edges among
        copies and an edge back to its event if that is Marked.  Paths from event to event are
        pb = prop ; strong ; hb* ; [Marked] (and hb, ``with_hb``)."""
        n, hb, Marked = self.n, self.hb, self.Marked
        ss = self._seq_strong
        rows = [(ss(x) << n) if x else 0 for x in self.prop]
        if with_hb:
            rows = [a | b for a, b in zip(rows, hb, strict=True)]
        rows.extend(((h << n) | ((1 << k) & Marked)) for k, h in enumerate(hb))
        return rows

    def _build_pb(self) -> None:
        if self._hb is None:
            self._build_hb()
        if self._hb:
            # (an hb cycle is a cycle of the copies: only then does pb need building)
            self._pb = acyclic(self._layers(False))
        else:
            self._pb = acyclic(self.pb)

    @property
    def pb(self) -> Rel:
        """pb = prop ; strong ; hb* ; [Marked]"""
        got = self._pb_rel
        if got is None:
            if self._hb is None:
                self._build_hb()
            Marked = self.Marked
            ps = [self._seq_strong(x) if x else 0 for x in self.prop]
            got = self._pb_rel = [row & Marked for row in seq_trans(ps, self.hb_star)]
        return got

    @property
    def hb_star(self) -> Rel:
        got = self._hb_star
        if got is None:
            if self._hb is None:
                self._build_hb()
            got = self._hb_star = star(self.hb)
        return got

    def xb_plus(self) -> Rel:
        """(hb | pb | rb)+"""
        got = self._xb_plus
        if got is None:
            if self._rcu is None:
                self._build_rcu()
            if not self._grace_periods and self._hb:
                # rb is empty: the paths between events of the layered hb and pb
                n = self.n
                mask = (1 << n) - 1
                got = [row & mask for row in plus(self._layers(True))[:n]]
            else:
                got = plus(self.xb)
            self._xb_plus = got
        return got

    def xb_rcu_plus(self) -> Rel:
        """(hb | pb | rb | rcu-fence)+"""
        if not self._grace_periods:
            return self.xb_plus()  # (no rcu-fence)
        return plus(union(self.xb, self.rcu_fence))

    @property
    def pb_ok(self) -> bool:
        """acyclic(pb)"""
        if self._pb is None:
            self._build_pb()
        assert self._pb is not None
        return self._pb

    # -- RCU ----------------------------------------------------------------------------------
    @property
    def _grace_periods(self) -> int:
        """The Sync-rcu and Sync-srcu events."""
        return self.fences["Sync-rcu"] | self.fences["Sync-srcu"]

    def _rcu_rscs(self) -> Rel:
        """rcu-rscs: each rcu_read_lock() to the rcu_read_unlock() that matches it (they nest;
        :func:`_closed_threads` closed the sections a thread left open)."""
        rscs = [0] * self.n
        stack: list[int] = []
        cur_tm = 0
        for i, e in enumerate(self.evs):
            if e.kind != GF:
                continue
            if not self.int_[i] == cur_tm:
                cur_tm = self.int_[i]
                stack = []
            if e.mode == "rcu-lock":
                stack.append(i)
            elif e.mode == "rcu-unlock" and stack:
                rscs[stack.pop()] |= 1 << i
        return rscs

    def _srcu_rscs(self) -> tuple[Rel, Rel]:
        """srcu-rscs = ([Srcu-lock] ; carry-srcu-data ; data ; [Srcu-unlock]) & loc, where
        carry-srcu-data = (data ; [~Srcu-unlock] ; rf)*: a section is a lock and the unlock that
        stores the index it read, passed on through registers and memory (so sections of one
        srcu_struct need not nest, and one may end on another CPU).  Also ``& loc`` on the SRCU
        events: each one's row of the events of its own srcu_struct."""
        n, evs = self.n, self.evs
        sl, su = self.SL, self.SU
        sync = self.fences["Sync-srcu"]
        sameloc = [0] * n
        by_loc: dict[int, int] = {}
        for i in _bits(sl | su | sync):
            by_loc[evs[i].loc] = by_loc.get(evs[i].loc, 0) | 1 << i
        for i in _bits(sl | su | sync):
            sameloc[i] = by_loc[evs[i].loc]
        if not sl or not su:
            return [0] * n, sameloc
        data = self.data
        carry = star(seq(rng(data, ~su), self.rf))
        rscs = seq(dom(sl, carry), rng(data, su))
        return inter(rscs, sameloc), sameloc

    def _build_rcu(self) -> None:
        if self._pb is None:
            self._build_pb()
        n = self.n
        sr, ss = self.fences["Sync-rcu"], self.fences["Sync-srcu"]
        if not sr and not ss:
            # no grace period: no rcu-fence, and rb is empty
            rcu_fence = [0] * n
            self._rcu = True
        else:
            po = self.po
            rscs = self._rcu_rscs()
            rscsi = inv(rscs)
            gp_id = ident(n, sr)
            po_opt = opt(po)
            hb_star, pb = self.hb_star, self.pb
            pb_star = star(pb)
            link = seq(seq_trans(seq_trans(po_opt, hb_star), pb_star), seq(self.prop, po))
            # SRCU's terms are those of RCU with its own grace periods and sections, each pair
            # of a grace period and a section of the same srcu_struct ("& loc")
            srscs, sameloc = self._srcu_rscs() if ss else ([0] * n, [0] * n)
            srscsi = inv(srscs)
            sgp_id = ident(n, ss)
            order = union(gp_id, sgp_id)
            has_rcu, has_srcu = any(rscs) and sr, any(srscs) and ss
            if has_rcu or has_srcu:
                base = order
                if has_rcu:
                    base = union(base, seqs(gp_id, link, rscsi), seqs(rscsi, link, gp_id))
                if has_srcu:
                    base = union(base, inter(seqs(sgp_id, link, srscsi), sameloc),
                                 inter(seqs(srscsi, link, sgp_id), sameloc))
                order = base
                while True:
                    parts = [base, seqs(order, link, order)]
                    if has_rcu:
                        parts += [seqs(gp_id, link, order, link, rscsi), seqs(rscsi, link, order, link, gp_id)]
                    if has_srcu:
                        parts += [inter(seqs(sgp_id, link, order, link, srscsi), sameloc),
                                  inter(seqs(srscsi, link, order, link, sgp_id), sameloc)]
                    new = union(*parts)
                    if new == order:
                        break
                    order = new
            rcu_fence = seq(po, seq(order, po_opt))
            rb = rng(seq_trans(seq_trans(seq(self.prop, rcu_fence), hb_star), pb_star), self.Marked)
            self._rcu = irreflexive(rb)
            self._xb = union(self.hb, self.pb, rb)
        self._rcu_fence = rcu_fence
        self._fence2 = [a | b for a, b in zip(self.fence, rcu_fence, strict=True)]
        self.strong2 = [a | b for a, b in zip(self.strong, rcu_fence, strict=True)]

    @property
    def rcu_ok(self) -> bool:
        """irreflexive(rb)"""
        if self._rcu is None:
            self._build_rcu()
        assert self._rcu is not None
        return self._rcu

    # -- plain accesses -------------------------------------------------------------------------
    # The plain-access relations (ww-vis, wr-vis, rw-xbstar, ...) are only ever asked about the
    # pairs that could race (a plain access and a conflicting one of another thread), so their
    # rows are built one at a time, when a pair needs them, and kept.
    def _build_plain(self) -> None:
        if self._rcu is None:
            self._build_rcu()
        n = self.n
        M, Plain, Marked, IW, Noreturn = self.M, self.Plain, self.Marked, self.IW, self.Noreturn
        ext = self.ext
        self.xbstar = opt(self.xb_plus())
        R4rmb = self.R & ~Noreturn
        rmb_raw = self.rmb_raw
        addr, fence2, nonrw = self.addr, self._fence2, self.nonrw
        # w_pre = [Marked] ; (addr | fence2)?  and  r_pre = [Marked] ; (addr | nonrw | [R4rmb] ;
        # fencerel(Rmb) ; [~Noreturn])?  without their identity part
        self._wpre1 = [(addr[i] | fence2[i]) if Marked >> i & 1 else 0 for i in range(n)]
        self._rpre1 = [(addr[i] | nonrw[i] | ((rmb_raw[i] & ~Noreturn) if R4rmb >> i & 1 else 0))
                       if Marked >> i & 1 else 0 for i in range(n)]
        self._vis: dict[int, int] = {}
        self._y: dict[int, int] = {}
        self._rows: dict[tuple[str, int], int] = {}
        pre_race = [0] * n
        for i in range(n):
            b = 1 << i
            t = 0
            if Plain & b:
                t = M
            elif M & ~IW & b:
                t = Plain
            pre_race[i] = ext[i] & t
        self.pre_race = pre_race
        rf, fr, co = self.rf, self.fr, self.co
        ok = True
        for i in range(n):
            p = pre_race[i]
            if not p:
                continue
            bit = 1 << i
            for j in _bits(p & rf[i]):
                if self._row("rwx", j) & bit:
                    ok = False
            for j in _bits(p & fr[i]):
                if self._row("wrv", j) & bit:
                    ok = False
            for j in _bits(p & co[i]):
                if self._row("wwv", j) & bit:
                    ok = False
            if not ok:
                break
        self._plain = ok

    def _xbs(self, x: int) -> int:
        """x ; xb*"""
        t = self.xbstar
        acc = 0
        while x:
            low = x & -x
            acc |= t[low.bit_length() - 1]
            x = (x ^ low) & ~acc
        return acc

    @staticmethod
    def _join(x: int, rows: Rel) -> int:
        acc = 0
        while x:
            low = x & -x
            acc |= rows[low.bit_length() - 1]
            x ^= low
        return acc

    def _pre(self, x: int, rows: Rel) -> int:
        """x ; w_pre  or  x ; r_pre (``rows``: their non-identity part)"""
        x &= self.Marked
        return x | self._join(x, rows)

    def _vis_row(self, i: int) -> int:
        """vis = cumul* ; rfe? ; [Marked] ; ((strong2 ; [Marked] ; xb*) | (xb* & int))"""
        got = self._vis.get(i)
        if got is not None:
            return got
        ys = self._y
        acc = 0
        for j in _bits(self.cumul_rfe[i]):
            y = ys.get(j)
            if y is None:
                y = ys[j] = self._xbs(self.strong2[j] & self.Marked) | (self.xbstar[j] & self.int_[j])
            acc |= y
        self._vis[i] = acc
        return acc

    def _row(self, name: str, i: int) -> int:
        """Row ``i`` of ww-vis ("wwv"), wr-vis ("wrv") or rw-xbstar ("rwx")."""
        key = (name, i)
        got = self._rows.get(key)
        if got is not None:
            return got
        fence2, Marked = self._fence2, self.Marked
        if name == "rwx":
            # rw-xbstar = fence2 | r_post ; xb* ; w_pre, r_post = (nonrw | [~Noreturn] ;
            # fencerel(Rmb) ; [R4rmb])? ; [Marked]
            r_post = self.nonrw[i] | (1 << i)
            if not self.Noreturn >> i & 1:
                r_post |= self.rmb_raw[i] & self.R & ~self.Noreturn
            row = fence2[i] | self._pre(self._xbs(r_post & Marked), self._wpre1)
        else:
            pre = self._wpre1 if name == "wwv" else self._rpre1
            # w_post = (fence2? ; [Marked]) ; rmwseq
            w_post = (fence2[i] | (1 << i)) & Marked
            w_post |= self._join(w_post, self.rmw_plus)
            v = 0
            for k in _bits(w_post):
                v |= self._vis_row(k)
            row = fence2[i] | self._pre(self._xbs(self.strong2[i]), pre) | self._pre(v, pre)
        self._rows[key] = row
        return row

    @property
    def plain_ok(self) -> bool:
        """Plain accesses do not contradict the order that bounds them (LKMM's plain-coherence:
        the wr-, rw- and ww-incoh relations are empty)."""
        if not self.Plain:
            return True
        if self._plain is None:
            self._build_plain()
        assert self._plain is not None
        return self._plain

    @property
    def races(self) -> list[tuple[int, int]]:
        """The pairs (by index) that race, herd's ``Flag data-race``, in index order."""
        if not self.Plain:
            return []
        if self._plain is None:
            self._build_plain()
        W, Marked = self.W, self.Marked
        rf, fr, co = self.rf, self.fr, self.co
        out: list[tuple[int, int]] = []
        for i, p in enumerate(self.pre_race):
            if not p:
                continue
            bit = 1 << i
            race = 0
            for j in _bits(p & co[i]):  # ww-race: co minus ww-nonrace
                jb = 1 << j
                ok = (bool(self._row("wwv", i) & jb)
                      and bool((Marked & bit and W & jb) or self._row("rwx", i) & jb)
                      and bool((W & bit and Marked & jb) or self._row("wrv", i) & jb))
                if not ok:
                    race |= jb
            corf = rf[i] | self._join(co[i], rf)
            for j in _bits(p & corf):  # wr-race: (co? ; rf) minus wr-vis minus rw-xbstar^-1
                jb = 1 << j
                if not self._row("wrv", i) & jb and not self._row("rwx", j) & bit:
                    race |= jb
            for j in _bits(p & fr[i]):  # rw-race: fr minus rw-xbstar
                if not self._row("rwx", i) & (1 << j):
                    race |= 1 << j
            out.extend((i, j) for j in _bits(race))
        return out

    @property
    def mixed(self) -> list[tuple[int, int]]:
        """herd's flag mixed-accesses: a plain write and a marked access of one location in one
        thread with no barrier (of any kind, compiler barriers included) between them."""
        if not self.Plain:
            return []
        n, po, po_loc, M, Plain, Marked = self.n, self.po, self.po_loc, self.M, self.Plain, self.Marked
        Acq, Rel_, fences = self.Acq, self.Rel_, self.fences
        # (the Mb set is also the accesses of fully ordered RMWs, which LKMM tags Mb: fencerel(Mb)
        # puts them between two accesses like an smp_mb())
        barrier_ev = Acq | Rel_ | self.Mb
        for k in ("Barrier", "Rmb", "Wmb", "Mb", "Sync-rcu", "Sync-srcu", "Before-atomic", "After-atomic",
                  "Rcu-lock", "Rcu-unlock"):
            barrier_ev |= fences[k]
        barrier_ev |= self.SL | self.SU
        fb = self.fencerel(barrier_ev)
        PW = Plain & self.W
        out: list[tuple[int, int]] = []
        for i in range(n):
            b = 1 << i
            if not M & b:
                continue
            barrier = fb[i] | (po[i] & Rel_) | (po[i] if Acq & b else 0)
            nb = po_loc[i] & ~barrier
            row = 0
            if PW & b:
                row |= nb & Marked
            if Marked & b:
                row |= nb & PW
            out.extend((i, j) for j in _bits(row))
        return out

    @property
    def consistent(self) -> bool:
        return (self.coherence_ok and self.atomic_ok and self.hb_ok and self.pb_ok and self.rcu_ok
                and self.plain_ok)

    def prefix_consistent_but_plain(self) -> bool:
        """The axioms but plain-coherence, in the order that rejects a growing graph soonest
        for least work (plain-coherence would come last: it needs xb*, hence pb and rb, built
        whole; :meth:`LKMM.prefix_consistent` decides when to ask it)."""
        # (hb first: it rejects most graphs the explorer asks about, cheaply -- see hb_ok -- and
        # every graph that fails coherence in the KVM scenarios fails hb as well)
        return self.hb_ok and self.coherence_ok and self.atomic_ok and self.pb_ok and self.rcu_ok

    @property
    def xb(self) -> Rel:
        """hb | pb | rb"""
        if self._rcu is None:
            self._build_rcu()
        if self._xb is None:
            self._xb = [a | b for a, b in zip(self.hb, self.pb, strict=True)]  # (no rb)
        return self._xb

    @property
    def rcu_fence(self) -> Rel:
        """po ; rcu-order ; po?"""
        if self._rcu is None:
            self._build_rcu()
        return self._rcu_fence

    @property
    def fence2(self) -> Rel:
        """The fences (incl. the rcu fence) between any two accesses, plain or marked: how a plain
        access is bounded by marked ones (object_order)."""
        if self._rcu is None:
            self._build_rcu()
        return self._fence2

    def failed_axioms(self) -> list[str]:
        names = [("coherence", self.coherence_ok), ("atomic", self.atomic_ok), ("happens-before", self.hb_ok),
                 ("propagation", self.pb_ok), ("rcu", self.rcu_ok), ("plain-coherence", self.plain_ok)]
        return [n for n, ok in names if not ok]


def rfi_after(data: Rel, rfi: Rel) -> Rel:
    """data ; rfi: a value stored and read back by the same thread carries its dependencies."""
    return seq(data, rfi)


def loc_coherent(g: Graph, loc: int) -> bool:
    """acyclic(po-loc | rf | co | fr) on the events of one location (any graph: in a
    load-buffering one a new event need not be the last of its thread)."""
    co = g.co.get(loc)
    if co is None:
        return True
    evs = list(co) + list(g.loc_reads.get(loc, ()))
    index = {id(e): i for i, e in enumerate(evs)}
    succ: list[list[int]] = [[] for _ in evs]
    for i in range(len(co) - 1):
        succ[i].append(i + 1)
    for e in evs:
        if e.kind == GR:
            i = index[id(e)]
            w = e.rf
            assert w is not None
            j = index[id(w)]
            succ[j].append(i)
            k = co.index(w) + 1
            if k < len(co):
                succ[i].append(k)
    by_thread = sorted((e.tid, e.idx, index[id(e)]) for e in evs if e.tid >= 0)
    for (t1, _, i), (t2, _, j) in zip(by_thread, by_thread[1:], strict=False):
        if t1 == t2:
            succ[i].append(j)
    indeg = [0] * len(evs)
    for s in succ:
        for j in s:
            indeg[j] += 1
    todo = [i for i, d in enumerate(indeg) if d == 0]
    seen = 0
    while todo:
        i = todo.pop()
        seen += 1
        for j in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                todo.append(j)
    return seen == len(evs)


#: what LKMM.prefix_consistent knows of a graph: nothing yet, that it fails an axiom, that it
#: passes every axiom but plain-coherence (not asked yet), that it passes every one
_VERDICT_NEW, _VERDICT_FAILS, _VERDICT_BUT_PLAIN, _VERDICT_HOLDS = range(4)
#: how many graphs' verdicts are kept (a few MB; 0 keeps none)
_VERDICTS_KEPT = 1 << 18


class LKMM(MemoryModel):
    """The Linux-kernel memory model (``tools/memory-model``), with dependencies."""

    name = "lkmm"
    alpha = False
    #: the explorer asks for dependencies and the kernel layer emits LKMM's own events
    tracks_deps = True
    lkmm_events = True
    load_buffering = True
    #: the full check runs on finished executions (see the module docstring)
    check_when_complete = True
    #: (most reads-from choices of a KVM model make an hb or pb cycle: pruned at once instead
    #: of after the threads have run to their ends)
    prune_choices = True

    def read_ok(self, g: Graph, r: Ev) -> bool:
        return loc_coherent(g, r.loc)

    def write_ok(self, g: Graph, w: Ev) -> bool:
        return loc_coherent(g, w.loc)

    def ordered_after(self, a: Ev, evs: list[Ev]) -> list[Ev]:
        return []

    def ordered_before(self, b: Ev, evs: list[Ev]) -> list[Ev]:
        return []

    def __init__(self) -> None:
        self._last: tuple[Graph, tuple[object, ...], Relations] | None = None
        #: each thread's own relations by its events (see _Thread)
        self._threads = RelationsCache()
        #: prefix checks that passed the other axioms, how many of them plain-coherence was asked
        #: of, and how many it rejected (see prefix_consistent)
        self._plain_calls = 0
        self._plain_asks = 0
        self._plain_hits = 0
        #: what prefix_consistent learnt of each graph it was asked, by the hash of the graph's
        #: name and thread paths (see _VERDICT_*): bounded, emptied when full
        self._verdicts: dict[int, int] = {}

    def relations(self, g: Graph, name: tuple[object, ...] | None = None) -> Relations:
        """The relations of ``g``, whose :func:`_graph_name` is ``name`` if given (the last
        graph's are kept: the explorer asks for the axioms, then the races, of one finished
        execution)."""
        if name is None:
            name = _graph_name(g)
        last = self._last
        if last is not None and last[0] is g and last[1] == name:
            return last[2]
        rel = Relations(g, self.alpha, self._threads)
        self._last = (g, name, rel)
        return rel

    def consistent(self, g: Graph) -> bool:
        return self.relations(g).consistent

    def hb_ahead(self, g: Graph, r: Ev) -> set[int]:
        """Some of the marked events that marked read ``r`` happens before in ``g`` (by ``id``):
        those reached from it by acq-po, po-rel, smp_mb() and rfe, parts of hb.  A write among
        them is one ``r`` cannot read: its rfe edge would close an hb cycle.  (Cheap, and only
        ever fewer than hb gives: the explorer uses it to reject such choices of a read made in
        a load-buffering graph's gap, which has kept events after it, without building the
        graph's relations.)"""
        out: set[int] = set()
        threads = g.threads
        stack: list[Ev] = []

        def reach(x: Ev) -> None:
            # x is marked and reached: what hb's parts above add from it
            evs = threads[x.tid]
            all_after = x.kind == GR and x.mode == ACQUIRE and (not x.rmw or x.wr is not None)
            for y in evs[x.idx + 1:]:
                if y is None:
                    continue
                if y.kind == GF:
                    if y.mode == "mb":
                        all_after = True
                    continue
                if y.kind > GW or (y.mode == PLAIN and not y.rmw):
                    continue
                if all_after or (y.kind == GW and y.mode == RELEASE):
                    if id(y) not in out:
                        out.add(id(y))
                        stack.append(y)
            if x.kind == GW:
                for rd in x.readers or ():
                    if rd.tid != x.tid and (rd.mode != PLAIN or rd.rmw) and id(rd) not in out:
                        out.add(id(rd))
                        stack.append(rd)

        reach(r)
        while stack:
            reach(stack.pop())
        return out

    def prefix_consistent(self, g: Graph) -> bool:
        # The explorer asks the same graph again and again: each state a load-buffering revisit
        # makes is explored once, but states that differ only in the search's own flags make
        # the same graphs (large-spte zap/allow, complete search: 9,121 questions about 2,370
        # graphs).  The relations are a function of _graph_name, so a verdict is kept by it
        # (hashed: one word a graph).
        name = _graph_name(g)
        key = hash(name)
        verdicts = self._verdicts
        known = verdicts.get(key, _VERDICT_NEW)
        if known == _VERDICT_FAILS:
            return False
        if known == _VERDICT_HOLDS:
            return True
        rel: Relations | None = None
        if known == _VERDICT_NEW:
            rel = self.relations(g, name)
            if not rel.prefix_consistent_but_plain():
                self._remember(key, _VERDICT_FAILS)
                return False
            self._remember(key, _VERDICT_BUT_PLAIN)
        # Plain-coherence needs xb* (pb and rb built whole).  Where it rejects graphs it saves
        # running them to their ends (large-spte readonly/forbid: 59 s -> 9 s); where it never
        # does it only costs (mark-order: 13%).  So it is asked while it rejects at least one
        # graph in 32, and of every 16th graph otherwise (to notice when it starts to).  Either
        # way the finished execution is checked in full: this decides speed, never results,
        # and the same run asks the same graphs.
        self._plain_calls += 1
        if self._plain_hits * 32 >= self._plain_asks or self._plain_calls % 16 == 0:
            self._plain_asks += 1
            if rel is None:
                rel = self.relations(g, name)
            if not rel.plain_ok:
                self._plain_hits += 1
                self._remember(key, _VERDICT_FAILS)
                return False
            self._remember(key, _VERDICT_HOLDS)
        return True

    def _remember(self, key: int, verdict: int) -> None:
        if len(self._verdicts) >= _VERDICTS_KEPT:
            self._verdicts.clear()
            if not _VERDICTS_KEPT:
                return
        self._verdicts[key] = verdict

    def data_races(self, g: Graph) -> list[tuple[Ev, Ev]]:
        """The pairs of accesses that race (herd's ``Flag data-race``)."""
        rel = self.relations(g)
        return [(rel.evs[i], rel.evs[j]) for i, j in rel.races]

    def object_order(self, g: Graph) -> Callable[[Ev, Ev], bool]:
        """``before(a, b)``: whether access ``a`` executes before ``b`` in every run of a machine
        that gives this graph, for accesses that may be plain (what the slab layer's
        use-after-free check asks of an access and a free or an allocation).  LKMM orders plain
        accesses only through the marked ones that bound them: ``a`` is bounded by a marked ``x``
        (``a`` itself if marked, or a fence between them), ``x`` reaches a marked ``y`` by
        (hb | pb | rb | rcu-fence)*, as in :meth:`executes_before`, and ``y`` bounds ``b``
        (``b`` itself, or a fence or an address dependency from ``y`` to ``b``).  Program order
        alone orders nothing."""
        rel = self.relations(g)
        marked = rel.Marked_mask
        xbs = opt(rel.xb_rcu_plus())
        fence2, addr = rel.fence2, rel.addr
        index = rel.index
        # A slab check asks many pairs of one graph, in two patterns: many accesses against one
        # free (``before(e, f)``), and one allocation against many accesses (``before(a, e)``).
        # A pair asked first is decided from what ``a`` reaches and the marked events that bound
        # ``b`` (inverting fence2 | addr whole cost more than all the questions of a KVM
        # execution); an ``a`` asked again gets everything it is before (the events its reach
        # bounds), a ``b`` asked again the marked events that reach a bound of it, and each
        # later question about them is one AND (spt-reuse-aba under LKMM spent a third of its
        # time answering them one marked event at a time).
        reaches: dict[int, int] = {}
        bounded: dict[int, int] = {}
        # (an event asked before has its entry in ``reaches`` or ``bounded``)
        downs: dict[int, int] = {}
        ups: dict[int, int] = {}

        def reach_of(i: int) -> int:
            reach = reaches.get(i)
            if reach is None:
                reach = 0
                for x in _bits((fence2[i] | (1 << i)) & marked):
                    reach |= xbs[x]
                reaches[i] = reach
            return reach

        def bounds_of(j: int) -> int:
            bounds = bounded.get(j)
            if bounds is None:
                bounds = (1 << j) & marked
                m = marked
                while m:
                    low = m & -m
                    if (fence2[low.bit_length() - 1] | addr[low.bit_length() - 1]) >> j & 1:
                        bounds |= low
                    m ^= low
                bounded[j] = bounds
            return bounds

        def before(a: Ev, b: Ev) -> bool:
            i, j = index.get(id(a)), index.get(id(b))
            if i is None or j is None:
                return False
            down = downs.get(i)
            if down is not None:
                return bool(down >> j & 1)
            up = ups.get(j)
            if up is not None:
                return bool((fence2[i] | (1 << i)) & up)
            if i in reaches:
                # b is in down(a) iff some marked y that a reaches is b or bounds b
                down = 0
                for y in _bits(reach_of(i) & marked):
                    down |= (1 << y) | fence2[y] | addr[y]
                downs[i] = down
                return bool(down >> j & 1)
            if j in bounded:
                # a bounded by some marked x in up(b) iff x reaches a marked bound of b
                bounds = bounds_of(j)
                up = 0
                m = marked
                while m:
                    low = m & -m
                    if xbs[low.bit_length() - 1] & bounds:
                        up |= low
                    m ^= low
                ups[j] = up
                return bool((fence2[i] | (1 << i)) & up)
            return bool(reach_of(i) & bounds_of(j))

        return before

    def srcu_flags(self, g: Graph) -> list[str]:
        """linux-kernel.bell's SRCU flags raised by ``g``: ``unmatched-srcu-lock``,
        ``unmatched-srcu-unlock``, ``multiple-srcu-matches``, ``srcu-bad-value-match``, and
        ``invalid-sleep`` (synchronize_srcu() inside an RCU read-side critical section)."""
        rel = self.relations(g)
        sl, su = rel.SL, rel.SU
        sync = rel.fences["Sync-srcu"]
        if not (sl or su or sync):
            return []
        out = []
        rscs, _ = rel._srcu_rscs()
        locks = unlocks = 0
        for i, row in enumerate(rscs):
            if row:
                locks |= 1 << i
                unlocks |= row
        if sl & ~locks:
            out.append("unmatched-srcu-lock")
        if su & ~unlocks:
            out.append("unmatched-srcu-unlock")
        if any(row & (row - 1) for row in rscs):  # ((srcu-rscs^-1 ; srcu-rscs) \ id: a lock with two unlocks)
            out.append("multiple-srcu-matches")
        evs = rel.evs
        if any(evs[i].rf is not None and evs[i].rf.val != evs[j].val  # type: ignore[union-attr]
               for i, row in enumerate(rscs) for j in _bits(row)):
            out.append("srcu-bad-value-match")
        # rcu-rscs & (po ; [Sync-srcu] ; po): a grace period of SRCU inside an RCU section
        if sync and any(rel.po[i] & sync & ~rel.po[_bits(row)[0]] for i, row in enumerate(rel._rcu_rscs()) if row):
            out.append("invalid-sleep")
        return out

    def mixed_accesses(self, g: Graph) -> list[tuple[Ev, Ev]]:
        """Plain writes and marked accesses of one location in one thread with no barrier
        between (herd's ``Flag mixed-accesses``)."""
        rel = self.relations(g)
        return [(rel.evs[i], rel.evs[j]) for i, j in rel.mixed]

    def executes_before(self, g: Graph) -> tuple[dict[int, int], list[int]]:
        """(index by id, rows) of (hb | pb | rb | rcu-fence)+ over the graph's events: what
        executed before what in every run of a machine that gives this graph (LKMM's
        executes-before, with RCU's guarantee that a read-side critical section that began
        before a grace period ended before it: the order library checks such as
        use-after-free ask for)."""
        rel = self.relations(g)
        return rel.index, rel.xb_rcu_plus()


class LKMMAlpha(LKMM):
    """LKMM before ``READ_ONCE()`` ordered dependent loads (Linux < 4.15, Alpha): only
    ``rcu_dereference()`` and acquire loads order the reads that depend on them."""

    name = "lkmm-alpha"
    alpha = True


__all__ = ["LKMM", "LKMMAlpha", "Relations"]
