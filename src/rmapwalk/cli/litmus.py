"""``rmapwalk litmus``: herd7-compatible runs of C litmus tests.

Output is herd7's, test after test, so the kernel's scripts that read herd7 output
read ours; ``--json`` prints one JSON object per test instead (JSON Lines).  A test
that does not parse or uses something unsupported is reported on stderr as
``FILE:LINE:COL: message``; the other tests still run, and the exit status is 2.
"""

from __future__ import annotations

import json
import os
import sys

import click

from rmapwalk.litmus.candidates import SPEEDCHECK_MODES, LitmusResult
from rmapwalk.litmus.herdout import herd_lines, json_record
from rmapwalk.litmus.parser import LitmusError
from rmapwalk.litmus.runner import (
    ENGINE_MODELS,
    LB_SEARCHES,
    LitmusInputError,
    ModelSpec,
    litmus_files,
    load_test,
    model_setup_error,
    run_test,
)

EXIT_OK = 0
EXIT_ERROR = 2
TRACE_MAX_EVENTS = 1000


def _one(args: tuple[str, ModelSpec, str | None, str]) -> tuple[LitmusResult, str | None] | str:
    path, spec, trace_dir, speedcheck = args
    try:
        res = run_test(path, spec, speedcheck=speedcheck)
        return res, (_witness(path, spec, trace_dir) if trace_dir is not None else None)
    except LitmusInputError as e:
        return " ".join(str(e).split())
    except RecursionError:
        return f"{path}: the test is too deeply nested"


def _witness(path: str, spec: ModelSpec, replay_dir: str) -> str | None:
    """The engine's trace of one execution reaching the condition's outcome (``exists``), or
    breaking it (``~exists``/``forall``), with its replay file; None if there is none."""
    from rmapwalk.cli.common import replay_record, safe_name, save_violation
    from rmapwalk.engine.runtime import ModelError
    from rmapwalk.litmus.engine_bridge import run_engine
    from rmapwalk.loader import file_sha256

    assert spec.engine is not None
    test = load_test(path, spec)
    try:
        r = run_engine(test, spec.engine, witness=True, unroll=2, lb_search=spec.lb_search)
    except (LitmusError, ModelError) as e:
        return f"(no trace: {' '.join(str(e).split())})"
    if not r.result.violations:
        return None
    v = r.result.violations[0]
    record = replay_record(v, r.program, os.path.abspath(path), file_sha256(path), "", TRACE_MAX_EVENTS)
    record["litmus"] = {"file": os.path.abspath(path), "witness": True}
    os.makedirs(replay_dir, exist_ok=True)
    fname = os.path.join(replay_dir, f"{safe_name(test.name)}-{spec.engine}.json")
    save_violation(v, r.program, record, TRACE_MAX_EVENTS, fname, False)
    what = "reaches the condition" if test.condition.quantifier == "exists" else "breaks the condition"
    return (f"Witness: an execution under {spec.engine} that {what} ({v.message}):\n{v.trace}\n"
            f"replay: rmapwalk replay {v.replay_file}")


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
@click.option("--trace", "trace", is_flag=True,
              help="Engine models: after each test, the trace of an execution reaching the condition "
                   "(exists) or breaking it (~exists, forall), saved for `rmapwalk replay`.")
@click.option("--replay-dir", type=click.Path(file_okay=False), default="rmapwalk-replays", show_default=True,
              help="Where --trace saves replay files.")
@click.option("--speedcheck", type=click.Choice(SPEEDCHECK_MODES), default="auto", show_default=True,
              help="As herd7's -speedcheck: 'true' builds and counts only the executions that decide the "
                   "condition (exact verdict; Always/Never cannot be told from Sometimes), 'fast' stops "
                   "at the first, 'false' runs every execution; 'auto' is 'false' unless a cat model's test has "
                   "more than 20,000 candidate executions (engine models explore every execution).")
@click.option("--lb-search", type=click.Choice(LB_SEARCHES), default="complete", show_default=True,
              help="Engine models with load buffering (lkmm, lkmm-alpha): 'complete' finds every execution, "
                   "each counted once (herd7's counts); 'optimal' is faster on large programs and can miss "
                   "load-buffering executions (docs/design.md).")
@click.argument("paths", nargs=-1, required=True)
def litmus(memory_model: str | None, conf: str | None, cat_file: str | None, as_json: bool, jobs: int,
           no_time: bool, trace: bool, replay_dir: str, speedcheck: str, lb_search: str,
           paths: tuple[str, ...]) -> None:
    """Run C litmus tests (files or directories of *.litmus) and print herd7's output."""
    chosen = [o for o in (memory_model, conf, cat_file) if o]
    if len(chosen) > 1:
        click.echo("rmapwalk: give one of --model, --conf, --cat", err=True)
        raise SystemExit(EXIT_ERROR)
    spec = ModelSpec(engine=memory_model or (None if (conf or cat_file) else "sc"), conf=conf, cat=cat_file,
                     lb_search=lb_search)
    err = model_setup_error(spec)
    if err is not None:
        click.echo(f"rmapwalk: {' '.join(err.split())}", err=True)
        raise SystemExit(EXIT_ERROR)
    files = list(litmus_files(paths))
    if not files:
        click.echo("rmapwalk: no .litmus files in " + " ".join(paths), err=True)
        raise SystemExit(EXIT_ERROR)
    if trace and not spec.engine:
        click.echo("rmapwalk: --trace needs one of the engine's models (--model sc|tso|pso|weak)", err=True)
        raise SystemExit(EXIT_ERROR)
    work = [(f, spec, replay_dir if trace else None, speedcheck) for f in files]
    failed = False
    if jobs > 1 and len(files) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(files), os.cpu_count() or 1)) as pool:
            results = pool.map(_one, work)
            failed = _emit(results, as_json, no_time, speedcheck == "auto")
    else:
        failed = _emit(map(_one, work), as_json, no_time, speedcheck == "auto")
    raise SystemExit(EXIT_ERROR if failed else EXIT_OK)


def _emit(results: object, as_json: bool, no_time: bool, auto: bool) -> bool:
    failed = False
    for r in results:  # type: ignore[attr-defined]
        if isinstance(r, str):
            failed = True
            sys.stdout.flush()
            click.echo(f"rmapwalk: {r}", err=True)
            continue
        res, witness = r
        if auto and res.speedcheck != "false":
            sys.stdout.flush()
            click.echo(f"rmapwalk: {res.test.file or res.test.name}: too many executions to list; only those "
                       "that decide the condition were run (as herd7 -speedcheck true; --speedcheck false "
                       "runs them all)", err=True)
        if as_json:
            record = json_record(res)
            if witness is not None:
                record["witness"] = witness
            click.echo(json.dumps(record))
        else:
            click.echo("\n".join(herd_lines(res, time_line=not no_time)))
            if witness is not None:
                click.echo(witness)
            click.echo("")
        sys.stdout.flush()
    return failed
