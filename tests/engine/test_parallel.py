"""--jobs / --cluster: the split search gives exactly the sequential verdict, outcomes and counts."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from benchmarks.programs import PROGRAMS
from rmapwalk.engine import Program, explore
from rmapwalk.engine.parallel import ParallelSearch, SearchError, default_jobs
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.result import Result
from rmapwalk.engine.runtime import ModelError
from rmapwalk.engine.workunit import ProgramSource, SearchConfig, UnitError, UnitRunner, graph_from_data

FACTORY = {"N-writers": "n_writers"}


def config(name: str, n: int, model: str, **kw: Any) -> SearchConfig:
    src = ProgramSource(module="benchmarks.programs", function=FACTORY.get(name, name), args=(n,))
    return SearchConfig(src, model, **kw)


def totals(r: Result) -> tuple[Any, ...]:
    st = r.stats
    return (r.verdict, st.complete, st.blocked, st.errors, st.bounded, st.events, st.inconsistent,
            r.outcomes, r.violation_count, r.property_counts, r.exists)


CASES = [("lastzero", 7), ("casrot", 4), ("wcas", 4), ("casw", 3), ("binc", 3), ("N-writers", 3), ("readers", 7)]


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
@pytest.mark.parametrize(("name", "n"), CASES, ids=[f"{b}({n})" for b, n in CASES])
def test_units_in_process_equal_sequential(name: str, n: int, model: str) -> None:
    """Slices of 3 executions: the search is cut into many units (each rebuilt from plain data)."""
    seq = explore(PROGRAMS[name](n), model)
    ps = ParallelSearch(config(name, n, model), PROGRAMS[name](n), jobs=1, slice_executions=3)
    par = ps.run()
    assert totals(par) == totals(seq)
    assert ps.units_done >= seq.stats.executions // 3


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
@pytest.mark.parametrize(("name", "n"), [("lastzero", 9), ("binc", 3), ("casw", 3)])
def test_two_worker_processes_equal_sequential(name: str, n: int, model: str) -> None:
    seq = explore(PROGRAMS[name](n), model)
    par = ParallelSearch(config(name, n, model), PROGRAMS[name](n), jobs=2, slice_executions=50).run()
    assert totals(par) == totals(seq)


def _model_file(tmp_path: Path, body: str) -> str:
    f = tmp_path / "m.py"
    f.write_text(textwrap.dedent(body))
    return str(f)


BROKEN = """
    from rmapwalk.engine import Program, load, store, observe, assume
    p = Program("broken-counter")
    x = p.var("x")
    lock = p.var("lock")
    def worker():
        assume(load(lock) == 0, "lock held")
        store(lock, 1)
        v = load(x)
        store(x, v + 1)
        store(lock, 0)
    for i in range(3):
        p.thread(worker, name=f"t{i}")
    p.require(lambda f: f["x"] == 3, "no increment lost")
"""


@pytest.mark.parametrize("model", ["sc", "tso", "pso"])
def test_violations_counted_exactly_and_replay(tmp_path: Path, model: str) -> None:
    from rmapwalk.loader import load_model

    path = _model_file(tmp_path, BROKEN)
    loaded = load_model(path)
    seq = explore(loaded.program, model, keep_violations=5)
    cfg = SearchConfig(ProgramSource(path=path, sha256=loaded.sha256), model, keep_violations=5)
    par = ParallelSearch(cfg, loaded.program, jobs=2, slice_executions=2).run()
    assert totals(par) == totals(seq)
    assert seq.verdict == "violated"
    assert 1 <= len(par.violations) <= 5
    for v in par.violations:
        rebuild(loaded.program, v.replay)


def test_stop_on_first() -> None:
    from rmapwalk.examples import broken_lock

    prog = broken_lock.broken_lock
    cfg = SearchConfig(ProgramSource(module="rmapwalk.examples.broken_lock", function="make"), "sc",
                       stop_on_first=True)
    res = ParallelSearch(cfg, prog, jobs=2).run()
    assert res.verdict == "violated"
    assert res.violations


def test_timeout_and_bound_make_it_incomplete() -> None:
    # readers(40) has 2**40 executions: the timeout fires first on any machine, however loaded,
    # and the verdict does not depend on how far the search got
    ps = ParallelSearch(config("readers", 40, "sc"), PROGRAMS["readers"](40), jobs=2, timeout=0.5)
    res = ps.run()
    assert res.verdict == "incomplete"
    assert "timeout" in (res.incomplete_reason or "")
    assert not ps.finished and ps.state()["units"]
    res = ParallelSearch(config("lastzero", 12, "sc"), PROGRAMS["lastzero"](12), jobs=1,
                         max_executions=100).run()
    assert res.verdict == "incomplete"
    assert res.stats.executions == 100  # (in this process the bound is exact)


def test_model_error_in_a_worker(tmp_path: Path) -> None:
    path = _model_file(tmp_path, """
        from rmapwalk.engine import Program, load, store
        p = Program("broken")
        x = p.var("x")
        def a():
            store(x, 1)
        def b():
            if load(x) == 1:
                load("boom")  # not a location: the model is broken
        p.thread(a)
        p.thread(b)
    """)
    from rmapwalk.loader import load_model

    prog = load_model(path).program
    with pytest.raises(ModelError, match="boom"):
        ParallelSearch(SearchConfig(ProgramSource(path=path)), prog, jobs=2).run()


RAISES = """
    from rmapwalk.engine import Program, load, store
    p = Program("raises")
    x = p.var("x")
    y = p.var("y")
    def a():
        store(x, 1)
        store(y, 1)
    def b():
        if load(x) == 1:
            raise KeyError("boom")
        load(y)
    p.thread(a)
    p.thread(b)
"""


@pytest.mark.parametrize(("jobs", "slice_executions"), [(1, 1), (2, 50)])
def test_exception_in_a_worker_is_a_violation(tmp_path: Path, jobs: int, slice_executions: int) -> None:
    """A thread raising ends only its execution, in work units as in the sequential search."""
    path = _model_file(tmp_path, RAISES)
    from rmapwalk.loader import load_model

    prog = load_model(path).program
    seq = explore(prog, "tso")
    par = ParallelSearch(SearchConfig(ProgramSource(path=path), "tso"), load_model(path).program, jobs=jobs,
                         slice_executions=slice_executions).run()
    assert totals(par) == totals(seq)
    assert par.property_counts == {"exception": 1} and par.stats.complete >= 2
    (v,) = par.violations
    assert v.message == "KeyError: 'boom'" and v.thread == "b" and v.where is not None
    assert v.where.endswith("m.py:11")
    g = rebuild(prog, v.replay)
    assert g.cursor[1].label == "exception"


def test_model_file_changed_is_an_error(tmp_path: Path) -> None:
    path = _model_file(tmp_path, BROKEN)
    from rmapwalk.loader import load_model

    prog = load_model(path).program
    with pytest.raises(SearchError, match="changed"):
        ParallelSearch(SearchConfig(ProgramSource(path=path, sha256="0" * 64)), prog, jobs=2).run()


def test_a_dead_worker_s_unit_is_rerun(tmp_path: Path) -> None:
    marker = tmp_path / "died"
    path = _model_file(tmp_path, f"""
        import os, signal
        from rmapwalk.engine import Program, load, store, observe
        p = Program("dies-once")
        xs = [p.var(f"x{{i}}") for i in range(4)]
        def w(i):
            store(xs[i], 1)
        def r():
            s = 0
            for x in xs:
                s += load(x)
            if s == 3 and os.environ.get("RMAPWALK_WORKER") and not os.path.exists({str(marker)!r}):
                open({str(marker)!r}, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            observe("s", s)
        for i in range(4):
            p.thread(w, i)
        p.thread(r)
    """)
    from rmapwalk.loader import load_model

    prog = load_model(path).program
    seq = explore(prog, "sc")
    ps = ParallelSearch(SearchConfig(ProgramSource(path=path)), prog, jobs=2)
    par = ps.run()
    assert marker.exists()
    assert ps.worker_deaths == 1
    assert totals(par) == totals(seq)


def test_bad_units_are_rejected() -> None:
    runner = UnitRunner(config("lastzero", 3, "sc"))
    with pytest.raises(UnitError):
        graph_from_data(runner.prog, runner.explorer.beh, {"threads": [[]], "co": [], "reads": [], "next_stamp": 0})
    with pytest.raises(UnitError):
        runner.run([{"graph": {"threads": [[[0, 99, 0, 0]]] * 4, "co": [], "reads": [], "next_stamp": 1},
                     "items": []}])
    assert default_jobs() >= 1


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RMAPWALK_SLOW"), reason="RMAPWALK_SLOW=1")
def test_dask_local_cluster_equals_sequential_slow() -> None:  # pragma: no cover - see below
    _dask_case()


def _dask_case() -> None:
    from distributed import LocalCluster

    prog: Program = PROGRAMS["lastzero"](8)
    seq = explore(prog, "tso")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB",
                      dashboard_address=None) as cluster:
        ps = ParallelSearch(config("lastzero", 8, "tso"), prog, cluster=cluster.scheduler_address,
                            slice_executions=40)
        par = ps.run()
    assert totals(par) == totals(seq)
    assert ps.units_done > 1


def test_dask_local_cluster_equals_sequential() -> None:
    _dask_case()


def test_dask_dead_worker_s_unit_is_rerun(tmp_path: Path) -> None:
    """A unit whose Dask worker process dies is re-run by the scheduler and counted once."""
    from distributed import LocalCluster

    marker = tmp_path / "died"
    path = _model_file(tmp_path, f"""
        import os, signal
        from rmapwalk.engine import Program, load, store, observe
        p = Program("dies-once-on-dask")
        xs = [p.var(f"x{{i}}") for i in range(4)]
        def in_dask_worker():
            try:
                from distributed import get_worker
                get_worker()
                return True
            except Exception:
                return False
        def w(i):
            store(xs[i], 1)
        def r():
            s = 0
            for x in xs:
                s += load(x)
            if s == 2 and in_dask_worker() and not os.path.exists({str(marker)!r}):
                open({str(marker)!r}, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            observe("s", s)
        for i in range(4):
            p.thread(w, i)
        p.thread(r)
    """)
    from rmapwalk.loader import load_model

    prog = load_model(path).program
    seq = explore(prog, "sc")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB",
                      dashboard_address=None) as cluster:
        ps = ParallelSearch(SearchConfig(ProgramSource(path=path)), prog, cluster=cluster.scheduler_address,
                            slice_executions=5)
        par = ps.run()
    assert marker.exists()
    assert totals(par) == totals(seq)


def _lkmm_programs() -> list[str]:
    from tests.litmus.test_lkmm_differential import FIXED, KNOWN

    return [*FIXED, *KNOWN]


LB_PROGRAMS = _lkmm_programs()


@pytest.mark.parametrize("text", LB_PROGRAMS, ids=[f"lb{i}" for i in range(len(LB_PROGRAMS))])
def test_lkmm_split_search_counts_each_execution_once(text: str, tmp_path: Path) -> None:
    """Under LKMM two load-buffering revisits can make one execution; the units of a split
    search that make it in two worker processes count it once (the search merges the hashes of
    the executions' names), so the totals are those of one process.  (Graphs a load-buffering
    revisit made are not sent to other workers: see ``UnitRunner.run``.)"""
    f = tmp_path / "t.litmus"
    f.write_text(text)
    src = ProgramSource(module="benchmarks.programs", function="litmus", args=(str(f),))
    prog = src.load()
    seq = explore(prog, "lkmm", max_outcomes=None)
    ps = ParallelSearch(SearchConfig(src, "lkmm"), prog, jobs=2, slice_executions=1)
    par = ps.run()
    assert (par.stats.complete, par.outcomes) == (seq.stats.complete, seq.outcomes)
