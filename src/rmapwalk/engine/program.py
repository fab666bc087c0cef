"""What a user writes: shared locations, threads, and conditions on the final state.

A :class:`Program` is plain data: it names its shared locations (with initial values), its
threads (ordinary Python functions that reach shared memory only through the engine's operations,
see :mod:`rmapwalk.engine.ops`), and the properties to check at the end of each execution.

Thread functions must be *deterministic given the values their reads return*: the engine re-runs
them from the start whenever it needs to know what a thread does after a read value it has not
seen before.  Python state a thread needs must be created inside the thread function; anything
shared must be a :class:`Loc`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine.deps import Tracked, register_pointer_class

# Dynamic allocations get addresses far above the static ones, one region per thread, so that an
# address depends only on the allocating thread's own history (needed for memoization).
DYN_BASE = 1 << 32
DYN_THREAD_STRIDE = 1 << 24
DYN_OBJ_STRIDE = 1 << 10
#: locations created by name (library state) live here, below the dynamic region
NAMED_BASE = 1 << 28
NAMED_BLOCK_BASE = 1 << 29


class Loc(int):
    """A shared memory location: an int address with a display name.

    Arithmetic on a ``Loc`` gives a plain ``int`` address; the engine accepts both.
    """

    name: str

    def __new__(cls, addr: int, name: str) -> Loc:
        obj = super().__new__(cls, addr)
        obj.name = name
        return obj

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Loc, (int(self), self.name))


def _defer_to_tracked(name: str) -> Any:
    # int's own method would drop a tracked operand's dependencies (``x + i`` with ``i`` read
    # from memory is an address dependency): let the tracked value compute it
    base = getattr(int, name)
    reflected = "__r" + name[2:] if not name.startswith("__r") else "__" + name[3:]

    def op(self: Loc, other: Any) -> Any:
        if isinstance(other, Tracked):
            return getattr(other, reflected)(int(self))
        return base(self, other)

    op.__name__ = name
    return op


for _n in ("__add__", "__sub__", "__mul__", "__and__", "__or__", "__xor__", "__lshift__", "__rshift__",
           "__radd__", "__rsub__", "__rmul__", "__rand__", "__ror__", "__rxor__"):
    setattr(Loc, _n, _defer_to_tracked(_n))


class DLoc(Tracked, Loc):
    """A pointer (a ``Loc``) read from memory under a dependency-tracking model: it carries the
    reads it came from (``rmapwalk.engine.deps``)."""

    __repr__ = Loc.__repr__
    __str__ = Loc.__repr__
    __reduce__ = Loc.__reduce__
    __hash__ = int.__hash__
    __bool__ = Tracked.__bool__
    __index__ = Tracked.__index__


register_pointer_class(DLoc)


@dataclass
class ThreadDef:
    """One thread of a program: a function and its arguments."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass
class Condition:
    """A predicate over the final state.

    ``kind`` is ``"forbid"`` (a final state satisfying it is a violation), ``"require"`` (a final
    state not satisfying it is a violation) or ``"exists"`` (only reported: is it reachable?).
    """

    kind: str
    pred: Callable[[Final], bool]
    name: str


class Final(Mapping[str, Any]):
    """The final state of a complete execution: registers and final memory values.

    Keys are ``"THREAD:reg"`` for registers (from ``observe()`` or a returned dict) and location
    names for memory.  ``final[loc]`` with a :class:`Loc` works too.
    """

    __slots__ = ("_d",)

    def __init__(self, items: Mapping[str, Any]) -> None:
        self._d = dict(items)

    def __getitem__(self, key: object) -> Any:
        if isinstance(key, Loc):
            key = key.name
        return self._d[key]  # type: ignore[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(name) from None

    def key(self) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted(self._d.items(), key=lambda kv: kv[0]))

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k}={v!r}" for k, v in self.key()) + "}"


@dataclass
class Program:
    """A concurrent program over shared memory, ready to be explored.

    Example::

        p = Program("SB")
        x, y = p.var("x"), p.var("y")

        @p.thread
        def P0():
            store(x, 1, ONCE)
            observe("r0", load(y, ONCE))
    """

    name: str = "program"
    threads: list[ThreadDef] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    init: dict[int, Any] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    observed: list[Loc] = field(default_factory=list)
    _next_addr: int = 1
    _named: dict[str, Loc] = field(default_factory=dict)
    _blocks: dict[str, int] = field(default_factory=dict)
    #: address -> name of objects (named blocks), so traces show pointers by name
    objects: dict[int, str] = field(default_factory=dict)
    #: configuration of library layers (RCU callback slots, slab caches...), by layer
    lib: dict[str, Any] = field(default_factory=dict)
    #: checks run on every finished execution (complete or blocked) by library layers:
    #: fn(graph, model) -> list of (property, message)
    checks: list[Any] = field(default_factory=list)

    # -- locations ---------------------------------------------------------------------------
    def var(self, name: str, init: Any = 0, observe: bool = True) -> Loc:
        """A new shared location ``name`` holding ``init`` at the start."""
        if name in self.names.values():
            raise ValueError(f"location {name!r} defined twice")
        loc = Loc(self._next_addr, name)
        self._next_addr += 1
        self.names[int(loc)] = name
        if init != 0:
            self.init[int(loc)] = init
        if observe:
            self.observed.append(loc)
        return loc

    def named(self, name: str, init: Any = 0) -> Loc:
        """The location ``name``, created on first use at an address that depends only on the
        name (so library state created lazily gets the same address in every run)."""
        loc = self._named.get(name)
        if loc is not None:
            return loc
        if name in self.names.values():
            raise ValueError(f"location {name!r} already defined with var()")
        addr = NAMED_BASE + (zlib.crc32(name.encode()) & 0xFFFFFFF)
        if addr in self.names:
            raise ValueError(f"named locations {name!r} and {self.names[addr]!r} collide")
        loc = Loc(addr, name)
        self.names[addr] = name
        self._named[name] = loc
        if init != 0:
            self.init[addr] = init
        return loc

    def named_block(self, name: str, fields: list[str]) -> int:
        """Consecutive locations ``name.field`` for each of ``fields`` (an object of library
        state, e.g. a slab object), at an address that depends only on ``name``."""
        if len(fields) > DYN_OBJ_STRIDE:
            raise ValueError(f"{name}: more than {DYN_OBJ_STRIDE} fields")
        base = self._blocks.get(name)
        if base is not None:
            return base
        base = NAMED_BLOCK_BASE + (zlib.crc32(name.encode()) & 0xFFFFF) * DYN_OBJ_STRIDE
        if base in self.names:
            raise ValueError(f"named blocks {name!r} and {self.names[base]!r} collide")
        for i, f in enumerate(fields):
            self.names[base + i] = f"{name}.{f}"
        self._blocks[name] = base
        self.objects[base] = name
        return base

    def array(self, name: str, n: int, init: Any = 0, observe: bool = True) -> list[Loc]:
        """``n`` consecutive shared locations ``name[0]`` .. ``name[n-1]``."""
        return [self.var(f"{name}[{i}]", init, observe) for i in range(n)]

    def initial(self, loc: int) -> Any:
        return self.init.get(loc, 0)

    def loc_name(self, loc: int) -> str:
        name = self.names.get(loc)
        if name is not None:
            return name
        if loc >= DYN_BASE:
            off = loc - DYN_BASE
            tid, rest = divmod(off, DYN_THREAD_STRIDE)
            obj, fld = divmod(rest, DYN_OBJ_STRIDE)
            return f"obj{tid}.{obj}+{fld}"
        return f"@{loc}"

    # -- threads -----------------------------------------------------------------------------
    def thread(
        self, fn: Callable[..., Any] | None = None, *args: Any, name: str | None = None
    ) -> Any:
        """Register ``fn(*args)`` as a thread; usable as a decorator (``@p.thread``)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            tname = name or (f.__name__ if f.__name__ not in self.thread_names() else None)
            if tname is None or tname == "<lambda>":
                tname = f"P{len(self.threads)}"
            if tname in self.thread_names():
                raise ValueError(f"thread name {tname!r} used twice")
            self.threads.append(ThreadDef(tname, f, tuple(args)))
            return f

        if fn is None:
            return register
        return register(fn)

    def thread_names(self) -> list[str]:
        return [t.name for t in self.threads]

    # -- conditions ---------------------------------------------------------------------------
    def forbid(self, pred: Callable[[Final], bool], name: str = "forbidden outcome") -> None:
        """A final state satisfying ``pred`` is a violation."""
        self.conditions.append(Condition("forbid", pred, name))

    def require(self, pred: Callable[[Final], bool], name: str = "final assertion") -> None:
        """A final state not satisfying ``pred`` is a violation."""
        self.conditions.append(Condition("require", pred, name))

    def exists(self, pred: Callable[[Final], bool], name: str = "exists") -> None:
        """Only report whether some final state satisfies ``pred`` (herd's ``exists``)."""
        self.conditions.append(Condition("exists", pred, name))

    def observe_locations(self, locs: Iterable[Loc]) -> None:
        """Restrict the memory part of final states to ``locs``."""
        self.observed = list(locs)
