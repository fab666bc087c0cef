"""The events each thread of a litmus test can produce, herd7's way.

herd7 evaluates a C thread symbolically and lets reads-from decide the values
reads return.  We get the same set of executions concretely: every read is a
*choice point* over the values its location can hold (a finite domain computed
as a fixpoint over what the test's writes can store), and a thread *path* is one
run with one value per choice.  A path records its events with the dependencies
herd computes for C:

* ``addr``: the read values an access's address was computed from;
* ``data``: the read values a stored value was computed from (and, inside one
  atomic operation that computes its new value from the old, the read itself);
* ``ctrl``: the read values the condition of an enclosing ``if`` used -- only
  for events inside the branch, as herd's ``cond_comp`` does, not after the join.

Registers carry the set of reads their value depends on ("taint"), which is how
dependencies flow through registers (herd's ``dd`` through ``rf-reg``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

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
    Pos,
    Stmt,
    Store,
    Str,
    Thread,
    UnOp,
    Var,
    While,
)
from rmapwalk.litmus.parser import thread_registers

Value = int | str  # a str is the address of the shared variable of that name

UNROLL = 2  # herd7's default ``-unroll``: loop iterations explored before a cut-off


class LitmusSemanticsError(Exception):
    """A construct the semantics cannot give a meaning to; ``str`` is ``FILE:LINE:COL: message``."""

    def __init__(self, pos: Pos | None, message: str) -> None:
        self.pos = pos
        super().__init__(f"{pos}: {message}" if pos is not None else message)


@dataclass(frozen=True)
class TV:
    """A value and the reads (indices in the thread's event list) it was computed from."""

    v: Value
    deps: frozenset[int] = frozenset()


# event kinds: plain and marked memory accesses, fences, and herd's lock/SRCU events
READ, WRITE, FENCE = "R", "W", "F"
LKR, LKW, UL, LF, RL, RU = "LKR", "LKW", "UL", "LF", "RL", "RU"
SRCU = "SRCU"
LOCK_READS = frozenset({LKR, LF, RL, RU})


@dataclass
class TEvent:
    """One event of a thread path."""

    kind: str
    loc: str | None
    val: Value | None
    tags: frozenset[str]
    atomic: bool = False  # part of an RMW instruction (herd's RMW set), successful or not
    addr: frozenset[int] = frozenset()
    data: frozenset[int] = frozenset()
    ctrl: frozenset[int] = frozenset()
    rmw: int | None = None  # for the read of a successful RMW: index of its write
    pos: Pos | None = None
    sites: frozenset[object] = frozenset()  # (value-domain fixpoint only) the writes the value read came from


@dataclass(frozen=True)
class Entry:
    """A value in the value-domain fixpoint, with the write sites it was computed through.

    Each write of a (loop-free) path happens at most once per execution, so a value
    needing the same site twice is never stored: tracking sites keeps the domains
    of atomic counters to the sums that can really happen.
    """

    value: Value
    sites: frozenset[object] = frozenset()


@dataclass
class Path:
    """One run of a thread: its events, its final registers and the read values it chose."""

    thread: int
    events: list[TEvent]
    regs: dict[str, Value]
    cutoff: bool = False  # a loop was cut after UNROLL iterations
    infeasible: bool = False  # stopped at an access to a non-address; only its writes so far are kept
    tested: frozenset[str] = frozenset()  # locations whose read values decided a branch


class _NeedChoice(Exception):
    def __init__(self, options: list[object]) -> None:
        self.options = options


class _Cutoff(Exception):
    pass


class _Infeasible(Exception):
    """The path dereferences a value that is not a shared variable's address (e.g. NULL).

    herd gives such an access no initial write and no write to read from, so the
    path has no execution; we drop it the same way.
    """


_ARITH = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "&~": lambda a, b: a & ~b,
    "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b,
    "<": lambda a, b: int(a < b),
    "<=": lambda a, b: int(a <= b),
    ">": lambda a, b: int(a > b),
    ">=": lambda a, b: int(a >= b),
}


@dataclass
class _Run:
    """One execution of a thread's code with a fixed list of choices."""

    thread: Thread
    test: LitmusTest
    domains: Mapping[str, tuple[Value, ...]]
    choices: list[object]
    params: Mapping[str, Value]
    init_regs: dict[str, Value]
    events: list[TEvent] = field(default_factory=list)
    regs: dict[str, TV] = field(default_factory=dict)
    ctrl: frozenset[int] = frozenset()
    taken: int = 0
    tested: set[str] = field(default_factory=set)  # locations whose read values reached a branch condition
    last_sites: frozenset[object] = frozenset()
    registers: frozenset[str] = frozenset()  # declared or assigned somewhere in the thread

    def test_value(self, c: TV) -> None:
        for d in c.deps:
            loc = self.events[d].loc
            if loc is not None:
                self.tested.add(loc)

    def choose(self, options: list[object]) -> object:
        if self.taken < len(self.choices):
            c = self.choices[self.taken]
            self.taken += 1
            return c
        raise _NeedChoice(options)

    # -- helpers --------------------------------------------------------------------------
    def emit(self, ev: TEvent) -> int:
        ev.ctrl = self.ctrl
        self.events.append(ev)
        return len(self.events) - 1

    def location(self, a: TV, pos: Pos | None) -> str:
        if not isinstance(a.v, str):
            raise _Infeasible()
        return a.v

    def read_value(self, loc: str) -> Value:
        options: list[object] = list(self.domains.get(loc, (0,)))
        c = self.choose(options)
        if isinstance(c, Entry):  # the value-domain fixpoint tracks where each value came from
            self.last_sites = c.sites
            return c.value
        return c  # type: ignore[return-value]

    def emit_read(self, ev: TEvent) -> int:
        ev.sites = self.last_sites
        return self.emit(ev)

    def read(self, loc: str, addr: TV, tags: frozenset[str], pos: Pos | None,
             atomic: bool = False) -> tuple[int, Value]:
        v = self.read_value(loc)
        i = self.emit_read(TEvent(READ, loc, v, tags, atomic=atomic, addr=addr.deps, pos=pos))
        return i, v

    def write(self, loc: str, addr: TV, val: TV, tags: frozenset[str], pos: Pos | None,
              atomic: bool = False, extra_data: frozenset[int] = frozenset()) -> int:
        return self.emit(TEvent(WRITE, loc, val.v, tags, atomic=atomic, addr=addr.deps,
                                data=val.deps | extra_data, pos=pos))

    # -- expressions ----------------------------------------------------------------------
    def eval(self, e: Expr) -> TV:
        if isinstance(e, Int):
            return TV(e.value)
        if isinstance(e, Var):
            if e.name in self.regs:
                return self.regs[e.name]
            if e.name in self.params:
                return TV(self.params[e.name])
            if e.name in self.init_regs:
                return TV(self.init_regs[e.name])
            if e.name in self.registers:
                return TV(0)  # a register read before its first assignment holds 0, as in herd
            raise LitmusSemanticsError(e.pos, f"unknown name '{e.name}' in P{self.thread.index}")
        if isinstance(e, Deref):
            a = self.eval(e.addr)
            loc = self.location(a, e.pos)
            i, v = self.read(loc, a, frozenset(), e.pos)
            return TV(v, frozenset({i}))
        if isinstance(e, AddrOf):
            if isinstance(e.target, Deref):
                return self.eval(e.target.addr)
            if isinstance(e.target, Var) and e.target.name not in self.regs:
                return TV(e.target.name)
            raise LitmusSemanticsError(e.pos, "'&' of something that is not a shared variable")
        if isinstance(e, UnOp):
            x = self.eval(e.operand)
            if e.op == "!":
                return TV(int(not _truth(x.v)), x.deps)
            if not isinstance(x.v, int):
                raise LitmusSemanticsError(e.pos, f"operator '{e.op}' applied to the address {x.v}")
            return TV(-x.v if e.op == "-" else ~x.v, x.deps)
        if isinstance(e, BinOp):
            return self.binop(e)
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, Str):
            raise LitmusSemanticsError(e.pos, f"operator '{e.text}' used as a value")
        raise LitmusSemanticsError(getattr(e, "pos", None), f"unsupported expression {type(e).__name__}")

    def binop(self, e: BinOp) -> TV:
        if e.op in ("&&", "||"):
            left = self.eval(e.left)
            if (e.op == "&&") != _truth(left.v):
                return TV(int(_truth(left.v)), left.deps)
            right = self.eval(e.right)
            return TV(int(_truth(right.v)), left.deps | right.deps)
        a, b = self.eval(e.left), self.eval(e.right)
        deps = a.deps | b.deps
        if e.op == "==":
            return TV(int(a.v == b.v), deps)
        if e.op == "!=":
            return TV(int(a.v != b.v), deps)
        return TV(self.arith(e.op, a.v, b.v, e.pos), deps)

    def arith(self, op: str, a: Value, b: Value, pos: Pos | None) -> Value:
        if op in ("+", "-") and isinstance(a, str) and isinstance(b, int) or op == "+" and isinstance(b, str) \
                and isinstance(a, int):
            # pointer arithmetic: ``y + (r & 0)`` fakes an address dependency; any other
            # offset leaves the declared variables, where no write (not even an initial one) is
            if (b if isinstance(b, int) else a) == 0:
                return a if isinstance(a, str) else b
            raise LitmusSemanticsError(pos, "address arithmetic with a non-zero offset is not supported "
                                            "under cat models (arrays)")
        if not isinstance(a, int) or not isinstance(b, int):
            raise LitmusSemanticsError(pos, f"operator '{op}' applied to an address")
        if op in ("/", "%"):
            if b == 0:
                raise LitmusSemanticsError(pos, "division by zero")
            q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
            return q if op == "/" else a - q * b
        fn = _ARITH.get(op)
        if fn is None:
            raise LitmusSemanticsError(pos, f"unsupported operator '{op}'")
        return int(fn(a, b))

    # -- core operations (after macro expansion) --------------------------------------------
    def call(self, c: Call) -> TV:
        name, tag, pos = c.name, c.tag, c.pos
        tags = frozenset({tag}) if tag else frozenset()
        args = c.args

        def need(n: int) -> None:
            if len(args) != n:
                raise LitmusSemanticsError(pos, f"{name} takes {n} arguments, got {len(args)}")

        if name == "__load":
            need(1)
            a = self.address_of_deref(args[0], pos, name)
            i, v = self.read(self.location(a, pos), a, tags, pos)
            return TV(v, frozenset({i}))
        if name == "__store":
            need(2)
            a = self.address_of_deref(args[0], pos, name)
            val = self.eval(args[1])
            self.write(self.location(a, pos), a, val, tags, pos)
            return val
        if name == "__fence":
            self.emit(TEvent(FENCE, None, None, tags, pos=pos))
            return TV(0)
        if name == "__xchg":
            need(2)
            a = self.eval(args[0])
            val = self.eval(args[1])
            loc = self.location(a, pos)
            r, old = self.read(loc, a, tags, pos, atomic=True)
            w = self.write(loc, a, val, tags, pos, atomic=True)
            self.events[r].rmw = w
            return TV(old, frozenset({r}))
        if name == "__cmpxchg":
            need(3)
            a = self.eval(args[0])
            expected = self.eval(args[1])
            loc = self.location(a, pos)
            v = self.read_value(loc)
            if v == expected.v:
                new = self.eval(args[2])
                r = self.emit_read(TEvent(READ, loc, v, tags, atomic=True, addr=a.deps, pos=pos))
                w = self.write(loc, a, new, tags, pos, atomic=True)
                self.events[r].rmw = w
            else:
                r = self.emit_read(TEvent(READ, loc, v, tags, atomic=True, addr=a.deps, pos=pos))
            return TV(v, frozenset({r}))
        if name in ("__atomic_op", "__atomic_op_return", "__atomic_fetch_op"):
            need(3)
            a = self.eval(args[0])
            if not isinstance(args[1], Str):
                raise LitmusSemanticsError(pos, f"{name}: second argument must be an operator")
            operand = self.eval(args[2])
            loc = self.location(a, pos)
            r, old = self.read(loc, a, tags, pos, atomic=True)
            computed = self.arith(args[1].text, old, operand.v, pos)
            w = self.write(loc, a, TV(computed, operand.deps), tags, pos, atomic=True, extra_data=frozenset({r}))
            self.events[r].rmw = w
            return TV(old if name == "__atomic_fetch_op" else computed, frozenset({r}))
        if name == "__atomic_add_unless":
            need(3)
            a = self.eval(args[0])
            add = self.eval(args[1])
            unless = self.eval(args[2])
            loc = self.location(a, pos)
            r, old = self.read(loc, a, tags, pos, atomic=True)
            if old != unless.v:
                total = self.arith("+", old, add.v, pos)
                w = self.write(loc, a, TV(total, add.deps), tags, pos, atomic=True, extra_data=frozenset({r}))
                self.events[r].rmw = w
                return TV(1, frozenset({r}))
            return TV(0, frozenset({r}))
        if name in ("__lock", "__unlock", "__trylock", "__islocked", "__srcu"):
            need(1)
            a = self.eval(args[0])
            loc = self.location(a, pos)
            if name == "__lock":
                self.lock(loc, a, pos)
                return TV(0)
            if name == "__unlock":
                self.emit(TEvent(UL, loc, 0, frozenset(), addr=a.deps, pos=pos))
                return TV(0)
            if name == "__trylock":
                if self.choose(["ok", "fail"]) == "ok":
                    self.lock(loc, a, pos)
                    return TV(1)
                self.emit(TEvent(LF, loc, None, frozenset(), addr=a.deps, pos=pos))
                return TV(0)
            if name == "__islocked":
                if self.choose(["locked", "unlocked"]) == "locked":
                    self.emit(TEvent(RL, loc, None, frozenset(), addr=a.deps, pos=pos))
                    return TV(1)
                self.emit(TEvent(RU, loc, None, frozenset(), addr=a.deps, pos=pos))
                return TV(0)
            self.emit(TEvent(SRCU, loc, None, tags, addr=a.deps, pos=pos))
            return TV(0)
        raise LitmusSemanticsError(pos, f"unsupported primitive '{name}'")

    def lock(self, loc: str, a: TV, pos: Pos | None) -> None:
        self.emit(TEvent(LKR, loc, 0, frozenset(), addr=a.deps, pos=pos))
        self.emit(TEvent(LKW, loc, 1, frozenset(), addr=a.deps, pos=pos))

    def address_of_deref(self, e: Expr, pos: Pos | None, name: str) -> TV:
        if not isinstance(e, Deref):
            raise LitmusSemanticsError(pos, f"bad {name} argument: expected '*address'")
        return self.eval(e.addr)

    # -- statements -------------------------------------------------------------------------
    def stmts(self, body: tuple[Stmt, ...]) -> None:
        for s in body:
            self.stmt(s)

    def stmt(self, s: Stmt) -> None:
        if isinstance(s, Decl):
            self.regs[s.name] = self.eval(s.init) if s.init is not None else TV(self.init_regs.get(s.name, 0))
        elif isinstance(s, Assign):
            self.regs[s.reg] = self.eval(s.value)
        elif isinstance(s, Store):
            a = self.eval(s.addr)
            val = self.eval(s.value)
            self.write(self.location(a, s.pos), a, val, frozenset(), s.pos)
        elif isinstance(s, ExprStmt):
            self.eval(s.expr)
        elif isinstance(s, If):
            c = self.eval(s.cond)
            self.test_value(c)
            saved = self.ctrl
            self.ctrl = saved | c.deps
            self.stmts(s.then if _truth(c.v) else s.orelse)
            self.ctrl = saved
        elif isinstance(s, While):
            saved = self.ctrl
            for _ in range(UNROLL + 1):
                c = self.eval(s.cond)
                self.test_value(c)
                if not _truth(c.v):
                    break
                self.ctrl = self.ctrl | c.deps
                self.stmts(s.body)
            else:
                raise _Cutoff()
            self.ctrl = saved
        else:
            raise LitmusSemanticsError(getattr(s, "pos", None), f"unsupported statement {type(s).__name__}")


def _truth(v: Value) -> bool:
    return v != 0


def thread_paths(test: LitmusTest, thread: Thread, domains: Mapping[str, tuple[Value, ...]],
                 init_regs: Mapping[str, Value], *, partial: bool = False) -> Iterator[Path]:
    """Every path of ``thread``, in a fixed order (choices in domain order, depth first).

    With ``partial``, paths that stop at an access to a non-address are yielded too
    (marked ``infeasible``): their writes up to that point still tell which values
    the test can store, which the value-domain fixpoint needs.
    """
    params = {p.name: p.name for p in thread.params}
    registers = frozenset(thread_registers(thread))
    stack: list[list[object]] = [[]]
    while stack:
        choices = stack.pop()
        run = _Run(thread, test, domains, choices, params, dict(init_regs), registers=registers)
        for name, v in init_regs.items():
            run.regs[name] = TV(v)
        try:
            run.stmts(thread.body)
        except _NeedChoice as need:
            for opt in reversed(need.options):
                stack.append([*choices, opt])
            continue
        except _Cutoff:
            yield Path(thread.index, run.events, {}, cutoff=True, tested=frozenset(run.tested))
            continue
        except _Infeasible:
            if partial:
                yield Path(thread.index, run.events, {}, infeasible=True, tested=frozenset(run.tested))
            continue
        yield Path(thread.index, run.events, {k: tv.v for k, tv in run.regs.items()}, tested=frozenset(run.tested))
