"""Running thread code: each thread's behaviour as a lazily built, memoized trie.

A thread is deterministic given the values its value-returning operations (loads, RMWs) return.
So its behaviour is a trie: a path of returned values leads to a node, the thread's next event.
Non-value events (stores, fences, ...) have one successor (``next``); value events have one child
per returned value (``children``).  Terminal nodes end the thread (END, ERROR, BLOCK, LIMIT); an
exception raised by thread code is an ERROR node labelled ``exception``.

The explorer walks these tries.  Python code runs only to build nodes nobody has seen before: the
thread function is re-run from its start, its first reads answered from the recorded path at no
cost, and from there on every operation is recorded as a new node until the next value-returning
one, where the run stops (an internal exception unwinds it).  This is GenMC's "instruction
caching" idea: the cost of Python is paid once per distinct behaviour, not once per execution.
"""

from __future__ import annotations

import itertools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from rmapwalk.engine import deps as _deps
from rmapwalk.engine.deps import EMPTY, active_ctrl, deps_of, plain, tag
from rmapwalk.engine.events import (
    ALLOC,
    BLOCK,
    END,
    ERROR,
    FENCE,
    FREE,
    LIMIT,
    NO_WRITE,
    OBSERVE,
    READ,
    RMW,
    SPECIAL,
    WRITE,
)
from rmapwalk.engine.program import DYN_BASE, DYN_OBJ_STRIDE, DYN_THREAD_STRIDE, ThreadDef

_HERE = os.path.dirname(os.path.abspath(__file__))
_PKG = os.path.dirname(_HERE)
#: files under these folders are library code: a trace names the model line that called into them
INTERNAL_DIRS = (_HERE + os.sep, os.path.join(_PKG, "kernel") + os.sep)


class Src:
    """Where in the model's source an event comes from."""

    __slots__ = ("file", "line", "func", "text")

    def __init__(self, file: str, line: int, func: str) -> None:
        self.file = file
        self.line = line
        self.func = func
        self.text: str | None = None

    def __repr__(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line}"

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.func}


def _caller_src() -> Src | None:
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(INTERNAL_DIRS):
        if f.f_code is _RUN_CODE:  # the thread's own code is all library code (e.g. RCU callbacks)
            return None
        f = f.f_back  # type: ignore[assignment]
    if f is None:
        return None
    return Src(f.f_code.co_filename, f.f_lineno, f.f_code.co_name)


def _freeze(v: Any) -> Any:
    """A comparable snapshot of a local variable's value (containers copied, tracked values
    plain); raises TypeError for values that cannot be compared safely."""
    if isinstance(v, (int, str, float, bool, bytes, type(None))):
        return plain(v)
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(_freeze(x) for x in v))
    if isinstance(v, (set, frozenset)):
        return ("set", frozenset(_freeze(x) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple((_freeze(k), _freeze(x)) for k, x in v.items()))
    if callable(v) or isinstance(v, type):
        return ("id", id(v))
    raise TypeError(type(v).__name__)


def _model_frames() -> Any:
    """The model's frames of the running thread (outside the engine and the kernel library),
    innermost first, as (code, line, frozen locals); None when a local cannot be frozen."""
    out = []
    f: Any = sys._getframe(2)
    while f is not None and f.f_code is not _RUN_CODE:
        if not f.f_code.co_filename.startswith(INTERNAL_DIRS):
            try:
                loc = tuple((k, _freeze(x)) for k, x in f.f_locals.items())
            except TypeError:
                return None
            out.append((f.f_code, f.f_lineno, loc))
        f = f.f_back
    return tuple(out)


def _tb_src(tb: Any) -> Src | None:
    frames = [fr for fr in traceback.extract_tb(tb) if not fr.filename.startswith(INTERNAL_DIRS)]
    if not frames:
        return None
    fr = frames[-1]
    return Src(fr.filename, fr.lineno or 0, fr.name)


#: the serial numbers of nodes (Node.serial)
_SERIALS = itertools.count()


class Node:
    """One event of one thread, reached by the path of values returned before it."""

    __slots__ = (
        "kind",
        "loc",
        "value",
        "mode",
        "op",
        "label",
        "src",
        "children",
        "next",
        "path",
        "depth",
        "tid",
        "deps",
        "serial",
    )

    def __init__(
        self,
        kind: int,
        tid: int,
        depth: int,
        path: tuple[Any, ...],
        loc: int = -1,
        value: Any = None,
        mode: str = "",
        op: Callable[[Any], Any] | None = None,
        label: str = "",
        src: Src | None = None,
    ) -> None:
        self.kind = kind
        self.tid = tid
        self.depth = depth
        self.path = path
        self.loc = loc
        self.value = value
        self.mode = mode
        self.op = op
        self.label = label
        self.src = src
        self.children: dict[Any, Node] | None = None
        self.next: Node | None = None
        #: under a dependency-tracking model, for memory events: the depths of the earlier reads
        #: of this thread its (address, value, execution) depends on; else None
        self.deps: tuple[frozenset[int], frozenset[int], frozenset[int]] | None = None
        #: a number no other node of this process gets, ever (an ``id`` can be reused once the
        #: memo lets a node go): names the node in the explorer's hashes of graph states
        self.serial = next(_SERIALS)

    def __repr__(self) -> str:
        return f"Node(kind={self.kind}, tid={self.tid}, depth={self.depth}, loc={self.loc}, label={self.label!r})"


class _Suspend(BaseException):
    """Unwinds a thread run at the first value-returning operation past the known path."""


class _Stop(BaseException):
    """Unwinds a thread run after it blocked or hit the event limit."""


class Violated(AssertionError):
    """Raised by library code in a thread to report a named property violation (e.g. ``lock
    misuse``); the thread stops there and the execution is reported like a failed assert."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: the property of an execution in which thread code raised an exception (other than an
#: AssertionError, a failed assertion, or a ModelError, a broken model)
EXCEPTION = "exception"
#: the label of the ERROR node of a deferred ModelError (see ThreadBehaviour.defer_model_errors)
MODEL_ERROR = "model error"


def exception_message(e: BaseException) -> str:
    """``ZeroDivisionError: division by zero`` (the first line of the message)."""
    text = str(e).split("\n")[0]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class ModelError(Exception):
    """The model itself is broken (raised an unexpected exception, bad argument, ...)."""

    def __init__(self, message: str, src: Src | None = None) -> None:
        super().__init__(message)
        self.src = src


class _Recorder:
    """Answers the operations of one re-run of one thread."""

    __slots__ = ("tid", "path", "npath", "pos", "depth", "head", "tail", "done", "allocs", "limit", "tls", "prog",
                 "track_deps", "lkmm_events", "ctrl_scopes", "ctrl_always", "effects", "relaxed")

    def __init__(self, tid: int, path: tuple[Any, ...], limit: int, prog: Any = None,
                 track_deps: bool = False, lkmm_events: bool = False) -> None:
        #: return read values as DInt and record each memory event's dependencies (lkmm, weak)
        self.track_deps = track_deps
        #: library code emits LKMM's own kernel events (see MemoryModel.lkmm_events)
        self.lkmm_events = lkmm_events
        #: branches taken on tracked values: (frame, lo, hi, reads) (see rmapwalk.engine.deps)
        self.ctrl_scopes: list[Any] = []
        #: reads every later event depends on (assume() on a tracked value)
        self.ctrl_always: frozenset[int] = EMPTY
        #: the program the thread belongs to (library code finds its shared state through it)
        self.prog = prog
        #: per-thread Python state of library code (locks held, RCU nesting...): rebuilt on every
        #: re-run, since the re-run replays the same operations
        self.tls: dict[str, Any] = {}
        self.tid = tid
        self.path = path
        self.npath = len(path)
        self.pos = 0
        self.depth = 0
        self.head: Node | None = None
        self.tail: Node | None = None
        self.done = False
        self.allocs = 0
        self.limit = limit
        #: events so far that change shared state or the outcome (writes, allocations, frees,
        #: observations, and RMWs that wrote once the thread has relaxed), counted in replay too
        #: (see :meth:`relax`)
        self.effects = 0
        #: the thread's state at its last ``relax()``: (effects, frames) (see :meth:`relax`)
        self.relaxed: tuple[int, Any] | None = None

    @property
    def live(self) -> bool:
        return self.pos == self.npath

    def _append(self, node: Node) -> None:
        if self.tail is None:
            self.head = node
        else:
            self.tail.next = node
        self.tail = node

    def _new(self, kind: int, **kw: Any) -> Node:
        if self.done:
            raise _Suspend
        if self.depth >= self.limit and kind not in (END, ERROR):
            node = Node(LIMIT, self.tid, self.depth, self.path, src=_caller_src(), label="event limit")
            self._append(node)
            self.done = True
            raise _Stop
        node = Node(kind, self.tid, self.depth, self.path, src=_caller_src(), **kw)
        self.depth += 1
        self._append(node)
        return node

    def _deps(self, node: Node, loc: Any, data: frozenset[int]) -> None:
        node.deps = (deps_of(loc), data, active_ctrl(self.ctrl_scopes) | self.ctrl_always)

    # -- operations ------------------------------------------------------------------------
    def value_op(self, kind: int, loc: int, mode: str, op: Any, label: str, operands: Any = ()) -> Any:
        if self.pos < self.npath:
            v = self.path[self.pos]
            self.pos += 1
            d = self.depth
            self.depth += 1
            # (only relax() compares effects, between two of its calls: an RMW's outcome is worked
            # out only once the thread has relaxed, not on every replay of every thread)
            if kind == RMW and self.relaxed is not None and op is not None and op(plain(v)) is not NO_WRITE:
                self.effects += 1
            return tag(v, d) if self.track_deps else v
        if self.track_deps:
            # the value written is computed from the operands (by default: what ``op`` captured)
            if not operands and op is not None and op.__closure__:
                operands = tuple(c.cell_contents for c in op.__closure__)
            data = EMPTY
            for x in operands:
                data = data | deps_of(x)
            if op is not None:
                op = _plain_result(op)
            node = self._new(kind, loc=int(loc), mode=mode, op=op, label=label)
            self._deps(node, loc, data)
        else:
            node = self._new(kind, loc=loc, mode=mode, op=op, label=label)
        node.children = {}
        self.done = True
        raise _Suspend

    def plain_op(self, kind: int, loc: int, value: Any, mode: str, label: str) -> None:
        if kind != FENCE:
            self.effects += 1
        if self.pos < self.npath:
            self.depth += 1
            return
        if self.track_deps:
            # (fences and markers record their control dependency too: a revisit that changes a
            # branch must drop what the branch made, whatever its kind)
            node = self._new(kind, loc=int(loc), value=plain(value), mode=mode, label=label)
            self._deps(node, loc, deps_of(value) if kind == WRITE else EMPTY)
        else:
            self._new(kind, loc=loc, value=value, mode=mode, label=label)

    def observe(self, name: str, value: Any) -> None:
        self.effects += 1
        if self.pos < self.npath:
            self.depth += 1
            return
        if self.track_deps:
            node = self._new(OBSERVE, value=plain(value), label=name)
            self._deps(node, None, deps_of(value))
        else:
            self._new(OBSERVE, value=value, label=name)

    def assume(self, cond: Any, why: str, kind: str = "assume") -> None:
        if self.track_deps:
            # a wait is a branch with no join: everything after it depends on what it tested
            self.ctrl_always = self.ctrl_always | deps_of(cond)
        cond = bool(cond)
        if self.pos < self.npath:
            return
        if self.done:
            raise _Suspend
        if not cond:
            self._append(Node(BLOCK, self.tid, self.depth, self.path, value=kind, label=why, src=_caller_src()))
            self.done = True
            raise _Stop

    def relax(self, why: str) -> None:
        """A spin loop's ``cpu_relax()``: block the thread (a wait of kind ``"spin"``) when the
        pass since its last ``relax()`` changed nothing -- no write, successful RMW, allocation,
        free or observation, and every model frame (code position and local variables) as it was.
        The thread would then run the same pass again, reading values no older than before, so
        every continuation of a later pass is a continuation of this one: blocking loses no
        behaviour, and replaces the unbounded unrolling of the loop.  Whether the wait can ever
        end is then the explorer's business (await-aware: see ``Explorer._moot``).

        Local state that Python cannot compare (objects without ``==``) counts as changed, so
        the loop is unrolled on to the event bound rather than cut wrongly."""
        state = (self.effects, _model_frames())
        prev, self.relaxed = self.relaxed, state
        if prev is not None and state[1] is not None and prev == state:
            self.assume(False, why, "spin")

    def alloc(self, nfields: int, label: str) -> int:
        if nfields > DYN_OBJ_STRIDE:
            raise ModelError(f"allocation of {nfields} fields is larger than {DYN_OBJ_STRIDE}")
        addr = DYN_BASE + self.tid * DYN_THREAD_STRIDE + self.allocs * DYN_OBJ_STRIDE
        self.allocs += 1
        self.effects += 1
        if self.pos < self.npath:
            self.depth += 1
            return addr
        node = self._new(ALLOC, loc=addr, value=nfields, label=label)
        if self.track_deps:
            self._deps(node, None, EMPTY)
        return addr


def _plain_result(op: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def plain_op(cur: Any) -> Any:
        return plain(op(cur))

    if getattr(op, "reads_old", True) is False:  # (an exchange: see ops.constant)
        plain_op.reads_old = False  # type: ignore[attr-defined]
    if getattr(op, "data_from_old", True) is False:  # (see ops.conditional)
        plain_op.data_from_old = False  # type: ignore[attr-defined]
    return plain_op


_current: _Recorder | None = None


def current() -> _Recorder:
    """The recorder of the thread run in progress (operations outside a thread are an error)."""
    rec = _current
    if rec is None:
        raise ModelError("a shared-memory operation was called outside a model thread")
    return rec


class ThreadBehaviour:
    """The memoized behaviour trie of one thread of a program."""

    __slots__ = ("tdef", "tid", "limit", "root", "runs", "prog", "memo", "memo_limit", "track_deps",
                 "lkmm_events", "defer_model_errors")

    #: how many memoized runs a thread keeps before forgetting them (bounds memory on long
    #: searches: forgotten behaviour is recomputed by re-running the thread when needed again)
    MEMO_LIMIT = 5000

    def __init__(self, tdef: ThreadDef, tid: int, limit: int, prog: Any = None, track_deps: bool = False,
                 defer_model_errors: bool = False, lkmm_events: bool | None = None) -> None:
        self.track_deps = track_deps
        #: (by default: with dependencies, as only the LKMM models tracked them once did)
        self.lkmm_events = track_deps if lkmm_events is None else lkmm_events
        #: a ModelError raised by thread code ends the thread in an ERROR node labelled
        #: MODEL_ERROR (the exception its value) instead of propagating: under a model that
        #: judges executions only when complete (LKMM), thread code also runs on values of
        #: graphs that turn out inconsistent, where a model's own sanity check can fail; the
        #: explorer raises the error only if the execution is consistent
        self.defer_model_errors = defer_model_errors
        self.tdef = tdef
        self.prog = prog
        self.memo: list[Node] = []
        self.memo_limit = self.MEMO_LIMIT
        self.tid = tid
        self.limit = limit
        self.runs = 0
        self.root: Node = self._run(())

    def child(self, node: Node, value: Any) -> Node:
        """The node reached when value-returning ``node`` returns ``value``."""
        children = node.children
        assert children is not None
        nxt = children.get(value)
        if nxt is None:
            if len(self.memo) >= self.memo_limit:
                for n in self.memo:
                    n.children = {}  # nodes in use stay alive through the graphs holding them
                self.memo.clear()
                children = node.children = {}
            nxt = self._run(node.path + (value,))
            children[value] = nxt
            self.memo.append(node)
        return nxt

    def _run(self, path: tuple[Any, ...]) -> Node:
        global _current
        self.runs += 1
        rec = _Recorder(self.tid, path, self.limit, self.prog, self.track_deps, self.lkmm_events)
        prev = _current
        _current = rec
        try:
            ret = self.tdef.fn(*self.tdef.args)
        except (_Suspend, _Stop):
            pass
        except AssertionError as e:
            if not rec.done:  # (an assert in a `finally` while unwinding a suspension is ignored)
                src = _tb_src(e.__traceback__)
                # (only the first line: pytest's assertion rewriting appends an explanation)
                msg = str(e).split("\n")[0] or "assertion failed"
                if src is not None and not str(e):
                    msg = f"assertion failed at {os.path.basename(src.file)}:{src.line}"
                _terminal(rec, ERROR, msg, src)
                assert rec.tail is not None
                rec.tail.label = getattr(e, "kind", "assertion")
        except ModelError as e:
            if e.src is None:
                e.src = _tb_src(e.__traceback__)
            if not self.defer_model_errors or rec.done:
                raise
            _terminal(rec, ERROR, e, e.src)
            assert rec.tail is not None
            rec.tail.label = MODEL_ERROR
        except Exception as e:  # thread code raised: the execution stops there, a violation
            if not rec.done:
                _terminal(rec, ERROR, exception_message(e), _tb_src(e.__traceback__))
                assert rec.tail is not None
                rec.tail.label = EXCEPTION
        else:
            if rec.pos < rec.npath:  # pragma: no cover - nondeterministic thread code
                raise ModelError(
                    f"thread {self.tdef.name} is not deterministic: it returned before its "
                    f"recorded reads were replayed"
                )
            _terminal(rec, END, ret, None)
        finally:
            _current = prev
        if rec.head is None:
            raise ModelError(
                f"thread {self.tdef.name} is not deterministic: a re-run did not reach the "
                "operation it reached before"
            )
        return rec.head


_RUN_CODE = ThreadBehaviour._run.__code__
_deps.bind_runtime(sys.modules[__name__])


def _terminal(rec: _Recorder, kind: int, value: Any, src: Src | None) -> None:
    if rec.pos < rec.npath:
        raise ModelError("thread ended before replaying its recorded reads (nondeterministic model?)")
    node = Node(kind, rec.tid, rec.depth, rec.path, value=value, src=src)
    if kind == END:
        node.label = "end"
    rec._append(node)


# Re-exported node kinds used by ops (kept here so ops needs one import).
__all__ = [
    "ALLOC",
    "FENCE",
    "FREE",
    "READ",
    "RMW",
    "SPECIAL",
    "WRITE",
    "EXCEPTION",
    "ModelError",
    "Node",
    "Src",
    "ThreadBehaviour",
    "current",
]
