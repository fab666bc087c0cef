"""``rmapwalk review``: answer the 2013 review's questions (and the 2025 series') by running every scenario."""

from __future__ import annotations

import os
import sys
import time

import click

from rmapwalk import review
from rmapwalk.cli.common import (
    EXIT_HOLDS,
    EXIT_INCOMPLETE,
    EXIT_VIOLATED,
    Fail,
    guard,
    model_name,
    warn,
    write_atomic,
)
from rmapwalk.cli.search import worker_count
from rmapwalk.engine.explore import DEFAULT_LB_SEARCH, LB_SEARCHES
from rmapwalk.engine.models import MODELS
from rmapwalk.engine.result import INCOMPLETE
from rmapwalk.loader import show_path
from rmapwalk.report import narrow, progress, review_html, review_text


@click.command("review")
@click.option("--markdown", is_flag=True, help="Print Markdown (docs/review.md) instead of text.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the review as one self-contained HTML page: questions, answers, verdict "
                   "matrices, every run's switches and command, every counterexample drawn.")
@click.option("--models", "models_text", default=None, metavar="M1,M2",
              help="Comma-separated memory models to run each setting under (default: each scenario's own: "
                   "SC, TSO, PSO for the 2013 questions; also LKMM, and LKMM-alpha where asked, for 2025).")
@click.option("--scenario", "--only", "scenario_names", multiple=True, metavar="NAME",
              help="Only this question's scenario (repeatable; default: every scenario).")
@click.option("--max-executions", type=click.IntRange(min=1), metavar="N",
              help="Per-run execution bound (runs that hit it are reported INCOMPLETE).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Per-run time bound (runs that hit it are reported INCOMPLETE).")
@click.option("--traces", type=click.Choice(review_text.TRACES), default="key", show_default=True,
              help="Text output: key = each broken setting's shortest counterexample, the steps where threads "
                   "interact; shortest = the same, every step; all = every kept trace; none.")
@click.option("--layout", type=click.Choice(narrow.LAYOUTS), default="auto", show_default=True,
              help="Trace layout of --traces shortest/all (auto: narrow when the columns do not fit).")
@click.option("--width", type=click.IntRange(min=review_text.MIN_WIDTH), metavar="COLUMNS",
              help=f"Text width (default: the terminal's, at most {review_text.DEFAULT_WIDTH}).")
@click.option("--full-trace", is_flag=True, help="Print long traces in full (text output).")
@click.option("--verbose", "-v", is_flag=True, help="Print one line per finished run on stderr.")
@click.option("--progress", "verbose_compat", is_flag=True, hidden=True, help="Same as --verbose.")
@click.option("--full", is_flag=True,
              help="Run every row of each scenario's expected table (also the LKMM rows of the older questions, "
                   "30-50 s each, which the default review leaves to docs/review.md).")
@click.option("--mutations", is_flag=True,
              help="Add the mutation table (`rmapwalk mutate kvm` under these models and LKMM).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), is_flag=False, flag_value=0, default=None, metavar="N",
              help="Worker processes for the runs and --mutations (--jobs alone or 0: one per core).")
@click.option("--lb-search", type=click.Choice(LB_SEARCHES), default=DEFAULT_LB_SEARCH, show_default=True,
              help="How the LKMM runs search load buffering: 'complete' finds every execution, each counted "
                   "once; 'optimal' is faster (1.3x on the default review's rows in all, up to 3.4x on one) but "
                   "can miss load-buffering executions (counts are then lower bounds; docs/design.md).")
def review_cmd(markdown: bool, html_file: str | None, models_text: str | None, scenario_names: tuple[str, ...],
               max_executions: int | None, timeout: float | None, traces: str, layout: str, width: int | None,
               full_trace: bool, verbose: bool, verbose_compat: bool, full: bool, mutations: bool,
               jobs: int | None, lb_search: str) -> None:
    """Answer the 2013 review's questions (and, in a section "2025: lockless aging", those of the
    2025 series): run every scenario's proposal and broken alternatives.

    For each question: the question, the answer in a sentence, the verdict matrix (settings x
    models) and each broken setting's shortest counterexample with the command that checks it
    again, within 100 columns.  A progress bar shows on a terminal (stderr).  Exit status: 0
    every verdict as expected, 1 some verdict differs, 3 some run incomplete.
    """

    def body() -> int:
        asked: list[str] | None = None
        if models_text is not None:
            asked = [model_name(m.strip()) for m in models_text.split(",") if m.strip()]
            if not asked:
                raise Fail(f"--models: no model given; valid models: {', '.join(MODELS)}")
            asked = list(dict.fromkeys(asked))
        try:
            chosen = review.select(scenario_names)
        except ValueError as e:
            raise Fail(str(e)) from None
        t0 = time.perf_counter()
        plan = review.plan(chosen, asked, full)
        models = asked if asked is not None else review.planned_models(plan)
        with progress.RunsProgress(len(plan), enabled=progress.wanted()) as bar:
            def show(r: review.Run) -> None:
                bar.advance(r.executions)
                if verbose or verbose_compat:
                    bar.note(review_text.summary_line(r))

            runs = review.run_review(chosen, asked, max_executions=max_executions, timeout=timeout,
                                     progress=show, starting=lambda sc, st, m: bar.start(
                                         f"{sc.name} [{review.describe_settings(st)}] @{m}"),
                                     jobs=worker_count(jobs) if jobs is not None else 1, full=full,
                                     lb_search=lb_search)
        total = time.perf_counter() - t0
        if markdown:
            # the review first, the mutation table after it: the answers are written (and kept)
            # before the longer mutation run starts
            click.echo(review.markdown_report(runs, chosen, total, asked), nl=False)
            sys.stdout.flush()
        mut = None
        if mutations:
            mut = review.run_mutations(chosen, asked or list(review.DEFAULT_MODELS), jobs=worker_count(jobs), progress=(
                (lambda line: click.echo(f"rmapwalk: review: mutate: {line}", err=True))
                if verbose or verbose_compat else None))
        if markdown:
            if mut is not None:
                click.echo(review.markdown_mutations(mut), nl=False)
        else:
            w = width or min(narrow.terminal_width(), review_text.DEFAULT_WIDTH)
            click.echo(review_text.render(runs, chosen, total, models, width=w, traces=traces, layout=layout,
                                          full_trace=full_trace))
            if mut is not None:
                from rmapwalk import mutate as mm

                click.echo("\n== mutations\n" + mm.text_report(mut, traces=False))
        if html_file:
            page = review_html.render(runs, chosen, total, models)
            try:
                write_atomic(html_file, page)
                os.chmod(html_file, 0o644)  # a page to open and share, not a private temporary file
            except OSError as e:
                warn(f"cannot write {show_path(html_file)}: {e.strerror or e}")
            else:
                click.echo(f"rmapwalk: wrote {show_path(html_file)}: open file://{os.path.abspath(html_file)}",
                           err=True)
        if any(r.verdict == INCOMPLETE for r in runs):
            return EXIT_INCOMPLETE
        if any(r.as_expected is False for r in runs):
            return EXIT_VIOLATED
        return EXIT_HOLDS

    guard(body, lambda: None)


