"""``rmapwalk mutate``: weaken each ordering and synchronisation site of a model, one at a time,
and report which runs kill the mutant (see :mod:`rmapwalk.mutate`).

``rmapwalk mutate MODEL.py`` mutates the programs of a model file; ``rmapwalk mutate kvm`` the
KVM model, on the settings of the review's table of every scenario (``--scenario`` narrows).
Exit status: 0 the analysis is complete, 3 some mutant is unknown (a run hit its bound or the
model raised), 2 bad input.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click

from rmapwalk.cli.common import Fail, guard, warn, write_atomic
from rmapwalk.cli.search import worker_count
from rmapwalk.engine.models import MODELS

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3


def _models(given: tuple[str, ...], text: str | None) -> list[str]:
    from rmapwalk import mutate as mm

    names = list(given) + [m for m in (text or "").split(",") if m.strip()]
    if not names:
        names = list(mm.DEFAULT_MODELS)
    out = []
    for n in names:
        m = n.strip().lower()
        if m not in MODELS:
            raise Fail(f"unknown memory model {n!r}; valid models: {', '.join(MODELS)}")
        out.append(m)
    return list(dict.fromkeys(out))


def save_replays(report: Any, replay_dir: str, max_events: int, as_json: bool) -> dict[int, str]:
    """Save a replay file for every killing run; returns id(run) -> file name (as shown)."""
    from rmapwalk import mutate as mm
    from rmapwalk.cli.kvm import scenario_source
    from rmapwalk.kvm.scenarios import SCENARIOS
    from rmapwalk.loader import file_sha256, show_path

    out: dict[int, str] = {}
    for _site, m in report.mutants():
        for r in m.killers:
            t = r.target
            source = scenario_source(SCENARIOS[t.scenario]) if t.scenario is not None else t.source.path or ""
            try:
                sha = file_sha256(source) if source else ""
            except OSError:
                sha = ""
            record = mm.replay_record(m.mutation, r, source, sha, max_events)
            fname = os.path.join(replay_dir, mm.replay_name(m.mutation, r))
            try:
                write_atomic(fname, json.dumps(record, indent=1) + "\n")
            except OSError as e:
                warn(f"cannot save the replay file {show_path(fname)}: {e.strerror or e}")
                continue
            out[id(r)] = os.path.abspath(fname) if as_json else show_path(fname)
    return out


@click.command("mutate")
@click.argument("subject", metavar="MODEL.py|kvm")
@click.option("--model", "-m", "model_names", multiple=True, metavar="MODEL",
              help=f"A memory model to run under (repeatable; default: sc, tso, pso, lkmm). Valid: "
                   f"{', '.join(MODELS)}.")
@click.option("--models", "models_text", metavar="M1,M2", help="Memory models, comma-separated (as for `review`).")
@click.option("--program", "-p", "program_names", multiple=True, metavar="NAME",
              help="MODEL.py: only this program (repeatable; default: every program of the file).")
@click.option("--scenario", "scenario_names", multiple=True, metavar="NAME",
              help="kvm: only this scenario (repeatable; default: every scenario).")
@click.option("--site", "site_filters", multiple=True, metavar="TEXT",
              help="Only the sites whose description (file:line function primitive) contains TEXT (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (with replay data) instead of text.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), is_flag=False, flag_value=0, default=None, metavar="N",
              help="Run the explorations in N worker processes (--jobs alone or 0: one per core).")
@click.option("--max-events", type=click.IntRange(min=1), default=1000, show_default=True, metavar="N",
              help="Per-thread event bound of every run.")
@click.option("--bound-factor", type=click.IntRange(min=1), default=20, show_default=True, metavar="K",
              help="A mutated run stops (the mutant is then unknown) after K times the executions of the "
                   "unmutated run, plus 2000.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Per mutated run time bound (a run that hits it leaves its mutant unknown).")
@click.option("--baseline-budget", type=click.IntRange(min=1), default=30_000, show_default=True, metavar="EVENTS",
              help="An unmutated LKMM run that explores more events than this (over all its graphs; other "
                   "models: 100 times as many) is not used (reported as incomplete).  A count: the same "
                   "table on any machine.")
@click.option("--baseline-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Also drop an unmutated run that takes longer than this (the table then depends on the "
                   "machine's speed).")
@click.option("--replay-dir", type=click.Path(file_okay=False), default="rmapwalk-replays", show_default=True,
              metavar="DIR", help="Where to save the replay files of killing runs.")
@click.option("--no-traces", is_flag=True, help="Text output: the table only, no traces.")
@click.option("--full-trace", is_flag=True, help="Print traces in full.")
@click.option("--progress", is_flag=True, help="Print one line per finished run or mutant on stderr.")
def mutate_cmd(subject: str, model_names: tuple[str, ...], models_text: str | None, program_names: tuple[str, ...],
               scenario_names: tuple[str, ...], site_filters: tuple[str, ...], as_json: bool, jobs: int | None,
               max_events: int, bound_factor: int, timeout: float | None, baseline_budget: int,
               baseline_timeout: float | None, replay_dir: str,
               no_traces: bool, full_trace: bool, progress: bool) -> None:
    """Is each barrier, lock, acquire/release, RMW and declared check needed, and under which model?

    Weakens every ordering and synchronisation site the exploration of MODEL.py (or, with
    `kvm`, of the KVM scenarios) reaches, one at a time -- a barrier removed, acquire/release
    made READ_ONCE/WRITE_ONCE, an RMW relaxed or made non-atomic, a lock or RCU section removed,
    a declared check always passing -- and runs again every run that held.  Prints per site and
    weakening the models and runs that kill the mutant (with the shortest trace, saved for
    `rmapwalk replay`), or `survives`.  Exit status: 0 complete, 3 some mutant unknown (a run
    hit its bound), 2 bad input.
    """
    path_box: list[str | None] = [None]

    def body() -> int:
        from rmapwalk import mutate as mm

        models = _models(model_names, models_text)
        is_kvm = subject == "kvm" and not os.path.isfile(subject)
        if is_kvm:
            if program_names:
                raise Fail("--program applies to a model file, not to kvm")
            try:
                targets = mm.kvm_targets(models, scenario_names)
            except ValueError as e:
                raise Fail(str(e)) from None
            explain: Any = _kvm_explain()
        else:
            if scenario_names:
                raise Fail("--scenario applies to kvm, not to a model file")
            path_box[0] = os.path.abspath(subject)
            targets = mm.file_targets(subject, models, program_names)
            explain = None
        wanted = None
        if site_filters:
            def wanted(site: Any) -> bool:
                d = f"{site.file}:{site.line} {site.func} {site.primitive}"
                return any(f in d for f in site_filters)

        def show(line: str) -> None:
            click.echo(f"rmapwalk: mutate: {line}", err=True)

        t0 = time.perf_counter()
        report = mm.mutate(targets, subject, jobs=worker_count(jobs), bound_factor=bound_factor, max_events=max_events,
                           timeout=timeout, baseline_timeout=baseline_timeout, baseline_budget=baseline_budget,
                           sites=wanted, explain=explain,
                           progress=show if progress else None)
        report.seconds = time.perf_counter() - t0
        files = save_replays(report, replay_dir, max_events, as_json)
        if as_json:
            from rmapwalk.report import jsonout

            click.echo(jsonout.dumps(mm.json_report(report, files)))
        else:
            click.echo(mm.text_report(report, traces=not no_traces, full_trace=full_trace, replay_files=files))
        return EXIT_INCOMPLETE if report.counts()[mm.UNKNOWN] else EXIT_OK

    guard(body, lambda: path_box[0])


def _kvm_explain() -> Any:
    from rmapwalk.kvm.mutation_notes import explain

    return explain


__all__ = ["mutate_cmd", "save_replays"]
