"""Our built-in library: primitives implemented in Python, and small cat sources standing in for herd's standard
files (``stdlib.cat``, ``cross.cat``, ``cos.cat``, ``cos-opt.cat``).  The definitions are equivalent to herd's, the
text is ours; the expensive enumerations (linear extensions, cross products of choices) are native generators.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from .context import Ctx, tag_set_name
from .errors import CatError, Pos
from .ops import as_rel, as_set, elements, from_elements, mat
from .relations import linear_extensions
from .values import EMPTY, UNIV, LazyVSet, Prim, Rel, TagV, VSet, describe

# Applying a closure needs the interpreter; it installs this hook at import time.
APPLY: list[Callable[[Any, Any, Ctx, Pos], Any]] = []


def _apply(f: Any, arg: Any, cx: Ctx, pos: Pos) -> Any:
    return APPLY[0](f, arg, cx, pos)


def _args(arg: Any, k: int, pos: Pos, name: str) -> tuple[Any, ...]:
    if type(arg) is tuple and len(arg) == k:
        return arg
    raise CatError(pos, f"{name}: {k} arguments expected")


# -- primitives ---------------------------------------------------------------------------------------------------


def p_domain(arg: Any, cx: Ctx, pos: Pos) -> Any:
    if arg is EMPTY or arg is UNIV:
        return arg
    return cx.sh.domain(as_rel(arg, cx, pos))


def p_range(arg: Any, cx: Ctx, pos: Pos) -> Any:
    if arg is EMPTY or arg is UNIV:
        return arg
    return cx.sh.range(as_rel(arg, cx, pos))


def p_udr(arg: Any, cx: Ctx, pos: Pos) -> Any:
    if arg is EMPTY or arg is UNIV:
        return arg
    m = as_rel(arg, cx, pos)
    return cx.sh.domain(m) | cx.sh.range(m)


def p_fencerel(arg: Any, cx: Ctx, pos: Pos) -> Any:
    """po-before a fence in S, then po-after it: ``(po & (_ * S)) ; po``."""
    s = as_set(arg, cx, pos)
    po = as_rel(cx.base("po", pos), cx, pos)
    return Rel(cx.sh.compose(po & cx.sh.cols_of(s), po))


def p_different_values(arg: Any, cx: Ctx, pos: Pos) -> Any:
    return Rel(as_rel(arg, cx, pos) & ~cx.same_value())


def p_partition(arg: Any, cx: Ctx, pos: Pos) -> Any:
    """The events of S grouped by location (``classes-loc``): a set of event sets."""
    s = as_set(arg, cx, pos)
    groups = [g & s for g in cx.loc_classes() if g & s]
    return VSet(frozenset(groups)) if groups else EMPTY


def p_linearisations(arg: Any, cx: Ctx, pos: Pos) -> Any:
    s, r = _args(arg, 2, pos, "linearisations")
    orders = [Rel(m) for m in linear_extensions(cx.sh, as_set(s, cx, pos), as_rel(r, cx, pos))]
    return VSet(frozenset(orders)) if orders else EMPTY


def p_tag2events(arg: Any, cx: Ctx, pos: Pos) -> Any:
    if type(arg) is not TagV:
        raise CatError(pos, f"tag2events: tag expected, {describe(arg)} found")
    return cx.base(tag_set_name(arg.name), pos)


def p_map(f: Any, cx: Ctx, pos: Pos) -> Any:
    def mapper(s: Any, cx: Ctx, pos2: Pos) -> Any:
        return from_elements([_apply(f, x, cx, pos2) for x in elements(s, cx, pos2)], pos2, cx)

    return Prim("map", mapper)


def _choices(v: Any, cx: Ctx, pos: Pos) -> list[list[int]]:
    """A set of sets of relations, as lists of relation matrices."""
    out = []
    for os_ in elements(v, cx, pos):
        os_ = mat(os_)
        if type(os_) is Rel:  # a set with one relation built by ++ on a relation? treat as its pairs
            raise CatError(pos, "cross: a set of sets of relations expected")
        out.append([as_rel(o, cx, pos) for o in elements(os_, cx, pos)])
    return out


def p_cross(arg: Any, cx: Ctx, pos: Pos) -> Any:
    """All unions made by picking one relation in each of a set of sets of relations (lazily)."""
    choices = _choices(arg, cx, pos)

    def gen() -> Iterator[Any]:
        seen: set[int] = set()
        for pick in itertools.product(*choices):
            m = 0
            for x in pick:
                m |= x
            if m not in seen:
                seen.add(m)
                yield Rel(m)

    return LazyVSet(gen)


def p_co_locs(arg: Any, cx: Ctx, pos: Pos) -> Any:
    """For each class of writes, the set of its linearisations extending pco."""
    pco, wss = _args(arg, 2, pos, "co_locs")
    r = as_rel(pco, cx, pos)
    out = []
    for ws in elements(wss, cx, pos):
        orders = [Rel(m) for m in linear_extensions(cx.sh, as_set(ws, cx, pos), r)]
        out.append(VSet(frozenset(orders)) if orders else EMPTY)
    return VSet(frozenset(out)) if out else EMPTY


def p_generate_orders(arg: Any, cx: Ctx, pos: Pos) -> Any:
    """Total orders per location of the events of S, extending pco: a lazy set of relations."""
    s, pco = _args(arg, 2, pos, "generate_orders")
    sh = cx.sh
    ws = as_set(s, cx, pos)
    r = as_rel(pco, cx, pos)
    classes = [g & ws for g in cx.loc_classes() if g & ws]

    def gen() -> Iterator[Any]:
        # linear extensions per class are enumerated lazily, the product odometer-style
        def rec(k: int, acc: int) -> Iterator[Any]:
            if k == len(classes):
                yield Rel(acc)
                return
            for m in linear_extensions(sh, classes[k], r):
                yield from rec(k + 1, acc | m)

        yield from rec(0, 0)

    return LazyVSet(gen)


PRIMITIVES: dict[str, Callable[[Any, Ctx, Pos], Any]] = {
    "domain": p_domain,
    "range": p_range,
    "udr": p_udr,
    "fencerel": p_fencerel,
    "different-values": p_different_values,
    "classes-loc": p_partition,
    "partition": p_partition,
    "linearisations": p_linearisations,
    "tag2events": p_tag2events,
    "tag2instrs": p_tag2events,
    "map": p_map,
    # native helpers for the library sources below (dotted names no model is likely to define)
    "native.cross": p_cross,
    "native.co-locs": p_co_locs,
    "native.generate-orders": p_generate_orders,
}


# -- library sources ----------------------------------------------------------------------------------------------

STDLIB = r""""rmapwalk standard library"
(* Always loaded before a model: the derived names every herd model may use. *)

let emptyset = domain(0)

(* relations over events of the same location / thread *)
let po-loc = po & loc
let rfe = rf & ext
let rfi = rf & int

(* coherence edges known in advance: initial writes first, final writes last *)
let co0 = loc & ((IW * (W \ IW)) | ((W \ FW) * FW))

let toid(S) = [S]
let ctrlcfence(dep, S) = (dep & (_ * S)) ; po
let imply(A, B) = ~A | B
let nodetour(r1, r2, r3) = r1 \ (r2 ; r3)
(* edges of r that are not the composition of two edges of r *)
let singlestep(r) = r \ (r ; r)

procedure subseteq(A, B) =
  empty A \ B
end

procedure inclusion(r1, r2) =
  empty r1 \ r2
end

procedure total(r, S) =
  empty (S * S) \ (r | r^-1)
end
"""

CROSS = r""""rmapwalk cross products of orders"
(* cross(sss): every union obtained by choosing one relation in each set of sss *)
let cross = native.cross
(* for each set of writes in wss, all its linearisations extending pco *)
let co_locs(pco, wss) = native.co-locs(pco, wss)
(* per-location total orders of S extending pco, enumerated lazily *)
let generate_orders(S, pco) = native.generate-orders(S, pco)
let generate_cos(pco) = generate_orders(W, pco)
"""

COS_OPT = r""""rmapwalk coherence orders"
(* Coherence edges the program itself observes (uniproc), made before co is chosen *)
let invrf = rf^-1
let obsco =
  (po-loc & (W * W))
  | (rf ; (po-loc & (R * W)))
  | (((po-loc & (W * R)) ; invrf) \ id)
  | ((rf ; (po-loc & (R * R)) ; invrf) \ id)
(* an atomic update comes after the write it reads *)
let rmwco = rf & (W * (R & W))
let cobase = obsco | rmwco | co0

acyclic cobase as ConsCo

include "cross.cat"

with co from generate_cos(cobase)

let coi = co & int
let coe = co \ coi
let fr = (invrf ; co) \ id
let fri = fr & int
let fre = fr \ fri

show co, fr
"""

COS = COS_OPT.replace('"rmapwalk coherence orders"', '"rmapwalk coherence orders (cos)"') + "\nlet ca = fr | co\n"

LIBRARY: dict[str, str] = {
    "stdlib.cat": STDLIB,
    "cross.cat": CROSS,
    "cos-opt.cat": COS_OPT,
    "cos.cat": COS,
}
