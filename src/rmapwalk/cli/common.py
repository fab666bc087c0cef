"""What the command modules share: exit statuses, one-line errors (:func:`guard`), replay
records and files, and the violation views (``--html``, ``--dot``) written next to them.

:mod:`.options` defines the options; the output options' values live in the click context
under :data:`OUTPUT_META`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any, NoReturn

import click

from rmapwalk import __version__
from rmapwalk.engine.program import Program
from rmapwalk.engine.replay import ReplayError, rebuild
from rmapwalk.engine.result import HOLDS, INCOMPLETE, VIOLATED, Violation
from rmapwalk.engine.runtime import ModelError
from rmapwalk.loader import LoadError, exception_text, format_location, show_path, user_frame
from rmapwalk.report import dot, html, narrow

#: the key of the output options' values in ``click.Context.meta``
OUTPUT_META = "rmapwalk.output"


EXIT_HOLDS = 0
EXIT_VIOLATED = 1
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3

EXIT_FOR_VERDICT = {HOLDS: EXIT_HOLDS, VIOLATED: EXIT_VIOLATED, INCOMPLETE: EXIT_INCOMPLETE}

DEFAULT_REPLAY_DIR = "rmapwalk-replays"
DEFAULT_MAX_EVENTS = 1000


class Fail(Exception):
    """A problem to report as one line (already formatted) with exit status 2."""


# -- error reporting ------------------------------------------------------------------------------------------
def die(msg: str) -> NoReturn:
    click.echo(f"rmapwalk: {one_line(msg)}", err=True)
    raise SystemExit(EXIT_ERROR)


def model_error_text(e: ModelError, model_path: str | None) -> str:
    src = getattr(e, "src", None)
    if src is not None:
        return format_location(src.file, src.line, str(e))
    where = user_frame(e.__traceback__, prefer=model_path)
    if where is not None:
        return format_location(where[0], where[1], str(e))
    return format_location(model_path, None, str(e))


def guard(body: Callable[[], int], model_path: Callable[[], str | None]) -> NoReturn:
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
            die(str(e))
        path = model_path()
        if isinstance(e, ModelError):
            die(model_error_text(e, path))
        where = user_frame(e.__traceback__, prefer=path)
        if where is not None and path is not None:
            # code of the model (a final-state condition, a check) raised while being explored
            die(format_location(where[0], where[1], f"error in the model: {exception_text(e)}"))
        die(f"internal error: {exception_text(e)} (RMAPWALK_DEBUG=1 shows the traceback)")
    raise SystemExit(code)


def model_name(name: str) -> str:
    """The memory model ``name`` (any case) as the engine names it; a one-line :class:`Fail` if unknown."""
    from rmapwalk.engine.models import MODELS

    m = name.lower()
    if m not in MODELS:
        raise Fail(f"unknown memory model {name!r}; valid models: {', '.join(MODELS)}")
    return m


def one_line(msg: str) -> str:
    """``msg`` on one line (runs of white space, newlines included, become one space)."""
    return " ".join(msg.split())


def warn(msg: str) -> None:
    """``rmapwalk: warning: ...`` on stderr."""
    click.echo(f"rmapwalk: warning: {one_line(msg)}", err=True)


def safe_name(name: str) -> str:
    """``name`` as a file name (replay files are named after programs, tests and scenarios)."""
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


def trace_of(prog: Program, data: dict[str, Any], max_events: int, layout: str | None = None) -> str:
    """The trace text of a recorded execution (rebuilt from its replay data), in ``layout``
    (default: the running command's ``--layout``; ``columns`` outside a command, e.g. in the
    pytest plugin; JSON output passes ``columns``)."""
    with mutation_of(data):
        g = rebuild(prog, data, max_events)
    order = (data.get("violation") or {}).get("order")
    if layout is None:
        layout = output_opts().get("layout") or "columns"
    return narrow.trace_text(g, data["model"], order, layout=layout)


def mutation_of(data: dict[str, Any]) -> Any:
    """The mutation a replay record was recorded under (``rmapwalk mutate``), applied as a
    context; none for other records."""
    from rmapwalk.engine.mutation import Mutation, applied

    m = data.get("mutation")
    try:
        return applied(Mutation.from_json(m) if isinstance(m, dict) else None)
    except (KeyError, TypeError, ValueError) as e:
        raise ReplayError(f"bad mutation in the replay data: {e}") from None


def save_violation(v: Any, prog: Any, record: dict[str, Any], max_events: int, fname: str, as_json: bool) -> None:
    """Save ``v``'s replay record to ``fname`` (atomically) and set its trace and file name.

    The trace is rebuilt from the saved text, so that `rmapwalk replay` prints exactly the same."""
    content = json.dumps(record, indent=1) + "\n"
    try:
        v.trace = trace_of(prog, json.loads(content), max_events, "columns" if as_json else None)
    except (ReplayError, ModelError) as e:
        v.trace = f"(no trace: the execution could not be rebuilt: {e})"
    try:
        write_atomic(fname, content)
    except OSError as e:
        warn(f"cannot save the replay file {show_path(fname)}: {e.strerror or e}")
    else:
        v.replay_file = os.path.abspath(fname) if as_json else show_path(fname)
    write_views(prog, json.loads(content), max_events, record.get("source"), v.replay_file)


def output_opts() -> dict[str, Any]:
    """The --html/--dot/--quiet values of the running command (:func:`.options.output_options`)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(OUTPUT_META, {"written": 0}) if ctx is not None else {"written": 0}


def numbered(path: str, n: int) -> str:
    if n <= 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}-{n}{ext}"


def write_views(prog: Any, data: dict[str, Any], max_events: int, source: str | None = None,
                replay_file: str | None = None) -> None:
    """Write the --html page and --dot graph of one violation (if asked for)."""
    opts = output_opts()
    if not opts.get("html_file") and not opts.get("dot_file"):
        return
    opts["written"] += 1
    n = opts["written"]
    for key, make in (("html_file", lambda: html.html_from_replay(prog, data, max_events, source=source,
                                                                  replay_file=replay_file)),
                      ("dot_file", lambda: dot.dot_from_replay(prog, data, max_events))):
        if not opts.get(key):
            continue
        fname = numbered(opts[key], n)
        try:
            with mutation_of(data):
                content = make()
        except (ReplayError, ModelError) as e:
            warn(f"{show_path(fname)} not written: the execution could not be rebuilt: {e}")
            continue
        try:
            write_atomic(fname, content)
        except OSError as e:
            warn(f"cannot write {show_path(fname)}: {e.strerror or e}")
        else:
            if not opts.get("quiet"):
                click.echo(f"rmapwalk: wrote {show_path(fname)}", err=True)
