"""evalkit compare A B [C ...]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from evalkit.commands._common import (
    generation_options,
    params_from,
    parse_model_options,
    scoring_lm_options,
    split_csv,
)
from evalkit.commands._progress import RichProgress
from evalkit.commands.capacity import show as show_capacity
from evalkit.pipeline import CAPACITY_FILE
from evalkit.records import CapacityRun, Rating, read_json
from evalkit.report.console import print_tables
from evalkit.runner import run_compare
from evalkit.sampling import parse_samples
from evalkit.threads import threads_option


@click.command("compare")
@threads_option()
@click.argument("models", nargs=-1, required=True)
@click.option("--suite", "suite", help="Suite name or folder (default: persona-tales, else smoke).")
@click.option("--split", help="Split to run (default: the suite's default_split, usually test).")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Where run folders and the generation cache live.")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables.")
@click.option("-o", "--option", "options", multiple=True, metavar="MODEL.KEY=VALUE",
              help="Override a model option, e.g. -o llama3-qlora.adapter=./adapter -o distilgpt2.dtype=float32.")
@click.option("--scorers", help="Comma-separated scorers (default: all installed).")
@click.option("--samples", metavar="N", help="Stories per suite item per model (default: the suite's "
              "[generation] samples, else 1); each sample has its own seed and cache entry.")
@click.option("--judge", metavar="MODEL", help="A model (any model argument) that rates every story on the "
              "judge rubrics and compares the models pairwise (a Judge preference row); default: [judge] in suite.toml.")
@click.option("--random-weights", is_flag=True, help="Build each model at its real shape with random values (no "
              "download; a models file's weights = \"random\" does the same) and measure speed, memory and, from "
              "`evalkit finetune MODEL --random-weights`, training time; the quality rows are n/a (no stories).")
@click.option("--memory-limit-gb", type=click.FloatRange(min=0, min_open=True),
              help="With --random-weights: build a whole model only if it fits in this much memory (and in what "
                   "is free); otherwise its memory is computed from its tensors' sizes, and said so.")
@click.option("--scoring-lm", metavar="MODEL_OR_PROFILE", help="The LM that reads coherence: a preset, a transformers "
              "folder, a .gguf file, or a calibration profile; its profile's norms and star calibration make the "
              "coherence stars (default: SmolLM2-135M, or an alternative when a candidate is built on it).")
@generation_options
def command(models: tuple[str, ...], suite: str | None, split: str | None, results_dir: Path,
            models_file: str | None, options: tuple[str, ...], scorers: str | None, samples: str | None,
            judge: str | None, random_weights: bool, memory_limit_gb: float | None, scoring_lm: str | None,
            **gen: Any) -> None:
    """Generate every story of a suite split with every model, measure speed and memory, score,
    rate with stars and write results/<run-id>/ (manifest, generations, scores, report.md/html).

    A model is a preset name (see `evalkit models`), a local model folder, a folder holding a PEFT
    adapter, a .gguf file, a hub id (org/name) or BACKEND:TARGET. Finished stories are cached: a rerun
    or a resume after Ctrl-C regenerates only what is missing.
    """
    n_samples = parse_samples(samples) if samples is not None else None  # bad N: one line, exit 2, nothing run
    scoring = scoring_lm_options(scoring_lm, models_file)  # an unknown reader or profile: one line, nothing run
    console = Console()
    with RichProgress(console) as progress:
        run_dir = run_compare(
            list(models), suite=suite, split=split, results_dir=results_dir, models_file=models_file,
            overrides=parse_model_options(options), params=params_from(gen), scorers=split_csv(scorers),
            progress=progress, samples=n_samples, judge=judge,
            isolate=True,  # each model measured in its own process: order-free memory
            random_weights=random_weights, memory_limit_gb=memory_limit_gb, scoring_options=scoring,
        )
    show_run(console, run_dir)


def show_run(console: Any, run_dir: Path) -> None:
    print_tables(console, Rating.model_validate(read_json(run_dir / "rating.json")))
    if (run_dir / CAPACITY_FILE).is_file():  # random weights: what each figure is, and how it was obtained
        cap = CapacityRun.model_validate(read_json(run_dir / CAPACITY_FILE))
        show_capacity(console, [(rec, run_dir / CAPACITY_FILE) for rec in cap.models.values()])
    manifest = read_json(run_dir / "manifest.json")
    for m in manifest["models"]:
        if m.get("n_failed"):
            console.print(f"[yellow]{m['label']}: {m['n_failed']} stories failed ({', '.join(m['failed_items'])}); "
                          "rerun the same command to retry them[/]")
    console.print(f"run folder: {run_dir}  (report: {run_dir / 'report.md'}, {run_dir / 'report.html'})")
