"""The terminal report of ``rmapwalk review``: every line within the width (100 columns).

For each question, in order: the question; the answer in a sentence; the verdict matrix,
settings x memory models (``holds`` / ``VIOLATED (property)`` / ``incomplete``); then, for each
broken setting, the shortest counterexample in the narrow layout (:mod:`.narrow`), with the
command that checks it again.  ``traces`` says how much of the counterexamples is printed:

* ``key`` (default): the shortest counterexample of each broken setting, only the steps where
  threads interact, the most telling first (:func:`rmapwalk.report.narrow.key_steps`), as many
  as the report's length (:func:`report_lines`: :data:`LINES_PER_QUESTION` a question) leaves
  each, at least :data:`MIN_KEY_STEPS`; the step numbers are those of the whole trace;
* a question's counterexamples that fail with the same message say so instead of repeating it;
  a verdict that is the same under every model is written once across the matrix's columns
  when the cells would otherwise wrap;
* ``shortest``: the same counterexamples, every step;
* ``all``: every kept trace (the shortest of each violated run, every setting under every
  model), every step; a trace equal to one already printed is named, not repeated;
* ``none``: no traces.

Nothing here knows today's questions: it is built from the scenarios, their expected-verdict
tables and the runs.
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from rmapwalk import review
from rmapwalk.kvm.scenarios import Scenario
from rmapwalk.report import narrow, text

TRACES = ("key", "shortest", "all", "none")
DEFAULT_WIDTH = 100
#: the narrowest report laid out (a smaller width is raised to this)
MIN_WIDTH = 60


def wrap(s: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """``s`` filled to ``width``, the first line starting with ``first``, the others with
    ``rest`` (default: as many spaces).  Long words (paths, switch settings) are broken only
    when they cannot fit on a line of their own."""
    rest = " " * len(first) if rest is None else rest
    return textwrap.wrap(" ".join(s.split()), width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or [first.rstrip()]


def table(header: Sequence[str], rows: Sequence[Sequence[str]], width: int, indent: str = "  ",
          gap: str = "  ") -> list[str]:
    """A table within ``width``: the first column (the settings) is narrowed first, down to its
    longest word, then the widest of the others, their cells wrapped at spaces; only when that
    is not enough are words broken.  A row of two cells in a wider table spans: its second cell
    takes the width of all the others (it does not widen them)."""
    cols = len(header)
    spans = [len(r) == 2 and cols > 2 for r in rows]
    sized = [header, *(r for r, sp in zip(rows, spans, strict=True) if not sp)]
    first = [header[0], *(r[0] for r in rows)]
    widths = [max(len(c) for c in first)] + [max(len(r[i]) for r in sized) for i in range(1, cols)]
    words = ([max(len(w) for c in first for w in (c.split() or [""]))]
             + [max(len(w) for r in sized for w in (r[i].split() or [""])) for i in range(1, cols)])
    budget = width - len(indent) - len(gap) * (cols - 1)
    while sum(widths) > budget:
        if widths[0] > words[0]:
            i = 0
        else:
            i = max(range(cols), key=lambda k: (widths[k] > words[k], widths[k]))
            if widths[i] <= words[i]:  # every column at its longest word: break words
                i = max(range(cols), key=lambda k: widths[k])
                if widths[i] <= 4:
                    break
        widths[i] -= 1

    def cell_lines(c: str, w: int) -> list[str]:
        return textwrap.wrap(c, w, break_on_hyphens=False) or [""]

    out = []
    for r in [header, *rows]:
        ws = widths if len(r) == cols else [widths[0], max(sum(widths[1:]) + len(gap) * (cols - 2),
                                                           width - len(indent) - len(gap) - widths[0])]
        cells = [cell_lines(c, w) for c, w in zip(r, ws, strict=True)]
        for k in range(max(len(c) for c in cells)):
            parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, ws, strict=True)]
            out.append((indent + gap.join(parts)).rstrip())
    return out


def command_lines(words: Sequence[str], comment: str, width: int) -> list[str]:
    """A shell command, ``$ `` first, continued with `` \\`` where it is too wide (so it can be
    pasted as it is), and a ``# comment`` after it; a ``--option value`` pair stays on one line."""
    units: list[str] = []
    for w in words:
        if units and units[-1].startswith("--") and " " not in units[-1] and not w.startswith("-"):
            units[-1] += " " + w
        else:
            units.append(w)
    units.append(comment)
    lines: list[str] = []
    cur = "$"
    for u in units:
        room = width - (0 if u is comment else 2)
        if len(cur) + 1 + len(u) <= room or cur.strip() in ("$", ""):
            cur = f"{cur} {u}"
        else:
            lines.append(cur + " \\" if u is not comment else cur)
            cur = "    " + u
    lines.append(cur)
    return lines


def _title(sc: Scenario, n: int, total: int, width: int) -> str:
    races = f" ({', '.join(sc.races)})" if sc.races else ""
    head = f"== [{n}/{total}] {sc.name}{races} "
    return (head + "=" * max(width - len(head), 0))[:width] if len(head) < width else head.rstrip()


def matrix_lines(sc: Scenario, runs: Sequence[review.Run], models: Sequence[str], width: int) -> list[str]:
    """The verdict matrix of ``sc``, a legend of the properties it names, and a note for every
    cell that differs from the expected table (marked ``!``)."""
    models = review.columns(sc, runs, models)
    rows: list[list[str]] = []
    notes = []
    for settings, cells in review.matrix(sc, runs, models):
        row = [review.describe_settings(settings)]
        for r in cells:
            c = review.cell_text(r)
            if r is not None and r.as_expected is False:
                c += " !"
                notes.append(f"! {review.describe_settings(settings)} @{r.model}: got {r.verdict_text}, "
                             f"expected {r.expected_text}")
            row.append(c)
        rows.append(row)
    header = ["setting", *(m.upper() for m in models)]
    natural = [max(len(r[i]) for r in [header, *rows]) for i in range(1, len(header))]
    setting_word = max(len(w) for r in rows for w in r[0].split() or [""])
    if len(models) > 1 and sum(natural) + setting_word + 2 * len(header) > width:
        # verdict cells would wrap: a row with one verdict in every column says it once
        rows = [[r[0], f"{r[1]} under every model"] if r[1] != "holds" and len(set(r[1:])) == 1 else r
                for r in rows]
    out = table(header, rows, width)
    props = review.properties_of(sc, runs)
    named = [p for p in props if review.short_property(p) != p]
    if named:
        out += wrap("; ".join(p if p[:1].isupper() and p[1:2].isdigit() else f"{review.short_property(p)} {p}"
                              for p in named), width, "  ")
    for note in notes:
        out += wrap(note, width, "  ", "    ")
    return out


#: the length the default report aims at per question (``key`` traces share what the rest
#: leaves): about 400 lines for the 13 questions of the 2013 review, more as questions are added
LINES_PER_QUESTION = 30
#: the report's own lines (introduction and closing hint) on top of the questions'
INTRO_LINES = 10


def report_lines(questions: int) -> int:
    """The length the default (``key``) report of ``questions`` questions aims at."""
    return INTRO_LINES + LINES_PER_QUESTION * questions

#: a ``key`` trace shows at least this many steps, whatever the budget
MIN_KEY_STEPS = 5

Block = list[str] | Callable[[int], list[str]]


def _key_trace(r: review.Run, g: Any, order: list[Any] | None, width: int, lines: int) -> tuple[list[str], int]:
    """The steps of ``r``'s trace that fit ``lines`` lines, most telling first; and how many."""
    assert r.shortest is not None
    v = r.shortest
    trace = narrow.steps(g, r.model, order)
    budget = max(lines, MIN_KEY_STEPS)
    while True:
        keep = narrow.key_steps(g, trace, budget, thread=v.thread, where=v.where, order=order)
        body = narrow.render_narrow(trace, width=width, show=keep, gaps=False, header=False, ends="abnormal",
                                    failed_thread=v.thread)
        out = body.split("\n")
        if len(out) <= lines or budget <= MIN_KEY_STEPS:
            return out, len(keep)
        budget = max(budget - (len(out) - lines), MIN_KEY_STEPS)


def counterexample_block(r: review.Run, width: int, traces: str, layout: str, full_trace: bool,
                         same: review.Run | None = None, seen: dict[tuple[str, ...], str] | None = None) -> Block:
    """One counterexample: the command that checks it again, the violation and the trace.  For
    ``key`` traces a function of the number of lines the trace may take; ``seen`` (the key traces
    already shown for this question) turns a repeated one into a reference."""
    assert r.shortest is not None
    v = r.shortest
    n = review.trace_steps(r.trace)
    if same is not None:
        return wrap(f"{review.describe_settings(r.settings)} under {r.model.upper()}: the same trace as "
                    f"under {same.model.upper()} above.", width, "  ", "    ")

    def head(note: str = "") -> list[str]:
        """The command that checks the run again (setting and model), then the violation."""
        words = ["rmapwalk", *(shlex.quote(a) for a in review.reproduce_args(r))]
        said = text.violation_header(v.kind, v.message, v.thread, v.where)
        if seen is not None and ("violation:", said) in seen:
            # a question's counterexamples often fail the same check with the same words
            said = f"violation: {v.kind}, as for {seen[('violation:', said)]} above"
        elif seen is not None:
            seen[("violation:", said)] = f"{review.describe_settings(r.settings)} under {r.model.upper()}"
        return command_lines(words, f"# {n} steps{note}", width) + wrap(said, width, "", "    ")

    built = review.violation_graph(r)
    if built is None:
        body = r.trace if layout == "columns" else "(the trace could not be rebuilt: run the command above)"
        return head() + body.split("\n")
    g, order = built
    if traces == "key" and layout != "columns":
        def block(lines: int) -> list[str]:
            body, shown = _key_trace(r, g, order, width, lines)
            if seen is not None:
                first = seen.setdefault(tuple(body), f"{review.describe_settings(r.settings)} under {r.model.upper()}")
                if first != f"{review.describe_settings(r.settings)} under {r.model.upper()}":
                    body = wrap(f"(the same steps as for {first} above)", width, "", "    ")
            return head(f", {shown} shown" if shown < n else "") + body
        return block
    body = narrow.trace_text(g, r.model, order, layout=layout, width=width)
    if not full_trace:
        body = text.elide_trace(body)
    return head() + body.split("\n")


def render(runs: Sequence[review.Run], scenarios: Sequence[Scenario], total_seconds: float,
           models: Sequence[str], *, width: int = DEFAULT_WIDTH, traces: str = "key", layout: str = "auto",
           full_trace: bool = False, lines: int | None = None) -> str:
    """The whole terminal report (see the module's docstring); ``key`` traces share the lines
    the rest leaves of ``lines`` (default: :func:`report_lines`)."""
    if traces not in TRACES:
        raise ValueError(f"unknown --traces {traces!r}; valid: {', '.join(TRACES)}")
    width = max(width, MIN_WIDTH)
    total = len(scenarios)
    wrong = sum(r.as_expected is False for r in runs)
    incomplete = sum(r.verdict == review.INCOMPLETE for r in runs)
    execs = sum(r.executions for r in runs)
    blocks: list[Block] = []
    from rmapwalk import review_2025

    new = [review_2025.in_section(sc) for sc in scenarios]
    what = "the 2013 lockless write-protect review"
    if new and all(new):
        what = "the 2025 lockless aging series"
    elif any(new):
        what += " and the 2025 lockless aging series"
    intro = wrap(f"rmapwalk review: {total} question{'s' if total != 1 else ''} of {what}; "
                 f"{', '.join(m.upper() for m in models)}", width)
    state = ("every verdict as expected" if not wrong else
             f"{wrong} verdict{'s differ' if wrong != 1 else ' differs'} from the expected tables")
    state += "; every run exhaustive" if not incomplete else f"; {incomplete} run{'s' * (incomplete != 1)} incomplete"
    intro += wrap(f"{len(runs)} runs, {execs:,} executions, {total_seconds:.1f} s: {state}.", width)
    note = review.lb_note(runs)
    if note:
        intro += wrap(note.replace("`", ""), width)
    if traces == "key":
        intro += wrap("Each broken setting's shortest counterexample shows the steps where threads interact, "
                      "nearest the violation first; step numbers are those of the whole trace, "
                      "'<- #N' reads the write of step N (--traces shortest: every step).", width)
    blocks.append(intro)
    section_shown = False
    for n, sc in enumerate(scenarios, 1):
        sec = ["", _title(sc, n, total, width)]
        if review_2025.in_section(sc) and not section_shown:
            section_shown = True
            sec = ["", f"##### {review_2025.TITLE} #####"[:width], *sec]
        sec += wrap(" ".join(sc.question.split()), width, "Q: ", "   ")
        sec += wrap(review.short_answer(sc, runs).removeprefix("Answer: "), width, "A: ", "   ")
        sec += matrix_lines(sc, runs, models, width)
        blocks.append(sec)
        if traces == "none":
            continue
        chosen = (review.violated_runs(sc, runs) if traces == "all"
                  else [(r, None) for r in review.counterexamples(sc, runs)])
        seen: dict[tuple[str, ...], str] = {}
        for r, same in chosen:
            blocks.append(counterexample_block(r, width, traces, layout, full_trace, same, seen))
    tail: dict[str, str] = {
        "key": "Every step: --traces shortest; every kept trace: --traces all.",
        "shortest": "Every kept trace: --traces all.",
        "all": "Every kept trace: the shortest of each violated run.",
        "none": "Traces: --traces key, shortest or all.",
    }
    blocks.append([""] + wrap(tail[traces] + " Full answers: rmapwalk review --markdown; "
                              "traces drawn: --html FILE.", width))
    if lines is None:
        lines = report_lines(total)
    fixed = sum(len(b) for b in blocks if isinstance(b, list))
    deferred = [b for b in blocks if not isinstance(b, list)]
    share = (lines - fixed) // len(deferred) if deferred else 0
    out: list[str] = []
    for b in blocks:
        if isinstance(b, list):
            out += b
        else:
            # the head, command and violation lines come out of the share too
            out += b(max(share - 4, MIN_KEY_STEPS))
    return "\n".join(out)


def summary_line(r: review.Run) -> str:
    """One run, as ``--verbose`` prints it."""
    return (f"rmapwalk: review: {r.scenario.name} [{review.describe_settings(r.settings)}] @{r.model}: "
            f"{r.verdict} ({r.executions} executions, {r.seconds:.2f} s)")


__all__ = ["LINES_PER_QUESTION", "MIN_KEY_STEPS", "TRACES", "command_lines", "counterexample_block", "matrix_lines",
           "render", "report_lines", "summary_line", "table", "wrap"]
