"""``evalkit leaderboard``: one table of every model tried, built from the runs' rating.json files."""

from __future__ import annotations

import click

from evalkit.leaderboard import build
from evalkit.records import write_text
from evalkit.report.leaderboard import FORMATS, format_for, render


@click.command("leaderboard")
@click.argument("results_dir", type=click.Path(file_okay=False), default="results", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from the -o extension, else md).")
@click.option("--all", "all_runs", is_flag=True, help="One row per run of each model, not only its latest.")
def command(results_dir: str, output: str | None, fmt: str | None, all_runs: bool) -> None:
    """Rank every model in RESULTS_DIR (default: results) by Overall Quality.

    Each row is a model's latest finished run on a suite and split, with the seed's star rows,
    the change of Overall Quality against that model's previous run, the run id and its date.
    Unfinished, damaged or unrated runs are reported on stderr and skipped.
    """
    lb = build(results_dir, all_runs=all_runs, warn=lambda msg: click.echo(msg, err=True))
    text = render(lb, format_for(output, fmt))
    if output:
        write_text(output, text)
        n = sum(len(g.entries) for g in lb.groups)
        click.echo(f"wrote {output} ({n} row(s), {len(lb.skipped)} run(s) skipped)", err=True)
    else:
        click.echo(text, nl=False)
