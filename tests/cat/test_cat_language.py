"""The cat language itself: user models, with-paths, functions, fixpoints, includes, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cat_litmus import Builder

from rmapwalk.cat import CatError, CatModel, Execution, Outcome, compile_files, load_model
from rmapwalk.cat.reader import parse
from rmapwalk.cat.syntax import strip_comments

SC = """"SC, with co from the caller"
acyclic po | rf | co | fr as sc
"""


def model(text: str, *, variants: tuple[str, ...] = (), name: str = "<test>") -> CatModel:
    return compile_files([(name, text)], variants=variants)


def sb_exec(r0: int, r1: int) -> Execution:
    """SB: P0: x=1; r0=y.  P1: y=1; r1=x."""
    b = Builder()
    ix, iy = b.init("x"), b.init("y")
    wx = b.w(0, "x", 1)
    ry = b.r(0, "y", r0)
    wy = b.w(1, "y", 1)
    rx = b.r(1, "x", r1)
    b.rf(wy if r0 else iy, ry)
    b.rf(wx if r1 else ix, rx)
    return b.build(final=[wx, wy], co=[(ix, wx), (iy, wy)])


def run(m: CatModel, ex: Execution) -> list[Outcome]:
    return list(m.run(ex))


def sets_model(body: str) -> CatModel:
    return model('"t"\n' + body)


def tiny(n: int = 4) -> Execution:
    b = Builder()
    for i in range(n):
        b.w(i % 2, "x", i)
    return b.build()


# -- user models --


def test_sc_model_from_text() -> None:
    m = model(SC)
    assert m.title == "SC, with co from the caller"
    assert not m.generates_co
    assert run(m, sb_exec(0, 0)) == [Outcome(False, "sc", frozenset())]
    assert run(m, sb_exec(1, 0))[0].allowed
    assert run(m, sb_exec(0, 1))[0].allowed
    assert run(m, sb_exec(1, 1))[0].allowed


def test_sc_model_from_file(tmp_path: Path) -> None:
    p = tmp_path / "sc.cat"
    p.write_text(SC)
    m = load_model(p)
    assert not run(m, sb_exec(0, 0))[0].allowed
    assert m.path == p


def test_derived_co_names_and_stdlib() -> None:
    m = model(
        '"t"\n'
        "empty fr \\ (rf^-1 ; co) as fr-def\n"
        "empty (fre | fri) \\ fr as fr-parts\n"
        "empty (coe | coi) \\ co as co-parts\n"
        "empty po-loc \\ (po & loc) as po-loc\n"
        "empty (rfe | rfi) \\ rf as rf-parts\n"
        "flag ~empty fr as has-fr\n"
        "flag ~empty co0 as has-co0\n"
        "flag ~empty emptyset as never\n"
    )
    (o,) = run(m, sb_exec(0, 0))
    assert o.allowed
    assert o.flags == frozenset({"has-fr", "has-co0"})


def test_tso_like_model_with_functions() -> None:
    m = model(
        '"x86-ish"\n'
        "let com = rf | co | fr\n"
        "let ppo = po \\ (W * R)\n"
        "let MFENCE = try MFENCE with emptyset\n"
        "let mfence = fencerel(MFENCE)\n"
        "acyclic po-loc | com as uniproc\n"
        "acyclic ppo | mfence | rfe | co | fr as tso\n"
    )
    assert run(m, sb_exec(0, 0))[0].allowed  # SB is allowed by TSO


# -- with ... from --


def test_with_paths_count() -> None:
    m = sets_model("let pick = {0, po}\nwith a from pick\nwith b from {'x, 'y, 'z}\nflag ~empty a as nonempty\n")
    outs = run(m, tiny())
    assert len(outs) == 6
    assert sum("nonempty" in o.flags for o in outs) == 3


def test_with_over_events_and_empty_set() -> None:
    m = sets_model("with e from W\nempty [W \\ {e}] ; po as first\n")
    outs = run(m, tiny(4))
    assert len(outs) == 4
    # in each thread only its last write has no po-successor among the other writes
    assert sum(o.allowed for o in outs) == 0
    assert run(sets_model("with e from R\n"), tiny(4)) == []


def test_generate_cos_path_counts() -> None:
    m = sets_model(
        'include "cross.cat"\nwith co from generate_cos(0)\nempty co \\ (W * W) as in-W\nacyclic co as order\n'
    )
    b = Builder()
    for i in range(4):
        b.w(0, "x", i)
    for i in range(3):
        b.w(1, "y", i)
    outs = run(m, b.build())
    assert len(outs) == 24 * 6
    assert all(o.allowed for o in outs)
    assert m.generates_co


def test_cos_opt_respects_po() -> None:
    m = sets_model('include "cos-opt.cat"\nempty co \\ (W * W) as in-W\n')
    b = Builder()
    b.init("x")
    for i in range(3):
        b.w(0, "x", i + 1)
    b.w(1, "x", 9)
    # IW first, the three po-ordered writes of P0 in order, P1's write anywhere after IW: 4 orders
    assert len(run(m, b.build())) == 4


def test_cross_and_map() -> None:
    m = sets_model(
        'include "cross.cat"\n'
        "let single p = p ++ 0\n"
        "let choices = map (fun e -> map single ((W * {e}) & loc & ext)) R\n"
        "with r from cross(choices)\n"
        "flag ~empty r as picked\n"
    )
    b = Builder()
    b.w(0, "x", 1)
    b.w(1, "x", 2)
    b.r(2, "x", 1)
    b.r(3, "x", 1)
    outs = run(m, b.build())
    assert len(outs) == 4
    assert all("picked" in o.flags for o in outs)


def test_linearisations_primitive() -> None:
    m = sets_model("let orders = linearisations(W, po)\nwith o from orders\nempty po & (W * W) \\ o as ext\n")
    outs = run(m, tiny(4))  # P0: w0 w2, P1: w1 w3 -> 4!/(2!2!) = 6 interleavings
    assert len(outs) == 6 and all(o.allowed for o in outs)


# -- definitions --


def test_let_rec_fixpoint_is_transitive_closure() -> None:
    m = sets_model("let rec t = po | (t ; t)\nempty t \\ po+ as sub\nempty po+ \\ t as sup\n")
    assert run(m, tiny())[0].allowed


def test_let_rec_mutual_and_functions() -> None:
    m = sets_model(
        "let rec even n = match n with || {} -> 'yes || e ++ rest -> odd rest end\n"
        "and odd n = match n with || {} -> 'no || e ++ rest -> even rest end\n"
        "let parity = even W\n"
        "let ok = match parity with 'yes -> 0 || _ -> po end\n"
        "empty ok as even-writes\n"
    )
    assert run(m, tiny(4))[0].allowed
    assert not run(m, tiny(3))[0].allowed


def test_functions_tuples_and_application_forms() -> None:
    m = sets_model(
        "let f(a, b) = a & b\n"
        "let g x = x\n"
        "let h = fun (a, b) -> a | b\n"
        "let (p, q) = (po, po^-1)\n"
        "let k = let z = po in z ; z\n"
        "empty f(po, p) \\ po as f1\n"
        "empty g po \\ po as g1\n"
        "empty (h (p, q)) \\ (po | po^-1) as h1\n"
        "empty k \\ (po;po) as k1\n"
        "empty udr(po) \\ M as udr1\n"
        "empty (try undefined-thing with po) \\ po as try1\n"
        'empty (if "v1" then po else 0) as if1\n'
    )
    assert run(m, tiny())[0].allowed
    outs = run(compile_files([("<t>", '"t"\nempty (if "v1" then po else 0) as if1\n')], variants=["v1"]), tiny())
    assert outs[0].failed == "if1"


def test_operators() -> None:
    m = sets_model(
        "empty (W * W) \\ (_ * _) as cart\n"
        "empty ~(~po) \\ po as comp\n"
        "empty po? \\ (po | id) as opt\n"
        "empty po* \\ (po+ | id) as star\n"
        "empty [W] \\ id as toid\n"
        "empty domain(po) \\ W as dom\n"
        "empty (po & (W * _)) \\ po as restrict\n"
        "empty (W \\ W) as diff\n"
        "empty {} as explicit\n"
        "irreflexive po as irr\n"
        "acyclic po as acy\n"
        "~acyclic po | po^-1 as cyc\n"
        "~empty W as some\n"
    )
    assert run(m, tiny())[0].allowed


def test_flags_and_checks_order() -> None:
    m = sets_model("flag ~empty W as f1\nempty W as c1\nflag ~empty W as f2\n")
    assert run(m, tiny()) == [Outcome(False, "c1", frozenset({"f1"}))]


def test_procedures_and_forall() -> None:
    m = sets_model(
        "procedure irr(r) =\n  irreflexive r as inner\nend\n"
        "call irr(po) as p1\n"
        "forall e in {'a, 'b} do\n  empty 0 as ok\nend\n"
        "call inclusion(po, po+)\n"
        "call irr(po | id) as p2\n"
    )
    assert run(m, tiny()) == [Outcome(False, "p2", frozenset())]


def test_enum_and_tags() -> None:
    m = compile_files(
        [
            ("<bell>", "\"b\"\nenum Colours = 'red || 'blue-ish\ninstructions W[Colours]\n"),
            (
                "<cat>",
                '"c"\nempty Blue-ish as none-blue\n~empty Red as some-red\nempty tag2events(\'red) \\ Red as t\n',
            ),
        ]
    )
    b = Builder()
    b.w(0, "x", 1, "red")
    b.w(0, "x", 2)
    assert run(m, b.build())[0].allowed
    assert "Blue-ish" in m.tag_sets


def test_different_values_and_classes() -> None:
    m = sets_model(
        "let dv = different-values(loc)\n"
        "empty dv & id as same\n"
        "let n = match classes-loc(M) with || {} -> 0 || c ++ rest -> rest end\n"
        "empty n as one-location\n"
    )
    assert run(m, tiny())[0].allowed


def test_includes(tmp_path: Path) -> None:
    (tmp_path / "defs.cat").write_text('"defs"\nlet mine = po\n')
    (tmp_path / "main.cat").write_text('"main"\ninclude "defs.cat"\nempty mine \\ po as same\n')
    assert run(load_model(tmp_path / "main.cat"), tiny())[0].allowed
    other = tmp_path / "lib"
    other.mkdir()
    (other / "extra.cat").write_text('"extra"\nlet extra = 0\n')
    (tmp_path / "m2.cat").write_text('"m2"\ninclude "extra.cat"\nempty extra as e\n')
    with pytest.raises(CatError, match="extra.cat"):
        load_model(tmp_path / "m2.cat")
    assert run(load_model(tmp_path / "m2.cat", search=[other]), tiny())[0].allowed


# -- errors --


def test_syntax_error_position(tmp_path: Path) -> None:
    p = tmp_path / "bad.cat"
    p.write_text('"bad"\n(* a comment\n   over lines *)\nlet x = po ;\nlet y = x\n')
    with pytest.raises(CatError) as info:
        load_model(p)
    assert str(info.value).startswith(f"{p}:5:1: ")
    assert "\n" not in str(info.value)


def test_lexical_error_position() -> None:
    with pytest.raises(CatError) as info:
        parse('"t"\nlet x = po $ rf\n', "f.cat")
    assert str(info.value).startswith("f.cat:2:12: ")


def test_unterminated_comment() -> None:
    with pytest.raises(CatError, match=r"^f.cat:2:3: unterminated comment"):
        parse('"t"\n  (* (* nested *) \n', "f.cat")


def test_runtime_error_position() -> None:
    m = model('"t"\nlet a = po\nempty a | W as mixed\n', name="r.cat")
    with pytest.raises(CatError, match=r"^r.cat:3:7: "):
        run(m, tiny())
    m = model('"t"\nempty nosuch as x\n', name="u.cat")
    with pytest.raises(CatError, match=r"^u.cat:2:7: unbound name 'nosuch'"):
        run(m, tiny())


def test_missing_include() -> None:
    with pytest.raises(CatError, match=r"^i.cat:2:1: cannot find included file 'nope.cat'"):
        model('"t"\ninclude "nope.cat"\n', name="i.cat")


def test_comments_keep_positions() -> None:
    text = 'a (* x (* y *) z *) b // c\n# d\n"s (* not a comment *)"'
    out = strip_comments(text, "f")
    assert len(out) == len(text)
    assert out.splitlines()[0].rstrip() == "a                   b"
    assert out.endswith('"s (* not a comment *)"')


def test_precedence() -> None:
    from rmapwalk.cat import syntax as S

    def top(src: str) -> S.Exp:
        ins = parse(f'"t"\nlet x = {src}\n').body[0]
        assert isinstance(ins, S.LetI)
        return ins.binds[0].e

    e = top("a | b ; c")
    assert isinstance(e, S.NOp) and e.op == "union" and isinstance(e.es[1], S.NOp) and e.es[1].op == "seq"
    e = top("a \\ b & c")
    assert isinstance(e, S.Bin) and e.op == "diff" and isinstance(e.b, S.Bin) and e.b.op == "inter"
    e = top("a ; b \\ c")
    assert isinstance(e, S.NOp) and e.op == "seq" and isinstance(e.es[1], S.Bin)
    e = top("a \\ b \\ c")
    assert isinstance(e, S.Bin) and isinstance(e.a, S.Bin)  # left associative
    e = top("A * B & C")
    assert isinstance(e, S.Bin) and e.op == "inter" and isinstance(e.a, S.Bin) and e.a.op == "cart"
    e = top("~A | B")
    assert isinstance(e, S.NOp) and isinstance(e.es[0], S.Un) and e.es[0].op == "comp"
    e = top("f x ++ g y")
    assert isinstance(e, S.Bin) and e.op == "add" and isinstance(e.a, S.App)
    e = top("r^-1 ; s*")
    assert isinstance(e, S.NOp) and isinstance(e.es[0], S.Un) and e.es[0].op == "inv"
    assert isinstance(e.es[1], S.Un) and e.es[1].op == "star"
    e = top("(r ; s)* ; t")
    assert isinstance(e, S.NOp) and isinstance(e.es[0], S.Un) and e.es[0].op == "star"


def test_test_kinds() -> None:
    m = sets_model("undefined_unless empty W as u\nacyclic po | po^-1\n")
    (o,) = run(m, tiny())
    assert not o.allowed and o.flags == frozenset({"undefined"})
    assert o.failed is not None and o.failed.startswith("acyclic@<test>:3:1")
    with pytest.raises(CatError, match="assertion a failed"):
        run(sets_model("assert empty W as a\n"), tiny())


def test_config_file(tmp_path: Path) -> None:
    from rmapwalk.cat import load_config

    (tmp_path / "m.bell").write_text("\"bell\"\nenum Kinds = 'hot || 'cold\ninstructions W[Kinds]\nlet Warm = Hot\n")
    (tmp_path / "m.cat").write_text('"the model"\nif "strict" empty Warm as no-hot end\n')
    (tmp_path / "m.def").write_text("")
    (tmp_path / "m.cfg").write_text("macros m.def\nbell m.bell\nmodel m.cat\nvariant strict\ngraph columns\n")
    cfg = load_config(tmp_path / "m.cfg")
    assert cfg.macros == tmp_path / "m.def"
    assert cfg.variants == frozenset({"strict"})
    assert cfg.model.title == "the model"
    b = Builder()
    b.w(0, "x", 1, "hot")
    assert run(cfg.model, b.build())[0].failed == "no-hot"
    (tmp_path / "n.cfg").write_text("bell m.bell\nmodel m.cat\n")
    assert run(load_config(tmp_path / "n.cfg").model, b.build())[0].allowed
    (tmp_path / "bad.cfg").write_text("model nowhere.cat\n")
    with pytest.raises(CatError, match=r"bad.cfg:1:1: file 'nowhere.cat' not found"):
        load_config(tmp_path / "bad.cfg")


def test_definitions_before_a_with_are_shared_by_its_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    from rmapwalk.cat import prelude

    calls = []

    def counting(arg: object, cx: object, pos: object) -> object:
        calls.append(1)
        return prelude.p_fencerel(arg, cx, pos)

    monkeypatch.setitem(prelude.PRIMITIVES, "fencerel", counting)
    m = sets_model(
        "let before = fencerel(W)\n"
        "with a from {'x, 'y, 'z}\n"
        "let after = fencerel(W)\n"
        "with b from {'x, 'y}\n"
        "empty before \\ after as same\n"
    )
    outs = run(m, tiny(6))  # three writes per thread, so fencerel(W) is not empty
    assert len(outs) == 6 and all(o.allowed for o in outs)
    assert len(calls) == 1 + 3  # `before` once for the run, `after` once per path of the first with
