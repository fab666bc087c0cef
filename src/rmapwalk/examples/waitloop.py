"""Waiting for a value written in turn: waiters spin on ``while READ_ONCE(x) != target:
cpu_relax()`` while one writer stores 1, 2, ..., N.

The loop is written as kernel code writes it.  ``cpu_relax()`` ends a pass that changed nothing
(the engine cuts the loop there instead of unrolling it), and exploration is await-aware: a
waiter that read a value a later store supersedes would read again, so that execution is not a
blocked one.  Waiting for the last value written, every execution completes (N+1 ways per waiter
to see the values go by); waiting for a value nobody writes is the ``spin loop`` violation.
"""

from rmapwalk.engine import Program
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, cpu_relax


def make(nvals: int = 3, waiters: int = 1, target: int | None = None) -> Program:
    """``waiters`` threads wait for ``target`` (default: the last value, ``nvals``)."""
    goal = nvals if target is None else target
    p = Program(f"waitloop-{nvals}x{waiters}" + ("" if target is None else f"-for-{target}"))
    x = p.var("x")

    def waiter() -> None:
        while READ_ONCE(x) != goal:
            cpu_relax()

    def writer() -> None:
        for i in range(1, nvals + 1):
            WRITE_ONCE(x, i)

    for i in range(waiters):
        p.thread(waiter, name=f"waiter{i}")
    p.thread(writer, name="writer")
    return p


waitloop = make(3, 1)
