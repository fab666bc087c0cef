"""Memory barriers (Linux ``Documentation/memory-barriers.txt``).

Under SC they do nothing; under x86-TSO only ``smp_mb`` (mfence) matters; under PSO ``smp_wmb``
orders stores against stores too.  ``barrier()`` constrains only the compiler.
"""

from __future__ import annotations

from rmapwalk.engine.ops import fence


def smp_mb() -> None:
    """Full barrier: every access before it is ordered before every access after it."""
    fence("mb", "smp_mb")


def smp_wmb() -> None:
    """Store barrier: stores before it become visible before stores after it."""
    fence("wmb", "smp_wmb")


def smp_rmb() -> None:
    """Load barrier: loads before it are performed before loads after it."""
    fence("rmb", "smp_rmb")


def barrier() -> None:
    """Compiler barrier only: no hardware ordering."""
    fence("compiler", "barrier")


def smp_mb__before_atomic() -> None:
    """Makes a following non-value-returning atomic fully ordered (a full barrier here)."""
    fence("mb", "smp_mb__before_atomic")


def smp_mb__after_atomic() -> None:
    """Makes a preceding non-value-returning atomic fully ordered (a full barrier here)."""
    fence("mb", "smp_mb__after_atomic")
