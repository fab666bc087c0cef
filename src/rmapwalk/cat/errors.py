"""The one exception of the cat package."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    """A place in a model file (line and column are 1-based)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Pos("<rmapwalk>", 0, 0)


class CatError(Exception):
    """A malformed model or a failure while running one.

    ``str(e)`` is a single line ``FILE:LINE:COL: message``.
    """

    def __init__(self, pos: Pos, message: str) -> None:
        self.pos = pos
        self.message = " ".join(message.split())
        super().__init__(f"{pos}: {self.message}")
