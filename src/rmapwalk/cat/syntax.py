"""The syntax tree of herd's *cat* language (the lark grammar that builds it is in :mod:`.grammar`;
:func:`.reader.parse` reads a file).

Operator precedence, weakest first (as in herd's model parser):
``|`` (right) < ``++`` (right) < ``;`` (right) < ``\\`` (left) < ``&`` (right)
< binary ``*`` (cartesian product), prefix ``~`` and the postfix closures
``*`` ``+`` ``?`` ``^-1`` < application ``f x``.  Associative operators are
flattened, so the grammar below may parse them in either direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import CatError, Pos

# --------------------------------------------------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------------------------------------------------


class Exp:
    """Base class of expressions."""

    __slots__ = ("pos",)
    pos: Pos


@dataclass(eq=False, slots=True)
class Const(Exp):
    pos: Pos
    kind: str  # "empty" (0 and {}), "univ" (_), "unit" (())


@dataclass(eq=False, slots=True)
class TagE(Exp):
    pos: Pos
    name: str


@dataclass(eq=False, slots=True)
class Var(Exp):
    pos: Pos
    name: str


@dataclass(eq=False, slots=True)
class Un(Exp):
    pos: Pos
    op: str  # comp inv star plus opt toid
    e: Exp


@dataclass(eq=False, slots=True)
class NOp(Exp):
    pos: Pos
    op: str  # union seq
    es: list[Exp]


@dataclass(eq=False, slots=True)
class Bin(Exp):
    pos: Pos
    op: str  # inter diff cart add
    a: Exp
    b: Exp


@dataclass(eq=False, slots=True)
class TupleE(Exp):
    pos: Pos
    es: list[Exp]


@dataclass(eq=False, slots=True)
class App(Exp):
    pos: Pos
    f: Exp
    a: Exp


@dataclass(frozen=True, slots=True)
class Pat:
    names: tuple[str | None, ...]
    is_tuple: bool


@dataclass(eq=False, slots=True)
class Fun(Exp):
    pos: Pos
    pat: Pat
    body: Exp
    name: str


@dataclass(eq=False, slots=True)
class ExplSet(Exp):
    pos: Pos
    es: list[Exp]


@dataclass(eq=False, slots=True)
class Binding:
    pos: Pos
    pat: Pat
    e: Exp


@dataclass(eq=False, slots=True)
class Bind(Exp):
    pos: Pos
    binds: list[Binding]
    body: Exp
    rec: bool


@dataclass(eq=False, slots=True)
class MatchTag(Exp):
    pos: Pos
    e: Exp
    clauses: list[tuple[str, Exp]]
    default: Exp | None


@dataclass(eq=False, slots=True)
class MatchSet(Exp):
    pos: Pos
    e: Exp
    if_empty: Exp
    names: tuple[str | None, ...]  # (elt, rest) or (before, elt, after)
    body: Exp


@dataclass(eq=False, slots=True)
class Try(Exp):
    pos: Pos
    a: Exp
    b: Exp


# variant conditions: ("v", name) | ("not", c) | ("and", c1, c2) | ("or", c1, c2)
VCond = tuple[Any, ...]


@dataclass(eq=False, slots=True)
class IfVar(Exp):
    pos: Pos
    cond: VCond
    a: Exp
    b: Exp


class Ins:
    """Base class of instructions."""

    __slots__ = ("pos",)
    pos: Pos


@dataclass(eq=False, slots=True)
class LetI(Ins):
    pos: Pos
    binds: list[Binding]
    rec: bool


@dataclass(eq=False, slots=True)
class TestI(Ins):
    pos: Pos
    kind: str  # acyclic irreflexive empty
    neg: bool
    ttype: str  # check flag undefined_unless assert
    e: Exp
    name: str | None


@dataclass(eq=False, slots=True)
class NopI(Ins):
    """show, unshow, debug, instructions/default (bell declarations)."""

    pos: Pos
    what: str


@dataclass(eq=False, slots=True)
class IncludeI(Ins):
    pos: Pos
    fname: str


@dataclass(eq=False, slots=True)
class ProcI(Ins):
    pos: Pos
    name: str
    pat: Pat
    body: list[Ins]


@dataclass(eq=False, slots=True)
class CallI(Ins):
    pos: Pos
    name: str
    arg: Exp
    alias: str | None


@dataclass(eq=False, slots=True)
class EnumI(Ins):
    pos: Pos
    name: str
    tags: list[str]


@dataclass(eq=False, slots=True)
class WithI(Ins):
    pos: Pos
    var: str
    e: Exp


@dataclass(eq=False, slots=True)
class IfVarI(Ins):
    pos: Pos
    cond: VCond
    then: list[Ins]
    orelse: list[Ins]


@dataclass(eq=False, slots=True)
class ForallI(Ins):
    pos: Pos
    var: str
    e: Exp
    body: list[Ins]


@dataclass(eq=False)
class Model:
    file: str
    title: str
    body: list[Ins] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------------------
# Lexical pre-pass: comments
# --------------------------------------------------------------------------------------------------------------------


def strip_comments(text: str, file: str) -> str:
    """Blank out ``(* ... *)`` (nested), ``// ...`` and ``# ...`` comments, keeping line/column positions."""
    out = list(text)
    i = 0
    n = len(text)
    line = 1
    col = 1

    def blank(j: int) -> None:
        if out[j] != "\n":
            out[j] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            col = 1
            i += 1
            continue
        if c == '"':
            j = text.find('"', i + 1)
            if j < 0:
                raise CatError(Pos(file, line, col), "unterminated string")
            for k in range(i, j + 1):
                if text[k] == "\n":
                    line += 1
                    col = 0
                col += 1
            i = j + 1
            continue
        if c == "(" and text.startswith("(*", i):
            start = Pos(file, line, col)
            depth = 0
            while True:
                if i >= n:
                    raise CatError(start, "unterminated comment")
                if text.startswith("(*", i):
                    depth += 1
                    blank(i)
                    blank(i + 1)
                    i += 2
                    col += 2
                elif text.startswith("*)", i):
                    depth -= 1
                    blank(i)
                    blank(i + 1)
                    i += 2
                    col += 2
                    if depth == 0:
                        break
                else:
                    if text[i] == "\n":
                        line += 1
                        col = 1
                    else:
                        blank(i)
                        col += 1
                    i += 1
            continue
        if c == "#" or (c == "/" and text.startswith("//", i)):
            while i < n and text[i] != "\n":
                blank(i)
                i += 1
            continue
        i += 1
        col += 1
    return "".join(out)
