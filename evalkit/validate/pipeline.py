"""``evalkit validate`` as a library: score rated stories (through the score cache), then measure each
metric against each criterion, and cross-validate fitted combinations when asked."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from evalkit.records import utcnow
from evalkit.score_cache import ScoreCache
from evalkit.scorers.base import Scorer, ScoringContext, StoryInput
from evalkit.scorers.text import clean, words
from evalkit.scoring import cached_score_stories
from evalkit.validate.crossval import choose_config, configurations, linear_sd, nested_ridge, refit
from evalkit.validate.ratings import Ratings
from evalkit.validate.record import FittedCombination, MetricResult, ValidationRecord
from evalkit.validate.stats import BOOTSTRAP, SEED, agreement, system_rank

LENGTH = "n_words"


def score_ratings(ratings: Ratings, scorers: Sequence[Scorer], context: ScoringContext,
                  cache_dir: str | Path | None, progress: Callable[[str, int], None] | None = None,
                  advance: Callable[[int], None] | None = None):
    """One column per metric, aligned with ``ratings.frame`` (plus n_words). Each system's stories are
    scored together: corpus scorers compare a story with the other stories of its system. ``progress``
    hears of each system done, ``advance(n)`` of n more stories done (a progress bar)."""
    import pandas as pd

    frame = ratings.frame
    cache = ScoreCache(cache_dir) if cache_dir is not None else None
    columns: dict[str, Any] = {}
    for system, idx in frame.groupby("system", sort=True).indices.items():
        rows = frame.iloc[idx]
        stories = [StoryInput(text=r.story, id=str(r.id), prompt=r.prompt or "") for r in rows.itertuples()]
        results = cached_score_stories(stories, scorers, context, cache, progress=advance)
        for i, r in zip(idx, results):
            for k, v in r.values.items():
                columns.setdefault(k, np.full(len(frame), np.nan))[i] = np.nan if v is None else v
        if progress:
            progress(str(system), len(idx))
    out = pd.DataFrame(columns, index=frame.index)
    out[LENGTH] = [len(words(clean(t))) for t in frame["story"]]
    return out


def _fit_sets(scorers: Sequence[Scorer], scores) -> dict[str, list[str]]:
    """The combinations to fit: each scorer's metrics (2 or more), and every metric together."""
    sets: dict[str, list[str]] = {}
    usable = [c for c in scores.columns if scores[c].notna().mean() > 0.5 and scores[c].nunique() > 1]
    for s in scorers:
        derived = {s.name, *getattr(s, "derived", ())}  # fit on measured parts, never on the shipped mix
        # a scorer's mix_parts: the parts its shipped mix combines (default: every metric it measures)
        candidates = getattr(s, "mix_parts", None) or [m.name for m in s.metrics]
        names = [n for n in candidates if n in usable and n not in derived]
        if len(names) >= 2:
            sets[s.name] = names
    if len(sets) > 1 or not sets:
        # shipped mixes stay out here too: their weights may have been fitted on this very file (a leak)
        mixes = {d for s in scorers for d in getattr(s, "derived", ())}
        every = [c for c in usable if c != LENGTH and c not in mixes]
        if len(every) >= 2:
            sets["all"] = every
    return sets


def measure(ratings: Ratings, scores, directions: dict[str, str], boot: int = BOOTSTRAP, seed: int = SEED,
            cv: int | None = None, scorers: Sequence[Scorer] = (), extra: dict[str, Any] | None = None) -> ValidationRecord:
    frame = ratings.frame
    human = ratings.human_system
    machine = (frame["system"] != human).to_numpy() if human else np.ones(len(frame), dtype=bool)
    system, group = frame["system"].to_numpy(), frame["group"].to_numpy()
    length = scores[LENGTH].to_numpy(float)
    metrics = [c for c in scores.columns if scores[c].notna().any()]
    targets: list[tuple[str, str, Any, bool]] = [(m, c, scores[m].to_numpy(float), False)
                                               for c in ratings.criteria for m in metrics]
    fitted: list[FittedCombination] = []
    if cv:
        for c in ratings.criteria:
            y = frame[c].to_numpy(float)
            for set_name, feats in _fit_sets(scorers, scores).items():
                X = scores[feats].to_numpy(float)
                configs = configurations(feats)
                # fitted on machine stories only, every choice inside the outer training part; every story
                # of a held-out prompt (human too) is predicted
                nested = nested_ridge(X, y, group, cv, configs, fit_mask=machine)
                name = f"cv:{set_name}:{c}"
                ok = machine & np.isfinite(y)
                full = choose_config(X[ok], y[ok], group[ok], cv, configs)  # the shipped refit's choice
                w, m, s = refit(X[machine], y[machine], full)
                fitted.append(FittedCombination(
                    name=name, criterion=c, features=feats, folds=cv, alphas=nested.alphas,
                    configurations=nested.configurations, chosen=[k.label for k in nested.chosen],
                    full_fit_alpha=full.alpha, full_fit_config=full.label,
                    full_fit_weights=dict(zip(feats, map(float, w))), full_fit_means=dict(zip(feats, map(float, m))),
                    full_fit_sds=dict(zip(feats, map(float, s))), full_fit_scale=linear_sd(X[machine], w, m, s)))
                directions[name] = "higher"
                targets.append((name, c, nested.pred, True))
    # metrics whose shipped weights were fitted on this very file: their figures here are in-sample (a
    # scorer's derived mixes; its measured parts are not fitted; without ``derived``, all its metrics)
    fitted_here = {n for s in scorers if getattr(s, "fitted_on", None) and Path(ratings.source).name == s.fitted_on
                   for n in (getattr(s, "derived", None) or [m.name for m in s.metrics])}
    results = []
    for name, crit, values, is_cv in targets:
        rating = frame[crit].to_numpy(float)
        higher = directions.get(name, "higher") != "lower"
        res = MetricResult(
            metric=name, criterion=crit, direction=directions.get(name, "none"), cross_validated=is_cv,
            in_sample=name in fitted_here and not is_cv,
            machine=agreement(values[machine], rating[machine], system[machine], group[machine], length[machine], boot, seed),
        )
        if human:  # (length partialled out on machine stories only)
            res.with_human = agreement(values, rating, system, group, None, boot, seed)
            res.human_rank = system_rank(values, system, human, higher)
            res.people_rank_human = system_rank(rating, system, human, True)
        results.append(res)
    return ValidationRecord(
        source=ratings.source, n_stories=len(frame), n_groups=ratings.n_groups, systems=ratings.systems,
        human_system=human, criteria=ratings.criteria, scorers={}, bootstrap=boot, seed=seed, cv_folds=cv,
        results=results, fitted=fitted, scoring_s=0.0, created=utcnow(), **(extra or {}))


def validate(ratings: Ratings, scorers: Sequence[Scorer], context: ScoringContext, cache_dir: str | Path | None,
             boot: int = BOOTSTRAP, seed: int = SEED, cv: int | None = None, progress=None,
             advance: Callable[[int], None] | None = None) -> tuple[ValidationRecord, Any]:
    """Score and measure; returns the record and the per-story scores (a DataFrame)."""
    t = time.perf_counter()
    scores = score_ratings(ratings, scorers, context, cache_dir, progress, advance)
    scoring_s = time.perf_counter() - t
    directions = {m.name: m.direction for s in scorers for m in s.metrics}
    directions[LENGTH] = "none"

    t = time.perf_counter()
    with threadpool_limits(1):  # small matrices: BLAS threads only contend on a shared machine
        rec = measure(ratings, scores, directions, boot, seed, cv, scorers)
    rec.statistics_s = time.perf_counter() - t
    rec.scorers = {s.name: s.cache_identity(context) for s in scorers}
    rec.scoring_s = scoring_s
    rec.cache_dir = None if cache_dir is None else str(cache_dir)
    return rec, scores
