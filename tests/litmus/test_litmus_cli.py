"""`rmapwalk litmus` on the command line: herd output, JSON Lines, --jobs, --trace and replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rmapwalk.cli import main

LKMM = Path(__file__).resolve().parents[2].parent / "shared" / "lkmm"
CFG = LKMM / "model" / "linux-kernel.cfg"
needs_lkmm = pytest.mark.skipif(not CFG.is_file(), reason=f"the LKMM files are not at {LKMM} (../shared/lkmm)")

SB = """C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r0=0)
"""


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["litmus", *args])
    return res.exit_code, res.stdout, res.stderr


def test_engine_models_and_json(tmp_path: Path) -> None:
    f = tmp_path / "sb.litmus"
    f.write_text(SB)
    code, out, _ = run("--model", "sc", "--no-time", str(f))
    assert code == 0 and "Observation SB Never 0 3" in out and "Time" not in out
    code, out, _ = run("--model", "tso", "--json", str(f))
    rec = json.loads(out)
    assert rec["verdict"] == "Sometimes" and rec["states"] == 4 and rec["positive"] == 1 and rec["negative"] == 3
    assert set(rec) >= {"test", "model", "verdict", "states", "positive", "negative", "executions", "seconds"}


SPIN = """C spin
{}
P0(int *x, int *y) { int r0; while (READ_ONCE(*x) == 0) { } r0 = READ_ONCE(*y); }
P1(int *x, int *y) { WRITE_ONCE(*y, 1); WRITE_ONCE(*x, 1); }
exists (0:r0=0)
"""


def test_json_has_blocked_where_the_engine_runs(tmp_path: Path) -> None:
    f = tmp_path / "spin.litmus"
    f.write_text(SPIN)
    code, out, _ = run("--model", "sc", "--json", str(f))
    rec = json.loads(out)
    # the loop cut after 2 turns while x is still 0 is moot (P1's store supersedes what it read)
    assert code == 0 and rec["blocked"] == 0 and rec["executions"] >= 1
    f.write_text(SPIN.replace("== 0", "!= 2"))  # waiting for a value no thread writes
    code, out, _ = run("--model", "sc", "--json", str(f))
    rec = json.loads(out)
    assert code == 0 and rec["blocked"] >= 1 and rec["executions"] == 0
    assert list(rec).index("blocked") == list(rec).index("executions") + 1
    code, out, _ = run("--cat", str(Path(__file__).parent / "models" / "sc.cat"), "--json", str(f))
    assert code == 0 and "blocked" not in json.loads(out)  # candidate executions: no such count


@pytest.mark.parametrize("backend", [["--model", "sc"], ["--cat", "SC_CAT"]])
def test_a_litmus_suffix_on_the_name_is_dropped(tmp_path: Path, backend: list[str]) -> None:
    """herd7 prints "C SB.litmus" as the test SB (Test, Observation and Time lines)."""
    backend = [str(Path(__file__).parent / "models" / "sc.cat") if a == "SC_CAT" else a for a in backend]
    f = tmp_path / "sb.litmus"
    f.write_text(SB.replace("C SB\n", "C SB.litmus\n", 1))
    code, out, _ = run(*backend, str(f))
    assert code == 0
    assert "Test SB Allowed" in out and "Observation SB Never 0 3" in out and "Time SB " in out
    assert ".litmus" not in out
    code, out, _ = run(*backend, "--json", str(f))
    assert json.loads(out)["test"] == "SB"


def test_trace_and_replay(tmp_path: Path) -> None:
    f = tmp_path / "sb.litmus"
    f.write_text(SB)
    replays = tmp_path / "replays"
    code, out, _ = run("--model", "tso", "--trace", "--replay-dir", str(replays), str(f))
    assert code == 0 and "Witness: an execution under tso" in out
    saved = list(replays.glob("*.json"))
    assert len(saved) == 1
    res = CliRunner().invoke(main, ["replay", str(saved[0])])
    assert res.exit_code == 1
    trace_rows = [ln for ln in out.splitlines() if ln.startswith(("1 ", "2 ", "3 ", "4 "))]
    assert trace_rows and all(row in res.stdout for row in trace_rows)
    code, out, _ = run("--model", "sc", "--trace", "--replay-dir", str(replays), str(f))
    assert code == 0 and "Witness:" not in out  # SC never reaches it: nothing to show


def test_trace_needs_an_engine_model(tmp_path: Path) -> None:
    f = tmp_path / "sb.litmus"
    f.write_text(SB)
    code, _, err = run("--cat", str(tmp_path / "none.cat"), "--trace", str(f))
    assert code == 2 and err.count("\n") == 1


@needs_lkmm
def test_directory_jobs_same_output_as_sequential() -> None:
    tests = LKMM / "tests"
    code1, out1, _ = run("--conf", str(CFG), "--no-time", str(tests))
    code2, out2, _ = run("--conf", str(CFG), "--no-time", "--jobs", "2", str(tests))
    assert code1 == code2 == 0
    assert out1 == out2 and out1.count("\nObservation ") + out1.startswith("Observation ") == 79


@needs_lkmm
def test_bad_conf_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "x.cfg"
    cfg.write_text("model missing.cat\n")
    code, _, err = run("--conf", str(cfg), str(LKMM / "tests" / "SB+poonceonces.litmus"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
