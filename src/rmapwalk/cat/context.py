"""What a run of a cat model works on: the candidate execution (:class:`Execution`) and the per-execution
state the compiled model, the operators and the primitives share (:class:`Ctx`).

Its own module, below the interpreter (:mod:`.interp`), the operators (:mod:`.ops`), the primitives
(:mod:`.prelude`) and the values (:mod:`.values`), so that each of them can name the type without importing
the others.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import CatError, Pos
from .relations import Rel, Shape, shape


@dataclass
class Execution:
    """A candidate execution handed to a model (events are ``0..n-1``; sets are bitmasks, relations successor
    bitmasks per event)."""

    n: int
    sets: Mapping[str, int]
    annotations: Sequence[frozenset[str]]
    relations: Mapping[str, Sequence[int]]
    loc: Sequence[Hashable | None]
    val: Sequence[Hashable | None]


def tag_set_name(tag: str) -> str:
    """herd's name for the event set of an annotation: the tag with its first letter upper-cased."""
    return tag[:1].upper() + tag[1:]


class ModelInfo(Protocol):
    """What :class:`Ctx` needs of the model being run (:class:`.interp.CatModel`)."""

    @property
    def tag_sets(self) -> frozenset[str]: ...

    @property
    def generates_co(self) -> bool: ...


# sets and relations a front end may leave out when they are empty
OPTIONAL_SETS = frozenset(
    ["R", "W", "F", "IW", "FW", "RMW", "LKR", "LKW", "UL", "LF", "RL", "RU", "SRCU", "B", "X", "EX", "PTE"]
)
OPTIONAL_RELS = frozenset(["addr", "data", "ctrl", "rmw"])
CO_DERIVED = frozenset(["fr", "fre", "fri", "coe", "coi"])


class Ctx:
    """Per-execution state: sizes, the base names, caches."""

    __slots__ = ("model", "ex", "n", "sh", "all", "cache", "_annot", "_same_value", "_loc_classes")

    def __init__(self, model: ModelInfo, ex: Execution) -> None:
        self.model = model
        self.ex = ex
        self.n = ex.n
        self.sh: Shape = shape(ex.n)
        self.all = (1 << ex.n) - 1
        self.cache: dict[str, Any] = {}
        self._annot: dict[str, int] | None = None
        self._same_value: int | None = None
        self._loc_classes: list[int] | None = None

    def annotation_sets(self) -> dict[str, int]:
        if self._annot is None:
            d: dict[str, int] = {}
            for i, annots in enumerate(self.ex.annotations):
                for a in annots:
                    k = tag_set_name(a)
                    d[k] = d.get(k, 0) | (1 << i)
            self._annot = d
        return self._annot

    def base(self, name: str, pos: Pos) -> Any:
        v = self.cache.get(name)
        if v is None:
            v = self._base(name, pos)
            self.cache[name] = v
        return v

    def _base(self, name: str, pos: Pos) -> Any:
        ex = self.ex
        if name in ex.sets:
            return ex.sets[name] & self.all
        if name in ex.relations:
            return Rel(self.sh.from_succ(ex.relations[name]))
        annot = self.annotation_sets()
        if name in annot:
            return annot[name]
        if name in self.model.tag_sets:
            return 0
        if name == "M":
            return self.base("R", pos) | self.base("W", pos)
        if name == "id":
            return Rel(self.sh.diag)
        if name in OPTIONAL_SETS:
            return 0
        if name in OPTIONAL_RELS:
            return Rel(0)
        if name in CO_DERIVED and not self.model.generates_co and "co" in ex.relations:
            sh = self.sh
            co = self.base("co", pos).m
            if name in ("coe", "coi"):
                return Rel(co & self.base("ext" if name == "coe" else "int", pos).m)
            fr = sh.compose(sh.inverse(self.base("rf", pos).m), co) & ~sh.diag
            if name == "fr":
                return Rel(fr)
            return Rel(fr & self.base("ext" if name == "fre" else "int", pos).m)
        raise CatError(pos, f"unbound name {name!r} (not defined by the model nor given by the execution)")

    def same_value(self) -> int:
        if self._same_value is None:
            groups: dict[Hashable, int] = {}
            for i, v in enumerate(self.ex.val):
                if v is not None:
                    groups[v] = groups.get(v, 0) | (1 << i)
            m = 0
            for g in groups.values():
                m |= self.sh.cart(g, g)
            self._same_value = m
        return self._same_value

    def loc_classes(self) -> list[int]:
        if self._loc_classes is None:
            groups: dict[Hashable, int] = {}
            for i, x in enumerate(self.ex.loc):
                if x is not None:
                    groups[x] = groups.get(x, 0) | (1 << i)
            self._loc_classes = list(groups.values())
        return self._loc_classes
