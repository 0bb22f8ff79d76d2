"""``evalkit regress``: gate a candidate against a pinned baseline. Exit 0 pass, 1 regression, 2 bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evalkit.errors import EvalkitError
from evalkit.leaderboard import fmt_num, md_escape
from evalkit.records import write_json, write_text
from evalkit.regress import Check, RegressResult, Side, load_run, load_side, pin_baseline, regress, suite_regress_config


def run_candidate(models: list[str], base: Side, results_dir: Path, models_file: str | None = None,
                  options: tuple[str, ...] = ()) -> Path:
    """Generate, measure, score and rate the candidate models on the baseline's suite and split with
    the baseline's sampling settings (seed included) and scorers. The only call into the runner."""
    from rich.console import Console

    from evalkit.commands._common import parse_model_options
    from evalkit.commands._progress import RichProgress
    from evalkit.runner import run_compare

    suite = base.suite_path if base.suite_path and Path(base.suite_path).is_dir() else base.suite
    with RichProgress(Console(stderr=True)) as progress:
        return Path(run_compare(list(models), suite=suite, split=base.split, results_dir=Path(results_dir),
                                models_file=models_file, overrides=parse_model_options(options),
                                params=dict(base.params) or None, scorers=base.scorers, progress=progress))


def _ci(c: Check) -> str:
    if c.ci_low is None or c.ci_high is None:
        return ""
    return f"{_signed(c.ci_low)} to {_signed(c.ci_high)}"


def _signed(v: float | None) -> str:
    if v is None:
        return ""
    if v == int(v) and abs(v) < 1000:
        return f"{int(v):+d}" if v else "0"
    return ("+" if v > 0 else "-" if v < 0 else "") + fmt_num(abs(v))


def _tol(c: Check) -> str:
    if c.tolerance is None:
        return c.tolerance_text
    if c.kind == "failures":
        return str(int(c.tolerance))
    return f"{fmt_num(c.tolerance)} ({c.tolerance_text})" if c.tolerance_text.endswith("%") else fmt_num(c.tolerance)


def _val(c: Check, v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if c.kind == "failures" else fmt_num(v)


def _verdict(c: Check) -> str:
    if c.reason and c.verdict in ("skipped", "regression"):
        return f"{c.verdict}: {c.reason}"
    return c.verdict


def verdict_line(r: RegressResult) -> str:
    if not r.regressions:
        skipped = sum(c.verdict == "skipped" for c in r.checks)
        note = f" ({skipped} of {len(r.checks)} checks skipped: see the table)" if skipped else ""
        return f"PASS: no regression beyond tolerance that the paired test calls significant{note}"
    many = len(r.pairs) > 1
    names = ", ".join(f"{c.metric} ({c.model})" if many else c.metric for c in r.regressions)
    return f"REGRESSION: {names}"


def render_md(r: RegressResult) -> str:
    cfg = r.config
    out = [
        f"# Regression check: {md_escape(r.candidate.run_id)} against {md_escape(r.baseline.run_id)}", "",
        f"**{md_escape(verdict_line(r))}**", "",
        f"- Baseline: {md_escape(r.baseline.describe())}",
        f"- Candidate: {md_escape(r.candidate.describe())}",
        "- Models: " + ", ".join(f"{md_escape(b)} -> {md_escape(c)}" for b, c in r.pairs),
        "- Speed and memory: " + ("compared (same hardware)" if r.hardware_reason is None
                                  else f"skipped, {md_escape(r.hardware_reason)}"),
        f"- Method: paired bootstrap of the mean per-story difference ({cfg.resamples:,} resamples, seed {cfg.seed}, "
        f"{cfg.confidence:.0%} CI); a regression is a change for the worse beyond the tolerance whose CI excludes 0. "
        "Peak memory and failed stories are single readings: the tolerance alone decides.", "",
        "| Model | Metric | Baseline | Candidate | Δ | CI of Δ | Tolerance | n | Verdict |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for c in r.checks:
        cells = [c.model, c.metric, _val(c, c.baseline), _val(c, c.candidate), _signed(c.delta), _ci(c), _tol(c),
                 str(c.n), _verdict(c)]
        out.append("| " + " | ".join(md_escape(x) for x in cells) + " |")
    if r.notes:
        out += ["", "Notes:", ""] + [f"- {md_escape(n)}" for n in r.notes]
    return "\n".join(out) + "\n"


def print_table(r: RegressResult) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    t = Table(title=f"{r.candidate.run_id} vs {r.baseline.run_id} ({r.baseline.suite}/{r.baseline.split})")
    for name, just in (("Model", "left"), ("Metric", "left"), ("Baseline", "right"), ("Candidate", "right"),
                       ("Δ", "right"), (f"{r.config.confidence:.0%} CI of Δ", "left"), ("Tolerance", "right"),
                       ("n", "right"), ("Verdict", "left")):
        t.add_column(name, justify=just)  # type: ignore[arg-type]
    style = {"regression": "bold red", "better": "green", "worse (noise)": "yellow", "worse (tolerated)": "yellow"}
    for c in r.checks:
        t.add_row(escape(c.model), escape(c.metric), _val(c, c.baseline), _val(c, c.candidate), _signed(c.delta), _ci(c), _tol(c),
                  str(c.n), escape(_verdict(c)), style=style.get(c.verdict))
    console.print(t)
    if r.hardware_reason:
        console.print(f"speed and memory skipped: {escape(r.hardware_reason)}")
    for n in r.notes:
        console.print(f"note: {escape(n)}")


@click.command("regress")
@click.option("--baseline", "-b", "baseline_ref", required=True, metavar="RUN_OR_FILE",
              help="Baseline: a run folder, a run id in the results folder, or a pinned file (results/baselines/*.json).")
@click.option("--candidate", "-c", "candidate_ref", metavar="RUN",
              help="A finished run folder (or run id) to check. Or name models instead to run them now.")
@click.argument("models", nargs=-1)
@click.option("--pin", "pin_out", type=click.Path(dir_okay=False), metavar="OUT.json",
              help="Write a pinned baseline file from the --baseline run (scores and summary, no weights) and stop.")
@click.option("--baseline-model", help="The baseline model label to compare (when the baseline has several).")
@click.option("--candidate-model", help="The candidate model label to compare (when the candidate has several).")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables.")
@click.option("-o", "--option", "options", multiple=True, metavar="MODEL.KEY=VALUE",
              help="Override a candidate model option, as in `evalkit compare`.")
@click.option("--results-dir", "-r", type=click.Path(file_okay=False), default="results", show_default=True,
              help="Where runs live (run ids are looked up here; a model candidate's run is written here).")
def command(baseline_ref: str, candidate_ref: str | None, models: tuple[str, ...], pin_out: str | None,
            baseline_model: str | None, candidate_model: str | None, models_file: str | None,
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
        data = pin_baseline(base_dir, pin_out, [baseline_model] if baseline_model else None)
        n = len(data["suite"]["item_ids"])
        click.echo(f"pinned {', '.join(data['models'])} of run {data['source_run']} ({data['suite']['name']}/"
                   f"{data['suite']['split']}, {n} items) -> {pin_out}")
        return
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
