"""``atomic_long_t`` operations (Linux ``include/linux/atomic/atomic-long.h``) and ``cmpxchg64``,
with the ordering rules of ``Documentation/atomic_t.txt``.

* ``atomic_long_read`` / ``atomic_long_set`` are ``READ_ONCE`` / ``WRITE_ONCE``: they order
  nothing; ``atomic_long_set_release`` is a release store (every earlier access of the CPU is
  done before it);
* ``atomic_long_try_cmpxchg*(v, &old, new)``: if ``*v == old`` write ``new`` and return true;
  otherwise return false and update ``old`` to the value found.  C passes ``old`` by address;
  here the call returns ``(ok, value_read)`` and the caller updates its ``old``.  The plain form
  is fully ordered when it succeeds, ``_acquire`` orders the read before everything after it,
  ``_relaxed`` orders nothing; a failed try_cmpxchg of any flavour is only a load;
* ``cmpxchg64`` is ``cmpxchg`` on a 64-bit word (fully ordered on success).

Each call is one engine event labelled with its kernel name, so traces and ``rmapwalk mutate``
(through the same hooks as ``rmapwalk.kernel.atomic`` and ``once``) see which primitive each site
uses and can weaken it.
"""

from __future__ import annotations

from typing import Any

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine.deps import plain
from rmapwalk.engine.events import ACQUIRE, MB, NO_WRITE, ONCE, RELAXED, RELEASE
from rmapwalk.engine.ops import conditional, load, store
from rmapwalk.kernel.atomic import kernel_rmw
from rmapwalk.kernel.once import marked_mode


def atomic_long_read(v: int) -> Any:
    """``atomic_long_read(v)``: a marked load (``READ_ONCE``)."""
    return load(v, marked_mode("atomic_long_read", ONCE) if _mut.armed else ONCE, "atomic_long_read")


def atomic_long_set(v: int, i: Any) -> None:
    """``atomic_long_set(v, i)``: a marked store (``WRITE_ONCE``); orders nothing."""
    store(v, i, marked_mode("atomic_long_set", ONCE) if _mut.armed else ONCE, "atomic_long_set")


def atomic_long_set_release(v: int, i: Any) -> None:
    """``atomic_long_set_release(v, i)``: every earlier access of this CPU before the store."""
    store(v, i, marked_mode("atomic_long_set_release", RELEASE) if _mut.armed else RELEASE,
          "atomic_long_set_release")


def _try_cmpxchg(v: int, old: Any, new: Any, mode: str, label: str) -> tuple[bool, Any]:
    o, n = plain(old), plain(new)
    cur = kernel_rmw(v, conditional(lambda c: n if c == o else NO_WRITE), mode, label, (new,))
    return cur == o, cur


def atomic_long_try_cmpxchg(v: int, old: Any, new: Any) -> tuple[bool, Any]:
    """``atomic_long_try_cmpxchg(v, &old, new)``: fully ordered on success.  Returns
    ``(succeeded, value read)``."""
    return _try_cmpxchg(v, old, new, MB, "atomic_long_try_cmpxchg")


def atomic_long_try_cmpxchg_acquire(v: int, old: Any, new: Any) -> tuple[bool, Any]:
    """``atomic_long_try_cmpxchg_acquire(v, &old, new)``: acquire ordering on success."""
    return _try_cmpxchg(v, old, new, ACQUIRE, "atomic_long_try_cmpxchg_acquire")


def atomic_long_try_cmpxchg_relaxed(v: int, old: Any, new: Any) -> tuple[bool, Any]:
    """``atomic_long_try_cmpxchg_relaxed(v, &old, new)``: no ordering beyond atomicity."""
    return _try_cmpxchg(v, old, new, RELAXED, "atomic_long_try_cmpxchg_relaxed")


def cmpxchg64(p: int, old: Any, new: Any) -> Any:
    """``cmpxchg64(p, old, new)``: if ``*p == old`` write ``new``; return the value read.  Fully
    ordered when it succeeds; a failure is only a load."""
    o, n = plain(old), plain(new)
    return kernel_rmw(p, conditional(lambda c: n if c == o else NO_WRITE), MB, "cmpxchg64", (new,))


__all__ = [
    "atomic_long_read", "atomic_long_set", "atomic_long_set_release", "atomic_long_try_cmpxchg",
    "atomic_long_try_cmpxchg_acquire", "atomic_long_try_cmpxchg_relaxed", "cmpxchg64",
]
