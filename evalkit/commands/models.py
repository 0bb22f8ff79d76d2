"""evalkit models"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from evalkit.errors import EvalkitError
from evalkit.models.registry import load_backend, load_presets, spec_from_preset


@click.command("models")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables.")
def command(models_file: str | None) -> None:
    """List model presets (built-in, ./evalkit.toml, --models-file) and whether each can run here."""
    table = Table("name", "backend", "runs here?", "description")
    for name, preset in load_presets(models_file).items():
        spec = spec_from_preset(name, preset)
        try:
            problem = load_backend(spec.backend)(spec).availability()
        except EvalkitError as e:
            problem = str(e)
        status = "[green]yes[/]" if problem is None else f"[yellow]no[/]: {problem}"
        table.add_row(name, spec.backend, status, spec.description)
    Console().print(table)
