"""hlist_nulls: RCU hash chains whose end marker says which chain it ends
(Linux ``include/linux/list_nulls.h``, ``Documentation/RCU/rculist_nulls.rst``).

With ``SLAB_TYPESAFE_BY_RCU`` objects, a reader walking a chain may be carried onto another chain
when the object it stands on is freed, reused and inserted elsewhere.  Ending a chain with a
*nulls* marker that encodes the chain lets the reader notice: if the walk ends on a marker that is
not its own chain's, it restarts.

A node is two consecutive locations: ``next`` and ``pprev`` (the address of the location that
points to the node).  A nulls marker is the value ``("nulls", n)``, never a valid address.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rmapwalk.engine.program import Loc, Program
from rmapwalk.kernel.once import READ_ONCE, WRITE_ONCE
from rmapwalk.kernel.rcu import rcu_assign_pointer, rcu_dereference

NEXT = 0
PPREV = 1
LIST_POISON2 = ("poison", 2)


def NULLS_MARKER(value: int) -> tuple[str, int]:  # noqa: N802 - the kernel's name
    return ("nulls", value)


def is_a_nulls(ptr: Any) -> bool:
    return isinstance(ptr, tuple) and len(ptr) == 2 and ptr[0] == "nulls"


def get_nulls_value(ptr: Any) -> int:
    return int(ptr[1])


def INIT_HLIST_NULLS_HEAD(prog: Program, name: str, nulls: int) -> Loc:  # noqa: N802
    """A chain head (``struct hlist_nulls_head``), empty: it holds the chain's marker."""
    return prog.var(name, NULLS_MARKER(nulls), observe=False)


def hlist_nulls_add_head_rcu(n: int, head: int) -> None:
    """Insert node ``n`` at the front of ``head`` (writers serialise among themselves)."""
    first = READ_ONCE(head)
    WRITE_ONCE(n + NEXT, first)
    WRITE_ONCE(n + PPREV, head)
    rcu_assign_pointer(head, n)
    if not is_a_nulls(first):
        WRITE_ONCE(first + PPREV, n + NEXT)


def hlist_nulls_del_rcu(n: int) -> None:
    """Unlink node ``n``; its ``next`` stays intact so that readers standing on it go on."""
    nxt = READ_ONCE(n + NEXT)
    pprev = READ_ONCE(n + PPREV)
    WRITE_ONCE(pprev, nxt)
    if not is_a_nulls(nxt):
        WRITE_ONCE(nxt + PPREV, pprev)
    WRITE_ONCE(n + PPREV, LIST_POISON2)


class hlist_nulls_for_each_entry_rcu:  # noqa: N801 - the kernel's name
    """Walk a chain under ``rcu_read_lock()``: ``for pos in walk: ...``; afterwards ``walk.end``
    is the nulls value the walk ended on (``None`` if the loop was left early)."""

    def __init__(self, head: int) -> None:
        self.head = head
        self.end: int | None = None

    def __iter__(self) -> Iterator[int]:
        pos = rcu_dereference(self.head)
        while not is_a_nulls(pos):
            yield pos
            pos = rcu_dereference(pos + NEXT)
        self.end = get_nulls_value(pos)
