"""An interpreter of herd7's *cat* language, enough to run the Linux-kernel memory model from its own files.

>>> cfg = load_config("linux-kernel.cfg")            # doctest: +SKIP
>>> outcomes = list(cfg.model.run(execution))        # doctest: +SKIP
"""

from .config import Config, load_config
from .errors import CatError, Pos
from .interp import CatModel, Execution, Outcome, compile_files, load_model

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
