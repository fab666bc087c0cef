"""`rmapwalk mutate` on small models: which weakening of which site is killed under which model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rmapwalk.cli import main
from rmapwalk.engine import mutation as mut
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.loader import load_model
from rmapwalk.mutate import (
    KILLED,
    NOT_RUN,
    SURVIVES,
    MutationReport,
    equivalent_under,
    file_targets,
    mutate,
    verdict_text,
)

HERE = Path(__file__).parent
MUTANTS = str(HERE / "models" / "mutants.py")
EXAMPLES = HERE.parent / "src" / "rmapwalk" / "examples"
ALL = ["sc", "tso", "pso", "lkmm", "weak"]


def table(report: MutationReport) -> dict[tuple[str, str, str], tuple[str, list[str]]]:
    """(function, primitive, weakening) -> (verdict, models that kill it), of the first such site."""
    out: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
    for s, m in report.mutants():
        out.setdefault((s.site.func, s.site.primitive, m.mutation.weakening), (m.verdict, m.killing_models))
    return out


def run(path: str, programs: list[str], models: list[str] = ALL, **kw: Any) -> MutationReport:
    return mutate(file_targets(path, models, programs), path, **kw)


def test_mp_wmb_is_needed_under_pso_and_rmb_only_under_weaker_models() -> None:
    t = table(run(str(EXAMPLES / "mp.py"), ["mp"]))
    assert t[("writer", "smp_wmb", mut.REMOVED)] == (KILLED, ["pso", "lkmm", "weak"])
    assert t[("reader", "smp_rmb", mut.REMOVED)] == (KILLED, ["lkmm", "weak"])
    # the marked accesses: only a data-race check could tell them from plain ones, and MP has none
    assert t[("writer", "WRITE_ONCE", mut.TO_PLAIN)] == (NOT_RUN, [])


def test_sb_mb_is_needed_from_tso_on() -> None:
    report = run(str(EXAMPLES / "sb.py"), ["sb_mb"], ["sc", "tso", "pso", "lkmm"])
    t = table(report)
    assert t[("P0", "smp_mb", mut.REMOVED)] == (KILLED, ["tso", "pso", "lkmm"])
    assert t[("P1", "smp_mb", mut.REMOVED)] == (KILLED, ["tso", "pso", "lkmm"])
    (site, m) = next((s, m) for s, m in report.mutants() if s.site.func == "P0" and s.site.primitive == "smp_mb")
    assert site.site.line == 22 and os.path.basename(site.site.file) == "sb.py"
    assert m.skipped == [("sc", "equivalent under SC")]
    shortest = m.shortest()
    # (TSO's trace has the store-buffer steps; LKMM's, one event per access, can be shorter)
    assert shortest is not None and shortest.target.model in ("tso", "lkmm")
    assert shortest.violation is not None and "smp_mb" not in shortest.violation["trace"].split("P1")[0]


def test_every_kind_of_site() -> None:
    t = table(run(MUTANTS, []))
    # release/acquire: the release matters under PSO, the acquire only where loads are reordered
    assert t[("writer", "smp_store_release", mut.TO_ONCE)] == (KILLED, ["pso", "lkmm", "weak"])
    assert t[("reader", "smp_load_acquire", mut.TO_ONCE)] == (KILLED, ["lkmm", "weak"])
    # a fully ordered RMW: relaxed breaks SB from PSO on (TSO: every RMW is locked); non-atomic from TSO on
    assert t[("P0", "xchg", mut.TO_RELAXED)] == (KILLED, ["pso", "lkmm", "weak"])
    assert t[("P0", "xchg", mut.NON_ATOMIC)] == (KILLED, ["tso", "pso", "lkmm", "weak"])
    # atomicity: a non-atomic increment loses an update even under SC
    assert t[("_inc", "atomic_inc", mut.NON_ATOMIC)] == (KILLED, ALL)
    assert ("_inc", "atomic_inc", mut.TO_RELAXED) not in t  # already relaxed
    # a lock pair
    assert t[("_locked_inc", "spin_lock", mut.REMOVED)] == (KILLED, ALL)
    # RCU (under LKMM the slab layer's use-after-free check does not know grace periods yet: the
    # program is violated unmutated there, and not used)
    for key in [("rcu_reader", "rcu_read_lock", mut.REMOVED), ("rcu_updater", "synchronize_rcu", mut.REMOVED)]:
        assert t[key][0] == KILLED and {"sc", "tso", "pso", "weak"} <= set(t[key][1])
    # rcu_dereference's dependency order: no model here reorders a load with a dependent one
    assert t[("rcu_reader", "rcu_dereference", mut.TO_ONCE)] == (SURVIVES, [])
    # a declared check
    assert t[("consumer", "item ready", mut.ALWAYS_PASS)] == (KILLED, ALL)
    # data races checked: a marked access made plain races under every model
    assert t[("racy_writer", "WRITE_ONCE", mut.TO_PLAIN)] == (KILLED, ALL)
    assert t[("racy_writer", "smp_store_release", mut.TO_ONCE)] == (KILLED, ["pso", "lkmm", "weak"])
    # the engine's own operations called by the model are sites too
    assert t[("E0", "fence(mb)", mut.REMOVED)] == (KILLED, ["tso", "pso", "lkmm", "weak"])
    assert t[("E0", "store", mut.TO_PLAIN)] == (NOT_RUN, [])


def test_lock_sites_name_where_the_section_ends() -> None:
    report = run(MUTANTS, ["locked"], ["sc"])
    (site,) = [s for s in report.sites if s.site.primitive == "spin_lock"]
    assert [(os.path.basename(f), fn) for f, _, fn in site.closers] == [("mutants.py", "_locked_inc")]
    assert site.site.kind == mut.LOCK


@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("program", ["MP+rel+acq", "SB+xchg", "check", "racy"])
def test_equivalent_mutants_are_equivalent(model: str, program: str) -> None:
    """What `mutate` does not run under SC and TSO because the model cannot tell it apart,
    run anyway: the same outcomes and violations as unmutated."""
    prog = load_model(MUTANTS, program).program

    def outcome() -> tuple[Any, ...]:
        res = Explorer(prog, model, Options(keep_violations=1)).run()
        return res.verdict, sorted(res.outcomes.items(), key=repr), sorted(res.property_counts.items())

    with mut.recording() as rec:
        base = outcome()
    skipped = 0
    for site in rec.sites.values():
        for w in site.weakenings():
            if equivalent_under(site, w, model) is None:
                continue
            skipped += 1
            with mut.applied(mut.Mutation(site, w)):
                assert outcome() == base, (site, w)
    assert skipped


def test_jobs_give_the_same_table() -> None:
    one = table(run(MUTANTS, ["MP+rel+acq", "counter", "locked"], ["sc", "pso", "lkmm"]))
    two = table(run(MUTANTS, ["MP+rel+acq", "counter", "locked"], ["sc", "pso", "lkmm"], jobs=2))
    assert one == two


def test_cli_json_and_replay(tmp_path: Path) -> None:
    runner = CliRunner()
    rdir = tmp_path / "replays"
    res = runner.invoke(main, ["mutate", str(EXAMPLES / "sb.py"), "--program", "sb_mb", "--models", "sc,tso",
                               "--json", "--replay-dir", str(rdir)])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert obj["summary"]["killed"] == 2
    (site,) = [s for s in obj["sites"] if s["primitive"] == "smp_mb" and s["function"] == "P0"]
    (m,) = site["mutants"]
    assert m["verdict"] == "killed" and m["killed_under"] == ["tso"]
    killer = m["killed_by"][0]
    assert killer["violation"]["kind"] == "both loads missed the other store"
    rep = runner.invoke(main, ["replay", killer["replay_file"]])
    assert rep.exit_code == 1, rep.output
    assert rep.output.startswith("mutant: examples/sb.py:22 P0 smp_mb: removed")
    assert killer["violation"]["trace"] in rep.output
    # without the mutation the recorded execution is not one of the program's
    data = json.loads(Path(killer["replay_file"]).read_text())
    del data["mutation"]
    Path(killer["replay_file"]).write_text(json.dumps(data))
    assert runner.invoke(main, ["replay", killer["replay_file"]]).exit_code == 2


def test_cli_text(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["mutate", str(EXAMPLES / "mp.py"), "-p", "mp", "-m", "pso",
                                    "--replay-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "examples/mp.py:23 writer smp_wmb" in res.output
    assert "KILLED PSO: MP+wmb+rmb (flag seen but data stale)" in res.output
    assert "== examples/mp.py:23 writer smp_wmb removed: killed under PSO" in res.output
    bad = CliRunner().invoke(main, ["mutate", str(EXAMPLES / "mp.py"), "--scenario", "x"])
    assert bad.exit_code == 2


def test_a_survivor_names_the_runs_it_was_not_tried_on() -> None:
    # LKMM's unmutated MP stops at its event budget (PSO's is 100 times larger and finishes): the
    # reader's smp_rmb, needed only under LKMM, then survives PSO -- said with the LKMM run that
    # reaches it and was not tried, never as a plain "survives"
    report = run(str(EXAMPLES / "mp.py"), ["mp"], ["pso", "lkmm"], baseline_budget=1)
    (m,) = [m for s, m in report.mutants() if s.site.func == "reader" and s.site.primitive == "smp_rmb"]
    assert m.verdict == SURVIVES
    assert [t.model for t in m.untried] == ["lkmm"]
    assert "not tried on 1 LKMM run reaching it" in verdict_text(m)
    (w,) = [m for s, m in report.mutants() if s.site.func == "writer" and s.site.primitive == "smp_wmb"]
    assert w.verdict == KILLED and "not tried" not in verdict_text(w)  # (a kill needs no qualifier)
    # with the budget large enough the LKMM run is used, and kills it
    full = table(run(str(EXAMPLES / "mp.py"), ["mp"], ["pso", "lkmm"]))
    assert full[("reader", "smp_rmb", mut.REMOVED)] == (KILLED, ["lkmm"])
