"""``rmapwalk resume FILE``: continue a search checkpointed by ``rmapwalk run --checkpoint FILE``."""

from __future__ import annotations

import os

import click

from rmapwalk.cli.common import (
    EXIT_ERROR,
    EXIT_FOR_VERDICT,
    Fail,
    guard,
    replay_record,
    safe_name,
    save_violation,
)
from rmapwalk.cli.options import DEFAULT_REPLAY_DIR, SLICE_EXECUTIONS_HELP
from rmapwalk.cli.search import GuardedSearch, checkpointer, explore, worker_count
from rmapwalk.engine.models import MODELS
from rmapwalk.loader import load_model, show_path
from rmapwalk.report import jsonout, text


@click.command()
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
            search = resume_search(state, prog, jobs=worker_count(jobs), cluster=cluster, timeout=timeout,
                                   slice_executions=slice_executions, checkpoint=checkpointer(checkpoint_file),
                                   checkpoint_interval=checkpoint_interval)
        except CheckpointError as e:
            raise Fail(f"{shown}: {e}") from None
        result = explore(GuardedSearch(search, checkpoint_file))
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

    guard(body, lambda: path_box[0])


