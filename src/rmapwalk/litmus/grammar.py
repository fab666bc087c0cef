"""The lark grammars of herd7's C litmus format (initial state, C threads, final condition, and
herd's ``.def`` macro files) and the transformer from their trees to :mod:`rmapwalk.litmus.ast`
nodes.  Imported only when a text is really parsed (:mod:`.parser` caches the tests of files),
so that reading a cached test costs no lark import."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from rmapwalk.cache import lark_parser
from rmapwalk.litmus.ast import (
    AddrOf,
    And,
    Assign,
    Atom,
    BinOp,
    Call,
    Condition,
    Const,
    Decl,
    Deref,
    Expr,
    ExprStmt,
    If,
    Implies,
    InitItem,
    Int,
    Loc,
    LocEq,
    LocMem,
    LocReg,
    Not,
    Or,
    Param,
    Pos,
    Prop,
    Stmt,
    Store,
    Str,
    Thread,
    UnOp,
    Var,
    While,
)
from rmapwalk.litmus.errors import LitmusError

# ------------------------------------------------------------------------------------ grammars

_TYPE_WORDS = (
    "int|char|short|long|unsigned|signed|void|bool|_Bool|float|double|size_t|ssize_t|"
    "intptr_t|uintptr_t|u8|u16|u32|u64|s8|s16|s32|s64|__u8|__u16|__u32|__u64|"
    "u?int(?:8|16|32|64)_t|atomic_t|atomic_long_t|atomic64_t|spinlock_t|raw_spinlock_t|"
    "arch_spinlock_t|rwlock_t|mtx_t|atomic_int|volatile|const|_Atomic"
)

_CORE_NAMES = (
    "load|store|fence|xchg|cmpxchg|lock|unlock|trylock|islocked|srcu|"
    "atomic_op_return|atomic_fetch_op|atomic_add_unless|atomic_op"
)

#: expressions and statements of thread code (also the bodies of .def macros)
_C_COMMON = r"""
block: "{" stmt* "}"

?stmt: decl_stmt
     | NAME "=" expr ";"                       -> assign
     | "*" unary "=" expr ";"                  -> store
     | expr ";"                                -> expr_stmt
     | "if" "(" expr ")" stmt ("else" stmt)?   -> if_stmt
     | "while" "(" expr ")" stmt               -> while_stmt
     | block                                   -> block_stmt
     | ";"                                     -> empty_stmt

decl_stmt: base_type declarator ("," declarator)* ";"
declarator: STAR* NAME ["=" expr]
          | NAME "[" INT "]"                   -> array_declarator

base_type: type_word+
?type_word: TYPE | "struct" NAME -> struct_type
ctype: base_type STAR*

?expr: lor
?lor: land | lor "||" land            -> lor
?land: bor | land "&&" bor            -> land
?bor: bxor | bor "|" bxor             -> bor
?bxor: band | bxor "^" band           -> bxor
?band: equality | band "&" equality   -> band
?equality: relation | equality EQOP relation   -> binop
?relation: shift | relation RELOP shift        -> binop
?shift: sum | shift SHIFTOP sum                -> binop
?sum: product | sum ADDOP product              -> binop
?product: unary | product MULOP unary          -> binop
        | product "*" unary                    -> mul
?unary: primary
      | "-" unary                       -> neg
      | "+" unary                       -> uplus
      | "!" unary                       -> lnot
      | "~" unary                       -> bnot
      | "*" unary                       -> deref
      | "&" unary                       -> addr
      | "(" ctype ")" unary             -> cast
?primary: INT                           -> int_lit
        | NAME                          -> var
        | NAME "(" [expr ("," expr)*] ")"   -> call
        | CORE ("{" tags "}")? ("(" [core_arg ("," core_arg)*] ")")?  -> core
        | "(" expr ")"
        | primary "[" expr "]"          -> index

tags: tag ("," tag)*
tag: NAME ("-" NAME)*
?core_arg: expr
         | "+"                          -> op_add
         | "-"                          -> op_sub
         | "&"                          -> op_and
         | "|"                          -> op_or
         | "^"                          -> op_xor
         | "&" "~"                      -> op_andnot

STAR: "*"
EQOP: "==" | "!="
RELOP: "<=" | ">=" | "<" | ">"
SHIFTOP.2: "<<" | ">>"
ADDOP: "+" | "-"
MULOP: "/" | "%"
TYPE.3: /(?:""" + _TYPE_WORDS + r""")(?![A-Za-z0-9_])/
CORE.3: /__(?:""" + _CORE_NAMES + r""")(?![A-Za-z0-9_])/
INT: /0[xX][0-9a-fA-F]+|[0-9]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/

%ignore /[ \t\r\n\f]+/
%ignore /\/\/[^\n]*/
%ignore /\/\*(.|\n)*?\*\//
"""

_C_GRAMMAR = r"""
start: thread*
thread: VOID? PROC "(" [param ("," param)*] ")" block
param: ctype NAME
VOID.4: /void(?=[ \t\r\n]+P[0-9])/
PROC.2: /P[0-9]+(?![A-Za-z0-9_])/
""" + _C_COMMON

_DEF_GRAMMAR = r"""
start: macro*
macro: NAME "(" [NAME ("," NAME)*] ")" (expr | block)
""" + _C_COMMON

_STATE_COMMON = r"""
?reg: INT ":" NAME                       -> reg
    | NAME ":" NAME                      -> preg
NAME: /[A-Za-z_$][A-Za-z0-9_$.]*/
INT: /-?(?:0[xX][0-9a-fA-F]+|[0-9]+)/
STAR: "*"
%ignore /[ \t\r\n\f]+/
%ignore /\(\*(.|\n)*?\*\)/
%ignore /\/\/[^\n]*/
%ignore /\/\*(.|\n)*?\*\//
"""

_INIT_GRAMMAR = r"""
start: [item] (";" [item])*
item: words ["=" ivalue]                -> item
    | words "[" INT "]"                  -> array_item
    | reg ["=" ivalue]                  -> reg_item
    | words INT ":" NAME ["=" ivalue]    -> typed_reg_item
    | "[" NAME "]" ["=" ivalue]         -> brk_item
words: (NAME | STAR)+
?ivalue: INT                             -> ival_int
       | NAME                            -> ival_sym
       | "&" NAME                        -> ival_sym
       | "ATOMIC_INIT" "(" INT ")"       -> ival_int
""" + _STATE_COMMON

_COND_GRAMMAR = r"""
start: [locations] [filter_clause] [quant] [";"]
locations: "locations" "[" [loc_item (";" loc_item)* [";"]] "]"
?loc_item: loc
filter_clause: "filter" prop
quant: EXISTS prop                       -> q_exists
     | NOTEXISTS prop                    -> q_not_exists
     | "forall" prop                     -> q_forall
     | "final" prop                      -> q_exists
     | "(" prop ")"                      -> q_paren

?prop: p_or
?p_or: p_and | p_or "\\/" p_and          -> p_or
?p_and: p_imp | p_and "/\\" p_imp        -> p_and
?p_imp: p_not | p_not "=>" p_imp         -> p_imp
?p_not: p_atom
      | NOT p_not                        -> p_not
      | "(" prop ")"
      | "true"                           -> p_true
      | "false"                          -> p_false
?p_atom: loc EQ value                    -> atom
       | loc NEQ value                   -> natom
       | loc EQ xloc                     -> loc_eq
       | loc NEQ xloc                    -> nloc_eq

?loc: reg
    | NAME                               -> mem
    | "[" NAME "]"                       -> mem
    | NAME "[" INT "]"                   -> mem_index
?xloc: reg
     | "[" NAME "]"                      -> mem
     | "*" NAME                          -> mem
?value: INT                              -> v_int
      | NAME                             -> v_sym
      | "&" NAME                         -> v_sym

EXISTS: "exists"
NOTEXISTS.3: /~[ \t]*exists(?![A-Za-z0-9_$.])/
NOT.2: /~|not(?![A-Za-z0-9_$.])/
EQ: "==" | "="
NEQ: "!=" | "<>"
""" + _STATE_COMMON



def _int(text: str) -> int:
    """An integer literal as herd7 reads it: ``0x``/``0o``/``0b`` prefixes, otherwise decimal,
    leading zeros included (``01`` is 1, as OCaml's ``int_of_string`` has it)."""
    try:
        return int(text, 0)
    except ValueError:
        return int(text, 10)

def expr_parser_grammar() -> str:
    """The grammar of .def files (used by :mod:`rmapwalk.litmus.macros`)."""
    return _DEF_GRAMMAR


_parsers: dict[str, Lark] = {}


def _parser(which: str) -> Lark:
    p = _parsers.get(which)
    if p is None:
        grammar = {"c": _C_GRAMMAR, "def": _DEF_GRAMMAR, "init": _INIT_GRAMMAR, "cond": _COND_GRAMMAR}[which]
        p = lark_parser(grammar, propagate_positions=True, maybe_placeholders=True)
        _parsers[which] = p
    return p


# ---------------------------------------------------------------------------------- transforms


class _Build(Transformer[Any, Any]):
    """Lark trees of the C, init and condition grammars -> AST nodes."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def _pos(self, meta_or_tok: Any) -> Pos | None:
        line = getattr(meta_or_tok, "line", None)
        col = getattr(meta_or_tok, "column", None)
        if line is None or col is None:
            return None
        return Pos(self.file, line, col)

    def _err(self, msg: str, where: Any) -> LitmusError:
        return LitmusError(msg, self._pos(where))

    # -- C: threads
    @v_args(meta=True)
    def thread(self, meta: Any, items: list[Any]) -> Thread:
        items = [i for i in items if not (isinstance(i, Token) and i.type == "VOID")]
        proc, *rest = items
        body = rest[-1]
        params = tuple(p for p in rest[:-1] if p is not None)
        return Thread(int(str(proc)[1:]), params, body, self._pos(proc))

    @v_args(meta=True)
    def param(self, meta: Any, items: list[Any]) -> Param:
        ctype, name = items
        return Param(ctype, str(name), self._pos(name))

    def base_type(self, items: list[Any]) -> str:
        return " ".join(str(i) for i in items)

    def struct_type(self, items: list[Any]) -> str:
        return f"struct {items[0]}"

    def ctype(self, items: list[Any]) -> str:
        base, *stars = items
        return f"{base} {'*' * len(stars)}" if stars else base

    def block(self, items: list[Any]) -> tuple[Stmt, ...]:
        out: list[Stmt] = []
        for s in items:
            if isinstance(s, list | tuple):  # declarations of several names, nested blocks
                out.extend(s)
            elif s is not None:
                out.append(s)
        return tuple(out)

    # -- C: statements
    @v_args(meta=True)
    def assign(self, meta: Any, items: list[Any]) -> Assign:
        name, value = items
        return Assign(str(name), value, self._pos(name))

    @v_args(meta=True)
    def store(self, meta: Any, items: list[Any]) -> Store:
        addr, value = items
        return Store(addr, value, self._pos(meta))

    @v_args(meta=True)
    def expr_stmt(self, meta: Any, items: list[Any]) -> ExprStmt:
        return ExprStmt(items[0], self._pos(meta))

    @staticmethod
    def _body(s: Any) -> tuple[Stmt, ...]:
        if s is None:
            return ()
        if isinstance(s, tuple):
            return s
        if isinstance(s, list):
            return tuple(s)
        return (s,)

    @v_args(meta=True)
    def if_stmt(self, meta: Any, items: list[Any]) -> If:
        cond, then, *orelse = items
        return If(cond, self._body(then), self._body(orelse[0]) if orelse else (), self._pos(meta))

    @v_args(meta=True)
    def while_stmt(self, meta: Any, items: list[Any]) -> While:
        cond, body = items
        return While(cond, self._body(body), self._pos(meta))

    def block_stmt(self, items: list[Any]) -> tuple[Stmt, ...]:
        return items[0]

    def empty_stmt(self, items: list[Any]) -> None:
        return None

    def decl_stmt(self, items: list[Any]) -> list[Decl]:
        base, *decls = items
        out = []
        for stars, name, init in decls:
            ctype = f"{base} {'*' * stars}" if stars else base
            out.append(Decl(ctype, str(name), init, self._pos(name)))
        return out

    def declarator(self, items: list[Any]) -> tuple[int, Token, Expr | None]:
        stars = [i for i in items if isinstance(i, Token) and i.type == "STAR"]
        rest = [i for i in items if not (isinstance(i, Token) and i.type == "STAR")]
        name, init = rest
        return len(stars), name, init

    def array_declarator(self, items: list[Any]) -> None:
        raise self._err("arrays in thread code are not supported", items[0])

    # -- C: expressions
    @v_args(meta=True)
    def int_lit(self, meta: Any, items: list[Any]) -> Int:
        return Int(_int(str(items[0])), self._pos(items[0]))

    @v_args(meta=True)
    def var(self, meta: Any, items: list[Any]) -> Var:
        return Var(str(items[0]), self._pos(items[0]))

    @v_args(meta=True)
    def call(self, meta: Any, items: list[Any]) -> Call:
        name, *args = items
        return Call(str(name), tuple(a for a in args if a is not None), None, self._pos(name))

    @v_args(meta=True)
    def core(self, meta: Any, items: list[Any]) -> Call:
        name = items[0]
        tag: str | None = None
        args: list[Expr] = []
        for it in items[1:]:
            if isinstance(it, _Tags):
                tag = ",".join(it.tags)
            elif it is not None:
                args.append(it)
        return Call(str(name), tuple(args), tag, self._pos(name))

    def tags(self, items: list[Any]) -> _Tags:
        return _Tags(tuple(items))

    def tag(self, items: list[Any]) -> str:
        return "-".join(str(i) for i in items)

    def _op(self, text: str, meta: Any) -> Str:
        return Str(text, self._pos(meta))

    @v_args(meta=True)
    def op_add(self, meta: Any, items: list[Any]) -> Str:
        return self._op("+", meta)

    @v_args(meta=True)
    def op_sub(self, meta: Any, items: list[Any]) -> Str:
        return self._op("-", meta)

    @v_args(meta=True)
    def op_and(self, meta: Any, items: list[Any]) -> Str:
        return self._op("&", meta)

    @v_args(meta=True)
    def op_or(self, meta: Any, items: list[Any]) -> Str:
        return self._op("|", meta)

    @v_args(meta=True)
    def op_xor(self, meta: Any, items: list[Any]) -> Str:
        return self._op("^", meta)

    @v_args(meta=True)
    def op_andnot(self, meta: Any, items: list[Any]) -> Str:
        return self._op("&~", meta)

    def _bin(self, op: str, meta: Any, items: list[Any]) -> BinOp:
        left, right = items
        return BinOp(op, left, right, self._pos(meta))

    @v_args(meta=True)
    def binop(self, meta: Any, items: list[Any]) -> BinOp:
        left, op, right = items
        return BinOp(str(op), left, right, self._pos(op))

    @v_args(meta=True)
    def mul(self, meta: Any, items: list[Any]) -> BinOp:
        return self._bin("*", meta, items)

    @v_args(meta=True)
    def lor(self, meta: Any, items: list[Any]) -> BinOp:
        return self._bin("||", meta, items)

    @v_args(meta=True)
    def land(self, meta: Any, items: list[Any]) -> BinOp:
        return self._bin("&&", meta, items)

    @v_args(meta=True)
    def bor(self, meta: Any, items: list[Any]) -> BinOp:
        return self._bin("|", meta, items)

    @v_args(meta=True)
    def bxor(self, meta: Any, items: list[Any]) -> BinOp:
        return self._bin("^", meta, items)

    @v_args(meta=True)
    def band(self, meta: Any, items: list[Any]) -> BinOp:
        return self._bin("&", meta, items)

    @v_args(meta=True)
    def neg(self, meta: Any, items: list[Any]) -> Expr:
        e = items[0]
        if isinstance(e, Int):
            return Int(-e.value, self._pos(meta))
        return UnOp("-", e, self._pos(meta))

    def uplus(self, items: list[Any]) -> Expr:
        return items[0]

    @v_args(meta=True)
    def lnot(self, meta: Any, items: list[Any]) -> UnOp:
        return UnOp("!", items[0], self._pos(meta))

    @v_args(meta=True)
    def bnot(self, meta: Any, items: list[Any]) -> UnOp:
        return UnOp("~", items[0], self._pos(meta))

    @v_args(meta=True)
    def deref(self, meta: Any, items: list[Any]) -> Deref:
        return Deref(items[0], self._pos(meta))

    @v_args(meta=True)
    def addr(self, meta: Any, items: list[Any]) -> Expr:
        e = items[0]
        if isinstance(e, Deref):  # &*p is p
            return e.addr
        return AddrOf(e, self._pos(meta))

    def cast(self, items: list[Any]) -> Expr:
        return items[1]  # casts are ignored

    @v_args(meta=True)
    def index(self, meta: Any, items: list[Any]) -> Expr:
        raise self._err("array indexing in thread code is not supported", meta)

    # -- .def macros
    def macro(self, items: list[Any]) -> tuple[Token, tuple[str, ...], Any]:
        name, *rest = items
        body = rest[-1]
        formals = tuple(str(f) for f in rest[:-1] if f is not None)
        return name, formals, body

    # -- init state
    def words(self, items: list[Any]) -> list[Token]:
        return list(items)

    def _split_words(self, words: list[Token]) -> tuple[str | None, Token]:
        if not words or words[-1].type != "NAME":
            raise self._err("expected a location name", words[-1] if words else None)
        target = words[-1]
        typ = [str(w) for w in words[:-1] if w.type == "NAME"]
        stars = sum(1 for w in words[:-1] if w.type == "STAR")
        if any(w.type == "STAR" for w, n in zip(words[:-1], words[1:-1], strict=False) if n.type == "NAME"):
            raise self._err("misplaced '*'", target)
        ctype: str | None = " ".join(typ) if typ else None
        if stars:
            ctype = f"{ctype or 'int'} {'*' * stars}"
        return ctype, target

    @v_args(meta=True)
    def item(self, meta: Any, items: list[Any]) -> InitItem:
        words, value = items
        ctype, target = self._split_words(words)
        return InitItem(str(target), value, ctype, None, None, self._pos(target))

    @v_args(meta=True)
    def array_item(self, meta: Any, items: list[Any]) -> InitItem:
        words, size = items
        ctype, target = self._split_words(words)
        n = _int(str(size))
        if n <= 0:
            raise self._err(f"bad array size {n}", size)
        return InitItem(str(target), None, ctype or "int", None, n, self._pos(target))

    @v_args(meta=True)
    def reg_item(self, meta: Any, items: list[Any]) -> InitItem:
        (tid, reg, where), value = items
        return InitItem(reg, value, None, tid, None, self._pos(where))

    @v_args(meta=True)
    def typed_reg_item(self, meta: Any, items: list[Any]) -> InitItem:
        words, tid, name, value = items
        typ = " ".join(str(w) for w in words if w.type == "NAME")
        stars = sum(1 for w in words if w.type == "STAR")
        ctype = f"{typ or 'int'} {'*' * stars}" if stars else typ
        return InitItem(str(name), value, ctype, _int(str(tid)), None, self._pos(tid))

    @v_args(meta=True)
    def brk_item(self, meta: Any, items: list[Any]) -> InitItem:
        name, value = items
        return InitItem(str(name), value, None, None, None, self._pos(name))

    @v_args(meta=True)
    def ival_int(self, meta: Any, items: list[Any]) -> Int:
        return Int(_int(str(items[0])), self._pos(items[0]))

    @v_args(meta=True)
    def ival_sym(self, meta: Any, items: list[Any]) -> Var:
        return Var(str(items[0]), self._pos(items[0]))

    # -- conditions
    def reg(self, items: list[Any]) -> tuple[int, str, Token]:
        tid, name = items
        n = _int(str(tid))
        if n < 0:
            raise self._err(f"bad thread number {tid}", tid)
        return n, str(name), tid

    def preg(self, items: list[Any]) -> tuple[int, str, Token]:
        proc, name = items
        m = re.fullmatch(r"P([0-9]+)", str(proc))
        if not m:
            raise self._err(f"unexpected token '{proc}'", proc)
        return int(m.group(1)), str(name), proc

    def _loc(self, x: Any) -> tuple[Loc, Pos | None]:
        if len(x) == 3:
            tid, reg, where = x
            return LocReg(tid, reg), self._pos(where)
        loc, where = x
        return loc, where

    @v_args(meta=True)
    def mem(self, meta: Any, items: list[Any]) -> tuple[LocMem, Pos | None]:
        return LocMem(str(items[0])), self._pos(items[0])

    @v_args(meta=True)
    def mem_index(self, meta: Any, items: list[Any]) -> tuple[LocMem, Pos | None]:
        return LocMem(str(items[0]), _int(str(items[1]))), self._pos(items[0])

    def v_int(self, items: list[Any]) -> int:
        return _int(str(items[0]))

    def v_sym(self, items: list[Any]) -> _Sym:
        return _Sym(str(items[0]), self._pos(items[0]))

    def atom(self, items: list[Any]) -> Atom:
        loc, where = self._loc(items[0])
        v = items[-1]
        return Atom(loc, v.name if isinstance(v, _Sym) else v, where)

    def natom(self, items: list[Any]) -> Not:
        return Not(self.atom(items))

    def loc_eq(self, items: list[Any]) -> LocEq:
        left, where = self._loc(items[0])
        right, _ = self._loc(items[-1])
        return LocEq(left, right, where)

    def nloc_eq(self, items: list[Any]) -> Not:
        return Not(self.loc_eq(items))

    def p_or(self, items: list[Any]) -> Or:  # a \/ b \/ c is one disjunction
        return Or(tuple(q for p in items for q in (p.props if isinstance(p, Or) and p.props else (p,))))

    def p_and(self, items: list[Any]) -> And:
        return And(tuple(q for p in items for q in (p.props if isinstance(p, And) and p.props else (p,))))

    def p_imp(self, items: list[Any]) -> Implies:
        return Implies(items[0], items[1])

    def p_not(self, items: list[Any]) -> Not:
        return Not(items[1])

    def p_true(self, items: list[Any]) -> Const:
        return Const(True)

    def p_false(self, items: list[Any]) -> Const:
        return Const(False)

    def locations(self, items: list[Any]) -> _Locations:
        return _Locations(tuple(self._loc(i)[0] for i in items if i is not None))

    def filter_clause(self, items: list[Any]) -> _Filter:
        return _Filter(items[0])

    @v_args(meta=True)
    def q_exists(self, meta: Any, items: list[Any]) -> Condition:
        return Condition("exists", items[-1], self._pos(meta))

    @v_args(meta=True)
    def q_not_exists(self, meta: Any, items: list[Any]) -> Condition:
        return Condition("~exists", items[-1], self._pos(meta))

    @v_args(meta=True)
    def q_forall(self, meta: Any, items: list[Any]) -> Condition:
        return Condition("forall", items[-1], self._pos(meta))

    @v_args(meta=True)
    def q_paren(self, meta: Any, items: list[Any]) -> Condition:
        return Condition("exists", items[-1], self._pos(meta))


@dataclass(frozen=True)
class _Tags:
    tags: tuple[str, ...]


@dataclass(frozen=True)
class _Sym:
    name: str
    pos: Pos | None


@dataclass(frozen=True)
class _Locations:
    locs: tuple[Loc, ...]


@dataclass(frozen=True)
class _Filter:
    prop: Prop


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "unexpected end of input"
    text = str(tok)
    if len(text) > 30:
        text = text[:27] + "..."
    return f"unexpected token '{text}'"


def _run(which: str, text: str, file: str, what: str) -> Any:
    """Parse ``text`` (a whole file with everything outside the part blanked) with a grammar."""
    try:
        tree = _parser(which).parse(text)
        return _Build(file).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, LitmusError):
            raise e.orig_exc from None
        raise LitmusError(f"internal error while reading {what}: {e.orig_exc}") from None
    except UnexpectedToken as e:
        tok = e.token
        if tok.type == "$END":
            line, col = _end_pos(text)
            raise LitmusError(f"unexpected end of {what}", Pos(file, line, col)) from None
        msg = _describe_token(tok)
        expected = _expected_text(which, e.expected)
        if expected:
            msg += f", expected {expected}"
        raise LitmusError(msg, Pos(file, tok.line or 0, tok.column or 0)) from None
    except UnexpectedCharacters as e:
        at = e.pos_in_stream
        ch = text[at] if at is not None and at < len(text) else "?"
        raise LitmusError(f"unexpected character {ch!r}", Pos(file, e.line, e.column)) from None
    except UnexpectedEOF:
        line, col = _end_pos(text)
        raise LitmusError(f"unexpected end of {what}", Pos(file, line, col)) from None
    except UnexpectedInput as e:  # pragma: no cover - other lark errors
        raise LitmusError(f"syntax error in {what}", Pos(file, e.line, e.column)) from None


_TERMINAL_WORDS = {"NAME": "a name", "INT": "a number", "TYPE": "a type", "PROC": "a thread 'P0'"}


def _expected_text(which: str, expected: set[str] | None) -> str:
    """``';'`` when the parser expected exactly one token (else nothing: long lists do not help)."""
    if not expected or len(expected) != 1:
        return ""
    (name,) = expected
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = _parser(which).get_terminal(name).pattern
    except KeyError:
        return ""
    if pattern.type == "str":
        return f"'{pattern.value}'"
    return ""


def _end_pos(text: str) -> tuple[int, int]:
    line = text.count("\n") + 1
    col = len(text) - (text.rfind("\n") + 1) + 1
    return line, col
