"""The C litmus parser: every test of the LKMM corpus, each syntactic form, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmapwalk.litmus.ast import (
    AddrOf,
    And,
    Assign,
    Atom,
    BinOp,
    Call,
    Const,
    Decl,
    Deref,
    ExprStmt,
    If,
    Implies,
    InitItem,
    Int,
    LocEq,
    LocMem,
    LocReg,
    Not,
    Or,
    Store,
    Str,
    UnOp,
    Var,
    While,
)
from rmapwalk.litmus.parser import LitmusError, parse_file, parse_litmus, parse_prop

LKMM = Path(__file__).parents[2].parent / "shared" / "lkmm"
TESTS = sorted((LKMM / "tests").glob("*.litmus")) if (LKMM / "tests").is_dir() else []
needs_lkmm = pytest.mark.skipif(not TESTS, reason=f"LKMM litmus tests not found in {LKMM}")


def lit(threads: str, init: str = "", cond: str = "exists (x=1)", header: str = "C t") -> str:
    return f"{header}\n{{\n{init}\n}}\n{threads}\n{cond}\n"


def body(code: str, params: str = "int *x, int *y") -> tuple:
    t = parse_litmus(lit(f"P0({params})\n{{\n{code}\n}}"), "t.litmus")
    return t.threads[0].body


# ---------------------------------------------------------------------------------- the corpus


@needs_lkmm
@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_corpus_parses(path: Path) -> None:
    t = parse_file(path)
    expected = (path.parent / (path.name + ".expected")).read_text()
    herd_name = expected.splitlines()[0].split()[1]
    assert t.name == herd_name
    assert t.arch == "C"
    assert t.threads and [th.index for th in t.threads] == list(range(len(t.threads)))
    assert t.file == str(path)


@needs_lkmm
def test_corpus_details() -> None:
    t = parse_file(LKMM / "tests" / "CoRR+poonceonce+Once.litmus")
    assert t.result == "Never"
    assert parse_file(LKMM / "tests" / "C-SB+o-o+o-o.litmus").result is None
    t = parse_file(LKMM / "tests" / "C-RomanPenyaev-list-rcu-rr.litmus")
    assert [i.target for i in t.init] == ["z", "y", "x", "w", "v", "c"]
    assert t.init[0] == InitItem("z", Int(1), "int *")
    assert t.init[1] == InitItem("y", Var("z"), "int *")
    assert t.locations[:3] == (LocReg(0, "r1"), LocReg(1, "r1"), LocReg(1, "r3"))
    assert LocMem("c") in t.locations
    t = parse_file(LKMM / "tests" / "add_unless_mb.litmus")
    assert t.init == (InitItem("z", None, "atomic_t"),)
    assert t.locations == (LocMem("z"),)
    t = parse_file(LKMM / "tests" / "C-MP+o-wmb-o+o-addr-o.litmus")
    assert t.init[1] == InitItem("x1", Var("y"), "int *")
    assert t.threads[0].params[1].ctype == "int **"


# ------------------------------------------------------------------------------------ syntax


def test_header_doc_and_comments() -> None:
    text = (
        'C MP+doc "a doc string"\n(* Result: Sometimes *)\nHash=abc\n'
        "{ x=1; (* a comment } *) }\n"
        "/* P0 does it */\nP0(int *x) // producer\n{\n\tWRITE_ONCE(*x, 2); /* store } */\n}\n"
        "exists (x=2) (* final *)\n"
    )
    t = parse_litmus(text, "d.litmus")
    assert t.name == "MP+doc"
    assert t.doc == "a doc string"
    assert t.result == "Sometimes"
    assert t.init == (InitItem("x", Int(1)),)
    assert t.condition.prop == Atom(LocMem("x"), 2)


def test_text_before_the_initial_state_is_skipped_as_herd7_does() -> None:
    # (a second name line and prose, as in paulmckrcu/litmus's manual/kernel tests)
    text = "C first\nC second\nsome words; and more\n{ x=1; }\nP0(int *x) { WRITE_ONCE(*x, 2); }\nexists (x=2)\n"
    t = parse_litmus(text, "s.litmus")
    assert t.name == "first"
    assert t.init == (InitItem("x", Int(1)),)


def test_a_litmus_suffix_is_not_part_of_the_name() -> None:
    body = "\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\nexists (x=1)\n"
    assert parse_litmus("C MP+foo.litmus" + body, "t.litmus").name == "MP+foo"
    assert parse_litmus("C MP.litmus.x" + body, "t.litmus").name == "MP.litmus.x"  # only a final .litmus
    assert parse_litmus("C .litmus" + body, "t.litmus").name == ".litmus"  # nothing would be left


def test_init_forms() -> None:
    init = "int x; int y = 1; z=2; int *p = &y; int *q = x; 0:r1=x; P1:r2=3; atomic_t a; spinlock_t s;" \
           " int arr[2]; struct srcu_struct ss; int w = -1;"
    t = parse_litmus(lit("P0(int *x) { }\nP1(int *x) { int r2; }", init), "i.litmus")
    assert t.init == (
        InitItem("x", None, "int"),
        InitItem("y", Int(1), "int"),
        InitItem("z", Int(2)),
        InitItem("p", Var("y"), "int *"),
        InitItem("q", Var("x"), "int *"),
        InitItem("r1", Var("x"), None, 0),
        InitItem("r2", Int(3), None, 1),
        InitItem("a", None, "atomic_t"),
        InitItem("s", None, "spinlock_t"),
        InitItem("arr", None, "int", None, 2),
        InitItem("ss", None, "struct srcu_struct"),
        InitItem("w", Int(-1), "int"),
    )


def test_params_and_declarations() -> None:
    src = ("P0(int *x, spinlock_t *s, atomic_t *a, struct srcu_struct *ss, int **pp, void *v)\n"
           "{ int r0; int *r1 = x; int r2, r3 = 4; }")
    t = parse_litmus(lit(src), "p.litmus")
    assert [(p.ctype, p.name) for p in t.threads[0].params] == [
        ("int *", "x"), ("spinlock_t *", "s"), ("atomic_t *", "a"), ("struct srcu_struct *", "ss"),
        ("int **", "pp"), ("void *", "v")]
    assert t.threads[0].body == (
        Decl("int", "r0"), Decl("int *", "r1", Var("x")), Decl("int", "r2"), Decl("int", "r3", Int(4)))


def test_statements() -> None:
    b = body("int r; r = *x; *y = r + 1; **(int **)x = 2; if (r) { smp_mb(); } else r = 2;"
             " if (r == 1) if (r) r = 3; else r = 4; while (r < 3) r = r + 1; { r = 0; } ;")
    assert b[0] == Decl("int", "r")
    assert b[1] == Assign("r", Deref(Var("x")))
    assert b[2] == Store(Var("y"), BinOp("+", Var("r"), Int(1)))
    assert b[3] == Store(Deref(Var("x")), Int(2))
    assert b[4] == If(Var("r"), (ExprStmt(Call("smp_mb", ())),), (Assign("r", Int(2)),))
    # the dangling else goes with the inner if
    assert b[5] == If(BinOp("==", Var("r"), Int(1)), (If(Var("r"), (Assign("r", Int(3)),), (Assign("r", Int(4)),)),))
    assert b[6] == While(BinOp("<", Var("r"), Int(3)), (Assign("r", BinOp("+", Var("r"), Int(1))),))
    assert b[7] == Assign("r", Int(0))
    assert len(b) == 8


def test_expression_precedence() -> None:
    (s,) = body("r = a + b * c == d && !e || f & g | h ^ i;", "int *x, int *y, int *a")
    r = BinOp("||",
              BinOp("&&", BinOp("==", BinOp("+", Var("a"), BinOp("*", Var("b"), Var("c"))), Var("d")),
                    UnOp("!", Var("e"))),
              BinOp("|", BinOp("&", Var("f"), Var("g")), BinOp("^", Var("h"), Var("i"))))
    assert s == Assign("r", r)
    (s,) = body("r = -1 - -x % 3 << 2 >= (5 - 1) != ~0;", "int *x, int *y, int *a")
    assert isinstance(s, Assign) and isinstance(s.value, BinOp) and s.value.op == "!="
    (s,) = body("r = (int *)READ_ONCE(*x) + &y - f(1, g(), h(a, b, c));", "int *x, int *y, int *a")
    assert isinstance(s, Assign)
    assert s.value == BinOp("-", BinOp("+", Call("READ_ONCE", (Deref(Var("x")),)), AddrOf(Var("y"))),
                            Call("f", (Int(1), Call("g", ()), Call("h", (Var("a"), Var("b"), Var("c"))))))
    (s,) = body("r = &*x;")
    assert s == Assign("r", Var("x"))


def test_core_operations_in_code() -> None:
    b = body("__fence{MB}; r = __load{ONCE}(*x); __atomic_op{NORETURN}(x, &~, 3); __fence{after-unlock-lock};")
    assert b[0] == ExprStmt(Call("__fence", (), "MB"))
    assert b[1] == Assign("r", Call("__load", (Deref(Var("x")),), "ONCE"))
    assert b[2] == ExprStmt(Call("__atomic_op", (Var("x"), Str("&~"), Int(3)), "NORETURN"))
    assert b[3] == ExprStmt(Call("__fence", (), "after-unlock-lock"))


def test_positions() -> None:
    t = parse_litmus(lit("P0(int *x)\n{\n  WRITE_ONCE(*x, 1);\n}"), "pos.litmus")
    (s,) = t.threads[0].body
    assert isinstance(s, ExprStmt) and isinstance(s.expr, Call)
    assert str(s.expr.pos) == "pos.litmus:7:3"
    assert str(t.threads[0].pos) == "pos.litmus:5:1"


def test_conditions() -> None:
    def cond(text: str, threads: str = "P0(int *x, int *y) { int r1; int r2; }\nP1(int *x) { int r0; }") -> object:
        return parse_litmus(lit(threads, "int a[2];", text), "c.litmus")

    t = cond("~exists (0:r1=1 /\\ [x]=2 \\/ y=x)")
    assert t.condition.quantifier == "~exists"  # type: ignore[attr-defined]
    assert t.condition.prop == Or((And((Atom(LocReg(0, "r1"), 1), Atom(LocMem("x"), 2))),  # type: ignore[attr-defined]
                                   Atom(LocMem("y"), "x")))
    t = cond("forall (not (0:r1=1) => a[1]=2 /\\ true)")
    assert t.condition.quantifier == "forall"  # type: ignore[attr-defined]
    assert t.condition.prop == And((Implies(Not(Atom(LocReg(0, "r1"), 1)), Atom(LocMem("a", 1), 2)),  # type: ignore[attr-defined]
                                    Const(True)))
    t = cond("locations [0:r1; x; y;] filter (1:r0=0) exists (0:r2!=-1 \\/ false \\/ 0:r1=1:r0 \\/ x=[y])")
    assert t.locations == (LocReg(0, "r1"), LocMem("x"), LocMem("y"))  # type: ignore[attr-defined]
    assert t.filter == Atom(LocReg(1, "r0"), 0)  # type: ignore[attr-defined]
    assert t.condition.prop == Or((Not(Atom(LocReg(0, "r2"), -1)), Const(False),  # type: ignore[attr-defined]
                                   LocEq(LocReg(0, "r1"), LocReg(1, "r0")), LocEq(LocMem("x"), LocMem("y"))))
    t = cond("exists (~x=2 /\\ ~ 0:r1=1)")
    assert t.condition.prop == And((Not(Atom(LocMem("x"), 2)), Not(Atom(LocReg(0, "r1"), 1))))  # type: ignore[attr-defined]
    t = cond("~ exists x=1")
    assert t.condition.quantifier == "~exists"  # type: ignore[attr-defined]
    t = cond("")
    assert t.condition.quantifier == "forall" and t.condition.prop == Const(True)  # type: ignore[attr-defined]


def test_parse_prop() -> None:
    assert parse_prop("0:r1=1 /\\ x=2") == And((Atom(LocReg(0, "r1"), 1), Atom(LocMem("x"), 2)))
    assert parse_prop("P1:r0 == 0x10") == Atom(LocReg(1, "r0"), 16)


# ------------------------------------------------------------------------------------ errors

BAD = [
    ("C t\n{}\nP0(int *x) { WRITE_ONCE(*x, 1) }\nexists (x=1)", "t.litmus:3:32: unexpected token '}'"),
    ("C t\n{}\nP0(int *x) { r = 1 @ 2; }\nexists (x=1)", "t.litmus:3:20: unexpected character '@'"),
    ("C t\n{}\nP0(int *x) { int r1; }\nexists (0:r9=1)", "t.litmus:4:9: unknown register 0:r9"),
    ("C t\n{}\nP0(int *x) { int r1; }\nexists (1:r1=1)", "t.litmus:4:9: unknown register 1:r1: there is no thread P1"),
    ("C t\n{}\nP0(int *x) { int r1; }\nexists (y=1)", "t.litmus:4:9: unknown location 'y'"),
    ("C t\n{}\nP0(int *x) { int r1; }\nexists (0:r1=y)", "t.litmus:4:9: unknown location 'y' (as a value)"),
    ("C t\n{}\nP0(int *x) { int r1; }\nexists (0:r1=1", "t.litmus:4:15: unexpected end of the final condition"),
    ("C t\n{}\nP0(int *x) { int r1; }\nexists (x=1) junk", "t.litmus:4:14: unexpected token 'junk'"),
    ("C t\n{ int x = ; }\nP0(int *x) { }\nexists (x=1)", "t.litmus:2:11: unexpected token ';'"),
    ("C t\n{ 3:r1 = 0; }\nP0(int *x) { }\nexists (x=1)", "t.litmus:2:3: initial value of 3:r1: there is no thread P3"),
    ("X86 t\n{}\n", "t.litmus:1:1: not a C litmus test: architecture 'X86'"),
    ("", "t.litmus:1:1: empty file: expected 'C NAME'"),
    ("C t\ntext herd7 skips\n", "t.litmus:3:1: missing the initial state '{ ... }'"),
    ("C t\n", "t.litmus:2:1: missing the initial state '{ ... }'"),
    ("C t\n{ x = 1;\n", "t.litmus:2:1: unterminated initial state: missing '}'"),
    ("C t\n{}\nexists (x=1)", "t.litmus:3:1: no threads (expected 'P0(...) { ... }')"),
    ("C t\n{}\nP0(int *x) { }\nP0(int *x) { }\nexists (x=1)", "t.litmus:4:1: thread P0 defined twice"),
    ("C t\n{}\nP1(int *x) { }\nexists (x=1)", "t.litmus:3:1: threads must be numbered P0, P1, ...: P0 is missing"),
    ("C t\n(* open\n{}\n", "t.litmus:2:1: unterminated comment"),
    ("C t\n{}\nP0(int *x) { r = x[1]; }\nexists (x=1)",
     "t.litmus:3:18: array indexing in thread code is not supported"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(LitmusError) as info:
        parse_litmus(text, "t.litmus")
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LitmusError, match="cannot read"):
        parse_file(tmp_path / "nope.litmus")


@needs_lkmm
def test_damaged_files_give_one_line_errors() -> None:
    """Truncated or mutated tests either parse or raise a one-line LitmusError, never anything else."""
    import random

    rng = random.Random(3)
    for path in TESTS:
        text = path.read_text()
        for _ in range(6):
            i = rng.randrange(len(text))
            inserted = text[:i] + rng.choice("{}();*=&~[]:\n") + text[i:]
            damaged = rng.choice([text[:i], text[:i] + text[i + 1 :], inserted])
            try:
                parse_litmus(damaged, "d.litmus")
            except LitmusError as e:
                assert "\n" not in str(e) and str(e).startswith("d.litmus:")
