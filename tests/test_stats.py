"""The shared statistics (evalkit/stats.py): paired and clustered bootstrap, per-metric intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.stats import cluster_means, mean_summary, paired_bootstrap_ci


def _numpy_percentile_ci(d: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_paired_bootstrap_agrees_with_a_plain_numpy_bootstrap() -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(0.3, 1.0, size=40)
    lo, hi = paired_bootstrap_ci(d.tolist(), 10_000, 20240601)
    ref_lo, ref_hi = _numpy_percentile_ci(d, 10_000, 99)
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert abs(lo - ref_lo) < 0.1 * se * 4 and abs(hi - ref_hi) < 0.1 * se * 4  # Monte Carlo noise only
    assert lo < d.mean() < hi
    assert paired_bootstrap_ci(d.tolist(), 10_000, 20240601) == (lo, hi)  # seeded: the same every time
    assert paired_bootstrap_ci([0.2] * 6, 10_000, 1) == (0.2, 0.2)  # all differences equal: a point


def test_clusters_average_their_samples_before_resampling() -> None:
    rng = np.random.default_rng(5)
    per_item = rng.normal(0.2, 1.0, size=12)
    diffs = [float(v + e) for v in per_item for e in (-0.1, 0.0, 0.1)]  # three samples per item
    items = [f"item{k}" for k in range(12) for _ in range(3)]
    assert cluster_means(diffs, items) == pytest.approx(per_item.tolist())
    assert paired_bootstrap_ci(diffs, 2_000, 7, clusters=items) == pytest.approx(
        paired_bootstrap_ci(cluster_means(diffs, items), 2_000, 7))
    # treating 36 correlated samples as independent stories gives a narrower (overconfident) interval
    lo, hi = paired_bootstrap_ci(diffs, 2_000, 7, clusters=items)
    lo_flat, hi_flat = paired_bootstrap_ci(diffs, 2_000, 7)
    assert hi_flat - lo_flat < hi - lo
    with pytest.raises(ValueError, match="cluster labels"):
        cluster_means([1.0, 2.0], ["a"])


def test_mean_summary_counts_missing_values_and_is_seeded() -> None:
    out = mean_summary([1.0, None, 3.0, 2.0])
    assert (out["n"], out["n_missing"], out["mean"], out["median"]) == (3, 1, 2.0, 2.0)
    assert out["ci_low"] < 2.0 < out["ci_high"] and mean_summary([1.0, None, 3.0, 2.0]) == out
    assert mean_summary([None])["mean"] is None
