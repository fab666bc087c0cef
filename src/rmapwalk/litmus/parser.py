"""The front end of herd7's C litmus format: text -> :class:`rmapwalk.litmus.ast.LitmusTest`.

A C litmus file has four parts, which are split apart first (as herd's splitter does) and then
parsed with one lark grammar each:

* the header: ``C NAME``, an optional ``"doc string"``, comments ``(* ... *)`` and
  ``key = value`` lines up to the ``{`` of the initial state;
* the initial state ``{ ... }``: declarations separated by ``;`` (``int x = 1``, ``x=1``,
  ``int *p = &y``, ``0:r1=x``, ``atomic_t z``, ``spinlock_t s``, ``int a[2]``);
* the threads ``P0(int *x, ...) { C code }``: here ``(*`` is C (as in ``(*p)``), so only
  ``//`` and ``/* */`` comments exist;
* the final clauses: ``locations [...]``, ``filter PROP``, ``exists``/``~exists``/``forall PROP``.

Every error is a :class:`LitmusError` whose text is one line ``FILE:LINE:COL: what is wrong``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmapwalk.litmus.ast import (
    And,
    Assign,
    Atom,
    Condition,
    Const,
    Decl,
    If,
    Implies,
    LitmusTest,
    Loc,
    LocEq,
    LocReg,
    Not,
    Or,
    Pos,
    Prop,
    Stmt,
    Thread,
    Var,
    While,
)
from rmapwalk.litmus.errors import LitmusError

__all__ = [
    "LitmusError", "check", "expr_parser_grammar", "parse_c_code", "parse_file", "parse_litmus", "parse_prop",
    "shared_names", "thread_registers",
]


# ------------------------------------------------------------------------------------ grammars
# (in :mod:`.grammar`, imported on first use: a cached test needs no lark)


def expr_parser_grammar() -> str:
    """The grammar of .def files (used by :mod:`rmapwalk.litmus.macros`)."""
    from rmapwalk.litmus.grammar import expr_parser_grammar as grammar

    return grammar()


def _run(which: str, text: str, file: str, what: str) -> Any:
    """Parse ``text`` (a whole file with everything outside the part blanked) with a grammar."""
    from rmapwalk.litmus.grammar import _run as run

    return run(which, text, file, what)


# ------------------------------------------------------------------------------------ splitting

#: a test named with the file's suffix (``C foo.litmus``) is the test ``foo``, as in herd7's output
LITMUS_SUFFIX = ".litmus"
_NAME_RE = re.compile(r"[ \t]*([A-Za-z0-9_]+)[ \t]+([A-Za-z0-9_/.+\-\[\]:=,]+)")
_RESULT_RE = re.compile(r"Result:\s*(Never|Sometimes|Always)")
_KEYWORDS_RE = re.compile(r"~[ \t]*exists\b|(?<![A-Za-z0-9_])(?:exists|forall|final|locations|filter)(?![A-Za-z0-9_])")


class _Text:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self._nl = [i for i, c in enumerate(text) if c == "\n"]

    def pos(self, offset: int) -> Pos:
        import bisect

        line = bisect.bisect_right(self._nl, offset - 1)
        start = self._nl[line - 1] + 1 if line > 0 else 0
        return Pos(self.file, line + 1, offset - start + 1)

    def part(self, start: int, end: int) -> str:
        """The text with everything outside [start, end) turned into blanks (lines kept)."""
        before = re.sub(r"[^\n]", " ", self.text[:start])
        return before + self.text[start:end]

    def skip_comment(self, i: int, opener: str) -> int:
        """``i`` is at the opener; return the offset just after the comment."""
        t = self.text
        if opener == "//":
            j = t.find("\n", i)
            return len(t) if j < 0 else j
        if opener == "/*":
            j = t.find("*/", i + 2)
            if j < 0:
                raise LitmusError("unterminated comment", self.pos(i))
            return j + 2
        depth = 0
        j = i
        while j < len(t):
            if t.startswith("(*", j):
                depth += 1
                j += 2
            elif t.startswith("*)", j):
                depth -= 1
                j += 2
                if depth == 0:
                    return j
            else:
                j += 1
        raise LitmusError("unterminated comment", self.pos(i))


@dataclass
class _Parts:
    name: str
    arch: str
    doc: str
    init: tuple[int, int]
    prog: tuple[int, int]
    cond: tuple[int, int]
    comments: list[str]


def _split(t: _Text) -> _Parts:
    text = t.text
    comments: list[str] = []
    i = 0
    n = len(text)
    # leading blank lines and comments
    while True:
        while i < n and text[i] in " \t\r\n\f":
            i += 1
        if text.startswith("(*", i) or text.startswith("/*", i) or text.startswith("//", i):
            opener = text[i : i + 2]
            j = t.skip_comment(i, opener)
            comments.append(text[i:j])
            i = j
            continue
        break
    if i >= n:
        raise LitmusError("empty file: expected 'C NAME'", t.pos(i))
    m = _NAME_RE.match(text, i)
    if not m:
        raise LitmusError("expected 'C NAME' on the first line", t.pos(i))
    arch, name = m.group(1), m.group(2)
    if name.endswith(LITMUS_SUFFIX) and name != LITMUS_SUFFIX:
        name = name.removesuffix(LITMUS_SUFFIX)  # herd7 names "C foo.litmus" foo
    if arch != "C":
        raise LitmusError(f"not a C litmus test: architecture '{arch}'", t.pos(m.start(1)))
    i = m.end()
    doc = ""
    # optional (texname) and "doc string"
    m2 = re.compile(r"[ \t]*\([A-Za-z0-9_/.\-]+\)").match(text, i)
    if m2:
        i = m2.end()
    m3 = re.compile(r"[ \t]*\r?\n?[ \t]*\"([^\"]*)\"").match(text, i)
    if m3:
        doc = m3.group(1)
        i = m3.end()
    # up to the '{' of the initial state: comments, key=value lines and, as herd7's splitter
    # reads it, any other text, skipped to the end of its line (a second 'C NAME' line, prose)
    while True:
        while i < n and text[i] in " \t\r\n\f;":
            i += 1
        if i >= n:
            raise LitmusError("missing the initial state '{ ... }'", t.pos(i))
        if text.startswith("(*", i) or text.startswith("/*", i) or text.startswith("//", i):
            opener = text[i : i + 2]
            j = t.skip_comment(i, opener)
            comments.append(text[i:j])
            i = j
            continue
        if text[i] == "{":
            break
        kv = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*=[^\n]*").match(text, i)
        if kv:
            i = kv.end()
            continue
        while i < n and text[i] not in "\n{":
            i += 1
    init_start = i + 1
    j = init_start
    while True:
        if j >= n:
            raise LitmusError("unterminated initial state: missing '}'", t.pos(i))
        if text.startswith("(*", j) or text.startswith("/*", j) or text.startswith("//", j):
            k = t.skip_comment(j, text[j : j + 2])
            comments.append(text[j:k])
            j = k
            continue
        if text[j] == "}":
            break
        if text[j] == "{":
            j = _skip_braces(t, j)
            continue
        j += 1
    init_end = j
    prog_start = j + 1
    # the threads: C code up to the first final-state keyword outside comments and braces
    k = prog_start
    depth = 0
    prog_end = n
    while k < n:
        c = text[k]
        if text.startswith("//", k) or text.startswith("/*", k):
            e = t.skip_comment(k, text[k : k + 2])
            comments.append(text[k:e])
            k = e
            continue
        if c == '"':
            e = text.find('"', k + 1)
            k = n if e < 0 else e + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0 and c in "~eflx(":
            km = _KEYWORDS_RE.match(text, k)
            if km and (k == 0 or not (text[k - 1].isalnum() or text[k - 1] == "_")):
                prog_end = k
                break
        if c.isalnum() or c == "_":
            while k < n and (text[k].isalnum() or text[k] == "_"):
                k += 1
            continue
        k += 1
    cond_start = prog_end
    for m4 in re.finditer(r"\(\*(.|\n)*?\*\)|//[^\n]*|/\*(.|\n)*?\*/", text[cond_start:]):
        comments.append(m4.group(0))
    return _Parts(name, arch, doc, (init_start, init_end), (prog_start, prog_end), (cond_start, n), comments)


def _skip_braces(t: _Text, i: int) -> int:
    depth = 0
    j = i
    while j < len(t.text):
        if t.text[j] == "{":
            depth += 1
        elif t.text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise LitmusError("unbalanced '{'", t.pos(i))


# -------------------------------------------------------------------------------- entry points


def parse_c_code(text: str, file: str) -> tuple[Thread, ...]:
    """The threads of a litmus test (just the C part)."""
    return tuple(_run("c", text, file, "the threads").children)


def parse_prop(text: str, file: str = "<prop>") -> Prop:
    """A proposition alone, e.g. ``0:r1=1 /\\ x=2`` (for tests and tools)."""
    res = _run("cond", "exists (" + text + ")", file, "the condition")
    cond = next(c for c in res.children if isinstance(c, Condition))
    return cond.prop


def parse_litmus(text: str, file: str) -> LitmusTest:
    """Read a C litmus test; ``file`` is only used in positions of nodes and errors."""
    t = _Text(text, file)
    parts = _split(t)
    init_tree = _run("init", t.part(*parts.init), file, "the initial state")
    init = tuple(i for i in init_tree.children if i is not None)
    threads_tree = _run("c", t.part(*parts.prog), file, "the threads")
    threads = list(threads_tree.children)
    cond_tree = _run("cond", t.part(*parts.cond), file, "the final condition")
    from rmapwalk.litmus.grammar import _Filter, _Locations

    locs_node = next((c for c in cond_tree.children if isinstance(c, _Locations)), None)
    filt_node = next((c for c in cond_tree.children if isinstance(c, _Filter)), None)
    cond_node = next((c for c in cond_tree.children if isinstance(c, Condition)), None)
    if not threads:
        raise LitmusError("no threads (expected 'P0(...) { ... }')", t.pos(parts.prog[1]))
    seen: dict[int, Thread] = {}
    for th in threads:
        if th.index in seen:
            raise LitmusError(f"thread P{th.index} defined twice", th.pos)
        seen[th.index] = th
    threads.sort(key=lambda th: th.index)
    for want, th in enumerate(threads):
        if th.index != want:
            raise LitmusError(f"threads must be numbered P0, P1, ...: P{want} is missing", th.pos)
    condition = cond_node if cond_node is not None else Condition("forall", Const(True), t.pos(parts.cond[0]))
    result = None
    for c in parts.comments:
        rm = _RESULT_RE.search(c)
        if rm:
            result = rm.group(1)
            break
    test = LitmusTest(
        name=parts.name,
        arch=parts.arch,
        init=init,
        threads=tuple(threads),
        condition=condition,
        locations=locs_node.locs if locs_node is not None else (),
        filter=filt_node.prop if filt_node is not None else None,
        doc=parts.doc,
        result=result,
        file=file,
    )
    check(test)
    return test


def read_source(path: str | Path) -> str:
    """The text of a litmus or macro file; an unreadable file is a one-line :class:`LitmusError`."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise LitmusError(f"cannot read {p}: {e.strerror or e}") from None


def parse_file(path: str | Path) -> LitmusTest:
    """Read the litmus test in ``path``.

    The test is cached as JSON (:mod:`rmapwalk.cache`, keyed by the path, the text and the parser's source), so a file
    read again by another process is not parsed again; a cached test equals the parsed one, and
    a file that does not parse is never cached (each read reports its error)."""
    from rmapwalk import cache
    from rmapwalk.litmus.ast import codec

    text = read_source(path)
    file = str(path)
    here = Path(__file__).resolve().parent
    code = cache.code_digest(*(here / m for m in ("parser.py", "grammar.py", "ast.py", "errors.py")))
    return cache.cached("litmus-test", cache.digest("litmus-test", code, file, text),
                        lambda: parse_litmus(text, file), codec())


# ------------------------------------------------------------------------------------- checks


def shared_names(test: LitmusTest) -> set[str]:
    """The shared variables of a test: declared in the initial state or thread parameters."""
    names = {i.target for i in test.init if i.thread is None}
    # herd accepts an address in the initial state of a variable declared nowhere else (p=y)
    names.update(i.value.name for i in test.init if isinstance(i.value, Var))
    for th in test.threads:
        names.update(p.name for p in th.params)
    return names


def thread_registers(th: Thread) -> set[str]:
    """Registers a thread declares or assigns (its parameters excluded)."""
    regs: set[str] = set()

    def walk(body: tuple[Stmt, ...]) -> None:
        for s in body:
            if isinstance(s, Decl):
                regs.add(s.name)
            elif isinstance(s, Assign):
                regs.add(s.reg)
            elif isinstance(s, If):
                walk(s.then)
                walk(s.orelse)
            elif isinstance(s, While):
                walk(s.body)

    walk(th.body)
    return regs


def _prop_locs(p: Prop | None) -> list[tuple[Loc, Pos | None]]:
    if p is None:
        return []
    if isinstance(p, Atom):
        return [(p.loc, p.pos)]
    if isinstance(p, LocEq):
        return [(p.left, p.pos), (p.right, p.pos)]
    if isinstance(p, Not):
        return _prop_locs(p.prop)
    if isinstance(p, And | Or):
        return [x for q in p.props for x in _prop_locs(q)]
    if isinstance(p, Implies):
        return _prop_locs(p.left) + _prop_locs(p.right)
    return []


def _prop_symbols(p: Prop | None) -> list[tuple[str, Pos | None]]:
    if p is None:
        return []
    if isinstance(p, Atom):
        return [(p.value, p.pos)] if isinstance(p.value, str) else []
    if isinstance(p, Not):
        return _prop_symbols(p.prop)
    if isinstance(p, And | Or):
        return [x for q in p.props for x in _prop_symbols(q)]
    if isinstance(p, Implies):
        return _prop_symbols(p.left) + _prop_symbols(p.right)
    return []


def check(test: LitmusTest) -> None:
    """Names used by the initial state and the final clauses must exist."""
    shared = shared_names(test)
    nthreads = len(test.threads)
    regs = [thread_registers(th) | {p.name for p in th.params} for th in test.threads]
    for item in test.init:
        if item.thread is not None and item.thread >= nthreads:
            raise LitmusError(f"initial value of {item.thread}:{item.target}: there is no thread P{item.thread}",
                              item.pos)
        if isinstance(item.value, Var) and item.value.name not in shared:
            raise LitmusError(f"unknown location '{item.value.name}'", item.value.pos or item.pos)
    cond_pos = test.condition.pos
    locs = [(loc, cond_pos, True) for loc in test.locations]
    locs += [(loc, where, False) for loc, where in _prop_locs(test.condition.prop) + _prop_locs(test.filter)]
    for loc, where, listed in locs:
        if isinstance(loc, LocReg):
            if loc.thread >= nthreads:
                raise LitmusError(f"unknown register {loc}: there is no thread P{loc.thread}", where)
            # herd shows a register the thread never sets (as 0) when ``locations`` asks for it
            if loc.reg not in regs[loc.thread] and not listed:
                raise LitmusError(f"unknown register {loc}", where)
        elif loc.name not in shared:
            raise LitmusError(f"unknown location '{loc.name}'", where)
    for sym, where in _prop_symbols(test.condition.prop) + _prop_symbols(test.filter):
        if sym not in shared:
            raise LitmusError(f"unknown location '{sym}' (as a value)", where)
