"""Grouped cross-validation: anything fitted to ratings is measured on groups (prompts) it never saw.

``grouped_folds`` splits by group with scikit-learn's GroupKFold, so no prompt is on both sides.
``cross_validated_ridge`` fits a ridge combination of metrics inside each training part (the penalty
chosen by an inner grouped CV on that part only) and predicts the held-out part; the out-of-fold
predictions are what gets reported. ``fit_ridge`` refits on all the data for shipping weights: its
in-sample figures are never the headline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def grouped_folds(groups: Sequence[Any], k: int) -> list[tuple[Any, Any]]:
    """(train indices, test indices) per fold; every group lies wholly on one side of each fold."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(groups)
    n_groups = len(set(groups.tolist()))
    if k < 2 or k > n_groups:
        raise EvalkitError(f"--cv {k}: needs 2 <= K <= the number of groups ({n_groups})")
    return list(GroupKFold(n_splits=k).split(np.zeros(len(groups)), groups=groups))


def _standardize(X, mean=None, sd=None):
    if mean is None:
        mean = np.nanmean(X, axis=0)
        sd = np.nanstd(X, axis=0)
        mean, sd = np.nan_to_num(mean), np.where((sd > 0) & np.isfinite(sd), sd, 1.0)
    Z = (X - mean) / sd
    return np.nan_to_num(Z), mean, sd  # a missing part sits at the mean (contributes nothing)


def _choose_alpha(X, y, groups, k: int, alphas=ALPHAS) -> float:
    """The ridge penalty with the best mean out-of-fold Kendall tau, by grouped CV on (X, y) only."""
    from scipy.stats import kendalltau
    from sklearn.linear_model import Ridge

    n_groups = len(set(np.asarray(groups).tolist()))
    folds = grouped_folds(groups, min(k, n_groups))
    best, best_score = alphas[0], -np.inf
    for a in alphas:
        pred = np.full(len(y), np.nan)
        for tr, te in folds:
            Z, m, s = _standardize(X[tr])
            pred[te] = Ridge(alpha=a).fit(Z, y[tr]).predict(_standardize(X[te], m, s)[0])
        score = kendalltau(pred, y).statistic
        if score > best_score:
            best, best_score = a, score
    return float(best)


def cross_validated_ridge(X, y, groups, k: int, alphas=ALPHAS, fit_mask=None) -> tuple[Any, list[float]]:
    """Out-of-fold predictions for every row and the penalty chosen in each outer fold. Only rows in
    ``fit_mask`` (default: all) with a rating are fitted on; every row of a held-out group is predicted."""
    from sklearn.linear_model import Ridge

    X, y, groups = np.asarray(X, dtype=float), np.asarray(y, dtype=float), np.asarray(groups)
    fit_mask = np.ones(len(y), dtype=bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
    pred = np.full(len(y), np.nan)
    chosen = []
    for tr, te in grouped_folds(groups, k):
        tr = tr[np.isfinite(y[tr]) & fit_mask[tr]]
        a = _choose_alpha(X[tr], y[tr], groups[tr], k, alphas)
        Z, m, s = _standardize(X[tr])
        pred[te] = Ridge(alpha=a).fit(Z, y[tr]).predict(_standardize(X[te], m, s)[0])
        chosen.append(a)
    return pred, chosen


def fit_ridge(X, y, groups, k: int, alphas=ALPHAS) -> tuple[float, Any, Any, Any]:
    """Refit on all the data: (alpha chosen by grouped CV, weights per standardized feature, means, sds).
    A scorer ships these as sigmoid(sum w_i z_i / scale) with scale = the sd of sum w_i z_i (``linear_sd``)."""
    from sklearn.linear_model import Ridge

    X, y, groups = np.asarray(X, dtype=float), np.asarray(y, dtype=float), np.asarray(groups)
    ok = np.isfinite(y)
    a = _choose_alpha(X[ok], y[ok], groups[ok], k, alphas)
    Z, m, s = _standardize(X[ok])
    return a, Ridge(alpha=a).fit(Z, y[ok]).coef_, m, s


def linear_sd(X, weights, means, sds) -> float:
    """sd of the fitted combination's linear part over X (puts a shipped score's sigmoid on a unit scale)."""
    Z, _, _ = _standardize(np.asarray(X, dtype=float), means, sds)
    return float(np.std(Z @ np.asarray(weights)))
