"""Running a C litmus test on the project's own exhaustive engine (models sc, tso, pso, weak).

``to_program(test)`` turns a (macro-expanded) litmus test into an engine :class:`Program`: every
shared variable becomes a location (named after the variable, at an address far from any small
integer, so that an address and an integer never compare equal), each thread ``PN`` a thread
named ``PN`` that interprets the thread's code, calling the engine/kernel operation of the same
meaning for each core operation:

=========================================  =================================================
core operation                             engine / kernel operation
=========================================  =================================================
``r = *x`` / ``*x = v``                    ``load``/``store`` mode ``plain``
``__load{ONCE}`` / ``__store{ONCE}``       ``READ_ONCE`` / ``WRITE_ONCE`` (mode ``once``);
                                           a ``__load{ONCE}`` whose value flows (through
                                           register assignments) into an address is
                                           ``consume`` (as ``rcu_dereference``: the address
                                           dependency, which matters under ``weak``; the
                                           engine then orders every later load after it)
``__load{ACQUIRE}``/``__store{RELEASE}``   ``smp_load_acquire`` / ``smp_store_release``
``__fence{MB}``, ``{rmb}``, ``{wmb}``      ``smp_mb``, ``smp_rmb``, ``smp_wmb``
``{barrier}``                              ``barrier`` (compiler only)
``{before-atomic}``, ``{after-atomic}``,   a full fence (``smp_mb__before_atomic`` ...: in
``{after-spinlock}``,                      the kernel these are full barriers where they
``{after-unlock-lock}``,                   are not no-ops); under ``lkmm``, LKMM's own
``{after-srcu-read-unlock}``               fence events, each with its narrower meaning
``{rcu-lock}``, ``{rcu-unlock}``,          ``rcu_read_lock``, ``rcu_read_unlock``,
``{sync-rcu}``                             ``synchronize_rcu`` (:mod:`rmapwalk.kernel.rcu`)
``__xchg{T}``, ``__cmpxchg{T}``            ``xchg``/``cmpxchg`` with mode ``mb`` (T=MB),
                                           ``relaxed`` (ONCE), ``acquire``, ``release``
``__atomic_op{NORETURN}``                  ``rmw`` mode ``relaxed``, no value
``__atomic_op_return{T}``                  ``rmw`` (mode from T), returns the new value
``__atomic_fetch_op{T}``                   ``rmw`` (mode from T), returns the old value
``__atomic_add_unless{T}``                 ``rmw`` that writes nothing when the value is U
``__lock``, ``__unlock``, ``__trylock``,   ``spin_lock``, ``spin_unlock``, ``spin_trylock``,
``__islocked``                             ``spin_is_locked`` (:mod:`rmapwalk.kernel.spinlock`)
``__load{srcu-lock}``,                     SRCU.  Under ``lkmm``/``lkmm-alpha``, LKMM's own
``__store{srcu-unlock}``,                  events: a marked read of the srcu_struct (the
``__srcu{sync-srcu}``                      index), a marked write of the index back, and a
                                           grace-period event of that struct; the model pairs
                                           sections by the index's data dependency and
                                           orders them against grace periods of the same
                                           struct (``srcu-rscs``, ``rcu-order``).  Under the
                                           other models, a count of the readers of each
                                           srcu_struct: incremented (then a full fence) by
                                           ``srcu_read_lock``/``srcu_down_read``, decremented
                                           by a release RMW in ``srcu_read_unlock``/
                                           ``srcu_up_read`` (which may run on another thread);
                                           ``synchronize_srcu(s)`` is a full fence, a wait until
                                           the count of ``s`` is 0, and a full fence
                                           (``srcu_read_lock`` returns index 0)
=========================================  =================================================

The final state of a complete execution holds the registers and memory locations the
condition, the ``locations`` clause and the ``filter`` mention.  Events carry the litmus file's
line as their source position, so engine traces point into the litmus test.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine import ONCE, Program, Result, Violation
from rmapwalk.engine.deps import ctrl_region, register_library_dir, with_deps
from rmapwalk.engine.events import ACQUIRE, CONSUME, F_SYNC_RCU, F_SYNC_SRCU, MB, NO_WRITE, PLAIN, RELAXED, RELEASE
from rmapwalk.engine.explore import DEFAULT_LB_SEARCH, Explorer, Options
from rmapwalk.engine.models import get_model
from rmapwalk.engine.ops import (
    assume,
    conditional,
    constant,
    fence,
    lkmm_events,
    load,
    observe,
    program,
    rmw,
    store,
    thread_local,
    tracks_deps,
)
from rmapwalk.engine.program import Final, Loc
from rmapwalk.engine.runtime import EXCEPTION, ModelError, Violated
from rmapwalk.kernel import rcu as _rcu
from rmapwalk.kernel import spinlock as _spin
from rmapwalk.kernel.barriers import (
    barrier,
    smp_mb,
    smp_mb__after_atomic,
    smp_mb__after_spinlock,
    smp_mb__after_srcu_read_unlock,
    smp_mb__after_unlock_lock,
    smp_mb__before_atomic,
    smp_rmb,
    smp_wmb,
)
from rmapwalk.kernel.once import READ_ONCE, WRITE_ONCE, smp_load_acquire, smp_store_release
from rmapwalk.kernel.races import check_data_races
from rmapwalk.litmus.ast import (
    AddrOf,
    Assign,
    BinOp,
    Call,
    Decl,
    Deref,
    Expr,
    ExprStmt,
    If,
    Int,
    LitmusTest,
    LocMem,
    LocReg,
    Pos,
    Stmt,
    Store,
    Str,
    Thread,
    UnOp,
    Var,
    While,
)
from rmapwalk.litmus.ast import Loc as LLoc
from rmapwalk.litmus.condition import (
    Value,
    eval_prop,
    format_condition,
    format_state,
    prop_locations,
    sort_locs,
    state_sort_key,
)
from rmapwalk.litmus.macros import CORE_OPS, MacroTable, expand
from rmapwalk.litmus.parser import LitmusError, shared_names, thread_registers

__all__ = ["ENGINE_MODELS", "EngineLitmusResult", "State", "run_engine", "run_engine_result", "to_program"]

ENGINE_MODELS = ("sc", "tso", "pso", "weak", "lkmm", "lkmm-alpha")

#: a final state: (location, value) pairs in herd's order of locations
State = tuple[tuple[LLoc, Value], ...]

_RMW_MODES = {"MB": MB, "ONCE": RELAXED, "RELAXED": RELAXED, "ACQUIRE": ACQUIRE, "RELEASE": RELEASE,
              "NORETURN": RELAXED}
#: the flags of linux-kernel.cat, linux-kernel.bell and lock.cat
LKMM_FLAGS = frozenset({
    "data-race", "mixed-accesses", "unmatched-rcu-lock", "unmatched-rcu-unlock", "unmatched-srcu-lock",
    "unmatched-srcu-unlock", "multiple-srcu-matches", "invalid-sleep", "srcu-bad-value-match",
    "mixed-lock-accesses", "unpaired-LKW", "unpaired-LKR", "lock-final", "unmatched-unlock",
})
_FULL_FENCE_TAGS = {"before-atomic", "after-atomic", "after-spinlock", "after-unlock-lock"}
_ATOMIC_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "&": operator.and_, "|": operator.or_, "^": operator.xor,
    "&~": lambda a, b: a & ~b,
}


# --------------------------------------------------------------------------- source positions

_trampolines: dict[tuple[str, int, str], Callable[..., Any]] = {}


def _at(pos: Pos | None, thread: str) -> Callable[..., Any]:
    """A function ``f(op, *args)`` that calls ``op(*args)`` from a frame whose file and line are
    ``pos``: the engine records that as the source of the events ``op`` makes."""
    if pos is None or pos.line < 1:
        return _call
    key = (pos.file, pos.line, thread)
    f = _trampolines.get(key)
    if f is None:
        src = "\n" * (pos.line - 1) + f"def {thread}(_op, *_args): return _op(*_args)\n"
        ns: dict[str, Any] = {}
        exec(compile(src, pos.file, "exec"), ns)  # noqa: S102 - fixed text, positions only
        f = ns[thread]
        _trampolines[key] = f
    return f


def _call(op: Callable[..., Any], *args: Any) -> Any:
    return op(*args)


# ------------------------------------------------------------------------------------- SRCU


def _srcu_readers(lock: Loc) -> Loc:
    return program().named(f"srcu_readers[{lock.name}]")


def srcu_read_lock(lock: Loc) -> Any:
    """Enter an SRCU read-side critical section of ``lock`` (``srcu_read_lock``/``srcu_down_read``).

    Under a model with LKMM's own events, as herd's ``__load{srcu-lock}``: a marked read of the
    srcu_struct, whose value (the index) the matching unlock stores back, which is how LKMM
    pairs them (``srcu-rscs``: the unlock's data depends on the lock, through registers and
    memory), so sections of one struct need not nest.  Elsewhere, a count of the readers."""
    nest: dict[int, int] = thread_local().setdefault("srcu_nesting", {})
    nest[int(lock)] = nest.get(int(lock), 0) + 1
    if lkmm_events():
        return load(lock, ONCE, "srcu_read_lock")
    rmw(_srcu_readers(lock), lambda n: n + 1, RELAXED, "srcu_read_lock")
    fence("mb", "(srcu_read_lock: quiescent-state barrier)")
    return 0


def srcu_read_unlock(lock: Loc, idx: Any) -> None:
    """Leave it (``srcu_up_read`` may run on another thread than its ``srcu_down_read``)."""
    nest: dict[int, int] = thread_local().setdefault("srcu_nesting", {})
    nest[int(lock)] = max(0, nest.get(int(lock), 0) - 1)
    if lkmm_events():  # (herd's __store{srcu-unlock}: the index goes back to the srcu_struct)
        store(lock, idx, ONCE, "srcu_read_unlock")
        return
    rmw(_srcu_readers(lock), lambda n: n - 1, RELEASE, "srcu_read_unlock")


def synchronize_srcu(lock: Loc) -> None:
    """Wait until no SRCU read-side critical section of ``lock`` is running."""
    if lkmm_events():
        # LKMM's SRCU grace period, ordered against the sections of its struct (one inside such
        # a section raises no flag in herd7: LKMM has no execution in which it ends)
        fence(F_SYNC_SRCU, "synchronize_srcu", int(lock))
        return
    if thread_local().setdefault("srcu_nesting", {}).get(int(lock), 0):
        raise Violated("srcu misuse", f"synchronize_srcu({lock.name}) inside its own SRCU read-side critical section")
    fence("mb", "(synchronize_srcu: grace period starts)")
    n = load(_srcu_readers(lock), ONCE, "synchronize_srcu")
    assume(n == 0, f"synchronize_srcu: {lock.name} has readers", kind="rcu")
    fence("mb", "(synchronize_srcu: grace period ends)")


# ------------------------------------------------------------------------------ interpreter


class _Fail(ModelError):
    """A litmus-level error while running thread code (raised out of the exploration)."""

    def __init__(self, err: LitmusError) -> None:
        super().__init__(str(err))
        self.err = err


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _c_mod(a: int, b: int) -> int:
    return a - b * _c_div(a, b)


def _truth(v: Any) -> bool:
    return bool(v)


def _b(v: Any, *sources: Any) -> int:
    """C's 0/1 truth value of ``v``, carrying the dependencies of ``v`` and ``sources``."""
    return with_deps(1 if v else 0, v, *sources)


# The interpreter's own branches are not the litmus program's: the branches it interprets are
# marked with ctrl_region (LKMM's ctrl, herd's meaning: the events of the taken branch).
register_library_dir(__file__.rsplit("/", 1)[0] + "/")


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "&": operator.and_, "|": operator.or_,
    "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
    "==": lambda a, b: _b(a == b), "!=": lambda a, b: _b(a != b), "<": lambda a, b: _b(a < b),
    "<=": lambda a, b: _b(a <= b), ">": lambda a, b: _b(a > b), ">=": lambda a, b: _b(a >= b),
}


class _Interp:
    """Runs one litmus thread's code against the engine (a fresh instance per run)."""

    def __init__(self, world: _World, th: Thread) -> None:
        self.w = world
        self.th = th
        self.name = f"P{th.index}"
        self.regs: dict[str, Any] = dict(world.reg_init.get(th.index, {}))
        for p in th.params:
            self.regs[p.name] = world.locs[p.name]
        self.consume = world.consume_regs.get(th.index, set())
        self.consuming = False

    def fail(self, msg: str, pos: Pos | None) -> _Fail:
        return _Fail(LitmusError(f"{self.name}: {msg}", pos))

    def addr(self, v: Any, pos: Pos | None) -> Loc:
        if isinstance(v, Loc) and int(v) in self.w.by_addr:
            return v
        raise self.fail(f"dereference of {v!r}, which is not the address of a variable", pos)

    # -- expressions
    def ev(self, e: Expr) -> Any:
        if isinstance(e, Int):
            return e.value
        if isinstance(e, Var):
            if e.name in self.regs:
                return self.regs[e.name]
            loc = self.w.locs.get(e.name)
            if loc is not None:
                return loc
            return 0  # a register read before any assignment (herd: 0)
        if isinstance(e, Deref):
            a = self.addr(self.ev(e.addr), e.pos)
            return _at(e.pos, self.name)(load, a, PLAIN, "plain read")
        if isinstance(e, AddrOf):
            t = e.target
            if isinstance(t, Var) and t.name in self.w.locs and t.name not in self.regs:
                return self.w.locs[t.name]
            if isinstance(t, Deref):
                return self.ev(t.addr)
            raise self.fail("'&' of something that is not a shared variable", e.pos)
        if isinstance(e, BinOp):
            return self.binop(e)
        if isinstance(e, UnOp):
            v = self.ev(e.operand)
            if e.op == "!":
                return _b(not _truth(v), v)
            if isinstance(v, Loc) and e.op != "!":
                raise self.fail(f"'{e.op}' applied to an address", e.pos)
            return -v if e.op == "-" else ~v
        if isinstance(e, Call):
            return self.call(e)
        raise self.fail(f"cannot evaluate {type(e).__name__}", getattr(e, "pos", None))

    def binop(self, e: BinOp) -> Any:
        if e.op in ("&&", "||"):
            a = self.ev(e.left)
            if _truth(a) == (e.op == "||"):
                return _b(_truth(a), a)
            with ctrl_region(a):  # the right operand is evaluated only on this branch
                b = self.ev(e.right)
            return _b(_truth(b), a, b)
        a = self.ev(e.left)
        b = self.ev(e.right)
        if e.op in ("==", "!="):
            same = (a == b) and (isinstance(a, Loc) == isinstance(b, Loc))
            return _b(same if e.op == "==" else not same, a, b)
        if isinstance(a, Loc) or isinstance(b, Loc):
            if e.op in ("<", "<=", ">", ">="):
                return _b(_BINOPS[e.op](int(a), int(b)), a, b)
            if e.op == "+" and isinstance(b, Loc) and not isinstance(a, Loc):
                a, b = b, a
            if e.op in ("+", "-") and isinstance(a, Loc) and not isinstance(b, Loc):
                return self.offset(a, b if e.op == "+" else -b, e.pos)
            raise self.fail(f"arithmetic '{e.op}' on an address is not supported", e.pos)
        if e.op in ("/", "%"):
            if b == 0:
                raise self.fail("division by zero", e.pos)
            return _c_div(a, b) if e.op == "/" else _c_mod(a, b)
        f = _BINOPS.get(e.op)
        if f is None:
            raise self.fail(f"unknown operator '{e.op}'", e.pos)
        return f(a, b)

    def offset(self, a: Loc, n: Any, pos: Pos | None) -> Loc:
        """``a + n``: the same variable for n == 0 (a fake dependency), another cell of an array."""
        if n == 0:
            return with_deps(a, n)
        cell = self.w.cell_index.get(int(a))
        if cell is not None and (cell[0], cell[1] + n) in self.w.cells:
            return with_deps(self.w.cells[(cell[0], cell[1] + n)], a, n)
        raise self.fail(f"address arithmetic {a.name} + {n} leaves the variable", pos)

    def _loc_arg(self, e: Expr, what: str, pos: Pos | None) -> Loc:
        """The location named by a core op's ``*E`` argument."""
        if not isinstance(e, Deref):
            raise self.fail(f"{what} needs '*ADDRESS' as its location", pos)
        return self.addr(self.ev(e.addr), e.pos or pos)

    def call(self, c: Call) -> Any:
        at = _at(c.pos, self.name)
        name, tag, args = c.name, c.tag or "", c.args
        utag = tag.upper()  # older .def files write {once}, {acquire} ...
        if name == "__load":
            loc = self._loc_arg(args[0], "__load", c.pos)
            if utag == "ONCE":
                if self.consuming:
                    return at(load, loc, CONSUME, "READ_ONCE")
                return at(READ_ONCE, loc)
            if utag == "ACQUIRE":
                return at(smp_load_acquire, loc)
            if utag == "SRCU-LOCK":
                return at(srcu_read_lock, loc)
        elif name == "__store":
            loc = self._loc_arg(args[0], "__store", c.pos)
            v = self.ev(args[1])
            if utag == "ONCE":
                return at(WRITE_ONCE, loc, v)
            if utag == "RELEASE":
                return at(smp_store_release, loc, v)
            if utag == "SRCU-UNLOCK":
                return at(srcu_read_unlock, loc, v)
        elif name == "__fence":
            f = _fence_op(tag)
            if f is not None:
                return at(f)
        elif name in ("__xchg", "__cmpxchg", "__atomic_op", "__atomic_op_return", "__atomic_fetch_op",
                      "__atomic_add_unless"):
            return self.rmw(c, at)
        elif name in ("__lock", "__unlock", "__trylock", "__islocked", "__srcu"):
            loc = self.addr(self.ev(args[0]), c.pos)
            if name == "__lock":
                return at(_spin.spin_lock, loc)
            if name == "__unlock":
                return at(_spin.spin_unlock, loc)
            if name == "__trylock":
                return _b(at(_spin.spin_trylock, loc))
            if name == "__islocked":
                return _b(at(_spin.spin_is_locked, loc))
            if tag == "sync-srcu":
                return at(synchronize_srcu, loc)
        raise self.fail(f"unsupported operation {name}{{{tag}}}" if tag else f"unsupported operation {name}", c.pos)

    def rmw(self, c: Call, at: Callable[..., Any]) -> Any:
        name, args = c.name, c.args
        mode = _RMW_MODES.get((c.tag or "").upper())
        if mode is None:
            raise self.fail(f"unknown ordering {{{c.tag}}} of {name}", c.pos)
        loc = self.addr(self.ev(args[0]), c.pos)
        label = {"MB": "", "relaxed": "_relaxed", "acquire": "_acquire", "release": "_release"}.get(mode, "")
        if name == "__xchg":
            new = self.ev(args[1])
            return at(rmw, loc, constant(new), mode, f"xchg{label}", (new,))
        if name == "__cmpxchg":
            old, new = self.ev(args[1]), self.ev(args[2])
            op = conditional(lambda cur: new if cur == old and isinstance(cur, Loc) == isinstance(old, Loc)
                             else NO_WRITE)
            return at(rmw, loc, op, mode, f"cmpxchg{label}", (new,))
        if name == "__atomic_add_unless":
            a, u = self.ev(args[1]), self.ev(args[2])
            old = at(rmw, loc, lambda cur: NO_WRITE if cur == u else cur + a, mode, "atomic_add_unless", (a,))
            return _b(old != u)
        op_node = args[1]
        if not isinstance(op_node, Str) or op_node.text not in _ATOMIC_OPS:
            raise self.fail(f"bad operator argument of {name}", c.pos)
        fn = _ATOMIC_OPS[op_node.text]
        v = self.ev(args[2])
        opname = _OPNAMES[op_node.text]
        label = {"__atomic_op": f"atomic_{opname}", "__atomic_op_return": f"atomic_{opname}_return"}.get(
            name, f"atomic_fetch_{opname}")
        old = at(rmw, loc, lambda cur: fn(cur, v), mode, label, (v,))
        if name == "__atomic_op":
            return None
        if name == "__atomic_op_return":
            return fn(old, v)
        return old

    # -- statements
    def run(self, body: tuple[Stmt, ...]) -> None:
        for s in body:
            self.stmt(s)

    def stmt(self, s: Stmt) -> None:
        if isinstance(s, Assign):
            v = self._assigned_value(s.reg, s.value)
            self.regs[s.reg] = v
        elif isinstance(s, Decl):
            if s.init is not None:
                self.regs[s.name] = self._assigned_value(s.name, s.init)
            else:
                self.regs.setdefault(s.name, 0)
        elif isinstance(s, ExprStmt):
            self.ev(s.expr)
        elif isinstance(s, Store):
            v = self.ev(s.value)
            a = self.addr(self.ev(s.addr), s.pos)
            _at(s.pos, self.name)(store, a, v, PLAIN, "plain write")
        elif isinstance(s, If):
            c = self.ev(s.cond)
            with ctrl_region(c):
                self.run(s.then if _truth(c) else s.orelse)
        elif isinstance(s, While):
            n = 0
            while _truth(c := self.ev(s.cond)):
                if self.w.unroll is not None and n >= self.w.unroll:
                    self.w.cutoff = True
                    _at(s.pos, self.name)(assume, False, f"while loop ran {n} times (unroll bound)", "unroll")
                n += 1
                with ctrl_region(c):
                    self.run(s.body)
        else:  # pragma: no cover
            raise self.fail(f"cannot run {type(s).__name__}", getattr(s, "pos", None))

    def _assigned_value(self, reg: str, e: Expr) -> Any:
        # a READ_ONCE whose value flows into an address: an address dependency (consume)
        if reg not in self.consume or tracks_deps():  # (the model tracks real dependencies)
            return self.ev(e)
        self.consuming = True
        try:
            return self.ev(e)
        finally:
            self.consuming = False


_LKMM_FENCES: dict[str, Callable[[], None]] = {
    "before-atomic": smp_mb__before_atomic, "after-atomic": smp_mb__after_atomic,
    "after-spinlock": smp_mb__after_spinlock, "after-unlock-lock": smp_mb__after_unlock_lock,
    "after-srcu-read-unlock": smp_mb__after_srcu_read_unlock,
}
_OPNAMES = {"+": "add", "-": "sub", "&": "and", "|": "or", "^": "xor", "&~": "andnot"}


def _fence_op(tag: str) -> Callable[[], None] | None:
    if tag in ("MB", "mb"):
        return smp_mb
    if tag == "rmb":
        return smp_rmb
    if tag == "wmb":
        return smp_wmb
    if tag == "barrier":
        return barrier
    if tag in _LKMM_FENCES:
        return _LKMM_FENCES[tag]
    if tag in _FULL_FENCE_TAGS:
        return smp_mb
    if tag == "rcu-lock":
        return _rcu.rcu_read_lock
    if tag == "rcu-unlock":
        return _rcu.rcu_read_unlock
    if tag == "sync-rcu":
        return _synchronize_rcu
    return None


def _synchronize_rcu() -> None:
    """``synchronize_rcu()`` as herd7 runs it under LKMM: a grace period inside a read-side
    critical section raises no flag there (the kernel primitive calls it RCU misuse); LKMM only
    finds no execution in which it ends.  Under the other models, the kernel primitive."""
    if lkmm_events():
        fence(F_SYNC_RCU, "synchronize_rcu")
    else:
        _rcu.synchronize_rcu()


# ----------------------------------------------------------------------------- the program


@dataclass
class _World:
    test: LitmusTest
    locs: dict[str, Loc]
    by_addr: dict[int, Loc]
    cells: dict[tuple[str, int], Loc]
    reg_init: dict[int, dict[str, Any]]
    consume_regs: dict[int, set[str]]
    displayed: tuple[LLoc, ...]
    observed: tuple[LLoc, ...]
    unroll: int | None = None
    cutoff: bool = False  # some execution was cut by the unroll bound
    cell_index: dict[int, tuple[str, int]] = field(default_factory=dict)


def _walk_exprs(body: tuple[Stmt, ...]) -> list[tuple[Expr, Pos | None]]:
    out: list[tuple[Expr, Pos | None]] = []
    for s in body:
        if isinstance(s, Assign):
            out.append((s.value, s.pos))
        elif isinstance(s, Decl) and s.init is not None:
            out.append((s.init, s.pos))
        elif isinstance(s, ExprStmt):
            out.append((s.expr, s.pos))
        elif isinstance(s, Store):
            out += [(s.addr, s.pos), (s.value, s.pos)]
        elif isinstance(s, If):
            out.append((s.cond, s.pos))
            out += _walk_exprs(s.then) + _walk_exprs(s.orelse)
        elif isinstance(s, While):
            out.append((s.cond, s.pos))
            out += _walk_exprs(s.body)
    return out


def _subexprs(e: Expr) -> list[Expr]:
    out = [e]
    if isinstance(e, Deref):
        out += _subexprs(e.addr)
    elif isinstance(e, AddrOf):
        out += _subexprs(e.target)
    elif isinstance(e, BinOp):
        out += _subexprs(e.left) + _subexprs(e.right)
    elif isinstance(e, UnOp):
        out += _subexprs(e.operand)
    elif isinstance(e, Call):
        for a in e.args:
            out += _subexprs(a)
    return out


_ADDR_ARG_OPS = {"__xchg", "__cmpxchg", "__atomic_op", "__atomic_op_return", "__atomic_fetch_op",
                 "__atomic_add_unless", "__lock", "__unlock", "__trylock", "__islocked", "__srcu"}


def _check_thread(th: Thread, shared: set[str], init_regs: set[str]) -> set[str]:
    """Static checks of one thread's (expanded) code; returns the registers used as addresses."""
    known = thread_registers(th) | {p.name for p in th.params} | init_regs | shared
    addr_regs: set[str] = set()
    for e0, spos in _walk_exprs(th.body):
        for e in _subexprs(e0):
            pos = getattr(e, "pos", None) or spos
            if isinstance(e, Var) and e.name not in known:
                raise LitmusError(f"P{th.index}: unknown name '{e.name}'", pos)
            if isinstance(e, Call):
                if e.name not in CORE_OPS:
                    raise LitmusError(f"unknown primitive '{e.name}'", pos)
                if e.name in ("__load", "__store") and (not e.args or not isinstance(e.args[0], Deref)):
                    raise LitmusError(f"P{th.index}: the location of {e.name}{{{e.tag}}} must be '*ADDRESS'", pos)
                if e.name == "__fence" and _fence_op(e.tag or "") is None:
                    raise LitmusError(f"unsupported fence {{{e.tag}}}", pos)
                utag = (e.tag or "").upper()
                if e.name == "__load" and utag not in ("ONCE", "ACQUIRE", "SRCU-LOCK") or (
                        e.name == "__store" and utag not in ("ONCE", "RELEASE", "SRCU-UNLOCK")):
                    raise LitmusError(f"unsupported access {e.name}{{{e.tag}}}", pos)
                if e.name in _ADDR_ARG_OPS and e.name not in ("__lock", "__unlock", "__trylock", "__islocked",
                                                              "__srcu"):
                    if (e.tag or "").upper() not in _RMW_MODES:
                        raise LitmusError(f"unsupported ordering {e.name}{{{e.tag}}}", pos)
                if e.name == "__srcu" and e.tag != "sync-srcu":
                    raise LitmusError(f"unsupported operation __srcu{{{e.tag}}}", pos)
                first = e.args[0] if e.args else None
                if isinstance(first, Deref):
                    addr_regs.update(x.name for x in _subexprs(first.addr) if isinstance(x, Var))
                elif e.name in _ADDR_ARG_OPS and first is not None:
                    addr_regs.update(x.name for x in _subexprs(first) if isinstance(x, Var))
            if isinstance(e, Deref):
                addr_regs.update(x.name for x in _subexprs(e.addr) if isinstance(x, Var))
    stmts = _all_stmts(th.body)
    for s in stmts:
        if isinstance(s, Store):
            addr_regs.update(e.name for e in _subexprs(s.addr) if isinstance(e, Var))
    # an address computed from registers depends on them (r2 = y + (r1 & 8)): close over assignments
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if isinstance(s, Assign | Decl):
                reg, value = (s.reg, s.value) if isinstance(s, Assign) else (s.name, s.init)
                if reg in addr_regs and value is not None:
                    for e in _subexprs(value):
                        if isinstance(e, Var) and e.name not in addr_regs:
                            addr_regs.add(e.name)
                            changed = True
    return addr_regs - {p.name for p in th.params}


def _all_stmts(body: tuple[Stmt, ...]) -> list[Stmt]:
    out: list[Stmt] = []
    for s in body:
        out.append(s)
        if isinstance(s, If):
            out += _all_stmts(s.then) + _all_stmts(s.orelse)
        elif isinstance(s, While):
            out += _all_stmts(s.body)
    return out


def _needs_expansion(test: LitmusTest) -> bool:
    return any(isinstance(e, Call) and e.name not in CORE_OPS
               for th in test.threads for e0, _ in _walk_exprs(th.body) for e in _subexprs(e0))


def _final_state(world: _World, final: Mapping[str, Any], locs: tuple[LLoc, ...]) -> dict[LLoc, Value]:
    out: dict[LLoc, Value] = {}
    for loc in locs:
        key = f"P{loc.thread}:{loc.reg}" if isinstance(loc, LocReg) else _mem_key(loc)
        v = final.get(key, 0)
        out[loc] = _value(v)
    return out


def _mem_key(loc: LocMem) -> str:
    return loc.name if loc.index is None else f"{loc.name}[{loc.index}]"


def _value(v: Any) -> Value:
    if isinstance(v, Loc):
        return v.name
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    return str(v)


def _build_world(test: LitmusTest) -> _World:
    locs: dict[str, Loc] = {}
    cells: dict[tuple[str, int], Loc] = {}
    arrays = {i.target: i.array for i in test.init if i.thread is None and i.array}
    # addresses come later, from the Program; here only the layout
    reg_init: dict[int, dict[str, Any]] = {}
    consume: dict[int, set[str]] = {}
    displayed = tuple(sort_locs(list(test.locations) + prop_locations(test.condition.prop)))
    observed = tuple(sort_locs(list(displayed) + prop_locations(test.filter)))
    for loc in observed:
        if isinstance(loc, LocMem) and loc.index is not None:
            size = arrays.get(loc.name)
            if size is None or not 0 <= loc.index < size:
                raise LitmusError(f"{loc}: '{loc.name}' is not an array of more than {loc.index} elements",
                                  test.condition.pos)
    return _World(test, locs, {}, cells, reg_init, consume, displayed, observed)


def to_program(test: LitmusTest, *, table: MacroTable | None = None, witness: bool = False,
               unroll: int | None = None) -> Program:
    """An engine program that runs ``test`` (expanded with ``table``, or the built-in macros, if
    it still calls kernel primitives).  The condition becomes: ``exists`` -> ``Program.exists``
    (or, with ``witness=True``, a forbidden outcome, so that a witness execution gets a trace),
    ``~exists`` -> ``forbid``, ``forall`` -> ``require``; all restricted by the ``filter``.

    ``unroll``: a ``while`` loop whose condition still holds after that many iterations blocks its
    thread (the execution counts as blocked, as herd's ``-unroll`` cuts such executions); by
    default loops run until the engine's per-thread event bound."""
    if _needs_expansion(test):
        test = expand(test, table)
    world = _build_world(test)
    world.unroll = unroll
    shared = shared_names(test)
    arrays = {i.target: i.array for i in test.init if i.thread is None and i.array}
    p = Program(test.name)
    p.lib["litmus"] = {"file": test.file, "name": test.name}
    init_vals: dict[str, Any] = {}
    for item in test.init:
        if item.thread is None and item.array is None:
            init_vals[item.target] = item.value
    # locations: names that cannot collide with an integer a test computes
    for name in sorted(shared):
        n = arrays.get(name)
        if n:
            cells = [p.named(f"{name}[{i}]") for i in range(n)]
            for i, c in enumerate(cells):
                world.cells[(name, i)] = c
                world.cell_index[int(c)] = (name, i)
            world.locs[name] = cells[0]
        else:
            world.locs[name] = p.named(name)
    for loc in list(world.locs.values()) + list(world.cells.values()):
        world.by_addr[int(loc)] = loc
    for name, v in init_vals.items():
        if v is None:
            continue
        val = world.locs[v.name] if isinstance(v, Var) else v.value
        if val != 0 or isinstance(val, Loc):
            p.init[int(world.locs[name])] = val
    for item in test.init:
        if item.thread is not None:
            v = item.value
            val = world.locs[v.name] if isinstance(v, Var) else (v.value if v is not None else 0)
            world.reg_init.setdefault(item.thread, {})[item.target] = val
    for th in test.threads:
        world.consume_regs[th.index] = _check_thread(th, shared, set(world.reg_init.get(th.index, {})))
    # what the final state shows
    mem: list[Loc] = []
    for oloc in world.observed:
        if isinstance(oloc, LocMem):
            mem.append(world.locs[oloc.name] if oloc.index is None else world.cells[(oloc.name, oloc.index)])
    p.observe_locations(mem)
    regs_of: dict[int, list[str]] = {}
    for oloc in world.observed:
        if isinstance(oloc, LocReg):
            regs_of.setdefault(oloc.thread, []).append(oloc.reg)
    for th in test.threads:
        p.thread(_thread_fn(world, th, tuple(regs_of.get(th.index, ()))), name=f"P{th.index}")
    p.lib["litmus_world"] = world
    _add_condition(p, world, witness)
    return p


def _thread_fn(world: _World, th: Thread, regs: tuple[str, ...]) -> Callable[[], None]:
    def run() -> None:
        it = _Interp(world, th)
        it.run(th.body)
        at = _at(th.pos, it.name)
        for r in regs:
            at(observe, r, it.regs.get(r, 0))

    run.__name__ = run.__qualname__ = f"P{th.index}"
    return run


def _add_condition(p: Program, world: _World, witness: bool) -> None:
    cond = world.test.condition
    filt = world.test.filter
    locs = world.observed

    def state(f: Final) -> dict[LLoc, Value]:
        return _final_state(world, f, locs)

    def holds(f: Final) -> bool:
        st = state(f)
        return (filt is None or eval_prop(filt, st)) and eval_prop(cond.prop, st)

    def fails(f: Final) -> bool:
        st = state(f)
        return (filt is None or eval_prop(filt, st)) and not eval_prop(cond.prop, st)

    text = format_condition(cond)
    if cond.quantifier == "exists":
        if witness:
            p.forbid(holds, text)
        else:
            p.exists(holds, text)
    elif cond.quantifier == "~exists":
        p.forbid(holds, text)
    else:
        p.require(lambda f: not fails(f), text)


# ------------------------------------------------------------------------------- the result


@dataclass
class EngineLitmusResult:
    """A litmus test run on the engine: herd-style states and the engine's own result."""

    test: LitmusTest
    model: str
    program: Program
    result: Result
    #: each final state (after the filter) -> how many complete executions end in it
    states: dict[State, int] = field(default_factory=dict)
    #: complete executions (after the filter) whose final state satisfies the condition's prop
    positive: int = 0
    negative: int = 0
    displayed: tuple[LLoc, ...] = ()

    @property
    def ok(self) -> bool:
        """herd's ``Ok``/``No`` (``rmapwalk.litmus.herdout.condition_holds``)."""
        from rmapwalk.litmus.herdout import condition_holds

        return condition_holds(self)

    @property
    def observation(self) -> str:
        """herd's ``Never``/``Sometimes``/``Always`` (``rmapwalk.litmus.herdout.observation``)."""
        from rmapwalk.litmus.herdout import observation

        return observation(self)

    @property
    def complete(self) -> bool:
        return self.result.incomplete_reason is None and self.result.stats.bounded == 0

    def sorted_states(self) -> list[State]:
        return sorted(self.states, key=lambda s: state_sort_key(dict(s)))

    def state_lines(self) -> list[str]:
        return [format_state(dict(s)) for s in self.sorted_states()]

    def outcomes(self) -> set[tuple[Value, ...]]:
        """The final states as tuples of values, in the order of ``displayed``."""
        return {tuple(v for _, v in s) for s in self.states}

    @property
    def cutoff(self) -> bool:
        """Whether some execution was cut by the ``unroll`` bound (herd's ``Loop``)."""
        world: _World = self.program.lib["litmus_world"]
        return world.cutoff

    def report(self) -> str:
        """herd's report of the test (its lines up to ``Observation``), then the engine's counts."""
        from rmapwalk.litmus.herdout import herd_lines

        lines = herd_lines(self.as_litmus_result(), time_line=False)
        st = self.result.stats
        lines.append(f"Model {self.model}: executions {st.complete} complete, {st.blocked} blocked, "
                     f"{st.errors} stopped by an error, {st.seconds:.3f} s")
        for v in self.problems():
            lines.append(f"Violation {v.kind}: {v.message}" + (f" ({v.thread} at {v.where})" if v.where else ""))
        if not self.complete:
            lines.append(f"Incomplete: {self.result.incomplete_reason or 'bounded'}")
        return "\n".join(lines)

    def as_litmus_result(self) -> Any:
        """This run as a :class:`rmapwalk.litmus.candidates.LitmusResult` (what herd's output is
        printed from)."""
        from rmapwalk.litmus.candidates import LitmusResult

        return LitmusResult(test=self.test, model=self.model, states=dict(self.states), positive=self.positive,
                            negative=self.negative, flags=self.flags(), cutoff=self.cutoff,
                            candidates=self.result.stats.complete, blocked=self.result.stats.blocked,
                            seconds=self.result.stats.seconds)

    def flags(self) -> set[str]:
        """One herd-style flag per kind of problem found (``deadlock``, ``lock-misuse`` ...).

        Under a model with LKMM's own events, only the flags linux-kernel.cat, .bell and lock.cat
        raise (:data:`LKMM_FLAGS`), as herd7 prints them: its output has no line for the
        engine's own diagnostics (a deadlock, a lock or RCU misuse: herd7 finds no execution
        there and says nothing; they stay in the violations and the JSON)."""
        cond = format_condition(self.test.condition)
        out = {k.replace(" ", "-") for k in self.result.property_counts if k != cond}
        if get_model(self.model).lkmm_events:
            out &= LKMM_FLAGS
        return out

    def problems(self) -> list[Violation]:
        """Violations other than the condition itself: lock or RCU misuse, deadlocks..."""
        cond = format_condition(self.test.condition)
        return [v for v in self.result.violations if v.kind != cond]

    def as_json(self) -> dict[str, Any]:
        out = self.result.as_json()
        # addresses by the name of their variable (a Loc would print as a bare int)
        out["outcomes"] = [{k: _value(v) for k, v in o} for o in sorted(self.result.outcomes, key=repr)]
        out.update({
            "test": self.test.name,
            "file": self.test.file,
            "condition": format_condition(self.test.condition),
            "states": [{"state": format_state(dict(s)), "count": self.states[s]} for s in self.sorted_states()],
            "ok": self.ok,
            "observation": self.observation,
            "positive": self.positive,
            "negative": self.negative,
        })
        return out


def _lkmm_flags(mm: Any, world: _World) -> Callable[[Any, Final], list[tuple[str, str]]]:
    """LKMM's flags (``data-race``, ``mixed-accesses``, linux-kernel.bell's SRCU flags) of each
    complete execution the test's ``filter`` keeps: herd7 flags no other (a race only in
    executions the filter drops raises no flag), as properties named by the flag."""
    filt = world.test.filter

    def check(g: Any, final: Final) -> list[tuple[str, str]]:
        if filt is not None and not eval_prop(filt, _final_state(world, dict(final.key()), world.observed)):
            return []
        return check_data_races(g, mm) + [(f.replace("-", " "), f"{f} (linux-kernel.bell)")
                                          for f in mm.srcu_flags(g)]

    return check


def run_engine(test: LitmusTest, model: str, *, table: MacroTable | None = None, witness: bool = False,
               unroll: int | None = None, **options: Any) -> EngineLitmusResult:
    """Explore every execution of ``test`` under ``model`` (``sc``, ``tso``, ``pso``, ``weak``).

    ``table``, ``witness``, ``unroll``: as for :func:`to_program`; ``options`` are the engine's
    :class:`rmapwalk.engine.Options` (``max_executions``, ``max_events``, ``timeout``,
    ``keep_violations`` ...)."""
    if model.lower() not in ENGINE_MODELS:
        raise LitmusError(f"unknown memory model '{model}' (choose from {', '.join(ENGINE_MODELS)})")
    prog = to_program(test, table=table, witness=witness, unroll=unroll)
    mm = get_model(model.lower())
    world: _World = prog.lib["litmus_world"]
    if mm.lkmm_events:  # herd7 flags data races and SRCU misuse under LKMM
        options = {**options, "final_checks": (*options.get("final_checks", ()), _lkmm_flags(mm, world))}
    try:
        # herd's states are every outcome: the table is not bounded here; and herd's counts are
        # exact, so load buffering is searched completely (litmus tests are small: 1.2x the time)
        res = Explorer(prog, mm, Options(**{"max_outcomes": None, "lb_search": DEFAULT_LB_SEARCH, **options})).run()
    except _Fail as e:
        raise e.err from None
    except ModelError as e:
        where = getattr(e, "src", None)
        pos = Pos(where.file, where.line, 1) if where is not None and where.file == test.file else None
        raise LitmusError(f"{test.name}: {e}", pos) from None
    if EXCEPTION in res.property_counts:
        # the thread code is this module's interpreter: an exception in it is an error of the
        # test's translation, not a property of the test
        v = next((v for v in res.violations if v.kind == EXCEPTION), None)
        what = f"thread {v.thread} raised {v.message}" if v is not None else "a thread raised an exception"
        raise LitmusError(f"{test.name}: {what}", None)
    out = EngineLitmusResult(world.test, model.lower(), prog, res, displayed=world.displayed)
    cond = world.test.condition
    filt = world.test.filter
    for key, count in res.outcomes.items():
        full = _final_state(world, dict(key), world.observed)
        if filt is not None and not eval_prop(filt, full):
            continue
        st: State = tuple((loc, full[loc]) for loc in world.displayed)
        out.states[st] = out.states.get(st, 0) + count
        if eval_prop(cond.prop, full):
            out.positive += count
        else:
            out.negative += count
    return out


def run_engine_result(test: LitmusTest, model: str, *, unroll: int | None = 2, speedcheck: str = "false",
                      **options: Any) -> Any:
    """:func:`run_engine` as a :class:`rmapwalk.litmus.candidates.LitmusResult` (what the litmus
    runner prints as herd's output); loops are unrolled twice by default, as herd does.

    As in herd, executions that do not complete (a thread waits forever, or stopped at a misuse
    of a lock or RCU) leave no final state; each kind of such problem raises a herd-style flag
    (``Flag deadlock``, ``Flag lock-misuse`` ...).  A test that cannot be run or is not explored
    completely raises :class:`rmapwalk.litmus.threads.LitmusSemanticsError` (one line, as the
    runner expects).

    ``speedcheck`` (herd7's): exploration builds every execution either way (a read that must
    take a wanted value may only get it from a write its own thread's later events lead to, so
    no read can be cut), ``"true"`` counts only the executions that decide the condition,
    ``"fast"`` stops at the first; ``"auto"`` is ``"false"`` here."""
    from rmapwalk.litmus.candidates import relevant
    from rmapwalk.litmus.threads import LitmusSemanticsError

    mode = "false" if speedcheck == "auto" else speedcheck
    if mode == "fast":
        options = {**options, "stop_on_first": True}
    try:
        r = run_engine(test, model, unroll=unroll, witness=mode == "fast", **options)
    except LitmusError as e:
        raise LitmusSemanticsError(e.pos, e.message) from None
    if not r.complete and not (mode == "fast" and r.result.violations):
        raise LitmusSemanticsError(None, f"{test.name}: under {r.model}, the exploration is incomplete: "
                                   f"{r.result.incomplete_reason or 'a thread exceeded the per-thread event bound'}")
    out = r.as_litmus_result()
    out.speedcheck = mode
    if mode != "false":
        cond = r.test.condition.prop
        keep = {st: n for st, n in out.states.items() if relevant(r.test, eval_prop(cond, dict(st)))}
        if mode == "fast":  # (the first witness only)
            keep = {st: 1 for st in list(keep)[:1]}
        out.states = keep
        ok_count = sum(n for st, n in keep.items() if eval_prop(cond, dict(st)))
        out.positive, out.negative = ok_count, sum(keep.values()) - ok_count
    return out
