"""Compile a cat model into Python closures and run it on candidate executions.

Names are resolved statically: every ``let`` gets a slot in a frame (a Python list whose element 0 is the
enclosing frame), so a variable access is a list index.  Top-level definitions and the base names of the
execution are :class:`Lazy` objects in a frame template copied at the start of each run; a definition is computed
when first used, at most once per run for the paths that branch after it.  ``with x from S`` runs the rest of the
model once per element of ``S``, on a copy of the top frame when there is more than one.  Checks run in order and
a path stops at its first failed check.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import syntax as S
from .context import Ctx, Execution, tag_set_name
from .errors import NOWHERE, CatError, Pos
from .ops import (
    add2,
    as_rel,
    as_set,
    cart2,
    comp1,
    diff2,
    from_elements,
    inter2,
    inv1,
    is_empty,
    mat,
    opt1,
    plus1,
    star1,
    subsumed,
    toid1,
    union2,
)
from .prelude import APPLY, LIBRARY, PRIMITIVES
from .reader import parse
from .relations import bits
from .values import EMPTY, UNIV, Closure, Code, Event, LazyVSet, Pair, Prim, Proc, Rel, TagV, VSet, canon, describe

# ----------------------------------------------------------------------------------------------------------------
# Public data
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    failed: str | None
    flags: frozenset[str]


# ----------------------------------------------------------------------------------------------------------------
# Runtime helpers
# ----------------------------------------------------------------------------------------------------------------

REL0 = Rel(0)  # relations are never mutated, so one empty relation can be shared
_NOTHING = object()


class Thunk:
    __slots__ = ("code", "val", "state", "pos")

    def __init__(self, code: Code, pos: Pos) -> None:
        self.code = code
        self.val: Any = None
        self.state = 0  # 0 fresh, 1 being computed, 2 done
        self.pos = pos

    def force(self, fr: list[Any], slot: int, cx: Ctx) -> Any:
        if self.state == 2:
            fr[slot] = self.val
            return self.val
        if self.state == 1:
            raise CatError(self.pos, "definition depends on itself (use let rec)")
        self.state = 1
        try:
            v = self.code(fr, cx)
        except BaseException:
            self.state = 0
            raise
        self.val = v
        self.state = 2
        fr[slot] = v
        return v


class Lazy:
    """A top-level definition (or a base name of the execution) in the frame template shared by all runs.

    Forcing it stores the value in the frame, and in the frames it was copied from at ``with`` branches when the
    definition precedes the branch, so later paths reuse it.  A top frame's slot 0 is ``None`` or the pair
    (frame copied from, first slot bound after the branch)."""

    __slots__ = ("code", "pos", "name")

    def __init__(self, code: Code | None, pos: Pos, name: str | None = None) -> None:
        self.code = code
        self.pos = pos
        self.name = name  # set for a base name of the execution

    def force(self, fr: list[Any], slot: int, cx: Ctx) -> Any:
        code = self.code
        v = cx.base(self.name, self.pos) if code is None else code(fr, cx)  # type: ignore[arg-type]
        fr[slot] = v
        link = fr[0]
        while link is not None:
            parent, bound = link
            if slot >= bound:
                break
            parent[slot] = v
            link = parent[0]
        return v


def _bind_params(fr: list[Any], nparams: int, is_tuple: bool, arg: Any, pos: Pos, name: str) -> None:
    if not is_tuple:
        fr[1] = arg
        return
    if type(arg) is tuple:
        vals: tuple[Any, ...] = arg
    elif type(arg) is Pair and nparams == 2:
        vals = (Event(arg.i), Event(arg.j))
    else:
        vals = (arg,)
    if len(vals) != nparams:
        raise CatError(pos, f"{name}: {nparams} argument(s) expected, {len(vals)} given")
    for k, v in enumerate(vals):
        fr[k + 1] = v


def apply(f: Any, arg: Any, cx: Ctx, pos: Pos) -> Any:
    t = type(f)
    if t is Closure:
        fr: list[Any] = [None] * f.size[0]
        fr[0] = f.env
        _bind_params(fr, f.nparams, f.is_tuple, arg, pos, f.name)
        return f.code(fr, cx)
    if t is Prim:
        return f.fn(arg, cx, pos)
    raise CatError(pos, f"function expected, {describe(f)} found")


APPLY.append(apply)


def _iter_set(v: Any, cx: Ctx, pos: Pos) -> Iterator[Any]:
    t = type(v)
    if t is LazyVSet:
        return iter(v)
    if t is VSet:
        return iter(v.items)
    if v is EMPTY:
        return iter(())
    if t is int:
        return (Event(i) for i in bits(v))
    if t is Rel:
        return (Pair(i, j) for i, j in cx.sh.pairs(v.m))
    raise CatError(pos, f"set expected, {describe(v)} found")


# ----------------------------------------------------------------------------------------------------------------
# Compiler
# ----------------------------------------------------------------------------------------------------------------


class _Frame:
    def __init__(self) -> None:
        self.size = [1]  # slot 0: enclosing frame

    def alloc(self) -> int:
        s = self.size[0]
        self.size[0] += 1
        return s


class _Scope:
    def __init__(self, frame: _Frame, parent: _Scope | None, boundary: bool) -> None:
        self.frame = frame
        self.parent = parent
        self.boundary = boundary  # True for the outermost scope of a frame
        self.names: dict[str, int] = {}

    def lookup(self, name: str) -> tuple[int, int] | None:
        sc: _Scope | None = self
        depth = 0
        while sc is not None:
            slot = sc.names.get(name)
            if slot is not None:
                return depth, slot
            if sc.boundary:
                depth += 1
            sc = sc.parent
        return None

    def bind(self, name: str | None) -> int:
        slot = self.frame.alloc()
        if name is not None:
            self.names[name] = slot
        return slot

    def child(self) -> _Scope:
        return _Scope(self.frame, self, False)


# step kinds
LET, SET, REC, TEST, WITH, CALL, FORALL = range(7)


def _vcond(c: S.VCond, variants: frozenset[str]) -> bool:
    op = c[0]
    if op == "v":
        return c[1] in variants
    if op == "not":
        return not _vcond(c[1], variants)
    if op == "and":
        return _vcond(c[1], variants) and _vcond(c[2], variants)
    return _vcond(c[1], variants) or _vcond(c[2], variants)


def _lazy_var_code(depth: int, slot: int) -> Code:
    if depth == 0:

        def lazy0(fr: list[Any], cx: Ctx) -> Any:
            v = fr[slot]
            if type(v) is Lazy:
                return v.force(fr, slot, cx)
            return v

        return lazy0
    if depth == 1:

        def lazy1(fr: list[Any], cx: Ctx) -> Any:
            f = fr[0]
            v = f[slot]
            if type(v) is Lazy:
                return v.force(f, slot, cx)
            return v

        return lazy1

    def lazyn(fr: list[Any], cx: Ctx) -> Any:
        f = fr
        for _ in range(depth):
            f = f[0]
        v = f[slot]
        if type(v) is Lazy:
            return v.force(f, slot, cx)
        return v

    return lazyn


def _var_code(depth: int, slot: int, pos: Pos, name: str) -> Code:
    def missing() -> CatError:
        return CatError(pos, f"{name!r} is used before it is defined")

    if depth == 0:

        def var0(fr: list[Any], cx: Ctx) -> Any:
            v = fr[slot]
            if type(v) is Thunk:
                return v.force(fr, slot, cx)
            if v is None:
                raise missing()
            return v

        return var0
    if depth == 1:

        def var1(fr: list[Any], cx: Ctx) -> Any:
            f = fr[0]
            v = f[slot]
            if type(v) is Thunk:
                return v.force(f, slot, cx)
            if v is None:
                raise missing()
            return v

        return var1

    def varn(fr: list[Any], cx: Ctx) -> Any:
        f = fr
        for _ in range(depth):
            f = f[0]
        v = f[slot]
        if type(v) is Thunk:
            return v.force(f, slot, cx)
        if v is None:
            raise missing()
        return v

    return varn


class Compiler:
    def __init__(self, variants: frozenset[str], search: Sequence[Path]) -> None:
        self.variants = variants
        self.search = list(search)
        self.top_frame = _Frame()
        self.top = _Scope(self.top_frame, None, True)
        self.tag_sets: set[str] = set()
        self.include_depth = 0
        self.externals: dict[str, int] = {}  # base names of the execution -> top-frame slot
        self.template: dict[int, Lazy] = {}  # top-frame slots holding a shared Lazy at the start of a run
        self.lazy_slots: set[int] = set()

    # -- files ----------------------------------------------------------------------------------------------------
    def find_include(self, fname: str, including: str, pos: Pos) -> tuple[str, str]:
        dirs: list[Path] = []
        if not including.startswith("<"):
            dirs.append(Path(including).parent)
        dirs.extend(self.search)
        for d in dirs:
            p = d / fname
            if p.is_file():
                return str(p), p.read_text()
        if fname in LIBRARY:
            return f"<builtin>/{fname}", LIBRARY[fname]
        raise CatError(pos, f"cannot find included file {fname!r}")

    def program(self, model: S.Model, scope: _Scope, steps: list[tuple[Any, ...]], top: bool) -> None:
        self.block(model.body, scope, steps, top, model.file)

    # -- instructions ---------------------------------------------------------------------------------------------
    def block(self, body: list[S.Ins], scope: _Scope, steps: list[tuple[Any, ...]], top: bool, file: str) -> None:
        for ins in body:
            self.ins(ins, scope, steps, top, file)

    def ins(self, ins: S.Ins, scope: _Scope, steps: list[tuple[Any, ...]], top: bool, file: str) -> None:
        if isinstance(ins, S.LetI):
            if ins.rec:
                steps.append(self.rec_step(ins.binds, scope))
            elif top and scope is self.top:
                for slot, code, p in self.let_bindings(ins.binds, scope, scope, lazy=True):
                    self.template[slot] = Lazy(code, p)
            else:
                steps.append((LET, self.let_bindings(ins.binds, scope, scope)))
        elif isinstance(ins, S.TestI):
            code = self.exp(ins.e, scope)
            name = ins.name if ins.name is not None else f"{ins.kind}@{ins.pos}"
            steps.append((TEST, code, ins.kind, ins.neg, ins.ttype, name, ins.pos))
        elif isinstance(ins, S.NopI):
            pass
        elif isinstance(ins, S.IncludeI):
            if self.include_depth > 40:
                raise CatError(ins.pos, "includes nested too deeply")
            path, text = self.find_include(ins.fname, file, ins.pos)
            sub = parse(text, path)
            self.include_depth += 1
            try:
                self.program(sub, scope, steps, top)
            finally:
                self.include_depth -= 1
        elif isinstance(ins, S.EnumI):
            for t in ins.tags:
                self.tag_sets.add(tag_set_name(t))
            val = VSet(frozenset(TagV(t) for t in ins.tags))
            slot = scope.bind(ins.name)
            steps.append((SET, slot, lambda fr, cx, _v=val: _v))
        elif isinstance(ins, S.WithI):
            if not top:
                raise CatError(ins.pos, "'with ... from' is only supported at the top level of a model")
            code = self.exp(ins.e, scope)
            slot = scope.bind(ins.var)
            steps.append((WITH, slot, code, ins.pos, ins.var))
        elif isinstance(ins, S.IfVarI):
            chosen = ins.then if _vcond(ins.cond, self.variants) else ins.orelse
            self.block(chosen, scope, steps, top, file)
        elif isinstance(ins, S.ProcI):
            frame = _Frame()
            inner = _Scope(frame, scope, True)
            pslot = scope.bind(ins.name)  # visible in its own body (procedure rec)
            for p in ins.pat.names:
                inner.bind(p)
            body: list[tuple[Any, ...]] = []
            self.block(ins.body, inner, body, False, file)
            nparams = len(ins.pat.names)
            is_tuple = ins.pat.is_tuple
            size = frame.size
            name = ins.name
            steps.append(
                (SET, pslot, lambda fr, cx: Proc(body, nparams, is_tuple, fr, size, name)),
            )
        elif isinstance(ins, S.CallI):
            fcode = self.var(ins.name, ins.pos, scope)
            acode = self.exp(ins.arg, scope)
            steps.append((CALL, fcode, acode, ins.alias or ins.name, ins.pos))
        elif isinstance(ins, S.ForallI):
            code = self.exp(ins.e, scope)
            inner = scope.child()
            slot = inner.bind(ins.var)
            body = []
            self.block(ins.body, inner, body, False, file)
            steps.append((FORALL, slot, code, body, ins.pos))
        else:  # pragma: no cover
            raise CatError(ins.pos, f"unsupported instruction {type(ins).__name__}")

    def let_bindings(
        self, binds: list[S.Binding], rhs_scope: _Scope, bind_scope: _Scope, lazy: bool = False
    ) -> list[Any]:
        """Compile non-recursive bindings: all right-hand sides first, then the names.  ``lazy``: the slots will
        hold shared :class:`Lazy` objects (top-level definitions)."""
        codes = [(b, self.exp(b.e, rhs_scope)) for b in binds]
        out: list[Any] = []
        for b, code in codes:
            if not b.pat.is_tuple:
                slot = bind_scope.bind(b.pat.names[0])
                if lazy:
                    self.lazy_slots.add(slot)
                out.append((slot, code, b.pos))
            else:
                hidden = bind_scope.bind(None)
                if lazy:
                    self.lazy_slots.add(hidden)
                out.append((hidden, code, b.pos))
                k = len(b.pat.names)
                for idx, nm in enumerate(b.pat.names):
                    if nm is None:
                        continue
                    proj = _lazy_var_code(0, hidden) if lazy else _var_code(0, hidden, b.pos, "tuple")
                    slot = bind_scope.bind(nm)
                    if lazy:
                        self.lazy_slots.add(slot)
                    out.append((slot, self._project(proj, idx, k, b.pos), b.pos))
        return out

    @staticmethod
    def _project(src: Code, idx: int, k: int, pos: Pos) -> Code:
        def proj(fr: list[Any], cx: Ctx) -> Any:
            v = src(fr, cx)
            if type(v) is Pair and k == 2:
                v = (Event(v.i), Event(v.j))
            if type(v) is not tuple or len(v) != k:
                raise CatError(pos, f"a tuple of {k} values expected, {describe(v)} found")
            return v[idx]

        return proj

    def rec_group(self, binds: list[S.Binding], scope: _Scope) -> tuple[list[int], list[Code], list[bool], Pos]:
        for b in binds:
            if b.pat.is_tuple:
                raise CatError(b.pos, "tuple patterns are not supported in let rec")
        slots = [scope.bind(b.pat.names[0]) for b in binds]
        codes = [self.exp(b.e, scope) for b in binds]
        is_fun = [isinstance(b.e, S.Fun) for b in binds]
        return slots, codes, is_fun, binds[0].pos

    def rec_step(self, binds: list[S.Binding], scope: _Scope) -> tuple[Any, ...]:
        slots, codes, is_fun, pos = self.rec_group(binds, scope)
        return (REC, slots, codes, is_fun, pos)

    # -- expressions ----------------------------------------------------------------------------------------------
    def var(self, name: str, pos: Pos, scope: _Scope) -> Code:
        found = scope.lookup(name)
        if found is not None:
            depth, slot = found
            if slot in self.lazy_slots and depth == self.depth_to_top(scope):
                return _lazy_var_code(depth, slot)
            return _var_code(depth, slot, pos, name)
        prim = PRIMITIVES.get(name)
        if prim is not None:
            val = Prim(name, prim)
            return lambda fr, cx: val
        ext = self.externals.get(name)
        if ext is None:
            slot = self.top_frame.alloc()
            self.externals[name] = slot
            self.template[slot] = Lazy(None, pos, name)
            self.lazy_slots.add(slot)
        else:
            slot = ext
        return _lazy_var_code(self.depth_to_top(scope), slot)

    def depth_to_top(self, scope: _Scope) -> int:
        depth = 0
        sc: _Scope | None = scope
        while sc is not None and sc is not self.top:
            if sc.boundary:
                depth += 1
            sc = sc.parent
        return depth

    def prim_of(self, e: S.Exp, scope: _Scope) -> Any:
        if isinstance(e, S.Var) and scope.lookup(e.name) is None:
            return PRIMITIVES.get(e.name)
        return None

    def exp(self, e: S.Exp, scope: _Scope) -> Code:
        meth = getattr(self, "e_" + type(e).__name__)
        code: Code = meth(e, scope)
        return code

    def e_Const(self, e: S.Const, scope: _Scope) -> Code:
        v = EMPTY if e.kind == "empty" else UNIV
        return lambda fr, cx: v

    def e_TagE(self, e: S.TagE, scope: _Scope) -> Code:
        v = TagV(e.name)
        return lambda fr, cx: v

    def e_Var(self, e: S.Var, scope: _Scope) -> Code:
        return self.var(e.name, e.pos, scope)

    def e_Un(self, e: S.Un, scope: _Scope) -> Code:
        a = self.exp(e.e, scope)
        pos = e.pos
        op = {"comp": comp1, "inv": inv1, "star": star1, "plus": plus1, "opt": opt1, "toid": toid1}[e.op]
        if e.op == "star":

            def star(fr: list[Any], cx: Ctx) -> Any:
                v = a(fr, cx)
                if type(v) is Rel:
                    sh = cx.sh
                    return Rel(sh.closure(v.m) | sh.diag)
                return star1(v, cx, pos)

            return star
        if e.op == "toid":

            def toid(fr: list[Any], cx: Ctx) -> Any:
                v = a(fr, cx)
                if type(v) is int:
                    return Rel(cx.sh.ident(v))
                return toid1(v, cx, pos)

            return toid
        return lambda fr, cx: op(a(fr, cx), cx, pos)

    def e_NOp(self, e: S.NOp, scope: _Scope) -> Code:
        if e.op == "union":
            return self.union(e, scope)
        return self.seq(e, scope)

    def lazy_slot(self, e: S.Exp, scope: _Scope) -> int:
        """The slot of ``e`` when it is a top-level definition read from the top level itself (read inline by the
        n-ary operators, saving a call), else 0."""
        if isinstance(e, S.Var) and scope.frame is self.top_frame:
            found = scope.lookup(e.name)
            if found is not None:
                depth, slot = found
                if depth == 0 and slot in self.lazy_slots:
                    return slot
            elif e.name not in PRIMITIVES:
                self.var(e.name, e.pos, scope)  # allocates the external's slot
                return self.externals[e.name]
        return 0

    def union(self, e: S.NOp, scope: _Scope) -> Code:
        items = [(self.lazy_slot(x, scope), self.exp(x, scope)) for x in e.es]
        pos = e.pos
        first, rest = items[0][1], items[1:]

        def union(fr: list[Any], cx: Ctx) -> Any:
            acc = first(fr, cx)
            for sl, c in rest:
                if sl:
                    b = fr[sl]
                    if type(b) is Lazy:
                        b = b.force(fr, sl, cx)
                else:
                    b = c(fr, cx)
                ta = type(acc)
                if ta is Rel and type(b) is Rel:
                    if b.m:
                        acc = Rel(acc.m | b.m) if acc.m else b
                elif ta is int and type(b) is int:
                    acc = acc | b
                elif b is EMPTY:
                    continue
                else:
                    acc = union2(acc, b, cx, pos)
            return acc

        return union

    def seq(self, e: S.NOp, scope: _Scope) -> Code:
        # items: (is_id, code); [S] items restrict instead of composing
        items = []
        for x in e.es:
            if isinstance(x, S.Un) and x.op == "toid":
                items.append((True, self.exp(x.e, scope), x.pos, self.lazy_slot(x.e, scope)))
            else:
                items.append((False, self.exp(x, scope), x.pos, self.lazy_slot(x, scope)))

        def seq(fr: list[Any], cx: Ctx) -> Any:
            sh = cx.sh
            acc = -1  # -1: nothing yet
            start = -1  # pending identity set before the first relation
            for is_id, code, p, sl in items:
                if sl:
                    v = fr[sl]
                    if type(v) is Lazy:
                        v = v.force(fr, sl, cx)
                else:
                    v = code(fr, cx)
                if is_id:
                    if v is UNIV:
                        continue
                    s = v if type(v) is int else as_set(v, cx, p)
                    if not s:
                        return REL0
                    if acc < 0:
                        start = s if start < 0 else start & s
                        if not start:
                            return REL0
                    else:
                        acc &= sh.starts * s
                        if not acc:
                            return REL0
                else:
                    if v is UNIV:  # herd skips the universe in a sequence
                        continue
                    m = v.m if type(v) is Rel else as_rel(v, cx, p)
                    if acc < 0:
                        acc = m if start < 0 else m & sh.rows_of(start)
                    else:
                        acc = sh.compose(acc, m)
                    if not acc:
                        return REL0
            if acc < 0:
                if start < 0:
                    return Rel(sh.full)
                return Rel(sh.ident(start))
            return Rel(acc)

        kinds = tuple(it[0] for it in items)
        codes = [it[1] for it in items]
        # specialised forms of the most common shapes; anything unusual falls back to the general loop
        if kinds == (True, False, True):
            ca, cr, cb = codes

            def seq_iri(fr: list[Any], cx: Ctx) -> Any:
                a = ca(fr, cx)
                if type(a) is not int:
                    return seq(fr, cx)
                if not a:
                    return REL0
                r = cr(fr, cx)
                if type(r) is not Rel:
                    return seq(fr, cx)
                sh = cx.sh
                m = r.m & sh.rows_of(a)
                if not m:
                    return REL0
                b = cb(fr, cx)
                if type(b) is not int:
                    return seq(fr, cx)
                m &= sh.starts * b
                return Rel(m) if m else REL0

            return seq_iri
        if kinds == (False, False):
            c1, c2 = codes

            def seq_rr(fr: list[Any], cx: Ctx) -> Any:
                a = c1(fr, cx)
                if type(a) is not Rel:
                    return seq(fr, cx)
                if not a.m:
                    return REL0
                b = c2(fr, cx)
                if type(b) is not Rel:
                    return seq(fr, cx)
                m = cx.sh.compose(a.m, b.m)
                return Rel(m) if m else REL0

            return seq_rr
        if kinds == (True, False):
            c1, c2 = codes

            def seq_ir(fr: list[Any], cx: Ctx) -> Any:
                a = c1(fr, cx)
                if type(a) is not int:
                    return seq(fr, cx)
                if not a:
                    return REL0
                b = c2(fr, cx)
                if type(b) is not Rel:
                    return seq(fr, cx)
                m = b.m & cx.sh.rows_of(a)
                return Rel(m) if m else REL0

            return seq_ir
        if kinds == (False, True):
            c1, c2 = codes

            def seq_ri(fr: list[Any], cx: Ctx) -> Any:
                a = c1(fr, cx)
                if type(a) is not Rel:
                    return seq(fr, cx)
                if not a.m:
                    return REL0
                b = c2(fr, cx)
                if type(b) is not int:
                    return seq(fr, cx)
                m = a.m & (cx.sh.starts * b)
                return Rel(m) if m else REL0

            return seq_ri
        return seq

    def e_Bin(self, e: S.Bin, scope: _Scope) -> Code:
        pos = e.pos
        if e.op == "inter":
            for r, c in ((e.a, e.b), (e.b, e.a)):
                if isinstance(c, S.Bin) and c.op == "cart":
                    return self.restrict(r, c, scope, pos)
        a = self.exp(e.a, scope)
        b = self.exp(e.b, scope)
        if e.op == "inter":

            def inter(fr: list[Any], cx: Ctx) -> Any:
                x = a(fr, cx)
                if x is EMPTY:
                    return EMPTY
                y = b(fr, cx)
                tx = type(x)
                if tx is Rel and type(y) is Rel:
                    return Rel(x.m & y.m)
                if tx is int and type(y) is int:
                    return x & y
                return inter2(x, y, cx, pos)

            return inter
        if e.op == "diff":

            def diff(fr: list[Any], cx: Ctx) -> Any:
                x = a(fr, cx)
                if x is EMPTY:
                    return EMPTY
                tx = type(x)
                if (tx is int and x == 0) or (tx is Rel and x.m == 0):
                    return x
                y = b(fr, cx)
                if tx is Rel and type(y) is Rel:
                    return Rel(x.m & ~y.m)
                if tx is int and type(y) is int:
                    return x & ~y
                return diff2(x, y, cx, pos)

            return diff
        if e.op == "cart":
            return lambda fr, cx: cart2(a(fr, cx), b(fr, cx), cx, pos)
        return lambda fr, cx: add2(a(fr, cx), b(fr, cx), cx, pos)

    def restrict(self, r: S.Exp, c: S.Bin, scope: _Scope, pos: Pos) -> Code:
        """``r & (A * B)``: keep the pairs of r from A to B."""
        rc = self.exp(r, scope)
        ac = None if isinstance(c.a, S.Const) and c.a.kind == "univ" else self.exp(c.a, scope)
        bc = None if isinstance(c.b, S.Const) and c.b.kind == "univ" else self.exp(c.b, scope)

        def restrict(fr: list[Any], cx: Ctx) -> Any:
            v = rc(fr, cx)
            if v is EMPTY:
                return EMPTY
            m = as_rel(v, cx, pos)
            sh = cx.sh
            if ac is not None and m:
                m &= sh.rows_of(as_set(ac(fr, cx), cx, pos))
            if bc is not None and m:
                m &= sh.starts * as_set(bc(fr, cx), cx, pos)
            return Rel(m)

        return restrict

    def e_TupleE(self, e: S.TupleE, scope: _Scope) -> Code:
        codes = [self.exp(x, scope) for x in e.es]
        return lambda fr, cx: tuple(c(fr, cx) for c in codes)

    def e_App(self, e: S.App, scope: _Scope) -> Code:
        pos = e.pos
        a = self.exp(e.a, scope)
        prim = self.prim_of(e.f, scope)
        if prim is not None:
            return lambda fr, cx: prim(a(fr, cx), cx, pos)
        f = self.exp(e.f, scope)
        return lambda fr, cx: apply(f(fr, cx), a(fr, cx), cx, pos)

    def e_Fun(self, e: S.Fun, scope: _Scope) -> Code:
        frame = _Frame()
        inner = _Scope(frame, scope, True)
        for p in e.pat.names:
            inner.bind(p)
        body = self.exp(e.body, inner)
        nparams = len(e.pat.names)
        is_tuple = e.pat.is_tuple
        size = frame.size
        name = e.name
        pos = e.pos
        return lambda fr, cx: Closure(body, nparams, is_tuple, fr, size, name, pos)

    def e_ExplSet(self, e: S.ExplSet, scope: _Scope) -> Code:
        codes = [self.exp(x, scope) for x in e.es]
        pos = e.pos
        return lambda fr, cx: from_elements([mat(c(fr, cx)) for c in codes], pos, cx)

    def e_Bind(self, e: S.Bind, scope: _Scope) -> Code:
        inner = scope.child()
        if not e.rec:
            binds = self.let_bindings(e.binds, scope, inner)
            body = self.exp(e.body, inner)

            def let_in(fr: list[Any], cx: Ctx) -> Any:
                for slot, code, p in binds:
                    fr[slot] = Thunk(code, p)
                return body(fr, cx)

            return let_in
        slots, codes, is_fun, pos = self.rec_group(e.binds, inner)
        body = self.exp(e.body, inner)

        def let_rec(fr: list[Any], cx: Ctx) -> Any:
            _compute_rec(fr, cx, slots, codes, is_fun, pos)
            return body(fr, cx)

        return let_rec

    def e_MatchTag(self, e: S.MatchTag, scope: _Scope) -> Code:
        subject = self.exp(e.e, scope)
        table = {t: self.exp(x, scope) for t, x in reversed(e.clauses)}
        default = self.exp(e.default, scope) if e.default is not None else None
        pos = e.pos

        def match_tag(fr: list[Any], cx: Ctx) -> Any:
            v = subject(fr, cx)
            if type(v) is not TagV:
                raise CatError(pos, f"matching on {describe(v)}, tag expected")
            c = table.get(v.name, default)
            if c is None:
                raise CatError(pos, f"pattern matching failed on '{v.name}")
            return c(fr, cx)

        return match_tag

    def e_MatchSet(self, e: S.MatchSet, scope: _Scope) -> Code:
        subject = self.exp(e.e, scope)
        if_empty = self.exp(e.if_empty, scope)
        inner = scope.child()
        slots = [inner.bind(nm) for nm in e.names]
        body = self.exp(e.body, inner)
        pos = e.pos
        three = len(slots) == 3

        def match_set(fr: list[Any], cx: Ctx) -> Any:
            v = mat(subject(fr, cx))
            t = type(v)
            if t is int:
                if not v:
                    return if_empty(fr, cx)
                low = v & -v
                elt: Any = Event(low.bit_length() - 1)
                rest: Any = v ^ low
                before: Any = 0
            elif t is Rel:
                if not v.m:
                    return if_empty(fr, cx)
                low = v.m & -v.m
                i, j = divmod(low.bit_length() - 1, cx.n)
                elt = Pair(i, j)
                rest = Rel(v.m ^ low)
                before = Rel(0)
            elif t is VSet:
                if not v.items:
                    return if_empty(fr, cx)
                elt = next(iter(v.items))
                rest = canon(VSet(v.items - {elt}))
                before = EMPTY
            elif v is EMPTY:
                return if_empty(fr, cx)
            else:
                raise CatError(pos, f"set-matching on {describe(v)}")
            if three:
                fr[slots[0]] = before
                fr[slots[1]] = elt
                fr[slots[2]] = rest
            else:
                fr[slots[0]] = elt
                fr[slots[1]] = rest
            return body(fr, cx)

        return match_set

    def e_Try(self, e: S.Try, scope: _Scope) -> Code:
        a = self.exp(e.a, scope)
        b = self.exp(e.b, scope)

        def try_(fr: list[Any], cx: Ctx) -> Any:
            try:
                return a(fr, cx)
            except CatError:
                return b(fr, cx)

        return try_

    def e_IfVar(self, e: S.IfVar, scope: _Scope) -> Code:
        return self.exp(e.a if _vcond(e.cond, self.variants) else e.b, scope)


def _compute_rec(fr: list[Any], cx: Ctx, slots: list[int], codes: list[Code], is_fun: list[bool], pos: Pos) -> None:
    """Evaluate a ``let rec`` group: functions are plain recursive closures, other bindings a fixpoint computed
    from empty values until no binding grows (each iteration sees the values computed before it)."""
    vals = []
    for slot, code, f in zip(slots, codes, is_fun, strict=True):
        if f:
            fr[slot] = code(fr, cx)
        else:
            fr[slot] = EMPTY
            vals.append((slot, code))
    if not vals:
        return
    for _ in range(100000):
        stable = True
        for slot, code in vals:
            new = code(fr, cx)
            if stable and not subsumed(new, fr[slot]):
                stable = False
            fr[slot] = new
        if stable:
            return
    raise CatError(pos, "let rec: no fixpoint reached")


# ----------------------------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------------------------


class _RecGroup:
    __slots__ = ("done", "vals")

    def __init__(self) -> None:
        self.done = False
        self.vals: list[Any] = []


def _rec_thunks(fr: list[Any], st: tuple[Any, ...], cx: Ctx) -> None:
    _, slots, codes, is_fun, pos = st
    if all(is_fun):
        for slot, code in zip(slots, codes, strict=True):
            fr[slot] = code(fr, cx)
        return
    group = _RecGroup()
    for k, slot in enumerate(slots):

        def code(f: list[Any], cx: Ctx, _k: int = k) -> Any:
            if not group.done:
                _compute_rec(f, cx, slots, codes, is_fun, pos)
                group.vals = [f[s] for s in slots]
                group.done = True
            else:
                for s, v in zip(slots, group.vals, strict=True):
                    f[s] = v
            return group.vals[_k]

        fr[slot] = Thunk(code, pos)


def _test(st: tuple[Any, ...], fr: list[Any], cx: Ctx) -> bool:
    _, code, kind, neg, _ttype, _name, pos = st
    v = code(fr, cx)
    if kind == "empty":
        ok = is_empty(v, cx, pos)
    else:
        m = v.m if type(v) is Rel else as_rel(v, cx, pos)
        ok = cx.sh.acyclic(m) if kind == "acyclic" else cx.sh.irreflexive(m)
    return ok != neg


def _call(st: tuple[Any, ...], fr: list[Any], cx: Ctx, flags: list[str]) -> str | None:
    _, fcode, acode, name, pos = st
    p = fcode(fr, cx)
    if type(p) is not Proc:
        raise CatError(pos, f"procedure expected, {describe(p)} found")
    arg = acode(fr, cx)
    f2: list[Any] = [None] * p.size[0]
    f2[0] = p.env
    _bind_params(f2, p.nparams, p.is_tuple, arg, pos, p.name)
    failed = _run_block(p.body, f2, cx, flags)
    return None if failed is None else name


def _run_block(steps: list[tuple[Any, ...]], fr: list[Any], cx: Ctx, flags: list[str]) -> str | None:
    """Run instructions without ``with``; return the name of the first failed check, if any."""
    for st in steps:
        k = st[0]
        if k == LET:
            for slot, code, p in st[1]:
                fr[slot] = Thunk(code, p)
        elif k == TEST:
            ok = _test(st, fr, cx)
            ttype = st[4]
            if ttype == "check":
                if not ok:
                    return str(st[5])
            elif ttype == "flag":
                if ok:
                    flags.append(st[5])
            elif ttype == "undefined_unless":
                if not ok:
                    flags.append("undefined")
            elif not ok:
                raise CatError(st[6], f"assertion {st[5]} failed")
        elif k == SET:
            fr[st[1]] = st[2](fr, cx)
        elif k == REC:
            _rec_thunks(fr, st, cx)
        elif k == CALL:
            failed = _call(st, fr, cx, flags)
            if failed is not None:
                return failed
        elif k == FORALL:
            v = st[2](fr, cx)
            for x in list(_iter_set(mat(v), cx, st[4])):
                fr[st[1]] = x
                failed = _run_block(st[3], fr, cx, flags)
                if failed is not None:
                    return failed
        else:  # pragma: no cover
            raise CatError(NOWHERE, "internal error: 'with' in a block")
    return None


def _run(steps: list[tuple[Any, ...]], i: int, fr: list[Any], cx: Ctx, flags: tuple[str, ...]) -> Iterator[Outcome]:
    n = len(steps)
    while i < n:
        st = steps[i]
        k = st[0]
        if k == LET:
            for slot, code, p in st[1]:
                fr[slot] = Thunk(code, p)
        elif k == TEST:
            ok = _test(st, fr, cx)
            ttype = st[4]
            if ttype == "check":
                if not ok:
                    yield Outcome(False, st[5], frozenset(flags))
                    return
            elif ttype == "flag":
                if ok and st[5] not in flags:
                    flags = flags + (st[5],)
            elif ttype == "undefined_unless":
                if not ok:
                    flags = flags + ("undefined",)
            elif not ok:
                raise CatError(st[6], f"assertion {st[5]} failed")
        elif k == WITH:
            _, slot, code, pos, _var = st
            it = _iter_set(code(fr, cx), cx, pos)
            first = next(it, _NOTHING)
            if first is _NOTHING:
                return
            second = next(it, _NOTHING)
            if second is _NOTHING:  # a single path: no copy needed
                fr[slot] = first
                i += 1
                continue
            link = (fr, slot)
            for x in itertools.chain((first, second), it):
                f2 = fr.copy()
                f2[0] = link
                f2[slot] = x
                yield from _run(steps, i + 1, f2, cx, flags)
            return
        elif k == SET:
            fr[st[1]] = st[2](fr, cx)
        elif k == REC:
            _rec_thunks(fr, st, cx)
        else:
            fl = list(flags)
            if k == CALL:
                failed = _call(st, fr, cx, fl)
            else:
                failed = _run_block([st], fr, cx, fl)
            flags = tuple(dict.fromkeys(fl))
            if failed is not None:
                yield Outcome(False, failed, frozenset(flags))
                return
        i += 1
    yield Outcome(True, None, frozenset(flags))


class CatModel:
    """A compiled model: run it on candidate executions."""

    def __init__(
        self,
        title: str,
        steps: list[tuple[Any, ...]],
        frame_size: list[int],
        template: dict[int, Lazy],
        tag_sets: frozenset[str],
        variants: frozenset[str],
        path: Path | None,
    ) -> None:
        self.title = title
        self._steps = steps
        self._size = frame_size
        self._template: list[Any] = [None] * frame_size[0]
        for slot, th in template.items():
            self._template[slot] = th
        self.tag_sets = tag_sets
        self.variants = variants
        self.path = path
        self.generates_co: bool = any(st[0] == WITH and st[4] == "co" for st in steps)
        self.checks: tuple[str, ...] = tuple(st[5] for st in steps if st[0] == TEST and st[4] == "check")
        self.flag_names: tuple[str, ...] = tuple(st[5] for st in steps if st[0] == TEST and st[4] == "flag")

    def run(self, ex: Execution) -> Iterator[Outcome]:
        """One :class:`Outcome` per path through the ``with`` choices (none if a ``with`` set is empty)."""
        if self.generates_co and "co" in ex.relations:
            raise CatError(NOWHERE, f"model {self.title!r} generates co itself: the execution must not give 'co'")
        n = ex.n
        if len(ex.annotations) != n or len(ex.loc) != n or len(ex.val) != n:
            raise CatError(NOWHERE, "execution: annotations, loc and val need one entry per event")
        cx = Ctx(self, ex)
        fr = self._template.copy()
        return _run(self._steps, 0, fr, cx, ())

    def allowed(self, ex: Execution) -> bool:
        """Whether some path of the execution passes every check."""
        return any(o.allowed for o in self.run(ex))


def compile_files(
    texts: Iterable[tuple[str, str]], *, variants: Iterable[str] = (), search: Sequence[Path] = ()
) -> CatModel:
    """Compile our standard library followed by the given (file name, text) sources; the last gives the title."""
    vs = frozenset(variants)
    comp = Compiler(vs, [Path(p) for p in search])
    steps: list[tuple[Any, ...]] = []
    comp.program(parse(LIBRARY["stdlib.cat"], "<builtin>/stdlib.cat"), comp.top, steps, True)
    title = ""
    path: Path | None = None
    for fname, text in texts:
        model = parse(text, fname)
        comp.program(model, comp.top, steps, True)
        title = model.title or Path(fname).stem
        path = None if fname.startswith("<") else Path(fname)
    merged: list[tuple[Any, ...]] = []
    for st in steps:
        if st[0] == LET and merged and merged[-1][0] == LET:
            merged[-1] = (LET, merged[-1][1] + st[1])
        else:
            merged.append(st)
    steps = merged
    return CatModel(title, steps, comp.top_frame.size, comp.template, frozenset(comp.tag_sets), vs, path)


def load_model(path: str | Path, *, variants: Iterable[str] = (), search: Sequence[Path] = ()) -> CatModel:
    """Parse and compile a ``.cat`` file (``include`` resolved next to it, then in ``search``, then built-ins)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise CatError(Pos(str(p), 0, 0), f"cannot read model: {e.strerror}") from None
    return compile_files([(str(p), text)], variants=variants, search=search)
