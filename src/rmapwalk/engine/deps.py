"""Dependency tracking: which earlier reads of a thread an access's address, value or execution
depends on (LKMM's ``addr``, ``data`` and ``ctrl``).

Under a model that needs dependencies (``lkmm``, ``lkmm-alpha``) a marked load or RMW returns
its value as a :class:`DInt`: an ``int`` that also carries the set of reads it came from (their
positions, *depths*, in the thread).  Ordinary Python arithmetic, bit operations and comparisons
on it return ``DInt`` again with the union of the operands' sets, so::

    p = rcu_dereference(head)          # DInt, deps {3}
    v = READ_ONCE(p + 1)               # address computed from read 3: addr dependency
    WRITE_ONCE(x, v & 0xff)            # value computed from the read of v: data dependency
    if v == 1:                         # a branch decided by it: ctrl dependency, up to the join
        WRITE_ONCE(y, 1)

Control dependencies follow herd7's meaning for C: the events *inside* the branch (the ``if``
body and its ``else``, or the body of a ``while`` iteration) depend on the reads that decided it;
events after the join do not.  The branch and its extent are read from the bytecode at the
moment Python asks the value for its truth: a conditional jump in the caller's frame marks a
region of that frame's code, and an event depends on the branch while that frame, still on the
stack, executes inside the region (so calls made from inside the branch depend on it too).
``assume(cond)`` is a branch with no join: everything after it depends on ``cond``.

Where tracking cannot follow a value, the dependency is *lost*, never invented.  A lost
dependency only removes ordering, so the model allows more executions (never fewer):

* values that are not ``int`` (``None``, tuples, objects) carry nothing;
* ``int(v)``, ``bool(v)``, ``str(v)``, formatting, and hashing (a ``DInt`` used as a dict key or
  set member is looked up by its plain value) drop the set;
* a value kept in a container (list, dict) and read back is the same ``DInt`` object and keeps
  its set; a container *indexed by* a ``DInt`` (``table[v]``) gives an element with no
  dependency on ``v`` (list indexing goes through ``__index__``, which returns a plain int);
* ``not v`` and ``x = (v == 1)`` followed later by ``if x:`` keep the set (``DBool`` is a
  ``DInt``), but ``not v`` is a plain ``bool``;
* a branch decided inside library code (``rmapwalk.engine``/``rmapwalk.kernel``) on behalf of
  the model (e.g. inside ``cmpxchg``) is not a control dependency of the model's later events.

The dependency sets are recorded on each new behaviour node (:class:`rmapwalk.engine.runtime.Node`
``deps``): ``(addr, data, ctrl)`` as frozensets of depths.
"""

from __future__ import annotations

import dis
import sys
from types import CodeType, FrameType
from typing import Any

EMPTY: frozenset[int] = frozenset()


def deps_of(v: Any) -> frozenset[int]:
    """The reads ``v`` was computed from (empty for an untracked value)."""
    return v.deps if isinstance(v, Tracked) else EMPTY


def _mk(v: Any, deps: frozenset[int]) -> Any:
    if not deps:
        return v
    t = type(v)
    if t is int or t is DInt:
        v = int(v)
        r = DInt(v)
        r.deps = deps
        return r
    if t is bool or t is DBool:
        b = DBool(v)
        b.deps = deps
        return b
    if isinstance(v, int) and hasattr(v, "name") and _pointer is not None:  # a pointer read from memory
        lo = _pointer(int(v), v.name)
        lo.deps = deps
        return lo
    return v


#: the tracked pointer class: ``rmapwalk.engine.program`` makes it (a ``Loc`` that is
#: :class:`Tracked`) and registers it here with :func:`register_pointer_class`
_pointer: Any = None


def register_pointer_class(cls: Any) -> None:
    global _pointer
    _pointer = cls


def with_deps(value: Any, *sources: Any) -> Any:
    """``value`` carrying the dependencies of ``value`` and of every source (for interpreters
    and library code that compute a result outside Python's operators)."""
    d = deps_of(value)
    for s in sources:
        d = d | deps_of(s)
    return _mk(plain(value), d)


def _bin(name: str, reflected: bool = False) -> Any:
    base = getattr(int, name)

    def op(self: Any, other: Any) -> Any:
        res = base(int(self), int(other) if isinstance(other, Tracked) else other)
        if res is NotImplemented:
            return res
        d = self.deps | other.deps if isinstance(other, Tracked) else self.deps
        return _mk(res, d)

    op.__name__ = name
    return op


def _unary(name: str) -> Any:
    base = getattr(int, name)

    def op(self: Any) -> Any:
        return _mk(base(int(self)), self.deps)

    op.__name__ = name
    return op


def _cmp(name: str) -> Any:
    base = getattr(int, name)

    def op(self: Any, other: Any) -> Any:
        if not isinstance(other, int):  # e.g. comparing with None: int's own answer
            return base(int(self), other)
        res = base(int(self), int(other))
        d = self.deps | other.deps if isinstance(other, Tracked) else self.deps
        return _mk(res, d)

    op.__name__ = name
    return op


class Tracked:
    """The behaviour of a tracked value (mixed into ``int`` and ``Loc``): operators propagate the
    dependency set, truth tests at a branch record a control dependency."""

    __slots__ = ()
    deps: frozenset[int]

    def __repr__(self) -> str:
        return int.__repr__(self)

    __str__ = __repr__

    def __hash__(self) -> int:
        return int.__hash__(self)  # type: ignore[arg-type]

    def __bool__(self) -> bool:
        res = int(self) != 0
        rec = _recorder()
        if rec is not None and self.deps:
            f = sys._getframe(1)
            region = branch_region(f.f_code, f.f_lasti)
            if region is not None and not f.f_code.co_filename.startswith(_library_dirs()):
                rec.ctrl_scopes.append((f, region[0], region[1], self.deps))
        return res

    def __index__(self) -> int:
        return int(self)

    def __int__(self) -> int:
        return int.__int__(self)  # type: ignore[arg-type]

    def __reduce__(self) -> Any:  # pickles and copies as a plain int
        return (int, (int(self),))


for _n in ("__add__", "__sub__", "__mul__", "__floordiv__", "__truediv__", "__mod__", "__pow__",
           "__lshift__", "__rshift__", "__and__", "__or__", "__xor__",
           "__radd__", "__rsub__", "__rmul__", "__rfloordiv__", "__rtruediv__", "__rmod__",
           "__rpow__", "__rlshift__", "__rrshift__", "__rand__", "__ror__", "__rxor__"):
    setattr(Tracked, _n, _bin(_n))
for _n in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(Tracked, _n, _unary(_n))
for _n in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
    setattr(Tracked, _n, _cmp(_n))


class DInt(Tracked, int):
    """An ``int`` that remembers which reads of its thread it was computed from."""


class DBool(DInt):
    """The result of comparing a :class:`DInt`: 0 or 1, shown as ``False``/``True``."""

    def __repr__(self) -> str:
        return "True" if int(self) else "False"

    __str__ = __repr__


# -- control dependencies: the extent of a branch, from the bytecode -------------------------------
_regions: dict[tuple[CodeType, int], tuple[int, int] | None] = {}
_instrs: dict[CodeType, dict[int, dis.Instruction]] = {}


def branch_region(code: CodeType, offset: int) -> tuple[int, int] | None:
    """If the instruction at ``offset`` of ``code`` is a conditional jump, the byte range
    ``[lo, hi)`` of code that executes under the branch (until the join); else None."""
    key = (code, offset)
    if key in _regions:
        return _regions[key]
    table = _instrs.get(code)
    if table is None:
        table = _instrs[code] = {i.offset: i for i in dis.get_instructions(code)}
    ins = table.get(offset)
    region: tuple[int, int] | None = None
    if ins is not None and "JUMP" in ins.opname and "IF_" in ins.opname and "NONE" not in ins.opname:
        target = ins.argval
        if isinstance(target, int):
            if target > offset:
                hi = target
                # an if/else: the then-block ends with an unconditional jump over the else-block
                before = max((o for o in table if o < target), default=None)
                if before is not None:
                    j = table[before]
                    if j.opname in ("JUMP_FORWARD", "JUMP", "JUMP_NO_INTERRUPT") and isinstance(j.argval, int) \
                            and j.argval > target:
                        hi = j.argval
                region = (offset + 1, hi)
            else:  # a loop's test at its bottom: taken, the body runs again
                region = (target, offset)
    _regions[key] = region
    return region


class ctrl_region:
    """``with ctrl_region(cond): ...``: the events made inside depend on ``cond``'s reads (for
    interpreters, whose branches are not the model's own bytecode)."""

    def __init__(self, cond: Any) -> None:
        self.deps = deps_of(cond)
        self.scope: Any = None

    def __enter__(self) -> ctrl_region:
        rec = _recorder()
        if rec is not None and self.deps:
            self.scope = (None, 0, 0, self.deps)
            rec.ctrl_scopes.append(self.scope)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.scope is not None:
            rec = _recorder()
            if rec is not None:
                rec.ctrl_scopes[:] = [s for s in rec.ctrl_scopes if s is not self.scope]


#: folders of interpreters and libraries whose own branches are not the model's
_extra_library_dirs: tuple[str, ...] = ()


def register_library_dir(path: str) -> None:
    """Branches taken in code under ``path`` are not control dependencies (an interpreter
    registers its folder and marks the branches it interprets with :class:`ctrl_region`)."""
    global _extra_library_dirs
    if path not in _extra_library_dirs:
        _extra_library_dirs = _extra_library_dirs + (path,)


def active_ctrl(scopes: list[tuple[FrameType, int, int, frozenset[int]]]) -> frozenset[int]:
    """The reads the next event is control-dependent on, given the branches taken so far
    (scopes whose frame has returned or left its region are dropped)."""
    if not scopes:
        return EMPTY
    on_stack: dict[int, int] = {}
    f: FrameType | None = sys._getframe(1)
    while f is not None:
        on_stack[id(f)] = f.f_lasti
        f = f.f_back
    out: frozenset[int] = EMPTY
    keep = []
    for sc in scopes:
        fr, lo, hi, deps = sc
        if fr is None:  # an explicit ctrl_region: active until it is left
            keep.append(sc)
            out = out | deps
            continue
        at = on_stack.get(id(fr))
        if at is None:
            continue  # its frame returned: the branch is over for good
        keep.append(sc)
        if lo <= at < hi:
            out = out | deps
    scopes[:] = keep
    return out


#: the thread runtime (``rmapwalk.engine.runtime`` binds itself here: it imports this module)
_runtime: Any = None


def bind_runtime(runtime: Any) -> None:
    global _runtime
    _runtime = runtime


def _recorder() -> Any:
    rec = _runtime._current
    if rec is None or not rec.track_deps:
        return None
    return rec


def _library_dirs() -> tuple[str, ...]:
    return _runtime.INTERNAL_DIRS + _extra_library_dirs


def plain(v: Any) -> Any:
    """``v`` without its dependency set (what the execution graph stores)."""
    if isinstance(v, Tracked):
        if isinstance(v, DBool):
            return bool(int(v))
        name = getattr(v, "name", None)
        if name is not None:  # a tracked pointer: the plain Loc
            return _pointer.__mro__[2](int(v), name)
        return int(v)
    return v


def tag(value: Any, depth: int) -> Any:
    """``value`` as returned by the read at ``depth``: carrying that read (ints and bools)."""
    return _mk(value, frozenset((depth,)))


__all__ = ["DBool", "DInt", "active_ctrl", "branch_region", "ctrl_region", "deps_of", "plain",
           "register_library_dir", "tag", "with_deps"]
