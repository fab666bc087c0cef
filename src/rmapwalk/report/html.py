"""A violation as one self-contained HTML page (``--html FILE``).

The page is built from the same data as the text trace (:mod:`rmapwalk.engine.trace`): the
execution graph rebuilt from the replay record, laid out in the same steps.  It has the violated
property at the top, then one column per thread (plus one per store buffer that holds a write
other events overtake, and the RCU callback thread where the model has one), one row per step in
execution order, and SVG arrows from each write to the reads that take its value.  Every event
shows its value and the file:line it comes from.  Inline CSS and SVG only: no script, no network.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import Any

from rmapwalk.engine.events import ERROR
from rmapwalk.engine.graph import GF, GR, GW, Ev, Graph
from rmapwalk.engine.models import MemoryModel, get_model
from rmapwalk.engine.trace import _end_text, describe, format_value, linearize, render

#: the name of the thread that runs RCU callbacks (see :mod:`rmapwalk.kernel.rcu`)
RCU_THREAD = "rcu_callbacks"

# geometry (pixels); the boxes use a monospace font so widths follow from character counts
CHAR_W = 7.3
ROW_H = 46
BOX_H = 38
HEAD_H = 34
STEP_W = 44
GAP = 28
MIN_CHARS = 16
MAX_CHARS = 64
#: more reads of initial values than this: no arrows for them (each such read says "<- init")
MAX_INIT_ARROWS = 12


@dataclass
class Column:
    """One column of the page: a thread, a thread's store buffer, or the initial values."""

    title: str
    kind: str  # "thread", "buffer", "rcu", "init"
    tid: int
    x: float = 0.0
    width: float = 0.0


@dataclass
class Box:
    """One event (or initial value, or thread end) drawn as a box."""

    id: str
    row: int  # 1-based step; init boxes have rows <= 0; the end row is last step + 1
    col: int
    kind: str  # read, write, rmw, fence, other, init, end, issue, flush
    text: str
    src: str = ""
    src_full: str = ""
    thread: str = ""
    classes: list[str] = field(default_factory=list)


@dataclass
class Arrow:
    """``rf``: from a write to a read that takes its value; ``sb``: a store entering its buffer
    to the step where it becomes visible."""

    kind: str
    src: str
    dst: str
    label: str = ""


@dataclass
class Layout:
    columns: list[Column]
    boxes: list[Box]
    arrows: list[Arrow]
    steps: int
    init_rows: int
    #: ``name = value`` of each location whose initial value some read takes
    init_values: list[str] = field(default_factory=list)


def _event_kind(e: Ev, what: str) -> str:
    if what in ("issue", "flush"):
        return what
    if e.kind == GR:
        return "rmw" if e.rmw else "read"
    if e.kind == GW:
        return "write"
    if e.kind == GF:
        return "fence"
    return "other"


def _src(e: Ev) -> tuple[str, str]:
    node = e.node
    if node is None or node.src is None:
        return "", ""
    return f"{os.path.basename(node.src.file)}:{node.src.line}", f"{node.src.file}:{node.src.line}"


def _rmw_write(g: Graph, e: Ev) -> Ev | None:
    """The write half of RMW read ``e`` (None for other events and failed RMWs)."""
    if e.kind != GR or not e.rmw:
        return None
    evs = g.threads[e.tid]
    w = evs[e.idx + 1] if e.idx + 1 < len(evs) else None
    return w if w is not None and w.rmw and w.kind == GW else None


def layout(g: Graph, model: str | MemoryModel, order: list[Any] | None = None) -> Layout:
    """Columns, boxes and arrows of the execution ``g`` (steps as in the text trace)."""
    m = get_model(model) if isinstance(model, str) else model
    steps = [s for s in linearize(g, m, order) if not (s[1].kind == GW and s[1].rmw)]
    # the row of each event as the text trace numbers it (an RMW's write shares its read's row)
    rowof: dict[int, int] = {}
    issue_row: dict[int, int] = {}
    for i, (what, e) in enumerate(steps, 1):
        if what == "issue":
            issue_row[id(e)] = i
        else:
            rowof[id(e)] = i
        w = _rmw_write(g, e)
        if w is not None:
            rowof[id(w)] = i
    buffered = {e.tid for what, e in steps if what == "issue"}
    names = [t.name for t in g.prog.threads]
    columns: list[Column] = []
    # initial values that some read takes
    init_locs: list[int] = []
    init_reads = 0
    for evs in g.threads:
        for e in evs:
            if e.kind == GR and e.rf is not None and e.rf.tid < 0:
                init_reads += 1
                if e.rf.loc not in init_locs:
                    init_locs.append(e.rf.loc)
    loc_name = g.prog.loc_name
    init_locs.sort(key=lambda x: loc_name(x))
    init_values = [f"{loc_name(loc)} = {format_value(g.prog, g.co_list(loc)[0].val)}" for loc in init_locs]
    if init_reads > MAX_INIT_ARROWS:
        init_locs = []  # too many to draw: the page lists them, each such read says "<- init"
    if init_locs:
        columns.append(Column("initial values", "init", -1))
    thread_col: dict[int, int] = {}
    buffer_col: dict[int, int] = {}
    for t, name in enumerate(names):
        thread_col[t] = len(columns)
        columns.append(Column(name, "rcu" if name == RCU_THREAD else "thread", t))
        if t in buffered:
            buffer_col[t] = len(columns)
            columns.append(Column(f"{name} store buffer", "buffer", t))
    boxes: list[Box] = []
    arrows: list[Arrow] = []
    box_of: dict[int, str] = {}  # id(event) -> box where it is visible to all
    issue_box: dict[int, str] = {}
    for j, loc in enumerate(init_locs):
        init = g.co_list(loc)[0]
        bid = f"init-{j}"
        boxes.append(Box(bid, j - len(init_locs) + 1, 0, "init", init_values[j], thread="init"))
        box_of[id(init)] = bid
    for i, (what, e) in enumerate(steps, 1):
        text = describe(g, e, what, rowof).strip()
        src, full = ("", "") if what == "flush" else _src(e)
        col = buffer_col[e.tid] if what == "flush" else thread_col[e.tid]
        bid = f"s{i}"
        box = Box(bid, i, col, _event_kind(e, what), text, src, full, names[e.tid])
        boxes.append(box)
        if what == "issue":
            issue_box[id(e)] = bid
        else:
            box_of[id(e)] = bid
            w = _rmw_write(g, e)
            if w is not None:
                box_of[id(w)] = bid
    for e_id, bid in issue_box.items():
        if e_id in box_of:
            arrows.append(Arrow("sb", bid, box_of[e_id], "visible"))
    for i, (what, e) in enumerate(steps, 1):
        if what == "issue" or e.kind != GR or e.rf is None:
            continue
        w = e.rf
        src_id: str | None
        if w.tid == e.tid and id(w) in issue_box and rowof.get(id(w), 0) > i:
            src_id = issue_box[id(w)]  # forwarded from its own store buffer
        else:
            src_id = box_of.get(id(w))
        if src_id is not None:
            arrows.append(Arrow("rf init" if w.tid < 0 else "rf", src_id, f"s{i}",
                                f"{loc_name(e.loc)} = {format_value(g.prog, w.val)}"))
    end_row = len(steps) + 1
    for t, node in enumerate(g.cursor):
        classes = ["failed"] if node.kind == ERROR else []
        src, full = ("", "")
        if node.kind == ERROR and node.src is not None:
            src, full = f"{os.path.basename(node.src.file)}:{node.src.line}", f"{node.src.file}:{node.src.line}"
        boxes.append(Box(f"end-{t}", end_row, thread_col[t], "end", _end_text(node), src, full, names[t], classes))
    _place(columns, boxes)
    return Layout(columns, boxes, arrows, len(steps), len(init_locs), init_values)


def _place(columns: list[Column], boxes: list[Box]) -> None:
    chars = [len(c.title) for c in columns]
    for b in boxes:
        chars[b.col] = max(chars[b.col], len(b.text), len(b.src))
    x = float(STEP_W + GAP // 2)
    for c, n in zip(columns, chars, strict=True):
        c.width = min(max(n, MIN_CHARS), MAX_CHARS) * CHAR_W + 18
        c.x = x
        x += c.width + GAP


# -- drawing ---------------------------------------------------------------------------------------
CSS = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #1d1d1f; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px 0; }
.property { font-size: 16px; font-weight: 600; color: #b00020; margin: 0 0 4px 0; }
.message { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; margin: 0 0 6px 0; }
.meta { font-size: 13px; color: #555; margin: 0 0 12px 0; }
.meta span { margin-right: 18px; }
.trace { position: relative; }
.col-head { position: absolute; top: 0; height: 26px; line-height: 26px; font-weight: 700;
  font-size: 13px; text-align: center; border-bottom: 2px solid #333; white-space: nowrap; overflow: hidden; }
.col-head.buffer { color: #6b4e00; border-bottom-color: #c9a227; font-weight: 600; }
.col-head.rcu { color: #004e8c; border-bottom-color: #2a7fd4; }
.col-head.init { color: #555; border-bottom-color: #999; font-weight: 600; }
.lane { position: absolute; background: #f6f6f8; border-radius: 4px; }
.lane.buffer { background: #fdf8e6; }
.lane.rcu { background: #eef5fc; }
.lane.init { background: #f2f2f2; }
.step-no { position: absolute; width: 40px; text-align: right; font-size: 12px; color: #777;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.event { position: absolute; box-sizing: border-box; border: 1px solid #888; border-radius: 4px;
  background: #fff; padding: 2px 6px; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 12px; line-height: 16px; overflow: hidden; }
.event .text, .event .src { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.event .src { color: #777; font-size: 11px; }
.event.read, .event.rmw { border-color: #2e7d32; }
.event.write { border-color: #1565c0; }
.event.issue { border-color: #1565c0; border-style: dashed; }
.event.flush { border-color: #c9a227; background: #fffbea; }
.event.fence { border-color: #6a1b9a; background: #f7f0fa; }
.event.rmw { background: #f1f8f1; }
.event.init { border-color: #999; background: #fafafa; }
.event.end { border-color: #bbb; color: #444; background: #fafafa; }
.event.failed { border: 2px solid #b00020; color: #b00020; background: #fff0f0; font-weight: 600; }
svg.arrows { position: absolute; left: 0; top: 0; pointer-events: none; overflow: visible; }
svg.arrows path.rf { stroke: #2e7d32; stroke-width: 1.6; fill: none; opacity: 0.85; }
svg.arrows path.rf.init { stroke: #7a9e7c; stroke-width: 1.1; stroke-dasharray: 2 2; opacity: 0.6; }
svg.arrows path.sb { stroke: #c9a227; stroke-width: 1.4; fill: none; stroke-dasharray: 5 3; opacity: 0.9; }
.init-values { font-size: 12px; color: #555; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  margin: 0 0 12px 0; }
.legend { margin-top: 14px; font-size: 12px; color: #444; }
.legend span { margin-right: 16px; }
.legend .sw { display: inline-block; width: 22px; height: 0; vertical-align: middle; margin-right: 4px; }
details { margin-top: 14px; }
pre { font-size: 12px; background: #f6f6f8; padding: 8px; overflow-x: auto; }
"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _anchor(lay: Layout, b: Box, side: str) -> tuple[float, float]:
    c = lay.columns[b.col]
    y = _row_y(lay, b.row) + BOX_H / 2
    if side == "left":
        return c.x, y
    return c.x + c.width, y


def _row_y(lay: Layout, row: int) -> float:
    # init rows (<= 0) come first, then steps 1..n, then the end row
    return HEAD_H + (row - 1 + lay.init_rows) * ROW_H


def _arrow_path(lay: Layout, a: Box, b: Box) -> str:
    ca, cb = lay.columns[a.col], lay.columns[b.col]
    if a.col == b.col:
        (sx, sy), (tx, ty) = _anchor(lay, a, "right"), _anchor(lay, b, "right")
        bulge = min(GAP * 0.9 + abs(ty - sy) * 0.08, GAP * 1.8)
        return f"M{sx:.1f},{sy:.1f} C{sx + bulge:.1f},{sy:.1f} {tx + bulge:.1f},{ty:.1f} {tx + 2:.1f},{ty:.1f}"
    if ca.x < cb.x:
        (sx, sy), (tx, ty) = _anchor(lay, a, "right"), _anchor(lay, b, "left")
        tx -= 2
    else:
        (sx, sy), (tx, ty) = _anchor(lay, a, "left"), _anchor(lay, b, "right")
        tx += 2
    dx = max(abs(tx - sx) * 0.4, 20.0)
    d1, d2 = (dx, -dx) if sx < tx else (-dx, dx)
    return f"M{sx:.1f},{sy:.1f} C{sx + d1:.1f},{sy:.1f} {tx + d2:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"


def trace_fragment(g: Graph, model: str | MemoryModel, order: list[Any] | None = None, *, prefix: str = "",
                   text_trace: str | None = None) -> str:
    """The drawn trace of ``g`` (columns, boxes, SVG arrows, legend, the folded text trace), to
    put in a page; ``prefix`` makes its element ids unique when a page holds several traces.
    ``text_trace``: the text trace to fold under it (default: the column layout)."""
    m = get_model(model) if isinstance(model, str) else model
    lay = layout(g, m, order)
    boxes = {b.id: b for b in lay.boxes}
    n_rows = lay.init_rows + lay.steps + 1
    width = (lay.columns[-1].x + lay.columns[-1].width + GAP) if lay.columns else 200.0
    height = HEAD_H + n_rows * ROW_H
    out: list[str] = []
    w = out.append
    if lay.init_values and not lay.init_rows:
        w('<p class="init-values">initial values read (arrows from them not drawn; those reads say '
          f'&lt;- init): {_e(", ".join(lay.init_values))}</p>')
    w(f'<div class="trace" style="width:{width:.0f}px;height:{height:.0f}px">')
    for c in lay.columns:
        w(f'<div class="lane {c.kind}" style="left:{c.x - 6:.1f}px;top:{HEAD_H - 4}px;'
          f'width:{c.width + 12:.1f}px;height:{n_rows * ROW_H:.0f}px"></div>')
        w(f'<div class="col-head {c.kind}" data-tid="{c.tid}" style="left:{c.x:.1f}px;width:{c.width:.1f}px"'
          f' title="{_e(c.title)}">{_e(c.title)}</div>')
    for r in range(1, lay.steps + 1):
        w(f'<div class="step-no" style="left:0;top:{_row_y(lay, r) + 10:.0f}px">{r}</div>')
    w(f'<div class="step-no" style="left:0;top:{_row_y(lay, lay.steps + 1) + 10:.0f}px">end</div>')
    for b in lay.boxes:
        c = lay.columns[b.col]
        cls = " ".join(["event", b.kind, *b.classes])
        tip = b.text + (f"  [{b.src_full}]" if b.src_full else "")
        step = str(b.row) if 1 <= b.row <= lay.steps else ("end" if b.kind == "end" else "init")
        w(f'<div class="{cls}" id="{prefix}{b.id}" data-step="{step}" data-thread="{_e(b.thread)}" '
          f'title="{_e(tip)}"'
          f' style="left:{c.x:.1f}px;top:{_row_y(lay, b.row):.1f}px;width:{c.width:.1f}px;height:{BOX_H}px">'
          f'<span class="text">{_e(b.text)}</span>'
          + (f'<span class="src">{_e(b.src)}</span>' if b.src else "") + "</div>")
    w(f'<svg class="arrows" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}"'
      f' viewBox="0 0 {width:.0f} {height:.0f}">')
    w("<defs>"
      f'<marker id="{prefix}head-rf" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
      'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2e7d32"/></marker>'
      f'<marker id="{prefix}head-sb" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
      'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c9a227"/></marker>'
      "</defs>")
    for a in lay.arrows:
        sa, sb = boxes[a.src], boxes[a.dst]
        head = a.kind.split()[0]
        w(f'<path class="{a.kind}" data-from="{prefix}{a.src}" data-to="{prefix}{a.dst}" '
          f'marker-end="url(#{prefix}head-{head})" '
          f'd="{_arrow_path(lay, sa, sb)}"><title>{_e(head)}: {_e(a.label)}</title></path>')
    w("</svg></div>")
    w('<p class="legend"><span><i class="sw" style="border-top:2px solid #2e7d32"></i>reads-from '
      "(write to the read that takes its value)</span>"
      '<span><i class="sw" style="border-top:2px dashed #c9a227"></i>store buffer to memory</span>'
      '<span><i class="sw" style="border-top:2px dotted #7a9e7c"></i>reads of initial values</span>'
      "<span>rows: steps in an order the memory model allows</span></p>")
    trace = text_trace if text_trace is not None else render(g, m, order=order)
    w(f'<details><summary>text trace</summary><pre class="text-trace">{_e(trace)}</pre></details>')
    return "\n".join(out)


def render_html(g: Graph, model: str | MemoryModel, *, kind: str, message: str = "",
                thread: str | None = None, where: str | None = None, order: list[Any] | None = None,
                source: str | None = None, replay_file: str | None = None) -> str:
    """The page for the violation ``kind`` (``message``...) in execution ``g`` under ``model``."""
    from rmapwalk.report.text import violation_header

    m = get_model(model) if isinstance(model, str) else model
    steps = len([s for s in linearize(g, m, order) if not (s[1].kind == GW and s[1].rmw)])
    header = violation_header(kind, "", thread, where).removeprefix("violation: ")
    out: list[str] = []
    w = out.append
    w("<!DOCTYPE html>")
    w('<html lang="en"><head><meta charset="utf-8">')
    w(f"<title>rmapwalk: {_e(g.prog.name)} ({_e(m.name)}): {_e(kind)}</title>")
    w(f"<style>{CSS}</style></head><body>")
    w(f'<h1>rmapwalk: violation in program <span class="program">{_e(g.prog.name)}</span></h1>')
    w(f'<p class="property" id="property" data-property="{_e(kind)}">{_e(header)}</p>')
    if message:
        w(f'<p class="message">{_e(" ".join(message.split()))}</p>')
    meta = [f'<span class="model">memory model: <b>{_e(m.name)}</b></span>',
            f"<span>{steps} steps</span>", f"<span>{len(g.prog.threads)} threads</span>"]
    if source:
        meta.append(f'<span class="source">model file: {_e(source)}</span>')
    if replay_file:
        meta.append(f'<span class="replay">replay: rmapwalk replay {_e(replay_file)}</span>')
    w(f'<p class="meta">{"".join(meta)}</p>')
    w(trace_fragment(g, m, order))
    w("</body></html>")
    return "\n".join(out) + "\n"


def html_from_replay(prog: Any, data: dict[str, Any], max_events: int, *, source: str | None = None,
                     replay_file: str | None = None) -> str:
    """The page of a replay record (as ``rmapwalk run`` saves it): rebuilds the execution first."""
    from rmapwalk.engine.replay import rebuild

    g = rebuild(prog, data, max_events)
    v = data.get("violation") or {}
    return render_html(g, data["model"], kind=str(v.get("kind") or "violation"), message=str(v.get("message") or ""),
                       thread=v.get("thread") if isinstance(v.get("thread"), str) else None,
                       where=v.get("where") if isinstance(v.get("where"), str) else None,
                       order=v.get("order"), source=source, replay_file=replay_file)
