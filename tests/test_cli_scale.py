"""The command line of large searches: --random, --estimate, --jobs, --cluster, --checkpoint,
resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rmapwalk.cli import main

MODELS = Path(__file__).parent / "models"
SB = str(MODELS / "sb.py")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- --random -----------------------------------------------------------------------------------
def test_random_without_violation_is_incomplete_exit_3(tmp_path: Path) -> None:
    res = cli("run", SB, "--random", "--seed", "4", "--executions", "50", "--replay-dir", str(tmp_path))
    assert res.exit_code == 3, res.output
    assert "no violation in 50 sampled executions" in res.stdout
    assert "verdict: holds" not in res.stdout


def test_random_violation_replays(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    res = cli("run", SB, "-m", "tso", "--random", "--seed", "1", "--executions", "200",
              "--scheduler", "pct", "--depth", "2", "--replay-dir", str(rp))
    assert res.exit_code == 1, res.output
    files = sorted(rp.glob("*.json"))
    assert files
    again = cli("replay", str(files[0]))
    assert again.exit_code == 1
    assert "forbidden outcome" in again.stdout
    # the trace replay prints is the one run printed
    start = res.stdout.index("violation: ")
    end = res.stdout.index("\nreplay: ", start)
    assert res.stdout[start:end].strip() in again.stdout


def test_random_same_seed_same_json(tmp_path: Path) -> None:
    outs = []
    for _ in range(2):
        res = cli("run", SB, "-m", "pso", "--random", "--seed", "9", "--executions", "120", "--json",
                  "--replay-dir", str(tmp_path))
        obj = json.loads(res.stdout)
        outs.append((obj["outcome_counts"], obj["violation_count"], obj["events"]))
    assert outs[0] == outs[1]


def test_random_options_need_random(tmp_path: Path) -> None:
    res = cli("run", SB, "--executions", "5", "--replay-dir", str(tmp_path))
    assert res.exit_code == 2
    assert "--executions needs --random" in res.stderr


# -- --estimate ---------------------------------------------------------------------------------
def test_estimate_printed_before_the_run(tmp_path: Path) -> None:
    res = cli("run", SB, "--estimate", "--replay-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert first.startswith("estimate (") and "executions" in first
    res = cli("run", SB, "--estimate", "--json", "--replay-dir", str(tmp_path))
    assert res.exit_code == 0
    json.loads(res.stdout)
    assert "estimate (" in res.stderr


# -- --jobs, --cluster --------------------------------------------------------------------------
SPIN = str(MODELS / "spin.py")
LOST = str(MODELS / "lost_update.py")


def _summary(out: str) -> tuple[object, ...]:
    obj = json.loads(out)
    return (obj["verdict"], obj["executions"], obj["blocked"], obj["errors"], obj["events"],
            obj["outcome_counts"], obj["violation_count"], obj["property_counts"], obj["exists"])


def test_jobs_gives_the_sequential_totals(tmp_path: Path) -> None:
    for model_file in (SB, LOST, SPIN):
        for mm in ("sc", "tso", "pso"):
            seq = cli("run", model_file, "-m", mm, "--json", "--all-violations", "--replay-dir", str(tmp_path / "a"))
            par = cli("run", model_file, "-m", mm, "--json", "--all-violations", "--jobs", "2",
                      "--replay-dir", str(tmp_path / "b"))
            assert par.exit_code == seq.exit_code, par.output
            assert _summary(par.stdout) == _summary(seq.stdout)


def test_jobs_violation_replays(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    res = cli("run", LOST, "--jobs", "2", "--replay-dir", str(rp))
    assert res.exit_code == 1
    files = sorted(rp.glob("*.json"))
    assert files
    assert cli("replay", str(files[0])).exit_code == 1


def test_cluster(tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB",
                      dashboard_address=None) as cluster:
        par = cli("run", SB, "-m", "tso", "--json", "--cluster", cluster.scheduler_address,
                  "--replay-dir", str(tmp_path))
    seq = cli("run", SB, "-m", "tso", "--json", "--replay-dir", str(tmp_path))
    assert par.exit_code == 1
    assert _summary(par.stdout) == _summary(seq.stdout)


def test_cluster_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rmapwalk.engine import parallel

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "1s")  # (the message, not the wait, is tested)
    res = cli("run", SB, "--cluster", "tcp://127.0.0.1:9", "--replay-dir", str(tmp_path))
    assert res.exit_code == 2
    assert "cannot reach the Dask scheduler" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_scale_options_that_do_not_go_together(tmp_path: Path) -> None:
    res = cli("run", SB, "--random", "--checkpoint", str(tmp_path / "c.json"), "--replay-dir", str(tmp_path))
    assert res.exit_code == 2 and "not to --random" in res.stderr
    res = cli("run", SB, "--checkpoint-interval", "1", "--replay-dir", str(tmp_path))
    assert res.exit_code == 2 and "needs --checkpoint" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = cli("run", SB, "--slice-executions", "5", "--replay-dir", str(tmp_path))
    assert res.exit_code == 2 and "--slice-executions applies to --jobs, --cluster or --checkpoint" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_checkpoints_of_units_cut_by_count_do_not_depend_on_timing(tmp_path: Path) -> None:
    """--slice-executions N with --checkpoint-interval 0: units of N executions, a checkpoint after
    each; stopped by --max-executions, two runs save the same checkpoint, and it resumes (cut the
    same way) to the uninterrupted totals."""
    model = tmp_path / "lz.py"
    model.write_text("from benchmarks.programs import lastzero\np = lastzero(7)\n")
    cut = ["--checkpoint-interval", "0", "--slice-executions", "7"]
    saved = []
    for i in range(2):
        ck = tmp_path / f"c{i}.json"
        res = cli("run", str(model), "--checkpoint", str(ck), *cut, "--max-executions", "40",
                  "--replay-dir", str(tmp_path))
        assert res.exit_code == 3, res.output
        data = json.loads(ck.read_text())
        saved.append({k: data[k] for k in ("stats", "outcomes", "units", "units_done", "finished")})
    assert saved[0] == saved[1]
    assert saved[0]["stats"]["complete"] == 40 and saved[0]["units_done"] == 6  # 7+7+7+7+7+5
    assert saved[0]["units"] and not saved[0]["finished"]
    again = cli("resume", str(tmp_path / "c0.json"), "--json", *cut, "--replay-dir", str(tmp_path))
    whole = cli("run", str(model), "--json", "--replay-dir", str(tmp_path))
    assert again.exit_code == whole.exit_code == 0, again.output
    assert _summary(again.stdout) == _summary(whole.stdout)
    assert json.loads((tmp_path / "c0.json").read_text())["finished"]
