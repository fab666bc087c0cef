"""``rmapwalk scenarios``: list the KVM scenarios."""

from __future__ import annotations

import click

from rmapwalk.cli.common import one_line
from rmapwalk.kvm.scenarios import SCENARIOS


@click.command("scenarios")
def scenarios_cmd() -> None:
    """List the KVM scenarios, each with the review question it answers."""
    w = max((len(n) for n in SCENARIOS), default=0)
    for name, sc in SCENARIOS.items():
        races = f" [{', '.join(sc.races)}]" if sc.races else ""
        click.echo(f"{name.ljust(w)}  {one_line(sc.question)}{races}")


