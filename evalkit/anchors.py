"""The suite's anchors, scored in the scoring stage: the run's reference stories (5 stars) and degenerate
copies of them (1 star), scored with the run's own scorers and ScoringContext and stored in anchors.json,
so rating is pure numbers over stored records.

Degenerate kinds: looped (the first sentence repeated to the reference's length), shuffled (its sentences
in a seeded order), off_genre (another genre's reference under this prompt), copied (a train-split story).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.records import DEFAULT_KINDS, DEGENERATE_KINDS, AnchorScores, MeanValue
from evalkit.score_cache import ScoreCache
from evalkit.scorers.base import Scorer, ScoringContext, StoryInput
from evalkit.scorers.text import sentences
from evalkit.scoring import cached_score_stories
from evalkit.stats import mean_of

ANCHOR_SEED = 7


def looped(text: str) -> str:
    """The first sentence (or first eight words) repeated up to the text's own word count."""
    n = len(text.split())
    sents = sentences(text)
    unit = (sents[0] if len(sents) > 1 else " ".join(text.split()[:8])).split()
    if not unit:
        return ""
    return " ".join((unit * (n // len(unit) + 1))[:max(n, len(unit))])


def shuffled(text: str, seed: int | str) -> str:
    """The same sentences in a seeded random order (never the original order when it can differ)."""
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


def wanted_kinds(quality_metrics: Sequence[str], anchors_rule: Mapping[str, Sequence[str]]) -> list[str]:
    """Every degenerate kind the rating rules may average for a quality metric, in the canonical order."""
    wanted = kind_metrics(quality_metrics, anchors_rule)
    return [k for k in DEGENERATE_KINDS if k in wanted]


def kind_metrics(quality_metrics: Sequence[str], anchors_rule: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Degenerate kind -> the quality metrics whose 1-star level averages it (what must score that kind)."""
    out: dict[str, list[str]] = {}
    for m in quality_metrics:
        for k in anchors_rule.get(m, DEFAULT_KINDS):
            out.setdefault(k, []).append(m)
    return out


def score_anchors(items: Sequence[Any], pool: Sequence[Any], kinds: Sequence[str], scorers: Sequence[Scorer],
                  context: ScoringContext, suite_hash: str, split: str, seed: int = ANCHOR_SEED,
                  cache: ScoreCache | None = None, wanted: Mapping[str, Sequence[str]] | None = None) -> AnchorScores:
    """Score the references and their degenerate copies (each set in its own call, like one model's
    stories) and return the anchors.json record: per metric the references' mean, per kind its mean.
    ``cache``: the score cache the sets are scored through; None scores them all.
    ``wanted``: kind -> the metrics that need it (kind_metrics); a kind is scored only by the scorers of
    those metrics (the coherence LM reads the shuffled and looped copies, not the off-genre ones), and
    the record holds only their values for it. None: every scorer scores every kind."""
    refs = cached_score_stories([StoryInput.from_item(i, i.story) for i in items], scorers, context, cache)
    built = {k: v for k, v in degenerate_stories(items, pool, seed).items() if k in kinds}
    metrics = sorted({name for r in refs for name in r.values} | {name for s in scorers for name in (m.name for m in s.metrics)})
    scored, kind_names = {}, {}
    for k, stories in built.items():
        mine = [s for s in scorers if wanted is None or {m.name for m in s.metrics} & set(wanted.get(k, ()))]
        scored[k] = cached_score_stories(stories, mine, context, cache) if mine else []
        names = {name for r in scored[k] for name in r.values} | {m.name for s in mine for m in s.metrics}
        kind_names[k] = [m for m in metrics if m in names]
    references = {}
    for metric in metrics:
        mean, n = mean_of([r.values.get(metric) for r in refs])
        references[metric] = MeanValue(mean=mean, n=n)
    degenerate = {k: {m: mean_of([r.values.get(m) for r in res])[0] for m in kind_names[k]} for k, res in scored.items()}
    per_item = {"reference": _by_item(items, refs, metrics)}
    per_item.update({k: _by_item(built[k], res, kind_names[k]) for k, res in scored.items()})
    return AnchorScores(suite_hash=suite_hash, split=split, item_ids=[i.id for i in items], seed=seed,
                        kinds=list(kinds), references=references, degenerate=degenerate, per_item=per_item)


def _by_item(stories: Sequence[Any], results: Sequence[Any], metrics: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """metric -> item id -> value, for the paired check of references against degenerate copies."""
    return {m: {s.id: r.values.get(m) for s, r in zip(stories, results)} for m in metrics}
