"""The exception of the litmus front end."""

from __future__ import annotations

from rmapwalk.litmus.ast import Pos


class LitmusError(Exception):
    """A litmus test that cannot be read (or run): ``str()`` is ``FILE:LINE:COL: message``."""

    def __init__(self, message: str, pos: Pos | None = None) -> None:
        message = " ".join(str(message).split())
        self.message = message
        self.pos = pos
        super().__init__(f"{pos}: {message}" if pos is not None else message)
