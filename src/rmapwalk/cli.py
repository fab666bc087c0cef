"""The ``rmapwalk`` command: check a model file, replay a saved violation.

Exit status: 0 the properties hold, 1 a violation was found (``replay``: always, it shows one),
2 bad input (missing file, a model that does not load or raises, bad options, a bad replay file)
or an internal error, 3 the exploration stopped before it was complete.

Every problem is reported as one line on stderr, ``rmapwalk: FILE:LINE: message``; set
``RMAPWALK_DEBUG=1`` to get the Python traceback as well.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import Any, NoReturn

import click

from rmapwalk import __version__
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.engine.models import MODELS
from rmapwalk.engine.program import Program
from rmapwalk.engine.replay import FORMAT, ReplayError, rebuild
from rmapwalk.engine.result import HOLDS, INCOMPLETE, VIOLATED, Violation
from rmapwalk.engine.runtime import ModelError
from rmapwalk.engine.trace import render
from rmapwalk.loader import (
    LoadError,
    exception_text,
    file_sha256,
    format_location,
    load_model,
    show_path,
    user_frame,
)
from rmapwalk.report import jsonout, text

EXIT_HOLDS = 0
EXIT_VIOLATED = 1
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3

EXIT_FOR_VERDICT = {HOLDS: EXIT_HOLDS, VIOLATED: EXIT_VIOLATED, INCOMPLETE: EXIT_INCOMPLETE}

DEFAULT_REPLAY_DIR = "rmapwalk-replays"
DEFAULT_MAX_EVENTS = 1000


class Fail(Exception):
    """A problem to report as one line (already formatted) with exit status 2."""


# -- error reporting ---------------------------------------------------------------------------
def _one_line(msg: str) -> str:
    return " ".join(msg.split())


def _warn(msg: str) -> None:
    click.echo(f"rmapwalk: warning: {_one_line(msg)}", err=True)


def _die(msg: str) -> NoReturn:
    click.echo(f"rmapwalk: {_one_line(msg)}", err=True)
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


# -- replay files -------------------------------------------------------------------------------
def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._") or "program"


def write_atomic(path: str, content: str) -> None:
    """Write ``content`` to ``path`` so that readers see the old file or the whole new one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def replay_record(v: Violation, prog: Program, source: str, sha256: str, symbol: str,
                  max_events: int) -> dict[str, Any]:
    """What a replay file holds: the engine's replay data plus where the model is."""
    data = dict(v.replay)
    data["violation"] = {
        **dict(data.get("violation") or {}),
        "kind": v.kind,
        "message": v.message,
        "thread": v.thread,
        "where": v.where,
    }
    data["program"] = prog.name
    data["program_symbol"] = symbol
    data["source"] = source
    data["sha256"] = sha256
    data["max_events"] = max_events
    data["rmapwalk_version"] = __version__
    return data


def trace_of(prog: Program, data: dict[str, Any], max_events: int) -> str:
    """The trace text of a recorded execution (rebuilt from its replay data)."""
    g = rebuild(prog, data, max_events)
    return render(g, data["model"], order=(data.get("violation") or {}).get("order"))


# -- the command group --------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rmapwalk")
def main() -> None:
    """rmapwalk: a stateless model checker for lockless kernel code.

    A model file is a Python file that defines rmapwalk Program objects (or a function
    program() returning one).  `rmapwalk run MODEL.py` explores every execution of it under a
    memory model; a violation is saved as a replay file that `rmapwalk replay FILE` shows again.

    Exit status: 0 holds, 1 violated, 2 bad input or internal error, 3 incomplete.
    """


@main.command()
@click.argument("model_file", metavar="MODEL.py")
@click.option("--model", "-m", "memory_model", type=click.Choice(list(MODELS), case_sensitive=False),
              default="sc", show_default=True, help="Memory model to explore under.")
@click.option("--program", "-p", "program_name", metavar="NAME",
              help="Which program of the file to check (its name or variable name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--max-executions", type=click.IntRange(min=1), metavar="N",
              help="Stop after N executions (the verdict is then incomplete unless violated).")
@click.option("--max-events", type=click.IntRange(min=1), default=DEFAULT_MAX_EVENTS, show_default=True,
              metavar="N", help="Per-thread event bound (catches loops that never end).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop exploring after this many seconds.")
@click.option("--all-violations", is_flag=True, help="Keep, save and print every violation, not just the first.")
@click.option("--stop-on-first", is_flag=True, help="Stop exploring at the first violation.")
@click.option("--replay-dir", type=click.Path(file_okay=False), default=DEFAULT_REPLAY_DIR, show_default=True,
              metavar="DIR", help="Where to save replay files of violations.")
@click.option("--full-trace", is_flag=True,
              help=f"Print traces in full (longer than {text.TRACE_ROWS} steps they are shortened).")
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
        result = Explorer(prog, memory_model.lower(), opts).run()
        for n, v in enumerate(result.violations, 1):
            record = replay_record(v, prog, loaded.path, loaded.sha256, loaded.symbol, max_events)
            content = json.dumps(record, indent=1) + "\n"
            try:  # from the saved text, so that `replay` prints exactly the same trace
                v.trace = trace_of(prog, json.loads(content), max_events)
            except (ReplayError, ModelError) as e:
                v.trace = f"(no trace: the execution could not be rebuilt: {e})"
            fname = os.path.join(replay_dir, f"{_safe_name(prog.name)}-{result.model}-{n}.json")
            try:
                write_atomic(fname, content)
            except OSError as e:
                _warn(f"cannot save the replay file {show_path(fname)}: {e.strerror or e}")
            else:
                v.replay_file = os.path.abspath(fname) if as_json else show_path(fname)
        if as_json:
            obj = jsonout.run_json(result, source=loaded.path, program_symbol=loaded.symbol,
                                   max_events=max_events)
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
def replay(replay_file: str, as_json: bool, full_trace: bool) -> None:
    """Show again the violation saved in FILE (written by `rmapwalk run`).

    Re-imports the model file the replay names, rebuilds the exact execution and prints the
    same trace `run` printed.  Warns if the model file changed since.  Exit status 1.
    """
    path_box: list[str | None] = [None]

    def body() -> int:
        data = read_replay(replay_file)
        shown = show_path(replay_file)
        source = data["source"]
        if not os.path.isabs(source):
            source = os.path.join(os.path.dirname(os.path.abspath(replay_file)), source)
        path_box[0] = source
        if not os.path.isfile(source):
            raise Fail(f"{shown}: the model file {source} it was recorded from does not exist")
        changed = False
        if isinstance(data.get("sha256"), str) and file_sha256(source) != data["sha256"]:
            changed = True
            _warn(f"{show_path(source)} changed since {shown} was recorded; the replay may not match")
        sym = data.get("program_symbol")
        loaded = load_model(source, data["program"], sym if isinstance(sym, str) else None)
        max_events = int(data.get("max_events", DEFAULT_MAX_EVENTS))
        try:
            trace = trace_of(loaded.program, data, max_events)
        except ReplayError as e:
            hint = " (the model file changed)" if changed else ""
            raise Fail(f"{shown}: the replay does not match the model{hint}: {e}") from None
        except ModelError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            hint = " (the model file changed?)" if changed else ""
            raise Fail(f"{shown}: malformed replay data{hint}: {exception_text(e)}") from None
        v = data.get("violation") or {}
        kind = str(v.get("kind") or "violation")
        message = str(v.get("message") or "")
        thread = v.get("thread") if isinstance(v.get("thread"), str) else None
        where = v.get("where") if isinstance(v.get("where"), str) else None
        if as_json:
            obj = jsonout.replay_json(data, trace=trace, replay_file=os.path.abspath(replay_file),
                                      source=source, changed=changed)
            click.echo(jsonout.dumps(obj))
        else:
            click.echo(text.violation_block(kind, message, trace, thread, where, full_trace))
        return EXIT_VIOLATED

    _guard(body, lambda: path_box[0])


if __name__ == "__main__":  # pragma: no cover
    main()
