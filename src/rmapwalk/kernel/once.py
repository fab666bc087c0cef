"""Marked accesses: READ_ONCE/WRITE_ONCE and the acquire/release accesses.

``READ_ONCE``/``WRITE_ONCE`` are *marked*: the compiler may not tear, fuse or invent them, so
they never take part in a data race.  They order nothing by themselves.
``smp_load_acquire`` orders the load before everything after it; ``smp_store_release`` orders
everything before it before the store.  (Linux ``include/asm-generic/rwonce.h``, ``barrier.h``.)
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine.events import ACQUIRE, ONCE, PLAIN, RELEASE
from rmapwalk.engine.ops import fence, load, store


def marked_mode(primitive: str, mode: str) -> str:
    """The access mode of a marked access ``primitive`` (``mode``), or the weaker one when a
    mutation weakens this call (see :mod:`rmapwalk.engine.mutation`)."""
    w = _mut.at(primitive, _mut.ACCESS, mode)
    return mode if w is None else PLAIN if w == _mut.TO_PLAIN else ONCE


def READ_ONCE(x: int) -> Any:
    """A marked load of ``x``."""
    return load(x, marked_mode("READ_ONCE", ONCE) if _mut.armed else ONCE, "READ_ONCE")


def WRITE_ONCE(x: int, val: Any) -> None:
    """A marked store of ``val`` to ``x``."""
    store(x, val, marked_mode("WRITE_ONCE", ONCE) if _mut.armed else ONCE, "WRITE_ONCE")


def smp_load_acquire(p: int) -> Any:
    """Load ``p``; no later access of this CPU is performed before it."""
    mode = marked_mode("smp_load_acquire", ACQUIRE) if _mut.armed else ACQUIRE
    v = load(p, mode, "smp_load_acquire")
    if mode == ACQUIRE:
        fence("acquire", "(acquire)")
    return v


def smp_store_release(p: int, v: Any) -> None:
    """Store ``v`` to ``p`` after every earlier access of this CPU."""
    store(p, v, marked_mode("smp_store_release", RELEASE) if _mut.armed else RELEASE, "smp_store_release")


def plain_read(x: int) -> Any:
    """A plain C load (``r = *x``): may race, and a race on it is reported as a data race."""
    return load(x, PLAIN, "plain read")


def plain_write(x: int, val: Any) -> None:
    """A plain C store (``*x = v``)."""
    store(x, val, PLAIN, "plain write")
