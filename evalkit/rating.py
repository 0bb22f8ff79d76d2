"""Stars, Overall Quality and honest winners: pure functions over numbers, then ``rate_run`` (at the
end) that reads a run folder, builds the suite's anchors from degenerate text and writes rating.json.

Star rules (defaults in evalkit/rating.toml, overridable per suite under [rating]):
- quality rows: linear between the suite's anchors (degenerate text = 1 star, the suite's own
  reference stories = 5 stars), clipped to 1..5;
- speed, memory, training time: fixed cut points, linear in log(value) between them;
- Overall Quality: per story, the weighted mean of the quality rows' (unrounded) stars.
Shown stars are rounded to half steps, an exact quarter rounding up (2.25 -> 2.5).
Winners: a paired bootstrap of the per-story difference (seeded); a row has a winner only when
one model beats every other with a 95% interval that excludes zero, otherwise "tie".
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError

RATING_SCHEMA = "evalkit.rating/1"
ROWS = ("Story Coherence", "Genre Adherence", "Creativity", "Vocabulary Richness",
        "Training Time", "Inference Speed", "Memory Efficiency", "Overall Quality")
QUALITY_ROWS = ROWS[:4]
CUT_ROWS = {"Training Time": ("training", "training_hours", "hours of fine-tuning"),
            "Inference Speed": ("speed", "seconds_per_story", "seconds per story"),
            "Memory Efficiency": ("memory", "peak_memory_gb", "GB peak memory")}
DEGENERATE_KINDS = ("looped", "shuffled", "off_genre", "copied")
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
    bootstrap_seed: int = 20240601
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


# ---------------------------------------------------------------- stars

def round_half(score: float) -> float:
    """Half steps; an exact quarter rounds up so equal inputs always land on the same star."""
    return math.floor(score * 2 + 0.5) / 2


def anchor_problem(one_star: float | None, five_star: float | None, direction: str | None = None) -> str | None:
    """Why a pair of anchors cannot rate, or None when it can."""
    if one_star is None or five_star is None or not (math.isfinite(one_star) and math.isfinite(five_star)):
        return "no anchor"
    if math.isclose(one_star, five_star, rel_tol=1e-9, abs_tol=1e-12):
        return "the anchors do not separate reference from degenerate text"
    if direction == "higher" and five_star < one_star or direction == "lower" and five_star > one_star:
        return "the metric scores degenerate text better than the reference stories"
    return None


def anchor_score(value: float | None, one_star: float | None, five_star: float | None) -> float | None:
    """Unrounded stars in [1, 5]: linear between the anchors (either direction), clipped."""
    if value is None or not math.isfinite(value) or anchor_problem(one_star, five_star):
        return None
    s = 1.0 + 4.0 * (value - one_star) / (five_star - one_star)  # type: ignore[operator]
    return min(5.0, max(1.0, s))


def cut_score(value: float | None, cuts: Sequence[float]) -> float | None:
    """Unrounded stars in [1, 5] for a lower-is-better measurement: linear in log(value) between
    the cut points (the values earning 5, 4, 3, 2, 1 stars)."""
    if value is None or not math.isfinite(value):
        return None
    if value <= cuts[0]:
        return 5.0
    if value >= cuts[-1]:
        return 1.0
    for i in range(len(cuts) - 1):
        lo, hi = cuts[i], cuts[i + 1]
        if value <= hi:
            return 5.0 - i - (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return 1.0  # unreachable: value < cuts[-1]


def stars(score: float | None) -> float | None:
    return None if score is None else round_half(score)


def render_stars(value: float | None, empty: str = "n/a") -> str:
    """★ per star, ½ for a half star: 3.5 -> '★★★½'."""
    if value is None:
        return empty
    full = int(value)
    return "★" * full + ("½" if value - full >= 0.5 else "")


# ---------------------------------------------------------------- paired tests

@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    diff: float  # mean of a - b, in the row's unit
    ci_low: float | None
    ci_high: float | None
    significant: bool
    better: str | None  # the better model when significant
    n: int  # paired stories (1 for a single measurement)

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "diff": self.diff, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "significant": self.significant, "better": self.better, "n": self.n}


def paired_bootstrap_ci(diffs: Sequence[float], resamples: int, seed: int,
                        confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean per-story difference (scipy, seeded)."""
    import numpy as np
    from scipy.stats import bootstrap

    d = np.asarray(diffs, dtype=float)
    if np.all(d == d[0]):  # every resample has the same mean: the interval is that point
        return float(d[0]), float(d[0])
    res = bootstrap((d,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
                    vectorized=True, rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _better(a: str, b: str, diff: float, direction: str) -> str:
    return a if (diff > 0) == (direction == "higher") else b


def compare_paired(a: str, b: str, xa: Mapping[str, float | None], xb: Mapping[str, float | None],
                   order: Sequence[str], direction: str, cfg: RatingConfig) -> Comparison | None:
    """Paired bootstrap over the stories both models have a value for; None when under two pairs."""
    pairs = [(xa[i], xb[i]) for i in order if xa.get(i) is not None and xb.get(i) is not None]
    if len(pairs) < 2:
        return None
    diffs = [p - q for p, q in pairs]  # type: ignore[operator]
    mean = math.fsum(diffs) / len(diffs)
    lo, hi = paired_bootstrap_ci(diffs, cfg.bootstrap_resamples, cfg.bootstrap_seed, cfg.confidence)
    sig = lo > 0 or hi < 0
    return Comparison(a, b, mean, lo, hi, sig, _better(a, b, mean, direction) if sig else None, len(pairs))


def compare_single(a: str, b: str, va: float, vb: float, tolerance: float) -> Comparison:
    """One measurement each (lower is better): a winner only beyond the relative tolerance."""
    diff = va - vb
    sig = abs(diff) > tolerance * max(abs(va), abs(vb))
    return Comparison(a, b, diff, None, None, sig, _better(a, b, diff, "lower") if sig else None, 1)


def rank(models: Sequence[str], comparisons: Sequence[Comparison]) -> tuple[str, list[str], list[str]]:
    """(winner or 'tie', ranking, leaders). The winner beats every other model significantly;
    leaders are the models no one beats; the ranking orders by significant wins minus losses."""
    wins = {m: 0 for m in models}
    losses = {m: 0 for m in models}
    for c in comparisons:
        if c.better:
            wins[c.better] += 1
            losses[c.b if c.better == c.a else c.a] += 1
    ranking = sorted(models, key=lambda m: (losses[m] - wins[m], models.index(m)))
    winner = next((m for m in models if wins[m] == len(models) - 1), "tie")
    return winner, ranking, [m for m in ranking if losses[m] == 0]


# ---------------------------------------------------------------- the table

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
    from evalkit.scoring import aggregate

    agg = aggregate(list(values))
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


# ---------------------------------------------------------------- degenerate text (the 1-star anchors)

def looped(text: str) -> str:
    """The first sentence (or first eight words) repeated up to the text's own word count."""
    from evalkit.scorers.text import sentences

    n = len(text.split())
    sents = sentences(text)
    unit = (sents[0] if len(sents) > 1 else " ".join(text.split()[:8])).split()
    if not unit:
        return ""
    return " ".join((unit * (n // len(unit) + 1))[:max(n, len(unit))])


def shuffled(text: str, seed: int | str) -> str:
    """The same sentences in a seeded random order (never the original order when it can differ)."""
    import random

    from evalkit.scorers.text import sentences

    sents = sentences(text)
    order = sents[:]
    random.Random(seed).shuffle(order)
    if order == sents and len(set(sents)) > 1:
        order = sents[1:] + sents[:1]
    return " ".join(order)


def degenerate_stories(items: Sequence[Any], pool: Sequence[Any], seed: int) -> dict[str, list[Any]]:
    """StoryInputs of each degenerate kind, each under the original item's prompt, genre and characters.

    off_genre: a reference story of another genre (same split when possible); copied: a train-split
    story verbatim. A kind the suite cannot build (one genre only, no train split) is left out."""
    import random

    from evalkit.scorers.base import StoryInput

    train = [p for p in pool if p.split == "train"]
    out: dict[str, list[Any]] = {k: [] for k in DEGENERATE_KINDS}
    for item in items:
        rng = random.Random(f"{seed}:{item.id}")  # str seeds are hashed with sha512: stable across runs
        out["looped"].append(StoryInput.from_item(item, looped(item.story)))
        out["shuffled"].append(StoryInput.from_item(item, shuffled(item.story, rng.random())))
        others = ([p for p in pool if p.genre != item.genre and p.split == item.split]
                  or [p for p in pool if p.genre != item.genre])
        if others:
            out["off_genre"].append(StoryInput.from_item(item, rng.choice(others).story))
        copies = [p for p in train if p.id != item.id]
        if copies:
            out["copied"].append(StoryInput.from_item(item, rng.choice(copies).story))
    return {k: v for k, v in out.items() if v}


def _mean(values: Sequence[float | None]) -> tuple[float | None, int]:
    xs = [v for v in values if v is not None and math.isfinite(v)]
    return (math.fsum(xs) / len(xs) if xs else None), len(xs)


def compute_anchors(items: Sequence[Any], pool: Sequence[Any], kinds_by_metric: Mapping[str, Sequence[str]],
                    scorers: Sequence[Any], context: Any, seed: int = 7) -> dict[str, dict[str, Any]]:
    """Score the references (5 stars) and their degenerate copies; one_star = the mean of the listed
    kinds' means. Each set is scored in its own call, like one model's stories."""
    from evalkit.scorers.base import StoryInput
    from evalkit.scoring import score_stories

    refs = score_stories([StoryInput.from_item(i, i.story) for i in items], scorers, context)
    wanted = {k for ks in kinds_by_metric.values() for k in ks}
    built = {k: v for k, v in degenerate_stories(items, pool, seed).items() if k in wanted}
    scored = {k: score_stories(v, scorers, context) for k, v in built.items()}
    anchors: dict[str, dict[str, Any]] = {}
    for metric, kinds in kinds_by_metric.items():
        five, n = _mean([r.values.get(metric) for r in refs])
        by_kind = {k: _mean([r.values.get(metric) for r in scored[k]])[0] for k in kinds if k in scored}
        by_kind = {k: v for k, v in by_kind.items() if v is not None}
        if five is None:
            continue  # no scorer produced this metric on the references
        entry: dict[str, Any] = {"one_star": math.fsum(by_kind.values()) / len(by_kind) if by_kind else None,
                                 "five_star": five, "n": n, "kinds": sorted(by_kind), "degenerate": by_kind}
        if not by_kind:
            entry["note"] = f"none of the degenerate kinds {', '.join(kinds)} could be built from this suite"
        anchors[metric] = entry
    return anchors


# ---------------------------------------------------------------- a run folder -> rating.json

def rate_run(run_dir: str | Path) -> dict[str, Any]:
    """Rate a scored run and write rating.json atomically. Anchors (and ``created``) stored by an
    earlier rating of the same run and suite version are reused, so a rerun writes identical bytes."""
    from evalkit.measure import device_line
    from evalkit.records import load_manifest, read_json, utcnow, write_json
    from evalkit.scoring import load_scores, measurements

    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir)
    if not (run_dir / "scores.jsonl").exists():
        raise EvalkitError(f"run {manifest.run_id} has no scores.jsonl: score it before rating it")
    problems: list[str] = []
    per_story: dict[str, dict[str, dict[str, float | None]]] = {}
    for rec in load_scores(run_dir, problems):  # the last record of a (model, item) wins
        per_story.setdefault(rec.model, {})[rec.item_id] = rec.scores
    summary = read_json(run_dir / "summary.json") if (run_dir / "summary.json").exists() else {}
    previous = _previous_rating(run_dir / "rating.json", manifest)
    suite, config_suite, suite_note = _run_suite(manifest)
    if config_suite is not None:
        cfg = load_rating_config(config_suite.config, str(config_suite.path / "suite.toml"))
    else:
        cfg = load_rating_config({"rating": (previous or {}).get("rules") or {}}, "rating.json rules")
    labels = [m.label for m in manifest.models]
    needed = sorted({m for m in cfg.quality.values()
                     if any(v.get(m) is not None for lab in labels for v in per_story.get(lab, {}).values())})
    info = _metric_info(summary, needed)
    anchors = _anchors(manifest, suite, suite_note, cfg, needed, previous)
    meas = summary.get("measurements") or {m.label: measurements(m) for m in manifest.models}
    meta = {"run_id": manifest.run_id, "suite": manifest.suite.name, "split": manifest.suite.split,
            "created": (previous or {}).get("created") or utcnow(), "device": device_line(manifest.hardware),
            "suite_hash": manifest.suite.hash, "n_items": len(manifest.suite.item_ids)}
    inp = RatingInput(labels, list(manifest.suite.item_ids), per_story, meas, anchors, info, meta)
    rating = rate(inp, cfg)
    if problems:
        rating["problems"] = problems
    write_json(run_dir / "rating.json", rating)
    return rating


def _previous_rating(path: Path, manifest: Any) -> dict[str, Any] | None:
    import json

    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (isinstance(old, dict) and old.get("schema") == RATING_SCHEMA and old.get("run_id") == manifest.run_id
            and old.get("suite_hash") == manifest.suite.hash and old.get("split") == manifest.suite.split)
    return old if same else None


def _run_suite(manifest: Any) -> tuple[Any, Any, str | None]:
    """(the suite for anchors: only the version the run used; the suite for [rating]; why no anchors)."""
    from evalkit.suites import find_run_suite

    exact, found = find_run_suite(manifest.suite.path, manifest.suite.name, manifest.suite.hash)
    if exact is not None:
        return exact, exact, None
    why = "changed since the run" if found else "was not found"
    return None, found, f"suite {manifest.suite.name!r} {why} and no earlier rating of this run stored anchors"


def _metric_info(summary: Mapping[str, Any], needed: Sequence[str]) -> dict[str, dict[str, Any]]:
    """summary.json's metric table, completed from the scorer classes for metrics it lacks."""
    from evalkit.scoring import SPEED_METRICS, _scorer_entry_points

    def row(m: Any) -> dict[str, Any]:
        return {"direction": m.direction, "low": m.low, "high": m.high, "description": m.description}

    info = {m.name: row(m) for m in SPEED_METRICS}
    info.update(summary.get("metrics") or {})
    if set(needed) - set(info):
        for ep in _scorer_entry_points().values():
            try:
                info.update({m.name: row(m) for m in ep.load().metrics if m.name not in info})
            except Exception:  # a scorer not installed or not written yet: its rows stay n/a
                continue
    return info


def _anchors(manifest: Any, suite: Any, suite_note: str | None, cfg: RatingConfig, needed: Sequence[str],
             previous: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    stored = (previous or {}).get("anchors") or {}
    old_kinds = ((previous or {}).get("rules") or {}).get("anchors") or {}
    default_kinds = ("looped", "shuffled", "off_genre")
    kinds = {m: tuple(cfg.anchors.get(m, default_kinds)) for m in needed}
    # reuse only anchors built under the same degenerate kinds (a suite may change its rules)
    anchors = {m: stored[m] for m in needed if m in stored and stored[m].get("one_star") is not None
               and tuple(old_kinds.get(m, default_kinds)) == kinds[m]}
    missing = [m for m in needed if m not in anchors]
    if missing and suite is None:
        anchors.update({m: {"one_star": None, "five_star": None, "n": 0, "note": suite_note} for m in missing})
    elif missing:
        from evalkit.scorers.base import ScoringContext
        from evalkit.scoring import _scorer_entry_points

        scorers = []
        for _, ep in sorted(_scorer_entry_points().items()):
            try:
                cls = ep.load()
                if {m.name for m in cls.metrics} & set(missing):
                    scorers.append(cls())
            except Exception:  # not installed or not written yet: the row shows n/a
                continue
        ids = set(manifest.suite.item_ids)
        items = [i for i in suite.items if i.id in ids]
        if scorers and items:
            anchors.update(compute_anchors(items, suite.items, {m: kinds[m] for m in missing}, scorers,
                                           ScoringContext(suite=suite)))
        for m in missing:
            anchors.setdefault(m, {"one_star": None, "five_star": None, "n": 0,
                                   "note": f"no installed scorer scored {m} on the reference stories"})
    return {m: anchors[m] for m in sorted(anchors)}
