"""``evalkit report RUN``: rebuild report.md and report.html of a run from its stored records."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from evalkit.errors import EvalkitError
from evalkit.pipeline import report_run
from evalkit.report.console import print_tables


@click.command("report")
@click.argument("run")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Folder holding the run folders.")
@click.option("--rerate", is_flag=True, help="Rebuild rating.json from the stored scores even when it exists.")
@click.option("--allow-missing", is_flag=True, help="Report a run whose generations lost stories (damaged lines): "
              "the rest is scored and reported, and the reports list the missing stories.")
def command(run: str, results_dir: Path, rerate: bool, allow_missing: bool) -> None:
    """Rebuild report.md and report.html of RUN (a run id in --results-dir, or a run folder) without
    generating. rating.json is rebuilt when missing (stored anchors are reused); stories are scored
    first only when the run has generations but no scores yet. Rerunning gives identical files. A run
    whose generations lost stories stops (exit 2) naming them, unless --allow-missing."""
    run_dir = Path(run) if Path(run).is_dir() else results_dir / run
    if not run_dir.is_dir():
        known = sorted(p.name for p in results_dir.iterdir() if (p / "manifest.json").exists()) if results_dir.is_dir() else []
        hint = f"; runs there: {', '.join(known[-5:])}" if known else ""
        raise EvalkitError(f"no run {run!r}: not a folder, and not in {results_dir}{hint}")
    console = Console()
    missing: list[str] = []
    rating, md, html = report_run(run_dir, rerate, lambda run_id: console.print(
        f"run {run_id} is not scored yet: scoring its stored stories"), allow_missing, missing.append)
    print_tables(console, rating)
    for line in missing:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {md} and {html}")
