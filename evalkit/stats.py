"""The statistics every stage shares: the seeded percentile bootstrap of a mean (a run's per-metric
interval) and of a mean paired difference (winners in rating, the regression gate).

Paired differences may carry a cluster per value (the suite item they came from): values of one cluster
are averaged first and whole clusters are resampled, so several samples per item count as one item
(issue 17). With one value per cluster this is the plain paired bootstrap.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

RESAMPLES = 10_000
SEED = 20240601


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


def paired_bootstrap_ci(diffs: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED,
                        confidence: float = 0.95, clusters: Sequence[Hashable] | None = None) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean paired difference, resampling whole clusters (scipy, seeded)."""
    import numpy as np
    from scipy.stats import bootstrap

    d = np.asarray(cluster_means(diffs, clusters), dtype=float)
    if np.all(d == d[0]):  # every resample has the same mean: the interval is that point
        return float(d[0]), float(d[0])
    res = bootstrap((d,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
                    vectorized=True, rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mean_summary(values: Sequence[float | None], seed: int = SEED, resamples: int = RESAMPLES) -> dict[str, Any]:
    """n, n_missing, mean, median and the percentile bootstrap 95% CI of the mean over the values that
    are not None (a run's per-metric aggregate; numpy resampling, seeded)."""
    import numpy as np

    xs = np.array([v for v in values if v is not None], dtype=float)
    out: dict[str, Any] = {"n": int(xs.size), "n_missing": len(values) - int(xs.size)}
    if xs.size == 0:
        return out | {"mean": None, "median": None, "ci_low": None, "ci_high": None}
    rng = np.random.default_rng(seed)
    means = xs[rng.integers(0, xs.size, size=(resamples, xs.size))].mean(axis=1)
    return out | {
        "mean": float(xs.mean()),
        "median": float(np.median(xs)),
        "ci_low": float(np.percentile(means, 2.5)),
        "ci_high": float(np.percentile(means, 97.5)),
    }
