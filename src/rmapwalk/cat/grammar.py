"""The lark grammar of herd's *cat* language and the transformer from its trees to
:mod:`.syntax` nodes.  Imported only when a text is really parsed (:func:`.reader.parse` caches
the trees of files), so that a cached model costs no lark import."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .errors import CatError, Pos
from .syntax import (
    App,
    Bin,
    Bind,
    Binding,
    CallI,
    Const,
    EnumI,
    Exp,
    ExplSet,
    ForallI,
    Fun,
    IfVar,
    IfVarI,
    IncludeI,
    Ins,
    LetI,
    MatchSet,
    MatchTag,
    Model,
    NOp,
    NopI,
    Pat,
    ProcI,
    TagE,
    TestI,
    Try,
    TupleE,
    Un,
    Var,
    VCond,
    WithI,
    strip_comments,
)

# --------------------------------------------------------------------------------------------------------------------
# Grammar
# --------------------------------------------------------------------------------------------------------------------

GRAMMAR = r"""
start: title? "catdep"? topins*

title: STRING -> title
     | NAME STRING? -> title
     | NAME NAME -> title

?topins: enum | ins

enum: "enum" NAME "=" "||"? TAG ("||" TAG)*

?ins: "let" pat_bind ("and" pat_bind)* "in"? -> let_ins
    | "let" "rec" pat_bind ("and" pat_bind)* "in"? -> letrec_ins
    | test_ins
    | "show" base ("," base)* ("as" NAME)? -> show_ins
    | "unshow" NAME ("," NAME)* -> show_ins
    | "include" STRING -> include_ins
    | "procedure" "rec"? NAME "(" formals ")" "=" ins* "end" -> proc_ins
    | "procedure" "rec"? NAME pat0 "=" ins* "end" -> proc1_ins
    | "call" NAME simple ("as" NAME)? -> call_ins
    | "debug" exp -> debug_ins
    | "forall" NAME "in" exp "do" ins* "end" -> forall_ins
    | "with" NAME "from" exp -> with_ins
    | "if" vor ins_block ("else" ins_block)? "end" -> ifvar_ins
    | "instructions" NAME "[" args "]" -> events_ins
    | "default" NAME "[" args "]" -> events_ins

ins_block: ins*

test_ins: ttype? tneg? tkind exp ("as" NAME)?
!ttype: "flag" | "undefined_unless" | "assert"
!tneg: "~"
!tkind: "acyclic" | "irreflexive" | "empty"

?vor: vand | vor "||" vand -> vor
?vand: vnot | vand "&&" vnot -> vand
?vnot: "not" vnot -> vnot | vatom
?vatom: "variant"? STRING -> vstr
      | "(" vor ")"

pat0: "_" -> wild
    | NAME -> pname
formals: (pat0 ("," pat0)*)?

pat_bind: "(" formals ")" "=" exp -> bind_tup
        | pat0 ("," pat0)* "=" exp -> bind_plain
        | NAME pat0 "=" exp -> bind_fun1
        | NAME "(" formals ")" "=" exp -> bind_fun

?exp: "let" pat_bind ("and" pat_bind)* "in" exp -> bind_exp
    | "let" "rec" pat_bind ("and" pat_bind)* "in" exp -> bindrec_exp
    | "fun" pat0 "->" exp -> fun1
    | "fun" "(" formals ")" "->" exp -> funt
    | "try" exp "with" exp -> try_
    | "if" vor "then" exp "else" exp -> if_
    | "match" exp "with" "||"? tag_clauses "end" -> match_tag
    | "match" exp "with" "||"? set_clauses "end" -> match_set
    | tuple

?tuple: base
      | base ("," base)+ -> tuple_

tag_clauses: tag_clause ("||" tag_clause)* ("||" default_clause)?
           | default_clause
tag_clause: TAG "->" exp
default_clause: "_" "->" exp

set_clauses: empty_clause "||" elt_clause
           | elt_clause "||" empty_clause
empty_clause: "{" "}" "->" exp
elt_clause: pat0 "++" pat0 "->" exp -> elt2
          | pat0 "|" pat0 "++" pat0 "->" exp -> elt3

?base: plusplus
     | base "|" plusplus -> union
?plusplus: seq
     | seq "++" plusplus -> add
?seq: diff
     | seq ";" diff -> seq
?diff: inter
     | diff "\\" inter -> diff
?inter: cart
     | cart "&" inter -> inter
?cart: unary
     | postfix "*" unary -> cart
?unary: postfix
     | "~" unary -> comp
?postfix: app
     | postfix "*" -> star
     | postfix "+" -> plus
     | postfix "?" -> opt
     | postfix "^" "-1" -> inv
     | postfix "^" "+" -> plus
     | postfix "^" "*" -> star
?app: atom
     | app arg -> app
?arg: NAME -> var
     | simple
?atom: NAME -> var
     | simple
?simple: "0" -> zero
     | TAG -> tag
     | "{" args "}" -> eset
     | "_" -> univ
     | "(" ")" -> unit
     | "(" exp ")"
     | "begin" exp "end"
     | "[" exp "]" -> toid
args: (base ("," base)*)?

NAME: /_?[A-Za-z][A-Za-z0-9_.\-]*'?/
TAG: /'_?[A-Za-z][A-Za-z0-9_.\-]*'?/
STRING: /"[^"]*"/
%ignore /[ \t\r\n\f]+/
"""


@lru_cache(maxsize=1)
def _parser() -> Lark:
    from rmapwalk.cache import lark_parser

    parser: Lark = lark_parser(GRAMMAR, lexer="basic", propagate_positions=True, maybe_placeholders=False)
    return parser


def _is_tok(x: object, typ: str | None = None) -> bool:
    return isinstance(x, Token) and (typ is None or x.type == typ)


@v_args(meta=True)
class _Build(Transformer[Token, Model]):
    def __init__(self, file: str) -> None:
        super().__init__(visit_tokens=False)
        self.file = file

    def _p(self, meta: Any) -> Pos:
        if getattr(meta, "empty", True):
            return Pos(self.file, 0, 0)
        return Pos(self.file, meta.line, meta.column)

    # -- file -----------------------------------------------------------------------------------------------------
    def title(self, meta: Any, ch: list[Any]) -> str:
        strings = [str(t)[1:-1] for t in ch if _is_tok(t, "STRING")]
        if strings:
            return strings[0]
        return str(ch[-1])

    def start(self, meta: Any, ch: list[Any]) -> Model:
        title = ""
        body: list[Ins] = []
        for c in ch:
            if isinstance(c, str) and not isinstance(c, Token):
                title = c
            elif isinstance(c, Ins):
                body.append(c)
        return Model(self.file, title, body)

    # -- instructions ---------------------------------------------------------------------------------------------
    def enum(self, meta: Any, ch: list[Any]) -> Ins:
        return EnumI(self._p(meta), str(ch[0]), [str(t)[1:] for t in ch[1:]])

    def let_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return LetI(self._p(meta), list(ch), False)

    def letrec_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return LetI(self._p(meta), list(ch), True)

    def test_ins(self, meta: Any, ch: list[Any]) -> Ins:
        ttype = "check"
        neg = False
        kind = ""
        name: str | None = None
        e: Exp | None = None
        for c in ch:
            if isinstance(c, tuple) and c[0] == "ttype":
                ttype = c[1]
            elif isinstance(c, tuple) and c[0] == "tneg":
                neg = True
            elif isinstance(c, tuple) and c[0] == "tkind":
                kind = c[1]
            elif isinstance(c, Exp):
                e = c
            elif _is_tok(c, "NAME"):
                name = str(c)
        assert e is not None
        return TestI(self._p(meta), kind, neg, ttype, e, name)

    def ttype(self, meta: Any, ch: list[Any]) -> tuple[str, str]:
        return ("ttype", str(ch[0]))

    def tneg(self, meta: Any, ch: list[Any]) -> tuple[str, str]:
        return ("tneg", "~")

    def tkind(self, meta: Any, ch: list[Any]) -> tuple[str, str]:
        return ("tkind", str(ch[0]))

    def show_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return NopI(self._p(meta), "show")

    def debug_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return NopI(self._p(meta), "debug")

    def events_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return NopI(self._p(meta), "instructions")

    def include_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return IncludeI(self._p(meta), str(ch[0])[1:-1])

    def proc_ins(self, meta: Any, ch: list[Any]) -> Ins:
        name = str(ch[0])
        pat: Pat = ch[1]
        if len(pat.names) == 1:
            pat = Pat(pat.names, False)
        return ProcI(self._p(meta), name, pat, [c for c in ch[2:] if isinstance(c, Ins)])

    def proc1_ins(self, meta: Any, ch: list[Any]) -> Ins:
        name = str(ch[0])
        return ProcI(self._p(meta), name, Pat((ch[1],), False), [c for c in ch[2:] if isinstance(c, Ins)])

    def call_ins(self, meta: Any, ch: list[Any]) -> Ins:
        alias = str(ch[2]) if len(ch) > 2 else None
        return CallI(self._p(meta), str(ch[0]), ch[1], alias)

    def forall_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return ForallI(self._p(meta), str(ch[0]), ch[1], [c for c in ch[2:] if isinstance(c, Ins)])

    def with_ins(self, meta: Any, ch: list[Any]) -> Ins:
        return WithI(self._p(meta), str(ch[0]), ch[1])

    def ins_block(self, meta: Any, ch: list[Any]) -> list[Ins]:
        return list(ch)

    def ifvar_ins(self, meta: Any, ch: list[Any]) -> Ins:
        cond = ch[0]
        then = ch[1]
        orelse = ch[2] if len(ch) > 2 else []
        return IfVarI(self._p(meta), cond, then, orelse)

    # -- variants -------------------------------------------------------------------------------------------------
    def vstr(self, meta: Any, ch: list[Any]) -> VCond:
        return ("v", str(ch[-1])[1:-1])

    def vnot(self, meta: Any, ch: list[Any]) -> VCond:
        return ("not", ch[0])

    def vand(self, meta: Any, ch: list[Any]) -> VCond:
        return ("and", ch[0], ch[1])

    def vor(self, meta: Any, ch: list[Any]) -> VCond:
        return ("or", ch[0], ch[1])

    # -- patterns and bindings ------------------------------------------------------------------------------------
    def wild(self, meta: Any, ch: list[Any]) -> None:
        return None

    def pname(self, meta: Any, ch: list[Any]) -> str:
        return str(ch[0])

    def formals(self, meta: Any, ch: list[Any]) -> Pat:
        return Pat(tuple(ch), True)

    def bind_tup(self, meta: Any, ch: list[Any]) -> Binding:
        pat: Pat = ch[0]
        if len(pat.names) == 1:
            pat = Pat(pat.names, False)
        return Binding(self._p(meta), pat, ch[1])

    def bind_plain(self, meta: Any, ch: list[Any]) -> Binding:
        names = tuple(ch[:-1])
        return Binding(self._p(meta), Pat(names, len(names) > 1), ch[-1])

    def bind_fun1(self, meta: Any, ch: list[Any]) -> Binding:
        pos = self._p(meta)
        name = str(ch[0])
        return Binding(pos, Pat((name,), False), Fun(pos, Pat((ch[1],), False), ch[2], name))

    def bind_fun(self, meta: Any, ch: list[Any]) -> Binding:
        pos = self._p(meta)
        name = str(ch[0])
        pat: Pat = ch[1]
        if len(pat.names) == 1:
            pat = Pat(pat.names, False)
        return Binding(pos, Pat((name,), False), Fun(pos, pat, ch[2], name))

    # -- expressions ----------------------------------------------------------------------------------------------
    def bind_exp(self, meta: Any, ch: list[Any]) -> Exp:
        return Bind(self._p(meta), list(ch[:-1]), ch[-1], False)

    def bindrec_exp(self, meta: Any, ch: list[Any]) -> Exp:
        return Bind(self._p(meta), list(ch[:-1]), ch[-1], True)

    def fun1(self, meta: Any, ch: list[Any]) -> Exp:
        return Fun(self._p(meta), Pat((ch[0],), False), ch[1], "*fun*")

    def funt(self, meta: Any, ch: list[Any]) -> Exp:
        pat: Pat = ch[0]
        if len(pat.names) == 1:
            pat = Pat(pat.names, False)
        return Fun(self._p(meta), pat, ch[1], "*fun*")

    def try_(self, meta: Any, ch: list[Any]) -> Exp:
        return Try(self._p(meta), ch[0], ch[1])

    def if_(self, meta: Any, ch: list[Any]) -> Exp:
        return IfVar(self._p(meta), ch[0], ch[1], ch[2])

    def tag_clause(self, meta: Any, ch: list[Any]) -> tuple[str, Exp]:
        return (str(ch[0])[1:], ch[1])

    def default_clause(self, meta: Any, ch: list[Any]) -> tuple[None, Exp]:
        return (None, ch[0])

    def tag_clauses(self, meta: Any, ch: list[Any]) -> list[Any]:
        return list(ch)

    def match_tag(self, meta: Any, ch: list[Any]) -> Exp:
        clauses = [c for c in ch[1] if c[0] is not None]
        default = [c[1] for c in ch[1] if c[0] is None]
        return MatchTag(self._p(meta), ch[0], clauses, default[0] if default else None)

    def empty_clause(self, meta: Any, ch: list[Any]) -> tuple[str, Exp]:
        return ("empty", ch[0])

    def elt2(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[str | None, ...], Exp]:
        return ("elt", (ch[0], ch[1]), ch[2])

    def elt3(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[str | None, ...], Exp]:
        return ("elt", (ch[0], ch[1], ch[2]), ch[3])

    def set_clauses(self, meta: Any, ch: list[Any]) -> list[Any]:
        return list(ch)

    def match_set(self, meta: Any, ch: list[Any]) -> Exp:
        empty = [c for c in ch[1] if c[0] == "empty"][0]
        elt = [c for c in ch[1] if c[0] == "elt"][0]
        return MatchSet(self._p(meta), ch[0], empty[1], elt[1], elt[2])

    def tuple_(self, meta: Any, ch: list[Any]) -> Exp:
        return TupleE(self._p(meta), list(ch))

    def _nop(self, meta: Any, op: str, ch: list[Any]) -> Exp:
        es: list[Exp] = []
        for c in ch:
            if isinstance(c, NOp) and c.op == op:
                es.extend(c.es)
            else:
                es.append(c)
        return NOp(self._p(meta), op, es)

    def union(self, meta: Any, ch: list[Any]) -> Exp:
        return self._nop(meta, "union", ch)

    def seq(self, meta: Any, ch: list[Any]) -> Exp:
        return self._nop(meta, "seq", ch)

    def add(self, meta: Any, ch: list[Any]) -> Exp:
        return Bin(self._p(meta), "add", ch[0], ch[1])

    def diff(self, meta: Any, ch: list[Any]) -> Exp:
        return Bin(self._p(meta), "diff", ch[0], ch[1])

    def inter(self, meta: Any, ch: list[Any]) -> Exp:
        return Bin(self._p(meta), "inter", ch[0], ch[1])

    def cart(self, meta: Any, ch: list[Any]) -> Exp:
        return Bin(self._p(meta), "cart", ch[0], ch[1])

    def comp(self, meta: Any, ch: list[Any]) -> Exp:
        return Un(self._p(meta), "comp", ch[0])

    def star(self, meta: Any, ch: list[Any]) -> Exp:
        return Un(self._p(meta), "star", ch[0])

    def plus(self, meta: Any, ch: list[Any]) -> Exp:
        return Un(self._p(meta), "plus", ch[0])

    def opt(self, meta: Any, ch: list[Any]) -> Exp:
        return Un(self._p(meta), "opt", ch[0])

    def inv(self, meta: Any, ch: list[Any]) -> Exp:
        return Un(self._p(meta), "inv", ch[0])

    def toid(self, meta: Any, ch: list[Any]) -> Exp:
        return Un(self._p(meta), "toid", ch[0])

    def app(self, meta: Any, ch: list[Any]) -> Exp:
        return App(self._p(meta), ch[0], ch[1])

    def var(self, meta: Any, ch: list[Any]) -> Exp:
        return Var(self._p(meta), str(ch[0]))

    def zero(self, meta: Any, ch: list[Any]) -> Exp:
        return Const(self._p(meta), "empty")

    def univ(self, meta: Any, ch: list[Any]) -> Exp:
        return Const(self._p(meta), "univ")

    def unit(self, meta: Any, ch: list[Any]) -> Exp:
        return TupleE(self._p(meta), [])

    def tag(self, meta: Any, ch: list[Any]) -> Exp:
        return TagE(self._p(meta), str(ch[0])[1:])

    def eset(self, meta: Any, ch: list[Any]) -> Exp:
        return ExplSet(self._p(meta), list(ch[0]) if ch else [])

    def args(self, meta: Any, ch: list[Any]) -> list[Exp]:
        return list(ch)


def parse_text(text: str, file: str) -> Model:
    """Parse the text of a cat file (no cache); :class:`CatError` at a syntax error."""
    clean = strip_comments(text, file)
    try:
        tree = _parser().parse(clean)
    except UnexpectedInput as e:
        pos = Pos(file, getattr(e, "line", 0) or 0, getattr(e, "column", 0) or 0)
        if isinstance(e, UnexpectedToken):
            tok = e.token
            what = "end of file" if tok.type == "$END" else repr(str(tok))
            raise CatError(pos, f"syntax error: unexpected {what}") from None
        if isinstance(e, UnexpectedCharacters):
            raise CatError(pos, f"syntax error: unexpected character {e.char!r}") from None
        if isinstance(e, UnexpectedEOF):
            raise CatError(pos, "syntax error: unexpected end of file") from None
        raise CatError(pos, "syntax error") from None
    try:
        model = _Build(file).transform(tree)
    except VisitError as e:  # pragma: no cover - defensive
        if isinstance(e.orig_exc, CatError):
            raise e.orig_exc from None
        raise
    assert isinstance(model, Model)
    return model
