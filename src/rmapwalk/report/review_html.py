"""``rmapwalk review --html FILE``: the whole review as one self-contained page.

A table of contents by question; for each question its answer, the verdict matrix (settings x
memory models), every run with its switches and the ``rmapwalk check kvm`` command that checks
it again, and every counterexample kept (the shortest trace of each violated run) drawn as the
``--html`` trace page draws one (:mod:`.html`: a column per thread and store buffer, SVG
reads-from arrows), folded in a ``<details>`` until opened, with its text trace in the narrow
layout under it.  Inline CSS and SVG only: no script, no network access.

Like the terminal report it is built from the scenarios and the runs only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from rmapwalk import review
from rmapwalk.kvm.scenarios import Scenario
from rmapwalk.report import narrow, text
from rmapwalk.report.html import CSS, trace_fragment

_PAGE_CSS = """
body { max-width: 1500px; }
h1 { font-size: 22px; }
h2 { font-size: 18px; margin: 28px 0 6px 0; border-bottom: 2px solid #333; padding-bottom: 3px; }
h3 { font-size: 15px; margin: 16px 0 6px 0; }
a { color: #0b57d0; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
nav#toc ol { padding-left: 22px; margin: 6px 0; }
nav#toc li { margin: 3px 0; font-size: 14px; }
.status { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 8px;
  margin-right: 6px; vertical-align: 1px; }
.status.answered { background: #e6f4ea; color: #1e6b34; }
.status.differs { background: #fde7e9; color: #b00020; }
.status.incomplete { background: #fff4d6; color: #7a5a00; }
p.question { font-weight: 600; margin: 6px 0; }
p.short-answer { font-size: 15px; margin: 6px 0; color: #0d3c73; font-weight: 600; max-width: 1100px; }
p.answer { margin: 6px 0 10px 0; color: #333; line-height: 1.45; max-width: 1100px; }
table.matrix, table.runs { border-collapse: collapse; margin: 6px 0 4px 0; font-size: 13px; }
table.matrix th, table.matrix td, table.runs th, table.runs td { border: 1px solid #ccc; padding: 3px 8px;
  text-align: left; vertical-align: top; }
table.matrix th, table.runs th { background: #f2f2f4; }
td.holds { background: #e6f4ea; color: #1e6b34; }
td.violated { background: #fde7e9; color: #b00020; font-weight: 600; }
td.incomplete { background: #fff4d6; color: #7a5a00; }
td.differs { outline: 2px solid #b00020; outline-offset: -3px; }
table.runs td.switches { max-width: 460px; }
table.runs td.cmd { white-space: nowrap; }
p.props { font-size: 12px; color: #444; margin: 2px 0 10px 0; }
details.cex { margin: 8px 0; border: 1px solid #ddd; border-radius: 6px; padding: 4px 10px; }
details.cex > summary { cursor: pointer; font-size: 14px; padding: 4px 0; }
details.cex > summary .steps { color: #666; font-weight: 400; }
details.cex .body { overflow-x: auto; padding: 6px 0; }
p.same { font-size: 13px; color: #555; margin: 4px 0 4px 14px; }
.cmdline { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; background: #f6f6f8;
  padding: 4px 8px; border-radius: 4px; display: inline-block; }
"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _inline(s: str) -> str:
    """The review texts' bits of Markdown (``code``, **bold**) as HTML, the rest escaped."""
    out = _e(" ".join(s.split()))
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def anchor(sc: Scenario) -> str:
    return "q-" + re.sub(r"[^A-Za-z0-9_-]+", "-", sc.name)


def _verdict_class(r: review.Run | None) -> str:
    if r is None:
        return ""
    cls = {review.HOLDS: "holds", review.VIOLATED: "violated", review.INCOMPLETE: "incomplete"}.get(r.verdict, "")
    return cls + (" differs" if r.as_expected is False else "")


def _matrix(sc: Scenario, runs: Sequence[review.Run], models: Sequence[str]) -> list[str]:
    models = review.columns(sc, runs, models)
    out = ['<table class="matrix"><thead><tr><th>setting</th>'
           + "".join(f"<th>{_e(m.upper())}</th>" for m in models) + "</tr></thead><tbody>"]
    for settings, cells in review.matrix(sc, runs, models):
        tds = []
        for r in cells:
            tip = "" if r is None or r.as_expected is not False else f' title="expected {_e(r.expected_text)}"'
            mark = " !" if r is not None and r.as_expected is False else ""
            tds.append(f'<td class="{_verdict_class(r)}"{tip}>{_e(review.cell_text(r))}{mark}</td>')
        out.append(f'<tr><td><code>{_e(review.describe_settings(settings))}</code></td>{"".join(tds)}</tr>')
    out.append("</tbody></table>")
    props = review.properties_of(sc, runs)
    if props:
        short = {p: review.short_property(p) for p in props}
        out.append('<p class="props">' + "; ".join(
            _e(p if short[p] == p or p.startswith(short[p]) else f"{short[p]}: {p}") for p in props) + "</p>")
    return out


def _runs_table(sc: Scenario, runs: Sequence[review.Run]) -> list[str]:
    out = ['<table class="runs"><thead><tr><th>setting</th><th>model</th><th>verdict</th><th>as expected</th>'
           "<th>executions</th><th>seconds</th><th>switches (all that differ from the defaults)</th>"
           "<th>command</th></tr></thead><tbody>"]
    for r in review.runs_of(sc, runs):
        ok = r.as_expected
        exp = "-" if ok is None else "yes" if ok else f"NO (expected {r.expected_text})"
        out.append(
            f'<tr data-setting="{_e(review.describe_settings(r.settings))}" data-model="{_e(r.model)}">'
            f"<td><code>{_e(review.describe_settings(r.settings))}</code></td><td>{_e(r.model.upper())}</td>"
            f'<td class="{_verdict_class(r)}">{_e(r.verdict_text)}</td><td>{_e(exp)}</td>'
            f"<td>{r.executions:,}</td><td>{r.seconds:.2f}</td>"
            f'<td class="switches mono">{_e(r.switches.describe())}</td>'
            f'<td class="cmd"><code>{_e(review.reproduce_command(r))}</code></td></tr>')
    out.append("</tbody></table>")
    return out


def _counterexample(r: review.Run, same: review.Run | None, ident: str) -> list[str]:
    assert r.shortest is not None
    v = r.shortest
    n = review.trace_steps(r.trace)
    title = f"{review.describe_settings(r.settings)} under {r.model.upper()}"
    props = ", ".join(r.properties)
    if same is not None:
        return [f'<p class="same" id="{ident}">{_e(title)}: {_e(props)}; the same trace as under '
                f"{_e(same.model.upper())} above.</p>"]
    out = [f'<details class="cex" id="{ident}" data-setting="{_e(review.describe_settings(r.settings))}" '
           f'data-model="{_e(r.model)}" data-steps="{n}">',
           f"<summary><b>{_e(title)}</b>: {_e(props)} <span class=\"steps\">({n} steps)</span></summary>",
           '<div class="body">',
           f'<p class="property">{_e(text.violation_header(v.kind, "", v.thread, v.where).removeprefix("violation: "))}'
           "</p>"]
    if v.message:
        out.append(f'<p class="message">{_e(" ".join(v.message.split()))}</p>')
    out.append(f'<p class="cmdline">$ {_e(review.reproduce_command(r))}</p>')
    built = review.violation_graph(r)
    if built is None:
        out.append(f'<pre class="text-trace">{_e(r.trace)}</pre>')
    else:
        g, order = built
        narrow_text = narrow.render_narrow(narrow.steps(g, r.model, order), width=120)
        out.append(trace_fragment(g, r.model, order, prefix=f"{ident}-", text_trace=narrow_text))
    out += ["</div>", "</details>"]
    return out


def render(runs: Sequence[review.Run], scenarios: Sequence[Scenario], total_seconds: float,
           models: Sequence[str]) -> str:
    """The page (see the module's docstring)."""
    wrong = sum(r.as_expected is False for r in runs)
    incomplete = sum(r.verdict == review.INCOMPLETE for r in runs)
    state = "every verdict as expected" if not wrong else f"{wrong} verdicts differ from the expected tables"
    state += ", every run exhaustive" if not incomplete else f", {incomplete} runs incomplete"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>rmapwalk review: the 2013 lockless write-protect review</title>",
        f"<style>{CSS}{_PAGE_CSS}</style></head><body>",
        "<h1>rmapwalk review: the 2013 lockless write-protect review</h1>",
        f'<p class="meta"><span>{len(scenarios)} questions</span><span>{len(runs)} runs under '
        f'{_e(", ".join(m.upper() for m in models))}</span><span>{sum(r.executions for r in runs):,} executions'
        f"</span><span>{total_seconds:.1f} s</span><span>{_e(state)}</span></p>",
        '<p class="meta">Each run explores every execution of the scenario under the memory model; "holds" '
        "means no execution violates a checked invariant, a bounded run shows as incomplete. Each setting "
        "is given over the scenario's own base switches.</p>",
    ]
    note = review.lb_note(runs)
    if note:
        out.append(f'<p class="meta">{_inline(note)}</p>')
    out += [
        '<nav id="toc"><h2>Questions</h2><ol>',
    ]
    for sc in scenarios:
        st = review.status(sc, runs)
        out.append(f'<li><a href="#{anchor(sc)}"><code>{_e(sc.name)}</code></a> '
                   f'<span class="status {st}">{_e(st)}</span>{_e(" ".join(sc.question.split()))}</li>')
    out.append("</ol></nav>")
    from rmapwalk import review_2025

    section_shown = False
    for n, sc in enumerate(scenarios, 1):
        if review_2025.in_section(sc) and not section_shown:
            section_shown = True
            out.append(f'<h1 id="review-2025">{_e(review_2025.TITLE)}</h1>')
            out.append(f'<p class="meta">{_inline(review_2025.INTRO)}</p>')
        races = f" ({', '.join(sc.races)})" if sc.races else ""
        st = review.status(sc, runs)
        out.append(f'<section class="question" id="{anchor(sc)}" data-question="{_e(sc.name)}">')
        out.append(f'<h2>{n}. <code>{_e(sc.name)}</code>{_e(races)} <span class="status {st}">{_e(st)}</span></h2>')
        out.append(f'<p class="question">{_e(" ".join(sc.question.split()))}</p>')
        out.append(f'<p class="short-answer">{_inline(review.short_answer(sc, runs))}</p>')
        out.append(f'<p class="answer">{_inline(review.answer(sc, runs))}</p>')
        out += _matrix(sc, runs, models)
        cex = review.violated_runs(sc, runs)
        if cex:
            out.append(f"<h3>Counterexamples ({sum(1 for _, same in cex if same is None)}; the shortest kept "
                       "trace of each violated run, click to open)</h3>")
            for i, (r, same) in enumerate(cex, 1):
                out += _counterexample(r, same, f"{anchor(sc)}-t{i}")
        out.append("<h3>Runs</h3>")
        out += _runs_table(sc, runs)
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


__all__ = ["anchor", "render"]
