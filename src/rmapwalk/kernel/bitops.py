"""Bit operations on bitmaps of 64-bit words (Linux ``include/asm-generic/bitops/``).

A bitmap is a run of consecutive locations, one per word; bit ``nr`` lives in word ``nr // 64``.
``set_bit``/``clear_bit`` are atomic and unordered; ``test_and_set_bit``/``test_and_clear_bit``
are atomic and fully ordered; ``__set_bit``/``__clear_bit`` are the non-atomic versions (a plain
read and a plain write: two CPUs setting bits of one word this way can lose one).
"""

from __future__ import annotations

from rmapwalk.engine import mutation as _mut
from rmapwalk.engine.events import MB, ONCE, PLAIN, RELAXED
from rmapwalk.engine.ops import constant, load, store
from rmapwalk.kernel.atomic import kernel_rmw
from rmapwalk.kernel.once import marked_mode

BITS_PER_LONG = 64


def _word(nr: int, addr: int) -> tuple[int, int]:
    return addr + nr // BITS_PER_LONG, 1 << (nr % BITS_PER_LONG)


def set_bit(nr: int, addr: int) -> None:
    w, m = _word(nr, addr)
    kernel_rmw(w, lambda cur: cur | m, RELAXED, "set_bit")


def clear_bit(nr: int, addr: int) -> None:
    w, m = _word(nr, addr)
    kernel_rmw(w, lambda cur: cur & ~m, RELAXED, "clear_bit")


def test_bit(nr: int, addr: int) -> bool:
    w, m = _word(nr, addr)
    return bool(load(w, marked_mode("test_bit", ONCE) if _mut.armed else ONCE, "test_bit") & m)


def test_and_set_bit(nr: int, addr: int) -> bool:
    w, m = _word(nr, addr)
    return bool(kernel_rmw(w, lambda cur: cur | m, MB, "test_and_set_bit") & m)


def test_and_clear_bit(nr: int, addr: int) -> bool:
    w, m = _word(nr, addr)
    return bool(kernel_rmw(w, lambda cur: cur & ~m, MB, "test_and_clear_bit") & m)


def __set_bit(nr: int, addr: int) -> None:  # noqa: N807 - the kernel's name
    w, m = _word(nr, addr)
    store(w, load(w, PLAIN, "__set_bit") | m, PLAIN, "__set_bit")


def __clear_bit(nr: int, addr: int) -> None:  # noqa: N807 - the kernel's name
    w, m = _word(nr, addr)
    store(w, load(w, PLAIN, "__clear_bit") & ~m, PLAIN, "__clear_bit")


def xchg_word(addr: int, new: int = 0) -> int:
    """``xchg`` of a whole bitmap word (how dirty-log harvesting takes a word of dirty bits)."""
    return int(kernel_rmw(addr, constant(new), MB, "xchg"))


# pytest collects module-level functions named ``test_*`` from a test file that imports them: these
# are kernel operations, not tests.
for _fn in (test_bit, test_and_set_bit, test_and_clear_bit):
    _fn.__test__ = False  # type: ignore[attr-defined]
