"""Traces one event a line, read top to bottom like an oops (``--layout narrow``).

The column layout (:func:`rmapwalk.engine.trace.render`) puts each thread in a column of its own:
easy to scan on a wide screen, but a four-thread KVM trace is over a thousand characters wide.
The narrow layout has the same steps in the same order with the same numbers, one a line::

      # cpu      event                                                                 source
    --- -------  --------------------------------------------------------------------  ----------------
      7 protect  spin_lock(kvm.mmu_lock) read 0 -> wrote 2  <- init                    flush.py:38
     20 migrate  cmpxchg(mmu_page_spt#0.spt[0]) read 0x100c27 -> wrote 0x100c25        dirty_log.py:166
                 <- init
    end vcpu0    returned

Each line: the step, the thread (CPU) that runs it, the event with the value read or written and
where a read's value comes from (``<- #N``: the write of step N; ``<- init``: the initial value;
``<- own store buffer``), and the model's ``file:line``.  An event too long for the width
continues on the next lines, indented under the event; no information is cut.

:func:`trace_text` picks the layout: ``auto`` is the column layout when it fits the width, the
narrow one otherwise.  :func:`key_steps` selects, within a budget, the steps where threads
interact, which ``rmapwalk review`` shows by default (:func:`render_narrow` with ``show``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from rmapwalk.engine.events import ALLOC, ERROR, FREE
from rmapwalk.engine.graph import GO, GR, GW, Ev, Graph
from rmapwalk.engine.models import MemoryModel, get_model
from rmapwalk.engine.trace import _end_text, describe, linearize, render

LAYOUTS = ("auto", "narrow", "columns")
#: the width used when the output is no terminal and ``COLUMNS`` is not set
DEFAULT_WIDTH = 100
#: narrowest width the narrow layout lays out for (below it lines may exceed the width)
MIN_WIDTH = 40
#: the event column is never narrower than this (the source then goes on a line of its own)
MIN_TEXT = 24
HEADER_PREFIX = "#"


@dataclass(frozen=True)
class Step:
    """One line of a trace: step ``number`` (0 for a thread's end) run by thread ``tid``."""

    number: int
    tid: int
    thread: str
    what: str  # "exec", "issue" (enters the store buffer), "flush" (becomes visible), "end"
    text: str
    src: str  # "file.py:LINE" or ""
    event: Ev | None = None

    @property
    def label(self) -> str:
        """The step column: its number, or ``end``."""
        return str(self.number) if self.number else "end"


def _src(e: Ev) -> str:
    node = e.node
    if node is None or node.src is None:
        return ""
    return f"{os.path.basename(node.src.file)}:{node.src.line}"


def _rmw_write(g: Graph, e: Ev) -> Ev | None:
    if e.kind != GR or not e.rmw:
        return None
    evs = g.threads[e.tid]
    w = evs[e.idx + 1] if e.idx + 1 < len(evs) else None
    return w if w is not None and w.rmw and w.kind == GW else None


def steps(g: Graph, model: str | MemoryModel, order: list[Any] | None = None) -> list[Step]:
    """The steps of execution ``g`` as the column layout numbers them, then each thread's end."""
    m = get_model(model) if isinstance(model, str) else model
    seq = [s for s in linearize(g, m, order) if not (s[1].kind == GW and s[1].rmw)]
    rowof: dict[int, int] = {}
    for i, (what, e) in enumerate(seq, 1):
        if what != "issue":
            rowof[id(e)] = i
        w = _rmw_write(g, e)
        if w is not None:
            rowof[id(w)] = i
    names = [t.name for t in g.prog.threads]
    out = [Step(i, e.tid, names[e.tid], what, describe(g, e, what, rowof).strip(),
                "" if what == "flush" else _src(e), e)
           for i, (what, e) in enumerate(seq, 1)]
    for t, node in enumerate(g.cursor):
        src = ""
        if node.kind == ERROR and node.src is not None:
            src = f"{os.path.basename(node.src.file)}:{node.src.line}"
        out.append(Step(0, t, names[t], "end", _end_text(node), src))
    return out


# -- which steps matter ---------------------------------------------------------------------------
def _numbers(g: Graph, trace: Sequence[Step]) -> dict[int, list[int]]:
    """id(event) -> the steps that show it (a buffered store has two: into the buffer, visible;
    an RMW's write half is shown by its read's step)."""
    out: dict[int, list[int]] = {}
    for s in trace:
        e = s.event
        if e is None:
            continue
        out.setdefault(id(e), []).append(s.number)
        w = _rmw_write(g, e)
        if w is not None:
            out.setdefault(id(w), []).append(s.number)
    return out


@dataclass(frozen=True)
class Interaction:
    """Threads meeting at one location: ``steps`` shows them (in trace order).  ``kind``:
    ``rf`` (``reader`` read another thread's write), ``fr`` (``reader`` read a value another
    thread overwrote next: the read came first), ``co`` (writes by different threads one after
    the other), ``mem`` (an allocation or a free)."""

    kind: str
    loc: int
    steps: tuple[int, ...]
    reader: int = -1  # the reading thread of rf/fr


def interactions(g: Graph, trace: Sequence[Step]) -> list[Interaction]:
    """The places where threads interact, in trace order of their last step: a read of another
    thread's write (the read and the write); a read whose value another thread overwrites next
    (the read and that write); consecutive writes of a location by different threads; an
    allocation or a free."""
    num = _numbers(g, trace)
    found: dict[tuple[int, ...], Interaction] = {}

    def add(kind: str, loc: int, *evs: Ev, reader: int = -1) -> None:
        steps_ = tuple(sorted({n for e in evs for n in num.get(id(e), ())}))
        if steps_ and steps_ not in found:
            found[steps_] = Interaction(kind, loc, steps_, reader)

    for loc, loc_co in g.co.items():
        for i, w in enumerate(loc_co):
            nxt = loc_co[i + 1] if i + 1 < len(loc_co) else None
            for r in w.readers or ():
                if w.tid >= 0 and w.tid != r.tid:
                    add("rf", loc, r, w, reader=r.tid)
                if nxt is not None and nxt.tid != r.tid:
                    add("fr", loc, r, nxt, reader=r.tid)
        for a, b in zip(loc_co, loc_co[1:], strict=False):
            if a.tid >= 0 and b.tid >= 0 and a.tid != b.tid:
                add("co", loc, a, b)
    for s in trace:
        e = s.event
        if e is not None and e.kind == GO and e.node is not None and e.node.kind in (ALLOC, FREE):
            add("mem", e.node.loc if e.node.loc is not None else -1, e)
    return sorted(found.values(), key=lambda x: (x.steps[-1], x.steps))


def interacting(g: Graph, trace: Sequence[Step]) -> set[int]:
    """Numbers of every step where threads interact (see :func:`interactions`)."""
    return {n for x in interactions(g, trace) for n in x.steps}


def named_steps(g: Graph, trace: Sequence[Step], *, thread: str | None = None, where: str | None = None,
                order: list[Any] | None = None) -> set[int]:
    """The steps a violation names: the events of its display ``order`` (a use-after-free's
    free and access), the last step at ``where`` in ``thread`` (or ``thread``'s last step), and
    the last step of a thread whose assertion failed."""
    num = _numbers(g, trace)
    out: set[int] = set()
    for pair in order or ():
        for ref in pair:
            try:
                e = g.ev((int(ref[0]), int(ref[1])))
            except (IndexError, KeyError, TypeError, ValueError):
                continue
            out.update(num.get(id(e), ())[-1:])
    short = ""
    if where:
        file, _, line = where.rpartition(":")
        short = f"{os.path.basename(file)}:{line}" if file else where
    failed = {t for t, node in enumerate(g.cursor) if node.kind == ERROR}
    last: dict[int, int] = {}
    at_where: dict[int, int] = {}
    for s in trace:
        if not s.number:
            continue
        last[s.tid] = s.number
        if short and s.src == short:
            at_where[s.tid] = s.number
    for t, n in last.items():
        if t in failed or _thread_name(trace, t) == thread:
            out.add(at_where.get(t, n))
    return out


def _thread_name(trace: Sequence[Step], tid: int) -> str:
    return next((s.thread for s in trace if s.tid == tid), "")


def key_steps(g: Graph, trace: Sequence[Step], budget: int | None = None, *, thread: str | None = None,
              where: str | None = None, order: list[Any] | None = None) -> set[int]:
    """The steps a short trace shows: those the violation names (:func:`named_steps`), then
    whole :func:`interactions` while they fit ``budget`` steps (None: all of them).

    Most telling first: a stale read by the thread the violation is in (``thread``, or a thread
    whose assertion failed), the classic race; then its reads of other threads' writes; then
    its writes that others read or overwrite; then the rest.  Within each, one interaction per
    location before a second one of any, latest first (nearest the violation)."""
    named = named_steps(g, trace, thread=thread, where=where, order=order)
    found = interactions(g, trace)
    if budget is None:
        return named | {n for x in found for n in x.steps}
    failed = {t for t, nd in enumerate(g.cursor) if nd.kind == ERROR}
    mine = {s.tid for s in trace if s.thread == thread} | failed
    tid_of = {s.number: s.tid for s in trace if s.number}

    def rank(x: Interaction) -> int:
        if x.reader in mine:
            return 0 if x.kind == "fr" else 1
        return 2 if any(tid_of.get(n) in mine for n in x.steps) else 3

    seen: dict[tuple[int, int], int] = {}
    keyed = []
    for x in sorted(found, key=lambda x: -x.steps[-1]):
        r = rank(x)
        nth = seen.get((r, x.loc), 0)
        seen[(r, x.loc)] = nth + 1
        keyed.append(((r, nth, -x.steps[-1]), x))
    out = set(named)
    for _, x in sorted(keyed, key=lambda kx: kx[0]):
        new = set(x.steps) - out
        if len(out) + len(new) <= budget:
            out |= new
    return out


# -- rendering ------------------------------------------------------------------------------------
def terminal_width(stream: TextIO | None = None, default: int = DEFAULT_WIDTH) -> int:
    """The width to lay out for: the terminal's when ``stream`` (stdout) is one, else ``COLUMNS``
    when set, else ``default``."""
    s = stream if stream is not None else sys.stdout
    try:
        tty = bool(s.isatty())
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return shutil.get_terminal_size((default, 24)).columns
    env = os.environ.get("COLUMNS", "")
    return int(env) if env.isdigit() and int(env) > 0 else default


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``: broken before `` <- `` and at spaces first."""
    if len(text) <= width:
        return [text]
    head, sep, tail = text.partition("  <- ")
    if sep and len(head) <= width:
        return [head] + _wrap("<- " + tail, width)
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def render_narrow(trace: Sequence[Step], *, width: int = DEFAULT_WIDTH, show: Collection[int] | None = None,
                  gaps: bool = True, header: bool = True, ends: str = "all", failed_thread: str | None = None) -> str:
    """The steps one a line, within ``width`` columns.

    ``show``: the step numbers to show; with ``gaps`` each run of other steps becomes one ``...``
    line naming the threads that ran them, without, they are simply left out (the numbers say
    where).  ``ends``: ``all`` (how each thread ended), ``folded`` (the threads that returned
    share one line) or ``abnormal`` (only blocked, stopped or failed threads, but not the failed
    assertion of ``failed_thread``, which the violation line gives)."""
    width = max(width, MIN_WIDTH)
    numbered = [s for s in trace if s.number and (show is None or s.number in show or gaps)]
    end_steps = [s for s in trace if not s.number]
    if ends == "abnormal":
        end_steps = [s for s in end_steps if not s.text.startswith("returned")
                     and not (s.text.startswith(("ASSERTION FAILED", "EXCEPTION")) and s.thread == failed_thread)]
    shown = [s for s in numbered if show is None or s.number in show] + end_steps
    nw = max([3] + [len(s.label) for s in shown])
    tw = max([3] + [len(s.thread) for s in shown])
    sw = max([6] + [len(s.src) for s in shown])
    lead = nw + 1 + tw + 2
    textw = width - lead - 2 - sw
    src_inline = textw >= MIN_TEXT
    if not src_inline:
        textw = width - lead
    natural = max([5] + [len(s.text) for s in shown])
    if src_inline and natural < textw:
        textw = natural
    indent = " " * lead

    def fmt(s: Step) -> list[str]:
        parts = _wrap(s.text, textw)
        first = f"{s.label.rjust(nw)} {s.thread.ljust(tw)}  {parts[0]}"
        if s.src and src_inline:
            first = f"{first.ljust(lead + textw)}  {s.src}"
        lines = [first.rstrip()] + [indent + p for p in parts[1:]]
        if s.src and not src_inline:
            lines.append(indent + s.src)
        return lines

    out: list[str] = []
    if header:
        head = f"{HEADER_PREFIX.rjust(nw)} {'cpu'.ljust(tw)}  " + (
            "event".ljust(textw) + "  source" if src_inline else "event")
        rule = f"{'-' * nw} {'-' * tw}  {'-' * textw}" + (f"  {'-' * sw}" if src_inline else "")
        out += [head.rstrip(), rule]
    gap: list[Step] = []

    def flush_gap() -> None:
        if not gap:
            return
        if len(gap) == 1:  # a "..." line would take the line the step takes
            out.extend(fmt(gap.pop()))
            return
        threads = list(dict.fromkeys(s.thread for s in gap))
        n = len(gap)
        what = f"{n} steps of {', '.join(threads)}"
        out.extend(_wrap_plain("...".rjust(nw) + " " + " " * tw + "  " + what, width, indent))
        gap.clear()

    for s in numbered:
        if show is not None and s.number not in show:
            gap.append(s)
            continue
        flush_gap()
        out.extend(fmt(s))
    flush_gap()
    if ends == "folded":
        done = [s for s in end_steps if s.text == "returned" and not s.src]
        for s in end_steps:
            if s not in done:
                out.extend(fmt(s))
        if done:
            out.extend(_wrap_plain(f"{'end'.rjust(nw)} {', '.join(s.thread for s in done)}: returned",
                                   width, indent))
    else:
        for s in end_steps:
            out.extend(fmt(s))
    return "\n".join(out)


def _wrap_plain(line: str, width: int, indent: str) -> list[str]:
    if len(line) <= width:
        return [line]
    return textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) or [line]


def is_narrow(trace: str) -> bool:
    """Is ``trace`` (text) in the narrow layout?"""
    first = trace.split("\n", 1)[0]
    return first.lstrip().startswith(HEADER_PREFIX + " ") and " | " not in first


_STEP_LINE = re.compile(r"^\s*(\d+|end|\.\.\.) ")


def elide(trace: str, max_rows: int) -> str:
    """A narrow ``trace`` with the middle steps left out when it has more than ``max_rows``
    (a step's continuation lines stay with it)."""
    lines = trace.split("\n")
    head, body = lines[:2], lines[2:]
    nw = len(head[1].split(" ", 1)[0]) if len(head) > 1 else 3
    groups: list[list[str]] = []
    for ln in body:
        if groups and ln[:nw].strip() == "":
            groups[-1].append(ln)
        else:
            groups.append([ln])
    steps_ = [gr for gr in groups if not gr[0][:nw].strip() == "end"]
    ends = groups[len(steps_):]
    if len(steps_) <= max_rows:
        return trace
    keep = max(max_rows // 2, 1)
    skipped = len(steps_) - 2 * keep
    mark = f"{'...'.rjust(nw)} {skipped} steps not shown (--full-trace shows them)"
    flat = [ln for gr in steps_[:keep] for ln in gr] + [mark] + [ln for gr in steps_[-keep:] for ln in gr]
    return "\n".join(head + flat + [ln for gr in ends for ln in gr])


def trace_text(g: Graph, model: str | MemoryModel, order: list[Any] | None = None, *, layout: str = "auto",
               width: int | None = None) -> str:
    """The trace of ``g`` in ``layout``: ``columns`` (one column per thread), ``narrow`` (one
    event a line, within ``width``), or ``auto``: the columns when they fit ``width``, else
    narrow.  ``width`` defaults to :func:`terminal_width`."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    if width is None:
        width = terminal_width()
    if layout != "narrow":
        cols = render(g, model, order=order)
        if layout == "columns" or max(len(ln) for ln in cols.split("\n")) <= width:
            return cols
    return render_narrow(steps(g, model, order), width=width)


__all__ = [
    "DEFAULT_WIDTH",
    "LAYOUTS",
    "Step",
    "elide",
    "interacting",
    "is_narrow",
    "render_narrow",
    "steps",
    "terminal_width",
    "trace_text",
]
