"""``rmapwalk check kvm``: explore a KVM scenario under some switch values and a memory model."""

from __future__ import annotations

import hashlib
import json
import os
import sys

import click

from rmapwalk.cli.common import (
    EXIT_ERROR,
    EXIT_FOR_VERDICT,
    guard,
    model_name,
    one_line,
    replay_record,
    safe_name,
    save_violation,
)
from rmapwalk.cli.kvm import find_scenario, kvm_switches, parse_sets, scenario_source
from rmapwalk.cli.options import exploration_options, output_options, scale_options
from rmapwalk.cli.search import explore, search
from rmapwalk.engine.explore import DEFAULT_LB_SEARCH, Options
from rmapwalk.engine.models import MODELS
from rmapwalk.kvm.presets import PRESETS
from rmapwalk.kvm.switches import SWITCHES
from rmapwalk.loader import file_sha256
from rmapwalk.report import jsonout, text


@click.group()
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
@exploration_options
@output_options
@scale_options
def check_kvm(scenario_name: str, preset: str | None, sets: tuple[str, ...], memory_model: str, as_json: bool,
              max_executions: int | None, max_events: int, timeout: float | None, all_violations: bool,
              stop_on_first: bool, replay_dir: str, full_trace: bool) -> None:
    """Explore every execution of a KVM scenario under some switch values and a memory model.

    Exit status as for `run`: 0 holds, 1 violated, 2 bad input, 3 incomplete.  Each violation
    shown is saved for `rmapwalk replay`, which rebuilds the scenario from its name and switches.
    """

    def body() -> int:
        sc = find_scenario(scenario_name)
        model = model_name(memory_model)
        sw = kvm_switches(sc, preset, parse_sets(sets))
        prog = sc.build(sw)
        opts = Options(max_executions=max_executions, timeout=timeout, max_events=max_events,
                       stop_on_first=stop_on_first,
                       keep_violations=sys.maxsize if all_violations else 1, lb_search=DEFAULT_LB_SEARCH)
        from rmapwalk.engine.workunit import ProgramSource

        workers_source = ProgramSource(module="rmapwalk.kvm.scenarios", function="scenario_program",
                                       args=(sc.name, sw.as_dict()))
        result = explore(search(prog, None, model, opts, as_json, source=workers_source))
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
                "lb_search": result.lb_search,
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

    guard(body, lambda: None)


