"""Helpers shared by the KVM tests."""

from __future__ import annotations

from typing import Any


def node_labels(g: Any) -> list[str]:
    """The labels of an execution graph's operations, thread by thread in program order (the two
    halves of an RMW count once)."""
    out: list[str] = []
    for th in g.threads:
        last = None
        for e in th:
            if e.node is not None and e.node is not last:
                out.append(e.node.label)
            last = e.node
    return out
