"""``rmapwalk litmus``: herd7-compatible runs of C litmus tests.

Output is herd7's, test after test, so the kernel's scripts that read herd7 output
read ours; ``--json`` prints one JSON object per test instead (JSON Lines).  A test
that does not parse or uses something unsupported is reported on stderr as
``FILE:LINE:COL: message``; the other tests still run, and the exit status is 2.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor

import click

from rmapwalk.litmus.candidates import LitmusResult
from rmapwalk.litmus.herdout import herd_lines, json_line
from rmapwalk.litmus.runner import ENGINE_MODELS, LitmusInputError, ModelSpec, litmus_files, model_setup_error, run_test

EXIT_OK = 0
EXIT_ERROR = 2


def _one(args: tuple[str, ModelSpec]) -> LitmusResult | str:
    path, spec = args
    try:
        return run_test(path, spec)
    except LitmusInputError as e:
        return " ".join(str(e).split())
    except RecursionError:
        return f"{path}: the test is too deeply nested"


@click.command("litmus")
@click.option("--model", "memory_model", type=click.Choice(ENGINE_MODELS), default=None,
              help="One of the engine's own models (default sc unless --conf or --cat is given).")
@click.option("--conf", type=click.Path(dir_okay=False), default=None,
              help="A herd7 configuration file, e.g. tools/memory-model/linux-kernel.cfg (as herd7 -conf).")
@click.option("--cat", "cat_file", type=click.Path(dir_okay=False), default=None,
              help="A cat model file (kernel primitives from the built-in macro table).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per test.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Tests run in this many worker processes (output stays in input order).")
@click.option("--no-time", is_flag=True, help="Leave out herd's Time line (for diffs).")
@click.argument("paths", nargs=-1, required=True)
def litmus(memory_model: str | None, conf: str | None, cat_file: str | None, as_json: bool, jobs: int,
           no_time: bool, paths: tuple[str, ...]) -> None:
    """Run C litmus tests (files or directories of *.litmus) and print herd7's output."""
    chosen = [o for o in (memory_model, conf, cat_file) if o]
    if len(chosen) > 1:
        click.echo("rmapwalk: give one of --model, --conf, --cat", err=True)
        raise SystemExit(EXIT_ERROR)
    spec = ModelSpec(engine=memory_model or (None if (conf or cat_file) else "sc"), conf=conf, cat=cat_file)
    err = model_setup_error(spec)
    if err is not None:
        click.echo(f"rmapwalk: {' '.join(err.split())}", err=True)
        raise SystemExit(EXIT_ERROR)
    files = list(litmus_files(paths))
    if not files:
        click.echo("rmapwalk: no .litmus files in " + " ".join(paths), err=True)
        raise SystemExit(EXIT_ERROR)
    work = [(f, spec) for f in files]
    failed = False
    if jobs > 1 and len(files) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(files), os.cpu_count() or 1)) as pool:
            results = pool.map(_one, work)
            failed = _emit(results, as_json, no_time)
    else:
        failed = _emit(map(_one, work), as_json, no_time)
    raise SystemExit(EXIT_ERROR if failed else EXIT_OK)


def _emit(results: object, as_json: bool, no_time: bool) -> bool:
    failed = False
    for r in results:  # type: ignore[attr-defined]
        if isinstance(r, str):
            failed = True
            sys.stdout.flush()
            click.echo(f"rmapwalk: {r}", err=True)
            continue
        if as_json:
            click.echo(json_line(r))
        else:
            click.echo("\n".join(herd_lines(r, time_line=not no_time)))
            click.echo("")
        sys.stdout.flush()
    return failed
