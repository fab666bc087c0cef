"""The narrow trace layout: the same events with the same step numbers as the column layout, on a
counterexample of every violated run of the review and on the review's own kept traces of a few
questions; within the width; chosen by --layout; elided by steps; the key steps of a trace."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rmapwalk import review
from rmapwalk.cli import main
from rmapwalk.engine.explore import Explorer, Options
from rmapwalk.engine.graph import Graph
from rmapwalk.engine.replay import rebuild
from rmapwalk.engine.trace import render
from rmapwalk.report import narrow, text

#: questions whose whole review runs here (fast: a few seconds together)
SUBSET = ("sp-free", "large-spte", "desc-reuse")


# -- reading both layouts back ---------------------------------------------------------------------
def _norm(s: str) -> str:
    """Text without its spaces: where a narrow line breaks (between words or, when a word is
    wider than the event column, inside it) does not count; every other character does."""
    return "".join(s.split())


def parse_columns(trace: str) -> list[tuple[str, str, str]]:
    """``(step, thread, text)`` of every non-empty cell of a column-layout trace (the text
    with its ``[file:line]``)."""
    lines = trace.split("\n")
    widths = [len(c) for c in lines[1].split("-+-")]
    names = []
    pos = 0
    for w in widths:
        names.append(lines[0][pos:pos + w].strip())
        pos += w + 3
    out = []
    for ln in lines[2:]:
        cells, pos = [], 0
        for w in widths:
            cells.append(ln[pos:pos + w].strip())
            pos += w + 3
        for name, cell in zip(names[1:], cells[1:], strict=True):
            if cell:
                out.append((cells[0], name, _norm(cell)))
    return out


def parse_narrow(trace: str) -> list[tuple[str, str, str]]:
    """``(step, thread, text)`` of every step of a narrow trace, continuation lines joined and
    the source given as the column layout gives it."""
    lines = trace.split("\n")
    rule = lines[1]
    parts = re.findall(r"-+", rule)
    nw, tw = len(parts[0]), len(parts[1])
    lead = nw + 1 + tw + 2
    textw = len(parts[2])
    has_src = len(parts) > 3
    rows: list[list[str]] = []
    for ln in lines[2:]:
        label, thread = ln[:nw].strip(), ln[nw + 1:nw + 1 + tw].strip()
        body = ln[lead:lead + textw] if has_src else ln[lead:]
        src = ln[lead + textw + 2:].strip() if has_src else ""
        if not has_src and not label and re.fullmatch(r"\s*[\w.-]+\.py:\d+", body):
            rows[-1][3] = body.strip()  # (no source column: the source on a line of its own)
            continue
        if label:
            rows.append([label, thread, body.strip(), src])
        else:
            rows[-1][2] += " " + body.strip()
            if src:
                rows[-1][3] = src
    out = []
    for label, thread, body, src in rows:
        cell = body + (f" [{src}]" if src and label != "end" else "")
        out.append((label, thread, _norm(cell)))
    return out


def same_events(g: Graph, model: str, order: Any = None, width: int = 100) -> None:
    cols = parse_columns(render(g, model, order=order))
    tr = narrow.steps(g, model, order)
    out = narrow.render_narrow(tr, width=width)
    assert all(len(ln) <= width for ln in out.split("\n")), max(out.split("\n"), key=len)
    nar = parse_narrow(out)
    # the end of each thread: the column layout puts them all on its "end" row
    assert [(s, t, x) for s, t, x in nar if s != "end"] == [(s, t, x) for s, t, x in cols if s != "end"]
    ends_c = {(t, x) for s, t, x in cols if s == "end"}
    ends_n = {(t, _norm(x)) for s, t, x in nar if s == "end"}
    assert ends_n == ends_c
    # numbered 1..n, as in the column layout
    nums = [int(s) for s, _, _ in nar if s != "end"]
    assert nums == list(range(1, len(nums) + 1))


# -- counterexamples of the review -------------------------------------------------------------------
@cache
def first_counterexamples() -> list[tuple[str, dict[str, Any], str, Graph, Any]]:
    """A counterexample of every run of the review whose expected verdict is a violation (the
    first one found: a few seconds for all of them)."""
    out = []
    for sc, settings, m in review.plan(review.select(), review.DEFAULT_MODELS):
        exp = review.expected_row(sc, settings, m)
        if exp is None or exp.verdict != review.VIOLATED:
            continue
        prog = sc.build(sc.switches(**settings))
        res = Explorer(prog, m, Options(stop_on_first=True, keep_violations=1)).run()
        assert res.violations, (sc.name, settings, m)
        data = json.loads(json.dumps(res.violations[0].replay))
        out.append((sc.name, settings, m, rebuild(prog, data), (data.get("violation") or {}).get("order")))
    return out


def test_narrow_has_the_column_layouts_events_on_every_violated_run_of_the_review() -> None:
    cases = first_counterexamples()
    assert len(cases) >= len(review.select())  # every question but the baseline has broken settings
    for name, settings, m, g, order in cases:
        try:
            same_events(g, m, order)
            same_events(g, m, order, width=60)
        except AssertionError as e:
            raise AssertionError(f"{name} {settings} @{m}: {e}") from None


@cache
def subset_runs() -> list[review.Run]:
    return review.run_review(review.select(SUBSET), review.DEFAULT_MODELS)


def test_narrow_on_every_kept_trace_of_a_review_subset() -> None:
    """The review's own traces: every violation each run kept (the report shows the shortest)."""
    n = 0
    for r in subset_runs():
        prog = r.scenario.build(r.switches)
        for v in r.result.violations:
            data = json.loads(json.dumps(v.replay))
            same_events(rebuild(prog, data), r.model, (data.get("violation") or {}).get("order"))
            n += 1
    assert n >= 9


@pytest.mark.skipif(not os.environ.get("RMAPWALK_SLOW"), reason="set RMAPWALK_SLOW=1 to run the whole review")
def test_narrow_on_every_trace_of_the_whole_review() -> None:
    for r in review.run_review(review.select(), review.DEFAULT_MODELS, jobs=2):
        built = review.violation_graph(r)
        if built is not None:
            same_events(built[0], r.model, built[1])


# -- layout choice, elision, key steps ------------------------------------------------------------------
def _one(name: str = "flush-rule", settings: dict[str, Any] | None = None) -> tuple[Graph, Any]:
    for n, st, m, g, order in first_counterexamples():
        if n == name and (settings is None or st == settings) and m == "sc":
            return g, order
    raise LookupError(name)


def test_auto_layout_is_narrow_only_when_the_columns_do_not_fit() -> None:
    g, order = _one()
    cols = render(g, "sc", order=order)
    wide = max(len(ln) for ln in cols.split("\n"))
    assert wide > 200  # four threads side by side
    assert narrow.trace_text(g, "sc", order, layout="auto", width=wide) == cols
    assert narrow.trace_text(g, "sc", order, layout="columns", width=80) == cols
    auto = narrow.trace_text(g, "sc", order, layout="auto", width=100)
    assert narrow.is_narrow(auto) and not narrow.is_narrow(cols)
    assert auto == narrow.trace_text(g, "sc", order, layout="narrow", width=100)
    with pytest.raises(ValueError, match="valid layouts"):
        narrow.trace_text(g, "sc", order, layout="wide")


def test_long_narrow_traces_are_elided_by_steps() -> None:
    g, order = _one("spt-reuse")
    tr = narrow.trace_text(g, "sc", order, layout="narrow", width=70)
    steps = [s for s in parse_narrow(tr) if s[0] != "end"]
    short = text.elide_trace(tr, max_rows=20)
    marks = [ln for ln in short.split("\n") if "steps not shown" in ln]
    assert marks == [f"... {len(steps) - 20} steps not shown (--full-trace shows them)"]
    kept = parse_narrow("\n".join(ln for ln in short.split("\n") if ln not in marks))
    shown = [s for s in kept if s[0] != "end"]
    assert [s[0] for s in shown] == [str(i) for i in range(1, 11)] + [str(i) for i in range(len(steps) - 9,
                                                                                          len(steps) + 1)]
    assert all(s in steps for s in shown)  # whole steps, continuation lines with them
    assert text.elide_trace(tr, max_rows=len(steps)) == tr


def test_key_steps() -> None:
    g, order = _one("sp-free")
    tr = narrow.steps(g, "sc", order)
    by_no = {s.number: s for s in tr if s.number}
    # the use-after-free: the free and the access are named by the violation's display order
    named = narrow.named_steps(g, tr, order=order)
    assert any("kmem_cache_free" in by_no[n].text for n in named)
    every = narrow.interacting(g, tr)
    for x in narrow.interactions(g, tr):
        assert len({by_no[n].tid for n in x.steps}) >= (1 if x.kind == "mem" else 2), x
    for budget in (4, 8, 12):
        keep = narrow.key_steps(g, tr, budget, order=order)
        assert named <= keep and (len(keep) <= max(budget, len(named)))
        assert keep <= every | named
    # a step is kept with a whole interaction it is in (a read of another thread's write comes
    # with that write), unless the violation names it
    found = narrow.interactions(g, tr)
    for budget in (4, 8, 12):
        keep = narrow.key_steps(g, tr, budget, order=order)
        for n in keep - named:
            assert any(n in x.steps and set(x.steps) <= keep for x in found), (budget, n)


def test_narrow_lines_carry_step_thread_value_source_and_origin() -> None:
    g, order = _one()
    out = narrow.render_narrow(narrow.steps(g, "sc", order), width=100)
    lines = out.split("\n")
    assert re.match(r"\s+# cpu\s+event\s+source$", lines[0])
    assert any(re.match(r"\s*\d+ migrate\s+READ_ONCE\(.+\) = \S+\s+<- #\d+\s+\S+\.py:\d+$", ln) for ln in lines)
    assert any(re.match(r"\s*\d+ \w+\s+.+<- init\s+\S+\.py:\d+$", ln) for ln in lines)
    assert any(ln.startswith("end protect  ASSERTION FAILED") for ln in lines)


# -- the commands ---------------------------------------------------------------------------------------
def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_check_kvm_and_replay_use_the_narrow_layout(tmp_path: Path) -> None:
    args = ("check", "kvm", "--scenario", "flush-rule", "--set", "flush_rule=writable", "--replay-dir", str(tmp_path))
    res = cli(*args)
    assert res.exit_code == 1, res.output
    out = res.stdout
    start = out.index("violation: ")
    end = out.index("\nreplay: ", start)
    block = out[start:end]
    trace = block.split("\n", 1)[1]
    assert narrow.is_narrow(trace)
    assert max(len(ln) for ln in trace.split("\n")) <= 100  # auto: the columns are over 400 wide
    hint = out[end:].split("\n")[1].removeprefix("replay: rmapwalk replay ")
    rep = cli("replay", hint)
    assert rep.exit_code == 1 and rep.stdout.rstrip("\n") == block
    cols = cli("replay", "--layout", "columns", hint)
    assert " | " in cols.stdout.split("\n")[1] and max(len(ln) for ln in cols.stdout.split("\n")) > 200
    steps = [s for s in parse_narrow(trace) if s[0] != "end"]
    assert steps and steps == [s for s in parse_columns(cols.stdout.split("\n", 1)[1]) if s[0] != "end"]
    res = cli(*args, "--layout", "columns")
    assert " | " in res.stdout
    # JSON keeps the column layout (scripts parse it)
    js = json.loads(cli(*args, "--json").stdout)
    assert " | " in js["violations"][0]["trace"].split("\n")[0]
