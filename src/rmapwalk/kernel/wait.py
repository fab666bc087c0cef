"""Busy-waiting: ``cpu_relax()`` and the ``smp_cond_load_*()`` loops.

A spin loop is written as the kernel writes it, ``while READ_ONCE(x) != 1: cpu_relax()``.  The
engine does not unroll it to the event bound: ``cpu_relax()`` ends a pass that changed nothing
(no write, no local variable changed since the previous ``cpu_relax()``) by blocking the thread
as a spin, and the explorer then keeps only the executions in which the wait read the latest
value (await-aware exploration).  A spin that no later write can end is reported as a violation
named by the wait (``spins forever on values no thread will change again``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rmapwalk.engine.ops import relax
from rmapwalk.kernel.barriers import smp_rmb
from rmapwalk.kernel.once import READ_ONCE


def cpu_relax() -> None:
    """The pause in a busy-wait loop (``asm/processor.h``).  No event: it orders nothing (the
    kernel's is a compiler barrier plus a ``pause``, and the loop's own reads are re-done)."""
    relax("spin loop")


def smp_cond_load_relaxed(ptr: int, cond: Callable[[Any], Any]) -> Any:
    """Spin until ``cond(VAL)`` holds for ``VAL = READ_ONCE(*ptr)``; return ``VAL``
    (``include/asm-generic/barrier.h``; the kernel's ``cond_expr`` is a function here)."""
    while True:
        val = READ_ONCE(ptr)
        if cond(val):
            return val
        relax("smp_cond_load")


def smp_cond_load_acquire(ptr: int, cond: Callable[[Any], Any]) -> Any:
    """:func:`smp_cond_load_relaxed`, then ``smp_acquire__after_ctrl_dep()`` (an ``smp_rmb()``):
    the load that satisfied ``cond`` is ordered before every later access, as an ACQUIRE."""
    val = smp_cond_load_relaxed(ptr, cond)
    smp_rmb()
    return val
