"""evalkit finetune MODEL [--recipe full|qlora|lora|FILE] [--suite persona-tales] [--output DIR]"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from evalkit.capacity.engine import parse_ints
from evalkit.commands._common import parse_value
from evalkit.errors import EvalkitError
from evalkit.capacity.training import ProjectionOptions, run_projection
from evalkit.finetune.train import FinetuneOptions, run_finetune
from evalkit.models.random_weights import shape_for
from evalkit.models.registry import resolve_model

# flag -> recipe key
FLAG_KEYS = {"epochs": "epochs", "lr": "learning_rate", "max_steps": "max_steps", "batch_size": "batch_size",
             "max_length": "max_length", "seed": "seed", "eval_every": "eval_every"}


def parse_sets(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise EvalkitError(f"bad --set {item!r}: write KEY=VALUE, e.g. --set warmup=0.1 or --set lora.r=8")
        key = key.strip()
        if key.endswith("target_modules") and value != "all-linear":
            out[key] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out[key] = parse_value(value)
    return out


@click.command("finetune")
@click.argument("model")
@click.option("--recipe", help="full, qlora, lora or a recipe .toml file (default: full for distilgpt2, "
                               "qlora for llama3-qlora and 4-bit presets, lora otherwise).")
@click.option("--suite", help="Suite name or folder (default: persona-tales): trains on --train-split, "
                              "validates on --eval-split.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Where the weights go (default: results/finetuned/MODEL for full, results/adapters/MODEL for "
                   "LoRA/QLoRA: the paths the presets read).")
@click.option("--train-split", default="train", show_default=True)
@click.option("--eval-split", default="validation", show_default=True, help="'none' trains without validation.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="Override the recipe's epochs.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Override the learning rate.")
@click.option("--max-steps", type=click.IntRange(0), help="Stop after N optimizer steps (0: use epochs).")
@click.option("--batch-size", type=click.IntRange(1), help="Per-device batch size.")
@click.option("--max-length", type=click.IntRange(8), help="Tokens per example (prompt + story).")
@click.option("--seed", type=int, help="Training seed.")
@click.option("--eval-every", help="'epoch' or a number of steps (checkpoints follow the same cadence).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Any other recipe key, e.g. --set warmup=0.1 --set lora.r=8.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier evalkit training in the output folder "
                                                "(never a folder holding other files, nor the base model).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue an interrupted training of the same settings from its last checkpoint.")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables.")
@click.option("--random-weights", is_flag=True,
              help="Time --max-steps real optimizer steps (default 3) at MODEL's real shape with random weights and "
                   "project the whole training's time; writes only training_projection.json (default folder: "
                   "results/capacity/MODEL).")
@click.option("--prefixes", metavar="K,K,...",
              help="With --random-weights: decoder-layer prefixes to time and extrapolate from (default: full depth "
                   "on a GPU or below 1B parameters, else 1,2,3); 'full' for full depth.")
def command(model: str, recipe: str | None, suite: str | None, output: Path | None, train_split: str,
            eval_split: str, sets: tuple[str, ...], overwrite: bool, resume: bool, models_file: str | None,
            random_weights: bool, prefixes: str | None, **flags: Any) -> None:
    """Fine-tune MODEL on a suite's train split with one of the seed's recipes, validating on its
    validation split, and write the weights (full) or adapter (LoRA/QLoRA) with training_record.json
    beside them. `evalkit compare` reads that record for the Training Time row.

    MODEL is a preset (distilgpt2, llama3-qlora, smollm2-135m, ...), a local model folder, a .gguf
    file or a hub id already in the local cache. Recipes are TOML files (evalkit/finetune/recipes/);
    flags and --set override their keys. A rerun after an interruption resumes from the last checkpoint.
    """
    overrides = parse_sets(sets)
    for flag, key in FLAG_KEYS.items():
        value = flags.get(flag)
        if value is not None:
            overrides[key] = parse_value(value) if isinstance(value, str) else value
    console = Console(stderr=True)
    if prefixes and not random_weights:
        raise EvalkitError("--prefixes times layer prefixes of a random-weights model: add --random-weights")
    if random_weights:
        project(model, recipe, suite, output, train_split, overrides, models_file, prefixes, console)
        return
    opts = FinetuneOptions(model=model, suite=suite, recipe=recipe, overrides=overrides, output=output,
                           train_split=train_split, eval_split=None if eval_split.lower() == "none" else eval_split,
                           overwrite=overwrite, resume=resume, models_file=models_file)
    result = run_finetune(opts, console=console)
    show_record(Console(), result.record, result.already_done, compare_hint(model, result.record.output, models_file))


def project(model: str, recipe: str | None, suite: str | None, output: Path | None, train_split: str,
            overrides: dict[str, Any], models_file: str | None, prefixes: str | None, console: Any) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights never reach for the hub
    asked = None
    if prefixes == "full":
        cfg = shape_for(resolve_model(model, models_file)).config
        asked = (int(cfg.get("num_hidden_layers") or cfg.get("n_layer") or 0),)
    elif prefixes:
        asked = parse_ints(prefixes, "--prefixes")
    rec = run_projection(ProjectionOptions(model=model, suite=suite, recipe=recipe, overrides=overrides, output=output,
                                           train_split=train_split, models_file=models_file, prefixes=asked),
                         console=console)
    show_projection(Console(), rec)


def show_projection(console: Any, rec: Any) -> None:
    p = rec.projection
    t = Table(title=f"{rec.base.label}: recipe {rec.recipe} at the real shape, random weights", show_header=False)
    rows = [
        ("projected training", f"{p.projected_s.text('{:.4g}')} = {p.projected_hours:.2f} h "
                               f"({p.train_examples} stories x {p.epochs:g} epochs)"),
        ("one epoch", p.epoch_s.text("{:.4g}")),
        ("per optimizer step", f"{p.step_s.text('{:.4g}')} ({p.recipe_micro_batches_per_step} micro-batches of "
                               f"{p.batch_size} x {p.sequence_length} tokens)"),
        ("basis", p.basis),
        ("parameters", f"{rec.base.parameters / 1e9:.3f}B, trainable {rec.base.trainable_parameters / 1e6:.1f}M"),
        ("peak memory", f"{(rec.peak_memory.peak_bytes or 0) / 1e9:.2f} GB ({rec.peak_memory.kind})"),
        ("device", rec.device),
        ("record", f"{rec.output}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    for n in p.notes:
        console.print(f"note: {n}", markup=False, highlight=False, soft_wrap=True)


def compare_hint(model: str, output: str, models_file: str | None) -> str:
    """The compare command for base vs fine-tune, quoted so it runs as printed (spaces, $, ; in paths)."""
    args = ["evalkit", "compare", model, output]
    if models_file:
        args += ["--models-file", models_file]
    return shlex.join(args)


def show_record(console: Any, rec: Any, already_done: bool, hint: str | None = None) -> None:
    if already_done:
        console.print(f"{rec.output} already holds this training (same base, recipe and suite); "
                      "--overwrite trains it again")

    def loss(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    t = Table(title=f"{rec.base.label} fine-tuned with recipe {rec.recipe}", show_header=False)
    rows = [
        ("output", f"{rec.output} ({rec.output_kind})"),
        ("training time", f"{rec.wall_time_s / 60:.1f} min" + (f" (resumed at step {rec.resumed_from_step})"
                                                               if rec.resumed_from_step else "")),
        ("steps / epochs", f"{rec.global_step} / {rec.epochs:.2f}"),
        ("train stories", f"{rec.suite.n_train} ({rec.suite.name}/{rec.suite.train_split})"),
        ("tokens seen", f"{rec.tokens_seen:,}"),
        ("train loss (last)", loss(rec.train_loss)),
        ("validation loss", f"{loss(rec.initial_validation_loss)} -> {loss(rec.validation_loss)}"),
        ("peak memory", f"{(rec.peak_memory.peak_bytes or 0) / 1e9:.2f} GB ({rec.peak_memory.kind})"),
        ("device", rec.device),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    if hint:  # no markup: rich would eat [brackets] in a path
        console.print(f"compare it: {hint}", soft_wrap=True, markup=False, highlight=False)
