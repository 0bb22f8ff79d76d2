"""``evalkit regress``: gate a candidate against a pinned baseline. Exit 0 pass, 1 regression, 2 bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from evalkit.commands._common import parse_model_options
from evalkit.commands._progress import RichProgress
from evalkit.errors import EvalkitError
from evalkit.records import write_json, write_text
from evalkit.regress import (
    Side,
    load_run,
    load_side,
    pin_baseline,
    regress,
    suite_regress_config,
)
from evalkit.report.regress import print_table, render_md, verdict_line
from evalkit.runner import run_compare


def run_candidate(models: list[str], base: Side, results_dir: Path, models_file: str | None = None,
                  options: tuple[str, ...] = ()) -> Path:
    """Generate, measure, score and rate the candidate models on the baseline's suite and split with
    the baseline's sampling settings (seed included) and scorers. The only call into the runner."""
    suite = base.suite_path if base.suite_path and Path(base.suite_path).is_dir() else base.suite
    with RichProgress(Console(stderr=True)) as progress:
        return Path(run_compare(list(models), suite=suite, split=base.split, results_dir=Path(results_dir),
                                models_file=models_file, overrides=parse_model_options(options),
                                params=dict(base.params) or None, scorers=base.scorers, progress=progress))


@click.command("regress")
@click.option("--baseline", "-b", "baseline_ref", required=True, metavar="RUN_OR_FILE",
              help="Baseline: a run folder, a run id in the results folder, or a pinned file (results/baselines/*.json).")
@click.option("--candidate", "-c", "candidate_ref", metavar="RUN",
              help="A finished run folder (or run id) to check. Or name models instead to run them now.")
@click.argument("models", nargs=-1)
@click.option("--pin", "pin_out", type=click.Path(dir_okay=False), metavar="OUT.json",
              help="Write a pinned baseline file from the --baseline run (scores and summary, no weights) and stop.")
@click.option("--force", is_flag=True, help="With --pin: replace an existing file at OUT.json.")
@click.option("--baseline-model", help="The baseline model label to compare (when the baseline has several).")
@click.option("--candidate-model", help="The candidate model label to compare (when the candidate has several).")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables.")
@click.option("-o", "--option", "options", multiple=True, metavar="MODEL.KEY=VALUE",
              help="Override a candidate model option, as in `evalkit compare`.")
@click.option("--results-dir", "-r", type=click.Path(file_okay=False), default="results", show_default=True,
              help="Where runs live (run ids are looked up here; a model candidate's run is written here).")
def command(baseline_ref: str, candidate_ref: str | None, models: tuple[str, ...], pin_out: str | None,
            force: bool, baseline_model: str | None, candidate_model: str | None, models_file: str | None,
            options: tuple[str, ...], results_dir: str) -> None:
    """Compare a candidate against a pinned baseline on the same suite items.

    Exit 0: no regression. Exit 1: at least one metric got worse beyond its tolerance (suite.toml
    [regress]) AND a paired bootstrap over the stories calls the change significant. Exit 2: bad
    input (different suites or items, unfinished or damaged runs, bad options).
    """
    if pin_out:
        if candidate_ref or models:
            raise EvalkitError("--pin writes a baseline from --baseline and takes no candidate")
        base_dir = Path(baseline_ref) if Path(baseline_ref).is_dir() else Path(results_dir) / baseline_ref
        if not base_dir.is_dir():
            raise EvalkitError(f"--pin needs a run folder as --baseline: {baseline_ref} is none")
        _check_pin_target(Path(pin_out), base_dir, force)
        data = pin_baseline(base_dir, pin_out, [baseline_model] if baseline_model else None)
        n = len(data["suite"]["item_ids"])
        click.echo(f"pinned {', '.join(data['models'])} of run {data['source_run']} ({data['suite']['name']}/"
                   f"{data['suite']['split']}, {n} items) -> {pin_out}")
        return
    if force:
        raise EvalkitError("--force only applies to --pin (replacing an existing pinned baseline)")
    if options and not models:
        raise EvalkitError("-o/--option applies to candidate models named on the command line")
    if bool(candidate_ref) == bool(models):
        raise EvalkitError("give either --candidate RUN or one or more model names (not both, not neither)")
    base = load_side(baseline_ref, results_dir)
    if candidate_ref:
        cand_dir = Path(candidate_ref) if Path(candidate_ref).is_dir() else Path(results_dir) / candidate_ref
        if not cand_dir.is_dir():
            raise EvalkitError(f"--candidate {candidate_ref}: no run folder there")
    else:
        cand_dir = run_candidate(list(models), base, Path(results_dir), models_file, options)
    cand = load_run(cand_dir)
    cfg, note = suite_regress_config(cand)
    result = regress(base, cand, cfg, baseline_model, candidate_model)
    if note:
        result.notes.insert(0, note)
    write_json(cand_dir / "regress.json", result.to_dict())
    write_text(cand_dir / "regress.md", render_md(result))
    print_table(result)
    click.echo(f"wrote {cand_dir / 'regress.md'} and regress.json")
    click.echo(verdict_line(result))
    sys.exit(result.exit_code)


def _check_pin_target(out: Path, base_dir: Path, force: bool) -> None:
    """A pinned baseline is what later runs are gated against: never replace one (or any file) silently,
    and never write it over a file of the run it is pinned from, even with --force."""
    if out.resolve().is_relative_to(base_dir.resolve()) and out.exists():
        raise EvalkitError(f"--pin {out}: is a file of the baseline run {base_dir}: choose a path outside the run")
    if out.is_file() and not force:  # a folder or device is refused by write_text, --force or not
        raise EvalkitError(f"--pin {out}: the file exists (a pinned baseline is what candidates are gated against): "
                           "pass --force to replace it, or choose another path")
