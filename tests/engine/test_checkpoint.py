"""Checkpoints: any saved state resumes to exactly the uninterrupted totals; runs killed with
SIGKILL (several times, in the middle of the search) and resumed too; bad files are one-line errors.
No test here waits on the clock or races a timer: runs stop at a count or where the model blocks."""

from __future__ import annotations

import errno
import json
import os
import random
import select
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


def test_lkmm_checkpoints_resume_to_the_same_totals(tmp_path: Path) -> None:
    """Under LKMM the checkpoint keeps the hashes of the load-buffering executions counted, so
    a resumed search does not count one again that two units both make (the program is one of
    the differential test's, where that happens)."""
    from tests.litmus.test_lkmm_differential import FIXED

    f = tmp_path / "t.litmus"
    # (the program whose load-buffering executions two units both make: an xchg revisited by a
    # deleted write; found by its text, not its place in the list, which grows)
    f.write_text(next(t for t in FIXED if "r0 = xchg_relaxed(x, 2);" in t))
    src = ProgramSource(module="benchmarks.programs", function="litmus", args=(str(f),))
    prog = src.load()
    seq = explore(prog, "lkmm")
    saved: list[str] = []

    def keep(state: dict[str, Any]) -> None:
        g = tmp_path / f"c{len(saved)}.json"
        save_checkpoint(str(g), state)
        saved.append(str(g))

    first = ParallelSearch(SearchConfig(src, "lkmm"), prog, slice_executions=3, checkpoint=keep,
                           checkpoint_interval=0.0).run()
    assert (first.stats.complete, first.outcomes) == (seq.stats.complete, seq.outcomes)
    assert len(saved) > 3
    for g in random.Random(0).sample(saved, min(6, len(saved))) + [saved[0], saved[-1]]:
        res = resume_search(load_checkpoint(g), prog, slice_executions=7).run()
        assert (res.stats.complete, res.outcomes) == (seq.stats.complete, seq.outcomes)


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
# Nothing here waits on the clock: a run is stopped where the model says (LZ_BLOCK_AT=K: the K-th
# final state this process checks prints "lz: blocked" on stderr and waits there), and the test acts
# on that line -- a kill or Ctrl-C lands while the search is in the middle, whatever the machine's
# speed or load.  Without LZ_BLOCK_AT the model is plain lastzero(11) (7168 executions).
MODEL = """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from benchmarks.programs import lastzero
    p = lastzero(11)
    BLOCK_AT = int(os.environ.get("LZ_BLOCK_AT", "0"))
    checked = [0]
    def chain_of_five(f):
        checked[0] += 1
        if checked[0] == BLOCK_AT:
            print("lz: blocked", file=sys.stderr, flush=True)
            while True:
                signal.pause()
        return f["array[3]"] == 3 and f["array[5]"] == 5
    p.forbid(chain_of_five, "chain of five")
"""
BLOCKED = "lz: blocked"
#: a guard against a hung run, never reached by a passing test (nothing waits for it)
HANG_GUARD = 600.0


def _model(tmp_path: Path) -> str:
    f = tmp_path / "lz.py"
    f.write_text(textwrap.dedent(MODEL.format(root=str(Path(__file__).parents[2]))))
    return str(f)


def _summary(out: str) -> tuple[Any, ...]:
    obj = json.loads(out)
    return (obj["verdict"], obj["executions"], obj["blocked"], obj["errors"], obj["events"],
            obj["outcome_counts"], obj["violation_count"], obj["property_counts"])


def _env(block_at: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LZ_BLOCK_AT"}
    env["RMAPWALK_NO_PROGRESS"] = "1"
    if block_at is not None:
        env["LZ_BLOCK_AT"] = str(block_at)
    return env


def _rmapwalk(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=_env(), timeout=HANG_GUARD, **kw)


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT
    # ignored: a suite run that way would send its Ctrl-C into the void and hang.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str, cwd: Path, block_at: int) -> subprocess.Popen[str]:
    return subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(block_at), cwd=cwd, preexec_fn=_default_sigint)


def _wait_until_blocked(p: subprocess.Popen[str]) -> str:
    """Read the run's stderr until the model says it waits; returns what was read.  (Raw reads,
    as ``communicate`` does, so that nothing read is lost to a buffer.)"""
    assert p.stderr is not None
    fd = p.stderr.fileno()
    got = b""
    end = time.monotonic() + HANG_GUARD
    while BLOCKED.encode() not in got:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        assert ready, f"no {BLOCKED!r} line after {HANG_GUARD} s: {got.decode(errors='replace')}"
        chunk = os.read(fd, 65536)
        if not chunk:
            out, err = p.communicate()
            raise AssertionError(f"the run ended (exit {p.returncode}) before the model blocked:\n"
                                 f"{got.decode(errors='replace')}{err}\n{out[-2000:]}")
        got += chunk
    return got.decode(errors="replace")


def _saved(ck: str) -> dict[str, Any]:
    with open(ck, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _wait_for_units_done(ck: str, at_least: int) -> None:
    """Wait until the checkpoint on disk counts ``at_least`` finished units (each write replaces
    the file whole, so every read sees a whole checkpoint)."""
    end = time.monotonic() + HANG_GUARD
    while _saved(ck)["units_done"] < at_least:
        assert time.monotonic() < end, f"the checkpoint never counted {at_least} units"
        time.sleep(0.01)


SLICE = 20  # executions per work unit in the kill test (--slice-executions)


def test_killed_runs_resume_to_exact_totals(tmp_path: Path) -> None:
    """Six runs killed with SIGKILL in the middle of the search (sequential and --jobs 2, run and
    resume), each after it saved progress, then resumed to the end: exactly the uninterrupted
    totals.  A process explores at most 4 * SLICE executions before it blocks, so at most
    6 * 2 * 4 * SLICE < 7168 executions happen before the last resume: every run is killed."""
    model = _model(tmp_path)
    ref = _rmapwalk("run", model, "--json", "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path)
    assert ref.returncode == 1, ref.stderr
    ck = str(tmp_path / "ck.json")
    rng = random.Random(16)
    done_before = [0]
    executions_before = [0]
    for attempt in range(6):
        jobs = ["--jobs", "2"] if attempt % 2 else []
        # every unit is SLICE executions (or fewer) and is saved when it returns: where the search
        # is cut, and so what each checkpoint holds, does not depend on timing
        cut = ["--checkpoint-interval", "0", "--slice-executions", str(SLICE)]
        if attempt:
            args = ["resume", ck, "--json", *cut, *jobs]
        else:
            args = ["run", model, "--json", "--checkpoint", ck, *cut, *jobs]
        # the model blocks in the middle of a unit, after at least one unit of this run was saved
        p = _start(*args, "--replay-dir", str(tmp_path / "rp2"), cwd=tmp_path,
                   block_at=rng.randint(2 * SLICE + 1, 4 * SLICE))
        try:
            _wait_until_blocked(p)
            # sequentially that unit's checkpoint is on disk already; under --jobs the coordinator
            # (which does not block) writes it
            _wait_for_units_done(ck, done_before[-1] + 1)
        finally:
            p.send_signal(signal.SIGKILL)
        p.communicate(timeout=HANG_GUARD)  # (no worker survives its coordinator to hold the pipes)
        assert p.returncode == -signal.SIGKILL
        state = _saved(ck)
        assert not state["finished"] and state["units"]
        assert state["stats"]["complete"] > executions_before[-1]  # each run moved the search on
        done_before.append(state["units_done"])
        executions_before.append(state["stats"]["complete"])
    final = _rmapwalk("resume", ck, "--json", "--replay-dir", str(tmp_path / "rp2"), cwd=tmp_path)
    assert final.returncode == 1, final.stderr
    assert _summary(final.stdout) == _summary(ref.stdout)
    # the violation it shows replays
    rp = sorted((tmp_path / "rp2").glob("*.json"))
    assert rp and _rmapwalk("replay", str(rp[0])).returncode == 1


def test_ctrl_c_saves_a_checkpoint_and_prints_partial_statistics(tmp_path: Path) -> None:
    model = _model(tmp_path)
    ck = str(tmp_path / "ck.json")
    p = _start("run", model, "--checkpoint", ck, "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path, block_at=50)
    before = _wait_until_blocked(p)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=HANG_GUARD)
    err = before + err
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
    p = _start("run", model, "--replay-dir", str(tmp_path / "rp"), cwd=tmp_path, block_at=50)
    before = _wait_until_blocked(p)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=HANG_GUARD)
    err = before + err
    assert p.returncode in (1, 3), err
    assert "interrupted (Ctrl-C)" in out
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
    # 100 of its 7168 executions: the checkpoint holds the rest, whatever the machine's speed
    res = _rmapwalk("run", model, "--checkpoint", str(ck), "--max-executions", "100", "--replay-dir", str(tmp_path))
    assert res.returncode in (1, 3), res.stderr
    assert "--max-executions" in res.stdout
    data = json.loads(ck.read_text())
    assert data["units"] and not data["finished"]
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
