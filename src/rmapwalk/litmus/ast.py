"""The syntax tree of a C litmus test, as herd7's C front end reads it.

One tree serves every back end: the candidate-execution enumerator (LKMM and any
cat model) and the translation into an engine program (SC, TSO, PSO).  Kernel
primitives (``READ_ONCE``, ``cmpxchg_acquire``, ...) are ``Call`` nodes until the
macro expander (``rmapwalk.litmus.macros``) rewrites them into the core
operations below, whose names and ``{tag}`` annotations follow herd's
``linux-kernel.def``:

=====================================  =============================================
core call (``Call.name``)              meaning
=====================================  =============================================
``__load{T}(*E)``                      marked read of the location at address E
``__store{T}(*E, V)``                  marked write (an ``ExprStmt``)
``__fence{T}``                         a fence event tagged T (no arguments)
``__xchg{T}(E, V)``                    read-modify-write, returns the old value
``__cmpxchg{T}(E, O, N)``              succeeds (R,W) or fails (R alone)
``__lock(E)`` / ``__unlock(E)``        spin_lock / spin_unlock of lock at address E
``__trylock(E)`` / ``__islocked(E)``   spin_trylock / spin_is_locked, return 0 or 1
``__srcu{T}(E)``                       synchronize_srcu on the srcu_struct at E
``__atomic_op{T}(E, op, V)``           non-returning RMW, ``op`` a ``Str`` operator
``__atomic_op_return{T}(E, op, V)``    RMW returning the new value
``__atomic_fetch_op{T}(E, op, V)``     RMW returning the old value
``__atomic_add_unless{T}(E, A, U)``    adds A unless the value is U; returns 1/0
=====================================  =============================================

Plain accesses are ``Deref`` expressions: ``r = *x`` reads and ``*x = v`` writes.
Every node carries its source position so that errors name FILE:LINE:COL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Pos:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Int:
    value: int
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Var:
    """A register, a thread parameter (a pointer to a shared variable) or a shared variable's name."""

    name: str
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Deref:
    """``*e``: the location whose address is the value of ``e``."""

    addr: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AddrOf:
    """``&e`` where ``e`` names a shared variable (or ``*p``, which cancels)."""

    target: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Str:
    """An operator passed to an atomic core op: ``+ - & | ^ &~``."""

    text: str
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BinOp:
    """C binary operators: ``+ - * / % & | ^ << >> == != < <= > >= && ||``."""

    op: str
    left: Expr
    right: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class UnOp:
    """``!``, ``-`` and ``~``."""

    op: str
    operand: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Call:
    """A call: a kernel primitive before macro expansion, a core op (``__load`` ...) after it."""

    name: str
    args: tuple[Expr, ...]
    tag: str | None = None  # the ``{T}`` of a core op
    pos: Pos | None = field(default=None, compare=False)


Expr = Int | Var | Deref | AddrOf | Str | BinOp | UnOp | Call


# ----------------------------------------------------------------- statements


@dataclass(frozen=True)
class Decl:
    """``int r0;`` / ``int *r1 = e;`` inside a thread: a register."""

    ctype: str
    name: str
    init: Expr | None = None
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Assign:
    """``r = e;`` (register assignment; ``e`` may read memory)."""

    reg: str
    value: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Store:
    """``*e = v;``: a plain store to the location at address ``e``."""

    addr: Expr
    value: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ExprStmt:
    """An expression evaluated for its effect, e.g. ``WRITE_ONCE(*x, 1);`` or ``smp_mb();``."""

    expr: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class While:
    """``while (c) body``; herd unrolls a bounded number of times (``-unroll``, default 2)."""

    cond: Expr
    body: tuple[Stmt, ...]
    pos: Pos | None = field(default=None, compare=False)


Stmt = Decl | Assign | Store | ExprStmt | If | While


@dataclass(frozen=True)
class Param:
    ctype: str  # "int *", "atomic_t *", "spinlock_t *", "struct srcu_struct *", ...
    name: str
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Thread:
    index: int  # the N of PN
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    pos: Pos | None = field(default=None, compare=False)


# -------------------------------------------------------------- initial state


@dataclass(frozen=True)
class InitItem:
    """One declaration of the ``{ }`` block.

    ``target`` is a shared variable (``x``) or a register (``thread`` set, ``0:r1``).
    ``value`` is an ``Int``, a ``Var`` naming a shared variable (its address, as in
    ``int *x=y;``) or None (zero).  ``ctype`` is the declared type if any
    (``"int"``, ``"int *"``, ``"atomic_t"``, ``"spinlock_t"``); ``array`` the size of
    ``int a[2]`` style declarations.
    """

    target: str
    value: Int | Var | None
    ctype: str | None = None
    thread: int | None = None
    array: int | None = None
    pos: Pos | None = field(default=None, compare=False)


# ------------------------------------------------------ final-state clauses


@dataclass(frozen=True)
class LocReg:
    """``0:r1``"""

    thread: int
    reg: str

    def __str__(self) -> str:
        return f"{self.thread}:{self.reg}"


@dataclass(frozen=True)
class LocMem:
    """``x`` or ``[x]`` (printed ``[x]`` as herd does); ``index`` for ``x[1]``."""

    name: str
    index: int | None = None

    def __str__(self) -> str:
        return f"[{self.name}]" if self.index is None else f"{self.name}[{self.index}]"


Loc = LocReg | LocMem


@dataclass(frozen=True)
class Atom:
    """``loc = value``; ``value`` an int or a symbol (a variable's address, printed by name)."""

    loc: Loc
    value: int | str
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LocEq:
    """``loc1 = loc2`` (herd allows comparing two locations)."""

    left: Loc
    right: Loc
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Not:
    prop: Prop


@dataclass(frozen=True)
class And:
    props: tuple[Prop, ...]


@dataclass(frozen=True)
class Or:
    props: tuple[Prop, ...]


@dataclass(frozen=True)
class Implies:
    left: Prop
    right: Prop


@dataclass(frozen=True)
class Const:
    """``true`` / ``false``."""

    value: bool


Prop = Atom | LocEq | Not | And | Or | Implies | Const

Quantifier = Literal["exists", "~exists", "forall"]


@dataclass(frozen=True)
class Condition:
    quantifier: Quantifier
    prop: Prop
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LitmusTest:
    name: str
    arch: str  # "C"
    init: tuple[InitItem, ...]
    threads: tuple[Thread, ...]
    condition: Condition
    locations: tuple[Loc, ...] = ()
    filter: Prop | None = None
    doc: str = ""  # the quoted doc string after the name, if any
    result: str | None = None  # "Never" / "Sometimes" / "Always" from a ``Result:`` comment
    file: str = ""


def node_classes() -> list[type]:
    """Every dataclass of this module (the node types of a litmus syntax tree)."""
    import dataclasses

    return [v for v in globals().values()
            if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == __name__]


_codec: Any = None


def codec() -> Any:
    """The :class:`rmapwalk.cache.Codec` of litmus syntax trees (JSON for the cache)."""
    global _codec
    if _codec is None:
        from rmapwalk.cache import Codec

        _codec = Codec(node_classes())
    return _codec
