"""Polymorphic cat operators on run-time values (fast paths for event sets and relations first)."""

from __future__ import annotations

from typing import Any

from .context import Ctx
from .errors import CatError, Pos
from .values import EMPTY, UNIV, Event, LazyVSet, Pair, Rel, TagV, VSet, canon, describe, type_error


def mat(v: Any) -> Any:
    return v.materialise() if type(v) is LazyVSet else v


def as_rel(v: Any, cx: Ctx, pos: Pos) -> int:
    t = type(v)
    if t is Rel:
        return v.m
    if v is EMPTY:
        return 0
    if v is UNIV:
        return cx.sh.full
    if t is Pair:
        return 1 << (v.i * cx.n + v.j)
    raise type_error(pos, "relation", v)


def as_set(v: Any, cx: Ctx, pos: Pos) -> int:
    t = type(v)
    if t is int:
        return v
    if v is EMPTY:
        return 0
    if v is UNIV:
        return cx.all
    if t is Event:
        return 1 << v.i
    raise type_error(pos, "set of events", v)


def _tag2set(v: Any) -> Any:
    return VSet(frozenset((v,))) if type(v) is TagV else v


def union2(a: Any, b: Any, cx: Ctx, pos: Pos) -> Any:
    ta = type(a)
    tb = type(b)
    if ta is int and tb is int:
        return a | b
    if ta is Rel and tb is Rel:
        return Rel(a.m | b.m)
    if a is EMPTY:
        return _tag2set(mat(b))
    if b is EMPTY:
        return _tag2set(mat(a))
    if a is UNIV or b is UNIV:
        return UNIV
    a = _tag2set(mat(a))
    b = _tag2set(mat(b))
    ta = type(a)
    tb = type(b)
    if ta is VSet and tb is VSet:
        return VSet(a.items | b.items)
    if ta is Pair or tb is Pair:
        return Rel(as_rel(a, cx, pos) | as_rel(b, cx, pos))
    if ta is Event or tb is Event:
        return as_set(a, cx, pos) | as_set(b, cx, pos)
    raise CatError(pos, f"cannot take the union of {describe(a)} and {describe(b)}")


def inter2(a: Any, b: Any, cx: Ctx, pos: Pos) -> Any:
    ta = type(a)
    tb = type(b)
    if ta is int and tb is int:
        return a & b
    if ta is Rel and tb is Rel:
        return Rel(a.m & b.m)
    if a is UNIV:
        return mat(b)
    if b is UNIV:
        return mat(a)
    if a is EMPTY or b is EMPTY:
        return EMPTY
    a = _tag2set(mat(a))
    b = _tag2set(mat(b))
    if type(a) is VSet and type(b) is VSet:
        return canon(VSet(a.items & b.items))
    raise CatError(pos, f"cannot intersect {describe(a)} and {describe(b)}")


def diff2(a: Any, b: Any, cx: Ctx, pos: Pos) -> Any:
    ta = type(a)
    tb = type(b)
    if ta is int and tb is int:
        return a & ~b
    if ta is Rel and tb is Rel:
        return Rel(a.m & ~b.m)
    if a is EMPTY or b is UNIV:
        return EMPTY
    if b is EMPTY:
        return mat(a)
    if a is UNIV:
        if tb is int:
            return cx.all & ~b
        if tb is Rel:
            return Rel(cx.sh.full & ~b.m)
        raise CatError(pos, f"cannot build the universe of {describe(b)}")
    a = _tag2set(mat(a))
    b = _tag2set(mat(b))
    if type(a) is VSet and type(b) is VSet:
        return canon(VSet(a.items - b.items))
    raise CatError(pos, f"cannot take the difference of {describe(a)} and {describe(b)}")


def add2(a: Any, b: Any, cx: Ctx, pos: Pos) -> Any:
    """``a ++ b``: add element ``a`` to the set ``b``."""
    ta = type(a)
    b = mat(b)
    tb = type(b)
    if a is UNIV:
        raise CatError(pos, "universe in ++")
    if b is UNIV:
        return UNIV
    if b is EMPTY:
        if ta is Event:
            return 1 << a.i
        if ta is Pair:
            return Rel(1 << (a.i * cx.n + a.j))
        return VSet(frozenset((canon(a),)))
    if tb is VSet:
        return VSet(b.items | {canon(a)})
    if tb is Rel:
        if ta is Pair:
            return Rel(b.m | (1 << (a.i * cx.n + a.j)))
        if ta is tuple and len(a) == 2 and type(a[0]) is Event and type(a[1]) is Event:
            return Rel(b.m | (1 << (a[0].i * cx.n + a[1].i)))
        raise CatError(pos, f"pair expected, {describe(a)} found")
    if tb is int:
        if ta is Event:
            return b | (1 << a.i)
        raise CatError(pos, f"event expected, {describe(a)} found")
    raise CatError(pos, f"set expected, {describe(b)} found")


def comp1(v: Any, cx: Ctx, pos: Pos) -> Any:
    t = type(v)
    if t is int:
        return cx.all & ~v
    if t is Rel:
        return Rel(cx.sh.full & ~v.m)
    if v is EMPTY:
        return UNIV
    if v is UNIV:
        return EMPTY
    raise CatError(pos, f"set or relation expected, {describe(v)} found")


def inv1(v: Any, cx: Ctx, pos: Pos) -> Any:
    t = type(v)
    if t is Rel:
        return Rel(cx.sh.inverse(v.m))
    if v is EMPTY or v is UNIV:
        return v
    if t is Pair:
        return Pair(v.j, v.i)
    raise type_error(pos, "relation", v)


def star1(v: Any, cx: Ctx, pos: Pos) -> Any:
    if type(v) is Rel:
        return Rel(cx.sh.closure(v.m) | cx.sh.diag)
    if v is EMPTY:
        return Rel(cx.sh.diag)
    if v is UNIV:
        return UNIV
    raise type_error(pos, "relation", v)


def plus1(v: Any, cx: Ctx, pos: Pos) -> Any:
    if type(v) is Rel:
        return Rel(cx.sh.closure(v.m))
    if v is EMPTY or v is UNIV:
        return v
    raise type_error(pos, "relation", v)


def opt1(v: Any, cx: Ctx, pos: Pos) -> Any:
    if type(v) is Rel:
        return Rel(v.m | cx.sh.diag)
    if v is EMPTY:
        return Rel(cx.sh.diag)
    if v is UNIV:
        return UNIV
    raise type_error(pos, "relation", v)


def toid1(v: Any, cx: Ctx, pos: Pos) -> Any:
    if type(v) is int:
        return Rel(cx.sh.ident(v))
    if v is EMPTY:
        return EMPTY
    if v is UNIV:
        return Rel(cx.sh.diag)
    if type(v) is Event:
        return Rel(cx.sh.ident(1 << v.i))
    raise type_error(pos, "set of events", v)


def cart2(a: Any, b: Any, cx: Ctx, pos: Pos) -> Any:
    return Rel(cx.sh.cart(as_set(a, cx, pos), as_set(b, cx, pos)))


def is_empty(v: Any, cx: Ctx, pos: Pos) -> bool:
    t = type(v)
    if t is int:
        return v == 0
    if t is Rel:
        return v.m == 0
    if v is EMPTY:
        return True
    if v is UNIV:
        return cx.n == 0
    v = mat(v)
    if type(v) is VSet:
        return not v.items
    raise CatError(pos, f"set or relation expected, {describe(v)} found")


def subsumed(new: Any, old: Any) -> bool:
    """``new`` is included in ``old`` (fixpoint stabilisation test)."""
    if new is EMPTY or old is UNIV:
        return True
    tn = type(new)
    if tn is int:
        if type(old) is int:
            return new & ~old == 0
        return new == 0
    if tn is Rel:
        if type(old) is Rel:
            return new.m & ~old.m == 0
        return new.m == 0
    new = mat(new)
    old = mat(old)
    if type(new) is VSet:
        if type(old) is VSet:
            return new.items <= old.items
        return not new.items
    return bool(new == old)


def elements(v: Any, cx: Ctx, pos: Pos) -> list[Any]:
    """The members of a set-like value, in a deterministic order where possible."""
    t = type(v)
    if t is int:
        out = []
        s = v
        while s:
            low = s & -s
            out.append(Event(low.bit_length() - 1))
            s ^= low
        return out
    if t is Rel:
        return [Pair(i, j) for i, j in cx.sh.pairs(v.m)]
    if v is EMPTY:
        return []
    v = _tag2set(mat(v))
    if type(v) is VSet:
        return list(v.items)
    raise CatError(pos, f"set expected, {describe(v)} found")


def from_elements(vals: list[Any], pos: Pos, cx: Ctx) -> Any:
    """Build a set value from its elements (events, pairs or other values)."""
    if not vals:
        return EMPTY
    if all(type(x) is Event for x in vals):
        s = 0
        for x in vals:
            s |= 1 << x.i
        return s
    if all(type(x) is Pair for x in vals):
        n = cx.n
        m = 0
        for x in vals:
            m |= 1 << (x.i * n + x.j)
        return Rel(m)
    for x in vals:
        if x is UNIV:
            raise CatError(pos, "universe in explicit set")
    return VSet(frozenset(canon(x) for x in vals))
