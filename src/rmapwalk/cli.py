"""The ``rmapwalk`` command: check a model file, replay a saved violation, resume a checkpointed
search, the KVM model's commands (``scenarios``, ``check kvm``, ``switches``, ``review``) and the
litmus front end (``litmus``, in ``cli_litmus``).

Exit status: 0 the properties hold, 1 a violation was found (``replay``: always, it shows one),
2 bad input (missing file, a model that does not load or raises while its program is built, a
``ModelError``, bad options, a bad replay file) or an internal error, 3 the exploration stopped
before it was complete.  An exception raised by thread code is a violation (property
``exception``), like a failed assertion.

Every problem is reported as one line on stderr, ``rmapwalk: FILE:LINE: message``; set
``RMAPWALK_DEBUG=1`` to get the Python traceback as well.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click

from rmapwalk import __version__, review
from rmapwalk.cli_litmus import litmus
from rmapwalk.cli_mutate import mutate_cmd
from rmapwalk.cli_shared import (
    OUTPUT_META,
    one_line,
    output_opts,
    replay_record,
    safe_name,
    save_violation,
    trace_of,
    warn,
    write_atomic,
    write_views,
)
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.engine.models import MODELS
from rmapwalk.engine.program import Program
from rmapwalk.engine.replay import FORMAT, ReplayError
from rmapwalk.engine.result import HOLDS, INCOMPLETE, VIOLATED
from rmapwalk.engine.runtime import ModelError
from rmapwalk.kvm import scenarios as scenarios_pkg
from rmapwalk.kvm.presets import PRESETS, preset_switches, switches_markdown
from rmapwalk.kvm.scenarios import SCENARIOS, Scenario
from rmapwalk.kvm.switches import SWITCHES, Switches, switch_table
from rmapwalk.loader import (
    LoadError,
    exception_text,
    file_sha256,
    format_location,
    load_model,
    show_path,
    user_frame,
)
from rmapwalk.report import jsonout, narrow, progress, review_html, review_text, text

EXIT_HOLDS = 0
EXIT_VIOLATED = 1
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3

EXIT_FOR_VERDICT = {HOLDS: EXIT_HOLDS, VIOLATED: EXIT_VIOLATED, INCOMPLETE: EXIT_INCOMPLETE}

DEFAULT_REPLAY_DIR = "rmapwalk-replays"
DEFAULT_MAX_EVENTS = 1000


class Fail(Exception):
    """A problem to report as one line (already formatted) with exit status 2."""


# -- error reporting (one_line, warn: cli_shared) ----------------------------------------------
def _die(msg: str) -> NoReturn:
    click.echo(f"rmapwalk: {one_line(msg)}", err=True)
    raise SystemExit(EXIT_ERROR)


def _model_error_text(e: ModelError, model_path: str | None) -> str:
    src = getattr(e, "src", None)
    if src is not None:
        return format_location(src.file, src.line, str(e))
    where = user_frame(e.__traceback__, prefer=model_path)
    if where is not None:
        return format_location(where[0], where[1], str(e))
    return format_location(model_path, None, str(e))


def _guard(body: Callable[[], int], model_path: Callable[[], str | None]) -> NoReturn:
    """Run a command body; turn every failure into one line on stderr and exit status 2."""
    debug = bool(os.environ.get("RMAPWALK_DEBUG"))
    try:
        code = body()
    except (SystemExit, KeyboardInterrupt, click.exceptions.ClickException, click.exceptions.Exit):
        raise
    except Exception as e:
        if debug:
            raise
        if isinstance(e, (Fail, LoadError)):
            _die(str(e))
        path = model_path()
        if isinstance(e, ModelError):
            _die(_model_error_text(e, path))
        where = user_frame(e.__traceback__, prefer=path)
        if where is not None and path is not None:
            # code of the model (a final-state condition, a check) raised while being explored
            _die(format_location(where[0], where[1], f"error in the model: {exception_text(e)}"))
        _die(f"internal error: {exception_text(e)} (RMAPWALK_DEBUG=1 shows the traceback)")
    raise SystemExit(code)


# -- the command group --------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rmapwalk")
def main() -> None:
    """rmapwalk: a stateless model checker for lockless kernel code.

    A model file is a Python file that defines rmapwalk Program objects (or a function
    program() returning one).  `rmapwalk run MODEL.py` explores every execution of it under a
    memory model; a violation is saved as a replay file that `rmapwalk replay FILE` shows again.

    The built-in KVM shadow-MMU model: `rmapwalk scenarios` lists its scenarios, `rmapwalk
    check kvm --scenario NAME [--preset P] [--set KEY=VALUE ...]` checks one, `rmapwalk
    switches` lists the design switches and presets, and `rmapwalk review` answers the 2013
    review's questions (`--markdown` gives docs/review.md).

    Exit status: 0 holds, 1 violated, 2 bad input or internal error, 3 incomplete.
    """


def _exploration_options(f: Any) -> Any:
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
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f

# -- presentation: --html, --dot, --quiet and the progress line (docs/output.md) ------------------
# (the violation views themselves are written by cli_shared.write_views)
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


def _output_options(f: Any) -> Any:
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


def _explore(explorer: Any) -> Any:
    """``explorer.run()`` with the progress line on a terminal (unless --quiet)."""
    opts = output_opts()
    prog, model = getattr(explorer, "prog", None), getattr(explorer, "model", None)
    label = f"{getattr(prog, 'name', '')} @{getattr(model, 'name', model)}" if prog is not None else ""
    result = progress.run_with_progress(explorer, quiet=bool(opts.get("quiet")), label=label)
    opts["explored"] = True
    return result


# -- scale: --random, --estimate, --jobs, --cluster, --checkpoint (docs/scale.md) ---------------
_SCALE = "rmapwalk.scale"
#: (hidden: for tests and debugging) units cut by count make a search's split, and so what each
#: checkpoint holds, independent of timing
SLICE_EXECUTIONS_HELP = ("Cut work units after N executions instead of after a time slice: how the search is "
                         "split, and so what each checkpoint holds, then depends on counts only.")
_RANDOM_ONLY = ("seed", "executions", "scheduler", "depth")


def _keep_scale_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    opts = ctx.meta.setdefault(_SCALE, {"given": set()})
    name = param.name or ""
    opts[name] = value
    if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT):
        opts["given"].add(name)
    return value


def _scale_options(f: Any) -> Any:
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


def _scale_opts() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_SCALE, {"given": set()}) if ctx is not None else {"given": set()}


def _search(prog: Program, loaded: Any, model: str, opts: Options, as_json: bool, source: Any = None) -> Any:
    """What ``run`` (and ``check kvm``) explores with: the exhaustive explorer, split across
    workers, or random sampling (--random).  ``source`` says how workers rebuild the program
    (default: re-import the model file ``loaded``)."""
    from rmapwalk.engine.estimate import estimate
    from rmapwalk.engine.randomized import RandomExplorer

    so = _scale_opts()
    given = so["given"]
    if not so.get("random_search"):
        bad = [n for n in _RANDOM_ONLY if n in given and n != "seed"]
        if bad:
            raise Fail(f"--{bad[0]} needs --random")
    if so.get("estimate"):
        est = estimate(prog, model, seed=so.get("seed") or 0, max_events=opts.max_events)
        click.echo(est.describe(), err=as_json)
    if so.get("random_search"):
        if so.get("jobs") is not None or so.get("cluster") or so.get("checkpoint"):
            raise Fail("--jobs, --cluster and --checkpoint apply to the exhaustive search, not to --random")
        return RandomExplorer(prog, model, opts, seed=so.get("seed") or 0, executions=so.get("executions") or 1000,
                              scheduler=so.get("scheduler") or "uniform", depth=so.get("depth") or 3)
    if "checkpoint_interval" in given and not so.get("checkpoint"):
        raise Fail("--checkpoint-interval needs --checkpoint")
    jobs = so.get("jobs")
    ckpt = so.get("checkpoint")
    if "slice_executions" in given and not (jobs is not None or so.get("cluster") or ckpt):
        raise Fail("--slice-executions applies to --jobs, --cluster or --checkpoint")
    if jobs is not None or so.get("cluster") or ckpt:
        from rmapwalk.engine.parallel import ParallelSearch
        from rmapwalk.engine.workunit import ProgramSource, SearchConfig

        if source is None:
            source = ProgramSource(path=loaded.path, symbol=loaded.symbol, sha256=loaded.sha256)
        config = SearchConfig(source, model, max_events=opts.max_events, keep_violations=opts.keep_violations,
                              stop_on_first=opts.stop_on_first)
        return _Guarded(ParallelSearch(config, prog, jobs=_jobs(jobs), cluster=so.get("cluster"),
                                       timeout=opts.timeout, max_executions=opts.max_executions,
                                       slice_executions=so.get("slice_executions"),
                                       checkpoint=_checkpointer(ckpt) if ckpt else None,
                                       checkpoint_interval=_interval(so.get("checkpoint_interval"))), ckpt)
    return Explorer(prog, model, opts)


def _interval(seconds: float | None) -> float:
    """--checkpoint-interval: absent 3 s; 0 is a checkpoint after every work unit."""
    return 3.0 if seconds is None else seconds


def _jobs(jobs: int | None) -> int:
    """--jobs: absent 1 (this process), 0 (or alone) one worker per core, else N."""
    from rmapwalk.engine.parallel import default_jobs

    return 1 if jobs is None else jobs or default_jobs()


def _checkpointer(path: str) -> Callable[[dict[str, Any]], None]:
    """Save checkpoints to ``path``; a failed write (a full disk) is a warning and the previous
    checkpoint stays; the search goes on and tries again at the next interval."""
    from rmapwalk.engine.checkpoint import CheckpointWriteError, save_checkpoint

    warned: set[str] = set()

    def save(state: dict[str, Any]) -> None:
        try:
            save_checkpoint(path, state)
        except CheckpointWriteError as e:
            if str(e) not in warned:
                warned.add(str(e))
                warn(str(e))

    return save


class _Guarded:
    """A search whose own failures (workers that keep dying, a lost cluster, a bad checkpoint)
    become one-line errors; ``stats``/``result`` stay live for the progress line."""

    def __init__(self, search: Any, checkpoint: str | None = None) -> None:
        self.search = search
        self.checkpoint = checkpoint
        self.prog = search.prog
        self.model = search.model
        self.stats = search.stats
        self.result = search.result

    def run(self) -> Any:
        from rmapwalk.engine.checkpoint import CheckpointError
        from rmapwalk.engine.parallel import SearchError
        from rmapwalk.engine.workunit import UnitError

        try:
            res = self.search.run()
        except (SearchError, UnitError, CheckpointError) as e:
            raise Fail(str(e)) from None
        if self.checkpoint and not self.search.finished and os.path.exists(self.checkpoint):
            click.echo(f"rmapwalk: progress saved in {show_path(self.checkpoint)}; "
                       f"`rmapwalk resume {show_path(self.checkpoint)}` continues", err=True)
        return res


@main.command()
@click.argument("model_file", metavar="MODEL.py")
@click.option("--model", "-m", "memory_model", type=click.Choice(list(MODELS), case_sensitive=False),
              default="sc", show_default=True, help="Memory model to explore under.")
@click.option("--program", "-p", "program_name", metavar="NAME",
              help="Which program of the file to check (its name or variable name).")
@_exploration_options
@_output_options
@_scale_options
def run(model_file: str, memory_model: str, program_name: str | None, as_json: bool,
        max_executions: int | None, max_events: int, timeout: float | None, all_violations: bool,
        stop_on_first: bool, replay_dir: str, full_trace: bool) -> None:
    """Explore every execution of the program in MODEL.py and check its properties.

    Prints the verdict, statistics, every final outcome with how many executions reached it,
    and the trace of the first violation (each one with --all-violations).  Each violation
    shown is saved to DIR/<program>-<model>-<n>.json for `rmapwalk replay`.
    """
    path_box: list[str | None] = [os.path.abspath(model_file)]

    def body() -> int:
        loaded = load_model(model_file, program_name)
        path_box[0] = loaded.path
        prog = loaded.program
        opts = Options(
            max_executions=max_executions,
            timeout=timeout,
            max_events=max_events,
            stop_on_first=stop_on_first,
            keep_violations=sys.maxsize if all_violations else 1,
        )
        result = _explore(_search(prog, loaded, memory_model.lower(), opts, as_json))
        for n, v in enumerate(result.violations, 1):
            record = replay_record(v, prog, loaded.path, loaded.sha256, loaded.symbol, max_events)
            save_violation(v, prog, record, max_events,
                            os.path.join(replay_dir, f"{safe_name(prog.name)}-{result.model}-{n}.json"), as_json)
        if as_json:
            obj = jsonout.run_json(result, source=loaded.path, program_symbol=loaded.symbol,
                                   max_events=max_events)
            click.echo(jsonout.dumps(obj))
        else:
            click.echo(text.run_text(result, source=show_path(loaded.path), prog=prog,
                                     shown=result.violations, full_trace=full_trace))
        return EXIT_FOR_VERDICT.get(result.verdict, EXIT_ERROR)

    _guard(body, lambda: path_box[0])


@main.command()
@click.argument("checkpoint_file", metavar="FILE")
@click.option("--jobs", "-j", type=click.IntRange(min=0), is_flag=False, flag_value=0, default=None, metavar="N",
              help="Worker processes (--jobs alone or 0: one per core; default: this process only).")
@click.option("--cluster", metavar="ADDRESS", help="Run the rest of the search on this Dask cluster.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop (saving the checkpoint again) after this many seconds in all, earlier runs included.")
@click.option("--checkpoint-interval", type=click.FloatRange(min=0), default=3.0, show_default=True,
              metavar="SECONDS", help="Seconds between checkpoints (0: after every work unit).")
@click.option("--slice-executions", type=click.IntRange(min=1), metavar="N", hidden=True, help=SLICE_EXECUTIONS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--replay-dir", type=click.Path(file_okay=False), default=DEFAULT_REPLAY_DIR, show_default=True,
              metavar="DIR", help="Where to save replay files of violations.")
@click.option("--full-trace", is_flag=True, help="Print traces in full.")
def resume(checkpoint_file: str, jobs: int | None, cluster: str | None, timeout: float | None,
           checkpoint_interval: float, slice_executions: int | None, as_json: bool, replay_dir: str,
           full_trace: bool) -> None:
    """Continue the search saved in FILE by `rmapwalk run MODEL.py --checkpoint FILE`.

    The run may have been killed, interrupted (Ctrl-C) or stopped by --timeout: the resumed
    search ends with exactly the totals of an uninterrupted run, prints what `run` prints and
    goes on saving its progress to FILE.  The model file must be unchanged.  Exit status as
    for `run`; 2 for a missing, corrupt or foreign FILE.
    """
    path_box: list[str | None] = [None]

    def body() -> int:
        from rmapwalk.engine.checkpoint import CheckpointError, load_checkpoint, resume_search

        shown = show_path(checkpoint_file)
        try:
            state = load_checkpoint(checkpoint_file)
        except CheckpointError as e:
            raise Fail(str(e).replace(checkpoint_file, shown, 1)) from None
        config = state["config"]
        src = config.source
        if src.path is None:
            raise Fail(f"{shown}: the checkpoint's program is not from a model file")
        if config.model not in MODELS:
            raise Fail(f"{shown}: bad checkpoint: unknown memory model {config.model!r}")
        path_box[0] = src.path
        if not os.path.isfile(src.path):
            raise Fail(f"{shown}: the model file {src.path} it was saved from does not exist")
        loaded = load_model(src.path, src.name, src.symbol)
        if src.sha256 is not None and loaded.sha256 != src.sha256:
            raise Fail(f"{shown}: {show_path(src.path)} changed since the checkpoint was saved; "
                       "start the search again with `rmapwalk run`")
        prog = loaded.program
        if state.get("program") not in (None, prog.name):
            raise Fail(f"{shown}: the checkpoint is of program {state['program']!r}, not {prog.name!r}")
        try:
            search = resume_search(state, prog, jobs=_jobs(jobs), cluster=cluster, timeout=timeout,
                                   slice_executions=slice_executions, checkpoint=_checkpointer(checkpoint_file),
                                   checkpoint_interval=checkpoint_interval)
        except CheckpointError as e:
            raise Fail(f"{shown}: {e}") from None
        result = _explore(_Guarded(search, checkpoint_file))
        max_events = config.max_events
        for n, v in enumerate(result.violations, 1):
            record = replay_record(v, prog, loaded.path, loaded.sha256, loaded.symbol, max_events)
            save_violation(v, prog, record, max_events,
                            os.path.join(replay_dir, f"{safe_name(prog.name)}-{result.model}-{n}.json"), as_json)
        if as_json:
            obj = jsonout.run_json(result, source=loaded.path, program_symbol=loaded.symbol, max_events=max_events)
            click.echo(jsonout.dumps(obj))
        else:
            click.echo(text.run_text(result, source=show_path(loaded.path), prog=prog,
                                     shown=result.violations, full_trace=full_trace))
        return EXIT_FOR_VERDICT.get(result.verdict, EXIT_ERROR)

    _guard(body, lambda: path_box[0])


# -- replay -------------------------------------------------------------------------------------
_REQUIRED = {"format": str, "program": str, "model": str, "threads": list, "co": list, "source": str}


def read_replay(file: str) -> dict[str, Any]:
    """Load and check a replay file; every problem is a one-line :class:`Fail`."""
    shown = show_path(file)
    try:
        with open(file, encoding="utf-8") as f:
            raw = f.read()
    except FileNotFoundError:
        raise Fail(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise Fail(f"{shown}: is a directory, not a replay file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise Fail(f"{shown}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise Fail(f"{shown}:{e.lineno}: not a replay file: invalid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise Fail(f"{shown}: not a replay file (expected a JSON object)")
    if data.get("format") != FORMAT:
        raise Fail(f"{shown}: not an rmapwalk replay file (format {data.get('format')!r}, expected {FORMAT!r})")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise Fail(f"{shown}: bad replay file: missing {', '.join(missing)}")
    for k, typ in _REQUIRED.items():
        if not isinstance(data[k], typ):
            raise Fail(f"{shown}: bad replay file: {k!r} should be a {typ.__name__}")
    if data["model"].lower() not in MODELS:
        raise Fail(f"{shown}: bad replay file: unknown memory model {data['model']!r}")
    me = data.get("max_events", DEFAULT_MAX_EVENTS)
    if not isinstance(me, int) or isinstance(me, bool) or me < 1:
        raise Fail(f"{shown}: bad replay file: 'max_events' should be a positive integer")
    v = data.get("violation")
    if v is not None and not isinstance(v, dict):
        raise Fail(f"{shown}: bad replay file: 'violation' should be an object")
    return data


@main.command()
@click.argument("replay_file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--full-trace", is_flag=True,
              help=f"Print the trace in full (longer than {text.TRACE_ROWS} steps it is shortened).")
@_output_options
def replay(replay_file: str, as_json: bool, full_trace: bool) -> None:
    """Show again the violation saved in FILE (written by `rmapwalk run`).

    Re-imports the model file the replay names (for `check kvm`: rebuilds the KVM scenario
    from its name and switch values), rebuilds the exact execution and prints the same trace
    `run` (or `check kvm`) printed.  Warns if the model file changed since.  Exit status 1.
    """
    path_box: list[str | None] = [None]

    def body() -> int:
        data = read_replay(replay_file)
        shown = show_path(replay_file)
        source = data["source"]
        if not os.path.isabs(source):
            source = os.path.join(os.path.dirname(os.path.abspath(replay_file)), source)
        path_box[0] = source
        is_kvm = isinstance(data.get("kvm"), dict)
        if not os.path.isfile(source) and not is_kvm:
            raise Fail(f"{shown}: the model file {source} it was recorded from does not exist")
        changed = False
        if (isinstance(data.get("sha256"), str) and os.path.isfile(source)
                and file_sha256(source) != data["sha256"]):
            changed = True
            warn(f"{show_path(source)} changed since {shown} was recorded; the replay may not match")
        if is_kvm:
            program = kvm_program_from_replay(data, shown)
        elif isinstance(data.get("litmus"), dict):
            program = litmus_program_from_replay(source, shown)
        else:
            sym = data.get("program_symbol")
            program = load_model(source, data["program"], sym if isinstance(sym, str) else None).program
        max_events = int(data.get("max_events", DEFAULT_MAX_EVENTS))
        try:
            trace = trace_of(program, data, max_events, "columns" if as_json else None)
        except ReplayError as e:
            hint = " (the model file changed)" if changed else ""
            raise Fail(f"{shown}: the replay does not match the model{hint}: {e}") from None
        except ModelError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            hint = " (the model file changed?)" if changed else ""
            raise Fail(f"{shown}: malformed replay data{hint}: {exception_text(e)}") from None
        write_views(program, data, max_events, source, show_path(replay_file))
        v = data.get("violation") or {}
        kind = str(v.get("kind") or "violation")
        message = str(v.get("message") or "")
        thread = v.get("thread") if isinstance(v.get("thread"), str) else None
        where = v.get("where") if isinstance(v.get("where"), str) else None
        if as_json:
            obj = jsonout.replay_json(data, trace=trace, replay_file=os.path.abspath(replay_file),
                                      source=source, changed=changed)
            if isinstance(data.get("mutation"), dict):
                obj["mutation"] = data["mutation"]
            click.echo(jsonout.dumps(obj))
        else:
            if isinstance(data.get("mutation"), dict):
                from rmapwalk.mutate import describe_mutation

                click.echo(f"mutant: {describe_mutation(data['mutation'])}")
            click.echo(text.violation_block(kind, message, trace, thread, where, full_trace))
        return EXIT_VIOLATED

    _guard(body, lambda: path_box[0])


# -- the KVM model: scenarios, check kvm, review ------------------------------------------------
def _scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise Fail(f"unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def _memory_model(name: str) -> str:
    m = name.lower()
    if m not in MODELS:
        raise Fail(f"unknown memory model {name!r}; valid models: {', '.join(MODELS)}")
    return m


def parse_sets(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` switch settings, validated against the switch table (one-line ``Fail``s)."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise Fail(f"--set {item!r}: expected KEY=VALUE; valid switches: {', '.join(SWITCHES)}")
        sw = SWITCHES.get(key)
        if sw is None:
            raise Fail(f"unknown switch {key!r}; valid switches: {', '.join(SWITCHES)}")
        val: Any = value
        if sw.values is None:
            try:
                val = int(value, 0)
            except ValueError:
                raise Fail(f"switch {key}: {value!r} is not an int ({sw.allowed})") from None
        try:
            out[key] = sw.validate(val)
        except ValueError as e:
            raise Fail(str(e)) from None
    return out


def kvm_switches(sc: Scenario, preset: str | None, sets: dict[str, Any]) -> Switches:
    """The switches of a ``check kvm`` run: the scenario's base over the preset, then the sets."""
    base = None
    if preset is not None:
        try:
            base = preset_switches(preset)
        except ValueError as e:
            raise Fail(str(e)) from None
    try:
        return sc.switches(base, **sets)
    except ValueError as e:
        raise Fail(str(e)) from None


def scenario_source(sc: Scenario) -> str:
    """The file defining ``sc`` (recorded in replay files to notice later edits)."""
    try:
        f = inspect.getsourcefile(sc.build_fn)
    except TypeError:
        f = None
    return os.path.abspath(f or inspect.getfile(scenarios_pkg))


def kvm_program_from_replay(data: dict[str, Any], shown: str) -> Program:
    """Rebuild the scenario program a ``check kvm`` replay file was recorded from."""
    k = data["kvm"]
    name = k.get("scenario")
    if not isinstance(name, str):
        raise Fail(f"{shown}: bad replay file: 'kvm.scenario' should be a string")
    if name not in SCENARIOS:
        raise Fail(f"{shown}: unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}")
    values = k.get("switches")
    if not isinstance(values, dict):
        raise Fail(f"{shown}: bad replay file: 'kvm.switches' should be an object")
    try:
        sw = Switches.from_dict(values)
    except ValueError as e:
        raise Fail(f"{shown}: bad replay file: {e}") from None
    return SCENARIOS[name].build(sw)


@main.command("scenarios")
def scenarios_cmd() -> None:
    """List the KVM scenarios, each with the review question it answers."""
    w = max((len(n) for n in SCENARIOS), default=0)
    for name, sc in SCENARIOS.items():
        races = f" [{', '.join(sc.races)}]" if sc.races else ""
        click.echo(f"{name.ljust(w)}  {one_line(sc.question)}{races}")


@main.command("switches")
@click.option("--markdown", is_flag=True, help="Print docs/switches.md (Markdown).")
def switches_cmd(markdown: bool) -> None:
    """List the design switches of the KVM model (values, default, meaning) and the presets."""
    if markdown:
        click.echo(switches_markdown(), nl=False)
        return
    click.echo(switch_table())
    click.echo("")
    for p in PRESETS.values():
        click.echo(f"preset {p.name}: {p.doc}")


@main.group()
def check() -> None:
    """Check a built-in model (`rmapwalk check kvm --scenario NAME`)."""


@check.command("kvm", epilog="Switches (KEY = values (default): meaning):\n\n" + "\n\n".join(
    f"{s.name} = {' | '.join(s.values) if s.values else s.allowed} ({s.default})" for s in SWITCHES.values()))
@click.option("--scenario", "scenario_name", required=True, metavar="NAME",
              help="The scenario to check (`rmapwalk scenarios` lists them).")
@click.option("--preset", metavar="P", help=f"Switch values to start from: {', '.join(PRESETS)} "
              "(default: the switch table's defaults, i.e. 3.11); the scenario's own base values apply on top.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set one switch (repeatable).")
@click.option("--model", "-m", "memory_model", default="sc", show_default=True, metavar="MODEL",
              help=f"Memory model: {', '.join(MODELS)}.")
@_exploration_options
@_output_options
@_scale_options
def check_kvm(scenario_name: str, preset: str | None, sets: tuple[str, ...], memory_model: str, as_json: bool,
              max_executions: int | None, max_events: int, timeout: float | None, all_violations: bool,
              stop_on_first: bool, replay_dir: str, full_trace: bool) -> None:
    """Explore every execution of a KVM scenario under some switch values and a memory model.

    Exit status as for `run`: 0 holds, 1 violated, 2 bad input, 3 incomplete.  Each violation
    shown is saved for `rmapwalk replay`, which rebuilds the scenario from its name and switches.
    """

    def body() -> int:
        sc = _scenario(scenario_name)
        model = _memory_model(memory_model)
        sw = kvm_switches(sc, preset, parse_sets(sets))
        prog = sc.build(sw)
        opts = Options(max_executions=max_executions, timeout=timeout, max_events=max_events,
                       stop_on_first=stop_on_first,
                       keep_violations=sys.maxsize if all_violations else 1)
        from rmapwalk.engine.workunit import ProgramSource

        workers_source = ProgramSource(module="rmapwalk.kvm.scenarios", function="scenario_program",
                                       args=(sc.name, sw.as_dict()))
        result = _explore(_search(prog, None, model, opts, as_json, source=workers_source))
        source = scenario_source(sc)
        sha = file_sha256(source)
        digest = hashlib.sha1(json.dumps(sw.as_dict(), sort_keys=True).encode()).hexdigest()[:8]
        for n, v in enumerate(result.violations, 1):
            record = replay_record(v, prog, source, sha, "", max_events)
            del record["program_symbol"]
            record["kvm"] = {"scenario": sc.name, "preset": preset, "switches": sw.as_dict()}
            save_violation(v, prog, record, max_events, os.path.join(
                replay_dir, f"kvm-{safe_name(sc.name)}-{digest}-{result.model}-{n}.json"), as_json)
        if as_json:
            obj = {
                "scenario": sc.name,
                "question": sc.question,
                "races": list(sc.races),
                "preset": preset,
                "switches": sw.as_dict(),
                "model": result.model,
                "verdict": result.verdict,
                "violations": [v.as_json() for v in result.violations],
                "violation_count": result.violation_count,
                "property_counts": dict(sorted(result.property_counts.items())),
                "executions": result.stats.executions,
                "blocked": result.stats.blocked,
                "seconds": round(result.stats.seconds, 6),
                "incomplete_reason": result.incomplete_reason,
                "program": result.program,
                "max_events": max_events,
            }
            click.echo(jsonout.dumps(obj))
        else:
            click.echo(f"scenario {sc.name}: {one_line(sc.question)}")
            click.echo(f"preset {preset or '(none: switch defaults)'}; switches: {sw.describe()}")
            click.echo(text.run_text(result, source=f"scenario {sc.name}", prog=prog,
                                     shown=result.violations, full_trace=full_trace))
        return EXIT_FOR_VERDICT.get(result.verdict, EXIT_ERROR)

    _guard(body, lambda: None)


@main.command("review")
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
@click.option("--mutations", is_flag=True,
              help="Add the mutation table (`rmapwalk mutate kvm` under these models and LKMM).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), is_flag=False, flag_value=0, default=None, metavar="N",
              help="With --mutations: worker processes (--jobs alone or 0: one per core).")
def review_cmd(markdown: bool, html_file: str | None, models_text: str | None, scenario_names: tuple[str, ...],
               max_executions: int | None, timeout: float | None, traces: str, layout: str, width: int | None,
               full_trace: bool, verbose: bool, verbose_compat: bool, mutations: bool, jobs: int | None) -> None:
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
            asked = [_memory_model(m.strip()) for m in models_text.split(",") if m.strip()]
            if not asked:
                raise Fail(f"--models: no model given; valid models: {', '.join(MODELS)}")
            asked = list(dict.fromkeys(asked))
        try:
            chosen = review.select(scenario_names)
        except ValueError as e:
            raise Fail(str(e)) from None
        t0 = time.perf_counter()
        plan = review.plan(chosen, asked)
        models = asked if asked is not None else review.planned_models(plan)
        with progress.RunsProgress(len(plan), enabled=progress.wanted()) as bar:
            def show(r: review.Run) -> None:
                bar.advance(r.executions)
                if verbose or verbose_compat:
                    bar.note(review_text.summary_line(r))

            runs = review.run_review(chosen, asked, max_executions=max_executions, timeout=timeout,
                                     progress=show, starting=lambda sc, st, m: bar.start(
                                         f"{sc.name} [{review.describe_settings(st)}] @{m}"))
        total = time.perf_counter() - t0
        mut = None
        if mutations:
            mut = review.run_mutations(chosen, asked or list(review.DEFAULT_MODELS), jobs=_jobs(jobs), progress=(
                (lambda line: click.echo(f"rmapwalk: review: mutate: {line}", err=True))
                if verbose or verbose_compat else None))
        if markdown:
            click.echo(review.markdown_report(runs, chosen, total, asked, mut), nl=False)
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

    _guard(body, lambda: None)


if __name__ == "__main__":  # pragma: no cover
    main()


def litmus_program_from_replay(source: str, shown: str) -> Program:
    """The engine program of the litmus test a `litmus --trace` replay was recorded from."""
    from rmapwalk.litmus.engine_bridge import to_program
    from rmapwalk.litmus.macros import BUILTIN, expand
    from rmapwalk.litmus.parser import LitmusError, parse_file

    try:
        return to_program(expand(parse_file(source), BUILTIN), witness=True, unroll=2)
    except LitmusError as e:
        raise Fail(f"{shown}: the litmus test it was recorded from no longer loads: {e}") from None


main.add_command(litmus)
main.add_command(mutate_cmd)
