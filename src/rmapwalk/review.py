"""``rmapwalk review``: answer the questions of the 2013 review by running the KVM scenarios.

For each scenario (one review question) every setting of its expected-verdict table -- the
proposal and its broken alternatives -- is explored exhaustively under each memory model asked
for.  Each run keeps the shortest of its violation traces (fewest steps).  Per question a
paragraph states what the runs show; it is derived from the verdicts actually obtained: where
they differ from the scenario's expected table the report says so instead of giving the answer.

This module runs the review and says what to report (:func:`matrix`, :func:`counterexamples`,
:func:`short_answer`, :func:`reproduce_command` ...); the reports are the Markdown of
``docs/review.md`` (:func:`markdown_report`), the terminal report
(:mod:`rmapwalk.report.review_text`) and the HTML page (:mod:`rmapwalk.report.review_html`).

The scenarios of the 2025 series (``Scenario.review == "2025"``) form the section "2025: lockless
aging" after the 2013 questions (:mod:`rmapwalk.review_2025`); without models every scenario runs
under the models of its own expected table, setting by setting (LKMM too for the 2025 ones).
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine.explore import DEFAULT_LB_SEARCH, Explorer, Options
from rmapwalk.engine.graph import Graph
from rmapwalk.engine.program import Program
from rmapwalk.engine.replay import ReplayError, rebuild
from rmapwalk.engine.result import HOLDS, INCOMPLETE, VIOLATED, Result, Violation
from rmapwalk.engine.runtime import ModelError
from rmapwalk.engine.trace import render
from rmapwalk.kvm.scenarios import SCENARIOS, Expect, Scenario
from rmapwalk.kvm.switches import Switches
from rmapwalk.report import text

DEFAULT_MODELS = ("sc", "tso", "pso")
#: how many violation traces a review run keeps to pick the shortest from
KEEP_VIOLATIONS = 64
DEFAULT_MAX_EVENTS = 1000

#: the review command that regenerates docs/review.md
DOCS_COMMAND = "rmapwalk review --full --mutations --jobs --markdown > docs/review.md"


# -- running ------------------------------------------------------------------------------------
def render_trace(prog: Program, v: Violation, model: str, max_events: int = DEFAULT_MAX_EVENTS) -> str:
    """The trace of ``v`` in the format of ``rmapwalk run`` (rebuilt from its replay data)."""
    data = json.loads(json.dumps(v.replay))
    try:
        g = rebuild(prog, data, max_events)
    except (ReplayError, ModelError) as e:
        return f"(no trace: the execution could not be rebuilt: {e})"
    return render(g, data.get("model", model), order=(data.get("violation") or {}).get("order"))


def trace_steps(trace: str) -> int:
    """Steps of a rendered trace (two header lines, one line per step, then the ``end`` row)."""
    lines = trace.split("\n")
    ends = 1 if lines and lines[-1].startswith("end") else 0
    return max(len(lines) - 2 - ends, 0)


def shortest_violation(prog: Program, result: Result) -> tuple[Violation, str] | None:
    """The kept violation with the fewest trace steps, with its trace (ties: the first found)."""
    best: tuple[float, Violation, str] | None = None
    for v in result.violations:
        tr = render_trace(prog, v, result.model)
        # a trace that could not be rebuilt counts as the longest (kept only if none can be)
        n = float("inf") if tr.startswith("(no trace") else trace_steps(tr)
        if best is None or n < best[0]:
            best = (n, v, tr)
    return None if best is None else (best[1], best[2])


def settings_of(sc: Scenario) -> list[dict[str, Any]]:
    """The distinct settings of ``sc``'s expected table, in table order ({} when it has none)."""
    out: list[dict[str, Any]] = []
    for e in sc.expected:
        s = dict(e.settings)
        if s not in out:
            out.append(s)
    return out or [{}]


def expected_row(sc: Scenario, settings: Mapping[str, Any], model: str) -> Expect | None:
    for e in sc.expected:
        if dict(e.settings) == dict(settings) and e.model == model:
            return e
    return None


def describe_settings(settings: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items()) or "base"


@dataclass
class Run:
    """One review run: a scenario under one setting and one memory model."""

    scenario: Scenario
    settings: dict[str, Any]
    model: str
    switches: Switches
    result: Result
    expected: Expect | None
    seconds: float
    shortest: Violation | None = None
    trace: str = ""
    properties: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return self.result.verdict

    @property
    def executions(self) -> int:
        return self.result.stats.executions

    @property
    def expected_text(self) -> str:
        e = self.expected
        if e is None:
            return "-"
        if e.verdict == VIOLATED:
            return "violated: " + ", ".join(sorted(e.properties))
        return e.verdict

    @property
    def verdict_text(self) -> str:
        if self.verdict == VIOLATED:
            return "VIOLATED: " + ", ".join(self.properties)
        if self.verdict == INCOMPLETE:
            return f"INCOMPLETE ({self.result.incomplete_reason})"
        return self.verdict

    @property
    def as_expected(self) -> bool | None:
        e = self.expected
        if e is None:
            return None
        if self.verdict != e.verdict:
            return False
        return self.verdict != VIOLATED or frozenset(self.properties) == e.properties


def run_one(sc: Scenario, settings: Mapping[str, Any], model: str, *, max_executions: int | None = None,
            timeout: float | None = None, lb_search: str = DEFAULT_LB_SEARCH) -> Run:
    sw = sc.switches(**dict(settings))
    prog = sc.build(sw)
    t0 = time.perf_counter()
    try:
        result = Explorer(prog, model, Options(max_executions=max_executions, timeout=timeout,
                                               keep_violations=KEEP_VIOLATIONS, lb_search=lb_search)).run()
    except ModelError as e:
        # The model broke in some execution of this run (a cache too small for it, a function
        # used outside its contract): the run has no verdict, the others still do.  It shows
        # as INCOMPLETE with the error, which no expected row accepts.
        where = f" ({e.src.file}:{e.src.line})" if e.src is not None else ""
        result = Result(prog.name, model, INCOMPLETE, incomplete_reason=f"the model failed: {e}{where}")
    seconds = time.perf_counter() - t0
    run = Run(sc, dict(settings), model, sw, result, expected_row(sc, settings, model), seconds,
              properties=sorted(result.property_counts))
    best = shortest_violation(prog, result)
    if best is not None:
        run.shortest, run.trace = best
    return run


def select(names: Iterable[str] | None = None) -> list[Scenario]:
    """The scenarios called ``names`` (all, in registry order, when none); unknown names raise
    ``ValueError`` listing the valid ones."""
    wanted = list(names or [])
    if not wanted:
        return list(SCENARIOS.values())
    bad = [n for n in wanted if n not in SCENARIOS]
    if bad:
        raise ValueError(f"unknown scenario {', '.join(bad)}; valid scenarios: {', '.join(SCENARIOS)}")
    return [SCENARIOS[n] for n in wanted]


#: the order in which a scenario's own models are run
MODEL_ORDER = ("sc", "tso", "pso", "weak", "lkmm", "lkmm-alpha")


def scenario_models(sc: Scenario, settings: Mapping[str, Any] | None = None, full: bool = True) -> list[str]:
    """The memory models named in ``sc``'s expected table, for ``settings`` (every setting when
    ``None``): what the review runs it under when no models are given.  Without ``full``, only
    those of them in the scenario's ``quick_models`` (the default review: SC, TSO and PSO for
    most 2013 questions, whose LKMM rows take 30-50 s each).  A row the table leaves out (a model
    out of reach for that setting) is not run."""
    named = {e.model for e in sc.expected if settings is None or dict(e.settings) == dict(settings)}
    if not full and sc.quick_models is not None:
        named &= set(sc.quick_models)
    return [m for m in MODEL_ORDER if m in named] + sorted(named - set(MODEL_ORDER)) or list(DEFAULT_MODELS)


def plan(scenarios: Sequence[Scenario], models: Sequence[str] | None,
         full: bool = False) -> list[tuple[Scenario, dict[str, Any], str]]:
    """The runs a review makes, in order: each scenario's settings, each under every model of
    ``models``, or, when ``models`` is ``None``, under the models its own table names for that
    setting (:func:`scenario_models`; ``full``: all of them, else its quick ones)."""
    return [(sc, settings, m) for sc in scenarios for settings in settings_of(sc)
            for m in (models if models is not None else scenario_models(sc, settings, full))]


def planned_models(planned: Sequence[tuple[Scenario, dict[str, Any], str]]) -> list[str]:
    """The models a plan runs, in :data:`MODEL_ORDER` (the reports' columns)."""
    ms = {m for _, _, m in planned}
    return [m for m in MODEL_ORDER if m in ms] + sorted(ms - set(MODEL_ORDER))


def columns(sc: Scenario, runs: Sequence[Run], models: Sequence[str]) -> list[str]:
    """The models of ``models`` that ``sc`` was run under (a question's matrix columns)."""
    ran = {r.model for r in runs if r.scenario is sc}
    return [m for m in models if m in ran] or list(models)


def run_review(scenarios: Sequence[Scenario], models: Sequence[str] | None, *, max_executions: int | None = None,
               timeout: float | None = None, progress: Callable[[Run], None] | None = None,
               starting: Callable[[Scenario, Mapping[str, Any], str], None] | None = None,
               jobs: int = 1, full: bool = False, lb_search: str = DEFAULT_LB_SEARCH) -> list[Run]:
    """Every run of :func:`plan`, in the plan's order; ``starting`` is called before each run,
    ``progress`` after it.  With ``jobs > 1`` the runs are shared out among that many worker
    processes (each run is one exhaustive exploration, independent of the others, so the
    verdicts, counts and kept traces are those of a single process); ``progress`` is then called
    as runs finish, ``starting`` as they are handed out.  ``lb_search``: how the models with load
    buffering search (``Options.lb_search``)."""
    planned = plan(scenarios, models, full)
    if jobs > 1 and len(planned) > 1:
        return _run_parallel(planned, jobs, max_executions, timeout, progress, starting, lb_search)
    runs = []
    for sc, settings, m in planned:
        if starting is not None:
            starting(sc, settings, m)
        r = run_one(sc, settings, m, max_executions=max_executions, timeout=timeout, lb_search=lb_search)
        if progress is not None:
            progress(r)
        runs.append(r)
    return runs


def _run_in_worker(name: str, settings: dict[str, Any], model: str, max_executions: int | None,
                   timeout: float | None, lb_search: str = DEFAULT_LB_SEARCH) -> Run:
    """:func:`run_one` in a worker process; the scenario travels back by name (its build function
    is a closure, which does not pickle)."""
    r = run_one(SCENARIOS[name], settings, model, max_executions=max_executions, timeout=timeout,
                lb_search=lb_search)
    r.scenario = name  # type: ignore[assignment]
    return r


def _run_parallel(planned: Sequence[tuple[Scenario, dict[str, Any], str]], jobs: int, max_executions: int | None,
                  timeout: float | None, progress: Callable[[Run], None] | None,
                  starting: Callable[[Scenario, Mapping[str, Any], str], None] | None,
                  lb_search: str = DEFAULT_LB_SEARCH) -> list[Run]:
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    out: list[Run | None] = [None] * len(planned)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: dict[Future[Run], int] = {}
        for i, (sc, settings, m) in enumerate(planned):
            if starting is not None:
                starting(sc, settings, m)
            pending[pool.submit(_run_in_worker, sc.name, dict(settings), m, max_executions, timeout,
                                lb_search)] = i
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                i = pending.pop(f)
                r = f.result()
                r.scenario = planned[i][0]
                out[i] = r
                if progress is not None:
                    progress(r)
    return [r for r in out if r is not None]


# -- the answer of each question ----------------------------------------------------------------
def _models_text(models: Sequence[str]) -> str:
    return ", ".join(m.upper() for m in models)


def answer(sc: Scenario, runs: Sequence[Run]) -> str:
    """A paragraph stating what the runs of ``sc`` show (derived from their verdicts only)."""
    mine = [r for r in runs if r.scenario is sc]
    if not mine:
        return "Not run."
    incomplete = [r for r in mine if r.verdict == INCOMPLETE]
    wrong = [r for r in mine if r.as_expected is False]
    parts: list[str] = []
    for settings in settings_of(sc):
        rs = [r for r in mine if r.settings == settings]
        if not rs:
            continue
        held = [r.model for r in rs if r.verdict == HOLDS]
        broke = [r for r in rs if r.verdict == VIOLATED]
        s = f"`{describe_settings(settings)}`"
        if broke and held:
            props = sorted({p for r in broke for p in r.properties})
            parts.append(f"{s} holds under {_models_text(held)} but violates {', '.join(props)} under "
                         f"{_models_text([r.model for r in broke])}")
        elif broke:
            props = sorted({p for r in broke for p in r.properties})
            parts.append(f"{s} violates {', '.join(props)} under every model run "
                         f"({_models_text([r.model for r in broke])})")
        elif held and len(held) == len(rs):
            parts.append(f"{s} holds exhaustively under {_models_text(held)}")
        else:
            parts.append(f"{s} is incomplete under {_models_text([r.model for r in rs if r.verdict == INCOMPLETE])}")
    text_ = "; ".join(parts) + "."
    if incomplete:
        text_ += (" Some runs did not finish, so no answer is given for them (a bounded run never "
                  "counts as 'holds').")
    if wrong:
        text_ += (" **These verdicts differ from the scenario's expected table** ("
                  + "; ".join(f"{describe_settings(r.settings)} @{r.model}: got {r.verdict_text}, "
                              f"expected {r.expected_text}" for r in wrong)
                  + "), so the model or the scenario needs attention before this question is answered.")
    elif not incomplete:
        note = answer_text(sc, runs)
        if note:
            text_ += " " + note
    return text_


#: what the LKMM rows of a 2013 question add to its answer (``review --full``), printed after it
#: only when the scenario's LKMM rows were run and every run gave its expected verdict
LKMM_ANSWERS: dict[str, str] = {
    "remove-move":
        "Under LKMM (the portable answer) the bottom-up walk misses the moved entry too, with either "
        "pte-list algorithm (I5): nothing orders the walker's loads of two slots, so it can read the "
        "old slot after the clear and the new one before the move, whatever the mover's smp_wmb(). "
        "x86 keeps loads in order; a weakly ordered CPU needs an smp_rmb() after each slot load "
        "(walk_rmb=on, not in the series), which holds.",
    "add-position":
        "Under LKMM the head add at PTE_LIST_EXT 1 also needs the walker's slot loads ordered "
        "(walk_rmb=on): the series' head refill moves an entry from the head desc into the emptied "
        "slot, the move of question remove-move.",
    "sp-free":
        "Under LKMM call_rcu is a use-after-free as well: the walker's plain loads of the table are "
        "not ordered before the faulting vCPU's reuse of the page after the callback freed it "
        "(LKMM bounds a plain access of a read-side section only through the grace period's own "
        "thread; question sp-rcu). The type-stable table holds.",
    "spt-reuse":
        "Under LKMM the call_rcu row races as well (data race, mixed accesses): the walker's plain "
        "header loads are not ordered before the reuse of the freed page (question sp-rcu); the "
        "value check with spt_init=once still holds.",
}

#: the answer to each question, printed only when every run of the scenario gave its expected
#: verdict (so the text never claims more than the runs show)
ANSWERS: dict[str, str] = {
    "sp-rcu":
        "Answer: on x86 and under PSO yes: freeing a zapped shadow page through call_rcu() keeps its "
        "table and header alive for the walker's RCU read-side section (freed at once: use-after-free), "
        "and type-stable pages (Gleb's proposal) keep the memory but race with the header's "
        "reinitialisation (data race on sp->role.level and page_private). Under LKMM RCU orders only "
        "marked accesses: the walker's plain page_private() and sp->role.level loads race with the "
        "page's reuse and are not ordered before the callback's free, so portably they must be "
        "READ_ONCE() (or the level kept in the spte, seed question 3). The first sptep stored in an "
        "empty rmap needs the series' smp_wmb() too: without it (publish=none) the walker can follow "
        "the sptep before its page's page_private is written, a NULL dereference under PSO and LKMM.",
    "baseline-locked":
        "Answer: yes. With the write-protection under mmu_lock no interleaving of a vCPU's faults and "
        "writes with two get_dirty_log rounds loses a dirty page, under any of the models run.",
    "mark-order":
        "Answer: yes. With the lockless write-protect the 3.11 order (mark_page_dirty before the spte "
        "is writable and on its rmap) loses a dirty page even under SC (R6); the series' order "
        "(spte, rmap_add, then mark) holds, but only with the smp_wmb(): without it the harvest can "
        "see the bit and miss the rmap entry under PSO. The same 3.11 order is fine when the "
        "write-protect is locked, so the reorder is needed only by the lockless write-protect.",
    "desc-reuse":
        "Answer: yes. Without nulls, a walker standing on a desc that is freed and reused in another "
        "gfn's chain finishes in that chain and never visits an spte that was on its own rmap "
        "throughout (I5, R9), which stays writable, so a later write is lost; under every model. "
        "With the nulls marker and restart the walk is complete.",
    "desc-init":
        "Answer: yes. With the 3.11 allocation (kmem_cache_zalloc) a desc freed to the type-safe "
        "cache and reused at once is zeroed while a lockless walker may still stand on it; the "
        "walker reads the transient NULL `more`, takes it for the end of the chain and never "
        "visits the rest of its own chain (I5; the spte it misses stays writable). The nulls marker "
        "cannot help, since a NULL is no marker. Writing each pointer once with its final value "
        "(patch 10) holds under every model run, given the smp_wmb() before linking. Had the walker "
        "restarted on a NULL `more` (an option of the reconstructed walker, §3.9), the zeroing "
        "would only cost restarts.",
    "fast-pf-indirect":
        "Answer: yes, the restriction is needed. On an indirect page the gfn behind an spte is not "
        "fixed: after a swap-out (MMU notifier, kvm_unmap_rmapp), the reuse of the host page for "
        "another gfn, a guest pte change and a harvest, the spte can hold again the very value the "
        "fast path read; its cmpxchg then succeeds and marks the gfn it read from sp->gfns[] (the old "
        "one) while the write lands in the new gfn's page, which no harvest reports (I1, R1). "
        "(The scenario runs without the I8 check, the fast-path discipline, which would stop the run "
        "by definition at that cmpxchg on an indirect page.) Forbidding the fast path there holds; "
        "the slow path is safe through mmu_notifier_retry and "
        "the gpte re-check under mmu_lock. The scenario gives the vCPU's lockless walk the RCU "
        "protection of c2a2ac2b563c (2011), which locking.txt's example assumes; with 3.11's "
        "interrupts-off walk the notifier's flush IPI waits for the fast path and this interleaving "
        "is closed (checked by a test, not a review row).",
    "large-spte":
        "Answer: yes. Making large sptes read-only instead of zapping them is safe only if "
        "fast_page_fault refuses sptes above level 1; with the fast path allowed, a write through "
        "the re-enabled large spte to another gfn of the large page is never reported (I1; R4, the "
        "reason for the revert of caf6900f2d8a; with I11 checked, the harvest is seen returning "
        "with the large spte writable again). "
        "Zapping (3.11) and read-only with the fast path forbidden (c126d94f2c90) hold.",
    "sp-free":
        "Answer: yes. The lockless write-protect runs on the migration thread, which is no vCPU, so "
        "the flush IPI of kvm_mmu_commit_zap_page does not wait for it; freeing the zapped shadow "
        "page at once (3.11) lets the walker read freed memory (use-after-free, I4). Freeing through "
        "call_rcu (v1) or allocating spt from a type-stable slab (v2) holds.",
    "spt-reuse":
        "Answer: yes, as Xiao answered Gleb. In the seed mail Gleb proposes allocating sp->spt from a "
        "SLAB_DESTROY_BY_RCU cache and relying on is_last_spte(); Xiao replies that the level can then "
        "no longer be taken from sp and must be encoded in the spte. With spt from a type-stable "
        "cache a table is freed and reused at another level during the walk, and a leaf check using "
        "the level read from the header before the spte clears W on what is now a non-leaf entry (I7). "
        "Re-reading the level after the spte (by_level_reread) gives no I7 here, but a table reused "
        "three times defeats it (spt-reuse-aba). The runs report data races: both level checks read "
        "the type-stable header while it is reinitialised, and with 3.11's plain zeroing of the "
        "reused table (init_shadow_page_table) the by-value check races too; by value with the "
        "zeroing done by WRITE_ONCE (spt_init=once) holds, data races included. With the 3.11 "
        "immediate free the walk is a use-after-free (I4) whatever the leaf check; with call_rcu (v1) "
        "the table cannot be reused during the walk and the level check holds, data races included, "
        "so the by-value check is the price of v2's type-stable spt.",
    "spt-reuse-aba":
        "Answer: the level must be encoded in the spte. Reading the spte, then (after smp_rmb()) "
        "page_header() and sp->role.level again is two reads, and the cmpxchg validates only the "
        "spte: a table that is a level-2 table when the walker reads its non-leaf entry, a level-1 "
        "table when it reads the level, and the same level-2 table with the same entry again when "
        "it cmpxchg's (zapped and reused three times, LIFO) makes the walker clear W on a non-leaf "
        "entry (I7) under SC; the level read once before the spte fails the same way. The level "
        "taken from the spte value alone holds. (This scenario does not report data races; "
        "spt-reuse does.)",
    "remove-move":
        "Answer: for a move inside one desc, yes. A walker reading the slots of a desc in ascending "
        "order misses the entry a concurrent removal moves down, with either pte-list algorithm "
        "(I5; the missed spte stays writable and a later write is lost); the bottom-up walk holds "
        "with both. This one-desc scenario does not show that the walk order is all the redesign "
        "needs: with a chain of descs, 3.11's add (append at the tail) can put a desc freed under "
        "the walker back at the tail, behind the walker's own nulls marker, and the bottom-up walk "
        "with nulls then misses the rest of the chain (add-position: I5 under SC); adding at the "
        "head, as the series does, holds. So a complete walk needs the bottom-up order and the head "
        "insertion.",
    "add-position":
        "Answer: yes. On a three-desc chain, a lock holder removes the only entry of the middle "
        "desc (3.11 frees the emptied desc at once, to the type-safe cache) and a fault adds an "
        "entry: with 3.11's add every desc is full, so it appends a new desc at the tail, which is "
        "the freed one (LIFO); a walker standing on it reads the chain's own nulls marker there, "
        "ends without a restart and misses the last desc's entries, on the rmap throughout (I5), "
        "under every model, at PTE_LIST_EXT 1 and 3. Adding at the head holds. The add position "
        "alone decides it: the tail add fails with the series' head refill too, the head add holds "
        "with 3.11's refill.",
    "publish-link":
        "Answer: yes, on weakly ordered machines. When a fault turns an rmap's single entry into a "
        "chain, pte_list_add fills a new desc and stores its address in the head word; without a "
        "barrier between the two, under PSO the walker can see the head word first, read the desc's "
        "empty slots and its NULL more, and miss the entry that was on the rmap throughout (I5). "
        "smp_wmb() and rcu_assign_pointer() both hold; under SC and TSO no barrier is needed.",
    "zap-vcpu-walk":
        "Answer: yes, both. A vCPU in fast_page_fault walks the shadow table with interrupts off "
        "and vcpu->mode = READING_SHADOW_PAGE_TABLES; the zap's kvm_flush_remote_tlbs waits for it, "
        "so the page is freed only after the walk, and 3.11 holds. Without the flush before "
        "kvm_mmu_commit_zap_page frees, the walk reads the freed table under every model (I4). "
        "Without the smp_mb() of walk_shadow_page_lockless_begin, under TSO and PSO the mode store "
        "can still sit in the store buffer while the walk reads the table and the flusher reads "
        "the old mode, skips the wait and frees the page (store buffering: I4); under SC it holds.",
    "drop-order":
        "Answer: yes. Removed from the rmap before it is cleared, a present writable spte is "
        "invisible to the lockless write-protect: the harvest reports and copies the page, its "
        "flush empties the vCPU's TLB, but the vCPU walks to the still writable spte again and "
        "writes without a fault, so without a dirty bit, before the zap clears it: the write is "
        "lost (I1) under every model. Clearing first (3.11) holds.",
    "flush-rule":
        "Answer: yes. After the lockless write-protect has cleared W but before its single flush at "
        "the end of get_dirty_log, a lock holder write-protecting the same spte (kvm_mmu_get_page "
        "shadowing a guest page table) finds W already clear; the 3.11 rule (flush only if the old "
        "spte was writable) then skips the flush while the vCPU's TLB still allows writes (I9). "
        "Deciding by MMU-writable (series patch 4, merged) flushes and holds. With the locked "
        "write-protect the 3.11 rule is enough: the flush happens before anyone can see W clear.",
    "flush-outside-lock":
        "Answer: moving the flush out of mmu_lock (198c74f43f0f) is safe only together with the "
        "MMU-writable flush rule (series patch 4), and in this scenario slots_lock is not what makes "
        "it safe: with the 3.11 rule a write-protector that runs from a vCPU's fault path "
        "(kvm_mmu_get_page, which takes no slots_lock) finds W already clear, skips its flush and "
        "leaves a writable TLB entry (I9), whether or not the dirty-log flushers are serialized; with "
        "the MMU-writable rule the after-unlock flush holds, serialized or not. Flushing under the "
        "lock (3.11) holds. The slots_lock serialization guards two dirty-log write-protectors "
        "against each other (R8 proper): see `flush-slots-lock`.",
    "flush-slots-lock":
        "Answer: yes. With both flushes after the unlock, kvm_mmu_slot_remove_write_access can run "
        "between get_dirty_log's W-clear and its flush, find W already clear, ask for no flush "
        "(198c74f43f0f flushes only if an spte needed it; a dirty-log write-protect returns early on "
        "W clear whatever the flush rule) and return while a vCPU can still write the page through "
        "its TLB without a fault and without a dirty bit (I9). Holding slots_lock across both "
        "(after_unlock_serialized, what 198c74f43f0f asserts) holds, as does 3.11's flush under "
        "mmu_lock. So the two after-unlock settings differ exactly where the commit says they do.",
    "clear-track-bits":
        "Answer: yes. If only the A/D bits count as volatile, mmu_spte_clear_track_bits may clear a "
        "read-only but MMU-writable spte with a plain store; the fast path can make it writable and "
        "the CPU set D in between, and that D bit is lost (I10, R2). Treating locklessly modifiable "
        "sptes as volatile (xchg, as 3.11 does) holds.",
}


def answer_text(sc: Scenario, runs: Sequence[Run] = ()) -> str | None:
    """The answer of ``sc``: written from its ``runs`` for the seed questions
    (:mod:`rmapwalk.review_seed`), else the fixed text (:data:`ANSWERS`, or the 2025 section's),
    followed by what LKMM adds (:data:`LKMM_ANSWERS`) when ``runs`` include LKMM runs of ``sc``."""
    from rmapwalk import review_seed

    write = review_seed.ANSWERS.get(sc.name)
    if write is not None:
        return write(runs_of(sc, runs))
    text_ = ANSWERS.get(sc.name) or _section_2025().ANSWERS.get(sc.name)
    extra = LKMM_ANSWERS.get(sc.name)
    if text_ and extra and any(r.model.startswith("lkmm") for r in runs_of(sc, runs)):
        text_ += " " + extra
    return text_


def _section_2025() -> Any:
    """``rmapwalk.review_2025``: the section "2025: lockless aging" (its own text and layout)."""
    from rmapwalk import review_2025

    return review_2025


# -- what the reports show of each question -----------------------------------------------------
def runs_of(sc: Scenario, runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if r.scenario is sc]


#: short names of the properties that have no invariant id, for the matrices' cells (the
#: legend under a matrix spells them out)
SHORT_NAMES = {"use-after-free": "UAF", "NULL pointer dereference": "NULL", "data race": "race",
               "mixed accesses": "mixed", "no rmap update lost": "lost update"}


def short_property(prop: str) -> str:
    """A property's short name for tables: its invariant id (``I1``, ``R6``) when it starts with
    one, else its :data:`SHORT_NAMES` entry, else the whole name (``deadlock``)."""
    m = re.match(r"[A-Z]{1,3}\d+[a-z]?\b", prop)
    return m.group(0) if m else SHORT_NAMES.get(prop, prop)


def cell_text(r: Run | None) -> str:
    """A verdict as a matrix cell: ``holds``, ``VIOLATED (I1, I2)``, ``incomplete``, ``-``."""
    if r is None:
        return "-"
    if r.verdict == VIOLATED:
        return f"VIOLATED ({', '.join(short_property(p) for p in r.properties)})"
    if r.verdict == INCOMPLETE:
        return "incomplete"
    return r.verdict


def matrix(sc: Scenario, runs: Sequence[Run], models: Sequence[str]) -> list[tuple[dict[str, Any], list[Run | None]]]:
    """Settings x models: each setting of ``sc`` with its run under each model (None: not run)."""
    mine = runs_of(sc, runs)
    out = []
    for settings in settings_of(sc):
        row = [next((r for r in mine if r.settings == settings and r.model == m), None) for m in models]
        if any(x is not None for x in row):
            out.append((settings, row))
    return out


def properties_of(sc: Scenario, runs: Sequence[Run]) -> list[str]:
    """Every property violated in some run of ``sc``, sorted."""
    return sorted({p for r in runs_of(sc, runs) for p in r.properties})


def counterexamples(sc: Scenario, runs: Sequence[Run]) -> list[Run]:
    """For each broken setting of ``sc``, the run whose kept trace is shortest (ties: the first
    model run), in setting order."""
    out = []
    for settings in settings_of(sc):
        broken = [r for r in runs_of(sc, runs) if r.settings == settings and r.shortest is not None]
        if broken:
            out.append(min(broken, key=lambda r: trace_steps(r.trace)))
    return out


def violated_runs(sc: Scenario, runs: Sequence[Run]) -> list[tuple[Run, Run | None]]:
    """Every violated run of ``sc`` with a trace, each with the earlier run whose trace is the
    same (see :func:`_violation_runs`)."""
    return [(r, same) for r, same in _violation_runs(runs) if r.scenario is sc]


def reproduce_args(r: Run) -> list[str]:
    """The ``rmapwalk`` arguments that check ``r``'s scenario, setting and model again."""
    args = ["check", "kvm", "--scenario", r.scenario.name]
    for k, v in r.settings.items():
        args += ["--set", f"{k}={v}"]
    return args + ["--model", r.model]


def reproduce_command(r: Run) -> str:
    return " ".join(["rmapwalk", *(shlex.quote(a) for a in reproduce_args(r))])


def status(sc: Scenario, runs: Sequence[Run]) -> str:
    """``answered`` (every run complete and as expected), ``differs`` or ``incomplete``."""
    mine = runs_of(sc, runs)
    if any(r.as_expected is False for r in mine):
        return "differs"
    if not mine or any(r.verdict == INCOMPLETE for r in mine):
        return "incomplete"
    return "answered"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`\"'])")


def first_sentences(text: str, at_least: int = 40) -> str:
    """The first sentence of ``text``, with the next ones while it is shorter than ``at_least``
    characters (so a bare "yes." keeps its reason)."""
    text = " ".join(text.split())
    parts = _SENTENCE_END.split(text)
    out = ""
    for p in parts:
        out = f"{out} {p}".strip()
        if len(out) >= at_least:
            break
    return out


def short_answer(sc: Scenario, runs: Sequence[Run]) -> str:
    """The answer in a sentence: the first sentence of the question's answer text when every run
    gave its expected verdict; otherwise why there is no answer."""
    mine = runs_of(sc, runs)
    st = status(sc, runs)
    if st == "differs":
        n = sum(r.as_expected is False for r in mine)
        return (f"Not answered: {n} of {len(mine)} runs differ from the scenario's expected verdicts "
                "(marked ! below); the model or the scenario needs attention first.")
    if st == "incomplete":
        n = sum(r.verdict == INCOMPLETE for r in mine)
        return (f"Not answered: {n} of {len(mine)} runs did not finish (a bounded run never counts "
                "as 'holds').")
    note = answer_text(sc, runs)
    if not note:
        return "Answer: see the verdicts below (this question has no answer text)."
    body = note.removeprefix("Answer:").strip()
    return "Answer: " + first_sentences(body)


def violation_graph(r: Run, max_events: int = DEFAULT_MAX_EVENTS) -> tuple[Graph, list[Any] | None] | None:
    """The execution graph of ``r``'s shortest violation and its display order (None when it
    cannot be rebuilt)."""
    if r.shortest is None:
        return None
    data = json.loads(json.dumps(r.shortest.replay))
    try:
        g = rebuild(r.scenario.build(r.switches), data, max_events)
    except (ReplayError, ModelError):
        return None
    return g, (data.get("violation") or {}).get("order")


# -- reports ------------------------------------------------------------------------------------
HEADER = ("question", "setting", "model", "verdict", "as expected", "executions", "seconds")


def _rows(runs: Sequence[Run]) -> list[list[str]]:
    out = []
    for r in runs:
        ok = r.as_expected
        exp = "-" if ok is None else "yes" if ok else f"NO (expected {r.expected_text})"
        out.append([r.scenario.name, describe_settings(r.settings), r.model, r.verdict_text,
                    exp, str(r.executions), f"{r.seconds:.2f}"])
    return out


def _violation_runs(runs: Sequence[Run]) -> list[tuple[Run, Run | None]]:
    """Violated runs, each with the earlier run of the same scenario and setting whose shortest
    trace is identical (then the trace is not printed again), or ``None``."""
    out: list[tuple[Run, Run | None]] = []
    for r in runs:
        if r.shortest is None:
            continue
        same = next((q for q, _ in out if q.scenario is r.scenario and q.settings == r.settings
                     and q.trace == r.trace and q.shortest is not None
                     and q.shortest.message == r.shortest.message), None)
        out.append((r, same))
    return out


def _violation_title(r: Run) -> str:
    kept = len(r.result.violations)
    return (f"{r.scenario.name} [{describe_settings(r.settings)}] @{r.model}: shortest of {kept} kept "
            f"violation{'s' if kept != 1 else ''} ({r.result.violation_count} found), "
            f"{trace_steps(r.trace)} steps")


def run_mutations(scenarios: Sequence[Scenario], models: Sequence[str], *, jobs: int = 1,
                  progress: Callable[[str], None] | None = None) -> Any:
    """``rmapwalk mutate kvm`` on ``scenarios`` under the review's ``models`` and LKMM: the
    mutation table of the review (a :class:`rmapwalk.mutate.MutationReport`)."""
    from rmapwalk import mutate as mm
    from rmapwalk.kvm.mutation_notes import explain

    ms = list(dict.fromkeys([*models, "lkmm"]))
    return mm.mutate(mm.kvm_targets(ms, [sc.name for sc in scenarios]), "kvm", jobs=jobs, explain=explain,
                     progress=progress)


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|")


def _status_line(sc: Scenario, runs: Sequence[Run]) -> str:
    mine = [r for r in runs if r.scenario is sc]
    inc = sum(r.verdict == INCOMPLETE for r in mine)
    wrong = sum(r.as_expected is False for r in mine)
    held = [describe_settings(st) for st in settings_of(sc)
            if any(r.settings == st for r in mine) and all(r.verdict == HOLDS for r in mine if r.settings == st)]
    if wrong or inc:
        return (f"{wrong} of {len(mine)} runs differ from the expected table, {inc} incomplete; "
                "not answered")
    fixed = "; ".join(f"`{h}`" for h in held) or "none"
    return f"all {len(mine)} runs as expected; holding under every model run: {fixed}"


def markdown_runs_table(runs: Sequence[Run]) -> list[str]:
    """The table of every run (Markdown lines)."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for row in _rows(runs):
        cells = [_md_cell(c) for c in row]
        cells[0] = f"`{cells[0]}`"
        cells[1] = f"`{cells[1]}`"
        out.append("| " + " | ".join(cells) + " |")
    return out


def markdown_questions(scenarios: Sequence[Scenario], runs: Sequence[Run], heading: str) -> list[str]:
    """Per scenario (headed ``heading``): its question, the answer, and the shortest trace of each
    broken setting (Markdown lines)."""
    out: list[str] = []
    for sc in scenarios:
        races = f" ({', '.join(sc.races)})" if sc.races else ""
        out += ["", f"{heading} `{sc.name}`{races}", "", f"**Question.** {sc.question}", "", answer(sc, runs)]
        out += ["", *markdown_matrix(sc, runs)]
        if sc.size:
            out += ["", f"**Size.** {sc.size}"]
        for r, same in _violation_runs(runs):
            if r.scenario is not sc:
                continue
            assert r.shortest is not None
            v = r.shortest
            title = (f"Shortest trace, `{describe_settings(r.settings)}` under {r.model.upper()} "
                     f"({trace_steps(r.trace)} steps, {len(r.result.violations)} kept of "
                     f"{r.result.violation_count} violations)")
            if same is not None:
                out += ["", f"{title}: the same trace as under {same.model.upper()}."]
                continue
            out += ["", title + ":", "", "```",
                    text.violation_block(v.kind, v.message, r.trace, v.thread, v.where, False), "```"]
    return out


def markdown_matrix(sc: Scenario, runs: Sequence[Run]) -> list[str]:
    """The question's settings x models table (a column per model it was run under; a cell
    that differs from the expected table is marked ``!``)."""
    models = planned_models([(sc, r.settings, r.model) for r in runs_of(sc, runs)])
    out = ["| setting | " + " | ".join(m.upper() for m in models) + " |",
           "|---|" + "---|" * len(models)]
    for settings, row in matrix(sc, runs, models):
        cells = [cell_text(r) + (" !" if r is not None and r.as_expected is False else "") for r in row]
        out.append(f"| `{describe_settings(settings)}` | " + " | ".join(cells) + " |")
    props = properties_of(sc, runs)
    named = [p for p in props if short_property(p) != p]
    if named:
        out += ["", "; ".join(f"{short_property(p)}: {p}" for p in named) + "."]
    return out


def markdown_report(runs: Sequence[Run], scenarios: Sequence[Scenario], total_seconds: float,
                    models: Sequence[str] | None = None, mutations: Any = None) -> str:
    """docs/review.md: the 2013 questions, then the section "2025: lockless aging"
    (:mod:`rmapwalk.review_2025`) when its scenarios were run, then the mutation table.
    ``models``: the models asked for (``None``: each scenario's own)."""
    new = _section_2025().in_section
    old_runs = [r for r in runs if not new(r.scenario)]
    old_scs = [sc for sc in scenarios if not new(sc)]
    new_runs = [r for r in runs if new(r.scenario)]
    new_scs = [sc for sc in scenarios if new(sc)]
    if models is None or new_scs:
        models = [m for m in MODEL_ORDER if any(r.model == m for r in old_runs)]
    seconds = max(total_seconds - sum(r.seconds for r in new_runs), 0.0)
    # (the note on LKMM counts covers every run of the page, the 2025 section's included)
    note = lb_note(runs)
    body = _markdown_2013(old_runs, old_scs, seconds, models, note) if old_scs else (
        f"# The reviews, answered by rmapwalk\n\nGenerated by `{DOCS_COMMAND}`.\n"
        + (f"\n{note}\n" if note else ""))
    if new_scs:
        body += "\n" + _section_2025().markdown_section(new_runs, new_scs)
    if mutations is not None:
        body += markdown_mutations(mutations)
    return body


def markdown_mutations(mutations: Any) -> str:
    """The mutation table's part of docs/review.md (what :func:`markdown_report` appends)."""
    from rmapwalk import mutate as mm

    return "\n" + mm.markdown_report(mutations).rstrip("\n") + "\n"


#: said of a review whose LKMM runs searched load buffering optimally (Markdown: the text and
#: HTML reports render its code spans their own ways)
LB_OPTIMAL_NOTE = ("The LKMM runs searched load buffering optimally (`--lb-search optimal`): that search can "
                   "miss load-buffering executions, so their counts are lower bounds; the default, "
                   "`--lb-search complete`, misses none (docs/design.md).")


def lb_note(runs: Sequence[Run]) -> str | None:
    """:data:`LB_OPTIMAL_NOTE` if some run searched load buffering optimally, else None."""
    return LB_OPTIMAL_NOTE if any(r.result.lb_search == "optimal" for r in runs) else None


def _markdown_2013(runs: Sequence[Run], scenarios: Sequence[Scenario], total_seconds: float,
                   models: Sequence[str], note: str | None = None) -> str:
    out = [
        "# The 2013 review, answered by rmapwalk",
        "",
        f"Generated by `{DOCS_COMMAND}` (do not edit by hand; regenerate after changing the model or "
        "the scenarios).  Every run is an exhaustive exploration: \"holds\" means no execution of the "
        "scenario under that memory model violates an invariant; a bounded run would show as "
        "INCOMPLETE.  Besides each scenario's own invariants, I3 (rmap complete and exact at every "
        "release of mmu_lock) is checked in every run, and I11 (no writable large spte when a "
        "write-protection of a logged slot returns) in every run but large-spte's.  Each setting "
        "is given over the scenario's own "
        "base switches "
        "(`rmapwalk check kvm --scenario NAME --set KEY=VALUE` reproduces a row).  "
        f"Models: {_models_text(models)}.",
        "",
        f"{len(runs)} runs, {sum(r.executions for r in runs)} executions, {total_seconds:.1f} s in all.",
        "",
        *([note, ""] if note else []),
        "## Summary",
        "",
    ]
    for sc in scenarios:
        out.append(f"* `{sc.name}`: {_status_line(sc, runs)}")
    out += [
        "",
        "## All runs",
        "",
        *markdown_runs_table(runs),
    ]
    out.append("")
    out.append("\"as expected\" compares the verdict and the properties that fired with the scenario's "
               "expected-verdict table.")
    out += markdown_questions(scenarios, runs, "##")
    return "\n".join(out) + "\n"


__all__ = [
    "ANSWERS",
    "DEFAULT_MODELS",
    "DOCS_COMMAND",
    "MODEL_ORDER",
    "Run",
    "answer",
    "answer_text",
    "cell_text",
    "columns",
    "counterexamples",
    "markdown_mutations",
    "markdown_report",
    "matrix",
    "plan",
    "planned_models",
    "reproduce_args",
    "reproduce_command",
    "run_mutations",
    "lb_note",
    "run_one",
    "run_review",
    "scenario_models",
    "select",
    "settings_of",
    "short_answer",
    "shortest_violation",
    "status",
    "violated_runs",
    "violation_graph",
]
