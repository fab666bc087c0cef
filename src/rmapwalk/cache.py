"""A cache of derived data (parsed cat models, parser tables), stored as JSON files in a user cache
directory so that each ``rmapwalk`` process need not derive them again.

Where: ``$RMAPWALK_CACHE_DIR`` if set (an empty value turns the cache off), else
``$XDG_CACHE_HOME/rmapwalk``, else ``~/.cache/rmapwalk``.

Guarantees:

- Entries are data, never code: one JSON header line (format, kind, key, SHA-256 of the value's
  bytes) and one JSON line with the value.  Nothing is unpickled or evaluated.
- An entry is keyed by a digest of everything it is derived from (the source texts, the versions of
  rmapwalk and of the cache format, and whatever else the caller passes), so an edited file is a
  new key and a stale entry is never used.
- A missing, unreadable, truncated or otherwise corrupted entry (bad JSON, a wrong header, a
  checksum mismatch, or a value its decoder rejects) is ignored: :func:`cached` derives the value
  again and overwrites the entry.  A cache directory that cannot be written only costs the time
  to derive the value each run; the cache never makes a command fail.
- Writes are atomic (a temporary file renamed into place), so concurrent processes see either no
  entry or a whole one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from rmapwalk import __version__

#: the environment variable that overrides the cache directory ("" turns the cache off)
ENV = "RMAPWALK_CACHE_DIR"
#: bumped when the layout of entries or of an encoded value changes
FORMAT = 1

T = TypeVar("T")


def cache_dir() -> Path | None:
    """The cache directory (not necessarily existing yet), or None when the cache is off."""
    env = os.environ.get(ENV)
    if env is not None:
        return Path(env) if env else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "rmapwalk"


def digest(*parts: str) -> str:
    """A key for data derived from ``parts`` (and this rmapwalk version and cache format)."""
    h = hashlib.sha256(f"rmapwalk {__version__} cache {FORMAT}".encode())
    for p in parts:
        b = p.encode("utf-8", "surrogatepass")
        h.update(b"\0%d\0" % len(b))
        h.update(b)
    return h.hexdigest()


_SOURCES: dict[tuple[str, ...], str] = {}


def code_digest(*files: str | Path) -> str:
    """A digest of the source files of the code that derives a cached value (its parser, its
    syntax-tree classes), to put in the value's key: after an edit of that code, entries made by
    the old code are not used.  Computed once per process."""
    names = tuple(str(f) for f in files)
    d = _SOURCES.get(names)
    if d is None:
        h = hashlib.sha256()
        for f in names:
            try:
                h.update(Path(f).read_bytes())
            except OSError:
                h.update(f"missing {f}".encode())
        d = _SOURCES[names] = h.hexdigest()
    return d


def _path(kind: str, key: str) -> Path | None:
    d = cache_dir()
    return None if d is None else d / f"{kind}-{key[:40]}.json"


def load_bytes(kind: str, key: str) -> bytes | None:
    """The value's JSON text stored under ``(kind, key)``, or None when there is no valid entry."""
    path = _path(kind, key)
    if path is None:
        return None
    try:
        raw = path.read_bytes()
        head, _, body = raw.partition(b"\n")
        meta = json.loads(head)
    except (OSError, ValueError):
        return None
    if (not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("kind") != kind
            or meta.get("key") != key or meta.get("sha256") != hashlib.sha256(body).hexdigest()):
        return None
    return body


def load(kind: str, key: str) -> Any:
    """The JSON value stored under ``(kind, key)``, or None when there is no valid entry."""
    body = load_bytes(kind, key)
    try:
        return None if body is None else json.loads(body)
    except ValueError:
        return None


def store(kind: str, key: str, value: Any) -> None:
    """Store a JSON value under ``(kind, key)`` (atomically); failures to write are ignored."""
    path = _path(kind, key)
    if path is None:
        return
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    meta = {"format": FORMAT, "kind": kind, "key": key, "sha256": hashlib.sha256(body).hexdigest()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(meta).encode() + b"\n" + body)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass


def cached(kind: str, key: str, build: Callable[[], T], codec: Codec) -> T:
    """The value stored under ``(kind, key)`` (decoded with ``codec``) if there is a valid entry;
    else ``build()``, stored (encoded with ``codec``).  An entry the codec rejects (any
    exception) is derived again; so is a value the codec cannot encode (then nothing is stored)."""
    body = load_bytes(kind, key)
    if body is not None:
        try:
            value: T = codec.loads(body)
            return value
        except Exception:  # a corrupted entry: derive the value again
            pass
    value = build()
    try:
        data = codec.encode(value)
    except Exception:  # not encodable: the value is still good, only not cached
        return value
    store(kind, key, data)
    return value


# -- values as JSON: tuples, dicts with any keys, frozensets and dataclasses of known classes ------
class Codec:
    """Encodes values built of None, bool, int, float, str, list, tuple, dict, frozenset and
    instances of the given dataclasses as JSON values, and decodes them back to equal values.

    A dict whose keys are strings not starting with ``$`` stays a JSON object; every other
    non-list value is a JSON object with one ``$``-key (``$t`` tuple, ``$m`` dict as pairs,
    ``$s`` frozenset, ``$c`` dataclass name and fields), so any dict round-trips and decoding is
    one ``json`` object hook."""

    def __init__(self, classes: Iterable[type]) -> None:
        self.classes: dict[str, type] = {}
        for c in classes:
            assert dataclasses.is_dataclass(c), c
            self.classes[c.__name__] = c
        self._fields = {n: tuple(f.name for f in dataclasses.fields(c) if f.init) for n, c in self.classes.items()}

    def encode(self, x: Any) -> Any:
        """``x`` as a JSON value (:class:`TypeError` for a value of another type)."""
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.encode(v) for v in x]
        if isinstance(x, tuple):
            return {"$t": [self.encode(v) for v in x]}
        if isinstance(x, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in x):
                return {k: self.encode(v) for k, v in x.items()}
            return {"$m": [[self.encode(k), self.encode(v)] for k, v in x.items()]}
        if isinstance(x, frozenset):
            return {"$s": [self.encode(v) for v in x]}
        name = type(x).__name__
        if self.classes.get(name) is type(x):
            return {"$c": [name, [self.encode(getattr(x, f)) for f in self._fields[name]]]}
        raise TypeError(f"cannot encode a {name}")

    def _hook(self, d: dict[str, Any]) -> Any:
        if len(d) != 1:
            return d
        ((tag, v),) = d.items()
        if tag == "$t":
            return tuple(v)
        if tag == "$m":
            return {_hashable(k): a for k, a in v}
        if tag == "$s":
            return frozenset(v)
        if tag == "$c":
            return self.classes[v[0]](*v[1])
        if tag.startswith("$"):
            raise ValueError(f"unknown tag {tag!r}")
        return d

    def decode(self, data: Any) -> Any:
        """The value :meth:`encode` gave ``data`` for (an exception if ``data`` is not such)."""
        return json.loads(json.dumps(data), object_hook=self._hook)

    def loads(self, text: str | bytes) -> Any:
        """:meth:`decode` of the JSON text ``text``, in one pass."""
        return json.loads(text, object_hook=self._hook)


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


class _LarkCodec(Codec):
    """A lark LALR parser as its serialized tables (lark's ``memo_serialize``, plain data).  The
    parse table, most of the data, is stored as flat lists (``[state, [token, action, arg, ...]]``)
    rather than tagged tuples, so that loading it is quick."""

    def encode(self, x: Any) -> Any:
        from lark.grammar import Rule
        from lark.lexer import TerminalDef

        data, memo = x.memo_serialize([TerminalDef, Rule])
        table = data["parser"]["parser"]
        states = table["states"]
        flat = [[st, [v for tok, (action, arg) in acts.items() for v in (tok, action, arg)]]
                for st, acts in states.items()]
        data["parser"]["parser"] = {**table, "states": None}
        return {"lark": Codec(()).encode({"data": data, "memo": memo}), "states": flat}

    def loads(self, text: str | bytes) -> Any:
        import lark

        raw = json.loads(text)
        obj = Codec(()).decode(raw["lark"])
        obj["data"]["parser"]["parser"]["states"] = {
            st: {f[i]: (f[i + 1], f[i + 2]) for i in range(0, len(f), 3)} for st, f in raw["states"]}
        return lark.Lark._load_from_dict(obj["data"], obj["memo"])


def lark_parser(grammar: str, **options: Any) -> Any:
    """``lark.Lark(grammar, parser="lalr", **options)``, its tables cached as JSON (keyed by the
    grammar, the options and lark's version): the LALR analysis runs once per grammar, not once
    per process.  The parser returned parses exactly as a freshly built one."""
    import lark

    key = digest("lark", lark.__version__, grammar, repr(sorted(options.items())))
    return cached("lark", key, lambda: lark.Lark(grammar, parser="lalr", **options), _LarkCodec(()))
