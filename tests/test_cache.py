"""The derived-data cache: values round-trip as JSON, an entry is used when valid, and a missing,
corrupted or unwritable entry only costs deriving the value again (never a failure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rmapwalk import cache

ROOT = Path(__file__).resolve().parents[1]
LKMM = ROOT.parent / "shared" / "lkmm"


@dataclass(frozen=True)
class Leaf:
    name: str
    where: tuple[int, int] | None = None


@dataclass
class Node:
    kids: list[Leaf]
    index: dict[int, str]


CODEC = cache.Codec([Leaf, Node])


@pytest.fixture
def cdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(d))
    return d


def test_codec_round_trips_values_json_cannot_hold() -> None:
    values = [
        None, True, 3, 2.5, "s", [1, (2, 3)], (), {"a": 1}, {1: "x", (2, 3): [4]}, {"$t": 1}, frozenset({1, 2}),
        Node([Leaf("a"), Leaf("b", (1, 2))], {7: "seven"}), [{"$": (1,)}],
    ]
    for v in values:
        text = json.dumps(CODEC.encode(v))
        assert CODEC.loads(text) == v
        assert CODEC.decode(json.loads(text)) == v


def test_codec_rejects_unknown_classes_and_tags() -> None:
    with pytest.raises(TypeError):
        CODEC.encode(object())
    with pytest.raises(ValueError):
        CODEC.loads('{"$q": 1}')
    with pytest.raises(KeyError):
        CODEC.loads('{"$c": ["Nope", []]}')


def test_cached_builds_once_then_reads(cdir: Path) -> None:
    built: list[int] = []

    def build() -> Node:
        built.append(1)
        return Node([Leaf("x", (1, 1))], {1: "one"})

    key = cache.digest("test", "source text")
    first = cache.cached("test", key, build, CODEC)
    second = cache.cached("test", key, build, CODEC)
    assert first == second and len(built) == 1
    assert cache.digest("test", "other text") != key
    (entry,) = cdir.iterdir()
    head = json.loads(entry.read_bytes().partition(b"\n")[0])
    assert head["kind"] == "test" and head["key"] == key


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty", "bad-value", "directory"])
def test_a_corrupted_entry_is_rebuilt(cdir: Path, damage: str) -> None:
    built: list[int] = []

    def build() -> Node:
        built.append(1)
        return Node([Leaf("x")], {2: "two"})

    key = cache.digest("test", damage)
    cache.cached("test", key, build, CODEC)
    (entry,) = cdir.iterdir()
    raw = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"\x00\xff not json")
    elif damage == "flip":
        entry.write_bytes(raw[:-3] + (b"9" if raw[-3:-2] != b"9" else b"8") + raw[-2:])
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "bad-value":  # a well-formed entry whose value the codec rejects
        body = b'{"$c": ["Missing", []]}'
        head = {"format": cache.FORMAT, "kind": "test", "key": key,
                "sha256": __import__("hashlib").sha256(body).hexdigest()}
        entry.write_bytes(json.dumps(head).encode() + b"\n" + body)
    else:
        entry.unlink()
        entry.mkdir()
    value = cache.cached("test", key, build, CODEC)
    assert value == Node([Leaf("x")], {2: "two"}) and len(built) == 2
    if damage != "directory":  # the rebuilt value was stored again, whole
        assert cache.cached("test", key, build, CODEC) == value and len(built) == 2


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(cache.ENV, str(blocker / "cache"))
    built: list[int] = []
    for _ in range(2):
        assert cache.cached("test", "k", lambda: built.append(1) or (1, 2), CODEC) == (1, 2)
    assert len(built) == 2


def test_where_the_cache_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.ENV, "")
    assert cache.cache_dir() is None
    cache.store("test", "k", 1)
    assert cache.load("test", "k") is None
    monkeypatch.delenv(cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "rmapwalk"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "rmapwalk"


def test_an_edit_of_the_code_changes_the_key(tmp_path: Path) -> None:
    src = tmp_path / "parser.py"
    src.write_text("v = 1\n")
    before = cache.code_digest(src)
    cache._SOURCES.clear()
    src.write_text("v = 2\n")
    assert cache.code_digest(src) != before


def test_a_cached_lark_parser_parses_as_a_fresh_one(cdir: Path) -> None:
    import lark

    grammar = 'start: item+\nitem: NAME "=" INT ";"\n%import common.CNAME -> NAME\n%import common.INT\n' \
              '%import common.WS\n%ignore WS\n'
    text = "a = 1; b = 22;"
    fresh = lark.Lark(grammar, parser="lalr", propagate_positions=True).parse(text)
    built = cache.lark_parser(grammar, propagate_positions=True)
    assert any(p.name.startswith("lark-") for p in cdir.iterdir())
    loaded = cache.lark_parser(grammar, propagate_positions=True)
    assert built.parse(text) == fresh == loaded.parse(text)


def test_parsed_cat_files_and_litmus_tests_come_back_equal(cdir: Path) -> None:
    from rmapwalk.cat.grammar import parse_text
    from rmapwalk.cat.reader import _codec, parse
    from rmapwalk.litmus.ast import codec
    from rmapwalk.litmus.parser import parse_file, parse_litmus

    text = 'LKMM\nlet r = po ; rf | co\nacyclic r as cyc\nlet rec f = g | f and g = po\n'
    a, b, c = parse_text(text, "m.cat"), parse(text, "m.cat"), parse(text, "m.cat")
    assert _codec().encode(a) == _codec().encode(b) == _codec().encode(c)
    test = cdir.parent / "t.litmus"
    test.write_text('C t\n{ x=1; }\nP0(int *x) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); }\n'
                    'exists (0:r0=1 /\\ x=2)\n')
    fresh = parse_litmus(test.read_text(), str(test))
    once, twice = parse_file(test), parse_file(test)
    assert fresh == once == twice and repr(fresh) == repr(twice)
    assert codec().encode(fresh) == codec().encode(twice)


@pytest.mark.skipif(not (LKMM / "model" / "linux-kernel.cfg").is_file(), reason="no LKMM files in ../shared/lkmm")
def test_litmus_output_is_the_same_cold_warm_and_with_every_entry_corrupted(tmp_path: Path) -> None:
    """The whole command: a cold cache, a warm one and one whose every entry is damaged give the
    same herd output and exit status."""
    tests = sorted((LKMM / "tests").glob("*.litmus"))[:3]
    env = {**os.environ, cache.ENV: str(tmp_path / "c")}
    cmd = [sys.executable, "-m", "rmapwalk.cli", "litmus", "--no-time", "--conf",
           str(LKMM / "model" / "linux-kernel.cfg"), *map(str, tests)]
    runs = []
    for step in ("cold", "warm", "corrupt"):
        if step == "corrupt":
            entries = list((tmp_path / "c").iterdir())
            assert entries
            for e in entries:
                e.write_bytes(e.read_bytes()[:-7] + b"garbage")
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        runs.append((res.returncode, res.stdout, res.stderr))
    assert runs[0][0] == 0 and runs[0][2] == ""
    assert runs[0] == runs[1] == runs[2]
