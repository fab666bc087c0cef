"""The options several commands share, defined once: the exploration options (``run``,
``check kvm``), the presentation options ``--html``/``--dot``/``--quiet``/``--layout`` (``run``,
``replay``, ``check kvm``; docs/output.md) and the scale options ``--random``/``--jobs``/
``--checkpoint``/... (``run``, ``check kvm``; docs/scale.md).

The presentation and scale options keep their values in the click context (``ctx.meta`` under
:data:`.common.OUTPUT_META` and :data:`SCALE_META`), so the commands' signatures stay as they are.
"""

from __future__ import annotations

from typing import Any

import click

from rmapwalk.cli.common import DEFAULT_MAX_EVENTS, DEFAULT_REPLAY_DIR, OUTPUT_META, warn
from rmapwalk.engine.explore import LB_SEARCHES
from rmapwalk.engine.result import DEFAULT_MAX_OUTCOMES
from rmapwalk.loader import show_path
from rmapwalk.report import narrow, text


def exploration_options(f: Any) -> Any:
    """The options every exploring command shares (run, check kvm)."""
    opts = [
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text."),
        click.option("--max-executions", type=click.IntRange(min=1), metavar="N",
                     help="Stop after N executions (the verdict is then incomplete unless violated)."),
        click.option("--max-events", type=click.IntRange(min=1), default=DEFAULT_MAX_EVENTS, show_default=True,
                     metavar="N", help="Per-thread event bound (catches loops that never end)."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                     help="Stop exploring after this many seconds."),
        click.option("--all-violations", is_flag=True,
                     help="Keep, save and print every violation, not just the first."),
        click.option("--stop-on-first", is_flag=True, help="Stop exploring at the first violation."),
        click.option("--replay-dir", type=click.Path(file_okay=False), default=DEFAULT_REPLAY_DIR,
                     show_default=True, metavar="DIR", help="Where to save replay files of violations."),
        click.option("--full-trace", is_flag=True,
                     help=f"Print traces in full (longer than {text.TRACE_ROWS} steps they are shortened)."),
        click.option("--lb-search", type=click.Choice(LB_SEARCHES), default=None, expose_value=False,
                     callback=_keep_scale_option,
                     help="How models with load buffering (lkmm, lkmm-alpha) are searched: 'complete' (the "
                          "default) finds every execution, each counted once; 'optimal' is faster (up to 3-5x "
                          "on a KVM row) and can miss load-buffering executions (docs/design.md)."),
        click.option("--all-outcomes", is_flag=True, expose_value=False, callback=_keep_scale_option,
                     help=f"Table every distinct final outcome (default: the {DEFAULT_MAX_OUTCOMES} least, so "
                          "that memory does not grow with them; the executions of the others are counted)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


# -- presentation: --html, --dot, --quiet and --layout (docs/output.md) --------------------------
# (the violation views themselves are written by common.write_views)
def _keep_output_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    opts = ctx.meta.setdefault(OUTPUT_META, {"written": 0})
    opts[param.name or ""] = value
    if param.name == "quiet" and "closing" not in opts:
        opts["closing"] = True
        ctx.call_on_close(lambda: _no_violation_note(opts))
    return value


def _no_violation_note(opts: dict[str, Any]) -> None:
    if opts["written"] == 0 and opts.get("explored"):
        for key, flag in (("html_file", "--html"), ("dot_file", "--dot")):
            if opts.get(key):
                warn(f"{flag}: no violation to draw; {show_path(opts[key])} not written")


def output_options(f: Any) -> Any:
    """--html, --dot, --quiet and --layout (run, replay, check kvm); their values go to
    ``ctx.meta``, so the commands' signatures stay as they are."""
    opts = [
        click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE", expose_value=False,
                     callback=_keep_output_option,
                     help="Write the violation as a self-contained HTML page (a second one to FILE-2.html, ...)."),
        click.option("--dot", "dot_file", type=click.Path(dir_okay=False), metavar="FILE", expose_value=False,
                     callback=_keep_output_option,
                     help="Write the violation's execution graph (po, rf, co, fr) for Graphviz."),
        click.option("--quiet", "-q", "quiet", is_flag=True, expose_value=False, callback=_keep_output_option,
                     help="No progress line (it is only shown when stderr is a terminal) and no notes on stderr."),
        click.option("--layout", type=click.Choice(narrow.LAYOUTS), default="auto", show_default=True,
                     expose_value=False, callback=_keep_output_option,
                     help="Trace layout: one column per thread, or narrow (one event a line, with its step "
                          "and thread); auto: narrow when the columns are wider than the terminal."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f



# -- scale: --random, --estimate, --jobs, --cluster, --checkpoint (docs/scale.md) ---------------
SCALE_META = "rmapwalk.scale"
#: (hidden: for tests and debugging) units cut by count make a search's split, and so what each
#: checkpoint holds, independent of timing
SLICE_EXECUTIONS_HELP = ("Cut work units after N executions instead of after a time slice: how the search is "
                         "split, and so what each checkpoint holds, then depends on counts only.")
RANDOM_ONLY = ("seed", "executions", "scheduler", "depth")


def _keep_scale_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    opts = ctx.meta.setdefault(SCALE_META, {"given": set()})
    name = param.name or ""
    opts[name] = value
    if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT):
        opts["given"].add(name)
    return value


def scale_options(f: Any) -> Any:
    """``run``'s options for large searches; their values go to ``ctx.meta`` (as the output
    options' do), so that ``run``'s signature stays as it is."""
    from rmapwalk.engine.randomized import SCHEDULERS

    keep: dict[str, Any] = {"expose_value": False, "callback": _keep_scale_option}
    opts = [
        click.option("--random", "random_search", is_flag=True, **keep,
                     help="Sample random executions instead of exploring all of them (the verdict is then "
                          "never 'holds': at best 'no violation in N sampled executions', exit status 3)."),
        click.option("--seed", type=int, default=0, show_default=True, metavar="S", **keep,
                     help="With --random (and --estimate): the random seed; the same seed gives the same run."),
        click.option("--executions", type=click.IntRange(min=1), default=1000, show_default=True, metavar="N",
                     **keep, help="With --random: how many executions to sample."),
        click.option("--scheduler", type=click.Choice(list(SCHEDULERS)), default="uniform", show_default=True,
                     **keep, help="With --random: uniform random choices, or PCT priority scheduling."),
        click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True, metavar="D", **keep,
                     help="With --scheduler pct: the bug depth (D-1 priority change points per execution)."),
        click.option("--estimate", "estimate", is_flag=True, **keep,
                     help="First sample a few hundred random paths of the search and print an estimate of "
                          "the number of executions and the time of the exhaustive run."),
        click.option("--jobs", "-j", type=click.IntRange(min=0), is_flag=False, flag_value=0, default=None,
                     metavar="N", **keep,
                     help="Split the search across N worker processes (--jobs alone or 0: one per core); "
                          "same verdict and counts as without it."),
        click.option("--cluster", metavar="ADDRESS", **keep,
                     help="Run the search's work units on the Dask cluster whose scheduler is ADDRESS "
                          "(e.g. tcp://host:8786; workers with one thread each)."),
        click.option("--checkpoint", "checkpoint", type=click.Path(dir_okay=False), metavar="FILE", **keep,
                     help="Save the search's progress to FILE (atomically, every few seconds, and when it "
                          "stops); `rmapwalk resume FILE` continues it after a kill, Ctrl-C or --timeout."),
        click.option("--checkpoint-interval", type=click.FloatRange(min=0), default=3.0, show_default=True,
                     metavar="SECONDS", **keep,
                     help="With --checkpoint: seconds between checkpoints (0: after every work unit)."),
        click.option("--slice-executions", type=click.IntRange(min=1), metavar="N", hidden=True, **keep,
                     help=SLICE_EXECUTIONS_HELP),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def scale_opts() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(SCALE_META, {"given": set()}) if ctx is not None else {"given": set()}


