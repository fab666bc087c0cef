"""The KVM commands: ``scenarios``, ``check kvm``, ``review``, ``switches``; presets; replay of a
KVM violation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rmapwalk import review
from rmapwalk.cli import main
from rmapwalk.kvm.presets import PRESETS, get_preset, preset_switches, switches_markdown
from rmapwalk.kvm.scenarios import SCENARIOS
from rmapwalk.kvm.switches import SWITCHES, Switches

#: a fast scenario (well under a second per run) with a broken and a fixed setting
FAST = "large-spte"
BROKEN = ("--set", "large_wp=readonly", "--set", "fast_pf_large=allow")
FIXED = ("--set", "large_wp=readonly", "--set", "fast_pf_large=forbid")
I1 = "I1 no dirty page lost"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_error_line(res: Result) -> str:
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("rmapwalk: ")
    assert "Traceback" not in res.stderr
    return lines[0]


# -- presets ----------------------------------------------------------------------------------
def test_presets() -> None:
    assert list(PRESETS) == ["3.11", "series-v1", "series-v2", "upstream-2014", "upstream-6.15"]
    for name, p in PRESETS.items():
        assert p.doc
        sw = preset_switches(name)
        assert isinstance(sw, Switches)
        assert set(p.values) <= set(SWITCHES)
    assert preset_switches("3.11").write_protect == "locked"
    assert preset_switches("3.11").flush_location == "under_lock"
    up = preset_switches("upstream-2014")
    assert (up.write_protect, up.large_wp, up.fast_pf_large, up.flush_rule, up.flush_location) == (
        "locked", "readonly", "forbid", "mmu_writable", "after_unlock_serialized")
    v1, v2 = preset_switches("series-v1"), preset_switches("series-v2")
    assert v1.write_protect == v2.write_protect == "lockless"
    assert (v1.mark_order, v1.nulls, v1.pte_list, v1.sp_free, v1.leaf_check) == (
        "after_rmap", "on", "head", "call_rcu", "by_level")
    assert (v2.sp_free, v2.leaf_check, v2.lockless_deref) == ("typesafe_slab", "by_value", "rcu_dereference")


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError) as e:
        get_preset("4.0")
    for name in PRESETS:
        assert name in str(e.value)


# -- scenarios ---------------------------------------------------------------------------------
def test_scenarios_lists_every_scenario_with_its_question() -> None:
    res = cli("scenarios")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert len(lines) == len(SCENARIOS)
    for line, (name, sc) in zip(lines, SCENARIOS.items(), strict=True):
        assert line.startswith(name + " ")
        assert " ".join(sc.question.split()) in line


# -- check kvm ---------------------------------------------------------------------------------
def test_check_kvm_holds_exit_0_json(tmp_path: Path) -> None:
    res = cli("check", "kvm", "--scenario", FAST, *FIXED, "--json", "--replay-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert set(obj) >= {"scenario", "preset", "switches", "model", "verdict", "violations", "executions",
                        "seconds"}
    assert obj["scenario"] == FAST and obj["preset"] is None and obj["model"] == "sc"
    assert obj["verdict"] == "holds" and obj["violations"] == []
    assert set(obj["switches"]) == set(SWITCHES)
    assert obj["switches"]["large_wp"] == "readonly" and obj["switches"]["fast_pf_large"] == "forbid"
    assert obj["executions"] > 0 and obj["seconds"] >= 0
    assert isinstance(obj["blocked"], int) and 0 <= obj["blocked"] <= obj["executions"]
    assert not list(tmp_path.iterdir())


def test_check_kvm_text_holds() -> None:
    res = cli("check", "kvm", "--scenario", "baseline-locked", "-m", "tso")
    assert res.exit_code == 0, res.output
    assert "scenario baseline-locked:" in res.stdout and "verdict: holds" in res.stdout
    assert "model tso" in res.stdout


def test_check_kvm_violated_exit_1_and_replay(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    res = cli("check", "kvm", "--scenario", FAST, *BROKEN, "--model", "pso", "--json", "--replay-dir", str(rp))
    assert res.exit_code == 1, res.output
    obj = json.loads(res.stdout)
    assert obj["verdict"] == "violated" and obj["model"] == "pso"
    assert obj["violations"]
    v = obj["violations"][0]
    assert set(v) >= {"property", "trace", "replay"}
    assert v["property"] == I1
    data = json.loads(Path(v["replay"]).read_text())
    assert data["kvm"]["scenario"] == FAST
    assert data["kvm"]["switches"] == obj["switches"]
    rep = cli("replay", "--json", v["replay"])
    assert rep.exit_code == 1, rep.output
    robj = json.loads(rep.stdout)
    assert robj["trace"] == v["trace"] and robj["property"] == I1

    # the text forms: replay prints exactly the violation block of check kvm
    res = cli("check", "kvm", "--scenario", FAST, *BROKEN, "--replay-dir", str(rp))
    assert res.exit_code == 1
    out = res.stdout
    start = out.index("violation: ")
    end = out.index("\nreplay: ", start)
    hint = out[end:].split("\n")[1]
    assert hint.startswith("replay: rmapwalk replay ")
    rep = cli("replay", hint.removeprefix("replay: rmapwalk replay "))
    assert rep.exit_code == 1
    assert rep.stdout.rstrip("\n") == out[start:end]


def test_check_kvm_presets(tmp_path: Path) -> None:
    res = cli("check", "kvm", "--scenario", FAST, "--preset", "upstream-2014", "--json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["preset"] == "upstream-2014" and obj["switches"]["fast_pf_large"] == "forbid"
    # the series as posted still had the first, reverted "lazily drop large spte" (R4)
    res = cli("check", "kvm", "--scenario", FAST, "--preset", "series-v1", "--json", "--replay-dir",
              str(tmp_path))
    assert res.exit_code == 1, res.output
    # --set wins over the preset
    res = cli("check", "kvm", "--scenario", FAST, "--preset", "series-v1", "--set", "fast_pf_large=forbid",
              "--json")
    assert res.exit_code == 0, res.output


def test_check_kvm_incomplete_exit_3() -> None:
    res = cli("check", "kvm", "--scenario", FAST, *FIXED, "--max-executions", "1", "--json")
    assert res.exit_code == 3, res.output
    assert json.loads(res.stdout)["verdict"] == "incomplete"


@pytest.mark.parametrize("args, expect", [
    (["--scenario", "no-such"], ["unknown scenario 'no-such'", *SCENARIOS]),
    (["--scenario", FAST, "--set", "no_such=1"], ["unknown switch 'no_such'", *SWITCHES]),
    (["--scenario", FAST, "--set", "nulls=maybe"], ["switch nulls", "off", "on"]),
    (["--scenario", FAST, "--set", "pte_list_ext=0"], ["pte_list_ext", "1 <= n <= 16"]),
    (["--scenario", FAST, "--set", "pte_list_ext=x"], ["pte_list_ext", "not an int"]),
    (["--scenario", FAST, "--set", "nulls"], ["KEY=VALUE"]),
    (["--scenario", FAST, "--preset", "4.0"], ["unknown preset", *PRESETS]),
    (["--scenario", FAST, "--model", "arm"], ["unknown memory model", "sc", "tso", "pso"]),
])
def test_check_kvm_bad_input_one_line_exit_2(args: list[str], expect: list[str]) -> None:
    res = cli("check", "kvm", *args)
    assert res.exit_code == 2
    line = one_error_line(res)
    for word in expect:
        assert word in line
    assert res.stdout == ""


def test_replay_of_a_kvm_file_naming_an_unknown_scenario(tmp_path: Path) -> None:
    rp = tmp_path / "rp"
    res = cli("check", "kvm", "--scenario", FAST, *BROKEN, "--json", "--replay-dir", str(rp))
    f = Path(json.loads(res.stdout)["violations"][0]["replay"])
    data = json.loads(f.read_text())
    data["kvm"]["scenario"] = "gone"
    f.write_text(json.dumps(data))
    res = cli("replay", str(f))
    assert res.exit_code == 2
    assert "unknown scenario 'gone'" in one_error_line(res)
    data["kvm"] = {"scenario": FAST, "switches": {"nulls": "maybe"}}
    f.write_text(json.dumps(data))
    res = cli("replay", str(f))
    assert res.exit_code == 2
    assert "switch nulls" in one_error_line(res)


# -- review ------------------------------------------------------------------------------------
def test_review_2025_section_runs_each_scenarios_own_models() -> None:
    """Without --models a 2025 scenario runs under the models of its table (LKMM-alpha included for
    age-ordering), in the section '2025: lockless aging', with its answer."""
    from rmapwalk import review_2025

    res = cli("review", "--markdown", "--scenario", "age-ordering", "--scenario", FAST)
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert md.startswith("# The 2013 review") and f"## {review_2025.TITLE}" in md
    assert md.index(f"## `{FAST}`") < md.index(f"## {review_2025.TITLE}") < md.index("### `age-ordering`")
    rows = [ln for ln in md.splitlines() if ln.startswith("| `age-ordering`")]
    assert {r.split("|")[3].strip() for r in rows} == {"sc", "tso", "pso", "lkmm", "lkmm-alpha"}
    assert all("| yes |" in r for r in rows)
    assert review_2025.ANSWERS["age-ordering"] in md
    assert {r.split("|")[3].strip() for r in md.splitlines() if r.startswith(f"| `{FAST}`")} == {"sc", "tso", "pso"}
    txt = cli("review", "--scenario", FAST, "--scenario", "age-empty-rmap", "--models", "sc", "--width", "100")
    assert txt.exit_code == 0
    out = txt.stdout
    assert "of the 2013 lockless write-protect review and the 2025 lockless aging" in out
    assert out.index(f"] {FAST}") < out.index(review_2025.TITLE) < out.index("] age-empty-rmap")
    assert "A: nothing stops it" in out


def test_review_html_has_the_2025_section(tmp_path: Path) -> None:
    from rmapwalk import review_2025

    page = tmp_path / "review.html"
    res = cli("review", "--scenario", FAST, "--scenario", "age-clear", "--models", "sc", "--html", str(page))
    assert res.exit_code == 0, res.output
    html = page.read_text(encoding="utf-8")
    assert html.index(f"<code>{FAST}</code>") < html.index(review_2025.TITLE) < html.rindex("<code>age-clear</code>")


def test_check_kvm_upstream_615_preset() -> None:
    res = cli("check", "kvm", "--scenario", "age-empty-walk", "--preset", "upstream-6.15")
    assert res.exit_code == 1 and "use-after-free" in res.stdout
    res = cli("check", "kvm", "--scenario", "age-empty-walk", "--preset", "upstream-6.15", "--set",
              "walk_start=locked_value", "--model", "lkmm")
    assert res.exit_code == 0, res.stdout


def test_review_markdown_on_one_scenario() -> None:
    res = cli("review", "--markdown", "--scenario", FAST, "--models", "sc,pso")
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert md.startswith("# ")
    assert review.DOCS_COMMAND in md
    assert "| question | setting | model | verdict | as expected | executions | seconds |" in md
    sc = SCENARIOS[FAST]
    rows = [ln for ln in md.splitlines() if ln.startswith(f"| `{FAST}`")]
    assert len(rows) == len(review.settings_of(sc)) * 2
    assert all("| yes |" in r for r in rows)
    assert f"## `{FAST}`" in md and sc.question in md
    assert "Answer:" in md
    assert "Shortest trace" in md and "violation: " + I1 in md
    assert "the same trace as under SC" in md  # the PSO trace equals the SC one here
    assert "NO (expected" not in md


def test_review_text_and_bad_input() -> None:
    res = cli("review", "--scenario", FAST, "--models", "sc")
    assert res.exit_code == 0, res.output
    assert "question" in res.stdout and "violation: " + I1 in res.stdout
    res = cli("review", "--scenario", FAST, "--models", "tso", "--progress")
    assert res.exit_code == 0
    assert len(res.stderr.splitlines()) == len(review.settings_of(SCENARIOS[FAST]))
    assert all(ln.startswith(f"rmapwalk: review: {FAST} [") for ln in res.stderr.splitlines())
    res = cli("review", "--scenario", "no-such")
    assert res.exit_code == 2
    assert "unknown scenario" in one_error_line(res)
    res = cli("review", "--scenario", FAST, "--models", "sc,arm")
    assert res.exit_code == 2
    assert "unknown memory model" in one_error_line(res)


def test_review_shortest_trace_is_the_shortest() -> None:
    sc = SCENARIOS[FAST]
    run = review.run_one(sc, {"large_wp": "readonly", "fast_pf_large": "allow"}, "sc")
    assert len(run.result.violations) > 1
    prog = sc.build(run.switches)
    steps = [review.trace_steps(review.render_trace(prog, v, "sc")) for v in run.result.violations]
    assert review.trace_steps(run.trace) == min(steps)
    assert run.as_expected is True


def test_review_incomplete_is_no_answer() -> None:
    res = cli("review", "--scenario", FAST, "--models", "sc", "--max-executions", "1", "--markdown")
    assert res.exit_code == 3
    assert "INCOMPLETE" in res.stdout and "Answer:" not in res.stdout


def test_review_run_whose_model_fails_is_incomplete_and_the_review_goes_on() -> None:
    """A model error in one execution of one run (here: a value the model does not handle) makes
    that run INCOMPLETE with the error and its place; the review's other runs keep their verdicts."""
    from rmapwalk.engine import ACQUIRE, RELEASE, ModelError, Program, load, store
    from rmapwalk.kvm.scenarios import HOLDS, Expect, Scenario

    def build(sw: object) -> Program:
        p = Program("fails")
        x = p.var("x")

        def writer() -> None:
            store(x, 1, RELEASE)

        def reader() -> None:
            if load(x, ACQUIRE) == 1:
                raise ModelError("the reader cannot handle 1")

        p.thread(writer, name="writer")
        p.thread(reader, name="reader")
        return p

    bad = Scenario("fails", "?", (), {}, build, (Expect({}, "sc", HOLDS),), checks=())
    runs = review.run_review([bad, SCENARIOS[FAST]], ["sc"])
    failed = [r for r in runs if r.scenario is bad]
    assert [r.verdict for r in failed] == ["incomplete"]
    assert "the model failed: the reader cannot handle 1" in failed[0].verdict_text
    assert "test_cli_kvm.py:" in failed[0].verdict_text
    assert failed[0].as_expected is False
    assert all(r.verdict != "incomplete" for r in runs if r.scenario is not bad)


# -- switches ----------------------------------------------------------------------------------
def test_switches_command() -> None:
    res = cli("switches")
    assert res.exit_code == 0
    for name in SWITCHES:
        assert f"{name} = " in res.stdout
    res = cli("switches", "--markdown")
    assert res.exit_code == 0
    assert res.stdout == switches_markdown()
    for name in SWITCHES:
        assert f"### `{name}`" in res.stdout
    for name in PRESETS:
        assert f"`{name}`" in res.stdout


def test_review_answer_never_claims_more_than_the_runs() -> None:
    from rmapwalk.kvm.scenarios import HOLDS, Expect

    sc = SCENARIOS[FAST]
    settings = {"large_wp": "readonly", "fast_pf_large": "allow"}
    run = review.run_one(sc, settings, "sc")
    assert run.verdict == "violated"
    text = review.answer(sc, [run])
    assert "violates " + I1 in text
    if FAST in review.ANSWERS:
        assert review.ANSWERS[FAST] in text
    # pretend the table expected "holds": the paragraph reports the mismatch, not the answer
    run.expected = Expect(settings, "sc", HOLDS)
    assert run.as_expected is False
    text = review.answer(sc, [run])
    assert "differ from the scenario's expected table" in text
    assert "Answer:" not in text


def test_every_answer_names_a_scenario() -> None:
    assert set(review.ANSWERS) <= set(SCENARIOS)


def test_check_kvm_jobs_gives_the_sequential_totals() -> None:
    """`check kvm --jobs 2`: workers rebuild the scenario from its name and switches; same verdict,
    executions and properties as the sequential run."""
    import json as _json

    from click.testing import CliRunner as _Runner

    from rmapwalk.cli import main as _main

    args = ["check", "kvm", "--scenario", "mark-order", "--preset", "series-v1", "--set", "mark_order=mark_first",
            "--json"]
    seq = _json.loads(_Runner().invoke(_main, args).stdout)
    par = _json.loads(_Runner().invoke(_main, [*args, "--jobs", "2"]).stdout)
    for key in ("verdict", "executions", "property_counts"):
        assert seq[key] == par[key], key
