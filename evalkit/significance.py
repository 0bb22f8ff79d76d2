"""The winners test: a cluster bootstrap over suite items (evalkit.stats' resampler), the smallest
difference the run could have detected, how many prompts (or samples) would resolve a tie, and
Holm's correction when several pairs are tested.

Data are per item and per sample: ``{item_id: [value of sample 0, sample 1, ...]}`` for one model.
The samples of an item are averaged inside the item, then items (the clusters) are resampled: the
items are the independent units, several stories of one prompt are not. The star table, regress, the
leaderboard's change test, the anchors check and the Judge row all decide with ``clustered_test``.

Minimum detectable difference (two-sided test at confidence 1-alpha, power 0.8):
MDE = (z_{1-alpha/2} + z_{0.8}) * SE, SE the bootstrap standard error of the mean item difference
(tests/test_significance.py checks it against a simulation). The per-item variance of the difference
splits into a between-item part (prompts differ) and a within-item part (samples of one prompt
differ): Var(d_item) = var_between + var_within / samples, which says whether more prompts or more
samples per prompt would shrink SE, and by how much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalkit.stats import RESAMPLES, SEED, item_means, percentile_ci, resample_means

POWER = 0.8

Samples = Mapping[str, Sequence[float | None]]  # item id -> one value per sample (None: not scorable)


def z_sum(confidence: float = 0.95, power: float = POWER) -> float:
    """z_{1-alpha/2} + z_{power}: 1.96 + 0.84 = 2.80 at 95% and 80% power."""
    nd = NormalDist()
    return nd.inv_cdf(1 - (1 - confidence) / 2) + nd.inv_cdf(power)


def item_differences(a: Samples, b: Samples, items: Sequence[str] | None = None) -> tuple[list[str], Any]:
    """(items both models scored, mean(a) - mean(b) per item), in ``items`` order when given."""
    ma, mb = item_means(a), item_means(b)
    order = [i for i in (items if items is not None else ma) if i in ma and i in mb]
    return order, np.array([ma[i] - mb[i] for i in order], dtype=float)


def within_variance(samples: Samples) -> tuple[float | None, float]:
    """(mean over items of the variance between an item's samples (ddof=1), mean samples per item);
    None when no item has two samples."""
    variances, counts = [], []
    for vals in samples.values():
        xs = [float(v) for v in vals if v is not None and math.isfinite(v)]
        if xs:
            counts.append(len(xs))
        if len(xs) >= 2:
            variances.append(float(np.var(xs, ddof=1)))
    mean_n = float(np.mean(counts)) if counts else 0.0
    return (float(np.mean(variances)) if variances else None), mean_n


def bootstrap_p(boot: Any) -> float:
    """Two-sided bootstrap p-value of 'mean difference = 0': twice the smaller tail at 0, with the
    +1 correction so it is never 0."""
    b = np.asarray(boot)
    tail = min(int((b <= 0).sum()), int((b >= 0).sum()))
    return min(1.0, 2 * (tail + 1) / (b.size + 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (step-down, monotone, capped at 1)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    m = len(pvalues)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


class ClusteredTest(BaseModel):
    """One pair of models on one row: the clustered bootstrap test and what the run could see."""

    model_config = ConfigDict(extra="forbid")

    a: str = Field(description="first model")
    b: str = Field(description="second model")
    diff: float = Field(description="mean over items of (item mean of a - item mean of b), in the row's unit")
    ci_low: float = Field(description="percentile bootstrap interval of diff, low end (at the stated confidence)")
    ci_high: float = Field(description="percentile bootstrap interval of diff, high end")
    se: float = Field(description="bootstrap standard error of diff (sd of the resampled means)")
    p: float = Field(description="two-sided bootstrap p-value of diff = 0")
    p_holm: float | None = Field(None, description="Holm-adjusted p over the pairs of the row; None when not adjusted")
    significant: bool = Field(description="p (or p_holm when set) below 1 - confidence")
    better: str | None = Field(None, description="the better model when significant, by the row's direction")
    n_items: int = Field(description="items (prompts) both models have a value for: the clusters")
    n_samples: float = Field(description="mean scorable samples per item (both models pooled)")
    mde: float = Field(description="smallest |diff| this run detects with 80% power at the confidence used")
    var_between: float | None = Field(None, description="variance of the true item difference across items")
    var_within: float | None = Field(None, description="variance of one sample's difference inside an item (a's + b's)")
    items_to_resolve: int | None = Field(None, description="items that would resolve |diff| at this many samples; "
                                         "None when already significant or diff is 0")
    samples_to_resolve: int | None = Field(None, description="samples per item that would resolve |diff| with these "
                                           "items; None when significant, unknown, or more samples cannot do it")


def clustered_test(a: str, b: str, xa: Samples, xb: Samples, direction: str = "higher",
                   items: Sequence[str] | None = None, confidence: float = 0.95, power: float = POWER,
                   resamples: int = RESAMPLES, seed: int = SEED) -> ClusteredTest | None:
    """Cluster bootstrap of the per-item difference a - b; None with fewer than two shared items."""
    order, d = item_differences(xa, xb, items)
    if d.size < 2:
        return None
    boot = resample_means(d, resamples, seed) if np.ptp(d) > 0 else np.full(resamples, d[0])
    alpha = 1 - confidence
    lo, hi = percentile_ci(boot, confidence)
    se = float(boot.std())
    p = bootstrap_p(boot)
    diff = float(d.mean())
    sig = p < alpha
    wa, na = within_variance({i: xa[i] for i in order})
    wb, nb = within_variance({i: xb[i] for i in order})
    n_s = (na + nb) / 2
    var_item = se ** 2 * d.size  # variance of one item's difference, as the bootstrap saw it
    vw = wa + wb if wa is not None and wb is not None else None
    vb = max(0.0, var_item - vw / n_s) if vw is not None else None
    t = ClusteredTest(a=a, b=b, diff=diff, ci_low=float(lo), ci_high=float(hi), se=se, p=p, significant=sig,
                      better=_better(a, b, diff, direction) if sig else None, n_items=int(d.size), n_samples=n_s,
                      mde=z_sum(confidence, power) * se, var_between=vb, var_within=vw)
    if not sig:
        t.items_to_resolve = items_needed(abs(diff), var_item, confidence, power)
        if vw is not None and vb is not None:
            t.samples_to_resolve = samples_needed(abs(diff), d.size, vb, vw, confidence, power)
    return t


def _better(a: str, b: str, diff: float, direction: str) -> str:
    return a if (diff > 0) == (direction == "higher") else b


def items_needed(delta: float, var_item: float, confidence: float = 0.95, power: float = POWER) -> int | None:
    """Items at which (z_{1-alpha/2} + z_power) * sqrt(var_item / n) = delta; None for delta 0."""
    if delta <= 0:
        return None
    return max(2, math.ceil(var_item * (z_sum(confidence, power) / delta) ** 2))


def samples_needed(delta: float, n_items: int, var_between: float, var_within: float,
                   confidence: float = 0.95, power: float = POWER) -> int | None:
    """Samples per item at which n_items resolve delta: (vb + vw / S) / n = (delta / z)^2.
    None when delta is 0 or the between-item variance alone is too large (more prompts are needed)."""
    if delta <= 0:
        return None
    room = n_items * (delta / z_sum(confidence, power)) ** 2 - var_between
    if room <= 0:
        return None
    return max(1, math.ceil(var_within / room))


def holm_adjust(tests: Sequence[ClusteredTest], direction: str = "higher", confidence: float = 0.95) -> list[ClusteredTest]:
    """The row's pairs with Holm-adjusted p-values; significance (and the better model) re-decided on them.
    Use when more than two models are compared (with two there is one pair and nothing to adjust).

    The detectable difference and the prompts/samples to resolve a tie are restated at the
    Bonferroni level 1 - (1 - confidence) / m, what Holm asks of its first pair: an upper bound."""
    m = len(tests)
    adjusted = holm([t.p for t in tests])
    strict = 1 - (1 - confidence) / max(1, m)
    out = []
    for t, p in zip(tests, adjusted):
        sig = p < 1 - confidence
        var_item = t.se ** 2 * t.n_items
        update: dict[str, Any] = {"p_holm": p, "significant": sig, "mde": z_sum(strict) * t.se,
                                  "better": _better(t.a, t.b, t.diff, direction) if sig else None,
                                  "items_to_resolve": None, "samples_to_resolve": None}
        if not sig:
            update["items_to_resolve"] = items_needed(abs(t.diff), var_item, strict)
            if t.var_between is not None and t.var_within is not None:
                update["samples_to_resolve"] = samples_needed(abs(t.diff), t.n_items, t.var_between, t.var_within, strict)
        out.append(t.model_copy(update=update))
    return out


# ---------------------------------------------------------------- words for the table

def fmt_diff(value: float, unit: str = "★") -> str:
    return f"{value:.2g}{unit}" if abs(value) < 0.1 else f"{value:.1f}{unit}"


def tie_text(t: ClusteredTest, unit: str = "★") -> str:
    """'tie: a difference under 0.4★ could not be seen with 10 prompts × 3 samples'."""
    samples = f"{t.n_samples:.0f}" if abs(t.n_samples - round(t.n_samples)) < 0.05 else f"{t.n_samples:.1f}"
    per = f" × {samples} sample{'s' if samples != '1' else ''}"
    if t.se == 0:
        return f"tie: the same on all {t.n_items} prompts{per}"
    return f"tie: a difference under {fmt_diff(t.mde, unit)} could not be seen with {t.n_items} prompts{per}"


def resolve_text(t: ClusteredTest) -> str:
    """'≈N prompts would resolve it' (and the samples alternative when more samples could)."""
    if t.items_to_resolve is None:
        return ""
    text = f"≈{t.items_to_resolve} prompts would resolve it"
    if t.samples_to_resolve is not None:
        text += f" (or ≈{t.samples_to_resolve} samples per prompt)"
    return text
