"""Grouped, nested cross-validation: anything fitted to ratings is measured on groups (prompts) it never saw.

``grouped_folds`` splits by group with scikit-learn's GroupKFold, so no prompt is on both sides.
``nested_ridge`` fits a ridge combination of metrics inside each outer training part, every choice made
there too: the configuration (which parts, which penalty) with the best inner grouped-CV Kendall tau on
that part only; the held-out part is predicted by that choice. The out-of-fold predictions are what gets
reported, with how many configurations were tried. ``fit_ridge`` refits on all the data for shipping
weights: its figures on the same data are in-sample and never reported as a headline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
DROP_ONE_MAX = 8  # up to this many parts, leaving each part out is a configuration too (chosen inside folds)


@dataclass(frozen=True)
class Config:
    """One configuration a nested CV may choose: the columns of X it combines and the ridge penalty."""

    columns: tuple[int, ...]
    alpha: float
    label: str = ""


@dataclass
class NestedFit:
    """Out-of-fold predictions and what each outer fold chose (inside its own training part)."""

    pred: Any
    chosen: list[Config] = field(default_factory=list)
    configurations: int = 0

    @property
    def alphas(self) -> list[float]:
        return [c.alpha for c in self.chosen]


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


def configurations(names: Sequence[str], alphas: Sequence[float] = ALPHAS, drop_one: bool | None = None) -> list[Config]:
    """Every penalty with all parts and, for a short list of parts (DROP_ONE_MAX), with each part left out."""
    everything = tuple(range(len(names)))
    subsets = [(everything, "all parts")]
    if drop_one is None:
        drop_one = 2 < len(names) <= DROP_ONE_MAX
    if drop_one:
        subsets += [(tuple(j for j in everything if j != i), f"without {n}") for i, n in enumerate(names)]
    return [Config(cols, float(a), f"{label}, alpha {a:g}") for cols, label in subsets for a in alphas]


def _fit_predict(X_tr, y_tr, X_te, config: Config):
    from sklearn.linear_model import Ridge

    cols = list(config.columns)
    Z, m, s = _standardize(X_tr[:, cols])
    return Ridge(alpha=config.alpha).fit(Z, y_tr).predict(_standardize(X_te[:, cols], m, s)[0])


def choose_config(X, y, groups, k: int, configs: Sequence[Config]) -> Config:
    """The configuration with the best out-of-fold Kendall tau, by grouped CV on (X, y) only."""
    from scipy.stats import kendalltau

    n_groups = len(set(np.asarray(groups).tolist()))
    folds = grouped_folds(groups, min(k, n_groups))
    best, best_score = configs[0], -np.inf
    for c in configs:
        pred = np.full(len(y), np.nan)
        for tr, te in folds:
            pred[te] = _fit_predict(X[tr], y[tr], X[te], c)
        score = kendalltau(pred, y).statistic
        if score > best_score:
            best, best_score = c, score
    return best


def nested_ridge(X, y, groups, k: int, configs: Sequence[Config] | None = None, fit_mask=None) -> NestedFit:
    """Out-of-fold predictions for every row, each outer fold's configuration chosen by an inner grouped
    CV on its training part only. Only rows in ``fit_mask`` (default: all) with a rating are fitted on;
    every row of a held-out group is predicted. Default configurations: every penalty of ALPHAS, all parts."""
    X, y, groups = np.asarray(X, dtype=float), np.asarray(y, dtype=float), np.asarray(groups)
    configs = list(configs) if configs else configurations([str(i) for i in range(X.shape[1])], drop_one=False)
    fit_mask = np.ones(len(y), dtype=bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
    out = NestedFit(np.full(len(y), np.nan), configurations=len(configs))
    for tr, te in grouped_folds(groups, k):
        tr = tr[np.isfinite(y[tr]) & fit_mask[tr]]
        c = choose_config(X[tr], y[tr], groups[tr], k, configs)
        out.pred[te] = _fit_predict(X[tr], y[tr], X[te], c)
        out.chosen.append(c)
    return out


def cross_validated_ridge(X, y, groups, k: int, alphas=ALPHAS, fit_mask=None) -> tuple[Any, list[float]]:
    """nested_ridge over the penalties of ``alphas`` with all parts: (out-of-fold predictions, the penalty
    each outer fold chose)."""
    n = np.asarray(X).shape[1]
    fit = nested_ridge(X, y, groups, k, configurations([str(i) for i in range(n)], alphas, drop_one=False), fit_mask)
    return fit.pred, fit.alphas


def refit(X, y, config: Config) -> tuple[Any, Any, Any]:
    """The configuration fitted on all rows with a rating: (weights per standardized feature, 0 for a part
    it leaves out; means; sds)."""
    from sklearn.linear_model import Ridge

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    Z, m, s = _standardize(X[ok])
    w = np.zeros(X.shape[1])
    w[list(config.columns)] = Ridge(alpha=config.alpha).fit(Z[:, list(config.columns)], y[ok]).coef_
    return w, m, s


def fit_ridge(X, y, groups, k: int, alphas=ALPHAS) -> tuple[float, Any, Any, Any]:
    """Refit on all the data for shipping: (alpha chosen by grouped CV, weights per standardized feature,
    means, sds). A scorer ships these as sigmoid(sum w_i z_i / scale) with scale = the sd of sum w_i z_i
    (``linear_sd``)."""
    X, y, groups = np.asarray(X, dtype=float), np.asarray(y, dtype=float), np.asarray(groups)
    ok = np.isfinite(y)
    c = choose_config(X[ok], y[ok], groups[ok], k, configurations([str(i) for i in range(X.shape[1])], alphas, drop_one=False))
    return (c.alpha, *refit(X, y, c))


def linear_sd(X, weights, means, sds) -> float:
    """sd of the fitted combination's linear part over X (puts a shipped score's sigmoid on a unit scale)."""
    Z, _, _ = _standardize(np.asarray(X, dtype=float), means, sds)
    return float(np.std(Z @ np.asarray(weights)))
