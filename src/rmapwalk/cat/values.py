"""Run-time values of the cat interpreter.

* a set of events is an ``int`` bitmask;
* a relation is a :class:`Rel` (defined in :mod:`.relations`) around an ``int`` bit matrix;
* ``EMPTY`` is the polymorphic empty value (``0``, ``{}``), ``UNIV`` the polymorphic universe (``_``);
* :class:`Event` and :class:`Pair` are the elements of event sets and relations;
* :class:`TagV` is an enum tag (``'rcu-lock``), :class:`VSet` a set of other values, :class:`LazyVSet` a set
  enumerated on demand (``cross``, ``generate_cos``);
* cat tuples are Python tuples; functions are :class:`Closure` or :class:`Prim`, procedures :class:`Proc`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .context import Ctx
from .errors import CatError, Pos
from .relations import Rel


class _Empty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


class _Univ:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNIV"


EMPTY = _Empty()
UNIV = _Univ()


class Event:
    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i

    def __eq__(self, other: object) -> bool:
        return type(other) is Event and other.i == self.i

    def __hash__(self) -> int:
        return hash(("ev", self.i))

    def __repr__(self) -> str:
        return f"Event({self.i})"


class Pair:
    __slots__ = ("i", "j")

    def __init__(self, i: int, j: int) -> None:
        self.i = i
        self.j = j

    def __eq__(self, other: object) -> bool:
        return type(other) is Pair and other.i == self.i and other.j == self.j

    def __hash__(self) -> int:
        return hash(("pair", self.i, self.j))

    def __repr__(self) -> str:
        return f"Pair({self.i},{self.j})"


class TagV:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return type(other) is TagV and other.name == self.name

    def __hash__(self) -> int:
        return hash(("tag", self.name))

    def __repr__(self) -> str:
        return f"'{self.name}"


class VSet:
    """A finite set of values (elements are canonical: every empty value is ``EMPTY``)."""

    __slots__ = ("items",)

    def __init__(self, items: frozenset[Any]) -> None:
        self.items = items

    def __eq__(self, other: object) -> bool:
        return type(other) is VSet and other.items == self.items

    def __hash__(self) -> int:
        return hash(("vset", self.items))

    def __repr__(self) -> str:
        return "{" + ", ".join(sorted(map(repr, self.items))) + "}"


class LazyVSet:
    """A set of values enumerated on demand, without duplicates; materialised by any operation but ``with``."""

    __slots__ = ("factory", "_mat")

    def __init__(self, factory: Callable[[], Iterator[Any]]) -> None:
        self.factory = factory
        self._mat: VSet | None = None

    def __iter__(self) -> Iterator[Any]:
        if self._mat is not None:
            return iter(self._mat.items)
        return self.factory()

    def materialise(self) -> VSet:
        if self._mat is None:
            self._mat = VSet(frozenset(canon(v) for v in self.factory()))
        return self._mat


Code = Callable[[list[Any], "Ctx"], Any]


class Closure:
    __slots__ = ("code", "nparams", "is_tuple", "env", "size", "name", "pos")

    def __init__(
        self, code: Code, nparams: int, is_tuple: bool, env: list[Any], size: list[int], name: str, pos: Pos
    ) -> None:
        self.code = code
        self.nparams = nparams
        self.is_tuple = is_tuple
        self.env = env
        self.size = size  # one-element list: the frame size, known once the body is compiled
        self.name = name
        self.pos = pos

    def __repr__(self) -> str:
        return f"<fun {self.name}>"


class Prim:
    __slots__ = ("name", "fn")

    def __init__(self, name: str, fn: Callable[[Any, Ctx, Pos], Any]) -> None:
        self.name = name
        self.fn = fn

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class Proc:
    __slots__ = ("body", "nparams", "is_tuple", "env", "size", "name")

    def __init__(self, body: Any, nparams: int, is_tuple: bool, env: list[Any], size: list[int], name: str) -> None:
        self.body = body
        self.nparams = nparams
        self.is_tuple = is_tuple
        self.env = env
        self.size = size
        self.name = name


def canon(v: Any) -> Any:
    """The canonical form of a value stored in a :class:`VSet`."""
    t = type(v)
    if t is int:
        return EMPTY if v == 0 else v
    if t is Rel:
        return EMPTY if v.m == 0 else v
    if t is LazyVSet:
        v = v.materialise()
        t = VSet
    if t is VSet and not v.items:
        return EMPTY
    return v


def describe(v: Any) -> str:
    t = type(v)
    if t is int:
        return "set of events"
    if t is Rel:
        return "relation"
    if v is EMPTY:
        return "empty"
    if v is UNIV:
        return "universe"
    if t is Event:
        return "event"
    if t is Pair:
        return "pair"
    if t is TagV:
        return "tag"
    if t in (VSet, LazyVSet):
        return "set"
    if t is tuple:
        return "tuple"
    if t in (Closure, Prim):
        return "function"
    if t is Proc:
        return "procedure"
    return t.__name__


def type_error(pos: Pos, what: str, v: Any) -> CatError:
    return CatError(pos, f"{what} expected, {describe(v)} found")
