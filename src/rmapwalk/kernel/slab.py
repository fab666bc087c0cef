"""Slab caches and kmalloc (Linux ``mm/slab_common.c``, ``include/linux/slab.h``), with
use-after-free detection.

A cache has a fixed number of objects (``capacity``: small, so that reuse really happens in small
models) and a freelist (one location holding the tuple of free objects).  ``kmem_cache_alloc``
pops the most recently freed object and ``kmem_cache_free`` pushes it back, each as one fully
ordered atomic operation on the freelist (the allocator's own synchronisation), so a freed object
is handed out again at once to the next allocation.  Objects keep their contents across a free
(as slab objects do); initialise what you use.

``SLAB_TYPESAFE_BY_RCU`` (2013 name: ``SLAB_DESTROY_BY_RCU``): an object freed to such a cache
stays an object of the cache, so a reader inside an RCU read-side critical section may still
access it, even after it was freed or reused (it must then check that it is still the object it
wanted).  Objects never leave a cache in this model, which is what the flag promises readers.

Use-after-free (property ``use-after-free``): checked on every execution.  An access to a field
of an object is fine if it happens before the object's next free, or after a later
(re)allocation of it; otherwise it may touch freed memory, and that is a violation unless the
cache is type-safe-by-RCU and the access is inside an RCU read-side critical section.
"Happens before" is the memory model's global order, so the check also sees accesses that a
store buffer delays past the free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine.analysis import Reach
from rmapwalk.engine.events import F_RCU_LOCK, F_RCU_UNLOCK, MB, NO_WRITE
from rmapwalk.engine.graph import GF, GR, GW, Ev, Graph
from rmapwalk.engine.models import MemoryModel
from rmapwalk.engine.ops import program, rmw
from rmapwalk.engine.program import Loc, Program
from rmapwalk.engine.runtime import Violated

SLAB_TYPESAFE_BY_RCU = 0x00080000
SLAB_DESTROY_BY_RCU = SLAB_TYPESAFE_BY_RCU  # the name until Linux 4.12
KMALLOC_CAPACITY = 3


@dataclass
class KmemCache:
    """``struct kmem_cache``: objects of ``fields``, at most ``capacity`` of them."""

    name: str
    fields: list[str]
    flags: int
    capacity: int
    objects: list[int]
    freelist: Loc
    offsets: dict[str, int] = field(default_factory=dict)

    @property
    def typesafe_by_rcu(self) -> bool:
        return bool(self.flags & SLAB_TYPESAFE_BY_RCU)

    def f(self, obj: int, name: str) -> int:
        """The location of field ``name`` of object ``obj``."""
        return obj + self.offsets[name]

    def preallocate(self, prog: Program, n: int) -> list[int]:
        """Objects allocated before the threads start (for building initial data structures)."""
        init = prog.init.get(int(self.freelist), tuple(self.objects))
        if n > len(init):
            raise ValueError(f"cache {self.name} has only {len(init)} free objects")
        prog.init[int(self.freelist)] = tuple(init[n:])
        return list(init[:n])

    def obj_name(self, obj: int) -> str:
        return f"{self.name}#{self.objects.index(obj)}"


def _slab(prog: Program) -> dict[str, Any]:
    st = prog.lib.get("slab")
    if st is None:
        st = prog.lib["slab"] = {"caches": {}, "object_of": {}}
        prog.checks.append(check_use_after_free)
    return st


def kmem_cache_create(prog: Program, name: str, fields: list[str], flags: int = 0,
                      capacity: int = 3) -> KmemCache:
    """A cache of objects with ``fields`` (``flags``: ``SLAB_TYPESAFE_BY_RCU`` or 0)."""
    st = _slab(prog)
    if name in st["caches"]:
        return st["caches"][name]
    objects = [prog.named_block(f"{name}#{i}", fields) for i in range(capacity)]
    freelist = prog.named(f"{name}.freelist", init=tuple(objects))
    cache = KmemCache(name, list(fields), flags, capacity, objects, freelist,
                      {f: i for i, f in enumerate(fields)})
    st["caches"][name] = cache
    for o in objects:
        for i in range(len(fields)):
            st["object_of"][o + i] = (cache, o)
    return cache


def kmem_cache_alloc(cache: KmemCache) -> int:
    """An object of ``cache``, or 0 when all are in use."""
    free = rmw(cache.freelist, lambda fl: fl[1:] if fl else NO_WRITE, MB, "kmem_cache_alloc")
    return int(free[0]) if free else 0


def kmem_cache_free(cache: KmemCache, obj: int) -> None:
    """Give ``obj`` back to ``cache``; it may be handed out again at once."""
    if obj not in cache.objects:
        raise Violated("bad free", f"kmem_cache_free({cache.name}, {obj:#x}): not an object of this cache")
    old = rmw(cache.freelist, lambda fl: (obj,) + fl if obj not in fl else NO_WRITE, MB, "kmem_cache_free")
    if obj in old:
        raise Violated("double free", f"kmem_cache_free of {cache.obj_name(obj)}, which is already free")


def kmalloc(nfields: int) -> int:
    """``kmalloc``: an object of ``nfields`` words from the size's generic cache (contents
    undefined), or 0 when the cache (``KMALLOC_CAPACITY`` objects) is exhausted."""
    prog = program()
    cache = kmem_cache_create(prog, f"kmalloc-{nfields}", [f"w{i}" for i in range(nfields)],
                              capacity=prog.lib.get("kmalloc_capacity", KMALLOC_CAPACITY))
    return kmem_cache_alloc(cache)


def kfree(obj: int) -> None:
    """Free ``obj``, which came from ``kmalloc`` (or any cache)."""
    if obj == 0:
        return
    found = _slab(program())["object_of"].get(obj)
    if found is None or found[1] != obj:
        raise Violated("bad free", f"kfree({obj:#x}): not an allocated object")
    kmem_cache_free(found[0], obj)


# -- the use-after-free check -------------------------------------------------------------------

def _rcu_inside(g: Graph) -> dict[int, bool]:
    """For every event, whether it lies inside an RCU read-side critical section of its thread."""
    inside: dict[int, bool] = {}
    for t, evs in enumerate(g.threads):
        flag = g.prog.names.get
        state = False
        depth = 0  # (under LKMM the sections are Rcu-lock/Rcu-unlock fences, and they nest)
        for e in evs:
            if e.kind == GW and e.node is not None and e.node.label in ("rcu_read_lock", "rcu_read_unlock"):
                name = flag(e.loc, "")
                if name == f"rcu_reader[{g.prog.threads[t].name}]":
                    state = e.val == 1
            elif e.kind == GF and e.mode in (F_RCU_LOCK, F_RCU_UNLOCK):
                depth = depth + 1 if e.mode == F_RCU_LOCK else max(0, depth - 1)
                state = depth > 0
            inside[id(e)] = state
    return inside


def check_use_after_free(g: Graph, model: MemoryModel) -> list[tuple[Any, ...]]:
    st = g.prog.lib.get("slab")
    if not st:
        return []
    object_of = st["object_of"]
    lifetimes: dict[int, tuple[list[Ev], list[Ev]]] = {}  # obj -> (allocs, frees)
    for evs in g.threads:
        for e in evs:
            if e.kind != GR or not e.rmw or e.node is None:
                continue
            label = e.node.label
            if label == "kmem_cache_alloc":
                fl = e.rf.val  # type: ignore[union-attr]
                if fl:
                    lifetimes.setdefault(fl[0], ([], []))[0].append(e)
            elif label == "kmem_cache_free" and e.idx + 1 < len(evs) and evs[e.idx + 1].rmw:
                obj = evs[e.idx + 1].val[0]
                lifetimes.setdefault(obj, ([], []))[1].append(e)
    if not any(frees for _, frees in lifetimes.values()):
        return []
    # under LKMM program order orders nothing by itself, and plain accesses only through the
    # marked accesses that bound them: the model says which access executes before which
    object_order = getattr(model, "object_order", None)
    reach = object_order(g) if object_order is not None else Reach.ghb(g, model)
    inside: dict[int, bool] | None = None
    for evs in g.threads:
        for e in evs:
            if e.kind > GW:
                continue
            found = object_of.get(e.loc)
            if found is None:
                continue
            cache, obj = found
            allocs, frees = lifetimes.get(obj, ([], []))
            for f in frees:
                if reach(e, f):
                    continue  # before this free
                if any(reach(f, a) and reach(a, e) for a in allocs):
                    continue  # in a later life of the object
                if cache.typesafe_by_rcu:
                    if inside is None:
                        inside = _rcu_inside(g)
                    if inside[id(e)]:
                        continue
                node, fnode = e.node, f.node
                where = f" at {node.src}" if node is not None and node.src else ""
                fwhere = f" at {fnode.src}" if fnode is not None and fnode.src else ""
                what = "reads" if e.kind == GR else "writes"
                msg = (f"{g.prog.threads[e.tid].name} {what} {g.prog.loc_name(e.loc)}{where} of "
                       f"{cache.obj_name(obj)}, which {g.prog.threads[f.tid].name} may have freed "
                       f"(kmem_cache_free{fwhere}) before")
                return [("use-after-free", msg, [(f.ref, e.ref)])]
    return []
