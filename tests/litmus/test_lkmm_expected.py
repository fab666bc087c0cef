"""Every test of the kernel's litmus suite prints exactly herd7's output (apart from Time and Hash)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmapwalk.litmus.herdout import herd_lines
from rmapwalk.litmus.runner import ModelSpec, run_test

LKMM = Path(__file__).resolve().parents[2].parent / "shared" / "lkmm"
CFG = LKMM / "model" / "linux-kernel.cfg"
TESTS = sorted((LKMM / "tests").glob("*.litmus")) if LKMM.is_dir() else []

pytestmark = pytest.mark.skipif(not CFG.is_file(), reason=f"the LKMM files are not at {LKMM} (../shared/lkmm)")


def expected_lines(path: Path) -> list[str]:
    text = Path(str(path) + ".expected").read_text()
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("Time ", "Hash="))]


@pytest.mark.parametrize("path", TESTS, ids=[p.name for p in TESTS])
def test_same_output_as_herd7(path: Path) -> None:
    res = run_test(str(path), ModelSpec(conf=str(CFG)))
    assert herd_lines(res, time_line=False) == expected_lines(path)
