"""Group-bootstrap statistics: point estimates equal scipy's; intervals behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from evalkit.validate.stats import agreement, group_draws, system_rank


@pytest.fixture()
def data():
    rng = np.random.default_rng(3)
    n_groups, n_sys = 12, 6
    group = np.repeat([f"p{g}" for g in range(n_groups)], n_sys)
    system = np.tile([f"s{k}" for k in range(n_sys)], n_groups)
    rating = rng.integers(1, 6, group.size).astype(float)  # ties, like real 1-5 ratings
    metric = rating + rng.normal(0, 1.5, group.size)
    length = rng.integers(50, 400, group.size).astype(float)
    perm = rng.permutation(group.size)  # stories in no particular order
    return metric[perm], rating[perm], system[perm], group[perm], length[perm]


def test_point_estimates_equal_scipy(data):
    x, y, s, g, z = data
    a = agreement(x, y, s, g, length=z, boot=100)
    assert a.pooled_tau.value == pytest.approx(kendalltau(x, y).statistic)
    assert a.pooled_spearman.value == pytest.approx(spearmanr(x, y).statistic)
    per = [kendalltau(x[g == k], y[g == k]).statistic for k in sorted(set(g))]
    assert a.group_tau.value == pytest.approx(np.nanmean(per))
    means = pd.DataFrame({"x": x, "y": y, "s": s}).groupby("s").mean()
    assert a.system_tau.value == pytest.approx(kendalltau(means.x, means.y).statistic)
    assert a.system_spearman.value == pytest.approx(spearmanr(means.x, means.y).statistic)
    txy, txz, tyz = kendalltau(x, y).statistic, kendalltau(x, z).statistic, kendalltau(y, z).statistic
    partial = (txy - txz * tyz) / np.sqrt((1 - txz ** 2) * (1 - tyz ** 2))
    assert a.pooled_tau_length_partialled.value == pytest.approx(partial)
    assert a.n_stories == 72 and a.n_groups == 12 and a.n_systems == 6
    for e in (a.pooled_tau, a.group_tau, a.system_tau, a.pooled_spearman):
        assert e.low <= e.value <= e.high


def test_bootstrap_matches_a_naive_resample_of_groups(data):
    x, y, s, g, _ = data
    groups = sorted(set(g))
    counts = group_draws(len(groups), boot=20, seed=11)
    a = agreement(x, y, s, g, boot=20, seed=11)
    naive = []
    for row in counts:
        idx = np.concatenate([np.flatnonzero(g == groups[k]) for k in range(len(groups)) for _ in range(int(row[k]))])
        naive.append(kendalltau(x[idx], y[idx]).statistic)
    # the quadratic-form shortcut gives exactly the tau of each resampled set of stories
    assert a.pooled_tau.low == pytest.approx(np.percentile(naive, 2.5))
    assert a.pooled_tau.high == pytest.approx(np.percentile(naive, 97.5))


def test_missing_values_are_left_out_and_ranks(data):
    x, y, s, g, _ = data
    x = x.copy()
    x[:5] = np.nan
    a = agreement(x, y, s, g, boot=50)
    assert a.n_stories == 67
    assert system_rank([1, 2, 3, 9], ["a", "b", "c", "h"], "h") == 1
    assert system_rank([1, 2, 3, 9], ["a", "b", "c", "h"], "h", higher_is_better=False) == 4
