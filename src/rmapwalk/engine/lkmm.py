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
(:meth:`read_ok`/:meth:`write_ok`, exact for that axiom) and asks :meth:`consistent` of each
finished execution; every axiom is monotone in the graph, so a graph found inconsistent would
stay so however it is extended, and nothing is lost by asking late.
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
}

#: non-value-returning RMWs: their reads are Noreturn (smp_rmb does not order them)
NORETURN_LABELS = frozenset({
    "atomic_add", "atomic_sub", "atomic_inc", "atomic_dec", "atomic_and", "atomic_or",
    "atomic_xor", "atomic_andnot", "set_bit", "clear_bit", "change_bit",
})
LOCK_LABELS = frozenset({"spin_lock", "spin_trylock"})
UNLOCK_LABELS = frozenset({"spin_unlock"})


# -- relations as rows of bitsets --------------------------------------------------------------
def _bits(x: int) -> list[int]:
    out = []
    while x:
        low = x & -x
        out.append(low.bit_length() - 1)
        x ^= low
    return out


def seq(a: Rel, b: Rel) -> Rel:
    out = []
    for row in a:
        acc = 0
        while row:
            low = row & -row
            acc |= b[low.bit_length() - 1]
            row ^= low
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
        for j in _bits(row):
            out[j] |= bit
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


def plus(a: Rel) -> Rel:
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


def star(a: Rel) -> Rel:
    return opt(plus(a))


def acyclic(a: Rel) -> bool:
    n = len(a)
    indeg = [0] * n
    for row in a:
        for j in _bits(row):
            indeg[j] += 1
    todo = [i for i in range(n) if indeg[i] == 0]
    seen = 0
    while todo:
        i = todo.pop()
        seen += 1
        for j in _bits(a[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                todo.append(j)
    return seen == n


def irreflexive(a: Rel) -> bool:
    return not any(row >> i & 1 for i, row in enumerate(a))


def empty(a: Rel) -> bool:
    return not any(a)


def cross(s: int, t: int, n: int) -> Rel:
    return [t if s >> i & 1 else 0 for i in range(n)]


class Relations:
    """Every LKMM relation of one graph that the axioms and the race check need."""

    def __init__(self, g: Graph, alpha: bool = False) -> None:
        evs: list[Ev] = [co[0] for co in g.co.values()]
        threads = _closed_threads(g)
        for t in threads:
            evs.extend(t)
        self.evs = evs
        n = self.n = len(evs)
        index = {id(e): i for i, e in enumerate(evs)}
        self.index = index
        bit = [1 << i for i in range(n)]

        R = W = F = IW = Plain = Acq = Rel_ = Mb = Noreturn = RMWs = LKR = LKW = UL = Consume = 0
        fences: dict[str, int] = {k: 0 for k in F_KINDS.values()}
        loc_of: dict[int, int] = {}
        for i, e in enumerate(evs):
            b = bit[i]
            if e.kind == GF:
                F |= b
                k = F_KINDS.get(e.mode)
                if k is not None:
                    fences[k] |= b
                continue
            loc_of[e.loc] = loc_of.get(e.loc, 0) | b
            if e.tid < 0:
                IW |= b
                W |= b
                continue
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
            if e.rmw:
                RMWs |= b
                if ok_rmw and e.mode == MB:
                    Mb |= b
            elif e.mode == PLAIN:
                Plain |= b
        M = R | W
        Marked = ((1 << n) - 1) & ~Plain
        self.R, self.W, self.M, self.IW, self.Plain, self.Marked = R, W, M, IW, Plain, Marked
        self.Noreturn = Noreturn

        # program order, same-thread and same-location masks
        po = [0] * n
        intm = [0] * n
        after_in_thread: dict[int, int] = {}
        for t in threads:
            idxs = [index[id(e)] for e in t]
            acc = 0
            for i in reversed(idxs):
                po[i] = acc
                after_in_thread[i] = acc
                acc |= bit[i]
            for i in idxs:
                intm[i] = acc
        self.po = po
        loc = [0] * n
        for mask in loc_of.values():
            for i in _bits(mask):
                loc[i] = mask
        int_ = intm
        ext = [(M & ~intm[i]) if M >> i & 1 else 0 for i in range(n)]
        self.int_, self.ext = int_, ext
        po_loc = [po[i] & loc[i] & M if M >> i & 1 else 0 for i in range(n)]

        # reads-from, coherence, from-reads, rmw
        rf = [0] * n
        co = [0] * n
        rmw = [0] * n
        for cl in g.co.values():
            later = 0
            for w in reversed(cl):
                i = index[id(w)]
                co[i] = later
                later |= bit[i]
                for r in w.readers or ():
                    j = index.get(id(r))
                    if j is not None:
                        rf[i] |= bit[j]
        for t in g.threads:
            for e in t:
                if e is not None and e.kind == GR and e.rmw and e.wr is not None:
                    rmw[index[id(e)]] = bit[index[id(e.wr)]]
        fr = seq(inv(rf), co)
        self.rf, self.co, self.fr = rf, co, fr
        rfe = inter(rf, ext)
        rfi = inter(rf, int_)
        self.rfe = rfe

        # dependencies (addr, data, ctrl) from the behaviour nodes
        addr = [0] * n
        data = [0] * n
        ctrl = [0] * n
        for t in g.threads:
            by_depth: dict[int, int] = {}
            for e in t:
                if e is not None and e.kind == GR and e.node is not None:
                    by_depth[e.node.depth] = index[id(e)]
            for e in t:
                node = e.node if e is not None else None
                if node is None or e.kind > GW or node.deps is None:
                    continue
                a_d, d_d, c_d = node.deps
                j = bit[index[id(e)]]
                for d in a_d:
                    s = by_depth.get(d)
                    if s is not None:
                        addr[s] |= j
                if e.kind == GW:
                    for d in d_d:
                        s = by_depth.get(d)
                        if s is not None:
                            data[s] |= j
                for d in c_d:
                    s = by_depth.get(d)
                    if s is not None:
                        ctrl[s] |= j
        carry = star(rfi_after(data, rfi))
        addr = seq(carry, addr)
        ctrl = seq(carry, ctrl)
        data = seq(carry, data)
        self.addr = addr

        # fencerel(S): a -> b with an S event po-between them
        def fencerel(s: int) -> Rel:
            out = [0] * n
            for i in range(n):
                row = po[i] & s
                if row:
                    first = row & -row
                    out[i] = after_in_thread.get(first.bit_length() - 1, 0)
            return out

        def fr_of(name: str) -> Rel:
            return fencerel(fences[name])

        # -- basic relations ---------------------------------------------------------------
        acq_po = rng(dom(Acq, po), M)
        po_rel = rng(dom(M, po), Rel_)
        pulp = seqs(rng(po, UL), rng(union(po, rf), LKR), po)
        R4rmb = R & ~Noreturn
        rmb = rng(dom(R4rmb, fr_of("Rmb")), R4rmb)
        wmb = rng(dom(W, fr_of("Wmb")), W)
        po_opt = opt(po)
        mb = union(
            rng(dom(M, fr_of("Mb")), M),
            rng(dom(M, po), Mb & R),
            rng(dom(Mb & W, po), M),
            rng(seqs(rng(dom(M, fr_of("Before-atomic")), RMWs), po_opt), M),
            rng(seqs(rng(dom(M, po_opt), RMWs), fr_of("After-atomic")), M),
            rng(seqs(rng(dom(M, po_opt), LKW), fr_of("After-spinlock")), M),
            rng(seqs(rng(dom(M, pulp), fences["After-unlock-lock"]), po), M),
        )
        gp = seq(rng(po, fences["Sync-rcu"]), po_opt)
        strong = union(mb, gp)
        nonrw = union(strong, po_rel, acq_po)
        fence = union(nonrw, wmb, rmb)
        self.rmb_raw = fr_of("Rmb")

        # -- coherence and atomicity -------------------------------------------------------
        self.coherence_ok = acyclic(union(po_loc, rf, co, fr))
        fre = inter(fr, ext)
        coe = inter(co, ext)
        self.atomic_ok = empty(inter(rmw, seq(fre, coe)))

        # -- preserved program order, happens-before ---------------------------------------
        dep = union(addr, data)
        rwdep = rng(union(dep, ctrl), W)
        overwrite = union(co, fr)
        to_w = union(rwdep, inter(overwrite, int_), seq(rng(addr, Plain), wmb))
        addr_r = rng(addr, R)
        if alpha:
            # before 4.15, only rcu_dereference() (and acquire) kept a dependent read in order
            addr_r = dom(Consume | Acq, addr_r)
        to_r = union(addr_r, seq(rng(dep, Marked), rfi))
        ppo = union(to_r, to_w, inter(fence, int_), inter(pulp, int_))
        rmwseq = star(seq(rf, rmw))

        def a_cumul(r: Rel) -> Rel:
            return union(r, seq(rng(rfe, Marked), r))

        cumul = seqs(dom(Marked, rng(union(a_cumul(union(strong, po_rel)), wmb, pulp), Marked)), rmwseq)
        prop = rng(seqs(dom(Marked, opt(inter(overwrite, ext))), star(cumul), rng(opt(rfe), Marked)), Marked)
        prop = dom(Marked, prop)
        prop_noid = [row & ~(1 << i) for i, row in enumerate(prop)]
        hb = dom(Marked, rng(union(ppo, rfe, inter(prop_noid, int_)), Marked))
        self.hb_ok = acyclic(hb)
        hb_star = star(hb)
        pb = rng(seqs(prop, strong, hb_star), Marked)
        self.pb_ok = acyclic(pb)

        # -- RCU ----------------------------------------------------------------------------
        rscs = [0] * n
        for t in threads:
            stack: list[int] = []
            for e in t:
                if e.kind != GF:
                    continue
                i = index[id(e)]
                if e.mode == "rcu-lock":
                    stack.append(i)
                elif e.mode == "rcu-unlock" and stack:
                    rscs[stack.pop()] |= bit[i]
        rscsi = inv(rscs)
        gp_id = ident(n, fences["Sync-rcu"])
        pb_star = star(pb)
        link = seqs(po_opt, hb_star, pb_star, prop, po)
        order = gp_id
        if fences["Sync-rcu"] and any(rscs):
            base = union(gp_id, seqs(gp_id, link, rscsi), seqs(rscsi, link, gp_id))
            order = base
            while True:
                new = union(base,
                            seqs(gp_id, link, order, link, rscsi),
                            seqs(rscsi, link, order, link, gp_id),
                            seqs(order, link, order))
                if new == order:
                    break
                order = new
        rcu_fence = seq(po, seq(order, po_opt)) if fences["Sync-rcu"] else [0] * n
        rb = rng(seqs(prop, rcu_fence, hb_star, pb_star), Marked)
        self.rcu_ok = irreflexive(rb)
        fence2 = union(fence, rcu_fence)
        strong2 = union(strong, rcu_fence)
        self.xb = union(hb, pb, rb)
        self.rcu_fence = rcu_fence
        #: the fences (incl. the rcu fence) between any two accesses, plain or marked: how a plain
        #: access is bounded by marked ones (object_order)
        self.fence2 = fence2
        self.Marked_mask = Marked

        # -- plain accesses ----------------------------------------------------------------
        self.plain_ok = True
        self.races: list[tuple[int, int]] = []
        self.mixed: list[tuple[int, int]] = []
        if not Plain:
            return
        # herd's flag mixed-accesses: a plain write and a marked access of one location in one
        # thread with no barrier (of any kind, compiler barriers included) between them
        barrier_ev = Acq | Rel_
        for k in ("Barrier", "Rmb", "Wmb", "Mb", "Sync-rcu", "Before-atomic", "After-atomic", "Rcu-lock",
                  "Rcu-unlock"):
            barrier_ev |= fences[k]
        barrier = union(fencerel(barrier_ev), rng(po, Rel_), dom(Acq, po))
        po_loc_nb = diff(po_loc, barrier)
        mixed = union(rng(dom(Plain & W, po_loc_nb), Marked), rng(dom(Marked, po_loc_nb), Plain & W))
        self.mixed = [(i, j) for i, row in enumerate(mixed) for j in _bits(row)]
        xbstar = star(self.xb)
        vis = seqs(star(cumul), rng(opt(rfe), Marked),
                   union(seqs(rng(strong2, Marked), xbstar), inter(xbstar, int_)))
        w_pre = dom(Marked, opt(union(addr, fence2)))
        r_pre = dom(Marked, opt(union(addr, nonrw, rng(dom(R4rmb, fr_of("Rmb")), ~Noreturn))))
        w_post = seqs(rng(opt(fence2), Marked), rmwseq)
        r_post = rng(opt(union(nonrw, rng(dom(~Noreturn, fr_of("Rmb")), R4rmb))), Marked)
        ww_vis = union(fence2, seqs(strong2, xbstar, w_pre), seqs(w_post, vis, w_pre))
        wr_vis = union(fence2, seqs(strong2, xbstar, r_pre), seqs(w_post, vis, r_pre))
        rw_xbstar = union(fence2, seqs(r_post, xbstar, w_pre))
        pre_race = inter(ext, union(cross(Plain, M, n), cross(M & ~IW, Plain, n)))
        wr_incoh = inter(inter(pre_race, rf), inv(rw_xbstar))
        rw_incoh = inter(inter(pre_race, fr), inv(wr_vis))
        ww_incoh = inter(inter(pre_race, co), inv(ww_vis))
        self.plain_ok = empty(union(wr_incoh, rw_incoh, ww_incoh))
        ww_nonrace = inter(inter(ww_vis, union(cross(Marked, W, n), rw_xbstar)),
                           union(cross(W, Marked, n), wr_vis))
        ww_race = diff(inter(pre_race, co), ww_nonrace)
        wr_race = diff(diff(inter(pre_race, seq(opt(co), rf)), wr_vis), inv(rw_xbstar))
        rw_race = diff(inter(pre_race, fr), rw_xbstar)
        race = union(ww_race, wr_race, rw_race)
        self.races = [(i, j) for i, row in enumerate(race) for j in _bits(row)]

    @property
    def consistent(self) -> bool:
        return (self.coherence_ok and self.atomic_ok and self.hb_ok and self.pb_ok and self.rcu_ok
                and self.plain_ok)

    def failed_axioms(self) -> list[str]:
        names = [("coherence", self.coherence_ok), ("atomic", self.atomic_ok), ("happens-before", self.hb_ok),
                 ("propagation", self.pb_ok), ("rcu", self.rcu_ok), ("plain-coherence", self.plain_ok)]
        return [n for n, ok in names if not ok]


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


class LKMM(MemoryModel):
    """The Linux-kernel memory model (``tools/memory-model``), with dependencies."""

    name = "lkmm"
    alpha = False
    #: the explorer asks for dependencies and the kernel layer emits LKMM's own events
    tracks_deps = True
    load_buffering = True
    #: the full check runs on finished executions (see the module docstring)
    check_when_complete = True

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

    def relations(self, g: Graph) -> Relations:
        """The relations of ``g`` (the last graph's are kept: the explorer asks for the
        axioms, then the races, of one finished execution)."""
        # (the nodes too: a load-buffering graph keeps its reads-from and coherence while the
        # thread paths, and so the dependencies, of kept events change)
        key = (g.key(), g.next_stamp, tuple(id(e.node) for evs in g.threads for e in evs if e is not None))
        last = self._last
        if last is not None and last[0] is g and last[1] == key:
            return last[2]
        rel = Relations(g, self.alpha)
        self._last = (g, key, rel)
        return rel

    def consistent(self, g: Graph) -> bool:
        return self.relations(g).consistent

    def prefix_consistent(self, g: Graph) -> bool:
        # plain-coherence is not monotone (a later fence or marked access can bound a plain one):
        # only the other axioms may judge a graph that is still growing
        rel = self.relations(g)
        return rel.coherence_ok and rel.atomic_ok and rel.hb_ok and rel.pb_ok and rel.rcu_ok

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
        xbs = star(union(rel.xb, rel.rcu_fence))
        fence2, addr = rel.fence2, rel.addr
        pre = inv(union(fence2, addr))
        index = rel.index

        def before(a: Ev, b: Ev) -> bool:
            i, j = index.get(id(a)), index.get(id(b))
            if i is None or j is None:
                return False
            post = (fence2[i] & marked) | ((1 << i) & marked)
            reach = 0
            for x in _bits(post):
                reach |= xbs[x]
            bounds = (pre[j] & marked) | ((1 << j) & marked)
            return bool(reach & bounds)

        return before

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
        return rel.index, plus(union(rel.xb, rel.rcu_fence))


class LKMMAlpha(LKMM):
    """LKMM before ``READ_ONCE()`` ordered dependent loads (Linux < 4.15, Alpha): only
    ``rcu_dereference()`` and acquire loads order the reads that depend on them."""

    name = "lkmm-alpha"
    alpha = True


__all__ = ["LKMM", "LKMMAlpha", "Relations"]
