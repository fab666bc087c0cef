"""Checkpoints: any saved state resumes to exactly the uninterrupted totals; runs killed with
SIGKILL (several times, at random moments) and resumed too; bad files are one-line errors."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.programs import PROGRAMS
from rmapwalk.engine import explore
from rmapwalk.engine.checkpoint import (
    CheckpointError,
    CheckpointWriteError,
    decode_value,
    encode_value,
    load_checkpoint,
    resume_search,
    save_checkpoint,
)
from rmapwalk.engine.parallel import ParallelSearch
from rmapwalk.engine.program import Loc
from rmapwalk.engine.result import Result
from rmapwalk.engine.workunit import ProgramSource, SearchConfig

SCRIPT = str(Path(sys.executable).parent / "rmapwalk")


def totals(r: Result) -> tuple[Any, ...]:
    st = r.stats
    return (r.verdict, st.complete, st.blocked, st.errors, st.bounded, st.events, st.inconsistent,
            r.outcomes, r.violation_count, r.property_counts, r.exists)


@pytest.mark.parametrize(("name", "n", "model"), [("lastzero", 7, "tso"), ("binc", 3, "pso"), ("casw", 3, "sc")])
def test_every_checkpoint_resumes_to_the_same_totals(tmp_path: Path, name: str, n: int, model: str) -> None:
    seq = explore(PROGRAMS[name](n), model)
    cfg = SearchConfig(ProgramSource(module="benchmarks.programs", function=name, args=(n,)), model)
    saved: list[str] = []

    def keep(state: dict[str, Any]) -> None:
        f = tmp_path / f"c{len(saved)}.json"
        save_checkpoint(str(f), state)
        saved.append(str(f))

    ParallelSearch(cfg, PROGRAMS[name](n), slice_executions=5, checkpoint=keep, checkpoint_interval=0.0).run()
    assert len(saved) > 3
    for f in random.Random(0).sample(saved, min(6, len(saved))) + [saved[0], saved[-1]]:
        state = load_checkpoint(f)
        res = resume_search(state, PROGRAMS[name](n), slice_executions=7).run()
        assert totals(res) == totals(seq)


def test_values_round_trip() -> None:
    for v in [0, -3, 2**70, "s", None, True, 1.5, float("inf"), (1, (2, "a")), [1, [2]], frozenset({1, 2}),
              {"a": (1,)}, Loc(5, "x")]:
        back = decode_value(json.loads(json.dumps(encode_value(v))))
        assert back == v and type(back) is type(v)
    assert decode_value(encode_value(Loc(5, "x"))).name == "x"
    with pytest.raises(CheckpointError):
        encode_value(object())


def test_full_disk_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "c.json"
    cfg = SearchConfig(ProgramSource(module="benchmarks.programs", function="lastzero", args=(3,)))
    search = ParallelSearch(cfg, PROGRAMS["lastzero"](3))
    save_checkpoint(str(f), search.state())
    before = f.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(CheckpointWriteError) as e:
        save_checkpoint(str(f), search.state())
    assert "No space left on device" in str(e.value) and "previous checkpoint is intact" in str(e.value)
    assert f.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temporary file left


# -- the command line: kill, Ctrl-C, bad files -------------------------------------------------------
MODEL = """
    import sys
    sys.path.insert(0, {root!r})
    from benchmarks.programs import lastzero
    p = lastzero(11)
    p.forbid(lambda f: f["array[3]"] == 3 and f["array[5]"] == 5, "chain of five")
"""


def _model(tmp_path: Path) -> str:
    f = tmp_path / "lz.py"
    f.write_text(textwrap.dedent(MODEL.format(root=str(Path(__file__).parents[2]))))
    return str(f)


def _summary(out: str) -> tuple[Any, ...]:
    obj = json.loads(out)
    return (obj["verdict"], obj["executions"], obj["blocked"], obj["errors"], obj["events"],
            obj["outcome_counts"], obj["violation_count"], obj["property_counts"])


def _rmapwalk(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RMAPWALK_NO_PROGRESS="1")
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=600, **kw)


def _start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, RMAPWALK_NO_PROGRESS="1")
    return subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=cwd)


def test_killed_runs_resume_to_exact_totals(tmp_path: Path) -> None:
    model = _model(tmp_path)
    ref = _rmapwalk("run", model, "--json", "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path)
    assert ref.returncode == 1, ref.stderr
    ck = str(tmp_path / "ck.json")
    rng = random.Random(int(time.time()))
    kills = 0
    resumed_kills = 0
    for attempt in range(6):
        jobs = ["--jobs", "2"] if attempt % 2 else []
        if os.path.exists(ck):
            args = ["resume", ck, "--json", "--checkpoint-interval", "0.1", *jobs]
        else:
            args = ["run", model, "--json", "--checkpoint", ck, "--checkpoint-interval", "0.1", *jobs]
        p = _start(*args, "--replay-dir", str(tmp_path / "rp2"), cwd=tmp_path)
        time.sleep(rng.uniform(1.6, 3.5))  # (starting rmapwalk takes about a second)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
            resumed_kills += args[0] == "resume"
        p.communicate(timeout=60)  # (no worker survives its coordinator to hold the pipes)
    final = _rmapwalk("resume", ck, "--json", "--replay-dir", str(tmp_path / "rp2"), cwd=tmp_path)
    assert final.returncode == 1, final.stderr
    assert _summary(final.stdout) == _summary(ref.stdout)
    assert kills >= 2 and resumed_kills >= 1
    # the violation it shows replays
    rp = sorted((tmp_path / "rp2").glob("*.json"))
    assert rp and _rmapwalk("replay", str(rp[0])).returncode == 1


def test_ctrl_c_saves_a_checkpoint_and_prints_partial_statistics(tmp_path: Path) -> None:
    model = _model(tmp_path)
    ck = str(tmp_path / "ck.json")
    p = _start("run", model, "--checkpoint", ck, "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path)
    time.sleep(2.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    if p.returncode == 1 and "interrupted" not in out:  # pragma: no cover - the run was already over
        pytest.skip("the run ended before Ctrl-C")
    assert p.returncode in (1, 3), err
    assert "interrupted (Ctrl-C)" in out
    assert "complete executions" in out
    assert "Traceback" not in err
    state = load_checkpoint(ck)
    assert state["units"] and not state["finished"]
    ref = _rmapwalk("run", model, "--json", "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path)
    again = _rmapwalk("resume", ck, "--json", "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path)
    assert _summary(again.stdout) == _summary(ref.stdout)


def test_ctrl_c_without_checkpoint_is_incomplete(tmp_path: Path) -> None:
    model = _model(tmp_path)
    p = _start("run", model, "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path)
    time.sleep(2.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    if "interrupted" not in out:  # pragma: no cover - the run was already over
        pytest.skip("the run ended before Ctrl-C")
    assert p.returncode in (1, 3)
    assert "complete executions" in out and "Traceback" not in err


@pytest.mark.parametrize(("content", "message"), [
    ("not json{", "not a checkpoint: invalid JSON"),
    ('{"format": "rmapwalk-replay/1"}', "not an rmapwalk checkpoint"),
    ("[1, 2]", "not a checkpoint (expected a JSON object)"),
    ('{"format": "rmapwalk-checkpoint/1", "config": {"model": "sc"}}', "bad checkpoint"),
])
def test_corrupt_or_foreign_file_is_one_line_exit_2(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    res = _rmapwalk("resume", str(f))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rmapwalk: ") and message in lines[0], res.stderr


def test_tampered_units_and_missing_file(tmp_path: Path) -> None:
    model = _model(tmp_path)
    ck = tmp_path / "ck.json"
    res = _rmapwalk("run", model, "--checkpoint", str(ck), "--timeout", "0.5", "--replay-dir", str(tmp_path))
    assert res.returncode in (1, 3)
    data = json.loads(ck.read_text())
    assert data["units"]
    data["units"][0] = [{"graph": {"threads": [[[0, 99, 0, 0]]], "co": [], "reads": [], "next_stamp": 1},
                         "items": []}]
    ck.write_text(json.dumps(data))
    res = _rmapwalk("resume", str(ck))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "bad work unit" in res.stderr
    res = _rmapwalk("resume", str(tmp_path / "none.json"))
    assert res.returncode == 2 and "no such file" in res.stderr
    with pytest.raises(CheckpointError):
        load_checkpoint(str(tmp_path))
