"""``rmapwalk run MODEL.py``: explore every execution of a model file's program and check its properties."""

from __future__ import annotations

import os
import sys

import click

from rmapwalk.cli.common import EXIT_ERROR, EXIT_FOR_VERDICT, guard, replay_record, safe_name, save_violation
from rmapwalk.cli.options import exploration_options, output_options, scale_options
from rmapwalk.cli.search import explore, search
from rmapwalk.engine.explore import DEFAULT_LB_SEARCH, Options
from rmapwalk.engine.models import MODELS
from rmapwalk.loader import load_model, show_path
from rmapwalk.report import jsonout, text


@click.command()
@click.argument("model_file", metavar="MODEL.py")
@click.option("--model", "-m", "memory_model", type=click.Choice(list(MODELS), case_sensitive=False),
              default="sc", show_default=True, help="Memory model to explore under.")
@click.option("--program", "-p", "program_name", metavar="NAME",
              help="Which program of the file to check (its name or variable name).")
@exploration_options
@output_options
@scale_options
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
            lb_search=DEFAULT_LB_SEARCH,
        )
        result = explore(search(prog, loaded, memory_model.lower(), opts, as_json))
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

    guard(body, lambda: path_box[0])


