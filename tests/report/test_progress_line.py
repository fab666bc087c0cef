"""The live progress line: its content, when it shows, and that it leaves results unchanged."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from rich.console import Console

from rmapwalk.engine import Program, explore
from rmapwalk.engine.explore import Explorer
from rmapwalk.engine.result import Result, Stats
from rmapwalk.loader import load_program
from rmapwalk.report import progress
from rmapwalk.report.progress import ProgressLine, Snapshot, line, run_with_progress, snapshot_of, wanted

SB = str(Path(__file__).parents[1] / "models" / "sb.py")
SCRIPT = Path(sys.executable).parent / "rmapwalk"
#: a guard against a hang, never reached by a passing test (nothing here waits for the clock)
HANG_GUARD = 120.0


def test_line_shows_every_counter() -> None:
    t = line(Snapshot(executions=12345, blocked=7, violations=2), elapsed=5.0, label="SB @tso").plain
    assert t.startswith("SB @tso")
    for part in ("12,345 executions", "2,469 exec/s", "7 blocked", "2 violations", "00:05"):
        assert part in t, t
    assert "0 exec/s" in line(Snapshot(0, 0, 0), elapsed=0.0).plain
    assert "1:01:01" in line(Snapshot(1, 0, 0), elapsed=3661.0).plain


def test_snapshot_reads_live_counters() -> None:
    st = Stats(complete=3, blocked=2, errors=1, bounded=1)
    res = Result("p", "sc", "holds", stats=st, violation_count=4)
    assert snapshot_of(st, res) == Snapshot(executions=7, blocked=2, violations=4)
    assert snapshot_of(st, None).violations == 0


def test_wanted_only_on_a_terminal() -> None:
    assert not wanted(stream=io.StringIO())
    assert not wanted(quiet=True)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wanted(stream=Tty())
    assert not wanted(quiet=True, stream=Tty())
    os.environ["RMAPWALK_NO_PROGRESS"] = "1"
    try:
        assert not wanted(stream=Tty())
    finally:
        del os.environ["RMAPWALK_NO_PROGRESS"]


def test_progress_line_draws_and_clears() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    snap = [Snapshot(0, 0, 0)]
    new_reads = [0]
    redrawn = threading.Event()

    def source() -> Snapshot:
        if snap[0].executions == 40:
            new_reads[0] += 1
            # a refresh reads the snapshot, then draws it; the next refresh (the refresh thread's,
            # under the same lock) starts after that drawing is written
            if new_reads[0] == 2:
                redrawn.set()
        return snap[0]

    with ProgressLine(source, "demo", console=console, refresh_per_second=50):
        assert "demo" in buf.getvalue()  # drawn at once
        snap[0] = Snapshot(40, 3, 1)
        assert redrawn.wait(HANG_GUARD), "the refresh thread never redrew the line"
        live = buf.getvalue()
    assert "40" in live and "executions" in live and "violations" in live  # redrawn while it ran
    out = buf.getvalue()
    # transient: the last thing written erases the line
    assert out.rstrip().endswith("\x1b[2K") or "\x1b[2K" in out[-40:]


def _sb_program() -> Program:
    return load_program(SB)[0]


def test_run_with_progress_same_result_and_quiet_draws_nothing() -> None:
    prog = _sb_program()
    plain = explore(prog, "tso")
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True)
    shown = run_with_progress(Explorer(prog, "tso"), console=console, label="SB")
    assert shown.outcomes == plain.outcomes and shown.verdict == plain.verdict
    assert shown.stats.executions == plain.stats.executions
    assert "SB" in buf.getvalue()
    buf2 = io.StringIO()
    quiet = run_with_progress(Explorer(prog, "tso"), console=Console(file=buf2, force_terminal=True), quiet=True)
    assert quiet.outcomes == plain.outcomes and buf2.getvalue() == ""
    # not a terminal (pytest captures stderr): nothing, and no console needed
    assert run_with_progress(Explorer(prog, "tso")).outcomes == plain.outcomes
    assert progress.wanted() is False or sys.stderr.isatty()


def _run_in_pty(*args: str) -> tuple[int, str]:
    """Run the rmapwalk command with stdout and stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("RMAPWALK_NO_PROGRESS", "NO_COLOR")}
    env.update(TERM="xterm", COLUMNS="120")
    proc = subprocess.Popen([str(SCRIPT), *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env,
                            close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    # read to the end of the output: the terminal reports it (EIO) once the child, its only
    # other holder, has exited -- not "the child has exited", which may come before its last
    # output is read
    end = time.monotonic() + HANG_GUARD  # (never reached by a passing test)
    while True:
        r, _, _ = select.select([master], [], [], max(0.0, end - time.monotonic()))
        assert r, f"no end of rmapwalk's output within {HANG_GUARD} s: {b''.join(chunks)!r}"
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=HANG_GUARD)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_cli_shows_the_line_on_a_terminal_only(tmp_path: Path) -> None:
    code, out = _run_in_pty("run", SB, "-m", "tso", "--replay-dir", str(tmp_path))
    assert code == 1
    assert "exec/s" in out and "blocked" in out and "violations" in out  # the live line was drawn
    assert "verdict: VIOLATED" in out
    code, out = _run_in_pty("run", SB, "-m", "tso", "--replay-dir", str(tmp_path), "--quiet")
    assert code == 1 and "verdict: VIOLATED" in out
    assert "exec/s " not in out  # the report says "executions/s", the live line "exec/s"
    # not a terminal: no live line at all
    res = subprocess.run([str(SCRIPT), "run", SB, "-m", "tso", "--replay-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=HANG_GUARD)
    assert res.returncode == 1 and "exec/s " not in res.stderr and "\x1b[" not in res.stderr
