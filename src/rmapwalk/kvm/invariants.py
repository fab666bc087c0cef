"""The invariants of the KVM model (``kvm-reference.md`` §5.2), each a named property.

* **I1 no dirty page lost**, end-to-end form, as live migration needs it: a migration thread
  (:func:`migration_thread`) calls ``KVM_GET_DIRTY_LOG`` some times and after each call copies
  every reported page (``READ_ONCE(mem[g])``) to the destination; after every thread has
  stopped, a final harvest would report exactly the bits left in the live bitmap and copy those
  pages.  The property (:func:`require_no_dirty_page_lost`, a condition on the final state):
  for every gfn, the destination holds the guest's final content, i.e. the gfn's bit is set in
  the final bitmap, or the last copy the migration thread made of it equals the final
  ``mem[g]`` (0, the initial content, if it never copied it).  vCPUs write a different value
  each time, so a write that no harvest covered shows as a stale copy.

  This is the form KVM's own argument uses (``kvm_get_dirty_log_protect``'s comment: a write
  through a stale TLB entry between the harvest and the flush is covered because userspace reads
  the page after the ioctl returns).  A write is covered iff a harvest that reported its gfn
  *returned* after it.  The literal "reported by a harvest that *started* after the write" would
  flag 3.11 itself (such a write between the ``xchg`` and the flush is reported by no later
  harvest).  Over-reporting is never a violation (R16).

* **I2 harvest protects before it returns** (opt-in: ``migration_thread(..., check_i2=True)``,
  because its reads add executions): right after ``KVM_GET_DIRTY_LOG`` returns, the migration
  thread reads, for each vCPU, the flush request bit, then the TLB entry of each reported gfn,
  then the gfn's dirty bit; a vCPU whose request was already handled must not hold a writable
  TLB entry for a reported gfn unless the gfn's bit was set again (:func:`check_harvest_protected`).
  The "mark pending" excuse of the reference (another vCPU sharing the spte between a fast-path
  cmpxchg and its mark) is not modelled: sound for scenarios where each spte is used by one vCPU.

* **I7 lockless write-protect only on leaf sptes**: checked at each successful lockless W-clear
  (:func:`rmapwalk.kvm.dirty_log.check_lockless_wp_target`), with the model's ghost marker of
  non-leaf values.

* ``endless fault loop`` (raised by :func:`rmapwalk.kvm.vcpu.guest_access`): one guest access
  faulted more than ``max_fault_retries`` times (R5's symptom).

* **I9 flush obligations** (:func:`check_write_protected`): right after a write-protection
  under mmu_lock returned, no vCPU holds a writable TLB entry for the gfn without a pending
  flush request (scenario ``flush-rule``, R3).

* **I10 no lost accessed/dirty bits**, dirty half (:func:`require_no_lost_dirty_bit`): a page
  the guest wrote is dirty on the host or still has an spte with D (scenario
  ``clear-track-bits``, R2).

* **I3 rmap complete and exact whenever mmu_lock is released** (opt-in, ``kvm.check_i3``;
  :mod:`rmapwalk.kvm.mmu_checks`): every release of mmu_lock in the model's code paths
  (``kvm_mmu_unlock``) walks every rmap: each entry a present leaf of its gfn and level, and
  every present leaf of a shadow page reachable from a root (and among ``kvm.i3_sptes``) on its
  rmap.

* **I5 the lockless walk visits every entry present throughout** (opt-in, no events:
  ``kvm.i5_present[head]``, the sptes a program keeps on that rmap; checked when
  :func:`rmapwalk.kvm.pte_list.pte_list_walk_lockless` returns).

* **I6 lockless walk terminates** (always on): the lockless walker restarts at most
  ``max_walk_restarts(kvm)`` times (default: twice the number of descs and rmap heads).

* **I11 no writable large spte in a logged slot** (opt-in, ``kvm.check_i11``;
  :mod:`rmapwalk.kvm.mmu_checks`): when a write-protection of a logged slot returns under
  mmu_lock, no spte on a rmap above level 1 is writable.

* **I1, state form** (opt-in, ``mmu_checks.enable_i1_state``; property ``I1 no dirty page lost
  (state form)``): "a writable spte or TLB entry for g implies bit(g) set, or a harvest of g in
  progress, or a mark of g pending", with ghost flags for the last two.  Checked at every
  release of mmu_lock, not at every step: each check is some dozens of reads, which at every
  step would multiply the executions; a release of mmu_lock is where a lock holder's changes
  become visible as a whole (:func:`rmapwalk.kvm.mmu_checks.check_dirty_state`; a lockless
  harvest is serialized with the check by a ghost lock, see there).  Turned on by tests, not by
  the scenario tables (the end-to-end form is what the review reports).

* **I8 fast path discipline** (opt-in, ``kvm.check_i8``): at each successful fast-path cmpxchg,
  the old value was a present, last-level, host- and MMU-writable spte of a direct shadow page,
  at level 1 in a logged slot (:func:`rmapwalk.kvm.mmu_checks.check_fast_path_target`); the mark
  of the gfn computed from the shadow page follows in ``fast_pf_fix_direct_spte``.

* **I10, accessed half** (:func:`require_no_lost_accessed_bit`): a page the guest used is
  accessed on the host or still has an spte with A (``mmu_spte_clear_track_bits`` passes A on
  through ``kvm_set_pfn_accessed``; the CPU sets A on a walk through an spte without it).

* **I9 (c)** (opt-in, ``kvm.check_i9_slot``; :func:`rmapwalk.kvm.mmu_checks.check_slot_write_protected`):
  when ``kvm_mmu_slot_remove_write_access`` returns (before it releases ``slots_lock``), no vCPU
  without a pending flush can write a gfn of the slot whose bit is clear (scenario
  ``flush-slots-lock``, R8).

I3 and I11 are on in every scenario run (``Scenario.checks``); I5 is declared by the walker
scenarios (``desc-reuse``, ``desc-init``, ``remove-move``, ``add-position``, ``publish-link``).
I4 is the kernel layer's ``use-after-free``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rmapwalk.engine.mutation import not_a_site
from rmapwalk.engine.ops import observe
from rmapwalk.engine.runtime import Violated
from rmapwalk.kernel.bitops import BITS_PER_LONG
from rmapwalk.kvm.dirty_log import kvm_mmu_slot_remove_write_access, kvm_vm_ioctl_get_dirty_log, migration_copy
from rmapwalk.kvm.memslot import KvmMemorySlot, gfn_to_memslot
from rmapwalk.kvm.mmu_checks import I1_STATE, I3, I8, I11, check_read, check_test_bit
from rmapwalk.kvm.mmu_page import KvmMmu
from rmapwalk.kvm.pte_list import I5, I6
from rmapwalk.kvm.vcpu import KVM_REQ_TLB_FLUSH, TLB_RW, guest_memory

I1 = "I1 no dirty page lost"
I2 = "I2 harvest protects before it returns"
I7 = "I7 lockless write-protect only on leaf sptes"
I9 = "I9 flush obligations"
I10 = "I10 no lost accessed/dirty bits"
FAULT_LOOP = "endless fault loop"


@not_a_site
def check_harvest_protected(kvm: KvmMmu, reported: list[int]) -> None:
    """I2, read right after ``KVM_GET_DIRTY_LOG`` returned ``reported`` (see the module doc).

    Observations in this order, each an acquire (``mmu_checks.check_read``): the request bit,
    then the TLB entry, then the dirty bit.  A request seen cleared was cleared by the vCPU's
    fully ordered ``test_and_clear_bit`` after it emptied its TLB, so the TLB entry read next is
    that emptying or a later refill; a refill to writable follows the ``smp_mb()`` of a guest
    entry that follows the fault which marked the gfn, so the dirty bit read last is set."""
    for vcpu in kvm.vcpus:
        if check_test_bit(KVM_REQ_TLB_FLUSH, vcpu.requests):
            continue  # the vCPU empties its TLB before its next guest access
        for g in reported:
            if check_read(vcpu.tlb[g]) != TLB_RW:
                continue
            slot = gfn_to_memslot(kvm, g)
            if slot is not None and slot.dirty_bitmap is not None:
                off = g - slot.base_gfn
                if check_test_bit(off % BITS_PER_LONG, slot.dirty_bitmap[off // BITS_PER_LONG]):
                    continue
            raise Violated(I2, f"get_dirty_log returned gfn {g} while {vcpu.name}'s TLB still lets it write "
                               f"gfn {g} and its dirty bit is clear")


@not_a_site
def check_write_protected(kvm: KvmMmu, gfn: int, who: str) -> None:
    """I9, read right after a write-protection of ``gfn`` under mmu_lock returned (and flushed
    if it decided it must): no vCPU may still hold a writable TLB entry for ``gfn`` unless a
    flush request is pending for it (it empties its TLB before its next guest access).  A
    protector that skipped the flush because it saw W already clear, while another CPU had
    cleared W without flushing yet, leaves such an entry (R3)."""
    for vcpu in kvm.vcpus:
        if check_test_bit(KVM_REQ_TLB_FLUSH, vcpu.requests):
            continue
        if check_read(vcpu.tlb[gfn]) == TLB_RW:
            raise Violated(I9, f"{who} write-protected gfn {gfn} and returned, but {vcpu.name}'s TLB still "
                               f"lets it write gfn {gfn} and no flush is pending")


def require_no_lost_dirty_bit(kvm: KvmMmu, gfn: int, sptes: list[int]) -> None:
    """Register I10 (dirty half) for ``gfn``, whose sptes can only be at ``sptes``: turns on the
    CPU's D-bit updates (``kvm.hw_dirty_bit``) and the host page's dirty flag
    (``kvm_set_pfn_dirty``), and requires of every final state: if the guest wrote the page
    (``mem[gfn]`` is no longer 0), the host page is dirty or a live spte of ``gfn`` still has D
    (the host would write the page back / see it dirty when that spte is dropped)."""
    from rmapwalk.kvm.spte import PT_DIRTY_MASK

    kvm.hw_dirty_bit = True
    _require_no_lost_bit(kvm, gfn, sptes, PT_DIRTY_MASK, kvm.host_dirty, "host_page_dirty")


def require_no_lost_accessed_bit(kvm: KvmMmu, gfn: int, sptes: list[int]) -> None:
    """Register I10's accessed half for ``gfn``, whose sptes can only be at ``sptes``: turns on
    the CPU's A-bit updates (``kvm.hw_accessed_bit``) and the host page's accessed flag
    (``kvm_set_pfn_accessed``), and requires of every final state: if the guest wrote the page,
    the host page was marked accessed or a live spte of ``gfn`` still has A (page aging would
    otherwise take a page in use for an idle one)."""
    from rmapwalk.kvm.spte import PT_ACCESSED_MASK

    kvm.hw_accessed_bit = True
    _require_no_lost_bit(kvm, gfn, sptes, PT_ACCESSED_MASK, kvm.host_accessed, "host_page_accessed")


def _require_no_lost_bit(kvm: KvmMmu, gfn: int, sptes: list[int], mask: int, host_flags: dict[int, Any],
                         host_name: str) -> None:
    """I10 for one bit: a written page ends with its host flag set or the bit in a live spte."""
    mem = guest_memory(kvm)
    if gfn not in host_flags:
        host_flags[gfn] = kvm.prog.var(f"{host_name}[{gfn}]")
    names = kvm.prog.names
    have = {int(x) for x in kvm.prog.observed}
    for a in sptes:
        if int(a) not in have:
            kvm.prog.observed.append(_loc(kvm, a))

    def ok(f: Mapping[str, Any]) -> bool:
        if f[mem[gfn].name] == 0 or f[host_flags[gfn].name]:
            return True
        return any(f[names[int(a)]] & mask for a in sptes)

    kvm.prog.require(ok, I10)


def _loc(kvm: KvmMmu, addr: int) -> Any:
    from rmapwalk.engine.program import Loc

    return Loc(int(addr), kvm.prog.names[int(addr)])


def migration_thread(kvm: KvmMmu, rounds: int, slot: KvmMemorySlot | None = None, *,
                     check_i2: bool = False, enable_logging: bool = False) -> Callable[[], None]:
    """The thread function of live migration's dirty-page loop: (with ``enable_logging``, first
    ``kvm_mmu_slot_remove_write_access``, as setting ``KVM_MEM_LOG_DIRTY_PAGES`` does; the bitmap
    should then start all set, standing for the initial full copy) ``rounds`` times
    ``kvm_vm_ioctl_get_dirty_log`` (then, with ``check_i2``, :func:`check_harvest_protected`)
    and copy the reported pages; at the end it records its last copy of each gfn as register
    ``copy[g]`` (0 if never copied)."""
    mem = guest_memory(kvm)

    def migrate() -> None:
        copies: dict[int, Any] = {}
        if enable_logging:
            kvm_mmu_slot_remove_write_access(kvm, slot or kvm.memslots[0])
        for _ in range(rounds):
            reported = kvm_vm_ioctl_get_dirty_log(kvm, slot)
            if check_i2:
                check_harvest_protected(kvm, reported)
            migration_copy(kvm, reported, copies)
        for g in sorted(mem):
            observe(f"copy[{g}]", copies.get(g, 0))

    return migrate


def final_dirty_gfns(kvm: KvmMmu, final: Mapping[str, Any]) -> set[int]:
    """The gfns whose bit is set in a final state's live bitmaps (what a final harvest reports;
    needs ``kvm.observe_dirty_bitmaps()``)."""
    out: set[int] = set()
    for slot in kvm.memslots:
        for i, word in enumerate(slot.dirty_bitmap or []):
            bits = final[word.name]
            out |= {slot.base_gfn + i * 64 + b for b in range(64) if bits >> b & 1}
    return out


def lost_pages(kvm: KvmMmu, migrator: str, final: Mapping[str, Any]) -> list[int]:
    """The gfns whose final content the destination of the migration would not have."""
    dirty = final_dirty_gfns(kvm, final)
    return [g for g, loc in sorted(guest_memory(kvm).items())
            if g not in dirty and final.get(f"{migrator}:copy[{g}]", 0) != final[loc.name]]


def require_no_dirty_page_lost(kvm: KvmMmu, migrator: str = "migrate") -> None:
    """Register I1 (end-to-end form, see the module doc) on the program: ``migrator`` is the
    name of the :func:`migration_thread`."""
    guest_memory(kvm)
    kvm.observe_dirty_bitmaps()
    kvm.prog.require(lambda f: not lost_pages(kvm, migrator, f), I1)


__all__ = [
    "FAULT_LOOP", "I1", "I2", "I3", "I5", "I6", "I7", "I11",
    "I1_STATE", "I8", "I9", "I10", "check_harvest_protected", "check_write_protected", "final_dirty_gfns",
    "lost_pages", "migration_thread", "require_no_dirty_page_lost", "require_no_lost_accessed_bit",
    "require_no_lost_dirty_bit",
]
