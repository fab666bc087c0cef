"""Text reports: the summary ``rmapwalk run`` prints, and the violation block ``replay`` reprints."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from rmapwalk.engine.program import Final, Program
from rmapwalk.engine.result import HOLDS, INCOMPLETE, VIOLATED, Result, Violation

Outcome = tuple[tuple[str, Any], ...]


def fmt_value(v: Any) -> str:
    """A value as the traces show it (large ints in hex)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1 << 16:
        return hex(v)
    return repr(v)


def sorted_outcomes(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """Outcomes in a stable, natural order (by value where values compare, else by text)."""
    items = list(outcomes)
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


# -- violations ------------------------------------------------------------------------------
def violation_header(kind: str, message: str, thread: str | None = None, where: str | None = None) -> str:
    """One line naming the property that failed, where, and the engine's message."""
    head = f"violation: {kind}"
    if thread:
        head += f" in thread {thread}"
    if where:
        file, _, line = where.rpartition(":")
        short = f"{os.path.basename(file)}:{line}" if file else where
        if short not in message:
            head += f" at {short}"
    msg = " ".join(message.split())
    return f"{head}: {msg}" if msg else head


#: a trace longer than this many steps is shown as its beginning and its end
TRACE_ROWS = 120


def elide_trace(trace: str, max_rows: int = TRACE_ROWS) -> str:
    """``trace`` (a table from :func:`rmapwalk.engine.trace.render`: two header lines, then one
    line per step; or a narrow trace, :mod:`rmapwalk.report.narrow`) with the middle steps left
    out when there are more than ``max_rows``."""
    from rmapwalk.report import narrow

    if narrow.is_narrow(trace):
        return narrow.elide(trace, max_rows)
    lines = trace.split("\n")
    head, rows = lines[:2], lines[2:]
    if len(rows) <= max_rows:
        return trace
    keep = max(max_rows // 2, 1)
    skipped = len(rows) - 2 * keep
    mark = f"... {skipped} steps not shown (--full-trace shows them) ..."
    return "\n".join(head + rows[:keep] + [mark] + rows[-keep:])


def violation_block(kind: str, message: str, trace: str, thread: str | None = None,
                    where: str | None = None, full: bool = False) -> str:
    """The header line and the trace: exactly what ``rmapwalk replay`` prints for a violation.

    Long traces are shortened (see :func:`elide_trace`) unless ``full``.
    """
    body = trace if full else elide_trace(trace)
    return violation_header(kind, message, thread, where) + "\n" + body


def replay_hint(replay_file: str | None) -> str:
    if replay_file is None:
        return "replay: (not saved)"
    return f"replay: rmapwalk replay {shlex.quote(replay_file)}"


# -- summary ---------------------------------------------------------------------------------
def header(program: str, source: str, model: str) -> str:
    return f"program {program} ({source}), model {model}"


def verdict_line(result: Result) -> str:
    if result.verdict == HOLDS:
        return "verdict: holds"
    if result.verdict == VIOLATED:
        n = result.violation_count
        text = f"verdict: VIOLATED ({n} violation{'s' if n != 1 else ''})"
        if result.incomplete_reason:
            text += f"; exploration incomplete: {result.incomplete_reason}"
        return text
    if result.verdict == INCOMPLETE:
        return f"verdict: INCOMPLETE: {result.incomplete_reason or 'the exploration stopped early'}"
    return f"verdict: {result.verdict}"  # pragma: no cover - no other verdicts exist


def executions_per_second(result: Result) -> float:
    s = result.stats
    return s.executions / s.seconds if s.seconds > 0 else 0.0


def stats_lines(result: Result) -> list[str]:
    s = result.stats
    rows: list[tuple[str, str]] = [
        ("complete executions", str(s.complete)),
        ("blocked executions", str(s.blocked)),
        ("violations", str(result.violation_count)),
    ]
    if s.moot:  # (waits a later write would end: not explored on, or not counted as blocked)
        rows.insert(2, ("waits superseded (moot)", str(s.moot)))
    for prop, n in sorted(result.property_counts.items()):
        rows.append((f"  {prop}", str(n)))
    if s.bounded:
        rows.append(("executions over the event bound", str(s.bounded)))
    if s.redundant:
        rows.append(("redundant executions", str(s.redundant)))
    if result.lb_search == "optimal":
        rows.append(("load-buffering search", "optimal (it can miss executions: --lb-search complete)"))
    elif result.lb_search:
        rows.append(("load-buffering search", result.lb_search))
    rows += [
        ("events", str(s.events)),
        ("seconds", f"{s.seconds:.3f}"),
        ("executions/s", f"{executions_per_second(result):.0f}"),
    ]
    w = max(len(k) for k, _ in rows)
    return ["statistics:"] + [f"  {k.ljust(w)}  {v}" for k, v in rows]


def _failed_conditions(prog: Program | None, outcome: Outcome) -> list[str]:
    if prog is None:
        return []
    final = Final(dict(outcome))
    failed = []
    for c in prog.conditions:
        if c.kind not in ("forbid", "require"):
            continue
        try:
            sat = bool(c.pred(final))
        except Exception:  # it ran fine during the exploration; never let a report crash
            continue
        if (c.kind == "forbid") == sat:
            failed.append(c.name)
    return failed


def outcome_table(result: Result, prog: Program | None = None) -> str:
    """Every final state reached, one row each, with how many executions reached it.

    With ``prog``, a row that fails one of its final-state conditions names it.
    """
    outs = sorted_outcomes(result.outcomes)
    n = len(outs)
    title = f"outcomes ({n} distinct):" if n else "outcomes: none (no execution completed)"
    if result.untabled:
        title = (f"outcomes ({n} tabled, the least; {result.untabled} more executions reached outcomes not "
                 "tabled, --all-outcomes tables every one):")
    if not outs:
        return title
    cols: list[str] = []
    for o in outs:
        for k, _ in o:
            if k not in cols:
                cols.append(k)
    regs = sorted(c for c in cols if ":" in c)
    mem = [c for c in cols if ":" not in c]
    cols = regs + mem
    header = ["count"] + cols
    rows: list[list[str]] = []
    notes: list[str] = []
    for o in outs:
        d = dict(o)
        rows.append([str(result.outcomes[o])] + [fmt_value(d[c]) if c in d else "-" for c in cols])
        failed = _failed_conditions(prog, o)
        notes.append(f"<- {', '.join(failed)}" if failed else "")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(cells: Sequence[str], note: str = "") -> str:
        first = cells[0].rjust(widths[0])
        rest = [c.ljust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        text = "  " + "  ".join([first] + rest)
        return (text + "  " + note if note else text).rstrip()

    out = [title, line(header)]
    out += [line(r, note) for r, note in zip(rows, notes, strict=True)]
    return "\n".join(out)


def exists_lines(result: Result) -> list[str]:
    return [f"exists {name!r}: {'reachable' if ok else 'NOT reachable'}" for name, ok in result.exists.items()]


def run_text(result: Result, *, source: str, prog: Program | None = None,
             shown: Sequence[Violation] = (), full_trace: bool = False) -> str:
    """The whole report of ``rmapwalk run``.

    ``shown`` are the violations to print in full; each must have ``trace`` (and, if it was
    saved, ``replay_file``) filled in.
    """
    parts = [header(result.program, source, result.model), verdict_line(result)]
    parts += stats_lines(result)
    parts.append(outcome_table(result, prog))
    parts += exists_lines(result)
    for i, v in enumerate(shown, 1):
        parts.append("")
        if len(shown) > 1:
            parts.append(f"[{i}/{len(shown)}]")
        parts.append(violation_block(v.kind, v.message, v.trace, v.thread, v.where, full_trace))
        parts.append(replay_hint(v.replay_file))
    hidden = result.violation_count - sum(1 for v in shown if v.kind != "event limit")
    if shown and hidden > 0:
        parts.append(f"({hidden} more violation{'s' if hidden != 1 else ''} not shown; "
                     "--all-violations shows them all)")
    return "\n".join(parts)
