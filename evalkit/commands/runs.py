"""``evalkit runs``: list the runs of a results folder, flagging runs that did not finish."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalkit.history import scan_runs


@click.command("runs")
@click.argument("results_dir", type=click.Path(file_okay=False), default="results", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per run) instead of a table.")
def command(results_dir: str, as_json: bool) -> None:
    """List runs in RESULTS_DIR (default: results), oldest first.

    State: complete; running (its process is alive); unfinished (interrupted, failed, or its process
    is gone); damaged (manifest or summary missing or unreadable: later commands skip it).
    """
    runs = scan_runs(results_dir)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in runs], indent=2, ensure_ascii=False))
        return

    if not runs:
        click.echo(f"no runs in {results_dir}")
        return
    table = Table(title=f"runs in {escape(results_dir)}")
    for col in ("Run", "State", "Suite", "Models", "Created", "Git", "Scored", "Rated", "Problems"):
        table.add_column(col)
    style = {"complete": None, "running": "cyan", "unfinished": "yellow", "damaged": "red"}
    for r in runs:
        suite = f"{r.suite}/{r.split}" if r.suite else ""
        table.add_row(escape(r.run_id), r.state, escape(suite), escape(", ".join(r.models)), (r.created or "").replace("T", " "),
                      (r.git_sha or "")[:10], "yes" if r.scored else "no", "yes" if r.rated else "no",
                      escape("; ".join(r.problems)), style=style[r.state])
    Console(width=None if sys.stdout.isatty() else 200, highlight=False).print(table)
    bad = sum(r.state in ("unfinished", "damaged") for r in runs)
    if bad:
        click.echo(f"{bad} run(s) did not finish or are damaged: leaderboard and regress skip them", err=True)
