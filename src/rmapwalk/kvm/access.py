"""How the KVM model touches shared memory: one table, :class:`MmuOps`, that maps each kind of
access of the kernel code to a kernel-layer primitive, as the design switches say.

Model code calls ``kvm.ops.read(addr)``, ``kvm.ops.link(addr, v)``... Each entry *is* the kernel
primitive (``READ_ONCE``, ``plain_read``, ``smp_wmb``, ``rcu_assign_pointer``,
``kmem_cache_alloc``...), chosen once when the VM is built, so inside a thread every call is
that primitive's events and a trace names the line of the KVM model that made it.

While the VM is *building* (``with kvm.building(): ...``, before exploration) ``kvm.ops`` is a
second table that runs the same model code on the program's initial memory (``prog.init``):
reads return initial values, writes set them, barriers do nothing, allocations take objects with
``KmemCache.preallocate``.  That is how initial rmaps, shadow pages and desc chains are built by
the very functions the threads run, with the layout those functions give.

Kinds of access:

============== ============================================================================
``read``,      rmap heads and ``pte_list_desc`` fields, by mmu_lock holders: ``READ_ONCE`` /
``write``      ``WRITE_ONCE`` (``rmap_access=marked``) or plain C accesses (``plain``, 3.11)
``link``       a store that makes a new desc reachable (rmap head word, ``more``): the
               ``write`` above, or ``rcu_assign_pointer`` (``publish=rcu_assign_pointer``)
``link_barrier`` before ``link``: ``smp_wmb()`` with ``publish=wmb``, else nothing
``move_barrier`` between storing a moved entry in its new slot and clearing its old one:
               ``smp_wmb()`` unless ``publish=none``
``walker_read`` loads of the lockless walker (the head word, ``more``): ``READ_ONCE`` or
               ``rcu_dereference``
``walker_read_entry`` the lockless walker's loads of a desc slot (an sptep): the same, but
               ``READ_ONCE`` with ``lockless_deref=desc_pointers``
``walker_slot_barrier`` after each such slot load: ``smp_rmb()`` with ``walk_rmb=on``, else nothing
``kernel_read``, plain C accesses to other fields (shadow-page header, ``page_private``,
``kernel_write`` spt entries initialised by ``init_shadow_page_table``)
``cache_alloc``, ``kmem_cache_alloc`` (0 when the cache is exhausted) / ``kmem_cache_free``
``cache_free``
``spte_read``, sptes: ``READ_ONCE`` / ``WRITE_ONCE`` (3.11 ``__set_spte`` is a plain 64-bit store
``spte_write`` and ``mmu_spte_get_lockless`` an ``ACCESS_ONCE`` load; 64-bit aligned accesses are
               single-copy atomic on x86-64, so the model marks both sides: no tearing)
``spte_xchg``, ``xchg`` / ``cmpxchg`` of an spte (fully ordered; 3.11 ``xchg``,
``spte_cmpxchg`` ``cmpxchg64``)
============== ============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rmapwalk.engine.runtime import ModelError
from rmapwalk.kernel.atomic import cmpxchg, xchg
from rmapwalk.kernel.barriers import smp_rmb, smp_wmb
from rmapwalk.kernel.once import READ_ONCE, WRITE_ONCE, plain_read, plain_write
from rmapwalk.kernel.rcu import rcu_assign_pointer, rcu_dereference
from rmapwalk.kernel.slab import KmemCache, kmem_cache_alloc, kmem_cache_free

if TYPE_CHECKING:
    from rmapwalk.engine.program import Program
    from rmapwalk.kvm.switches import Switches


def _nothing() -> None:
    """No barrier."""


@dataclass(frozen=True)
class MmuOps:
    """The primitive used for each kind of access (see the module doc)."""

    read: Callable[[int], Any]
    write: Callable[[int, Any], None]
    link: Callable[[int, Any], None]
    link_barrier: Callable[[], None]
    move_barrier: Callable[[], None]
    walker_read: Callable[[int], Any]
    walker_read_entry: Callable[[int], Any]
    walker_slot_barrier: Callable[[], None]
    kernel_read: Callable[[int], Any]
    kernel_write: Callable[[int, Any], None]
    cache_alloc: Callable[[KmemCache], int]
    cache_free: Callable[[KmemCache, int], None]
    spte_read: Callable[[int], Any]
    spte_write: Callable[[int, Any], None]
    spte_xchg: Callable[[int, Any], Any]
    spte_cmpxchg: Callable[[int, Any, Any], Any]


def runtime_ops(sw: Switches) -> MmuOps:
    """The kernel primitives the switches select, for thread code."""
    marked = sw.rmap_access == "marked"
    write = WRITE_ONCE if marked else plain_write
    return MmuOps(
        read=READ_ONCE if marked else plain_read,
        write=write,
        link=rcu_assign_pointer if sw.publish == "rcu_assign_pointer" else write,
        link_barrier=smp_wmb if sw.publish == "wmb" else _nothing,
        move_barrier=_nothing if sw.publish == "none" else smp_wmb,
        walker_read=READ_ONCE if sw.lockless_deref == "once" else rcu_dereference,
        walker_read_entry=rcu_dereference if sw.lockless_deref == "rcu_dereference" else READ_ONCE,
        walker_slot_barrier=smp_rmb if sw.walk_rmb == "on" else _nothing,
        kernel_read=plain_read,
        kernel_write=plain_write,
        cache_alloc=kmem_cache_alloc,
        cache_free=kmem_cache_free,
        spte_read=READ_ONCE,
        spte_write=WRITE_ONCE,
        spte_xchg=xchg,
        spte_cmpxchg=cmpxchg,
    )


def build_ops(prog: Program) -> MmuOps:
    """The same operations on ``prog.init``, for building the initial state."""

    def read(addr: int) -> Any:
        return prog.init.get(int(addr), 0)

    def write(addr: int, val: Any) -> None:
        if val == 0:
            prog.init.pop(int(addr), None)
        else:
            prog.init[int(addr)] = val

    def walker_read(addr: int) -> Any:
        raise ModelError("the lockless walker runs only in threads, not while building")

    def cache_alloc(cache: KmemCache) -> int:
        free = prog.init.get(int(cache.freelist), tuple(cache.objects))
        return cache.preallocate(prog, 1)[0] if free else 0

    def cache_free(cache: KmemCache, obj: int) -> None:
        free = prog.init.get(int(cache.freelist), tuple(cache.objects))
        if obj in free:
            raise ModelError(f"building: {cache.obj_name(obj)} freed twice")
        prog.init[int(cache.freelist)] = (obj,) + tuple(free)

    def spte_xchg(addr: int, new: Any) -> Any:
        old = read(addr)
        write(addr, new)
        return old

    def spte_cmpxchg(addr: int, old: Any, new: Any) -> Any:
        cur = read(addr)
        if cur == old:
            write(addr, new)
        return cur

    return MmuOps(read, write, write, _nothing, _nothing, walker_read, walker_read, _nothing, read, write, cache_alloc,
                  cache_free, read, write, spte_xchg, spte_cmpxchg)


def check_alloc(cache: KmemCache, obj: int) -> int:
    """``obj`` unless the allocation failed.  Running out is a modelling error: KVM tops up its
    caches before taking mmu_lock, so allocation under the lock never fails; give the cache more
    objects."""
    if not obj:
        raise ModelError(f"kmem cache {cache.name} is exhausted (capacity {cache.capacity}): "
                         "give the KvmMmu more objects")
    return obj


__all__ = ["MmuOps", "build_ops", "check_alloc", "runtime_ops"]
