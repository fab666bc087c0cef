"""Kernel primitives -> core operations: herd's .def file and our built-in table agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmapwalk.litmus.ast import Assign, BinOp, Call, Deref, ExprStmt, Int, Str, Var
from rmapwalk.litmus.macros import BUILTIN, CORE_OPS, expand, expand_expr, parse_def, parse_def_text
from rmapwalk.litmus.parser import LitmusError, parse_file, parse_litmus

LKMM = Path(__file__).parents[2].parent / "shared" / "lkmm"
DEF = LKMM / "model" / "linux-kernel.def"
TESTS = sorted((LKMM / "tests").glob("*.litmus")) if (LKMM / "tests").is_dir() else []
needs_def = pytest.mark.skipif(not DEF.is_file(), reason=f"{DEF} not found")


def thread_body(code: str, params: str = "int *x, int *y, atomic_t *a, spinlock_t *s") -> tuple:
    t = parse_litmus(f"C t\n{{}}\nP0({params})\n{{\n{code}\n}}\nexists (x=1)\n", "t.litmus")
    return expand(t).threads[0].body


def core(name: str, tag: str | None, *args: object) -> Call:
    return Call(name, tuple(args), tag)  # type: ignore[arg-type]


def test_builtin_expansions() -> None:
    x, y, a, s, r = Var("x"), Var("y"), Var("a"), Var("s"), Var("r")
    b = thread_body(
        "int r; r = READ_ONCE(*x); WRITE_ONCE(*y, r); r = smp_load_acquire(x); smp_store_release(y, 2);"
        " smp_mb(); smp_rmb(); smp_wmb(); r = xchg_acquire(x, 1); r = cmpxchg(x, 0, 1);"
        " atomic_inc(a); r = atomic_fetch_andnot_release(3, a); r = atomic_dec_and_test(a);"
        " spin_lock(s); r = spin_trylock(s); spin_unlock(s); r = atomic_read(a);"
        " rcu_read_lock(); r = rcu_dereference(*x); rcu_read_unlock(); synchronize_rcu();"
        " smp_store_mb(*x, 1);")
    assert b[1:] == (
        Assign("r", core("__load", "ONCE", Deref(x))),
        ExprStmt(core("__store", "ONCE", Deref(y), r)),
        Assign("r", core("__load", "ACQUIRE", Deref(x))),
        ExprStmt(core("__store", "RELEASE", Deref(y), Int(2))),
        ExprStmt(core("__fence", "MB")),
        ExprStmt(core("__fence", "rmb")),
        ExprStmt(core("__fence", "wmb")),
        Assign("r", core("__xchg", "ACQUIRE", x, Int(1))),
        Assign("r", core("__cmpxchg", "MB", x, Int(0), Int(1))),
        ExprStmt(core("__atomic_op", "NORETURN", a, Str("+"), Int(1))),
        Assign("r", core("__atomic_fetch_op", "RELEASE", a, Str("&~"), Int(3))),
        Assign("r", BinOp("==", core("__atomic_op_return", "MB", a, Str("-"), Int(1)), Int(0))),
        ExprStmt(core("__lock", None, s)),
        Assign("r", core("__trylock", None, s)),
        ExprStmt(core("__unlock", None, s)),
        Assign("r", core("__load", "ONCE", Deref(a))),
        ExprStmt(core("__fence", "rcu-lock")),
        Assign("r", core("__load", "ONCE", Deref(x))),
        ExprStmt(core("__fence", "rcu-unlock")),
        ExprStmt(core("__fence", "sync-rcu")),
        ExprStmt(core("__store", "ONCE", Deref(x), Int(1))),
        ExprStmt(core("__fence", "MB")),
    )


def test_expansion_positions_are_the_call() -> None:
    b = thread_body("smp_mb();\n  WRITE_ONCE(*x, 1);")
    assert [str(s.pos) for s in b] == ["t.litmus:5:1", "t.litmus:6:3"]
    assert isinstance(b[1], ExprStmt) and isinstance(b[1].expr, Call)
    assert str(b[1].expr.args[0].pos) == "t.litmus:6:14"  # the argument keeps its own position


def test_expand_nested_and_expressions() -> None:
    e = expand_expr(Call("READ_ONCE", (Deref(Call("READ_ONCE", (Deref(Var("p")),))),)))
    assert e == core("__load", "ONCE", Deref(core("__load", "ONCE", Deref(Var("p")))))
    b = thread_body("int r; if (READ_ONCE(*x) == 1 && spin_is_locked(s)) { smp_mb(); } else { r = 1; }"
                    " while (atomic_read(a) < 2) atomic_inc(a);")
    assert b[1].cond.left.left == core("__load", "ONCE", Deref(Var("x")))  # type: ignore[union-attr]
    assert b[1].then == (ExprStmt(core("__fence", "MB")),)  # type: ignore[union-attr]
    assert b[2].body == (ExprStmt(core("__atomic_op", "NORETURN", Var("a"), Str("+"), Int(1))),)  # type: ignore[union-attr]


@pytest.mark.parametrize(("code", "message"), [
    ("foo(x);", "t.litmus:5:1: unknown primitive 'foo'"),
    ("int r; r = bar(1, 2);", "t.litmus:5:12: unknown primitive 'bar'"),
    ("WRITE_ONCE(*x);", "t.litmus:5:1: 'WRITE_ONCE' takes 2 arguments, not 1"),
    ("int r; r = smp_mb();", "t.litmus:5:12: 'smp_mb' does not return a value"),
    ("if (1) { WRITE_ONCE(*x, READ_ONCE(*y, 2)); }", "t.litmus:5:25: 'READ_ONCE' takes 1 argument, not 2"),
])
def test_expansion_errors(code: str, message: str) -> None:
    with pytest.raises(LitmusError) as info:
        thread_body(code)
    assert str(info.value) == message


def test_def_text_format() -> None:
    table = parse_def_text(
        "// a comment\nMY_READ(X) __load{ONCE}(X) // trailing\n"
        "my_add(V,X) { __atomic_op{NORETURN}(X,+,V); }\n"
        "my_test(X) my_dec(X) == 0\nmy_dec(X) __atomic_op_return{MB}(X,-,1)\n"
        "loop(X) loop(X)\n", "my.def")
    assert set(table) == {"MY_READ", "my_add", "my_test", "my_dec", "loop"}
    e = expand_expr(Call("my_test", (Var("a"),)), table)
    assert e == BinOp("==", core("__atomic_op_return", "MB", Var("a"), Str("-"), Int(1)), Int(0))
    with pytest.raises(LitmusError, match="does not end"):
        expand_expr(Call("loop", (Var("a"),)), table)
    with pytest.raises(LitmusError, match=r"^bad\.def:1:13: unexpected token"):
        parse_def_text("f(X) { X; } }", "bad.def")


@needs_def
def test_def_file_and_builtin_cover_the_same_api() -> None:
    table = parse_def(DEF)
    assert set(table) == set(BUILTIN)
    assert len(table) == len(BUILTIN) > 100
    for name in table:
        m = table.get(name)
        assert m is not None
        n = len(m.formals)
        args = tuple(Deref(Var(f"a{i}")) if name in ("READ_ONCE", "WRITE_ONCE", "rcu_dereference",
                                                    "rcu_assign_pointer", "smp_store_mb") and i == 0
                     else Var(f"a{i}") for i in range(n))
        call = Call(name, args)
        if m.is_statement:
            from rmapwalk.litmus.macros import _Expander

            mine = _Expander(BUILTIN).stmt(ExprStmt(call))
            theirs = _Expander(table).stmt(ExprStmt(call))
        else:
            mine, theirs = expand_expr(call), expand_expr(call, table)  # type: ignore[assignment]
        assert mine == theirs, name


@needs_def
@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_corpus_expands_the_same_with_both_tables(path: Path) -> None:
    test = parse_file(path)
    mine = expand(test)
    assert mine == expand(test, parse_def(DEF))

    def calls(e: object) -> list[str]:
        out = []
        if isinstance(e, Call):
            out.append(e.name)
        for v in getattr(e, "__dict__", {}).values():
            for x in v if isinstance(v, tuple) else (v,):
                out += calls(x)
        return out

    assert set(calls(mine.threads)) <= CORE_OPS
