"""Atomic operations with the kernel's ordering rules (Linux ``Documentation/atomic_t.txt``).

* value-returning RMWs (``xchg``, ``cmpxchg``, ``atomic_*_return``, ``atomic_fetch_*``) are fully
  ordered unless suffixed ``_relaxed``, ``_acquire`` or ``_release``;
* a *failed* ``cmpxchg`` is only a load and orders nothing;
* non-value-returning RMWs (``atomic_inc``, ``atomic_add`` ...) are unordered (``relaxed``);
* ``atomic_read``/``atomic_set`` are ``READ_ONCE``/``WRITE_ONCE``.

An ``atomic_t`` is just a shared location here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine.deps import with_deps
from rmapwalk.engine.events import ACQUIRE, MB, NO_WRITE, ONCE, RELAXED, RELEASE
from rmapwalk.engine.ops import conditional, constant, load, rmw, store
from rmapwalk.kernel.once import marked_mode


def kernel_rmw(p: int, op: Callable[[Any], Any], mode: str, label: str, operands: tuple[Any, ...] = ()) -> Any:
    """The engine's ``rmw`` for the kernel's RMW ``label``, unless a mutation weakens this call
    (see :mod:`rmapwalk.engine.mutation`): to its ``_relaxed`` form, or to a marked load and, if
    it writes, a marked store (no longer atomic)."""
    if _mut.armed:
        w = _mut.at(label, _mut.RMW, mode)
        if w == _mut.TO_RELAXED:
            mode = RELAXED
        elif w == _mut.NON_ATOMIC:
            old = load(p, ONCE, label)
            new = op(old)
            if new is not NO_WRITE:
                store(p, with_deps(new, *operands), ONCE, label)
            return old
    return rmw(p, op, mode, label, operands)


def _cmpxchg(p: int, old: Any, new: Any, mode: str, label: str) -> Any:
    return kernel_rmw(p, conditional(lambda cur: new if cur == old else NO_WRITE), mode, label, (new,))


def cmpxchg(p: int, old: Any, new: Any) -> Any:
    """If ``*p == old`` write ``new``; return the value read.  Fully ordered when it succeeds."""
    return _cmpxchg(p, old, new, MB, "cmpxchg")


def cmpxchg_relaxed(p: int, old: Any, new: Any) -> Any:
    return _cmpxchg(p, old, new, RELAXED, "cmpxchg_relaxed")


def cmpxchg_acquire(p: int, old: Any, new: Any) -> Any:
    return _cmpxchg(p, old, new, ACQUIRE, "cmpxchg_acquire")


def cmpxchg_release(p: int, old: Any, new: Any) -> Any:
    return _cmpxchg(p, old, new, RELEASE, "cmpxchg_release")


def xchg(p: int, new: Any) -> Any:
    """Atomically replace ``*p`` with ``new``; return the old value.  Fully ordered."""
    return kernel_rmw(p, constant(new), MB, "xchg")


def xchg_relaxed(p: int, new: Any) -> Any:
    return kernel_rmw(p, constant(new), RELAXED, "xchg_relaxed")


def xchg_acquire(p: int, new: Any) -> Any:
    return kernel_rmw(p, constant(new), ACQUIRE, "xchg_acquire")


def xchg_release(p: int, new: Any) -> Any:
    return kernel_rmw(p, constant(new), RELEASE, "xchg_release")


def atomic_read(v: int) -> Any:
    return load(v, marked_mode("atomic_read", ONCE) if _mut.armed else ONCE, "atomic_read")


def atomic_set(v: int, i: Any) -> None:
    store(v, i, marked_mode("atomic_set", ONCE) if _mut.armed else ONCE, "atomic_set")


def _add(v: int, i: int, mode: str, label: str) -> Any:
    return kernel_rmw(v, lambda cur: cur + i, mode, label)


def atomic_add(i: int, v: int) -> None:
    """``v += i`` atomically; unordered."""
    _add(v, i, RELAXED, "atomic_add")


def atomic_sub(i: int, v: int) -> None:
    _add(v, -i, RELAXED, "atomic_sub")


def atomic_inc(v: int) -> None:
    _add(v, 1, RELAXED, "atomic_inc")


def atomic_dec(v: int) -> None:
    _add(v, -1, RELAXED, "atomic_dec")


def atomic_fetch_add(i: int, v: int) -> Any:
    """``v += i`` atomically; returns the old value; fully ordered."""
    return _add(v, i, MB, "atomic_fetch_add")


def atomic_fetch_add_relaxed(i: int, v: int) -> Any:
    return _add(v, i, RELAXED, "atomic_fetch_add_relaxed")


def atomic_fetch_add_acquire(i: int, v: int) -> Any:
    return _add(v, i, ACQUIRE, "atomic_fetch_add_acquire")


def atomic_fetch_add_release(i: int, v: int) -> Any:
    return _add(v, i, RELEASE, "atomic_fetch_add_release")


# -- the ordering variants of the value-returning operations (Documentation/atomic_t.txt) --------
def _variant(base: str, suffix: str, mode: str) -> Any:
    name = base + suffix
    kind = base.removeprefix("atomic_")

    def add_return(i: int, v: int) -> Any:
        return _add(v, i, mode, name) + i

    def sub_return(i: int, v: int) -> Any:
        return _add(v, -i, mode, name) - i

    def inc_return(v: int) -> Any:
        return _add(v, 1, mode, name) + 1

    def dec_return(v: int) -> Any:
        return _add(v, -1, mode, name) - 1

    def fetch_sub(i: int, v: int) -> Any:
        return _add(v, -i, mode, name)

    def fetch_inc(v: int) -> Any:
        return _add(v, 1, mode, name)

    def fetch_dec(v: int) -> Any:
        return _add(v, -1, mode, name)

    def a_xchg(v: int, new: Any) -> Any:
        return kernel_rmw(v, constant(new), mode, name)

    def a_cmpxchg(v: int, old: Any, new: Any) -> Any:
        return _cmpxchg(v, old, new, mode, name)

    fn = {"add_return": add_return, "sub_return": sub_return, "inc_return": inc_return,
          "dec_return": dec_return, "fetch_sub": fetch_sub, "fetch_inc": fetch_inc,
          "fetch_dec": fetch_dec, "xchg": a_xchg, "cmpxchg": a_cmpxchg}[kind]
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{name}``: {'fully ordered' if mode == MB else mode + ' ordering'} (Documentation/atomic_t.txt)."
    return fn


# Written out (not generated into globals()) so that they can be imported by name and type-checked.
# (i, v) for add/sub, (v) for inc/dec, (v, new) for xchg, (v, old, new) for cmpxchg.
atomic_add_return: Callable[[int, int], Any] = _variant("atomic_add_return", "", MB)
atomic_add_return_relaxed: Callable[[int, int], Any] = _variant("atomic_add_return", "_relaxed", RELAXED)
atomic_add_return_acquire: Callable[[int, int], Any] = _variant("atomic_add_return", "_acquire", ACQUIRE)
atomic_add_return_release: Callable[[int, int], Any] = _variant("atomic_add_return", "_release", RELEASE)
atomic_sub_return: Callable[[int, int], Any] = _variant("atomic_sub_return", "", MB)
atomic_sub_return_relaxed: Callable[[int, int], Any] = _variant("atomic_sub_return", "_relaxed", RELAXED)
atomic_sub_return_acquire: Callable[[int, int], Any] = _variant("atomic_sub_return", "_acquire", ACQUIRE)
atomic_sub_return_release: Callable[[int, int], Any] = _variant("atomic_sub_return", "_release", RELEASE)
atomic_inc_return: Callable[[int], Any] = _variant("atomic_inc_return", "", MB)
atomic_inc_return_relaxed: Callable[[int], Any] = _variant("atomic_inc_return", "_relaxed", RELAXED)
atomic_inc_return_acquire: Callable[[int], Any] = _variant("atomic_inc_return", "_acquire", ACQUIRE)
atomic_inc_return_release: Callable[[int], Any] = _variant("atomic_inc_return", "_release", RELEASE)
atomic_dec_return: Callable[[int], Any] = _variant("atomic_dec_return", "", MB)
atomic_dec_return_relaxed: Callable[[int], Any] = _variant("atomic_dec_return", "_relaxed", RELAXED)
atomic_dec_return_acquire: Callable[[int], Any] = _variant("atomic_dec_return", "_acquire", ACQUIRE)
atomic_dec_return_release: Callable[[int], Any] = _variant("atomic_dec_return", "_release", RELEASE)
atomic_fetch_sub: Callable[[int, int], Any] = _variant("atomic_fetch_sub", "", MB)
atomic_fetch_sub_relaxed: Callable[[int, int], Any] = _variant("atomic_fetch_sub", "_relaxed", RELAXED)
atomic_fetch_sub_acquire: Callable[[int, int], Any] = _variant("atomic_fetch_sub", "_acquire", ACQUIRE)
atomic_fetch_sub_release: Callable[[int, int], Any] = _variant("atomic_fetch_sub", "_release", RELEASE)
atomic_fetch_inc: Callable[[int], Any] = _variant("atomic_fetch_inc", "", MB)
atomic_fetch_inc_relaxed: Callable[[int], Any] = _variant("atomic_fetch_inc", "_relaxed", RELAXED)
atomic_fetch_inc_acquire: Callable[[int], Any] = _variant("atomic_fetch_inc", "_acquire", ACQUIRE)
atomic_fetch_inc_release: Callable[[int], Any] = _variant("atomic_fetch_inc", "_release", RELEASE)
atomic_fetch_dec: Callable[[int], Any] = _variant("atomic_fetch_dec", "", MB)
atomic_fetch_dec_relaxed: Callable[[int], Any] = _variant("atomic_fetch_dec", "_relaxed", RELAXED)
atomic_fetch_dec_acquire: Callable[[int], Any] = _variant("atomic_fetch_dec", "_acquire", ACQUIRE)
atomic_fetch_dec_release: Callable[[int], Any] = _variant("atomic_fetch_dec", "_release", RELEASE)
atomic_xchg: Callable[[int, Any], Any] = _variant("atomic_xchg", "", MB)
atomic_xchg_relaxed: Callable[[int, Any], Any] = _variant("atomic_xchg", "_relaxed", RELAXED)
atomic_xchg_acquire: Callable[[int, Any], Any] = _variant("atomic_xchg", "_acquire", ACQUIRE)
atomic_xchg_release: Callable[[int, Any], Any] = _variant("atomic_xchg", "_release", RELEASE)
atomic_cmpxchg: Callable[[int, Any, Any], Any] = _variant("atomic_cmpxchg", "", MB)
atomic_cmpxchg_relaxed: Callable[[int, Any, Any], Any] = _variant("atomic_cmpxchg", "_relaxed", RELAXED)
atomic_cmpxchg_acquire: Callable[[int, Any, Any], Any] = _variant("atomic_cmpxchg", "_acquire", ACQUIRE)
atomic_cmpxchg_release: Callable[[int, Any, Any], Any] = _variant("atomic_cmpxchg", "_release", RELEASE)


def atomic_dec_and_test(v: int) -> bool:
    """``--v == 0``, fully ordered."""
    return bool(_add(v, -1, MB, "atomic_dec_and_test") == 1)


def atomic_inc_not_zero(v: int) -> bool:
    """Increment ``v`` unless it is 0; return whether it did (fully ordered on success)."""
    old = kernel_rmw(v, lambda cur: cur + 1 if cur != 0 else NO_WRITE, MB, "atomic_inc_not_zero")
    return bool(old != 0)
