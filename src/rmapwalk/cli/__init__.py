"""The ``rmapwalk`` command: check a model file (``run``), resume a checkpointed search
(``resume``), replay a saved violation (``replay``), the KVM model's commands (``scenarios``,
``switches``, ``check kvm``, ``review``), the litmus front end (``litmus``) and mutation analysis
(``mutate``).  Each command lives in its own module of this package; :mod:`.options` holds the
options several commands share and :mod:`.common` the error handling, replay files and views.

The group loads a command's module only when that command runs (or when ``--help`` lists them
all), so a command pays at start-up only for what it uses.

Exit status: 0 the properties hold, 1 a violation was found (``replay``: always, it shows one),
2 bad input (missing file, a model that does not load or raises while its program is built, a
``ModelError``, bad options, a bad replay file) or an internal error, 3 the exploration stopped
before it was complete.  An exception raised by thread code is a violation (property
``exception``), like a failed assertion.

Every problem is reported as one line on stderr, ``rmapwalk: FILE:LINE: message``; set
``RMAPWALK_DEBUG=1`` to get the Python traceback as well.
"""

from __future__ import annotations

import importlib

import click

from rmapwalk import __version__

#: command name -> (module of this package, attribute): the commands of ``rmapwalk``
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("check", "check"),
    "litmus": ("litmus", "litmus"),
    "mutate": ("mutate", "mutate_cmd"),
    "replay": ("replay", "replay"),
    "resume": ("resume", "resume"),
    "review": ("review", "review_cmd"),
    "run": ("run", "run"),
    "scenarios": ("scenarios", "scenarios_cmd"),
    "serve": ("serve", "serve_cmd"),
    "switches": ("switches", "switches_cmd"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use from the modules :data:`COMMANDS` names.

    Guarantees the same commands, names, help and behaviour as registering them eagerly."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            cmd = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
            assert isinstance(cmd, click.Command) and cmd.name == cmd_name
            self.add_command(cmd)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rmapwalk")
def main() -> None:
    """rmapwalk: a stateless model checker for lockless kernel code.

    A model file is a Python file that defines rmapwalk Program objects (or a function
    program() returning one).  `rmapwalk run MODEL.py` explores every execution of it under a
    memory model; a violation is saved as a replay file that `rmapwalk replay FILE` shows again.

    The built-in KVM shadow-MMU model: `rmapwalk scenarios` lists its scenarios, `rmapwalk
    check kvm --scenario NAME [--preset P] [--set KEY=VALUE ...]` checks one, `rmapwalk
    switches` lists the design switches and presets, and `rmapwalk review` answers the 2013
    review's questions (`--markdown` gives docs/review.md).

    Exit status: 0 holds, 1 violated, 2 bad input or internal error, 3 incomplete.
    """


__all__ = ["COMMANDS", "LazyGroup", "main"]
