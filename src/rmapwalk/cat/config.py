"""herd ``.cfg`` files: which bell file, model and macros to use, and the variants to enable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import CatError, Pos
from .interp import CatModel, compile_files


@dataclass
class Config:
    model: CatModel  # bell (loaded first, its definitions in scope) + model
    macros: Path | None  # the `macros` file (.def), resolved relative to the cfg
    variants: frozenset[str]
    path: Path


def load_config(path: str | Path, *, variants: tuple[str, ...] = ()) -> Config:
    """Read ``macros``, ``bell``, ``model`` and ``variant`` lines; other (display) options are ignored."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise CatError(Pos(str(p), 0, 0), f"cannot read configuration: {e.strerror}") from None
    base = p.parent
    opts: dict[str, tuple[str, Pos]] = {}
    vs: set[str] = set(variants)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("//"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        pos = Pos(str(p), lineno, 1)
        if key in ("-macros", "macros", "-bell", "bell", "-model", "model", "-cat", "cat"):
            key = key.lstrip("-")
            opts["model" if key == "cat" else key] = (value, pos)
        elif key in ("variant", "-variant"):
            vs.update(v.strip() for v in value.replace(",", " ").split() if v.strip())
    if "model" not in opts:
        raise CatError(Pos(str(p), 1, 1), "configuration has no 'model' line")

    def resolve(name: str, pos: Pos) -> Path:
        q = base / name
        if not q.is_file():
            raise CatError(pos, f"file {name!r} not found next to the configuration")
        return q

    sources: list[tuple[str, str]] = []
    if "bell" in opts:
        b = resolve(*opts["bell"])
        sources.append((str(b), b.read_text()))
    m = resolve(*opts["model"])
    sources.append((str(m), m.read_text()))
    macros = base / opts["macros"][0] if "macros" in opts else None
    model = compile_files(sources, variants=vs, search=[base])
    return Config(model=model, macros=macros, variants=frozenset(vs), path=p)
