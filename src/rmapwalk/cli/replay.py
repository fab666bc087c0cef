"""``rmapwalk replay FILE``: show again a violation saved by ``run``, ``check kvm``, ``litmus --trace``
or ``mutate``."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

from rmapwalk.cli.common import (
    DEFAULT_MAX_EVENTS,
    EXIT_VIOLATED,
    Fail,
    guard,
    trace_of,
    warn,
    write_views,
)
from rmapwalk.cli.options import output_options
from rmapwalk.engine.models import MODELS
from rmapwalk.engine.replay import FORMAT, ReplayError
from rmapwalk.engine.runtime import ModelError
from rmapwalk.loader import exception_text, file_sha256, load_model, show_path
from rmapwalk.report import jsonout, text

if TYPE_CHECKING:
    from rmapwalk.engine.program import Program


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


@click.command()
@click.argument("replay_file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--full-trace", is_flag=True,
              help=f"Print the trace in full (longer than {text.TRACE_ROWS} steps it is shortened).")
@output_options
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
            from rmapwalk.cli.kvm import kvm_program_from_replay

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

    guard(body, lambda: path_box[0])



def litmus_program_from_replay(source: str, shown: str) -> Program:
    """The engine program of the litmus test a `litmus --trace` replay was recorded from."""
    from rmapwalk.litmus.engine_bridge import to_program
    from rmapwalk.litmus.macros import BUILTIN, expand
    from rmapwalk.litmus.parser import LitmusError, parse_file

    try:
        return to_program(expand(parse_file(source), BUILTIN), witness=True, unroll=2)
    except LitmusError as e:
        raise Fail(f"{shown}: the litmus test it was recorded from no longer loads: {e}") from None


