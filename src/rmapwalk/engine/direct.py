"""Running a program's threads once, one after the other, straight on a dict: no engine.

This is the baseline the benchmarks divide by (the engine's *overhead factor*): what the same
thread code costs when every operation is a dictionary access.
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine import runtime as _rt
from rmapwalk.engine.events import NO_WRITE, READ
from rmapwalk.engine.program import DYN_BASE, DYN_OBJ_STRIDE, DYN_THREAD_STRIDE, Program


class _Blocked(BaseException):
    pass


class _Direct:
    """Quacks like the runtime's recorder, but executes operations on ``mem`` at once."""

    # pos == npath: every operation takes the ops' "live" path into this object
    npath = 0

    def __init__(self, prog: Program, mem: dict[int, Any], tid: int) -> None:
        self.prog = prog
        self.mem = mem
        self.tid = tid
        self.pos = 0
        self.depth = 0
        self.allocs = 0
        self.tls: dict[str, Any] = {}

    def value_op(self, kind: int, loc: int, mode: str, op: Any, label: str) -> Any:
        mem = self.mem
        old = mem.get(loc)
        if old is None:
            old = self.prog.initial(loc)
        if kind != READ:
            new = op(old)
            if new is not NO_WRITE:
                mem[loc] = new
        return old

    def plain_op(self, kind: int, loc: int, value: Any, mode: str, label: str) -> None:
        if kind == 1:  # WRITE
            self.mem[loc] = value

    def observe(self, name: str, value: Any) -> None:
        pass

    def assume(self, cond: bool, why: str, kind: str = "assume") -> None:
        if not cond:
            raise _Blocked

    def alloc(self, nfields: int, label: str) -> int:
        addr = DYN_BASE + self.tid * DYN_THREAD_STRIDE + self.allocs * DYN_OBJ_STRIDE
        self.allocs += 1
        return addr


def run_sequential(prog: Program) -> dict[int, Any]:
    """Run every thread of ``prog`` to its end (or its first failing ``assume``), in order."""
    mem: dict[int, Any] = {}
    prev = _rt._current
    try:
        for tid, td in enumerate(prog.threads):
            rec = _Direct(prog, mem, tid)
            _rt._current = rec  # type: ignore[assignment]
            try:
                td.fn(*td.args)
            except (_Blocked, AssertionError):
                pass
    finally:
        _rt._current = prev
    return mem
