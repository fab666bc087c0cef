"""rmapwalk: model checking for lockless kernel code.

Layers (imports point down only): ``engine`` (events, execution graphs, memory models,
explorers, replay) <- ``kernel`` (Linux primitives) <- ``kvm`` (the shadow-MMU model); front ends
(``litmus``, ``cli``, ``report``) on top.
"""

__version__ = "0.1.0"
