"""Honest winners: a paired bootstrap per pair of models (one value each: a relative margin), then
the model that beats every other, or 'tie'."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.rating.config import RatingConfig
from evalkit.stats import paired_bootstrap_ci


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
