"""Reading cat files: :func:`parse` gives a file's :mod:`.syntax` tree, from the cache when the
same file (name and text) was parsed before, by any process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import Pos
from .syntax import (
    App,
    Bin,
    Bind,
    Binding,
    CallI,
    Const,
    EnumI,
    ExplSet,
    ForallI,
    Fun,
    IfVar,
    IfVarI,
    IncludeI,
    LetI,
    MatchSet,
    MatchTag,
    Model,
    NOp,
    NopI,
    Pat,
    ProcI,
    TagE,
    TestI,
    Try,
    TupleE,
    Un,
    Var,
    WithI,
)


def parse(text: str, file: str = "<string>") -> Model:
    """Parse the text of a cat (or bell) file; raise :class:`CatError` with the position of a syntax error.

    The tree of a file that parses is cached as JSON (:mod:`rmapwalk.cache`, keyed by ``file``,
    ``text`` and the parser's source), so a model's files are parsed once, not once per process;
    a cached tree equals the parsed one, and the lark grammar (:mod:`.grammar`) is only imported
    on a miss."""
    from rmapwalk import cache

    def build() -> Model:
        from .grammar import parse_text

        return parse_text(text, file)

    code = cache.code_digest(*(_HERE / m for m in ("grammar.py", "syntax.py", "errors.py", "reader.py")))
    return cache.cached("cat-syntax", cache.digest("cat-syntax", code, file, text), build, _codec())


_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _codec() -> Any:
    from rmapwalk.cache import Codec

    return Codec([Pos, Model, Const, TagE, Var, Un, NOp, Bin, TupleE, App, Pat, Fun, ExplSet, Binding, Bind,
                  MatchTag, MatchSet, Try, IfVar, LetI, TestI, NopI, IncludeI, ProcI, CallI, EnumI, WithI,
                  IfVarI, ForallI])
