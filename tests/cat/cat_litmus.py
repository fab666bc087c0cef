"""Hand-built candidate executions for the cat interpreter tests (a tiny stand-in for the C front end)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rmapwalk.cat import Execution

LKMM = Path(__file__).parents[2].parent / "shared" / "lkmm"
LKMM_MODEL = LKMM / "model"


@dataclass
class _Ev:
    thread: int | None  # None for initial writes
    kind: str  # R W F LKR LKW UL LF RL RU
    loc: Hashable | None
    val: Hashable | None
    annots: frozenset[str]


@dataclass
class Builder:
    """Events in program order per thread; initial writes have no thread."""

    events: list[_Ev] = field(default_factory=list)
    rels: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    extra_sets: dict[str, set[int]] = field(default_factory=dict)

    def _add(self, ev: _Ev) -> int:
        self.events.append(ev)
        return len(self.events) - 1

    def init(self, loc: str, val: int = 0) -> int:
        return self._add(_Ev(None, "IW", loc, val, frozenset()))

    def r(self, t: int, loc: str, val: int, *annots: str) -> int:
        return self._add(_Ev(t, "R", loc, val, frozenset(annots or ("ONCE",))))

    def w(self, t: int, loc: str, val: int, *annots: str) -> int:
        return self._add(_Ev(t, "W", loc, val, frozenset(annots or ("ONCE",))))

    def plain_r(self, t: int, loc: str, val: int) -> int:
        return self._add(_Ev(t, "R", loc, val, frozenset()))

    def plain_w(self, t: int, loc: str, val: int) -> int:
        return self._add(_Ev(t, "W", loc, val, frozenset()))

    def f(self, t: int, *annots: str) -> int:
        return self._add(_Ev(t, "F", None, None, frozenset(annots)))

    def lock(self, t: int, loc: str) -> tuple[int, int]:
        a = self._add(_Ev(t, "LKR", loc, 0, frozenset()))
        b = self._add(_Ev(t, "LKW", loc, 1, frozenset()))
        return a, b

    def unlock(self, t: int, loc: str) -> int:
        return self._add(_Ev(t, "UL", loc, 0, frozenset()))

    def rel(self, name: str, a: int, b: int) -> None:
        self.rels.setdefault(name, set()).add((a, b))

    def rf(self, w: int, r: int) -> None:
        self.rel("rf", w, r)

    def mark(self, name: str, *evs: int) -> None:
        self.extra_sets.setdefault(name, set()).update(evs)

    def build(self, *, final: Iterable[int] = (), co: Iterable[tuple[int, int]] | None = None) -> Execution:
        evs = self.events
        n = len(evs)

        def mask(pred: Iterable[int]) -> int:
            m = 0
            for i in pred:
                m |= 1 << i
            return m

        def succ(pairs: Iterable[tuple[int, int]]) -> list[int]:
            out = [0] * n
            for a, b in pairs:
                out[a] |= 1 << b
            return out

        kinds = [e.kind for e in evs]
        sets = {
            "R": mask(i for i, k in enumerate(kinds) if k == "R"),
            "W": mask(i for i, k in enumerate(kinds) if k in ("W", "IW")),
            "M": mask(i for i, k in enumerate(kinds) if k != "F"),
            "F": mask(i for i, k in enumerate(kinds) if k == "F"),
            "IW": mask(i for i, k in enumerate(kinds) if k == "IW"),
            "FW": mask(final),
            "RMW": mask(self.extra_sets.get("RMW", set())),
        }
        for k in ("LKR", "LKW", "UL", "LF", "RL", "RU"):
            sets[k] = mask(i for i, kk in enumerate(kinds) if kk == k)
        po = [
            (a, b)
            for a in range(n)
            for b in range(n)
            if a < b and evs[a].thread is not None and evs[a].thread == evs[b].thread
        ]
        same_loc = [(a, b) for a in range(n) for b in range(n) if evs[a].loc is not None and evs[a].loc == evs[b].loc]
        intr = [
            (a, b) for a in range(n) for b in range(n) if evs[a].thread is not None and evs[a].thread == evs[b].thread
        ]
        ext = [(a, b) for a in range(n) for b in range(n) if evs[a].thread != evs[b].thread]
        relations = {
            "po": succ(po),
            "loc": succ(same_loc),
            "int": succ(intr),
            "ext": succ(ext),
            "id": succ((i, i) for i in range(n)),
        }
        for name in ("rf", "addr", "data", "ctrl", "rmw"):
            relations[name] = succ(self.rels.get(name, set()))
        if co is not None:
            relations["co"] = succ(co)
        return Execution(
            n=n,
            sets=sets,
            annotations=[e.annots for e in evs],
            relations=relations,
            loc=[e.loc for e in evs],
            val=[e.val for e in evs],
        )


def mp(
    p0: tuple[tuple[str, ...], ...] = (),
    p1: tuple[tuple[str, ...], ...] = (),
    wannot: tuple[str, str] = ("ONCE", "ONCE"),
    rannot: tuple[str, str] = ("ONCE", "ONCE"),
) -> Execution:
    """MP with r0=1 (y) and r1=0 (x); optional fences between the two accesses of each thread."""
    b = Builder()
    ix = b.init("x")
    b.init("y")
    wx = b.w(0, "x", 1, wannot[0])
    for fence in p0:
        b.f(0, *fence)
    wy = b.w(0, "y", 1, wannot[1])
    ry = b.r(1, "y", 1, rannot[0])
    for fence in p1:
        b.f(1, *fence)
    rx = b.r(1, "x", 0, rannot[1])
    b.rf(wy, ry)
    b.rf(ix, rx)
    return b.build(final=[wx, wy])
