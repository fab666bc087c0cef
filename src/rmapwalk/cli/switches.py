"""``rmapwalk switches``: list the KVM model's design switches and presets."""

from __future__ import annotations

import click

from rmapwalk.kvm.presets import PRESETS, switches_markdown
from rmapwalk.kvm.switches import switch_table


@click.command("switches")
@click.option("--markdown", is_flag=True, help="Print docs/switches.md (Markdown).")
def switches_cmd(markdown: bool) -> None:
    """List the design switches of the KVM model (values, default, meaning) and the presets."""
    if markdown:
        click.echo(switches_markdown(), nl=False)
        return
    click.echo(switch_table())
    click.echo("")
    for p in PRESETS.values():
        click.echo(f"preset {p.name}: {p.doc}")


