"""The per-rmap lock of 2025: ``struct kvm_rmap_head`` as one ``atomic_long_t`` word carrying
``KVM_RMAP_MANY`` and ``KVM_RMAP_LOCKED`` (arch/x86/kvm/mmu/mmu.c, Linux 6.15: commit
4834eaded91e "KVM: x86/mmu: Add infrastructure to allow walking rmaps outside of mmu_lock";
``kvm-reference.md`` §4.2, I12, R15).

The head word (``pte_list=6.15``):

* ``0``: empty;
* an spte pointer (bits 0 and 1 clear): the only entry;
* ``desc | KVM_RMAP_MANY``: the head ``pte_list_desc`` of a chain;
* ``| KVM_RMAP_LOCKED``: some task holds the rmap's lock.  Writers hold ``mmu_lock`` for write
  *and* the rmap lock around every pte-list change; the aging reader holds only the rmap lock,
  read-only.  The lock protects the rmap structure (the head and every desc reachable from it),
  not the sptes it points to: those may be zapped while the rmap is locked (KVM clears an spte
  before it removes the rmap entry).

Functions, with the kernel's names (``kvm`` is the model's VM; ``head`` the address of
``rmap_head->val``):

* :func:`__kvm_rmap_lock` -- read the word; an empty rmap is not locked (``empty_rmap=skip``,
  6.15) and 0 is returned; else wait while LOCKED is set (a spin on ``atomic_long_read``: the
  model blocks the execution where it reads a locked value and explores the one where it reads
  the unlock), re-check for empty, and ``atomic_long_try_cmpxchg_acquire`` the LOCKED bit in;
  returns the value without LOCKED;
* :func:`kvm_rmap_lock` / :func:`kvm_rmap_unlock` -- the writer's pair (``mmu_lock`` held);
  the unlock stores the new value with ``atomic_long_set_release``;
* :func:`kvm_rmap_lock_readonly` / :func:`kvm_rmap_unlock_readonly` -- the reader's pair
  (no ``mmu_lock``; 6.15 also disables preemption, which the model has no use for); the unlock
  writes back the value it locked, and nothing if it locked nothing (``readonly_unlock``);
* :func:`kvm_rmap_get` -- ``atomic_long_read() & ~KVM_RMAP_LOCKED``, for walkers.

Switches: ``rmap_lock`` (``none``: no lock at all, the head is a plain ``unsigned long`` as
before the series), ``empty_rmap``, ``readonly_unlock``, ``rmap_lock_order`` (which atomics:
``acquire_release``, ``release_only``, ``full_cmpxchg``, ``relaxed``).

While the VM is being built (``kvm.building()``) the same functions run on the initial memory
without locking.

**The I12 monitor** (opt-in, ``kvm.check_i12``; no events, only Python checks in the thread):
the property ``I12 single-word rmap discipline`` fires at the first access that breaks it:

* a pte-list helper (``rmapwalk.kvm.pte_list_615``) reads or writes the head word other than
  through its one lock and its one unlock (``head_reads=reread``);
* a lock taken on an empty word (``empty_rmap=lock``);
* a read-only unlock that writes a value other than the one it locked, or writes to an rmap it
  did not lock (``readonly_unlock=write_zero`` / ``write_reread_value``).

The discipline's last clause, "no writer modifies an rmap while another holder has it LOCKED",
is what the lock itself gives once the other clauses hold; its breaches show as the consequences
the scenarios check (a lost rmap update, a walk that misses entries, a freed desc read).

:data:`RMAP_LOCK_SITES` names the sites of the lock, for tools that mutate the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rmapwalk.engine.ops import assume, thread_local
from rmapwalk.engine.runtime import ModelError, Violated
from rmapwalk.kernel.atomic_long import (
    atomic_long_read,
    atomic_long_set,
    atomic_long_set_release,
    atomic_long_try_cmpxchg,
    atomic_long_try_cmpxchg_acquire,
    atomic_long_try_cmpxchg_relaxed,
)
from rmapwalk.kvm.mmu_page import KvmMmu

#: bit 0 of the head word: the value points to a ``pte_list_desc`` chain
KVM_RMAP_MANY = 1 << 0
#: bit 1 of the head word: some task holds the rmap's lock (4834eaded91e)
KVM_RMAP_LOCKED = 1 << 1

I12 = "I12 single-word rmap discipline"

#: the sites of the rmap lock: site -> (model function, kernel primitive per rmap_lock_order).
#: ``rmapwalk mutate kvm`` finds them by running (each is a primitive called on its own line of
#: the function named); ``--site rmap_lock`` selects them
RMAP_LOCK_SITES: dict[str, tuple[str, dict[str, str]]] = {
    "lock": ("rmapwalk.kvm.rmap_lock.__kvm_rmap_lock", {
        "acquire_release": "atomic_long_try_cmpxchg_acquire", "release_only": "atomic_long_try_cmpxchg_relaxed",
        "full_cmpxchg": "atomic_long_try_cmpxchg", "relaxed": "atomic_long_try_cmpxchg_relaxed"}),
    "unlock": ("rmapwalk.kvm.rmap_lock.kvm_rmap_unlock", {
        "acquire_release": "atomic_long_set_release", "release_only": "atomic_long_set_release",
        "full_cmpxchg": "atomic_long_set", "relaxed": "atomic_long_set"}),
    "unlock_readonly": ("rmapwalk.kvm.rmap_lock.kvm_rmap_unlock_readonly", {
        "acquire_release": "atomic_long_set_release", "release_only": "atomic_long_set_release",
        "full_cmpxchg": "atomic_long_set", "relaxed": "atomic_long_set"}),
    "spin": ("rmapwalk.kvm.rmap_lock.__kvm_rmap_lock",
             {o: "atomic_long_read" for o in ("acquire_release", "release_only", "full_cmpxchg", "relaxed")}),
}

_TRY_CMPXCHG = {
    "acquire_release": atomic_long_try_cmpxchg_acquire,
    "release_only": atomic_long_try_cmpxchg_relaxed,
    "full_cmpxchg": atomic_long_try_cmpxchg,
    "relaxed": atomic_long_try_cmpxchg_relaxed,
}


def locked_mode(kvm: KvmMmu) -> bool:
    """Whether the VM has the per-rmap lock (``pte_list=6.15``, ``rmap_lock=locked``)."""
    return kvm.sw.rmap_lock == "locked"


def _monitor(kvm: KvmMmu) -> dict[str, Any] | None:
    """The I12 monitor's thread-local state, or ``None`` when it is off (or while building)."""
    if not kvm.check_i12 or kvm.is_building:
        return None
    tls = thread_local()
    st: dict[str, Any] | None = tls.get("kvm.i12")
    if st is None:
        st = tls["kvm.i12"] = {"helper": None}
    return st


# -- raw accesses to the head word -----------------------------------------------------------------

def head_read(kvm: KvmMmu, head: int) -> Any:
    """One read of the head word: ``atomic_long_read`` with the lock, the plain (or marked, per
    ``rmap_access``) ``rmap_head->val`` of 6.14 without it."""
    if kvm.is_building or not locked_mode(kvm):
        return kvm.ops.read(head)
    return atomic_long_read(head)


def _release(kvm: KvmMmu) -> bool:
    return kvm.sw.rmap_lock_order in ("acquire_release", "release_only")


def head_store_fn(kvm: KvmMmu, *, release: bool) -> Callable[[int, Any], None]:
    """The primitive of one store of the head word: ``atomic_long_set``, or ``_release`` when
    ``release`` and the ordering switch gives the release; a plain or marked store without the
    lock.  Callers call it on their own line, so each store is its own site for ``rmapwalk
    mutate`` (the writer's unlock, the read-only unlock, a reread helper's store)."""
    if kvm.is_building or not locked_mode(kvm):
        return kvm.ops.write
    if release and _release(kvm):
        return atomic_long_set_release
    return atomic_long_set


def head_store(kvm: KvmMmu, head: int, val: Any, *, release: bool) -> None:
    """One store of the head word (see :func:`head_store_fn`)."""
    head_store_fn(kvm, release=release)(head, val)


def kvm_rmap_get(kvm: KvmMmu, head: int) -> Any:
    """Models ``kvm_rmap_get()`` (mmu.c, 6.15): ``atomic_long_read(&rmap_head->val) &
    ~KVM_RMAP_LOCKED``; without the lock the plain read of 6.14."""
    v = head_read(kvm, head)
    return v & ~KVM_RMAP_LOCKED if locked_mode(kvm) else v


# -- locking -------------------------------------------------------------------------------------------

def __kvm_rmap_lock(kvm: KvmMmu, head: int) -> Any:  # noqa: N807 - the kernel's name
    """Models ``__kvm_rmap_lock()`` (mmu.c, 6.15; see the module doc).  Returns the head value
    without LOCKED (0 for an empty rmap, which ``empty_rmap=skip`` does not lock)."""
    if kvm.is_building or not locked_mode(kvm):
        return kvm.ops.read(head)
    skip_empty = kvm.sw.empty_rmap == "skip"
    try_cmpxchg = _TRY_CMPXCHG[kvm.sw.rmap_lock_order]
    old = atomic_long_read(head)
    if skip_empty and old == 0:
        return 0
    while True:
        # while (old & KVM_RMAP_LOCKED) { cpu_relax(); old = atomic_long_read(...); }: the spin
        # ends only on a read of an unlocked value, so an execution whose read saw LOCKED waits
        assume(not old & KVM_RMAP_LOCKED, f"__kvm_rmap_lock({kvm.prog.loc_name(int(head))}): locked",
               kind="lock")
        if skip_empty and old == 0:
            return 0  # emptied by the previous holder
        ok, cur = try_cmpxchg(head, old, old | KVM_RMAP_LOCKED)
        if ok:
            break
        old = cur
    st = _monitor(kvm)
    if st is not None and old == 0:
        raise Violated(I12, f"__kvm_rmap_lock took KVM_RMAP_LOCKED on the empty rmap "
                            f"{kvm.prog.loc_name(int(head))} (empty rmaps are never locked)")
    return old


def kvm_rmap_lock(kvm: KvmMmu, head: int) -> Any:
    """Models ``kvm_rmap_lock(kvm, rmap_head)`` (mmu.c, 6.15): the writer's lock;
    ``lockdep_assert_held_write(&kvm->mmu_lock)`` (checked: property ``lock misuse``)."""
    if not kvm.is_building and int(kvm.mmu_lock) not in thread_local().get("spinlocks", {}):
        raise Violated("lock misuse", f"kvm_rmap_lock({kvm.prog.loc_name(int(head))}) without mmu_lock")
    return __kvm_rmap_lock(kvm, head)


def kvm_rmap_unlock(kvm: KvmMmu, head: int, new_val: Any) -> None:
    """Models ``kvm_rmap_unlock(kvm, rmap_head, new_val)`` / ``__kvm_rmap_unlock`` (mmu.c,
    6.15): ``atomic_long_set_release(&rmap_head->val, new_val)`` (``atomic_long_set`` with
    ``rmap_lock_order=full_cmpxchg``/``relaxed``).  ``new_val`` never has LOCKED
    (``KVM_MMU_WARN_ON``: a model error)."""
    if new_val & KVM_RMAP_LOCKED:
        raise ModelError(f"kvm_rmap_unlock: {new_val!r} has KVM_RMAP_LOCKED")
    head_store_fn(kvm, release=True)(head, new_val)


def kvm_rmap_lock_readonly(kvm: KvmMmu, head: int) -> Any:
    """Models ``kvm_rmap_lock_readonly()`` (mmu.c, 6.15): ``__kvm_rmap_lock`` without
    ``mmu_lock`` (the preemption disabling around it is not modelled).  With ``rmap_lock=none``
    there is nothing to take: no access, ``None``."""
    if not locked_mode(kvm):
        return None
    return __kvm_rmap_lock(kvm, head)


def kvm_rmap_unlock_readonly(kvm: KvmMmu, head: int, old_val: Any) -> None:
    """Models ``kvm_rmap_unlock_readonly()`` (mmu.c, 6.15), per ``readonly_unlock``:

    * ``restore_locked_value`` (6.15): nothing if ``old_val`` is 0 (no lock was taken), else
      ``__kvm_rmap_unlock(rmap_head, old_val)``: exactly the value it locked;
    * ``write_zero``: ``__kvm_rmap_unlock(rmap_head, old_val)`` always, so 0 for an rmap it
      found empty (the question James asked of the first version);
    * ``write_reread_value``: the head is read again (``kvm_rmap_get``) and that value written
      back (R15's "a value read before a writer changed it").

    With ``empty_rmap=lock`` an rmap found empty *was* locked (the word holds LOCKED alone);
    ``restore_locked_value``'s early return then leaves it locked."""
    if not locked_mode(kvm):
        return
    mode = kvm.sw.readonly_unlock
    if mode == "restore_locked_value":
        if not old_val:
            return
        val = old_val
    elif mode == "write_zero":
        val = old_val
    else:
        val = kvm_rmap_get(kvm, head)
    st = _monitor(kvm)
    if st is not None:
        locked_something = bool(old_val) or kvm.sw.empty_rmap == "lock"
        if not locked_something:
            raise Violated(I12, f"the read-only unlock writes {val!r} to {kvm.prog.loc_name(int(head))}, "
                                f"an rmap it found empty and did not lock")
        if val != old_val:
            raise Violated(I12, f"the read-only unlock writes {val!r} to {kvm.prog.loc_name(int(head))}, "
                                f"not the value it locked ({old_val!r})")
    head_store_fn(kvm, release=True)(head, val)


# -- the I12 monitor's helper discipline -------------------------------------------------------------

def helper_begin(kvm: KvmMmu, name: str, head: int) -> None:
    """A pte-list helper starts its one-read/one-write section on ``head`` (monitor only)."""
    st = _monitor(kvm)
    if st is not None:
        st["helper"] = (name, int(head))


def helper_end(kvm: KvmMmu) -> None:
    st = _monitor(kvm)
    if st is not None:
        st["helper"] = None


def helper_extra_access(kvm: KvmMmu, what: str) -> None:
    """A helper touches the head word besides its lock and its unlock (``head_reads=reread``):
    I12 when the monitor is on."""
    st = _monitor(kvm)
    if st is not None and st["helper"] is not None:
        name, head = st["helper"]
        raise Violated(I12, f"{name} {what} the head word {kvm.prog.loc_name(head)} again, besides "
                            f"its one locked read and its one unlocking write (9fb13ba6b5ff)")


__all__ = [
    "I12", "KVM_RMAP_LOCKED", "KVM_RMAP_MANY", "RMAP_LOCK_SITES", "__kvm_rmap_lock", "head_read", "head_store",
    "head_store_fn",
    "helper_begin", "helper_end", "helper_extra_access", "kvm_rmap_get", "kvm_rmap_lock", "kvm_rmap_lock_readonly",
    "kvm_rmap_unlock", "kvm_rmap_unlock_readonly", "locked_mode",
]
