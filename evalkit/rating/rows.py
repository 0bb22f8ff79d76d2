"""One rule per star row: its metric, where its stars come from, how its winner is decided, its words.

The rating builds each row from its rule (evalkit.rating.table); the Markdown and HTML tables, the
story view of the HTML report, the leaderboard and the Judge preference row read the same rules, so a
story's stars in the report are the stars the row averaged: its stored ``<metric>_stars`` where the row's
stars are calibrated (a calibration file or the genre probability mapping), else the suite's anchors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.calibration import GENRE_METRIC, GENRE_SOURCE
from evalkit.judge.pairwise import ROW_LABEL as JUDGE_ROW
from evalkit.rating.stars import anchor_score

QUALITY, TRAINING, SPEED, MEMORY, OVERALL, JUDGE = "quality", "training", "speed", "memory", "overall", "judge"
ANCHORS = "anchors"  # stars_from of a quality row rated between the suite's anchors
CLUSTERED = "cluster bootstrap over suite items (samples averaged inside an item), Holm over a row's pairs"
RANDOM_WEIGHTS = "n/a: random weights"  # a quality cell of a model built with random values (its text is noise)
MARGIN = "one value per model: a winner only beyond rating.single_measurement_tolerance"


@dataclass(frozen=True)
class RowRule:
    label: str  # the seed's row name
    kind: str  # quality, training, speed, memory, overall, judge
    metric: str | None  # the metric or measurement it rates (quality rows: rating.toml's [quality] names it)
    stars: str  # where its stars come from
    test: str  # how its winner is decided
    unit: str  # its unit text (quality rows: the metric's range and direction, from summary.json)
    figure_unit: str = ""  # after the deciding figures in a winner cell


ROW_RULES = (
    *(RowRule(label, QUALITY, None, "each story's <metric>_stars (a calibration, or the genre probability mapping), "
              "else linear between the suite's anchors; none when the references do not beat their degenerate copies",
              CLUSTERED + " (on the stars readers see where calibrated)", "")
      for label in ("Story Coherence", "Genre Adherence", "Creativity", "Vocabulary Richness")),
    RowRule("Training Time", TRAINING, "training_hours", "cut points, linear in log(value)", MARGIN,
            "hours of fine-tuning", " h"),
    RowRule("Inference Speed", SPEED, "seconds_per_story", "cut points, linear in log(value)",
            CLUSTERED + "; the margin rule when a model's stories were timed as one batch", "seconds per story", " s"),
    RowRule("Memory Efficiency", MEMORY, "peak_memory_gb", "cut points, linear in log(value)", MARGIN,
            "GB peak memory", " GB"),
    RowRule("Overall Quality", OVERALL, None, "per story, the weighted mean of the quality rows' stars", CLUSTERED,
            "stars 1–5, weighted mean of the quality rows per story", "★"),
)
JUDGE_RULE = RowRule(JUDGE_ROW, JUDGE, "judge_preference", "none: a win rate is relative to the other candidates",
                     CLUSTERED + " (each pair on its own judgments)",
                     "share of items the judge prefers, 0–1, higher is better", "")
RULES = {r.label: r for r in (*ROW_RULES, JUDGE_RULE)}
ROWS = tuple(r.label for r in ROW_RULES)
QUALITY_ROWS = tuple(r.label for r in ROW_RULES if r.kind == QUALITY)
CUT_ROWS = {r.label: (r.kind, r.metric, r.unit) for r in ROW_RULES if r.kind in (TRAINING, SPEED, MEMORY)}


def calibrated(stars_from: str | None) -> bool:
    """Whether a row's stars are each story's stored ``<metric>_stars``."""
    return bool(stars_from) and (stars_from.startswith("calibration") or stars_from == GENRE_SOURCE)


def calibrated_source(metric: str, about: Mapping[str, Any]) -> str:
    """stars_from of a row whose stories carry ``<metric>_stars``: the calibration's name, or the genre
    probability mapping."""
    name = about.get("name")
    if name and name != GENRE_SOURCE:
        return f"calibration {name}"
    return GENRE_SOURCE if metric == GENRE_METRIC else "calibration"


def story_stars(stars_from: str | None, metric: str, story: Mapping[str, float | None],
                anchor: Mapping[str, Any] | None) -> float | None:
    """One story's unrounded stars on a quality row: its stored ``<metric>_stars`` where the row is
    calibrated, else linear between the row's anchors; None when the row gives no stars."""
    if calibrated(stars_from):
        return story.get(f"{metric}_stars")
    if stars_from == ANCHORS and anchor and not anchor.get("note"):
        return anchor_score(story.get(metric), anchor.get("one_star"), anchor.get("five_star"))
    return None


def deciding_figures(row: Any) -> tuple[float, float, str] | None:
    """(the winner's figure, the closest other model's, unit) for a row (a records.RatingRow) that names a
    winner while every cell shows the same stars: the stars cannot say why it won, the figures its test
    compared can (calibrated and overall rows: unrounded stars; the others: the row's values)."""
    cells = row.models
    shown = {c.stars for c in cells.values()}
    if row.winner in (None, "tie") or row.winner not in cells or len(shown) != 1 or None in shown:
        return None
    rule = RULES.get(row.row)
    on_stars = calibrated(row.stars_from) or row.kind == OVERALL
    figure = (lambda c: c.score) if on_stars else (lambda c: c.value)
    others = [figure(c) for m, c in cells.items() if m != row.winner and figure(c) is not None]
    mine = figure(cells[row.winner])
    if mine is None or not others:
        return None
    closest = max(others) if on_stars or row.direction == "higher" else min(others)
    unit = "★" if on_stars else (f" {row.metric}" if row.kind == QUALITY else rule.figure_unit if rule else "")
    return mine, closest, unit
