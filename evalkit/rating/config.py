"""The star rules: rating.toml's defaults merged with a suite's [rating], every problem named in one error."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.rating.rows import CUT_ROWS, QUALITY_ROWS
from evalkit.records import DEGENERATE_KINDS
from evalkit.stats import SEED

DEFAULTS_PATH = Path(__file__).with_name("rating.toml")
_SCALARS = ("bootstrap_resamples", "bootstrap_seed", "confidence", "single_measurement_tolerance")
_TABLES = ("quality", "weights", "anchors", "cuts")


@dataclass(frozen=True)
class RatingConfig:
    quality: dict[str, str]  # row -> metric
    weights: dict[str, float]  # quality row -> weight in Overall Quality
    anchors: dict[str, tuple[str, ...]]  # metric -> degenerate kinds for the 1-star level
    cuts: dict[str, tuple[float, ...]]  # metric -> values earning 5, 4, 3, 2, 1 stars
    bootstrap_resamples: int = 10_000
    bootstrap_seed: int = SEED
    confidence: float = 0.95
    single_measurement_tolerance: float = 0.10

    def describe(self) -> dict[str, Any]:
        return {"quality": dict(self.quality), "weights": dict(self.weights),
                "anchors": {k: list(v) for k, v in self.anchors.items()},
                "cuts": {k: list(v) for k, v in self.cuts.items()},
                **{k: getattr(self, k) for k in _SCALARS}}


def load_rating_config(suite_config: Mapping[str, Any] | None = None, where: str = "suite.toml") -> RatingConfig:
    """The defaults merged with a suite's [rating] table; every problem is named in one error."""
    with open(DEFAULTS_PATH, "rb") as f:
        merged: dict[str, Any] = tomllib.load(f)["rating"]
    override = (suite_config or {}).get("rating", {})
    problems: list[str] = []
    if not isinstance(override, dict):
        raise EvalkitError(f"{where}: [rating] must be a table")
    for key, value in override.items():
        if key in _TABLES and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        elif key in _SCALARS:
            merged[key] = value
        else:
            problems.append(f"unknown key rating.{key}" if key not in _TABLES else f"rating.{key} must be a table")
    cfg = _validate(merged, problems)
    if problems:
        raise EvalkitError(f"{where}: bad [rating]: " + "; ".join(problems))
    return cfg


def _validate(raw: dict[str, Any], problems: list[str]) -> RatingConfig:
    quality = {k: v for k, v in raw["quality"].items()}
    for row, metric in quality.items():
        if row not in QUALITY_ROWS:
            problems.append(f"rating.quality: unknown row {row!r} (quality rows: {', '.join(QUALITY_ROWS)})")
        if not isinstance(metric, str) or not metric:
            problems.append(f"rating.quality.{row!r} must name a metric")
    weights: dict[str, float] = {}
    for row, w in raw["weights"].items():
        if row not in QUALITY_ROWS:
            problems.append(f"rating.weights: {row!r} is not a quality row")
        elif not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0 or not math.isfinite(w):
            problems.append(f"rating.weights.{row!r} must be a number >= 0")
        else:
            weights[row] = float(w)
    if weights and sum(weights.values()) <= 0:
        problems.append("rating.weights must not all be 0")
    anchors: dict[str, tuple[str, ...]] = {}
    for metric, kinds in raw["anchors"].items():
        if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
            problems.append(f"rating.anchors.{metric} must be a non-empty list of kinds")
            continue
        bad = [k for k in kinds if k not in DEGENERATE_KINDS]
        if bad:
            problems.append(f"rating.anchors.{metric}: unknown kind(s) {', '.join(bad)} "
                            f"(known: {', '.join(DEGENERATE_KINDS)})")
        anchors[metric] = tuple(kinds)
    cuts: dict[str, tuple[float, ...]] = {}
    for metric, values in raw["cuts"].items():
        if metric not in {m for _, m, _ in CUT_ROWS.values()}:
            problems.append(f"rating.cuts: unknown measurement {metric!r}")
        elif (not isinstance(values, list) or len(values) != 5
              or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)
              or any(b <= a for a, b in zip(values, values[1:]))):
            problems.append(f"rating.cuts.{metric} must be 5 increasing positive numbers (5 to 1 stars)")
        else:
            cuts[metric] = tuple(float(v) for v in values)
    scal = {k: raw[k] for k in _SCALARS}
    if not isinstance(scal["bootstrap_resamples"], int) or scal["bootstrap_resamples"] < 100:
        problems.append("rating.bootstrap_resamples must be an integer >= 100")
    if not isinstance(scal["bootstrap_seed"], int):
        problems.append("rating.bootstrap_seed must be an integer")
    if not isinstance(scal["confidence"], float) or not 0.5 <= scal["confidence"] < 1:
        problems.append("rating.confidence must be a number in [0.5, 1)")
    tol = scal["single_measurement_tolerance"]
    if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not 0 <= tol < 1:
        problems.append("rating.single_measurement_tolerance must be a number in [0, 1)")
    return RatingConfig(quality, weights, anchors, cuts, **scal)
