"""``--lb-search``: how ``run``, ``check kvm``, ``review`` and ``litmus`` search load buffering
(completely by default everywhere; ``optimal`` on request).

``tests/models/lb_inc.py`` has 12 executions under LKMM (linux-kernel.cat agrees); the optimal
search finds 9 of them, the complete one all 12, in one process or split across workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rmapwalk.cli import main
from rmapwalk.engine.workunit import ProgramSource, SearchConfig, UnitError

LB_INC = str(Path(__file__).parent / "models" / "lb_inc.py")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("search", "executions"), [("optimal", 9), ("complete", 12)])
def test_run_counts_and_names_its_search(search: str, executions: int, tmp_path: Path) -> None:
    res = cli("run", LB_INC, "--model", "lkmm", "--lb-search", search, "--json", "--replay-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert (obj["executions"], obj["lb_search"]) == (executions, search)
    text = cli("run", LB_INC, "--model", "lkmm", "--lb-search", search, "--replay-dir", str(tmp_path)).stdout
    assert "load-buffering search" in text
    assert ("can miss executions" in text) == (search == "optimal")


def test_the_complete_search_finds_the_outcome_the_optimal_one_misses(tmp_path: Path) -> None:
    def outcomes(search: str) -> set[tuple[object, ...]]:
        res = cli("run", LB_INC, "--model", "lkmm", "--lb-search", search, "--json", "--replay-dir", str(tmp_path))
        return {(o["P1:r0"], o["x"]) for o in json.loads(res.stdout)["outcomes"]}

    assert outcomes("complete") - outcomes("optimal") == {(1, 3)}


def test_split_search_is_complete_too(tmp_path: Path) -> None:
    res = cli("run", LB_INC, "--model", "lkmm", "--lb-search", "complete", "--jobs", "2", "--json",
              "--replay-dir", str(tmp_path))
    obj = json.loads(res.stdout)
    assert (obj["executions"], obj["lb_search"]) == (12, "complete")


def test_models_without_load_buffering_name_no_search(tmp_path: Path) -> None:
    for search in ("optimal", "complete"):
        res = cli("run", LB_INC, "--model", "pso", "--lb-search", search, "--json", "--replay-dir", str(tmp_path))
        obj = json.loads(res.stdout)
        assert obj["lb_search"] is None
        assert obj["executions"] == 9  # (no load buffering: PSO has the optimal search's 9)


def test_bad_value_is_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["run", LB_INC, "--model", "lkmm", "--lb-search", "fast"])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "'fast' is not one of 'optimal', 'complete'" in res.output


def test_search_config_keeps_the_search() -> None:
    cfg = SearchConfig(ProgramSource(module="benchmarks.programs", function="lastzero", args=(3,)), "lkmm",
                       lb_search="complete")
    assert SearchConfig.from_json(json.loads(json.dumps(cfg.as_json()))) == cfg
    old = cfg.as_json()
    del old["lb_search"]  # (a checkpoint written before the complete search: it searched optimally)
    assert SearchConfig.from_json(old).lb_search == "optimal"
    with pytest.raises(UnitError, match="lb_search"):
        SearchConfig.from_json({**cfg.as_json(), "lb_search": "fast"})


LB_INC_LITMUS = """C LB-inc

{}

P0(int *x)
{
\tatomic_inc(x);
}

P1(int *x, int *z)
{
\tint r0;
\tr0 = READ_ONCE(*z);
\tif (r0) { WRITE_ONCE(*x, 1); } else { r0 = READ_ONCE(*x); }
}

P2(int *x, int *z)
{
\tatomic_inc(x);
\tatomic_inc(z);
}

exists (1:r0=1 /\\ x=3)
"""


def test_litmus_searches_completely_by_default(tmp_path: Path) -> None:
    """herd7's counts are exact, so the litmus front end's engine models search completely
    unless asked otherwise (herd7 7.58: Positive: 2 Negative: 10, Sometimes)."""
    f = tmp_path / "lb-inc.litmus"
    f.write_text(LB_INC_LITMUS)
    default = cli("litmus", "--model", "lkmm", "--no-time", str(f)).stdout
    assert "Positive: 2 Negative: 10" in default
    assert "Observation LB-inc Sometimes 2 10" in default
    optimal = cli("litmus", "--model", "lkmm", "--no-time", "--lb-search", "optimal", str(f)).stdout
    assert "Observation LB-inc Never 0 9" in optimal


def test_pytest_plugin_searches_completely_by_default() -> None:
    from rmapwalk.loader import load_program
    from rmapwalk.pytest_plugin import CheckSettings, run_check

    prog, _ = load_program(LB_INC)
    assert run_check(prog, CheckSettings(model="lkmm")).result.stats.complete == 12
    prog, _ = load_program(LB_INC)
    assert run_check(prog, CheckSettings(model="lkmm", lb_search="optimal")).result.stats.complete == 9


def test_check_kvm_searches_completely_by_default_and_says_so(tmp_path: Path) -> None:
    """sp-rcu sp_free=immediate has 88 executions under LKMM; the optimal search finds 70."""
    def run(*extra: str) -> dict[str, object]:
        res = cli("check", "kvm", "--scenario", "sp-rcu", "--set", "sp_free=immediate", "--model", "lkmm", "--json",
                  "--replay-dir", str(tmp_path), *extra)
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    default, optimal = run(), run("--lb-search", "optimal")
    assert (default["lb_search"], default["executions"]) == ("complete", 88)
    assert (optimal["lb_search"], optimal["executions"]) == ("optimal", 70)


def test_review_searches_completely_by_default() -> None:
    """The review's LKMM counts are exact by default; only --lb-search optimal makes them lower
    bounds, and the report then says so."""
    default = cli("review", "--scenario", "age-vs-add", "--models", "lkmm").stdout
    optimal = cli("review", "--scenario", "age-vs-add", "--models", "lkmm", "--lb-search", "optimal").stdout
    assert "lower bounds" not in " ".join(default.split())
    assert "lower bounds" in " ".join(optimal.split())
