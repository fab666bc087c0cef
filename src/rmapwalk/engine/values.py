"""Values of shared locations as JSON data and back (checkpoints, replay records): ints, bools,
strings, floats, ``Loc`` addresses, and tuples, lists, frozensets and dicts of them."""

from __future__ import annotations

import math
from typing import Any

from rmapwalk.engine.program import Loc


def encode_value(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, Loc):
        return {"loc": [int(v), v.name]}
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        if math.isfinite(v):
            return v
        return {"float": repr(v)}
    if isinstance(v, tuple):
        return {"tuple": [encode_value(x) for x in v]}
    if isinstance(v, list):
        return {"list": [encode_value(x) for x in v]}
    if isinstance(v, frozenset):
        return {"frozenset": sorted((encode_value(x) for x in v), key=repr)}
    if isinstance(v, dict):
        return {"dict": [[encode_value(k), encode_value(x)] for k, x in v.items()]}
    raise ValueError(f"cannot save a value of type {type(v).__name__}: {v!r}")


def decode_value(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str, int, float)):
        return v
    if isinstance(v, dict) and len(v) == 1:
        (tag, x), = v.items()
        if tag == "loc" and isinstance(x, list) and len(x) == 2 and isinstance(x[0], int) and isinstance(x[1], str):
            return Loc(x[0], x[1])
        if tag == "float" and x in ("nan", "inf", "-inf"):
            return float(x)
        if tag in ("tuple", "list", "frozenset") and isinstance(x, list):
            items = [decode_value(y) for y in x]
            return tuple(items) if tag == "tuple" else items if tag == "list" else frozenset(items)
        if tag == "dict" and isinstance(x, list) and all(isinstance(p, list) and len(p) == 2 for p in x):
            return {decode_value(k): decode_value(y) for k, y in x}
    raise ValueError(f"bad value {v!r}")


__all__ = ["decode_value", "encode_value"]
