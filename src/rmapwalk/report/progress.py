"""A live progress line while an exploration runs (``rich``), on stderr; a progress bar over
the runs of ``rmapwalk review`` (:class:`RunsProgress`).

It shows executions (complete + blocked + stopped by an error or the event bound), executions
per second, blocked executions, violations and the elapsed time.  It costs the explorer nothing
per execution: a ``rich`` refresh thread reads the explorer's live :class:`Stats` and
:class:`Result` a few times a second (plain integer reads).  It is off when stderr is not a
terminal, under ``--quiet``, and when ``RMAPWALK_NO_PROGRESS`` is set; the line is removed when
the exploration ends, so the report that follows reads as without it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from rmapwalk.engine.result import Result, Stats

if TYPE_CHECKING:  # rich is imported when a progress line is shown, not at start-up
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text


@dataclass(frozen=True)
class Snapshot:
    executions: int
    blocked: int
    violations: int


class Explores(Protocol):
    """What :func:`run_with_progress` needs: something that runs to a :class:`Result` and keeps
    live counters while it does (the :class:`~rmapwalk.engine.explore.Explorer`)."""

    stats: Stats
    result: Result

    def run(self) -> Result: ...


def snapshot_of(stats: Stats, result: Result | None) -> Snapshot:
    return Snapshot(stats.executions, stats.blocked, result.violation_count if result is not None else 0)


def wanted(quiet: bool = False, stream: TextIO | None = None) -> bool:
    """Should a progress line be shown on ``stream`` (stderr)?"""
    if quiet or os.environ.get("RMAPWALK_NO_PROGRESS"):
        return False
    s = stream if stream is not None else sys.stderr
    try:
        return bool(s.isatty())
    except (AttributeError, ValueError):
        return False


def line(snap: Snapshot, elapsed: float, label: str = "") -> Text:
    """The progress line: ``label  N executions  R/s  B blocked  V violations  elapsed``."""
    from rich.text import Text

    rate = snap.executions / elapsed if elapsed > 0 else 0.0
    t = Text()
    if label:
        t.append(f"{label}  ", style="bold")
    t.append(f"{snap.executions:,}", style="bold cyan")
    t.append(" executions  ")
    t.append(f"{rate:,.0f}", style="cyan")
    t.append(" exec/s  ")
    t.append(f"{snap.blocked:,}", style="yellow")
    t.append(" blocked  ")
    t.append(f"{snap.violations:,}", style="bold red" if snap.violations else "green")
    t.append(" violations  ")
    t.append(_clock(elapsed), style="dim")
    return t


def _clock(s: float) -> str:
    m, sec = divmod(int(s), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class ProgressLine:
    """A context manager that shows ``source()`` (a :class:`Snapshot`) live until it exits."""

    def __init__(self, source: Callable[[], Snapshot], label: str = "", *, enabled: bool = True,
                 console: Console | None = None, refresh_per_second: float = 4.0) -> None:
        self.source = source
        self.label = label
        self.enabled = enabled
        if console is None:
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console
        self.refresh_per_second = refresh_per_second
        self._t0 = 0.0
        self._live: Live | None = None

    def renderable(self) -> Text:
        return line(self.source(), time.perf_counter() - self._t0, self.label)

    def __enter__(self) -> ProgressLine:
        self._t0 = time.perf_counter()
        if self.enabled:
            from rich.live import Live

            self._live = Live(get_renderable=self.renderable, console=self.console, transient=True,
                              refresh_per_second=self.refresh_per_second, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start(refresh=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def run_with_progress(explorer: Explores, *, quiet: bool = False, label: str = "",
                      console: Console | None = None) -> Result:
    """``explorer.run()``, with a live progress line on a terminal (see :func:`wanted`)."""
    if quiet or getattr(explorer, "stats", None) is None or (console is None and not wanted()):
        return explorer.run()
    with ProgressLine(lambda: snapshot_of(explorer.stats, getattr(explorer, "result", None)), label, enabled=True,
                      console=console):
        return explorer.run()


class RunsProgress:
    """A progress bar over a series of runs (``rmapwalk review``), on stderr, while on a terminal.

    ``start(label)`` names the run under way, ``advance(executions)`` counts one as done,
    ``note(line)`` prints a line above the bar (or on stderr as it is when the bar is off).
    The bar is removed when the series ends, so the report that follows reads as without it.
    """

    def __init__(self, total: int, *, enabled: bool = True, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console if console is not None else Console(stderr=True)
        self.enabled = enabled
        self.executions = 0
        self._progress = Progress(
            TextColumn("[bold]review"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
            TextColumn("[cyan]{task.fields[executions]:,}[/] executions"), TimeElapsedColumn(),
            TextColumn("{task.description}", style="dim", markup=False),
            console=self.console, transient=True, disable=not enabled, redirect_stdout=False, redirect_stderr=False)
        self._task = self._progress.add_task("", total=total, executions=0)

    def start(self, label: str) -> None:
        self._progress.update(self._task, description=label)

    def advance(self, executions: int = 0) -> None:
        self.executions += executions
        self._progress.update(self._task, advance=1, executions=self.executions)

    def note(self, line: str) -> None:
        if self.enabled:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def __enter__(self) -> RunsProgress:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._progress.stop()
