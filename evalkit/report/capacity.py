"""The Capacity section of a random-weights run's report: each model's figures (parameters, seconds per
story, peak memory, training time), measured or estimated and on what hardware, beside the seed study's
claims about the same model (evalkit/report/seed_claims.toml: data, not code). Cells are plain text;
each renderer escapes them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from evalkit.records import CapacityRecord, CapacityRun
from evalkit.report.data import ReportData
from evalkit.report.format import fmt

CLAIMS_FILE = Path(__file__).with_name("seed_claims.toml")
FIGURES = ("parameters", "seconds_per_story", "peak_memory_gb", "training_hours")
HEADER = ["Model", "Seed's claim", "Seed's hardware", "evalkit: measured or estimated", "On what hardware"]
NO_STORIES = ("Random weights: each model was built at its real shape with random values (no download) and measured; "
              "it wrote no stories (random weights write noise), so the quality rows are n/a.")


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str = Field(description="the model, in words")
    models: list[str] = Field(default_factory=list, description="run labels the claim applies to")
    sources: list[str] = Field(default_factory=list, description="hub ids the claim applies to")
    figure: str = Field(description="the figure it is set beside: " + ", ".join(FIGURES))
    claim: str = Field(description="the seed's words")
    hardware: str = Field(description="what the seed ran it on")
    where: str = Field(description="where the seed says it")


class Claims(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="the document the claims come from")
    claims: list[Claim]


@cache
def load_claims(path: Path = CLAIMS_FILE) -> Claims:
    with open(path, "rb") as f:
        claims = Claims.model_validate(tomllib.load(f))
    bad = sorted({c.figure for c in claims.claims} - set(FIGURES))
    if bad:
        raise ValueError(f"{path}: unknown figure(s) {', '.join(bad)}; use one of {', '.join(FIGURES)}")
    return claims


@dataclass(frozen=True)
class CapacitySection:
    intro: list[str]  # sentences before the table
    rows: list[list[str]]  # HEADER's cells
    notes: list[str]  # each model's assumptions behind its figures


def capacity_section(data: ReportData, claims: Claims | None = None) -> CapacitySection | None:
    """The section of a random-weights run (None: the run measured real weights)."""
    cap = data.capacity
    if cap is None:
        return None
    claims = claims or load_claims()
    rows, notes = [], []
    for label in data.models:
        rec = cap.models.get(label)
        if rec is None:
            rows.append([label, "-", "-", "not measured (the run stopped before it)", "-"])
            continue
        mine = [c for c in claims.claims if label in c.models or rec.source in c.sources]
        for figure in FIGURES:
            value, hardware = _figure(cap, rec, label, figure)
            said = [c for c in mine if c.figure == figure] or [None]
            rows += [[label, f"{c.about}: {c.claim}" if c else "-", c.hardware if c else "-", value, hardware]
                     for c in said]
        notes += [f"{label}: {n}" for n in rec.notes]
        if rec.memory.note:
            notes.append(f"{label}: memory {rec.memory.how}: {rec.memory.note}")
        training = cap.training.get(label)
        notes += [f"{label} training: {n}" for n in (training.projection.notes if training else [])]
    intro = [NO_STORIES, f"Claims: {claims.source}. A claim made on a GPU is not comparable with a figure "
             "measured on a CPU: the hardware of each is beside it."]
    return CapacitySection(intro, rows, notes)


def _figure(cap: CapacityRun, rec: CapacityRecord, label: str, figure: str) -> tuple[str, str]:
    """(the figure in words, with how it was obtained; the hardware it was obtained on)."""
    where = f"{rec.device}, load average {fmt(rec.load_average[0])} → {fmt(rec.load_average[-1])}"
    if figure == "parameters":
        adapter = f" + {_count(rec.adapter_parameters)} adapter (LoRA r{rec.adapter.r})" if rec.adapter else ""
        weights = rec.quantization or rec.dtype
        return f"{_count(rec.parameters)}{adapter}, {weights}, {rec.full_layers} layers (counted)", "-"
    if figure == "seconds_per_story":
        return (f"{rec.seconds_per_story.text()} per story at batch {rec.batch_size}; "
                f"{rec.seconds_per_story_b1.text()} at batch 1 ({rec.max_new_tokens} new tokens)"), where
    if figure == "peak_memory_gb":
        m = rec.measurements()
        kind = {"cuda": "CUDA peak allocated", "rss": "peak RSS added", "computed": "computed from tensor sizes"}
        return (f"{fmt(m['peak_memory_gb'])} GB ({kind.get(m['memory_kind'], m['memory_kind'])}); "
                f"tensors {fmt(rec.memory.bytes_in_memory / 1e9)} GB ({rec.memory.how})"), where
    training = cap.training.get(label)
    if training is None:
        return ("n/a: no training projection (`evalkit finetune " + label + " --random-weights --max-steps N`; "
                + cap.training_searched.get(label, "not looked for") + ")"), "-"
    p = training.projection
    return (f"{training.hours.text()} for {p.train_examples} stories x {fmt(p.epochs)} epochs "
            f"(recipe {training.recipe})"), training.device


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n:,}"
