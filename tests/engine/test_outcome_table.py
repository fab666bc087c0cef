"""The outcome table is bounded unless asked for: memory stays flat in the number of distinct
final states, the counts it keeps are exact, and every execution is still checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.programs import lastzero
from rmapwalk.engine import explore
from rmapwalk.engine.result import DEFAULT_MAX_OUTCOMES, HOLDS, Result

ROOT = Path(__file__).resolve().parents[2]


def test_count_outcome_keeps_at_most_the_bound_with_exact_counts() -> None:
    r = Result("p", "sc", HOLDS, max_outcomes=2)
    for key in ["a", "b", "a", "c", "c", "b", "d", "a"]:
        r.count_outcome(((key, 1),))
    assert r.outcomes == {(("a", 1),): 3, (("b", 1),): 2}
    assert r.untabled == 3
    r.count_outcome((("c", 1),), 5)
    r.count_outcome((("a", 1),), 5)
    assert r.outcomes[(("a", 1),)] == 8 and r.untabled == 8
    # the table is the least outcomes (by repr), whatever the order they are counted in
    backwards = Result("p", "sc", HOLDS, max_outcomes=2)
    for key in ["d", "c", "b", "a", "a", "b", "a", "c"]:
        backwards.count_outcome(((key, 1),))
    assert backwards.outcomes == {(("a", 1),): 3, (("b", 1),): 2} and backwards.untabled == 3
    unbounded = Result("p", "sc", HOLDS)
    for i in range(3 * DEFAULT_MAX_OUTCOMES):
        unbounded.count_outcome((("k", i),))
    assert len(unbounded.outcomes) == 3 * DEFAULT_MAX_OUTCOMES and unbounded.untabled == 0


def test_a_bounded_exploration_counts_every_execution_and_checks_every_outcome() -> None:
    full = explore(lastzero(6), "sc", max_outcomes=None)
    assert len(full.outcomes) > 8 and full.untabled == 0
    bounded = explore(lastzero(6), "sc", max_outcomes=8)
    assert len(bounded.outcomes) == 8
    assert bounded.stats.complete == full.stats.complete
    assert sum(bounded.outcomes.values()) + bounded.untabled == full.stats.complete
    for key, n in bounded.outcomes.items():  # the tabled counts are exact
        assert full.outcomes[key] == n
    # a condition on an outcome that is not tabled still fires
    last = next(k for k in full.outcomes if k not in bounded.outcomes)
    prog = lastzero(6)
    prog.forbid(lambda f: tuple(sorted(f.items())) == tuple(sorted(last)), "the last outcome")
    res = explore(prog, "sc", max_outcomes=1)
    assert res.property_counts.get("the last outcome") == full.outcomes[last]


def test_default_bound_and_all_outcomes_on_the_command_line(tmp_path: Path) -> None:
    model = tmp_path / "lz.py"
    model.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                     "from benchmarks.programs import lastzero\nprog = lastzero(11)\n")
    cmd = [sys.executable, "-m", "rmapwalk.cli", "run", str(model), "--json", "--quiet",
           "--replay-dir", str(tmp_path / "r")]
    env = dict(os.environ)
    runs = {}
    for extra in ([], ["--all-outcomes"], ["-j", "2", "--slice-executions", "500"]):
        out = subprocess.run(cmd + extra, capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr
        runs[" ".join(extra)] = json.loads(out.stdout)
    bounded, every, split = runs[""], runs["--all-outcomes"], runs["-j 2 --slice-executions 500"]
    assert len(every["outcomes"]) == 1024 and every["outcomes_untabled"] == 0
    for d in (bounded, split):
        assert len(d["outcomes"]) == DEFAULT_MAX_OUTCOMES
        assert sum(c["count"] for c in d["outcome_counts"]) + d["outcomes_untabled"] == every["executions"]
    # a split search tables the same outcomes with the same counts
    assert split["outcome_counts"] == bounded["outcome_counts"]
    assert split["outcomes_untabled"] == bounded["outcomes_untabled"]
    text = subprocess.run([c for c in cmd if c != "--json"], capture_output=True, text=True, env=env,
                          timeout=600).stdout
    assert f"outcomes ({DEFAULT_MAX_OUTCOMES} tabled, the least; {bounded['outcomes_untabled']} more" in text


def test_a_resumed_search_tables_outcomes_as_the_saved_one(tmp_path: Path) -> None:
    """The checkpoint keeps the bound (or --all-outcomes): an interrupted and resumed search ends
    with the same table and counts as an uninterrupted one."""
    model = tmp_path / "lz.py"
    model.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                     "from benchmarks.programs import lastzero\nprog = lastzero(11)\n")
    base = [sys.executable, "-m", "rmapwalk.cli"]
    for extra in ([], ["--all-outcomes"]):
        ckpt = tmp_path / f"ck{len(extra)}.json"
        whole = subprocess.run([*base, "run", str(model), "--json", "--quiet", *extra], capture_output=True,
                               text=True, timeout=600)
        part = subprocess.run([*base, "run", str(model), "--json", "--quiet", "--checkpoint", str(ckpt),
                               "--max-executions", "3000", "--slice-executions", "500", *extra],
                              capture_output=True, text=True, timeout=600)
        assert part.returncode == 3, part.stderr
        resumed = subprocess.run([*base, "resume", str(ckpt), "--json"], capture_output=True, text=True,
                                 timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        a, b = json.loads(whole.stdout), json.loads(resumed.stdout)
        assert a["executions"] == b["executions"] == 7168
        assert a["outcome_counts"] == b["outcome_counts"]
        assert a["outcomes_untabled"] == b["outcomes_untabled"] == (0 if extra else a["outcomes_untabled"])
        assert len(b["outcomes"]) == (1024 if extra else DEFAULT_MAX_OUTCOMES)
