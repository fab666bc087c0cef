"""--html, --dot and --quiet of `rmapwalk run`, `replay` and `check kvm`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from rmapwalk.cli import main

MODELS = Path(__file__).parents[1] / "models"
SB = str(MODELS / "sb.py")
LOST = str(MODELS / "lost_update.py")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def untimed(report: str) -> list[str]:
    return [ln for ln in report.splitlines() if not ln.strip().startswith(("seconds", "executions/s"))]


def test_run_writes_html_and_dot(tmp_path: Path) -> None:
    page, graph = tmp_path / "out" / "sb.html", tmp_path / "sb.dot"
    res = cli("run", SB, "-m", "tso", "--replay-dir", str(tmp_path / "rp"), "--html", str(page), "--dot", str(graph))
    assert res.exit_code == 1, res.output
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "forbidden outcome" in text and "<svg" in text
    assert "rmapwalk replay" in text and "SB-tso-1.json" in text
    assert graph.read_text(encoding="utf-8").startswith('digraph "SB" {')
    assert f"rmapwalk: wrote {page}" in res.stderr or "sb.html" in res.stderr
    # stdout is the report, unchanged by the options
    plain = cli("run", SB, "-m", "tso", "--replay-dir", str(tmp_path / "rp2"))
    assert untimed(res.stdout.replace("rp/", "rp2/")) == untimed(plain.stdout)


def test_replay_writes_the_same_page(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    first = tmp_path / "run.html"
    assert cli("run", SB, "-m", "tso", "--replay-dir", str(rp), "--html", str(first), "-q").exit_code == 1
    again = tmp_path / "replay.html"
    res = cli("replay", str(rp / "SB-tso-1.json"), "--html", str(again), "--dot", str(tmp_path / "r.dot"), "--quiet")
    assert res.exit_code == 1 and res.stderr == ""
    assert again.read_text(encoding="utf-8").split('class="trace"')[1] == \
        first.read_text(encoding="utf-8").split('class="trace"')[1]
    assert (tmp_path / "r.dot").is_file()


def test_every_violation_gets_a_numbered_file(tmp_path: Path) -> None:
    res = cli("run", SB, "-m", "tso", "--all-violations", "--replay-dir", str(tmp_path / "rp"),
              "--html", str(tmp_path / "v.html"), "--dot", str(tmp_path / "v.dot"), "--json")
    assert res.exit_code == 1
    n = len(json.loads(res.stdout)["violations"])
    assert (tmp_path / "v.html").is_file() and (tmp_path / "v.dot").is_file()
    for i in range(2, n + 1):
        assert (tmp_path / f"v-{i}.html").is_file() and (tmp_path / f"v-{i}.dot").is_file()
    assert not (tmp_path / f"v-{n + 1}.html").exists()


def test_no_violation_no_file_and_a_warning(tmp_path: Path) -> None:
    res = cli("run", SB, "--html", str(tmp_path / "x.html"), "--dot", str(tmp_path / "x.dot"))
    assert res.exit_code == 0
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "x.dot").exists()
    assert "--html: no violation to draw" in res.stderr and "--dot: no violation to draw" in res.stderr
    # without the options, nothing on stderr
    assert cli("run", SB).stderr == ""


def test_unwritable_file_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "dir.html").mkdir()
    res = cli("run", SB, "-m", "tso", "--replay-dir", str(tmp_path / "rp"), "--html", str(tmp_path / "dir.html"))
    assert res.exit_code == 2 and "is a directory" in res.stderr  # a bad option: nothing explored
    (tmp_path / "afile").write_text("")
    res = cli("run", SB, "-m", "tso", "--replay-dir", str(tmp_path / "rp"),
              "--html", str(tmp_path / "afile" / "x.html"))
    assert res.exit_code == 1
    assert "rmapwalk: warning: cannot write" in res.stderr and "Traceback" not in res.stderr


def test_check_kvm_html_and_dot(tmp_path: Path) -> None:
    page, graph = tmp_path / "kvm.html", tmp_path / "kvm.dot"
    res = cli("check", "kvm", "--scenario", "large-spte", "--set", "large_wp=readonly", "--set",
              "fast_pf_large=allow", "-m", "pso", "--replay-dir", str(tmp_path / "rp"),
              "--html", str(page), "--dot", str(graph), "--quiet")
    assert res.exit_code == 1, res.output
    assert res.stderr == ""
    text = page.read_text(encoding="utf-8")
    assert "I1 no dirty page lost" in text and 'class="col-head thread"' in text
    assert "subgraph cluster_t0" in graph.read_text(encoding="utf-8")
    # the replay of a check kvm violation draws the same page
    saved = next((tmp_path / "rp").glob("*.json"))
    res = cli("replay", str(saved), "--html", str(tmp_path / "again.html"), "-q")
    assert res.exit_code == 1
    assert (tmp_path / "again.html").read_text(encoding="utf-8").split('class="trace"')[1] == \
        text.split('class="trace"')[1]


def test_help_lists_the_options() -> None:
    for cmd in (["run"], ["replay"], ["check", "kvm"]):
        out = cli(*cmd, "--help").stdout
        assert "--html FILE" in out and "--dot FILE" in out and "--quiet" in out
