"""``rmapwalk review``'s section "2025: lockless aging": the questions of the review of "KVM:
x86/mmu: Age sptes locklessly" (James Houghton and Sean Christopherson, v9 February 2025, merged
for Linux 6.15), answered by the scenarios of :mod:`rmapwalk.kvm.scenarios.aging`.

The runs, the verdict table and the per-question paragraph come from :mod:`rmapwalk.review` (the
paragraph is derived from the verdicts; the fixed answer below is printed only when every run of
the scenario gave its expected verdict).  This module holds the section's own text and its
Markdown layout; the terminal report and the HTML page show the section's questions after the
2013 ones under its title (:mod:`rmapwalk.report.review_text`, :mod:`rmapwalk.report.review_html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rmapwalk.kvm.scenarios import Scenario
    from rmapwalk.review import Run

SECTION = "2025"
TITLE = "2025: lockless aging"

INTRO = (
    "Twelve years after the 2013 series, KVM walks shadow-MMU rmaps without mmu_lock, for aging "
    "(the MMU notifier's test_young/clear_young) rather than for write-protection. The series "
    "protects each rmap with a lock bit in its head word (KVM_RMAP_LOCKED, beside KVM_RMAP_MANY) "
    "instead of RCU, nulls markers and type-stable caches: writers hold mmu_lock and take the bit "
    "around every pte-list change; the aging reader takes it read-only around its walk. Each "
    "scenario runs the 6.15 model (preset `upstream-6.15`: 2023's tail-count descs, the rmap lock "
    "with acquire/release, the helpers reading the head word once; `PTE_LIST_EXT` 2, tables of 2 "
    "entries) with one aging reader against one writer on the 3.11 model's fault, drop, zap and "
    "MMU-notifier paths (or a vCPU writing guest memory). Checked in every run: *no rmap update "
    "lost* (every rmap exact and unlocked at the end), I10's aging half (*aging never reports an "
    "accessed spte old*, for the sptes the scenario keeps present and Accessed throughout), I4 "
    "(*use-after-free*: descs and page tables are freed at once), *deadlock*, and in `age-clear` "
    "I10's dirty half. The I12 monitor (the single-word discipline) is opt-in: it stops a thread at "
    "the access that breaks the discipline, before the consequence each scenario shows; the tests "
    "run it on every broken setting. Models: SC, x86-TSO, PSO and LKMM for every question, and "
    "LKMM-alpha (LKMM before `READ_ONCE()` ordered dependent loads) for the ordering dispute. "
    "LKMM runs include load-buffering executions; a run in which the engine cannot make a "
    "load-buffering revisit is reported incomplete, never as holding (one broken setting's LKMM row "
    "is left out for that reason, and one for time, each said in its answer)."
)

#: the answer to each question, printed only when every run of the scenario gave its expected
#: verdict (so the text never claims more than the runs show)
ANSWERS: dict[str, str] = {
    "age-vs-add":
        "Answer: on weakly ordered machines it needs the lock. Without it (what dropping mmu_lock "
        "from aging without the series would be) the walk is whole under SC and TSO here, because "
        "pte_list_add fills the new head desc before it stores the head word; under PSO and LKMM "
        "the head store can be seen first, the walk stops at the desc's NULL first slot, and "
        "test_young reports old a gfn whose two sptes were Accessed throughout (I10). With the rmap "
        "lock every model holds.",
    "age-vs-remove":
        "Answer: it needs the lock. Without it the reader reads the head desc that pte_list_remove "
        "empties and frees (use-after-free, I4) and can miss the entry it moves, reporting the gfn "
        "old (I10), under every model. With the lock the remover, which takes the rmap lock under "
        "mmu_lock, waits for the reader's unlock, and every model holds.",
    "age-vs-zap":
        "Answer: yes. The notifier's kvm_zap_all_rmap_sptes takes the rmap lock, so while the reader "
        "holds it the rmap is not emptied and the page holding the spte is not zapped and freed; the "
        "reader may find the spte cleared (non-present, skipped by for_each_rmap_spte_lockless), but "
        "its sptep points into a live table. Without the lock it clears Accessed in a freed table "
        "(I4) under every model. No run deadlocks: writers take mmu_lock and then the rmap lock, the "
        "reader only the rmap lock.",
    "age-empty-rmap":
        "Answer: nothing stops it, which is why the merged design never locks an empty rmap and its "
        "read-only unlock writes nothing for one. A reader that found the rmap empty holds no lock, "
        "so the page fault fills it meanwhile; writing back 0 (James's question) or the head read "
        "again before the fill then loses the new entry (no rmap update lost, R15) under every model. "
        "Locking the empty word instead (0 -> LOCKED) makes the writer wait, but then the unlock must "
        "write the 0 back: with 6.15's unlock, which writes nothing for 0, the bit stays set and the "
        "writer spins forever (deadlock); with a write-back of 0, or of the head read again (the "
        "reader's own locked 0), it holds. The merged pair, skip and restore the locked value, holds "
        "under every model.",
    "age-empty-walk":
        "Answer: as modelled from v9 of the series, no, and 6.15 may have this window. "
        "kvm_rmap_lock_readonly returns 0 for an empty rmap without locking it (and re-enables "
        "preemption), but for_each_rmap_spte_lockless starts with rmap_get_first, which reads the head "
        "again through kvm_rmap_get; if a page fault filled the rmap in between, the reader walks it "
        "holding nothing, and the spte's zap (drop_spte, the page unlinked, flushed and freed) can "
        "finish meanwhile: the reader reads an spte in a freed page table (I4) under every model, and "
        "had it found the spte Accessed it would clear_bit there. Walking from the value the lock "
        "returned (an rmap found empty is not walked) holds. The merged af3b6a9eba48 could not be read "
        "here; the model follows the v9 patches, whose walk starts from the head.",
    "age-ordering":
        "Answer: James is right about the unlock. With Sean's first version (a fully ordered "
        "try_cmpxchg to lock, a plain atomic_long_set to unlock) or with relaxed atomics, the "
        "writer's stores to a new desc can become visible after the unlocking store of its pointer "
        "under PSO, LKMM and LKMM-alpha: the reader locks the new head, finds the desc's first slot "
        "NULL and reports old a gfn whose spte was Accessed throughout (I10). Under SC and x86-TSO "
        "every variant holds, which is Sean's point for x86. The release on the unlock is what "
        "matters: with a relaxed lock and a release unlock every model holds while the desc is read "
        "with plain accesses (LKMM bounds a plain read by its address dependency on the head value), "
        "but with READ_ONCE reads LKMM-alpha, which does not order dependent marked loads, needs the "
        "acquire too. Acquire/release (6.15) holds under all five models.",
    "head-reread":
        "Answer: yes. With the helpers as they were before 9fb13ba6b5ff, wrapped in the lock, "
        "pte_list_add stores the new head desc pointer, which drops KVM_RMAP_LOCKED, before it fills "
        "the desc; the aging reader then takes the lock, walks a desc whose first slot is still NULL "
        "and reports old a gfn whose sptes were Accessed throughout (I10), under every model, SC "
        "included. Reading the head once through the lock and writing it once through the unlock "
        "holds. With the I12 monitor on, the same runs stop at the helper's second read of the head "
        "word (tests/kvm/test_kvm_aging.py).",
    "age-three-way":
        "Answer: yes. With the rmap lock every interleaving of the fault's add, the notifier's unmap "
        "(every spte cleared and every desc freed under the lock) and the aging walk leaves the rmap "
        "exact, never lets the reader touch a freed desc and never deadlocks, under SC, TSO, PSO and "
        "LKMM: writers take mmu_lock and then the rmap lock, the reader only the rmap lock, so no wait "
        "cycle can form. Without the lock the reader reads descs the notifier frees (I4) under SC, TSO "
        "and PSO; that broken setting is not run under LKMM (not finished after 600 s: the LKMM "
        "explorer carries inconsistent partial executions to their end before it discards them).",
    "age-clear":
        "Answer: clear_bit and the cmpxchg both hold: an atomic RMW of the whole word cannot "
        "overwrite the Dirty bit the CPU sets, and a cmpxchg that fails because of it is ignored (the "
        "spte stays young, as the kernel's comment says). A plain store of the value read without "
        "Accessed loses that Dirty bit (I10) under SC, TSO and PSO, so the lockless reader may only clear "
        "Accessed atomically. (Under LKMM the same violation is found, but that run is not exhaustive: "
        "the engine cannot make one load-buffering revisit there, so the table leaves it out.)",
}


def in_section(sc: Scenario) -> bool:
    return sc.review == SECTION


def _models_line(runs: Sequence[Run]) -> str:
    seen: list[str] = []
    for r in runs:
        if r.model not in seen:
            seen.append(r.model)
    return ", ".join(m.upper() for m in seen)


def markdown_section(runs: Sequence[Run], scenarios: Sequence[Scenario]) -> str:
    """The section as Markdown (a level-2 heading, then level-3 ones)."""
    from rmapwalk import review as rv

    mine = [r for r in runs if in_section(r.scenario)]
    secs = sum(r.seconds for r in mine)
    out = [f"## {TITLE}", "", INTRO, "",
           f"{len(mine)} runs ({_models_line(mine)}), {sum(r.executions for r in mine)} executions, "
           f"{secs:.1f} s in all.", "", "### Summary", ""]
    for sc in scenarios:
        out.append(f"* `{sc.name}`: {rv._status_line(sc, mine)}")
    out += ["", "### All runs", "", *rv.markdown_runs_table(mine)]
    out += rv.markdown_questions(scenarios, mine, "###")
    return "\n".join(out) + "\n"


__all__ = ["ANSWERS", "INTRO", "SECTION", "TITLE", "in_section", "markdown_section"]
