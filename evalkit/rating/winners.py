"""Honest winners: per pair of models the cluster bootstrap of evalkit.significance (suite items are the
clusters, the samples of an item averaged inside it), Holm's correction over a row's pairs when more
than two models are compared, then the model that beats every other, or 'tie' with what the run could
have seen. The same ``clustered_test`` decides regress's quality and speed checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.rating.config import RatingConfig
from evalkit.significance import (
    clustered_test,
    fmt_diff,
    holm_adjust,
    resolve_text,
    tie_text,
)

Values = Mapping[str, float | None | Sequence[float | None]]  # item -> one value, or one per sample


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    diff: float  # mean over items of a - b, in the test's unit
    ci_low: float | None
    ci_high: float | None
    significant: bool
    better: str | None  # the better model when significant
    n: int  # paired items (1 for a single measurement)
    test: Any = field(default=None, compare=False)  # the significance.ClusteredTest behind it (None: margin rule)
    unit: str | None = None  # the test's unit when it is not the row's (★ for calibrated rows)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"a": self.a, "b": self.b, "diff": self.diff, "ci_low": self.ci_low,
                               "ci_high": self.ci_high, "significant": self.significant, "better": self.better,
                               "n": self.n}
        t = self.test
        if t is not None:
            out |= {"p": t.p, "p_holm": t.p_holm, "se": t.se, "mde": t.mde, "n_samples": t.n_samples,
                    "items_to_resolve": t.items_to_resolve, "samples_to_resolve": t.samples_to_resolve}
        if self.unit:
            out["unit"] = self.unit
        return out


def as_samples(values: Values) -> dict[str, list[float | None]]:
    """item -> its samples' values (a single value is one sample)."""
    return {i: (list(v) if isinstance(v, (list, tuple)) else [v]) for i, v in values.items()}


def from_test(t: Any, unit: str | None = None) -> Comparison:
    return Comparison(t.a, t.b, t.diff, t.ci_low, t.ci_high, t.significant, t.better, t.n_items, t, unit)


def compare_paired(a: str, b: str, xa: Values, xb: Values, order: Sequence[str], direction: str,
                   cfg: RatingConfig, unit: str | None = None) -> Comparison | None:
    """Cluster bootstrap over the items both models have a value for; None when under two items."""
    t = clustered_test(a, b, as_samples(xa), as_samples(xb), direction, items=list(order),
                       confidence=cfg.confidence, resamples=cfg.bootstrap_resamples, seed=cfg.bootstrap_seed)
    return None if t is None else from_test(t, unit)


def holm_row(comps: Sequence[Comparison], direction: str, cfg: RatingConfig) -> list[Comparison]:
    """Holm-adjusted significance over a row's pairs (only with more than one pair: 3+ models)."""
    if len(comps) < 2 or any(c.test is None for c in comps):
        return list(comps)
    tests = holm_adjust([c.test for c in comps], direction, cfg.confidence)
    return [from_test(t, c.unit) for c, t in zip(comps, tests)]


def compare_single(a: str, b: str, va: float, vb: float, tolerance: float) -> Comparison:
    """One measurement each (lower is better): a winner only beyond the relative tolerance."""
    diff = va - vb
    sig = abs(diff) > tolerance * max(abs(va), abs(vb))
    return Comparison(a, b, diff, None, None, sig, _better(a, b, diff, "lower") if sig else None, 1)


def _better(a: str, b: str, diff: float, direction: str) -> str:
    return a if (diff > 0) == (direction == "higher") else b


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


def row_test_text(comps: Sequence[Comparison], winner: str | None, leaders: Sequence[str], scale: float = 1.0,
              unit: str = "★") -> tuple[str | None, float | None]:
    """(the row's test in words, its detectable difference in ``unit``). ``scale`` converts the test's
    unit into ``unit`` (anchor rows: stars per metric unit; 1 when the test ran on stars)."""
    tested = [c for c in comps if c.test is not None]
    if not tested or winner is None:
        return None, None
    scaled = [c.test.model_copy(update={"diff": c.diff * scale, "se": c.test.se * scale, "mde": c.test.mde * scale})
              for c in tested]
    mde = max(t.mde for t in scaled)
    holm = " (Holm-corrected over the row's pairs)" if any(t.p_holm is not None for t in scaled) else ""
    if winner != "tie":
        t = max(scaled, key=lambda t: t.mde)
        per = f"{t.n_items} prompts × {t.n_samples:.3g} sample{'s' if round(t.n_samples, 3) != 1 else ''}"
        return f"{winner} wins{holm}; differences under {fmt_diff(mde, unit)} could not be seen with {per}", mde
    among = [t for t in scaled if not t.significant and (t.a in leaders and t.b in leaders or not leaders)] or scaled
    t = min(among, key=lambda t: t.p_holm if t.p_holm is not None else t.p)
    who = f" ({t.a} vs {t.b})" if len(comps) > 1 else ""
    text = f"{tie_text(t, unit)}{who}; the measured difference is {fmt_diff(abs(t.diff), unit)}{holm}"
    more = resolve_text(t)
    return text + (f"; {more}" if more else ""), mde
