"""``rmapwalk mutate``: is this barrier needed, and under which memory model?

For a model file, or for the KVM scenarios, every ordering and synchronisation *site* the
exploration reaches -- each barrier, each acquire/release/once access, each RMW, each lock
acquisition (with the unlock that ends it), each RCU read-side section, each grace period and
each check the model declares with ``mutation_point`` -- is weakened, one at a time, and the
runs that held before are run again (:mod:`rmapwalk.engine.mutation` says how a site is
weakened).  Per mutant the answer is

* **killed**: under each memory model, the first run (scenario or program) that reports a
  violation, with its property and the shortest trace among the first few violations found;
* **survives**: every run that reaches the site still holds, exhaustively;
* **not run**: the weakening cannot change any verdict here (a plain access differs from a
  marked one only to the data-race check; under SC and TSO some orderings are always kept), or
  no run that holds unmutated reaches the site;
* **unknown**: some run stopped at its bound (or the model raised) and none was violated.

How it runs:

1. every target (program x memory model) is explored once unmutated while
   :func:`~rmapwalk.engine.mutation.recording` collects the sites it reaches; only targets that
   hold are used (a target violated unmutated stops at its first violation);
2. each mutant is tried, model by model, on the targets that hold and reach its site, cheapest
   first (fewest executions unmutated; a model starts with the program that killed the mutant
   under the previous model), each run bounded by ``BOUND_FACTOR`` times its unmutated
   executions (plus ``BOUND_MIN``); under a model the search stops at the first kill.  Models
   that cannot tell the weakening apart are skipped (:func:`equivalent_under`), and the models
   of :data:`CHAIN` go from the weakest: a program the mutant holds on under PSO holds under TSO
   and SC, which are then not run on it.

Targets are plain data (a :class:`~rmapwalk.engine.workunit.ProgramSource` and a model), and so
are mutations, so both steps run in worker processes (``jobs``) exactly as here.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine import mutation as mut
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.engine.mutation import Mutation, Recording, Site, SiteKey
from rmapwalk.engine.program import Program
from rmapwalk.engine.result import HOLDS, INCOMPLETE, VIOLATED, Result
from rmapwalk.engine.runtime import ModelError
from rmapwalk.engine.workunit import ProgramSource

#: memory models of ``mutate`` by default: the review's, and LKMM
DEFAULT_MODELS = ("sc", "tso", "pso", "lkmm")
#: violations a killing run keeps before it stops; the shortest of their traces is reported
KEEP = 8
#: a mutant run stops (incomplete) after BOUND_FACTOR x the target's unmutated executions + BOUND_MIN
BOUND_FACTOR = 20
BOUND_MIN = 2000
#: an unmutated LKMM (or LKMM-alpha) run that explores more than this many events (over all the
#: graphs it builds, a deterministic measure of its work) is not used (it is reported as
#: incomplete): LKMM explores the KVM scenarios two orders of magnitude slower than PSO.  A count,
#: not seconds, so that the same input gives the same table on any machine and under any load
BASELINE_BUDGET = 30_000
#: the other models' budget is this many times LKMM's (their runs are that much cheaper per event)
NON_LKMM_BUDGET_FACTOR = 100
#: an optional wall-clock bound on unmutated runs (``--baseline-timeout``; not reproducible)
BASELINE_TIMEOUT: float | None = None
DEFAULT_MAX_EVENTS = 1000

KILLED = "killed"
SURVIVES = "survives"
NOT_RUN = "not run"
UNKNOWN = "unknown"
MODEL_ERROR = "model error"


# -- targets and single runs ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Target:
    """One run the mutants are tried on: a program, built from ``source`` (here or in a worker),
    under memory model ``model``.  ``name`` names the program (for KVM: scenario and setting)."""

    name: str
    model: str
    source: ProgramSource
    #: KVM: the scenario, its setting (over its base switches) and every switch value
    scenario: str | None = None
    settings: tuple[tuple[str, Any], ...] = ()
    switches: tuple[tuple[str, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "model": self.model}
        if self.scenario is not None:
            d["scenario"] = self.scenario
            d["settings"] = dict(self.settings)
        return d


@dataclass
class RunResult:
    """One exploration of a target, unmutated (with the sites it reached) or mutated."""

    target: Target
    verdict: str
    executions: int
    seconds: float
    properties: list[str] = field(default_factory=list)
    #: the shortest kept violation: kind, message, thread, where, trace, replay (engine data)
    violation: dict[str, Any] | None = None
    incomplete_reason: str | None = None
    #: the program checks data races (only then is a plain access distinguishable)
    races: bool = False
    #: unmutated runs: what ``recording`` collected (as JSON)
    sites: dict[str, Any] | None = None
    #: not run: holds because the mutant held on the same program under this weaker model
    implied: str | None = None

    def as_json(self, with_trace: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {**self.target.as_json(), "verdict": self.verdict, "executions": self.executions,
                             "seconds": round(self.seconds, 3), "properties": self.properties}
        if self.incomplete_reason:
            d["incomplete_reason"] = self.incomplete_reason
        if self.implied:
            d["implied_by"] = self.implied
        if self.violation is not None:
            v = self.violation
            d["violation"] = {k: v.get(k) for k in ("kind", "message", "thread", "where")}
            if with_trace:
                d["violation"]["trace"] = v.get("trace", "")
                d["violation"]["steps"] = v.get("steps")
        return d


_PROGRAMS: dict[tuple[Any, ...], Program] = {}


def _program(t: Target) -> Program:
    """The target's program: a model file's is imported once per process (exploring does not
    change a program); a factory's (a KVM scenario) is built afresh."""
    src = t.source
    if src.path is None:
        return src.load()
    key = (src.path, src.name, src.symbol, src.sha256)
    prog = _PROGRAMS.get(key)
    if prog is None:
        prog = _PROGRAMS[key] = src.load()
    return prog


def _reports_races(prog: Program) -> bool:
    from rmapwalk.kernel.races import check_data_races

    return check_data_races in prog.checks


def run_target(t: Target, mutation: Mutation | None = None, *, record: bool = False, keep: int = KEEP,
               max_executions: int | None = None, max_events: int = DEFAULT_MAX_EVENTS,
               timeout: float | None = None, budget: int | None = None) -> RunResult:
    """Explore ``t`` with ``mutation`` applied (``None``: unmutated).  Stops after ``keep``
    violations (then the shortest trace among them is rendered), at ``max_executions``
    (incomplete), once it has explored more than ``budget`` events (incomplete; checked after
    each execution, so the point is the same on every run) or after ``timeout`` seconds
    (incomplete).  ``record``: collect the sites."""
    prog = _program(t)
    races = _reports_races(prog)
    t0 = time.perf_counter()
    with mut.applied(mutation), (mut.recording() if record else nullcontext()) as rec:
        try:
            ex = Explorer(prog, t.model, Options(max_executions=max_executions, max_events=max_events,
                                                 keep_violations=keep))
            deadline = t0 + timeout if timeout else 0.0
            res = ex.result

            stats = ex.stats

            def pause() -> bool:
                return (res.violation_count >= keep or bool(budget is not None and stats.events > budget)
                        or bool(deadline and time.perf_counter() > deadline))

            done = ex.run_slice(pause)
        except ModelError as e:
            src = f" at {e.src}" if e.src is not None else ""
            return RunResult(t, MODEL_ERROR, 0, time.perf_counter() - t0, races=races,
                             incomplete_reason=f"the model raised: {e}{src}",
                             sites=rec.as_json() if isinstance(rec, Recording) else None)
        if not done and res.violation_count < keep:
            res.incomplete_reason = (f"stopped after {budget:,} events" if budget is not None and stats.events > budget
                                     else f"stopped after {timeout} s")
        verdict = _verdict(ex.result, ex.stats.bounded)
        out = RunResult(t, verdict, ex.stats.executions, time.perf_counter() - t0,
                        properties=sorted(res.property_counts), incomplete_reason=res.incomplete_reason,
                        races=races, sites=rec.as_json() if isinstance(rec, Recording) else None)
        if verdict == VIOLATED:
            out.violation = _shortest(prog, res, render=mutation is not None)
    return out


def _verdict(res: Result, bounded: int) -> str:
    if res.violation_count:
        return VIOLATED
    if res.incomplete_reason or bounded:
        if not res.incomplete_reason:
            res.incomplete_reason = "a thread exceeded the per-thread event bound"
        return INCOMPLETE
    return HOLDS


def _shortest(prog: Program, res: Result, render: bool) -> dict[str, Any]:
    """The kept violation with the fewest trace steps (rendered now: a mutant's trace can only
    be rebuilt with its mutation applied)."""
    from rmapwalk.review import render_trace, trace_steps

    best: tuple[int, Any, str] | None = None
    for v in res.violations if render else res.violations[:1]:
        tr = render_trace(prog, v, res.model) if render else ""
        n = trace_steps(tr)
        if best is None or n < best[0]:
            best = (n, v, tr)
    assert best is not None
    n, v, tr = best
    return {"kind": v.kind, "message": v.message, "thread": v.thread, "where": v.where, "trace": tr,
            "steps": n, "replay": json.loads(json.dumps(v.replay))}


# -- equivalent mutants: weakenings a model (or a program) cannot tell apart ---------------------
#: the fence kinds TSO ignores (only a full fence drains its store buffer)
_TSO_IGNORED_FENCES = frozenset({"wmb", "rmb", "acquire", "release", "compiler"})


#: why a mutant is not run (under a model, or at all): short text -> explanation
EQ_SC = "equivalent under SC"
EQ_TSO = "equivalent under TSO"
COMPILER = "compiler barrier"
NO_RACE_CHECK = "no race check"
UNREACHED = "no holding run reaches it"
UNFINISHED = "unmutated, they did not finish"
LEGEND: dict[str, str] = {
    EQ_SC: "SC orders every access whatever its mode and has no use for fences, so removing a barrier, "
           "weakening an acquire/release access to ONCE or an RMW to relaxed changes no SC run",
    EQ_TSO: "TSO keeps every order but store->load, which only smp_mb() and RMWs (every RMW, whatever its "
            "mode: a locked instruction) restore; so removing smp_wmb/smp_rmb, weakening an acquire/release "
            "access to ONCE or an RMW to relaxed changes no TSO run",
    COMPILER: "barrier() orders nothing under any memory model here (compiler reordering is not modelled)",
    "by inclusion": "every SC execution is a TSO one, every TSO one a PSO one, every PSO one a weak one: a "
                    "program the mutant holds on under a weaker of these models holds under the stronger "
                    "ones, so it is not run there",
    NO_RACE_CHECK: "a plain access differs from a marked one only to the data-race check "
                   "(report_data_races), which no run reaching the site turns on",
    UNREACHED: "the site is reached only by runs that are violated (or incomplete) unmutated",
    UNFINISHED: "a survivor is not tried on the runs that reach its site but stopped at their bound "
                "unmutated (under LKMM, the event budget of --baseline-budget): it may be killed there, "
                "so under those models 'survives' speaks only for the runs tried",
}


def equivalent_under(site: Site, weakening: str, model: str) -> str | None:
    """Why ``weakening`` of ``site`` cannot change any run under ``model`` (a key of
    :data:`LEGEND`; then it is not run there), or ``None``.  From the models' definitions
    (``engine/models.py``)."""
    ordering = (site.kind == mut.BARRIER and weakening == mut.REMOVED) or weakening in (mut.TO_ONCE, mut.TO_RELAXED)
    if model == "sc" and ordering:
        return EQ_SC
    if model == "tso" and (weakening in (mut.TO_ONCE, mut.TO_RELAXED)
                           or (site.kind == mut.BARRIER and site.mode in _TSO_IGNORED_FENCES)):
        return EQ_TSO
    return None


def equivalent(site: Site, weakening: str) -> str | None:
    """Why ``weakening`` of ``site`` cannot change any run under any model (a key of
    :data:`LEGEND`), or ``None``."""
    if site.kind == mut.BARRIER and site.mode == "compiler":
        return COMPILER
    return None


# -- the mutants ---------------------------------------------------------------------------------
@dataclass
class MutantReport:
    """What became of one mutant."""

    mutation: Mutation
    verdict: str
    runs: list[RunResult] = field(default_factory=list)
    #: (model, why it was not run under it)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: not run: why; survives: the explanation given for it (``explain``), if any
    reason: str = ""
    seconds: float = 0.0
    #: the targets that reach the site but were not tried: their unmutated run did not finish
    #: (over its budget), so a survivor is qualified by them (it may be killed there)
    untried: list[Target] = field(default_factory=list)

    @property
    def killers(self) -> list[RunResult]:
        """Per model, the run that killed the mutant: a violation, else (no run of that model
        violated anything) the first run where the mutated model raised: it reached a state the
        unmutated one never does and its code does not handle."""
        out: dict[str, RunResult] = {}
        for r in self.runs:
            if r.verdict == VIOLATED or (r.verdict == MODEL_ERROR and r.target.model not in out):
                if r.target.model not in out or out[r.target.model].verdict != VIOLATED:
                    out[r.target.model] = r
        return [out[m] for m in self._models() if m in out]

    def _models(self) -> list[str]:
        order = {m: i for i, m in enumerate(DEFAULT_MODELS)}
        ms = list(dict.fromkeys(r.target.model for r in self.runs))
        return sorted(ms, key=lambda m: (order.get(m, len(order)), ms.index(m)))

    @property
    def killing_models(self) -> list[str]:
        return [r.target.model for r in self.killers]

    def shortest(self) -> RunResult | None:
        ks = [r for r in self.killers if r.violation is not None]
        return min(ks, key=lambda r: r.violation.get("steps") or 0 if r.violation else 0) if ks else None


@dataclass
class SiteReport:
    site: Site
    #: (file, line, function) of the calls that ended its critical section / RCU section
    closers: list[tuple[str, int, str]]
    #: the targets (holding unmutated) that reach it
    reached_by: list[Target]
    mutants: list[MutantReport] = field(default_factory=list)
    #: the targets that reach it whose unmutated run did not finish (not used)
    unfinished: list[Target] = field(default_factory=list)


@dataclass
class MutationReport:
    subject: str
    models: list[str]
    baselines: list[RunResult]
    sites: list[SiteReport]
    seconds: float

    def mutants(self) -> list[tuple[SiteReport, MutantReport]]:
        return [(s, m) for s in self.sites for m in s.mutants]

    def counts(self) -> dict[str, int]:
        out = {KILLED: 0, SURVIVES: 0, NOT_RUN: 0, UNKNOWN: 0}
        for _, m in self.mutants():
            out[m.verdict] = out.get(m.verdict, 0) + 1
        return out


# -- running: in this process or in workers ------------------------------------------------------
Plan = list[tuple[str, list[tuple[Target, int]]]]
"""Per model, the targets to try a mutant on, each with its executions unmutated."""


def _baseline_task(t: Target, max_events: int, timeout: float | None, budget: int | None) -> RunResult:
    if budget is not None and not t.model.startswith("lkmm"):
        budget *= NON_LKMM_BUDGET_FACTOR
    return run_target(t, None, record=True, keep=1, max_events=max_events, timeout=timeout, budget=budget)


#: memory models ordered by inclusion: every execution of one is an execution of the next, and
#: every property checked is judged on the execution (the happens-before of the use-after-free
#: and data-race checks only shrinks), so a program that holds under one holds under those before
CHAIN = ("sc", "tso", "pso", "weak")


def _weaker_first(plan: Plan) -> Plan:
    """The plan with the models of :data:`CHAIN` from the weakest to the strongest, then the others."""
    chain = sorted((p for p in plan if p[0] in CHAIN), key=lambda p: -CHAIN.index(p[0]))
    return chain + [p for p in plan if p[0] not in CHAIN]


def _mutant_task(mutation: Mutation, plan: Plan, keep: int,
                 bound_factor: int, max_events: int, timeout: float | None) -> list[RunResult]:
    """Try ``mutation`` model by model (``plan``: per model, the targets reaching its site with
    their unmutated executions, cheapest first).  Under each model the search stops at the first
    violation (a model error counts only if no run violates anything); the weakest models of
    :data:`CHAIN` go first, and a program the mutant held on there holds under the stronger ones
    (recorded, not run); a model starts with the program that killed the mutant before."""
    runs: list[RunResult] = []
    killer: str | None = None
    held: dict[str, str] = {}  # program -> the weakest chain model it held under, mutated
    for model, targets in _weaker_first(plan):
        order = sorted(targets, key=lambda te: te[0].name != killer) if killer else targets
        for t, execs in order:
            weaker = held.get(t.name)
            if model in CHAIN and weaker is not None:
                runs.append(RunResult(t, HOLDS, 0, 0.0, implied=weaker))
                continue
            r = run_target(t, mutation, keep=keep, max_executions=bound_factor * execs + BOUND_MIN,
                           max_events=max_events, timeout=timeout)
            runs.append(r)
            if r.verdict == HOLDS and model in CHAIN:
                held.setdefault(t.name, model)
            if r.verdict == VIOLATED:
                killer = t.name
                break
    return runs


def _init_worker(parent: int) -> None:
    import signal

    from rmapwalk.engine.parallel import _die_with

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    _die_with(parent)  # a killed coordinator leaves no worker behind


class _Pool:
    """Runs tasks here (``jobs`` 1) or in ``jobs`` worker processes."""

    def __init__(self, jobs: int) -> None:
        self.ex: cf.ProcessPoolExecutor | None = None
        if jobs > 1:
            method = "fork" if threading.active_count() == 1 and "fork" in mp.get_all_start_methods() else "spawn"
            self.ex = cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context(method), initializer=_init_worker,
                                             initargs=(os.getpid(),))

    def map(self, fn: Callable[..., Any], argss: Sequence[tuple[Any, ...]],
            done: Callable[[int, Any], None] | None = None) -> list[Any]:
        out: list[Any] = [None] * len(argss)
        if self.ex is None:
            for i, args in enumerate(argss):
                out[i] = fn(*args)
                if done is not None:
                    done(i, out[i])
            return out
        futs = {self.ex.submit(fn, *args): i for i, args in enumerate(argss)}
        for fut in cf.as_completed(futs):
            i = futs[fut]
            out[i] = fut.result()
            if done is not None:
                done(i, out[i])
        return out

    def close(self) -> None:
        if self.ex is not None:
            self.ex.shutdown(wait=True, cancel_futures=True)


def mutate(targets: Sequence[Target], subject: str, *, jobs: int = 1, keep: int = KEEP,
           bound_factor: int = BOUND_FACTOR, max_events: int = DEFAULT_MAX_EVENTS, timeout: float | None = None,
           baseline_timeout: float | None = BASELINE_TIMEOUT,
           baseline_budget: int | None = BASELINE_BUDGET,
           sites: Callable[[Site], bool] | None = None,
           explain: Callable[[Site, str], str | None] | None = None,
           progress: Callable[[str], None] | None = None) -> MutationReport:
    """Run the targets unmutated (collecting sites), then every mutant of every site reached by a
    target that holds.  ``sites``: which sites to mutate (default all); ``explain``: the
    explanation of a surviving mutant (a project's notes).  ``timeout`` bounds each mutated run,
    ``baseline_budget`` (events explored) and ``baseline_timeout`` (seconds) each unmutated one."""
    t0 = time.perf_counter()
    models = list(dict.fromkeys(t.model for t in targets))
    pool = _Pool(jobs)
    try:
        def base_done(i: int, r: RunResult) -> None:
            if progress is not None:
                progress(f"baseline {r.target.name} @{r.target.model}: {r.verdict} "
                         f"({r.executions} executions, {r.seconds:.2f} s)")

        baselines: list[RunResult] = pool.map(
            _baseline_task, [(t, max_events, baseline_timeout, baseline_budget) for t in targets], base_done)
        site_reports = _site_reports(baselines, sites)
        tasks: list[tuple[MutantReport, Plan]] = []
        for sr in site_reports:
            for w in sr.site.weakenings():
                mr = MutantReport(Mutation(sr.site, w), NOT_RUN)
                sr.mutants.append(mr)
                plan = _plan(sr, mr, baselines)
                if plan:
                    tasks.append((mr, plan))
        if progress is not None:
            progress(f"{sum(len(s.mutants) for s in site_reports)} mutants of {len(site_reports)} sites; "
                     f"{len(tasks)} to run")

        def mutant_done(i: int, runs: list[RunResult]) -> None:
            mr = tasks[i][0]
            mr.runs = runs
            mr.seconds = sum(r.seconds for r in runs)
            _conclude(mr)
            if progress is not None:
                progress(f"mutant {describe_site(mr.mutation.site)} {weakening_text(mr.mutation)}: "
                         f"{verdict_text(mr)} ({len(runs)} runs, {mr.seconds:.2f} s)")

        pool.map(_mutant_task, [(mr.mutation, plan, keep, bound_factor, max_events, timeout) for mr, plan in tasks],
                 mutant_done)
    finally:
        pool.close()
    for sr in site_reports:
        for mr in sr.mutants:
            if mr.verdict == SURVIVES and explain is not None:
                mr.reason = explain(sr.site, mr.mutation.weakening) or ""
    return MutationReport(subject, models, baselines, site_reports, time.perf_counter() - t0)


def _site_reports(baselines: Sequence[RunResult], wanted: Callable[[Site], bool] | None) -> list[SiteReport]:
    found: dict[SiteKey, SiteReport] = {}
    for b in baselines:
        rec = Recording.from_json(b.sites or {"sites": [], "closers": []})
        for key, site in rec.sites.items():
            sr = found.get(key)
            if sr is None:
                if wanted is not None and not wanted(site):
                    continue
                sr = found[key] = SiteReport(site, [], [])
            if b.verdict == HOLDS:
                sr.reached_by.append(b.target)
            elif b.verdict == INCOMPLETE:
                sr.unfinished.append(b.target)
            for c in sorted(rec.closers.get(key, ())):
                if c not in sr.closers:
                    sr.closers.append(c)
    return sorted(found.values(), key=lambda s: (s.site.file, s.site.line, s.site.primitive))


def _plan(sr: SiteReport, mr: MutantReport, baselines: Sequence[RunResult]) -> Plan:
    """Per model, the targets to try ``mr`` on (cheapest first), recording in ``mr`` why the
    others are not run; an empty plan leaves ``mr`` not run, with its reason."""
    site, w = mr.mutation.site, mr.mutation.weakening
    why = equivalent(site, w)
    if why is not None:
        mr.reason = why
        return []
    execs = {(b.target.name, b.target.model): b.executions for b in baselines}
    races = {(b.target.name, b.target.model): b.races for b in baselines}
    reach = list(sr.reached_by)
    if w == mut.TO_PLAIN:
        reach = [t for t in reach if races[(t.name, t.model)]]
        if not reach:
            mr.reason = NO_RACE_CHECK
            return []
    if not reach:
        mr.reason = UNREACHED
        return []
    mr.untried = [t for t in sr.unfinished if equivalent_under(site, w, t.model) is None
                  and (w != mut.TO_PLAIN or races.get((t.name, t.model), False))]
    plan: list[tuple[str, list[tuple[Target, int]]]] = []
    models = list(dict.fromkeys(b.target.model for b in baselines))
    for m in models:
        ts = [t for t in reach if t.model == m]
        if not ts:
            continue
        eq = equivalent_under(site, w, m)
        if eq is not None:
            mr.skipped.append((m, eq))
            continue
        order = {id(b.target): i for i, b in enumerate(baselines)}
        ts.sort(key=lambda t: (execs[(t.name, t.model)], order.get(id(t), 0)))
        plan.append((m, [(t, execs[(t.name, t.model)]) for t in ts]))
    if not plan:
        mr.reason = ", ".join(dict.fromkeys(why for _, why in mr.skipped))
    return plan


def _conclude(mr: MutantReport) -> None:
    if mr.killers:
        mr.verdict = KILLED
    elif any(r.verdict == INCOMPLETE for r in mr.runs):
        mr.verdict = UNKNOWN
        bad = next(r for r in mr.runs if r.verdict == INCOMPLETE)
        mr.reason = f"{bad.target.name} @{bad.target.model}: {bad.incomplete_reason}"
    elif mr.runs:
        mr.verdict = SURVIVES
    else:
        mr.verdict = NOT_RUN


# -- the targets of a model file and of the KVM scenarios ------------------------------------------
def file_targets(path: str, models: Sequence[str], programs: Sequence[str] = ()) -> list[Target]:
    """Every program of the model file ``path`` (or those named) under every model."""
    from rmapwalk.loader import find_programs, import_file, select_program

    ap = os.path.abspath(path)
    mod, digest = import_file(ap)
    found = find_programs(mod, ap)
    chosen = [select_program(found, ap, n) for n in programs] if programs else [select_program(found, ap, None)] \
        if len(found) <= 1 else found
    names = [p.name for _, p in chosen]
    out = []
    for sym, prog in chosen:
        label = f"{prog.name} ({sym})" if names.count(prog.name) > 1 else prog.name
        src = ProgramSource(path=ap, name=prog.name, symbol=sym, sha256=digest)
        _PROGRAMS[(ap, prog.name, sym, digest)] = prog
        out += [Target(label, m, src) for m in models]
    return out


def kvm_targets(models: Sequence[str], scenarios: Iterable[str] = ()) -> list[Target]:
    """Every setting of the review's table of each KVM scenario (``scenarios``: only these),
    under every model."""
    from rmapwalk.review import describe_settings, select, settings_of

    out = []
    for sc in select(scenarios):
        for settings in settings_of(sc):
            sw = sc.switches(**settings)
            src = ProgramSource(module="rmapwalk.kvm.scenarios", function="scenario_program",
                                args=(sc.name, sw.as_dict()))
            name = f"{sc.name} [{describe_settings(settings)}]"
            out += [Target(name, m, src, sc.name, tuple(settings.items()), tuple(sw.as_dict().items()))
                    for m in models]
    return out


# -- presentation ---------------------------------------------------------------------------------
_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep


def show_file(path: str) -> str:
    """A site's file: relative to the rmapwalk package for its own models (``kvm/pte_list.py``),
    else its base name (as traces name it)."""
    return path[len(_PKG):] if path.startswith(_PKG) else os.path.basename(path)


def describe_site(site: Site, closers: Sequence[tuple[str, int, str]] = ()) -> str:
    """``kvm/pte_list.py:130 pte_list_add smp_wmb`` (for a lock or a section, also where it
    ends; for a declared check, its name)."""
    prim = f"check \"{site.primitive}\"" if site.kind == mut.CHECK else site.primitive
    out = f"{show_file(site.file)}:{site.line} {site.func} {prim}"
    if closers:
        ends = ", ".join(f"{os.path.basename(f)}:{ln}" for f, ln, _ in closers)
        out += f" (ended at {ends})"
    return out


def describe_mutation(data: dict[str, Any]) -> str:
    """A mutation given as JSON (a replay record's ``mutation``), in words."""
    m = Mutation.from_json(data)
    return f"{describe_site(m.site)}: {weakening_text(m)}"


_LOADS = frozenset({"smp_load_acquire", "rcu_dereference", "READ_ONCE", "atomic_read", "test_bit",
                    "spin_is_locked", "load"})


def weakening_text(m: Mutation) -> str:
    site, w = m.site, m.weakening
    if w == mut.REMOVED:
        return {mut.LOCK: "no lock", mut.RCU: "no RCU section", mut.GRACE: "no grace period"}.get(site.kind, "removed")
    if w == mut.TO_ONCE:
        return "READ_ONCE" if site.primitive in _LOADS or site.mode in ("acquire", "consume") else "WRITE_ONCE"
    if w == mut.TO_PLAIN:
        return "plain access"
    if w == mut.TO_RELAXED:
        return "relaxed"
    if w == mut.NON_ATOMIC:
        return "load + store"
    if w == mut.ALWAYS_PASS:
        return "always passes"
    return w


def _models_upper(ms: Iterable[str]) -> str:
    return ", ".join(m.upper() for m in dict.fromkeys(ms))


def kill_property(r: RunResult) -> str:
    """What a killing run reports: the violated property, or the model's error."""
    if r.verdict == MODEL_ERROR:
        return f"model error: {r.incomplete_reason or ''}".removesuffix(": ")
    return str((r.violation or {}).get("kind", "?"))


def verdict_text(mr: MutantReport) -> str:
    """``KILLED PSO, LKMM: desc-init [...] (I5 ...); holds TSO; SC by inclusion``, ``survives
    PSO (12 runs); SC, TSO by inclusion; equivalent under SC``."""
    parts: list[str] = []
    killing = mr.killing_models
    models = mr._models()
    ran = [m for m in models if m not in killing
           and any(r.target.model == m and r.verdict == HOLDS and not r.implied for r in mr.runs)]
    implied = [m for m in models if m not in killing and m not in ran
               and any(r.target.model == m and r.implied for r in mr.runs)]
    if mr.verdict == KILLED:
        groups: dict[tuple[str, str], list[str]] = {}
        for r in mr.killers:
            groups.setdefault((r.target.name, kill_property(r)), []).append(r.target.model)
        parts.append("KILLED " + "; ".join(f"{_models_upper(ms)}: {name} ({prop})"
                                           for (name, prop), ms in groups.items()))
        if ran:
            parts.append(f"holds {_models_upper(ran)}")
    elif mr.verdict == SURVIVES:
        parts.append(f"survives {_models_upper(ran)} ({sum(1 for r in mr.runs if not r.implied)} runs)")
        if mr.untried:
            by = Counter(t.model for t in mr.untried)
            parts.append("not tried on " + ", ".join(f"{n} {m.upper()} run{'s' if n != 1 else ''}"
                                                     for m, n in by.items())
                         + f" reaching it ({UNFINISHED})")
    elif mr.verdict == UNKNOWN:
        parts.append(f"unknown: {mr.reason}")
    else:
        return f"not run: {mr.reason}"
    if implied:
        parts.append(f"{_models_upper(implied)} by inclusion")
    if mr.skipped:
        parts.append(", ".join(dict.fromkeys(why for _, why in mr.skipped)))
    return "; ".join(parts)


HEADER = ("site", "weakening", "verdict", "seconds")


def table_rows(report: MutationReport) -> list[list[str]]:
    return [[describe_site(s.site, s.closers), weakening_text(m.mutation), verdict_text(m), f"{m.seconds:.2f}"]
            for s, m in report.mutants()]


def _baseline_lines(report: MutationReport) -> list[str]:
    held = [b for b in report.baselines if b.verdict == HOLDS]
    out = [f"{len(report.baselines)} runs unmutated ({_models_upper(report.models)}): {len(held)} hold and are "
           "used; not used:"]
    for m in report.models:
        bs = [b for b in report.baselines if b.target.model == m and b.verdict != HOLDS]
        if not bs:
            continue
        parts = []
        for verdict in (VIOLATED, INCOMPLETE, MODEL_ERROR):
            these = [b for b in bs if b.verdict == verdict]
            if not these:
                continue
            why = sorted({p for b in these for p in b.properties} if verdict == VIOLATED
                         else {b.incomplete_reason or "" for b in these} - {""})
            parts.append(f"{len(these)} {verdict} ({', '.join(why)})")
        out.append(f"  {m.upper()}: {'; '.join(parts)}")
    if len(out) == 1:
        out[0] = out[0].removesuffix("; not used:")
    return out


def legend_lines(report: MutationReport) -> list[str]:
    """The explanations of the short reasons the table uses."""
    used = " ".join(verdict_text(m) for _, m in report.mutants())
    return [f"{k}: {v}." for k, v in LEGEND.items() if k in used]


def _summary_line(report: MutationReport) -> str:
    c = report.counts()
    return (f"{len(report.sites)} sites, {sum(c.values())} mutants: {c[KILLED]} killed, {c[SURVIVES]} survive, "
            f"{c[NOT_RUN]} not run, {c[UNKNOWN]} unknown; {report.seconds:.1f} s")


def text_report(report: MutationReport, *, traces: bool = True, full_trace: bool = False,
                replay_files: dict[int, str] | None = None) -> str:
    from rmapwalk.report import text

    rows = table_rows(report)
    widths = [max(len(r[i]) for r in rows + [list(HEADER)]) for i in range(len(HEADER))]
    widths[2] = min(widths[2], 100)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [f"rmapwalk mutate {report.subject}", ""] + _baseline_lines(report) + [""]
    out += [line(HEADER), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out += ["", _summary_line(report)]
    legend = legend_lines(report)
    if legend:
        out += [""] + legend
    survivors = [(s, m) for s, m in report.mutants() if m.verdict == SURVIVES and m.reason]
    if survivors:
        out += ["", "== why the survivors survive"]
        for s, m in survivors:
            out.append(f"{describe_site(s.site)} {weakening_text(m.mutation)}: {m.reason}")
    if traces:
        for _s, m in report.mutants():
            r = m.shortest()
            if r is None or r.violation is None:
                continue
            v = r.violation
            out += ["", f"== {describe_site(m.mutation.site)} {weakening_text(m.mutation)}: killed under "
                        f"{r.target.model.upper()} by {r.target.name} ({v.get('steps')} steps)"]
            block = text.violation_block(v["kind"], v["message"], v["trace"], v.get("thread"), v.get("where"),
                                         full_trace)
            out.append(block)
            if replay_files and id(r) in replay_files:
                out.append(text.replay_hint(replay_files[id(r)]))
    return "\n".join(out)


def _md(s: str) -> str:
    return s.replace("|", "\\|")


def markdown_table(report: MutationReport) -> str:
    """The mutation table as Markdown (for docs/review.md); the marked accesses not run for want
    of a data-race check are listed after it, not row by row."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    unraced = []
    for s, m in report.mutants():
        if m.verdict == NOT_RUN and m.reason == NO_RACE_CHECK:
            unraced.append(f"`{_md(describe_site(s.site))}`")
            continue
        verdict = verdict_text(m)
        if m.verdict == SURVIVES and m.reason:
            verdict += f". {m.reason}"
        out.append(f"| `{_md(describe_site(s.site, s.closers))}` | {_md(weakening_text(m.mutation))} | "
                   f"{_md(verdict)} | {m.seconds:.2f} |")
    if unraced:
        out += ["", f"Not run, {len(unraced)} marked accesses made plain ({NO_RACE_CHECK}): "
                + ", ".join(unraced) + "."]
    return "\n".join(out)


def markdown_report(report: MutationReport) -> str:
    lines = ["## Mutations", "",
             "Generated by `rmapwalk mutate kvm` (run by the review with `--mutations`).  Each ordering and "
             "synchronisation site the scenarios reach is weakened alone, and every run that held "
             "unmutated is run again: a mutant is killed by the first violation under each model "
             "(scenarios tried cheapest first), and survives if every run reaching its site still "
             "holds.  A surviving mutant carries its explanation (`rmapwalk.kvm.mutation_notes`).", ""]
    base = _baseline_lines(report)
    lines += [base[0]] + [f"* {x.strip()}" for x in base[1:]] + ["", _summary_line(report), ""]
    lines += [f"* {x}" for x in legend_lines(report)] + ["", markdown_table(report)]
    return "\n".join(lines) + "\n"


def json_report(report: MutationReport, replay_files: dict[int, str] | None = None) -> dict[str, Any]:
    def run_json(r: RunResult) -> dict[str, Any]:
        d = r.as_json()
        if replay_files and id(r) in replay_files:
            d["replay_file"] = replay_files[id(r)]
        if r.violation is not None and "replay" in r.violation:
            d["replay_data"] = r.violation["replay"]  # the engine's record (the file adds the mutation)
        return d

    return {
        "subject": report.subject,
        "models": report.models,
        "baselines": [b.as_json(with_trace=False) for b in report.baselines],
        "sites": [{**s.site.as_json(),
                   "closed_at": [{"file": f, "line": ln, "function": fn} for f, ln, fn in s.closers],
                   "reached_by": [t.as_json() for t in s.reached_by],
                   "mutants": [{"weakening": m.mutation.weakening, "weakened_to": weakening_text(m.mutation),
                                "verdict": m.verdict, "killed_under": m.killing_models,
                                "killed_by": [run_json(r) for r in m.killers],
                                "runs": [r.as_json(with_trace=False) for r in m.runs],
                                "skipped": [{"model": mm, "reason": why} for mm, why in m.skipped],
                                "untried": [t.as_json() for t in m.untried],
                                "reason": m.reason, "seconds": round(m.seconds, 3)} for m in s.mutants]}
                  for s in report.sites],
        "summary": {**report.counts(), "sites": len(report.sites)},
        "seconds": round(report.seconds, 3),
    }


def replay_record(m: Mutation, r: RunResult, source: str, sha256: str, max_events: int) -> dict[str, Any]:
    """What a replay file of a killing run holds: the engine's replay data, the violation, the
    mutation (``rmapwalk replay`` applies it), and how to rebuild the program."""
    from rmapwalk import __version__

    assert r.violation is not None
    v = r.violation
    data = dict(v["replay"])
    data["violation"] = {**dict(data.get("violation") or {}), "kind": v["kind"], "message": v["message"],
                         "thread": v.get("thread"), "where": v.get("where")}
    data["mutation"] = m.as_json()
    t = r.target
    data["program"] = t.source.name or t.name
    data["source"] = source
    data["sha256"] = sha256
    data["max_events"] = max_events
    data["rmapwalk_version"] = __version__
    if t.scenario is not None:
        data["kvm"] = {"scenario": t.scenario, "preset": None, "switches": dict(t.switches)}
    else:
        data["program_symbol"] = t.source.symbol or ""
    return data


def replay_name(m: Mutation, r: RunResult) -> str:
    digest = hashlib.sha1(json.dumps([m.as_json(), r.target.name], sort_keys=True).encode()).hexdigest()[:8]
    base = os.path.splitext(os.path.basename(m.site.file))[0]
    return f"mutant-{base}-{m.site.line}-{digest}-{r.target.model}.json"


__all__ = [
    "BOUND_FACTOR", "DEFAULT_MODELS", "KEEP", "KILLED", "NOT_RUN", "SURVIVES", "UNKNOWN", "MutantReport",
    "MutationReport", "RunResult", "SiteReport", "Target", "describe_mutation", "describe_site", "equivalent",
    "equivalent_under", "file_targets", "json_report", "kvm_targets", "markdown_report", "markdown_table", "mutate",
    "replay_name", "replay_record", "run_target", "text_report", "verdict_text", "weakening_text",
]
