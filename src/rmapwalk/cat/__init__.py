"""An interpreter of herd7's *cat* language, enough to run the Linux-kernel memory model from its own files.

Load a model once, then run it on candidate executions::

    cfg = load_config("linux-kernel.cfg")        # bell + cat, variants from the cfg, macros = the .def path
    for outcome in cfg.model.run(execution):     # one Outcome per path through the model's `with` choices
        ...

Supported: titles, nested comments, ``let``/``let rec ... and ...`` (functions are recursive closures, other
bindings a fixpoint from empty), functions (``let f x``, ``let f(a,b)``, ``fun``), tuples, application,
``let ... in``, ``match`` on tags and on sets (``{} -> e || x ++ s -> e``), ``try ... with``,
``if "variant" then ... else``, ``if "variant" ... else ... end`` blocks, ``include``, ``enum`` (tag sets named as
herd does: ``'rcu-lock`` -> ``Rcu-lock``), ``instructions``/``default``/``show``/``unshow``/``debug`` (no
effect), ``procedure``/``call``, ``forall``, ``with x from S`` (top level), checks ``acyclic``/``irreflexive``/
``empty`` with ``~`` and ``flag``/``undefined_unless``/``assert``; operators ``| & \\ ; * ++ ~ ^-1 + * ? [S]``,
``0``, ``_``, ``{...}``; primitives ``domain range udr fencerel different-values classes-loc partition
linearisations tag2events map`` and our versions of herd's ``stdlib.cat``, ``cross.cat``, ``cos.cat``,
``cos-opt.cat`` (``generate_cos`` enumerates coherence orders lazily).

Not supported: class relations (``lift``, ``delift``, ``classes``), ``bisimulation``, scopes and levels
(``tag2scope``), ``fromto``/``loc2events``, conditions other than variants (``=``, ``subset``, ``in``), ``let rec
... when``, ``match`` as an instruction, ``with`` inside procedures.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CatError, Pos

if TYPE_CHECKING:
    from .config import Config, load_config
    from .context import Execution
    from .interp import CatModel, Outcome, compile_files, load_model

#: the names imported on first use (the interpreter and its parser cost start-up time that a
#: command that never runs a cat model, e.g. ``litmus --model lkmm``, need not pay)
_LAZY = {
    "Config": ".config", "load_config": ".config", "Execution": ".context",
    "CatModel": ".interp", "Outcome": ".interp", "compile_files": ".interp", "load_model": ".interp",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CatError",
    "CatModel",
    "Config",
    "Execution",
    "Outcome",
    "Pos",
    "compile_files",
    "load_config",
    "load_model",
]
