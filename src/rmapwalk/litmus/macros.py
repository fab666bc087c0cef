"""Kernel primitives -> herd's core operations, as herd's ``.def`` macro files define them.

A macro is either an *expression* macro (``READ_ONCE(X) __load{ONCE}(X)``: the call is replaced by
the expression) or a *statement* macro (``smp_mb() { __fence{MB}; }``: a call statement is replaced
by the statements).  Arguments are substituted syntactically, so ``READ_ONCE(*x)`` gives
``__load{ONCE}(*x)`` and ``smp_load_acquire(x)`` (``__load{ACQUIRE}(*X)``) gives the same shape.
Expansion is recursive (``atomic_read(X) READ_ONCE(*X)``).

``parse_def(path)`` reads a ``.def`` file; ``BUILTIN`` is this project's own table of the Linux
kernel API (the names the LKMM's ``linux-kernel.def`` covers, with the same core operations and
tags), used when no ``.def`` file is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

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
from rmapwalk.litmus.parser import LitmusError, _run, read_source

__all__ = ["BUILTIN", "CORE_OPS", "Macro", "MacroTable", "builtin_table", "expand", "expand_expr", "parse_def"]

#: the core operations of ast.py's table: never expanded
CORE_OPS = frozenset({
    "__load", "__store", "__fence", "__xchg", "__cmpxchg", "__lock", "__unlock", "__trylock",
    "__islocked", "__srcu", "__atomic_op", "__atomic_op_return", "__atomic_fetch_op",
    "__atomic_add_unless",
})

_MAX_DEPTH = 32


@dataclass(frozen=True)
class Macro:
    """``name(formals) body``: ``body`` is an expression, or a tuple of statements."""

    name: str
    formals: tuple[str, ...]
    body: Expr | tuple[Stmt, ...]
    pos: Pos | None = None

    @property
    def is_statement(self) -> bool:
        return isinstance(self.body, tuple)


@dataclass
class MacroTable:
    """Macros by name; ``source`` says where they come from (a file, or ``builtin``)."""

    macros: dict[str, Macro] = field(default_factory=dict)
    source: str = "builtin"

    def add(self, m: Macro) -> None:
        self.macros[m.name] = m

    def get(self, name: str) -> Macro | None:
        return self.macros.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.macros

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.macros))

    def __len__(self) -> int:
        return len(self.macros)


def parse_def(path: str | Path) -> MacroTable:
    """Read a herd ``.def`` file (``NAME(ARGS) EXPR`` or ``NAME(ARGS) { STMTS }``, ``//`` comments)."""
    return parse_def_text(read_source(path), str(path))


def parse_def_text(text: str, file: str) -> MacroTable:
    """The macros of a ``.def`` file's text; the table is cached as JSON (:mod:`rmapwalk.cache`,
    keyed by ``file``, ``text`` and the parser's source) and a cached table equals the parsed one."""
    from rmapwalk import cache

    here = Path(__file__).resolve().parent
    code = cache.code_digest(*(here / m for m in ("macros.py", "parser.py", "grammar.py", "ast.py", "errors.py")))
    return cache.cached("litmus-def", cache.digest("litmus-def", code, file, text),
                        lambda: _parse_def_text(text, file), _def_codec())


@lru_cache(maxsize=1)
def _def_codec() -> Any:
    from rmapwalk import cache
    from rmapwalk.litmus.ast import node_classes

    return cache.Codec([*node_classes(), Macro, MacroTable])


def _parse_def_text(text: str, file: str) -> MacroTable:
    tree = _run("def", text, file, "the macro file")
    table = MacroTable(source=file)
    for name_tok, formals, body in tree.children:
        if len(set(formals)) != len(formals):
            raise LitmusError(f"macro '{name_tok}': a parameter is named twice",
                              Pos(file, name_tok.line, name_tok.column))
        table.add(Macro(str(name_tok), formals, body, Pos(file, name_tok.line, name_tok.column)))
    return table


# ------------------------------------------------------------------------ the built-in table


def _v(name: str) -> Var:
    return Var(name)


def _star(name: str) -> Deref:
    return Deref(Var(name))


def _core(name: str, tag: str | None, *args: Expr) -> Call:
    return Call(name, tuple(args), tag)


def builtin_table() -> MacroTable:
    """Our table of the Linux-kernel primitives, written against the core operations of ast.py."""
    t = MacroTable(source="builtin")

    def expr(name: str, formals: str, body: Expr) -> None:
        t.add(Macro(name, tuple(formals.split(",")) if formals else (), body))

    def stmts(name: str, formals: str, *body: Expr) -> None:
        t.add(Macro(name, tuple(formals.split(",")) if formals else (), tuple(ExprStmt(e) for e in body)))

    X, V, W = _v("X"), _v("V"), _v("W")

    # marked accesses: X is the location itself (READ_ONCE(*p)), or a pointer (acquire/release)
    expr("READ_ONCE", "X", _core("__load", "ONCE", X))
    stmts("WRITE_ONCE", "X,V", _core("__store", "ONCE", X, V))
    expr("smp_load_acquire", "X", _core("__load", "ACQUIRE", _star("X")))
    stmts("smp_store_release", "X,V", _core("__store", "RELEASE", _star("X"), V))
    stmts("smp_store_mb", "X,V", _core("__store", "ONCE", X, V), _core("__fence", "MB"))
    expr("rcu_dereference", "X", _core("__load", "ONCE", X))
    stmts("rcu_assign_pointer", "X,V", _core("__store", "RELEASE", X, V))

    # fences: kernel name -> the tag of the fence event
    for name, tag in (
        ("smp_mb", "MB"), ("smp_rmb", "rmb"), ("smp_wmb", "wmb"), ("barrier", "barrier"),
        ("smp_mb__before_atomic", "before-atomic"), ("smp_mb__after_atomic", "after-atomic"),
        ("smp_mb__after_spinlock", "after-spinlock"), ("smp_mb__after_unlock_lock", "after-unlock-lock"),
        ("smp_mb__after_srcu_read_unlock", "after-srcu-read-unlock"),
        ("rcu_read_lock", "rcu-lock"), ("rcu_read_unlock", "rcu-unlock"),
        ("synchronize_rcu", "sync-rcu"), ("synchronize_rcu_expedited", "sync-rcu"),
    ):
        stmts(name, "", _core("__fence", tag))

    # ordering suffixes of the value-returning RMWs: none = fully ordered
    orders = (("", "MB"), ("_relaxed", "ONCE"), ("_acquire", "ACQUIRE"), ("_release", "RELEASE"))
    for base in ("xchg", "atomic_xchg"):
        for suffix, tag in orders:
            expr(base + suffix, "X,V", _core("__xchg", tag, X, V))
    for base in ("cmpxchg", "atomic_cmpxchg"):
        for suffix, tag in orders:
            expr(base + suffix, "X,V,W", _core("__cmpxchg", tag, X, V, W))

    # spinlocks
    stmts("spin_lock", "X", _core("__lock", None, X))
    stmts("spin_unlock", "X", _core("__unlock", None, X))
    expr("spin_trylock", "X", _core("__trylock", None, X))
    expr("spin_is_locked", "X", _core("__islocked", None, X))

    # SRCU: the read-side lock reads the srcu_struct, the unlock writes it, synchronize_srcu
    # is an event on it
    for lock, unlock in (("srcu_read_lock", "srcu_read_unlock"), ("srcu_down_read", "srcu_up_read")):
        expr(lock, "X", _core("__load", "srcu-lock", _star("X")))
        stmts(unlock, "X,V", _core("__store", "srcu-unlock", _star("X"), V))
    for name in ("synchronize_srcu", "synchronize_srcu_expedited"):
        stmts(name, "X", _core("__srcu", "sync-srcu", X))

    # atomic_t
    expr("atomic_read", "X", _core("__load", "ONCE", _star("X")))
    stmts("atomic_set", "X,V", _core("__store", "ONCE", _star("X"), V))
    expr("atomic_read_acquire", "X", _core("__load", "ACQUIRE", _star("X")))
    stmts("atomic_set_release", "X,V", _core("__store", "RELEASE", _star("X"), V))

    ops = {"add": "+", "sub": "-", "and": "&", "or": "|", "xor": "^", "andnot": "&~"}
    for name, op in ops.items():  # atomic_add(V, X): no value, no ordering
        stmts(f"atomic_{name}", "V,X", _core("__atomic_op", "NORETURN", X, Str(op), V))
    stmts("atomic_inc", "X", _core("__atomic_op", "NORETURN", X, Str("+"), Int(1)))
    stmts("atomic_dec", "X", _core("__atomic_op", "NORETURN", X, Str("-"), Int(1)))

    for suffix, tag in orders:
        for name in ("add", "sub"):
            expr(f"atomic_{name}_return{suffix}", "V,X", _core("__atomic_op_return", tag, X, Str(ops[name]), V))
        for name, op in (("inc", "+"), ("dec", "-")):
            expr(f"atomic_{name}_return{suffix}", "X", _core("__atomic_op_return", tag, X, Str(op), Int(1)))
            expr(f"atomic_fetch_{name}{suffix}", "X", _core("__atomic_fetch_op", tag, X, Str(op), Int(1)))
        for name, op in ops.items():
            expr(f"atomic_fetch_{name}{suffix}", "V,X", _core("__atomic_fetch_op", tag, X, Str(op), V))
        expr(f"atomic_add_negative{suffix}", "V,X",
             BinOp("<", _core("__atomic_op_return", tag, X, Str("+"), V), Int(0)))

    expr("atomic_sub_and_test", "V,X", BinOp("==", _core("__atomic_op_return", "MB", X, Str("-"), V), Int(0)))
    expr("atomic_dec_and_test", "X", BinOp("==", _core("__atomic_op_return", "MB", X, Str("-"), Int(1)), Int(0)))
    expr("atomic_inc_and_test", "X", BinOp("==", _core("__atomic_op_return", "MB", X, Str("+"), Int(1)), Int(0)))
    expr("atomic_add_unless", "X,V,W", _core("__atomic_add_unless", "MB", X, V, W))
    return t


BUILTIN: MacroTable = builtin_table()


# --------------------------------------------------------------------------------- expansion


def _subst_expr(e: Expr, env: dict[str, Expr], pos: Pos | None) -> Expr:
    """``e`` (a macro body) with its parameters replaced; body nodes take the call's position."""
    if isinstance(e, Var):
        if e.name in env:
            return env[e.name]
        return replace(e, pos=pos)
    if isinstance(e, Int | Str):
        return replace(e, pos=pos)
    if isinstance(e, Deref):
        inner = _subst_expr(e.addr, env, pos)
        return Deref(inner, pos)
    if isinstance(e, AddrOf):
        inner = _subst_expr(e.target, env, pos)
        if isinstance(inner, Deref):  # &*p is p
            return inner.addr
        return AddrOf(inner, pos)
    if isinstance(e, BinOp):
        return BinOp(e.op, _subst_expr(e.left, env, pos), _subst_expr(e.right, env, pos), pos)
    if isinstance(e, UnOp):
        return UnOp(e.op, _subst_expr(e.operand, env, pos), pos)
    if isinstance(e, Call):
        return Call(e.name, tuple(_subst_expr(a, env, pos) for a in e.args), e.tag, pos)
    raise TypeError(f"not an expression: {e!r}")


def _subst_stmt(s: Stmt, env: dict[str, Expr], pos: Pos | None) -> Stmt:
    def ex(e: Expr) -> Expr:
        return _subst_expr(e, env, pos)

    if isinstance(s, ExprStmt):
        return ExprStmt(ex(s.expr), pos)
    if isinstance(s, Store):
        return Store(ex(s.addr), ex(s.value), pos)
    if isinstance(s, Assign):
        return Assign(s.reg, ex(s.value), pos)
    if isinstance(s, Decl):
        return Decl(s.ctype, s.name, ex(s.init) if s.init is not None else None, pos)
    if isinstance(s, If):
        return If(ex(s.cond), tuple(_subst_stmt(x, env, pos) for x in s.then),
                  tuple(_subst_stmt(x, env, pos) for x in s.orelse), pos)
    if isinstance(s, While):
        return While(ex(s.cond), tuple(_subst_stmt(x, env, pos) for x in s.body), pos)
    raise TypeError(f"not a statement: {s!r}")


class _Expander:
    def __init__(self, table: MacroTable) -> None:
        self.table = table

    def _macro(self, call: Call, depth: int) -> Macro:
        if depth > _MAX_DEPTH:
            raise LitmusError(f"macro expansion of '{call.name}' does not end (recursive macro?)", call.pos)
        m = self.table.get(call.name)
        if m is None:
            raise LitmusError(f"unknown primitive '{call.name}'", call.pos)
        if len(m.formals) != len(call.args):
            raise LitmusError(
                f"'{call.name}' takes {len(m.formals)} argument{'s' if len(m.formals) != 1 else ''}, "
                f"not {len(call.args)}", call.pos)
        return m

    def expr(self, e: Expr, depth: int = 0) -> Expr:
        if isinstance(e, Call):
            args = tuple(self.expr(a, depth) for a in e.args)
            if e.name in CORE_OPS:
                return Call(e.name, args, e.tag, e.pos)
            m = self._macro(e, depth)
            if isinstance(m.body, tuple):
                raise LitmusError(f"'{e.name}' does not return a value", e.pos)
            body = _subst_expr(m.body, dict(zip(m.formals, args, strict=True)), e.pos)
            return self.expr(body, depth + 1)
        if isinstance(e, Deref):
            return Deref(self.expr(e.addr, depth), e.pos)
        if isinstance(e, AddrOf):
            inner = self.expr(e.target, depth)
            return inner.addr if isinstance(inner, Deref) else AddrOf(inner, e.pos)
        if isinstance(e, BinOp):
            return BinOp(e.op, self.expr(e.left, depth), self.expr(e.right, depth), e.pos)
        if isinstance(e, UnOp):
            return UnOp(e.op, self.expr(e.operand, depth), e.pos)
        return e

    def stmts(self, body: tuple[Stmt, ...], depth: int = 0) -> tuple[Stmt, ...]:
        out: list[Stmt] = []
        for s in body:
            out.extend(self.stmt(s, depth))
        return tuple(out)

    def stmt(self, s: Stmt, depth: int = 0) -> list[Stmt]:
        if isinstance(s, ExprStmt):
            e = s.expr
            if isinstance(e, Call) and e.name not in CORE_OPS:
                m = self._macro(e, depth)
                if isinstance(m.body, tuple):
                    args = tuple(self.expr(a, depth) for a in e.args)
                    env = dict(zip(m.formals, args, strict=True))
                    body = tuple(_subst_stmt(x, env, e.pos) for x in m.body)
                    return list(self.stmts(body, depth + 1))
            return [ExprStmt(self.expr(e, depth), s.pos)]
        if isinstance(s, Assign):
            return [Assign(s.reg, self.expr(s.value, depth), s.pos)]
        if isinstance(s, Store):
            return [Store(self.expr(s.addr, depth), self.expr(s.value, depth), s.pos)]
        if isinstance(s, Decl):
            return [Decl(s.ctype, s.name, self.expr(s.init, depth) if s.init is not None else None, s.pos)]
        if isinstance(s, If):
            return [If(self.expr(s.cond, depth), self.stmts(s.then, depth), self.stmts(s.orelse, depth), s.pos)]
        if isinstance(s, While):
            return [While(self.expr(s.cond, depth), self.stmts(s.body, depth), s.pos)]
        raise TypeError(f"not a statement: {s!r}")


def expand_expr(e: Expr, table: MacroTable | None = None) -> Expr:
    """One expression with every kernel primitive rewritten into core operations."""
    return _Expander(table or BUILTIN).expr(e)


def expand(test: LitmusTest, table: MacroTable | None = None) -> LitmusTest:
    """``test`` with every call of a kernel primitive rewritten into core operations."""
    ex = _Expander(table or BUILTIN)
    threads = tuple(Thread(th.index, th.params, ex.stmts(th.body), th.pos) for th in test.threads)
    return replace(test, threads=threads)
