"""The seed's eight rows as a rating.json document, from numbers only (RatingInput)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.rating.config import CUT_ROWS, QUALITY_ROWS, ROWS, RatingConfig
from evalkit.rating.stars import anchor_problem, anchor_score, cut_score, stars
from evalkit.rating.winners import Comparison, compare_paired, compare_single, rank
from evalkit.records import RATING_SCHEMA
from evalkit.stats import mean_summary


@dataclass
class RatingInput:
    """Everything the table needs, as numbers. per_story[model][item][metric]."""

    models: list[str]
    item_ids: list[str]
    per_story: dict[str, dict[str, dict[str, float | None]]]
    measurements: dict[str, dict[str, Any]]  # label -> peak_memory_gb, memory_kind, training_hours
    anchors: dict[str, dict[str, Any]]  # metric -> {one_star, five_star, n, ...}
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # summary.json "metrics"
    meta: dict[str, Any] = field(default_factory=dict)  # run_id, suite, split, created, device


def rate(inp: RatingInput, cfg: RatingConfig) -> dict[str, Any]:
    """The seed's eight rows as a rating.json document."""
    rows = []
    for row in ROWS:
        if row in QUALITY_ROWS:
            rows.append(_quality_row(row, inp, cfg))
        elif row in CUT_ROWS:
            rows.append(_cut_row(row, inp, cfg))
        else:
            rows.append(_overall_row(inp, cfg))
    return {"schema": RATING_SCHEMA, **inp.meta,
            "weights": {r: cfg.weights[r] for r in QUALITY_ROWS if r in cfg.weights},
            "anchors": inp.anchors, "models": list(inp.models), "rules": cfg.describe(), "rows": rows}


def _series(inp: RatingInput, model: str, metric: str) -> dict[str, float | None]:
    stories = inp.per_story.get(model, {})
    return {i: stories[i].get(metric) for i in inp.item_ids if i in stories}


def _cell(values: Sequence[float | None], score: float | None = None, note: str | None = None) -> dict[str, Any]:
    agg = mean_summary(list(values))
    return {"value": agg["mean"], "ci_low": agg["ci_low"], "ci_high": agg["ci_high"], "n": agg["n"],
            "stars": stars(score), "score": score, "note": note}


def _pairwise(inp: RatingInput, series: dict[str, dict[str, float | None]], direction: str,
              cfg: RatingConfig) -> tuple[Any, list[Comparison], list[str], list[str]]:
    comps = []
    for i, a in enumerate(inp.models):
        for b in inp.models[i + 1:]:
            c = compare_paired(a, b, series[a], series[b], inp.item_ids, direction, cfg)
            if c is None:
                return None, comps, [], []
            comps.append(c)
    if len(inp.models) < 2:
        return None, comps, list(inp.models), list(inp.models)
    winner, ranking, leaders = rank(inp.models, comps)
    return winner, comps, ranking, leaders


def _finish(row: dict[str, Any], winner: Any, comps: list[Comparison], ranking: list[str],
            leaders: list[str]) -> dict[str, Any]:
    row.update(winner=winner, comparisons=[c.as_dict() for c in comps], ranking=ranking, leaders=leaders)
    return row


def _quality_row(row: str, inp: RatingInput, cfg: RatingConfig) -> dict[str, Any]:
    metric = cfg.quality.get(row)
    info = inp.metric_info.get(metric or "", {})
    direction = info.get("direction") or "higher"
    anchor = inp.anchors.get(metric or "", {})
    problem = anchor.get("note") or anchor_problem(anchor.get("one_star"), anchor.get("five_star"), direction)
    series = {m: _series(inp, m, metric) for m in inp.models} if metric else {m: {} for m in inp.models}
    cells = {}
    for m in inp.models:
        vals = list(series[m].values())
        if not any(v is not None for v in vals):
            cells[m] = _cell([], None, f"{metric} was not scored" if metric else "no metric configured")
            continue
        cell = _cell(vals)
        score = None if problem else anchor_score(cell["value"], anchor["one_star"], anchor["five_star"])
        cell.update(score=score, stars=stars(score), note=f"no stars: {problem}" if problem else None)
        cells[m] = cell
    out = {"row": row, "kind": "quality", "metric": metric, "unit": _unit(metric, info), "direction": direction,
           "models": cells}
    if any(c["value"] is None for c in cells.values()):
        return _finish(out, None, [], [], [])
    return _finish(out, *_pairwise(inp, series, direction, cfg))


def _unit(metric: str | None, info: Mapping[str, Any]) -> str:
    lo, hi = info.get("low"), info.get("high")
    rng = f"{lo:g}–{hi:g}" if lo is not None and hi is not None else (f"≥ {lo:g}" if lo is not None else "")
    return ", ".join(x for x in (metric or "", rng, f"{info.get('direction', 'higher')} is better") if x)


def _cut_row(row: str, inp: RatingInput, cfg: RatingConfig) -> dict[str, Any]:
    kind, metric, unit = CUT_ROWS[row]
    cuts = cfg.cuts[metric]
    out: dict[str, Any] = {"row": row, "kind": kind, "metric": metric, "unit": unit, "direction": "lower",
                           "models": {}}
    if kind == "speed":
        series = {m: _series(inp, m, metric) for m in inp.models}
        for m in inp.models:
            cell = _cell(list(series[m].values()))
            score = cut_score(cell["value"], cuts)
            cell.update(score=score, stars=stars(score), note=None if cell["value"] is not None else "not measured")
            out["models"][m] = cell
        if any(c["value"] is None for c in out["models"].values()):
            return _finish(out, None, [], [], [])
        # Stories generated in one batch share its wall time: a model timed as a single batch has one
        # real measurement, not n, so a paired test would be pseudo-replication. Use the margin rule.
        if len(inp.models) > 1 and any(len({v for v in series[m].values() if v is not None}) < 2 for m in inp.models):
            out["note"] = ("a model's stories were timed as one batch (one measurement, not one per story): "
                           f"no paired test; a winner must be faster by more than {cfg.single_measurement_tolerance:.0%}")
            means = {m: out["models"][m]["value"] for m in inp.models}
            comps = [compare_single(a, b, means[a], means[b], cfg.single_measurement_tolerance)
                     for i, a in enumerate(inp.models) for b in inp.models[i + 1:]]
            return _finish(out, *rank(inp.models, comps)[:1], comps, *rank(inp.models, comps)[1:])
        return _finish(out, *_pairwise(inp, series, "lower", cfg))
    values: dict[str, float | None] = {}
    kinds = set()
    for m in inp.models:
        meas = inp.measurements.get(m, {})
        v = meas.get(metric)
        note = None
        if kind == "training" and v is None:
            note = "n/a: not fine-tuned by evalkit (no training record)"
        elif kind == "memory":
            mk = meas.get("memory_kind")
            kinds.add(mk)
            note = "not measurable (remote model)" if mk == "not measurable" else (
                f"{mk} peak" if mk and v is not None else "not measured")
            if mk == "not measurable":
                v = None
        values[m] = v
        score = cut_score(v, cuts)
        out["models"][m] = {"value": v, "ci_low": None, "ci_high": None, "n": 1 if v is not None else 0,
                            "stars": stars(score), "score": score, "note": note}
    if any(v is None for v in values.values()):
        return _finish(out, None, [], [], [])
    if kind == "memory" and len(kinds) > 1:
        out["note"] = "memory kinds differ (" + ", ".join(sorted(map(str, kinds))) + "): not comparable"
        return _finish(out, None, [], [], [])
    comps = [compare_single(a, b, values[a], values[b], cfg.single_measurement_tolerance)  # type: ignore[arg-type]
             for i, a in enumerate(inp.models) for b in inp.models[i + 1:]]
    if len(inp.models) < 2:
        return _finish(out, None, comps, list(inp.models), list(inp.models))
    return _finish(out, *rank(inp.models, comps)[:1], comps, *rank(inp.models, comps)[1:])


def overall_per_story(inp: RatingInput, cfg: RatingConfig, model: str) -> dict[str, float | None]:
    """Per story: the weighted mean of the quality rows' unrounded stars it has a value for."""
    usable = []
    for row in QUALITY_ROWS:
        metric, w = cfg.quality.get(row), cfg.weights.get(row, 0.0)
        a = inp.anchors.get(metric or "", {})
        direction = inp.metric_info.get(metric or "", {}).get("direction") or "higher"
        if metric and w > 0 and not a.get("note") and not anchor_problem(a.get("one_star"), a.get("five_star"), direction):
            usable.append((metric, w, a["one_star"], a["five_star"]))
    out: dict[str, float | None] = {}
    for item, scores in inp.per_story.get(model, {}).items():
        parts = [(w, anchor_score(scores.get(metric), lo, hi)) for metric, w, lo, hi in usable]
        parts = [(w, s) for w, s in parts if s is not None]
        wsum = math.fsum(w for w, _ in parts)
        out[item] = math.fsum(w * s for w, s in parts) / wsum if wsum > 0 else None
    return out


def _overall_row(inp: RatingInput, cfg: RatingConfig) -> dict[str, Any]:
    series = {m: overall_per_story(inp, cfg, m) for m in inp.models}
    out: dict[str, Any] = {"row": "Overall Quality", "kind": "overall", "metric": None,
                           "unit": "stars 1–5, weighted mean of the quality rows per story", "direction": "higher",
                           "models": {}}
    for m in inp.models:
        vals = [series[m].get(i) for i in inp.item_ids if i in series[m]]
        cell = _cell(vals)
        cell.update(score=cell["value"], stars=stars(cell["value"]),
                    note=None if cell["value"] is not None else "no quality row has stars")
        out["models"][m] = cell
    if any(c["value"] is None for c in out["models"].values()):
        return _finish(out, None, [], [], [])
    return _finish(out, *_pairwise(inp, series, "higher", cfg))
