"""The ``rmapwalk`` command line: run, replay, exit codes, error lines, replay files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rmapwalk.cli import main
from rmapwalk.loader import LoadError, load_model, load_program, show_path

MODELS = Path(__file__).parent / "models"
SB = str(MODELS / "sb.py")
SCRIPT = Path(sys.executable).parent / "rmapwalk"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_error_line(res: Result) -> str:
    """stderr must be exactly one line ``rmapwalk: ...`` (never a traceback)."""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("rmapwalk: ")
    assert "Traceback" not in res.stderr
    return lines[0]


def violation_section(run_out: str) -> str:
    """The violation block of ``run`` text output: from its header line up to ``replay:``."""
    start = run_out.index("violation: ")
    end = run_out.index("\nreplay: ", start)
    return run_out[start:end]


# -- run: verdicts and exit codes -------------------------------------------------------------
def test_holds_exit_0(tmp_path: Path) -> None:
    res = cli("run", SB, "--replay-dir", str(tmp_path / "rp"))
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "program SB" in out and "model sc" in out
    assert "verdict: holds" in out
    for word in ("complete executions", "blocked executions", "violations", "events", "seconds",
                 "executions/s"):
        assert word in out
    assert "outcomes (3 distinct):" in out
    # the forbidden outcome (0, 0) is not reachable under SC
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith("1 ")]
    assert sorted(r[1:3] for r in rows) == [["0", "1"], ["1", "0"], ["1", "1"]]
    assert "violation:" not in out
    assert not (tmp_path / "rp").exists()


def test_violated_exit_1_trace_and_replay_file(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    res = cli("run", SB, "--model", "tso", "--replay-dir", str(rp))
    assert res.exit_code == 1, res.output
    out = res.stdout
    assert "verdict: VIOLATED (1 violation)" in out
    assert "violation: forbidden outcome: final state {P0:r0=0, P1:r0=0, x=1, y=1}" in out
    assert "-> store buffer" in out and "flush x = 1 (visible)" in out
    assert "<- forbidden outcome" in out  # the outcome table marks the bad outcome
    f = rp / "SB-tso-1.json"
    assert f.is_file()
    assert f"replay: rmapwalk replay {show_path(str(f))}" in out
    data = json.loads(f.read_text())
    assert data["format"] == "rmapwalk-replay/1"
    assert data["program"] == "SB" and data["model"] == "tso"
    assert data["source"] == os.path.abspath(SB)
    assert len(data["sha256"]) == 64
    assert data["max_events"] == 1000
    assert data["violation"]["kind"] == "forbidden outcome"
    assert not [p for p in rp.iterdir() if p.name.startswith(".tmp")]  # atomic write left nothing


def test_replay_prints_the_same_trace(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    run = cli("run", SB, "-m", "pso", "--replay-dir", str(rp))
    assert run.exit_code == 1
    rep = cli("replay", str(rp / "SB-pso-1.json"))
    assert rep.exit_code == 1, rep.output
    assert rep.stderr == ""
    assert rep.stdout.rstrip("\n") == violation_section(run.stdout)
    assert rep.stdout.startswith("violation: forbidden outcome: final state")


def test_replay_of_an_assertion_prints_the_same_trace(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    run = cli("run", str(MODELS / "thread_assert.py"), "--replay-dir", str(rp))
    assert run.exit_code == 1, run.output
    rep = cli("replay", str(rp / "asserts-sc-1.json"))
    assert rep.exit_code == 1
    assert rep.stdout.rstrip("\n") == violation_section(run.stdout)


def test_thread_assert_is_a_violation(tmp_path: Path) -> None:
    res = cli("run", str(MODELS / "thread_assert.py"), "--replay-dir", str(tmp_path))
    assert res.exit_code == 1, res.output
    out = res.stdout
    assert "violation: assertion in thread P1" in out
    assert "P1 saw x = 1" in out
    assert "ASSERTION FAILED at thread_assert.py:17" in out
    res = cli("run", str(MODELS / "thread_assert.py"), "--json", "--replay-dir", str(tmp_path))
    assert res.exit_code == 1
    v = json.loads(res.stdout)["violations"][0]
    assert v["property"] == "assertion"
    assert v["thread"] == "P1"
    assert v["where"].endswith("thread_assert.py:17")
    assert "ASSERTION FAILED" in v["trace"]


def test_incomplete_exit_3(tmp_path: Path) -> None:
    res = cli("run", SB, "--max-executions", "1", "--replay-dir", str(tmp_path))
    assert res.exit_code == 3, res.output
    assert "verdict: INCOMPLETE: stopped after 1 executions" in res.stdout
    res = cli("run", SB, "--max-executions", "1", "--json", "--replay-dir", str(tmp_path))
    assert res.exit_code == 3
    obj = json.loads(res.stdout)
    assert obj["verdict"] == "incomplete"
    assert obj["executions"] == 1


def test_event_bound_is_incomplete_with_a_trace(tmp_path: Path) -> None:
    res = cli("run", str(MODELS / "spin.py"), "--max-events", "20", "--replay-dir", str(tmp_path))
    assert res.exit_code == 3, res.output
    assert "executions over the event bound  1" in res.stdout
    assert "EVENT LIMIT" in res.stdout
    assert (tmp_path / "spin-sc-1.json").is_file()


def test_long_traces_are_shortened_unless_full(tmp_path: Path) -> None:
    args = ("run", str(MODELS / "spin.py"), "--max-events", "300", "--replay-dir", str(tmp_path))
    short = cli(*args)
    assert "steps not shown (--full-trace shows them)" in short.stdout
    full = cli(*args, "--full-trace")
    assert "steps not shown" not in full.stdout
    assert "\n300 | load(flag)" in full.stdout
    rep = cli("replay", str(tmp_path / "spin-sc-1.json"))
    assert rep.stdout.rstrip("\n") == violation_section(short.stdout)
    rep = cli("replay", "--full-trace", str(tmp_path / "spin-sc-1.json"))
    assert rep.stdout.rstrip("\n") == violation_section(full.stdout)


def test_all_violations_and_stop_on_first(tmp_path: Path) -> None:
    lu = str(MODELS / "lost_update.py")
    res = cli("run", lu, "--replay-dir", str(tmp_path / "one"))
    assert res.exit_code == 1
    assert res.stdout.count("violation: no lost update") == 1
    assert "1 more violation not shown" in res.stdout
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["lost-update-sc-1.json"]

    res = cli("run", lu, "--all-violations", "--replay-dir", str(tmp_path / "all"))
    assert res.exit_code == 1
    assert res.stdout.count("violation: no lost update") == 2
    assert "[2/2]" in res.stdout
    names = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert names == ["lost-update-sc-1.json", "lost-update-sc-2.json"]
    for n in names:
        rep = cli("replay", str(tmp_path / "all" / n))
        assert rep.exit_code == 1
        assert rep.stdout.rstrip("\n") in res.stdout

    res = cli("run", lu, "--stop-on-first", "--json", "--replay-dir", str(tmp_path / "first"))
    assert res.exit_code == 1
    obj = json.loads(res.stdout)
    assert obj["violation_count"] == 1 and obj["verdict"] == "violated"


# -- JSON -------------------------------------------------------------------------------------
@pytest.mark.parametrize("model,code,verdict", [("sc", 0, "holds"), ("tso", 1, "violated")])
def test_json_output(tmp_path: Path, model: str, code: int, verdict: str) -> None:
    res = cli("run", SB, "--model", model, "--json", "--replay-dir", str(tmp_path))
    assert res.exit_code == code, res.output
    obj: dict[str, Any] = json.loads(res.stdout)  # exactly one JSON object on stdout
    for key in ("verdict", "model", "outcomes", "executions", "blocked", "seconds", "violations"):
        assert key in obj
    assert obj["verdict"] == verdict
    assert obj["model"] == model
    assert obj["source"] == os.path.abspath(SB)
    assert {"P0:r0": 1, "P1:r0": 1, "x": 1, "y": 1} in obj["outcomes"]
    assert all(c["count"] >= 1 for c in obj["outcome_counts"])
    if verdict == "violated":
        (v,) = obj["violations"]
        assert set(v) >= {"property", "message", "trace", "replay"}
        assert v["property"] == "forbidden outcome"
        assert os.path.isfile(v["replay"])
        assert "flush x = 1" in v["trace"]
        rep = cli("replay", "--json", v["replay"])
        assert rep.exit_code == 1
        robj = json.loads(rep.stdout)
        assert robj["trace"] == v["trace"]
        assert robj["property"] == "forbidden outcome"
        assert robj["source_changed"] is False
    else:
        assert obj["violations"] == []


# -- bad input: one line, exit 2 --------------------------------------------------------------
def test_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken_model.py"
    bad.write_text("from rmapwalk.engine import Program\n\np = Program('x'\nq = 1 +\n")
    res = cli("run", str(bad))
    assert res.exit_code == 2
    line = one_error_line(res)
    assert "broken_model.py:3:" in line or "broken_model.py:4:" in line
    assert "SyntaxError" in line
    assert res.stdout == ""


def test_thread_raising_is_a_violation(tmp_path: Path) -> None:
    res = cli("run", str(MODELS / "thread_raises.py"), "--replay-dir", str(tmp_path))
    assert res.exit_code == 1, res.output
    assert res.stderr == ""
    assert "violation: exception in thread P1 at thread_raises.py:17: ValueError: boom" in res.stdout
    assert "EXCEPTION at thread_raises.py:17: ValueError: boom" in res.stdout


DIVIDES = str(MODELS / "thread_divides.py")
DIVIDES_HEADER = "violation: exception in thread P1 at thread_divides.py:18: ZeroDivisionError: division by zero"


def test_division_by_a_read_zero_is_an_exception_violation(tmp_path: Path) -> None:
    """The execution that reads 0 raises; the run goes on and counts the other one."""
    rp = tmp_path / "rp"
    res = cli("run", DIVIDES, "--replay-dir", str(rp), "--layout", "columns")
    assert res.exit_code == 1, res.output
    out = res.stdout
    assert DIVIDES_HEADER in out
    assert "EXCEPTION at thread_divides.py:18: ZeroDivisionError: division by zero" in out
    assert "load(x) = 0  <- init" in violation_section(out)
    assert "complete executions  1" in out and "    exception          1" in out
    assert "P1:q" in out and "25.0" in out  # the execution that read 4 finished
    rep = cli("replay", str(rp / "divides-sc-1.json"), "--layout", "columns")
    assert rep.exit_code == 1, rep.output
    assert rep.stdout.rstrip("\n") == violation_section(out)

    res = cli("run", DIVIDES, "--json", "--replay-dir", str(rp))
    assert res.exit_code == 1
    obj = json.loads(res.stdout)
    assert obj["verdict"] == "violated" and obj["executions"] == 1 and obj["errors"] == 1
    assert obj["property_counts"] == {"exception": 1}
    (v,) = obj["violations"]
    assert v["property"] == "exception" and v["message"] == "ZeroDivisionError: division by zero"
    assert v["thread"] == "P1" and v["where"].endswith("thread_divides.py:18")
    assert "EXCEPTION at thread_divides.py:18" in v["trace"]
    rep = cli("replay", v["replay"], "--json")
    assert rep.exit_code == 1
    r = json.loads(rep.stdout)
    assert r["property"] == "exception" and r["message"] == v["message"] and r["trace"] == v["trace"]


@pytest.mark.parametrize("opts", [["--random", "--executions", "30", "--seed", "3"], ["--jobs", "2"],
                                  ["--checkpoint", "CKPT"]])
def test_exception_violation_in_random_parallel_and_checkpointed_runs(tmp_path: Path, opts: list[str]) -> None:
    opts = [str(tmp_path / "c.json") if o == "CKPT" else o for o in opts]
    rp = tmp_path / "rp"
    res = cli("run", DIVIDES, "--replay-dir", str(rp), "--quiet", "--layout", "columns", *opts)
    assert res.exit_code == 1, res.output
    assert DIVIDES_HEADER in res.stdout
    rep = cli("replay", str(rp / "divides-sc-1.json"), "--layout", "columns")
    assert rep.exit_code == 1
    assert rep.stdout.rstrip("\n") == violation_section(res.stdout)


def test_exception_while_building_the_program_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "factory_raises.py"
    bad.write_text("from rmapwalk.engine import Program\n\n\ndef program():\n    return 1 / 0\n")
    res = cli("run", str(bad))
    assert res.exit_code == 2
    line = one_error_line(res)
    assert "factory_raises.py:5:" in line and "ZeroDivisionError" in line


def test_import_time_exception_names_the_model_line() -> None:
    res = cli("run", str(MODELS / "import_raises.py"))
    assert res.exit_code == 2
    line = one_error_line(res)
    assert "import_raises.py:7:" in line
    assert "location 'x' defined twice" in line


def test_condition_raising_names_its_line() -> None:
    res = cli("run", str(MODELS / "bad_condition.py"))
    assert res.exit_code == 2
    line = one_error_line(res)
    assert "bad_condition.py:14:" in line and "KeyError" in line


def test_missing_model_file(tmp_path: Path) -> None:
    res = cli("run", str(tmp_path / "nope.py"))
    assert res.exit_code == 2
    assert "nope.py: no such file" in one_error_line(res)


def test_no_program_and_several_programs() -> None:
    res = cli("run", str(MODELS / "no_program.py"))
    assert res.exit_code == 2
    assert "no rmapwalk Program found" in one_error_line(res)

    res = cli("run", str(MODELS / "two_programs.py"))
    assert res.exit_code == 2
    line = one_error_line(res)
    assert "first" in line and "second" in line and "--program" in line

    res = cli("run", str(MODELS / "two_programs.py"), "--program", "second")
    assert res.exit_code == 0, res.output
    assert "program second" in res.stdout
    res = cli("run", str(MODELS / "two_programs.py"), "--program", "first")  # by variable name works too
    assert res.exit_code == 0

    res = cli("run", str(MODELS / "two_programs.py"), "--program", "third")
    assert res.exit_code == 2
    assert "no program named 'third'" in one_error_line(res)


def test_program_factory() -> None:
    res = cli("run", str(MODELS / "factory.py"))
    assert res.exit_code == 0, res.output
    assert "program counter" in res.stdout


@pytest.mark.parametrize("opts", [
    ["--model", "arm"],
    ["--max-executions", "0"],
    ["--max-events", "-3"],
    ["--timeout", "0"],
    ["--timeout", "soon"],
])
def test_bad_options_exit_2(opts: list[str]) -> None:
    res = cli("run", SB, *opts)
    assert res.exit_code == 2
    assert "Traceback" not in res.output


# -- replay files -----------------------------------------------------------------------------
def _recorded(tmp_path: Path) -> Path:
    rp = tmp_path / "rp"
    assert cli("run", SB, "-m", "tso", "--replay-dir", str(rp)).exit_code == 1
    return rp / "SB-tso-1.json"


@pytest.mark.parametrize("content,expect", [
    ('{"format": ', "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"format": "something-else"}', "not an rmapwalk replay file"),
    ('{"format": "rmapwalk-replay/1", "program": "SB"}', "missing"),
    ("", "invalid JSON"),
])
def test_replay_of_a_corrupt_file(tmp_path: Path, content: str, expect: str) -> None:
    f = tmp_path / "corrupt.json"
    f.write_text(content)
    res = cli("replay", str(f))
    assert res.exit_code == 2
    line = one_error_line(res)
    assert "corrupt.json" in line and expect in line


def test_replay_with_tampered_data(tmp_path: Path) -> None:
    f = _recorded(tmp_path)
    data = json.loads(f.read_text())
    data["threads"] = data["threads"][:1]
    f.write_text(json.dumps(data))
    res = cli("replay", str(f))
    assert res.exit_code == 2
    assert "does not match the model" in one_error_line(res)

    data = json.loads(_recorded(tmp_path).read_text())
    data["threads"][0]["rf"] = "garbage"
    f.write_text(json.dumps(data))
    res = cli("replay", str(f))
    assert res.exit_code == 2
    one_error_line(res)

    data["threads"] = 3
    f.write_text(json.dumps(data))
    res = cli("replay", str(f))
    assert res.exit_code == 2
    assert "'threads' should be a list" in one_error_line(res)


def test_replay_missing_file_and_missing_model(tmp_path: Path) -> None:
    res = cli("replay", str(tmp_path / "absent.json"))
    assert res.exit_code == 2
    assert "no such file" in one_error_line(res)

    model = tmp_path / "sb_copy.py"
    shutil.copy(SB, model)
    rp = tmp_path / "rp"
    assert cli("run", str(model), "-m", "tso", "--replay-dir", str(rp)).exit_code == 1
    model.unlink()
    res = cli("replay", str(rp / "SB-tso-1.json"))
    assert res.exit_code == 2
    assert "does not exist" in one_error_line(res)


def test_replay_warns_when_the_model_changed(tmp_path: Path) -> None:
    model = tmp_path / "sb_copy.py"
    shutil.copy(SB, model)
    rp = tmp_path / "rp"
    run = cli("run", str(model), "-m", "tso", "--replay-dir", str(rp))
    assert run.exit_code == 1
    with model.open("a") as f:
        f.write("# an edit after the run\n")
    rep = cli("replay", str(rp / "SB-tso-1.json"))
    assert rep.exit_code == 1
    line = one_error_line(rep)
    assert "warning" in line and "changed" in line
    assert rep.stdout.rstrip("\n") == violation_section(run.stdout)


def test_default_replay_dir_is_in_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = cli("run", SB, "-m", "tso")
    assert res.exit_code == 1
    assert (tmp_path / "rmapwalk-replays" / "SB-tso-1.json").is_file()
    assert "replay: rmapwalk replay rmapwalk-replays/SB-tso-1.json" in res.stdout


def test_help_everywhere() -> None:
    for args in ([], ["run"], ["replay"]):
        res = cli(*args, "--help")
        assert res.exit_code == 0
        assert "Usage:" in res.stdout


# -- the loader on its own --------------------------------------------------------------------
def test_load_program_api() -> None:
    prog, path = load_program(SB)
    assert prog.name == "SB" and path == os.path.abspath(SB)
    m = load_model(str(MODELS / "two_programs.py"), "second")
    assert m.program.name == "second" and m.symbol == "second"
    with pytest.raises(LoadError) as ei:
        load_program(str(MODELS / "two_programs.py"))
    assert "2 programs defined" in str(ei.value)
    assert "\n" not in str(ei.value)


# -- the installed console script -------------------------------------------------------------
@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed (pip install -e .)")
def test_console_script(tmp_path: Path) -> None:
    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    run = sh("run", SB, "--model", "tso")
    assert run.returncode == 1, run.stderr
    f = tmp_path / "rmapwalk-replays" / "SB-tso-1.json"
    assert f.is_file()
    rep = sh("replay", "rmapwalk-replays/SB-tso-1.json")
    assert rep.returncode == 1, rep.stderr
    assert rep.stdout.rstrip("\n") == violation_section(run.stdout)

    assert sh("run", SB).returncode == 0
    assert sh("run", SB, "--max-executions", "1").returncode == 3

    bad = tmp_path / "syntax.py"
    bad.write_text("x = (\n")
    res = sh("run", str(bad))
    assert res.returncode == 2
    assert res.stdout == ""
    (line,) = res.stderr.splitlines()
    assert line.startswith("rmapwalk: ") and "syntax.py:1:" in line

    res = sh("run", str(MODELS / "thread_raises.py"))
    assert res.returncode == 1
    assert res.stderr == ""
    assert "violation: exception in thread P1 at thread_raises.py:17: ValueError: boom" in res.stdout

    (tmp_path / "junk.json").write_text("not json")
    res = sh("replay", "junk.json")
    assert res.returncode == 2
    (line,) = res.stderr.splitlines()
    assert line.startswith("rmapwalk: junk.json:1: not a replay file")
