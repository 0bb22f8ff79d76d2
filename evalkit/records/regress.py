"""Pinned baselines (results/baselines/*.json) and the regression gate's report (regress.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from evalkit.records.io import Number, WrittenRecord
from evalkit.records.run import MetricInfo

BASELINE_SCHEMA = "evalkit.baseline/1"
REGRESS_SCHEMA = "evalkit.regress/1"


class BaselineSuite(WrittenRecord):
    name: str = Field(description="suite name")
    path: str = Field(description="where the suite was")
    hash: str = Field(description="suite version hash")
    split: str = Field(description="suite split")
    item_ids: list[str] = Field(description="the items the baseline ran")
    item_hashes: dict[str, str] | None = Field(description="item id -> content hash (None: suite version gone)")


class BaselineModel(WrittenRecord):
    measurements: dict[str, Any] = Field(description="the model's summary.json measurements")
    stories: dict[str, dict[str, Number | None]] = Field(description="item id -> metric -> value")


class Baseline(WrittenRecord):
    """A pinned baseline (results/baselines/*.json): a run's scores and settings, no weights. Every
    evalkit.baseline/1 file carries content_hash (it came with the schema), so a file without one was
    edited: regress refuses it."""

    schema_: str = Field(BASELINE_SCHEMA, alias="schema", description="record type and version")
    source_run: str = Field(description="the run it was pinned from")
    created: str | None = Field(description="when that run was made")
    git_sha: str | None = Field(description="evalkit's git commit for that run")
    suite: BaselineSuite = Field(description="the suite items it ran")
    hardware: dict[str, Any] = Field(description="the machine (speed and memory gate only on the same one)")
    params: dict[str, Any] = Field(description="sampling settings (a candidate reuses them)")
    scorers: list[str] | None = Field(description="scorers the run used (None: every installed one)")
    metrics: dict[str, MetricInfo] = Field(description="metric -> direction, range, description")
    models: dict[str, BaselineModel] = Field(description="model label -> measurements and per-story scores")
    content_hash: str = Field(description="stable hash of everything else: edits (and its removal) are refused")


class RegressSide(WrittenRecord):
    source: str = Field(description="run folder or pinned file")
    kind: str = Field(description="run or pinned")
    run_id: str = Field(description="the run")
    suite: str = Field(description="suite name")
    split: str = Field(description="suite split")
    suite_hash: str = Field(description="suite version hash")
    items: int = Field(description="suite items")
    git_sha: str | None = Field(description="evalkit's git commit")
    created: str | None = Field(description="when the run was made")
    hardware: dict[str, Any] = Field(description="the machine")


class RegressMethod(WrittenRecord):
    test: str = Field(description="the statistical test, in words")
    confidence: Number = Field(description="CI level")
    resamples: int = Field(description="bootstrap resamples")
    seed: int = Field(description="bootstrap seed")
    min_pairs: int = Field(description="fewest paired stories for a test")


class RegressCheck(WrittenRecord):
    model: str = Field(description="candidate label")
    baseline_model: str = Field(description="baseline label")
    metric: str = Field(description="metric or measurement")
    kind: str = Field(description="quality, speed, memory or failures")
    direction: str = Field(description="higher or lower is better")
    verdict: str = Field(description="regression, worse (noise), worse (tolerated), better, no change or skipped")
    baseline: Number | None = Field(description="baseline mean over the paired stories")
    candidate: Number | None = Field(description="candidate mean over the paired stories")
    delta: Number | None = Field(description="candidate - baseline")
    ci_low: Number | None = Field(description="lower end of the paired bootstrap CI of delta")
    ci_high: Number | None = Field(description="upper end of that CI")
    n: int = Field(description="paired stories")
    tolerance: Number | None = Field(description="the tolerance in the metric's unit")
    tolerance_text: str = Field(description="the tolerance as configured")
    significant: bool | None = Field(description="the CI excludes 0 (None: no test)")
    reason: str = Field(description="why skipped, or what regressed")


class RegressReport(WrittenRecord):
    """regress.json: the gate's verdict and every check behind it."""

    schema_: str = Field(REGRESS_SCHEMA, alias="schema", description="record type and version")
    verdict: Literal["pass", "regression"] = Field(description="the gate's answer")
    regressions: list[str] = Field(description="the metrics (model:metric with several pairs) that regressed")
    baseline: RegressSide = Field(description="the baseline side")
    candidate: RegressSide = Field(description="the candidate side")
    pairs: list[list[str]] = Field(description="(baseline label, candidate label) pairs compared")
    hardware_match: bool = Field(description="speed and memory were compared")
    hardware_reason: str | None = Field(description="why they were not")
    method: RegressMethod = Field(description="the test and its settings")
    checks: list[RegressCheck] = Field(description="one per model pair and metric")
    notes: list[str] = Field(description="caveats")
