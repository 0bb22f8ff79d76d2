"""The statistics every stage shares, on one resampler: the seeded bootstrap of a mean.

``resample_means`` draws whole clusters (the suite item a value came from) with replacement and returns
the mean of each resample; a cluster's values are averaged first, so several samples of one item count
as one item (issue 17). It sits under a run's per-metric interval (``mean_summary``), the winners test
(evalkit.significance: star table, regress, leaderboard, anchors check, Judge row), the judge's win-rate
interval (``paired_bootstrap_ci``) and validate's group bootstrap (``resample_indices``). One SEED.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

RESAMPLES = 10_000
SEED = 20240601
_DRAWS_AT_ONCE = 2_000_000  # values drawn per block: bounds memory at resamples x clusters


def mean_of(values: Sequence[float | None]) -> tuple[float | None, int]:
    """(mean of the finite values, how many), (None, 0) when there is none."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    return (math.fsum(xs) / len(xs) if xs else None), len(xs)


def item_means(samples: Mapping[str, Sequence[float | None]]) -> dict[str, float]:
    """Each item's mean over its finite samples (items with none are left out)."""
    out = {}
    for item, vals in samples.items():
        mean, n = mean_of(vals)
        if n:
            out[item] = mean
    return out


def cluster_means(values: Sequence[float], clusters: Sequence[Hashable] | None = None) -> list[float]:
    """The mean of each cluster's values, in the order clusters first appear (no clusters: the values)."""
    if clusters is None:
        return [float(v) for v in values]
    if len(clusters) != len(values):
        raise ValueError(f"{len(values)} values but {len(clusters)} cluster labels")
    groups: dict[Hashable, list[float]] = {}
    for v, c in zip(values, clusters):
        groups.setdefault(c, []).append(float(v))
    return [sum(g) / len(g) for g in groups.values()]


def _index_blocks(n: int, resamples: int, seed: int) -> Iterator[tuple[int, int, Any]]:
    """(first, last + 1, indices) blocks of the resamples x n draw with replacement from range(n); numpy's
    stream does not depend on the block size, so blocks only bound the memory."""
    rng = np.random.default_rng(seed)
    step = max(1, _DRAWS_AT_ONCE // max(1, n))
    for lo in range(0, resamples, step):
        hi = min(resamples, lo + step)
        yield lo, hi, rng.integers(0, n, size=(hi - lo, n))


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> Any:
    """resamples x n indices drawn with replacement from range(n) (validate's group counts)."""
    return np.vstack([idx for _, _, idx in _index_blocks(n, resamples, seed)])


def resample_means(values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED,
                   clusters: Sequence[Hashable] | None = None) -> Any:
    """Means of ``resamples`` bootstrap resamples of the values, whole clusters drawn with replacement
    (a cluster's values averaged first)."""
    d = np.asarray(cluster_means(values, clusters), dtype=float)
    out = np.empty(resamples)
    for lo, hi, idx in _index_blocks(d.size, resamples, seed):
        out[lo:hi] = d[idx].mean(axis=1)
    return out


def percentile_ci(means: Any, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of resampled means at ``confidence``."""
    alpha = 1 - confidence
    lo, hi = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def paired_bootstrap_ci(diffs: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED,
                        confidence: float = 0.95, clusters: Sequence[Hashable] | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean paired difference, resampling whole clusters (seeded)."""
    d = cluster_means(diffs, clusters)
    if all(v == d[0] for v in d):  # every resample has the same mean: the interval is that point
        return d[0], d[0]
    return percentile_ci(resample_means(d, resamples, seed), confidence)


def mean_summary(values: Sequence[float | None], seed: int = SEED, resamples: int = RESAMPLES) -> dict[str, Any]:
    """n, n_missing, mean, median and the percentile bootstrap 95% CI of the mean over the values that
    are not None (a run's per-metric aggregate)."""
    xs = np.array([v for v in values if v is not None], dtype=float)
    out: dict[str, Any] = {"n": int(xs.size), "n_missing": len(values) - int(xs.size)}
    if xs.size == 0:
        return out | {"mean": None, "median": None, "ci_low": None, "ci_high": None}
    lo, hi = np.percentile(resample_means(xs, resamples, seed), [2.5, 97.5])
    return out | {"mean": float(xs.mean()), "median": float(np.median(xs)), "ci_low": float(lo), "ci_high": float(hi)}

