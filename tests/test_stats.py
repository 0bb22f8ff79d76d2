"""The shared statistics (evalkit/stats.py): the one resampler, paired and clustered intervals, per-metric intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.stats import SEED, cluster_means, mean_summary, paired_bootstrap_ci, resample_indices, resample_means


def _numpy_percentile_ci(d: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_paired_bootstrap_agrees_with_a_plain_numpy_bootstrap() -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(0.3, 1.0, size=40)
    lo, hi = paired_bootstrap_ci(d.tolist(), 10_000, SEED)
    assert (lo, hi) == pytest.approx(_numpy_percentile_ci(d, 10_000, SEED), abs=1e-12)  # the same draws
    ref_lo, ref_hi = _numpy_percentile_ci(d, 10_000, 99)
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert abs(lo - ref_lo) < 0.1 * se * 4 and abs(hi - ref_hi) < 0.1 * se * 4  # another seed: Monte Carlo noise only
    assert lo < d.mean() < hi
    assert paired_bootstrap_ci(d.tolist(), 10_000, SEED) == (lo, hi)  # seeded: the same every time
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


def test_one_resampler_draws_in_blocks_as_in_one_draw_and_resamples_whole_clusters() -> None:
    d = np.random.default_rng(2).normal(size=3001)  # 3001 values: the 10,000 resamples come in blocks
    rng = np.random.default_rng(SEED)
    whole = d[rng.integers(0, d.size, size=(10_000, d.size))].mean(axis=1)
    assert np.array_equal(resample_means(d), whole)
    assert np.array_equal(resample_indices(d.size, 300), np.random.default_rng(SEED).integers(0, d.size, (300, d.size)))
    values, items = [1.0, 3.0, 10.0, 0.0, 2.0], ["a", "a", "b", "c", "c"]
    assert np.array_equal(resample_means(values, 500, 4, clusters=items), resample_means([2.0, 10.0, 1.0], 500, 4))
