"""C litmus tests run on the project's engine under sc, tso, pso (and weak)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.litmus.engine_bridge import run_engine, to_program
from rmapwalk.litmus.parser import LitmusError, parse_file, parse_litmus

LKMM = Path(__file__).parents[2].parent / "shared" / "lkmm"
TESTS = sorted((LKMM / "tests").glob("*.litmus")) if (LKMM / "tests").is_dir() else []
needs_lkmm = pytest.mark.skipif(not TESTS, reason=f"LKMM litmus tests not found in {LKMM}")

MODELS = ("sc", "tso", "pso")


def outcomes(name: str, model: str) -> set[tuple[object, ...]]:
    return run_engine(parse_file(LKMM / "tests" / f"{name}.litmus"), model).outcomes()


def all_pairs(*fixed: tuple[object, ...]) -> set[tuple[object, ...]]:
    return set(fixed)


# (test, {model: outcome set over the displayed locations, in herd's order})
SB = {(0, 1), (1, 0), (1, 1)}
MP = {(0, 0), (0, 1), (1, 1)}
LB = {(0, 0), (0, 1), (1, 0)}
IRIW = {(a, b, c, d) for a in (0, 1) for b in (0, 1) for c in (0, 1) for d in (0, 1)} - {(1, 0, 1, 0)}
W2 = {(2, 2), (1, 2), (2, 1)}
R = {(0, 1), (1, 1), (1, 2)}
SHAPES = [
    ("SB+poonceonces", {"sc": SB, "tso": SB | {(0, 0)}, "pso": SB | {(0, 0)}}),  # 0:r0, 1:r0
    ("SB+fencembonceonces", {m: SB for m in MODELS}),
    ("MP+poonceonces", {"sc": MP, "tso": MP, "pso": MP | {(1, 0)}}),  # 1:r0 (flag), 1:r1 (buf)
    ("MP+fencewmbonceonce+fencermbonceonce", {m: MP for m in MODELS}),
    ("MP+pooncerelease+poacquireonce", {m: MP for m in MODELS}),
    ("LB+poonceonces", {m: LB for m in MODELS}),
    ("LB+poacquireonce+pooncerelease", {m: LB for m in MODELS}),
    ("IRIW+poonceonces+OnceOnce", {m: IRIW for m in MODELS}),
    ("IRIW+fencembonceonces+OnceOnce", {m: IRIW for m in MODELS}),
    ("C-2+2W+o-o+o-o", {"sc": W2, "tso": W2, "pso": W2 | {(1, 1)}}),  # [x0], [x1]
    ("C-2+2W+o-wmb-o+o-wmb-o", {m: W2 for m in MODELS}),
    ("R+poonceonces", {"sc": R, "tso": R | {(0, 2)}, "pso": R | {(0, 2)}}),  # 1:r0, [y]
    ("R+fencembonceonces", {m: R for m in MODELS}),
]


@needs_lkmm
@pytest.mark.parametrize(("name", "expected"), SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize("model", MODELS)
def test_classic_shapes(name: str, expected: dict[str, set[tuple[object, ...]]], model: str) -> None:
    assert outcomes(name, model) == expected[model]


@needs_lkmm
def test_allowed_and_forbidden() -> None:
    def obs(name: str, model: str) -> str:
        return run_engine(parse_file(LKMM / "tests" / f"{name}.litmus"), model).observation

    assert (obs("SB+poonceonces", "sc"), obs("SB+poonceonces", "tso")) == ("Never", "Sometimes")
    assert (obs("MP+poonceonces", "tso"), obs("MP+poonceonces", "pso")) == ("Never", "Sometimes")
    assert {obs("LB+poonceonces", m) for m in MODELS} == {"Never"}
    # an address dependency orders the dependent load under the weak model too
    assert obs("C-MP+o-wmb-o+o-addr-o", "weak") == "Never"
    assert obs("C-MP+o-wmb-o+o-o", "weak") == "Sometimes"


@needs_lkmm
@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_corpus_runs_under_sc_and_tso(path: Path) -> None:
    """Every test runs; its SC and TSO states are states herd (LKMM) allows, printed the same."""
    expected = (path.parent / (path.name + ".expected")).read_text().splitlines()
    i = next(i for i, line in enumerate(expected) if line.startswith("States "))
    herd = set(expected[i + 1 : i + 1 + int(expected[i].split()[1])])
    test = parse_file(path)
    for model in ("sc", "tso"):
        r = run_engine(test, model, max_executions=100_000)  # (a runaway guard by count; the largest has 72)
        assert r.complete, r.result.incomplete_reason
        assert r.states and set(r.state_lines()) <= herd, model
        assert sum(r.states.values()) == r.positive + r.negative == r.result.stats.complete
    herd_obs = next(line for line in expected if line.startswith("Observation ")).split()[2]
    if herd_obs == "Never":
        assert run_engine(test, "sc").observation == "Never"


def lit(threads: str, init: str = "", cond: str = "exists (x=1)") -> str:
    return f"C t\n{{\n{init}\n}}\n{threads}\n{cond}\n"


def run(text: str, model: str = "sc", **kw: object) -> object:
    return run_engine(parse_litmus(text, "t.litmus"), model, **kw)


def test_pointers_and_plain_accesses() -> None:
    text = lit(
        "P0(int **p, int *z)\n{\n int *r0; int r1;\n r0 = READ_ONCE(*p);\n r1 = READ_ONCE(*r0);\n"
        " *r0 = r1 + 1;\n *z = *r0;\n}\nP1(int **p, int *x)\n{\n WRITE_ONCE(*x, 7);\n"
        " rcu_assign_pointer(*p, x);\n}",
        init="int y = 5; int *p = &y;",
        cond="exists (0:r0=x /\\ 0:r1=0)")
    for model in ("sc", "tso", "pso", "weak"):
        r = run(text, model)
        assert r.state_lines() == [  # type: ignore[attr-defined]
            "0:r0=x; 0:r1=7;",
            "0:r0=y; 0:r1=5;",
        ], model
        assert r.observation == "Never"  # type: ignore[attr-defined]
        assert {"P0:r0": "x", "P0:r1": 7} in r.as_json()["outcomes"]  # type: ignore[attr-defined]
    r = run(text.replace("exists (0:r0=x /\\ 0:r1=0)", "forall (z=6 \\/ z=8)"))
    assert r.ok and r.observation == "Always"  # type: ignore[attr-defined]


def test_atomics_locks_and_filter() -> None:
    text = lit(
        "P0(atomic_t *a, spinlock_t *s, int *x)\n{ int r0; int r1; atomic_inc(a); r0 = spin_trylock(s);"
        " r1 = atomic_add_unless(a, 1, 5); if (r0) { WRITE_ONCE(*x, 1); spin_unlock(s); } }\n"
        "P1(atomic_t *a, spinlock_t *s, int *x)\n{ int r0; r0 = atomic_fetch_add(2, a); spin_lock(s);"
        " WRITE_ONCE(*x, 2); spin_unlock(s); }",
        init="atomic_t a = 1; spinlock_t s;",
        cond="locations [0:r0;] forall (a=5 /\\ 0:r1=1)")
    for model in ("sc", "tso", "pso"):
        r = run(text, model)
        assert r.ok, r.report()  # type: ignore[attr-defined]
    r = run(text.replace("forall", "filter (0:r0=1) exists"), "sc")
    assert {s.split()[0] for s in r.state_lines()} == {"0:r0=1;"}  # type: ignore[attr-defined]


def test_srcu_grace_period() -> None:
    text = lit(
        "P0(struct srcu_struct *s, int *x, int *y)\n{ int r0; int r1; int i;\n i = srcu_read_lock(s);\n"
        " r0 = READ_ONCE(*x); r1 = READ_ONCE(*y);\n srcu_read_unlock(s, i); }\n"
        "P1(struct srcu_struct *s, int *x, int *y)\n{ WRITE_ONCE(*y, 1); synchronize_srcu(s); WRITE_ONCE(*x, 1); }",
        cond="exists (0:r0=1 /\\ 0:r1=0)")
    for model in ("sc", "tso", "pso", "weak"):
        r = run(text, model)
        assert r.observation == "Never" and len(r.states) == 3, model  # type: ignore[attr-defined]
    rcu = text.replace("i = srcu_read_lock(s);", "rcu_read_lock();").replace(
        "srcu_read_unlock(s, i);", "rcu_read_unlock();").replace("synchronize_srcu(s);", "synchronize_rcu();")
    assert run(rcu, "pso").observation == "Never"  # type: ignore[attr-defined]
    no_gp = text.replace("synchronize_srcu(s);", "")
    assert run(no_gp, "pso").observation == "Sometimes"  # type: ignore[attr-defined]


def test_trace_replay_and_json() -> None:
    text = lit("P0(int *x, int *y)\n{\n int r0;\n WRITE_ONCE(*x, 1);\n r0 = READ_ONCE(*y);\n}\n"
               "P1(int *x, int *y)\n{\n int r0;\n WRITE_ONCE(*y, 1);\n r0 = READ_ONCE(*x);\n}",
               cond="exists (0:r0=0 /\\ 1:r0=0)")
    test = parse_litmus(text, "sb.litmus")
    r = run_engine(test, "tso", witness=True)
    assert r.result.violation_count == 1
    v = r.result.violations[0]
    g = rebuild(to_program(test, witness=True), json.loads(json.dumps(v.replay)))
    trace = render(g, "tso")
    assert "WRITE_ONCE(x, 1)" in trace and "[sb.litmus:8]" in trace and "[sb.litmus:9]" in trace
    data = json.loads(json.dumps(r.as_json()))
    assert data["observation"] == "Sometimes" and data["positive"] == 1
    assert data["states"][0] == {"state": "0:r0=0; 1:r0=0;", "count": 1}
    assert run_engine(test, "sc").result.verdict == "holds"
    assert run_engine(test, "tso").result.exists == {"exists (0:r0=0 /\\ 1:r0=0)": True}
    assert "Observation t Sometimes 1 3" in r.report() and r.report().startswith("Test t Allowed\nStates 4\n")


@pytest.mark.parametrize(("text", "message"), [
    (lit("P0(int *x)\n{ int *r; int v; r = 0; v = READ_ONCE(*r); }"),
     "t.litmus:6:39: P0: dereference of 0, which is not the address of a variable"),
    (lit("P0(int *x)\n{ WRITE_ONCE(*x, q); }"), "t.litmus:6:18: P0: unknown name 'q'"),
    (lit("P0(int *x)\n{ WRITE_ONCE(x, 1); }"),
     "t.litmus:6:3: P0: the location of __store{ONCE} must be '*ADDRESS'"),
    (lit("P0(int *x)\n{ int r; r = 1 / (r - r); }"), "t.litmus:6:16: P0: division by zero"),
])
def test_runtime_errors(text: str, message: str) -> None:
    with pytest.raises(LitmusError) as info:
        run(text)
    assert str(info.value) == message


def test_unknown_model() -> None:
    with pytest.raises(LitmusError, match="unknown memory model 'arm'"):
        run(lit("P0(int *x) { }"), "arm")


def test_while_loops_and_unroll() -> None:
    text = lit("P0(int *x, int *y)\n{ int r0; int r1; r1 = 0;\n while (READ_ONCE(*x) == 0) r1 = r1 + 1;\n"
               " r0 = READ_ONCE(*y); }\nP1(int *x, int *y)\n{ WRITE_ONCE(*y, 1); WRITE_ONCE(*x, 1); }",
               cond="exists (0:r0=0)")
    r = run(text, "sc", unroll=2)
    assert r.observation == "Never"  # type: ignore[attr-defined]
    # the loop cut at the unrolling bound while x is still 0 waits on a value P1's store supersedes:
    # moot (await-aware), not blocked
    assert (r.result.stats.blocked, r.result.stats.moot) == (0, 1) and r.complete  # type: ignore[attr-defined]
    assert r.state_lines() == ["0:r0=1;"]  # type: ignore[attr-defined]
    assert run(text, "pso", unroll=2).observation == "Sometimes"  # type: ignore[attr-defined]
    r = run(text, "sc", max_events=20)
    assert not r.complete and r.observation == "Never"  # type: ignore[attr-defined]


def test_run_engine_result_for_the_litmus_runner() -> None:
    from rmapwalk.litmus.engine_bridge import run_engine_result
    from rmapwalk.litmus.threads import LitmusSemanticsError

    text = lit("P0(int *x, int *y)\n{ int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\n"
               "P1(int *x, int *y)\n{ int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }",
               cond="exists (0:r0=0 /\\ 1:r0=0)")
    res = run_engine_result(parse_litmus(text, "t.litmus"), "tso")
    assert res.positive == 1 and res.negative == 3 and len(res.states) == 4 and not res.cutoff
    bad = lit("P0(spinlock_t *s)\n{ spin_unlock(s); }", cond="exists (s=0)")
    res = run_engine_result(parse_litmus(bad, "t.litmus"), "sc")
    assert res.flags == {"lock-misuse"} and not res.states
    stuck = lit("P0(int *x, spinlock_t *s)\n{ spin_lock(s); WRITE_ONCE(*x, 1); }\n"
                "P1(int *x, spinlock_t *s)\n{ int r1; spin_lock(s); r1 = *x; spin_unlock(s); }",
                cond="exists (1:r1=1)")
    res = run_engine_result(parse_litmus(stuck, "t.litmus"), "tso")
    assert res.flags == {"deadlock"} and res.positive == 0 and res.negative == 1
    with pytest.raises(LitmusSemanticsError, match="incomplete"):
        run_engine_result(parse_litmus(stuck, "t.litmus"), "tso", max_executions=1)
    with pytest.raises(LitmusSemanticsError, match=r"^t.litmus:6:18: P0: unknown name 'q'$"):
        run_engine_result(parse_litmus(lit("P0(int *x)\n{ WRITE_ONCE(*x, q); }"), "t.litmus"), "sc")


def test_address_arithmetic_and_arrays() -> None:
    text = lit("P0(int *x, int *a)\n{ int r0; int r1; int *r2; r0 = READ_ONCE(*x);\n"
               " r2 = a + (r0 & 8) + 1; WRITE_ONCE(*r2, 5); r1 = READ_ONCE(*(x + r0 - r0)); }",
               init="int a[2];", cond="forall (a[1]=5 /\\ a[0]=0 /\\ 0:r1=0)")
    r = run(text, "sc")
    assert r.ok and r.state_lines() == ["0:r1=0; a[0]=0; a[1]=5;"]  # type: ignore[attr-defined]
    with pytest.raises(LitmusError, match=r"t.litmus:6:.*: P0: address arithmetic x \+ 2 leaves the variable"):
        run(lit("P0(int *x)\n{ int r0; r0 = READ_ONCE(*(x + 2)); }"))


def test_address_dependency_through_registers_under_weak() -> None:
    mp = ("P0(int *x, int *y)\n{ WRITE_ONCE(*x, 1); smp_wmb(); WRITE_ONCE(*y, 1); }\n"
          "P1(int *x, int *y)\n{ int r0; int r1; int r9; int *r2; r0 = READ_ONCE(*y); %s }")
    cond = "exists (1:r0=1 /\\ 1:r1=0)"
    dep = lit(mp % "r9 = r0 & 8; r2 = x + r9; r1 = READ_ONCE(*r2);", cond=cond)
    nodep = lit(mp % "r1 = READ_ONCE(*x);", cond=cond)
    assert run(dep, "weak").observation == "Never"  # type: ignore[attr-defined]
    assert run(nodep, "weak").observation == "Sometimes"  # type: ignore[attr-defined]
    assert run(nodep, "pso").observation == "Never"  # type: ignore[attr-defined]
