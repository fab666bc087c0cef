"""``rmapwalk review``: answer the questions of the 2013 review by running the KVM scenarios.

For each scenario (one review question) every setting of its expected-verdict table -- the
proposal and its broken alternatives -- is explored exhaustively under each memory model asked
for.  The report is a table (question, setting, model, verdict, expected, executions, seconds),
for each violated run the shortest trace kept (fewest steps), and per question a paragraph that
states what the runs show.  The paragraph is derived from the verdicts actually obtained: where
they differ from the scenario's expected table the report says so instead of giving the answer.

The scenarios of the 2025 series (``Scenario.review == "2025"``) form the section "2025: lockless
aging" after the 2013 questions (:mod:`rmapwalk.review_2025`); without ``--models`` every scenario
runs under the models of its own expected table (LKMM too for the 2025 ones).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine.explore import Explorer, Options
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
DOCS_COMMAND = "rmapwalk review --markdown > docs/review.md"


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
    """Steps of a rendered trace (two header lines, then one line per step)."""
    return max(len(trace.split("\n")) - 2, 0)


def shortest_violation(prog: Program, result: Result) -> tuple[Violation, str] | None:
    """The kept violation with the fewest trace steps, with its trace (ties: the first found)."""
    best: tuple[int, Violation, str] | None = None
    for v in result.violations:
        tr = render_trace(prog, v, result.model)
        n = trace_steps(tr)
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
            timeout: float | None = None) -> Run:
    sw = sc.switches(**dict(settings))
    prog = sc.build(sw)
    t0 = time.perf_counter()
    result = Explorer(prog, model, Options(max_executions=max_executions, timeout=timeout,
                                           keep_violations=KEEP_VIOLATIONS)).run()
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


def scenario_models(sc: Scenario, settings: Mapping[str, Any] | None = None) -> list[str]:
    """The memory models named in ``sc``'s expected table, for ``settings`` (every setting when
    ``None``): what the review runs it under when no models are given.  SC, TSO and PSO for the
    2013 questions, LKMM (and LKMM-alpha where asked) too for the 2025 ones; a row the table
    leaves out (a model out of reach for that setting) is not run."""
    named = {e.model for e in sc.expected if settings is None or dict(e.settings) == dict(settings)}
    return [m for m in MODEL_ORDER if m in named] + sorted(named - set(MODEL_ORDER)) or list(DEFAULT_MODELS)


def run_review(scenarios: Sequence[Scenario], models: Sequence[str] | None = None, *,
               max_executions: int | None = None, timeout: float | None = None,
               progress: Callable[[Run], None] | None = None) -> list[Run]:
    """Run every setting of each scenario under ``models``, or, when ``models`` is ``None``,
    under the models of the scenario's own expected table (:func:`scenario_models`)."""
    runs = []
    for sc in scenarios:
        for settings in settings_of(sc):
            for m in (models if models is not None else scenario_models(sc, settings)):
                r = run_one(sc, settings, m, max_executions=max_executions, timeout=timeout)
                if progress is not None:
                    progress(r)
                runs.append(r)
    return runs


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
        note = ANSWERS.get(sc.name) or _section_2025().ANSWERS.get(sc.name)
        if note:
            text_ += " " + note
    return text_


#: the answer to each question, printed only when every run of the scenario gave its expected
#: verdict (so the text never claims more than the runs show)
ANSWERS: dict[str, str] = {
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
        "With I8 on (as in every scenario run) the run stops earlier, at that cmpxchg on an indirect "
        "page (I8 fast path discipline); with I8 off the same interleaving ends in the lost write (I1, "
        "test_fast_pf_indirect_without_i8_loses_the_write). Forbidding the fast path there holds; "
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
        "Answer: yes, Gleb's concern is real. With spt from a type-stable cache, a table can be "
        "freed and reused at another level during the walk, and a leaf check using the level learnt "
        "before the reuse clears W on what is now a non-leaf entry (I7); deciding leaf-ness from the "
        "spte value (v2 'check last spte with unawareness of mapping level') holds. With the 3.11 "
        "immediate free the walk is a use-after-free (I4) whatever the leaf check; with call_rcu (v1) "
        "the table cannot be reused during the walk and the level check suffices, so the by-value "
        "check is the price of v2's type-stable spt.",
    "remove-move":
        "Answer: the walk order alone decides it here. A walker reading the slots of a desc in "
        "ascending order misses the entry a concurrent removal moves down, with either pte-list "
        "algorithm (I5; the missed spte stays writable and a later write is lost); the bottom-up "
        "walk holds with both. In this one-desc scenario the head-refill "
        "redesign is therefore not what makes the walk complete; the bottom-up order is (the head "
        "refill matters when the moved entry comes from another desc, which this scenario does not "
        "build).",
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


def _section_2025() -> Any:
    """``rmapwalk.review_2025``: the section "2025: lockless aging" (its own text and layout)."""
    from rmapwalk import review_2025

    return review_2025


def _split(runs: Sequence[Run], scenarios: Sequence[Scenario]) -> tuple[list[Run], list[Scenario],
                                                                          list[Run], list[Scenario]]:
    """(2013 runs, 2013 scenarios, 2025 runs, 2025 scenarios)."""
    new = _section_2025().in_section
    return ([r for r in runs if not new(r.scenario)], [sc for sc in scenarios if not new(sc)],
            [r for r in runs if new(r.scenario)], [sc for sc in scenarios if new(sc)])


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


def text_report(runs: Sequence[Run], scenarios: Sequence[Scenario], total_seconds: float,
                full_trace: bool = False) -> str:
    runs, scenarios, runs_2025, scenarios_2025 = _split(runs, scenarios)
    if not scenarios:
        return _section_2025().text_section(runs_2025, scenarios_2025, full_trace)
    body = _text_report_2013(runs, scenarios, max(total_seconds - sum(r.seconds for r in runs_2025), 0.0),
                             full_trace)
    if scenarios_2025:
        body += "\n\n" + _section_2025().text_section(runs_2025, scenarios_2025, full_trace)
    return body


def _text_report_2013(runs: Sequence[Run], scenarios: Sequence[Scenario], total_seconds: float,
                      full_trace: bool = False) -> str:
    rows = _rows(runs)
    widths = [max(len(x[i]) for x in rows + [list(HEADER)]) for i in range(len(HEADER))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = ["rmapwalk review: the questions of the 2013 lockless write-protect review", ""]
    out += [line(HEADER), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out.append("")
    out.append(f"{len(runs)} runs, {sum(r.executions for r in runs)} executions, {total_seconds:.1f} s")
    for sc in scenarios:
        out += ["", f"== {sc.name}: {sc.question}", answer(sc, runs)]
    for r, same in _violation_runs(runs):
        assert r.shortest is not None
        v = r.shortest
        out += ["", f"== {_violation_title(r)}"]
        if same is not None:
            out.append(f"(the same trace as under {same.model.upper()} above)")
        else:
            out.append(text.violation_block(v.kind, v.message, r.trace, v.thread, v.where, full_trace))
    return "\n".join(out)


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


def markdown_report(runs: Sequence[Run], scenarios: Sequence[Scenario], total_seconds: float,
                    models: Sequence[str] | None = None) -> str:
    """docs/review.md: the 2013 questions, then the section "2025: lockless aging"
    (``rmapwalk.review_2025``) when its scenarios were run.  ``models``: those the runs were asked
    for (``None``: each scenario's own)."""
    runs, scenarios, runs_2025, scenarios_2025 = _split(runs, scenarios)
    if models is None:
        models = list(dict.fromkeys(r.model for r in runs))
    seconds_2013 = max(total_seconds - sum(r.seconds for r in runs_2025), 0.0)
    body = _markdown_report_2013(runs, scenarios, seconds_2013, models) if scenarios else (
        f"# The reviews, answered by rmapwalk\n\nGenerated by `{DOCS_COMMAND}`.\n")
    if scenarios_2025:
        body += "\n" + _section_2025().markdown_section(runs_2025, scenarios_2025)
    return body


def _markdown_report_2013(runs: Sequence[Run], scenarios: Sequence[Scenario], total_seconds: float,
                          models: Sequence[str]) -> str:
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
        "## Summary",
        "",
    ]
    for sc in scenarios:
        out.append(f"* `{sc.name}`: {_status_line(sc, runs)}")
    out += [
        "",
        "## All runs",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for row in _rows(runs):
        cells = [_md_cell(c) for c in row]
        cells[0] = f"`{cells[0]}`"
        cells[1] = f"`{cells[1]}`"
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("\"as expected\" compares the verdict and the properties that fired with the scenario's "
               "expected-verdict table.")
    for sc in scenarios:
        races = f" ({', '.join(sc.races)})" if sc.races else ""
        out += ["", f"## `{sc.name}`{races}", "", f"**Question.** {sc.question}", "",
                answer(sc, runs)]
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
    return "\n".join(out) + "\n"


__all__ = [
    "ANSWERS",
    "DEFAULT_MODELS",
    "MODEL_ORDER",
    "scenario_models",
    "DOCS_COMMAND",
    "Run",
    "answer",
    "markdown_report",
    "run_one",
    "run_review",
    "select",
    "settings_of",
    "shortest_violation",
    "text_report",
]
