"""The --html page of a violation: structure (html.parser) and, where Chromium is installed, a
headless render with a DOM dump and a screenshot kept as a test artefact."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from rmapwalk.engine import Program, explore, observe
from rmapwalk.engine.replay import rebuild
from rmapwalk.kernel import READ_ONCE, WRITE_ONCE, smp_rmb
from rmapwalk.kernel.rcu import call_rcu, init_rcu, rcu_dereference
from rmapwalk.kernel.slab import kmem_cache_create, kmem_cache_free
from rmapwalk.report.html import MAX_INIT_ARROWS, html_from_replay, layout, render_html


# -- models --------------------------------------------------------------------------------------------
def sb() -> Program:
    p = Program("SB")
    x, y = p.var("x"), p.var("y")

    @p.thread
    def P0() -> None:
        WRITE_ONCE(x, 1)
        observe("r0", READ_ONCE(y))

    @p.thread
    def P1() -> None:
        WRITE_ONCE(y, 1)
        observe("r1", READ_ONCE(x))

    p.forbid(lambda f: f["P0:r0"] == 0 and f["P1:r1"] == 0, "both loads missed the other store")
    return p


def mp() -> Program:
    """Message passing without smp_wmb: under PSO the reader sees the flag and stale data."""
    p = Program("MP")
    data, flag = p.var("data"), p.var("flag")

    @p.thread
    def writer() -> None:
        WRITE_ONCE(data, 42)
        WRITE_ONCE(flag, 1)

    @p.thread
    def reader() -> None:
        r0 = READ_ONCE(flag)
        smp_rmb()
        r1 = READ_ONCE(data)
        observe("r0", r0)
        observe("r1", r1)

    p.forbid(lambda f: f["reader:r0"] == 1 and f["reader:r1"] != 42, "stale data")
    return p


def rcu_uaf() -> Program:
    """A reader outside any read-side critical section, and an object freed by an RCU callback."""
    p = Program("rcu-uaf")
    cache = kmem_cache_create(p, "foo", ["a"], capacity=2)
    (obj,) = cache.preallocate(p, 1)
    p.init[obj] = 1
    gp = p.var("gp", obj)

    @p.thread
    def reader() -> None:
        q = rcu_dereference(gp)
        if q:
            READ_ONCE(cache.f(q, "a"))

    @p.thread
    def updater() -> None:
        old = READ_ONCE(gp)
        WRITE_ONCE(gp, 0)
        call_rcu(old, lambda o: kmem_cache_free(cache, o))

    init_rcu(p, callbacks=1)
    return p


def many_inits(n: int) -> Program:
    p = Program("many")
    locs = [p.var(f"v{i}") for i in range(n)]

    @p.thread
    def T() -> None:
        total = 0
        for loc in locs:
            total += READ_ONCE(loc)
        assert total == 1, "sum is not 1"

    return p


def page_of(prog: Program, model: str, **kw: Any) -> str:
    res = explore(prog, model)
    assert res.verdict == "violated"
    return html_from_replay(prog, res.violations[0].replay, 1000, **kw)


# -- a small structural parser ---------------------------------------------------------------------------
class Page(HTMLParser):
    """Collects tags with their attributes and the text inside each element with an id or class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stack: list[tuple[str, dict[str, str], list[str]]] = []
        self.texts: list[tuple[str, dict[str, str], str]] = []
        self.open_count = 0
        self.close_count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag not in ("meta", "br", "img", "input", "link"):
            self.stack.append((tag, a, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> without an open tag"
        t, a, parts = self.stack.pop()
        assert t == tag, f"</{tag}> closes <{t}>"
        text = "".join(parts)
        self.texts.append((t, a, text))
        if self.stack:
            self.stack[-1][2].append(text)

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1][2].append(data)

    def with_class(self, cls: str, tag: str | None = None) -> list[tuple[str, dict[str, str], str]]:
        return [x for x in self.texts if cls in x[1].get("class", "").split() and (tag is None or x[0] == tag)]


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    assert not p.stack, f"unclosed tags: {[t for t, _, _ in p.stack]}"
    return p


# -- tests --------------------------------------------------------------------------------------------------
def test_sb_page_structure() -> None:
    page = page_of(sb(), "tso", source="sb.py", replay_file="rp/SB-tso-1.json")
    assert page.startswith("<!DOCTYPE html>")
    doc = parse(page)
    # the violated property at the top, before the trace
    prop = doc.with_class("property")
    assert len(prop) == 1 and prop[0][2] == "both loads missed the other store"
    assert prop[0][1]["data-property"] == "both loads missed the other store"
    assert page.index('class="property"') < page.index('class="trace"')
    assert "final state {P0:r0=0, P1:r1=0, x=1, y=1}" in page
    # one column per thread, plus P0's store buffer and the initial values
    heads = [t for _, _, t in doc.with_class("col-head")]
    assert heads == ["initial values", "P0", "P0 store buffer", "P1", "P1 store buffer"] or \
        heads == ["initial values", "P0", "P0 store buffer", "P1"]
    # events in execution order: step numbers 1..n, the same as the text trace
    events = doc.with_class("event")
    steps = [a["data-step"] for _, a, _ in events if a["data-step"] not in ("init", "end")]
    assert steps == [str(i) for i in range(1, len(steps) + 1)] and len(steps) == 7
    assert sum(1 for _, a, _ in events if a["data-step"] == "end") == 2
    # each event with its value and source line
    texts = {a["id"]: t for _, a, t in events}
    assert any("READ_ONCE(y) = 0" in t and "test_html_report.py:" in t for t in texts.values())
    assert any("flush x = 1" in t for t in texts.values())
    srcs = [t for _, _, t in doc.with_class("src")]
    assert srcs and all(re.fullmatch(r"[\w.]+\.py:\d+", s) for s in srcs)
    # arrows: both reads take an initial value; the store buffer drains once
    paths = [a for tag, a in doc.tags if tag == "path" and "data-from" in a]
    rf = [a for a in paths if a["class"].split()[0] == "rf"]
    assert len(rf) == 2 and all(a["data-from"].startswith("init-") for a in rf)
    assert all(a["data-to"] in texts and "READ_ONCE" in texts[a["data-to"]] for a in rf)
    sb_arrows = [a for a in paths if a["class"] == "sb"]
    assert len(sb_arrows) == 1 and "store buffer" in texts[sb_arrows[0]["data-from"]]
    assert "flush" in texts[sb_arrows[0]["data-to"]]
    for a in paths:
        assert re.fullmatch(r"M[-\d.]+,[-\d.]+ C[-\d., ]+", a["d"])
    assert "rmapwalk replay rp/SB-tso-1.json" in page


def test_page_is_self_contained() -> None:
    page = page_of(sb(), "tso")
    doc = parse(page)
    assert not [t for t, _ in doc.tags if t in ("script", "link", "img", "iframe", "object")]
    for _, a in doc.tags:
        for k in ("src", "href"):
            assert k not in a, a
    # the only URL is the SVG namespace
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]
    assert "<style>" in page and "<svg" in page


def test_rf_arrows_between_threads_and_store_buffers() -> None:
    page = page_of(mp(), "pso")
    doc = parse(page)
    events = {a["id"]: (a, t) for _, a, t in doc.with_class("event")}
    heads = [t for _, _, t in doc.with_class("col-head")]
    assert "writer store buffer" in heads and "reader" in heads
    rf = [a for tag, a in doc.tags if tag == "path" and a.get("class") == "rf"]
    # the reader takes flag = 1 from the writer (where the write becomes visible)
    assert len(rf) == 1
    src, dst = events[rf[0]["data-from"]], events[rf[0]["data-to"]]
    assert src[0]["data-thread"] == "writer" and re.search(r"flag(, | = )1", src[1])
    assert dst[0]["data-thread"] == "reader" and "READ_ONCE(flag) = 1" in dst[1]
    # ... and the stale data from the initial value
    init_rf = [a for tag, a in doc.tags if tag == "path" and a.get("class") == "rf init"]
    assert len(init_rf) == 1 and "READ_ONCE(data) = 0" in events[init_rf[0]["data-to"]][1]


def test_rcu_callback_thread_has_its_own_column() -> None:
    prog = rcu_uaf()
    res = explore(prog, "sc")
    assert res.verdict == "violated"
    v = res.violations[0]
    page = html_from_replay(prog, v.replay, 1000)
    doc = parse(page)
    heads = {a["class"]: t for _, a, t in doc.with_class("col-head")}
    assert heads.get("col-head rcu") == "rcu_callbacks"
    assert any(a["data-thread"] == "rcu_callbacks" for _, a, _ in doc.with_class("event"))
    assert doc.with_class("property")[0][2].startswith(v.kind)


def test_failed_assertion_is_marked_and_many_initial_values_are_listed() -> None:
    prog = many_inits(MAX_INIT_ARROWS + 1)
    page = page_of(prog, "sc")
    doc = parse(page)
    failed = doc.with_class("failed")
    assert len(failed) == 1 and "ASSERTION FAILED" in failed[0][2] and "sum is not 1" in failed[0][2]
    assert doc.with_class("property")[0][2].startswith("assertion")
    # too many reads of initial values to draw: no init column, a list instead
    assert "initial values" not in [t for _, _, t in doc.with_class("col-head")]
    listed = doc.with_class("init-values")
    assert len(listed) == 1 and "v0 = 0" in listed[0][2] and f"v{MAX_INIT_ARROWS} = 0" in listed[0][2]
    assert not [a for t, a in doc.tags if t == "path" and "data-from" in a and "rf" in a["class"]]


def test_text_is_escaped() -> None:
    p = Program("<b>evil</b> & co")
    x = p.var("x")

    @p.thread
    def T() -> None:
        assert READ_ONCE(x) == 1, "<script>alert(1)</script>"

    page = page_of(p, "sc")
    assert "<script>" not in page and "<b>evil" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;evil&lt;/b&gt; &amp; co" in page
    parse(page)


def test_layout_matches_the_text_trace_rows() -> None:
    from rmapwalk.engine.trace import render

    prog = mp()
    res = explore(prog, "pso")
    g = rebuild(prog, res.violations[0].replay)
    lay = layout(g, "pso")
    rows = [ln for ln in render(g, "pso").splitlines()[2:] if not ln.startswith("end")]
    assert lay.steps == len(rows)
    by_row = {b.row: b for b in lay.boxes if 1 <= b.row <= lay.steps}
    for i, line in enumerate(rows, 1):
        cells = [c.strip() for c in line.split("|")[1:]]
        text = next(c for c in cells if c)
        assert text.startswith(by_row[i].text), (i, text, by_row[i].text)
    # render_html accepts the graph directly too
    assert "stale data" in render_html(g, "pso", kind="stale data")


# -- headless Chromium -------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})


def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no headless Chromium: install the Debian package `chromium` (apt-get install -y chromium)")
    page = tmp_path / "sb.html"
    page.write_text(page_of(mp(), "pso", source="mp.py"), encoding="utf-8")
    url = page.resolve().as_uri()
    shot = tmp_path / "sb.png"
    res = _headless(browser, f"--screenshot={shot}", "--window-size=1280,900", url)
    assert shot.is_file() and shot.stat().st_size > 1000, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = _headless(browser, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = parse(dom.stdout.replace("<!DOCTYPE html>", ""))
    assert doc.with_class("property")[0][2] == "stale data"
    heads = [t for _, _, t in doc.with_class("col-head")]
    assert "writer" in heads and "reader" in heads and "writer store buffer" in heads
    assert len([a for t, a in doc.tags if t == "path" and "data-from" in a]) >= 2
    assert any("READ_ONCE(flag) = 1" in t for _, _, t in doc.with_class("event"))
    print(f"screenshot: {shot}")
