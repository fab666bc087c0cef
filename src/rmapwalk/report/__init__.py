"""Formatting results for people (:mod:`.text`) and for programs (:mod:`.jsonout`)."""

from rmapwalk.report.jsonout import dumps, replay_json, run_json
from rmapwalk.report.text import outcome_table, run_text, violation_block

__all__ = ["dumps", "outcome_table", "replay_json", "run_json", "run_text", "violation_block"]
