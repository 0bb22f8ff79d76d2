"""evalkit capacity MODEL [MODEL ...]: measure models at their real shapes with random weights
and write results/capacity/<label>.json (one CapacityRecord each), then print one summary table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from evalkit.capacity.engine import CapacitySettings, measure_capacity, parse_ints
from evalkit.commands._common import parse_model_options
from evalkit.errors import EvalkitError
from evalkit.finetune.train import safe_name
from evalkit.models.random_weights import shape_for
from evalkit.models.registry import resolve_model
from evalkit.records import write_json
from evalkit.suites import default_suite_name, load_suite

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights never reach for the hub


@click.command("capacity")
@click.argument("models", nargs=-1, required=True)
@click.option("--suite", help="Suite whose prompts and token budget are used (default: persona-tales).")
@click.option("--split", default="test", show_default=True, help="Split whose prompts are timed.")
@click.option("--prefixes", help="Layer prefixes to time, e.g. 2,4,8; 'full' for full depth; default: full "
                                 "depth on a GPU or below 1B parameters, else 1,2,3.")
@click.option("--tokens", help="Tokens per timed call at batch 1 and at the batch size, e.g. 8,4 "
                               "(default: the story budget at full depth, else 8,4).")
@click.option("--batch-size", type=click.IntRange(1), help="The run's batch size (default: the suite's).")
@click.option("--max-new-tokens", type=click.IntRange(1), help="Story budget (default: the suite's).")
@click.option("--memory-limit-gb", type=click.FloatRange(min=0, min_open=True),
              help="Build the full model only if it fits in this much (and in the available RAM); otherwise "
                   "its memory is computed from the built layers' tensor sizes.")
@click.option("--device", help="cpu or cuda (default: cuda when there is one).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results/capacity"),
              show_default=True, help="Where the records go (<label>.json).")
@click.option("--models-file", type=click.Path(dir_okay=False), help="TOML file with [models.NAME] tables.")
@click.option("-o", "--option", "options", multiple=True, metavar="MODEL.KEY=VALUE", help="Override a model option.")
def command(models: tuple[str, ...], suite: str | None, split: str, prefixes: str | None, tokens: str | None,
            batch_size: int | None, max_new_tokens: int | None, memory_limit_gb: float | None, device: str | None,
            out_dir: Path, models_file: str | None, options: tuple[str, ...]) -> None:
    """Measure MODELS (presets, folders with config.json, hub ids with a shipped shape) with random weights."""
    overrides = parse_model_options(options)
    specs = [resolve_model(m, models_file, {**overrides.get(m, {}), "weights": "random"}) for m in models]
    for spec in specs:  # every unknown configuration fails before anything is built
        shape_for(spec)
    full = prefixes == "full"
    tok = parse_ints(tokens, "--tokens")
    if tok is not None and (len(tok) != 2 or min(tok) < 1):
        raise EvalkitError(f"bad --tokens {tokens!r}: give two counts >= 1, e.g. 8,4")
    the_suite = load_suite(suite or default_suite_name())
    err = Console(stderr=True)
    records = []
    for spec in specs:
        asked = None if full else parse_ints(prefixes, "--prefixes")
        settings = CapacitySettings(prefixes=asked, measure_tokens=tok, batch_size=batch_size,  # type: ignore[arg-type]
                                    max_new_tokens=max_new_tokens, split=split, device=device,
                                    memory_limit_bytes=int(memory_limit_gb * 1e9) if memory_limit_gb else None)
        if full:
            settings.prefixes = (_full_layers(spec),)
        rec = measure_capacity(spec, the_suite, settings, note=lambda m: err.print(m, markup=False, highlight=False))
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{safe_name(spec.label)}.json"
        write_json(path, rec)
        records.append((rec, path))
    show(Console(), records)


def _full_layers(spec: Any) -> int:
    cfg = shape_for(spec).config
    return int(cfg.get("num_hidden_layers") or cfg.get("n_layer") or 0)


def show(console: Any, records: list[tuple[Any, Path]]) -> None:
    t = Table(title="Capacity at the real shape, random weights", show_lines=False)
    t.add_column("")
    for rec, _ in records:
        t.add_column(rec.label)
    rows = [
        ("parameters", lambda r: f"{r.parameters / 1e9:.3f}B" + (f" + {r.adapter_parameters / 1e6:.1f}M adapter"
                                                                   if r.adapter_parameters else "")),
        ("weights", lambda r: (r.quantization or r.dtype) + (f" + LoRA r{r.adapter.r}" if r.adapter else "")),
        ("bytes in memory", lambda r: f"{r.memory.bytes_in_memory / 1e9:.2f} GB ({r.memory.how})"),
        ("peak memory added", lambda r: f"{r.measurements()['peak_memory_gb']:.2f} GB ({r.measurements()['memory_kind']})"),
        ("load (build) time", lambda r: r.load_s.text()),
        ("time to first token", lambda r: r.ttft_s.text()),
        ("tokens/s, batch 1", lambda r: r.tokens_per_s.text()),
        ("tokens/s, batch N", lambda r: f"{r.tokens_per_s_batch.text()} (N={r.batch_size})"),
        ("s/story, batch 1", lambda r: r.seconds_per_story_b1.text()),
        ("s/story, batch N", lambda r: r.seconds_per_story.text()),
        ("timed", lambda r: r.basis),
        ("device", lambda r: f"{r.device}, load avg {r.load_average[0]}->{r.load_average[1]}"),
        ("wall", lambda r: f"{r.wall_s:.0f} s"),
    ]
    for name, fn in rows:
        t.add_row(name, *(fn(r) for r, _ in records))
    console.print(t)
    for rec, _ in records:
        for n in rec.notes:
            console.print(f"{rec.label}: {n}", markup=False, highlight=False, soft_wrap=True)
    for path in dict.fromkeys(p for _, p in records):  # a compare run keeps every model in one record
        console.print(f"record: {path}", markup=False, highlight=False, soft_wrap=True)

