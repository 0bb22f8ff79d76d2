"""The seed's eight rows (and the Judge preference row) as a rating.json document, from numbers only
(RatingInput), each built by its rule in evalkit.rating.rows.

Quality rows get their stars from each story's calibrated stars (``<metric>_stars``, written by the
scoring stage where a calibration exists), else linearly between the suite's anchors; a quality row
whose references do not beat their degenerate copies (``checks``) is "not informative": no stars, no
winner. Winners come from the cluster bootstrap (items = clusters), Holm-corrected over a row's pairs
with three or more models, and every row says the smallest difference it could have seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.judge.pairwise import outcome_value
from evalkit.rating.config import RatingConfig
from evalkit.rating.rows import (
    ANCHORS,
    CUT_ROWS,
    JUDGE_RULE,
    QUALITY_ROWS,
    RANDOM_WEIGHTS,
    ROWS,
    calibrated,
    calibrated_source,
    story_stars,
)
from evalkit.rating.stars import anchor_problem, anchor_score, cut_score, stars
from evalkit.rating.winners import (
    Comparison,
    compare_paired,
    compare_single,
    holm_row,
    rank,
    row_test_text,
)
from evalkit.records import RATING_SCHEMA
from evalkit.stats import mean_of, mean_summary

Story = dict[str, float | None]


@dataclass
class RatingInput:
    """Everything the table needs, as numbers. per_story[model][item] is one story's metrics, or a list
    of them (one per sample); checks[metric] is anchors.reference_check's verdict."""

    models: list[str]
    item_ids: list[str]
    per_story: dict[str, dict[str, Story | list[Story]]]
    measurements: dict[str, dict[str, Any]]  # label -> peak_memory_gb, memory_kind, training_hours; a model built
    # with random weights: weights = "random", seconds_per_story, and each figure's basis and error
    anchors: dict[str, dict[str, Any]]  # metric -> {one_star, five_star, n, ...}
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # summary.json "metrics"
    meta: dict[str, Any] = field(default_factory=dict)  # run_id, suite, split, created, device
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> references vs degenerate copies
    calibrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> what its stars came from

    def samples(self, model: str, item: str) -> list[Story]:
        got = self.per_story.get(model, {}).get(item)
        return [] if got is None else (got if isinstance(got, list) else [got])

    def random_weights(self, model: str) -> bool:
        """A model measured at its real shape with random values: no stories, its quality rows n/a."""
        return self.measurements.get(model, {}).get("weights") == "random"


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
    used = {r["metric"] for r in rows if calibrated(r.get("stars_from"))}
    out = {"schema": RATING_SCHEMA, **inp.meta,
           "weights": {r: cfg.weights[r] for r in QUALITY_ROWS if r in cfg.weights},
           "anchors": inp.anchors, "models": list(inp.models), "rules": cfg.describe(), "rows": rows,
           "samples": max([len(inp.samples(m, i)) for m in inp.models for i in inp.item_ids] or [1])}
    cals = {m: inp.calibrations[m] for m in sorted(used) if m in inp.calibrations}
    if cals:
        out["calibrations"] = cals
    return out


def _series(inp: RatingInput, model: str, metric: str) -> dict[str, list[float | None]]:
    """item -> the metric over the item's samples."""
    out = {}
    for i in inp.item_ids:
        got = inp.samples(model, i)
        if got:
            out[i] = [s.get(metric) for s in got]
    return out


def _item_means(series: Mapping[str, Sequence[float | None]]) -> list[float | None]:
    return [mean_of(vals)[0] for vals in series.values()]


def _n_stories(series: Mapping[str, Sequence[float | None]]) -> int:
    return sum(1 for vals in series.values() for v in vals if v is not None)


def _cell(values: Sequence[float | None], score: float | None = None, note: str | None = None,
          n: int | None = None) -> dict[str, Any]:
    agg = mean_summary(list(values))
    return {"value": agg["mean"], "ci_low": agg["ci_low"], "ci_high": agg["ci_high"],
            "n": agg["n"] if n is None else n, "stars": stars(score), "score": score, "note": note}


def _series_cell(series: Mapping[str, Sequence[float | None]]) -> dict[str, Any]:
    """Mean and CI over item means (an item's samples are one unit), n = stories."""
    return _cell(_item_means(series), n=_n_stories(series))


def _pairwise(inp: RatingInput, series: dict[str, dict[str, list[float | None]]], direction: str,
              cfg: RatingConfig, unit: str | None = None) -> tuple[Any, list[Comparison], list[str], list[str]]:
    comps = []
    for i, a in enumerate(inp.models):
        for b in inp.models[i + 1:]:
            c = compare_paired(a, b, series[a], series[b], inp.item_ids, direction, cfg, unit)
            if c is None:
                return None, comps, [], []
            comps.append(c)
    if len(inp.models) < 2:
        return None, comps, list(inp.models), list(inp.models)
    comps = holm_row(comps, direction, cfg)
    winner, ranking, leaders = rank(inp.models, comps)
    return winner, comps, ranking, leaders


def _finish(row: dict[str, Any], winner: Any, comps: list[Comparison], ranking: list[str],
            leaders: list[str], scale: float | None = None, unit: str = "★") -> dict[str, Any]:
    row.update(winner=winner, comparisons=[c.as_dict() for c in comps], ranking=ranking, leaders=leaders)
    if scale is not None:
        text, mde = row_test_text(comps, winner, leaders, scale, unit)
        if text:
            row.update(test=text, mde=mde)
    return row


def row_stars(inp: RatingInput, metric: str | None, direction: str) -> tuple[str | None, str | None]:
    """(how the row's stars are given, why it has none): calibrated when every model's stories carry
    ``<metric>_stars``, else the anchors; none when the references do not beat their degenerate copies
    or the anchors cannot rate."""
    if not metric:
        return None, "no metric configured"
    check = inp.checks.get(metric)
    if check is not None and not check.get("informative"):
        return None, check.get("reason") or "not informative on this suite"
    key = f"{metric}_stars"
    scored = [s for m in inp.models for i in inp.item_ids for s in inp.samples(m, i) if s.get(metric) is not None]
    if scored and all(s.get(key) is not None for s in scored):
        return calibrated_source(metric, inp.calibrations.get(metric, {})), None
    anchor = inp.anchors.get(metric, {})
    problem = anchor.get("note") or anchor_problem(anchor.get("one_star"), anchor.get("five_star"), direction)
    return (ANCHORS, None) if not problem else (None, problem)


def _quality_row(row: str, inp: RatingInput, cfg: RatingConfig) -> dict[str, Any]:
    metric = cfg.quality.get(row)
    info = inp.metric_info.get(metric or "", {})
    direction = info.get("direction") or "higher"
    anchor = inp.anchors.get(metric or "", {})
    how, problem = row_stars(inp, metric, direction)
    check = inp.checks.get(metric or "")
    series = {m: _series(inp, m, metric) for m in inp.models} if metric else {m: {} for m in inp.models}
    star_series = {m: _series(inp, m, f"{metric}_stars") for m in inp.models} if calibrated(how) else None
    cells = {}
    for m in inp.models:
        if inp.random_weights(m):
            cells[m] = _cell([], None, RANDOM_WEIGHTS)
            continue
        if not any(v is not None for vals in series[m].values() for v in vals):
            cells[m] = _cell([], None, f"{metric} was not scored" if metric else "no metric configured")
            continue
        cell = _series_cell(series[m])
        if star_series is not None:  # the mean of each story's calibrated stars (items weigh the same)
            score = _series_cell(star_series[m])["value"]
        elif how == ANCHORS:
            score = anchor_score(cell["value"], anchor["one_star"], anchor["five_star"])
        else:
            score = None
        cell.update(score=score, stars=stars(score), note=f"no stars: {problem}" if problem else None)
        cells[m] = cell
    out: dict[str, Any] = {"row": row, "kind": "quality", "metric": metric, "unit": _unit(metric, info),
                           "direction": direction, "models": cells}
    if how:
        out["stars_from"] = how
    if check is not None:
        out["check"] = check
    if check is not None and not check.get("informative"):
        out["note"] = check.get("reason")
        return _finish(out, None, [], [], [])  # not informative: no stars and no winner
    if any(c["value"] is None for c in cells.values()):
        return _finish(out, None, [], [], [])
    if star_series is not None:  # tested on the stars readers see
        return _finish(out, *_pairwise(inp, star_series, "higher", cfg, "★"), scale=1.0)
    scale = None
    if how == ANCHORS:  # stars are linear in the metric: the same test, its differences in stars
        scale = 4.0 / abs(anchor["five_star"] - anchor["one_star"])
    return _finish(out, *_pairwise(inp, series, direction, cfg), scale=scale)


def _unit(metric: str | None, info: Mapping[str, Any]) -> str:
    lo, hi = info.get("low"), info.get("high")
    rng = f"{lo:g}–{hi:g}" if lo is not None and hi is not None else (f"≥ {lo:g}" if lo is not None else "")
    return ", ".join(x for x in (metric or "", rng, f"{info.get('direction', 'higher')} is better") if x)


def _cut_row(row: str, inp: RatingInput, cfg: RatingConfig) -> dict[str, Any]:
    kind, metric, unit = CUT_ROWS[row]
    cuts = cfg.cuts[metric]
    out: dict[str, Any] = {"row": row, "kind": kind, "metric": metric, "unit": unit, "direction": "lower",
                           "models": {}}
    # a model with random weights wrote no stories: its speed is one capacity figure, rated as memory is
    if kind == "speed" and not any(inp.random_weights(m) for m in inp.models):
        series = {m: _series(inp, m, metric) for m in inp.models}
        for m in inp.models:
            cell = _series_cell(series[m])
            score = cut_score(cell["value"], cuts)
            cell.update(score=score, stars=stars(score), note=None if cell["value"] is not None else "not measured")
            out["models"][m] = cell
        if any(c["value"] is None for c in out["models"].values()):
            return _finish(out, None, [], [], [])
        # Stories generated in one batch share its wall time: a model timed as a single batch has one
        # real measurement, not n, so a paired test would be pseudo-replication. Use the margin rule.
        # With samples, each sample may be one batch: every item then has the same mean, still one reading.
        if len(inp.models) > 1 and any(len({round(v, 9) for v in _item_means(series[m]) if v is not None}) < 2
                                       for m in inp.models):
            out["note"] = ("a model's stories were timed as one batch (one measurement, not one per story): "
                           f"no paired test; a winner must be faster by more than {cfg.single_measurement_tolerance:.0%}")
            means = {m: out["models"][m]["value"] for m in inp.models}
            comps = [compare_single(a, b, means[a], means[b], cfg.single_measurement_tolerance)
                     for i, a in enumerate(inp.models) for b in inp.models[i + 1:]]
            return _finish(out, *rank(inp.models, comps)[:1], comps, *rank(inp.models, comps)[1:])
        return _finish(out, *_pairwise(inp, series, "lower", cfg), scale=1.0, unit=" s")
    values: dict[str, float | None] = {}
    kinds = set()
    for m in inp.models:
        meas = inp.measurements.get(m, {})
        v = meas.get(metric)
        note = None
        basis, error = _basis(meas, kind)
        if kind == "training" and v is None:
            note = ("n/a: no training projection (`evalkit finetune MODEL --random-weights --max-steps N` writes one)"
                    if inp.random_weights(m) else "n/a: not fine-tuned by evalkit (no training record)")
        elif kind == "speed" and v is None:
            note = "not measured"
        elif kind == "memory" and meas.get("memory_kind") == "computed":
            kinds.add("computed")
            note = "computed from tensor sizes: too little memory here to build the whole model"
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
                            "stars": stars(score), "score": score, "note": note,
                            **({"basis": basis, "error": error} if basis and v is not None else {})}
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


def _basis(meas: Mapping[str, Any], kind: str) -> tuple[str | None, float | None]:
    """How a random-weights model's figure on a cut row was obtained, and its standard error."""
    if meas.get("weights") != "random":
        return None, None
    if kind == "speed":
        return meas.get("seconds_per_story_basis") or meas.get("basis"), meas.get("seconds_per_story_error")
    if kind == "memory":
        return meas.get("memory_basis"), None
    return meas.get("training_basis"), meas.get("training_error")


def _story_parts(inp: RatingInput, cfg: RatingConfig) -> list[tuple[str, float, Any]]:
    """(metric, weight, story -> stars) of the quality rows that give stars."""
    usable = []
    for row in QUALITY_ROWS:
        metric, w = cfg.quality.get(row), cfg.weights.get(row, 0.0)
        direction = inp.metric_info.get(metric or "", {}).get("direction") or "higher"
        how, _ = row_stars(inp, metric, direction)
        if not metric or w <= 0 or how is None:
            continue
        usable.append((metric, w, lambda s, h=how, m=metric, a=inp.anchors.get(metric): story_stars(h, m, s, a)))
    return usable


def _story_overall(parts: list[tuple[str, float, Any]], story: Story) -> float | None:
    got = [(w, f(story)) for _, w, f in parts]
    got = [(w, s) for w, s in got if s is not None]
    wsum = math.fsum(w for w, _ in got)
    return math.fsum(w * s for w, s in got) / wsum if wsum > 0 else None


def overall_per_story(inp: RatingInput, cfg: RatingConfig, model: str) -> dict[str, float | None]:
    """Per item: the mean over its samples of each story's weighted mean of the quality rows' stars."""
    means = _item_means(_overall_series(inp, cfg, model))
    return dict(zip([i for i in inp.item_ids if inp.samples(model, i)], means))


def _overall_series(inp: RatingInput, cfg: RatingConfig, model: str) -> dict[str, list[float | None]]:
    parts = _story_parts(inp, cfg)
    return {i: [_story_overall(parts, s) for s in inp.samples(model, i)] for i in inp.item_ids if inp.samples(model, i)}


def _overall_row(inp: RatingInput, cfg: RatingConfig) -> dict[str, Any]:
    series = {m: _overall_series(inp, cfg, m) for m in inp.models}
    out: dict[str, Any] = {"row": "Overall Quality", "kind": "overall", "metric": None,
                           "unit": "stars 1–5, weighted mean of the quality rows per story", "direction": "higher",
                           "models": {}, "stars_from": "quality rows"}
    for m in inp.models:
        cell = _series_cell(series[m])
        cell.update(score=cell["value"], stars=stars(cell["value"]),
                    note=None if cell["value"] is not None else
                    RANDOM_WEIGHTS if inp.random_weights(m) else "no quality row has stars")
        out["models"][m] = cell
    out["per_item"] = {m: {i: list(v) for i, v in series[m].items()} for m in inp.models}
    if any(c["value"] is None for c in out["models"].values()):
        return _finish(out, None, [], [], [])
    return _finish(out, *_pairwise(inp, series, "higher", cfg), scale=1.0)


def judge_row(preferences: Sequence[Any], models: Sequence[str], cfg: RatingConfig, note: str) -> dict[str, Any]:
    """The Judge preference row (JUDGE_RULE): per model, the share of items the judge preferred its story
    over the other models' (both orders agreeing; a tie counts half); per pair, the star table's test on
    that pair's judgments (Holm over the pairs with three or more models). ``preferences``: judge.json's
    pairs (judge.pairwise.PreferenceRow). No stars: a win rate is relative to the other candidates."""
    shares: dict[str, dict[str, list[float]]] = {m: {} for m in models}
    comps = []
    for p in preferences:
        if p.model_a not in shares or p.model_b not in shares:
            continue
        done = [(j.item_id, outcome_value(j.outcome)) for j in p.judgments if j.outcome is not None]
        xa: dict[str, list[float]] = {}
        for item, v in done:
            xa.setdefault(item, []).append(v)
            shares[p.model_a].setdefault(item, []).append(v)
            shares[p.model_b].setdefault(item, []).append(1.0 - v)
        xb = {item: [1.0 - v for v in vs] for item, vs in xa.items()}
        c = compare_paired(p.model_a, p.model_b, xa, xb, list(xa), "higher", cfg)
        if c is not None:
            comps.append(c)
    cells = {}
    for m in models:
        per_item = _item_means(shares[m])
        cells[m] = (_cell(per_item, n=len(per_item)) if per_item
                    else _cell([], None, "the judge compared no story of this model"))
    out: dict[str, Any] = {"row": JUDGE_RULE.label, "kind": JUDGE_RULE.kind, "metric": JUDGE_RULE.metric,
                           "unit": JUDGE_RULE.unit, "direction": "higher", "models": cells, "note": note}
    complete = (len(models) >= 2 and all(c["value"] is not None for c in cells.values())
                and len(comps) == len(models) * (len(models) - 1) // 2)
    if not complete:
        return _finish(out, None, comps, [], [])
    comps = holm_row(comps, "higher", cfg)
    winner, ranking, leaders = rank(list(models), comps)
    return _finish(out, winner, comps, ranking, leaders, scale=1.0, unit="")
