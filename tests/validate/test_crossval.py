"""Grouped cross-validation: no prompt on both sides, and held-out ratings never reach the fit."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.errors import EvalkitError
from evalkit.validate.crossval import cross_validated_ridge, fit_ridge, grouped_folds


def _data(seed=0, n_groups=10, per=6):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"prompt{g}" for g in range(n_groups)], per)
    X = rng.normal(size=(groups.size, 3))
    y = 2 * X[:, 0] - X[:, 1] + rng.normal(0, 0.3, groups.size)
    return X, y, groups


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_no_group_on_both_sides(k):
    _, _, groups = _data()
    folds = grouped_folds(groups, k)
    assert len(folds) == k
    seen = []
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == groups.size
        seen += list(test)
    assert sorted(seen) == list(range(groups.size))  # every story is held out exactly once


def test_bad_k_is_a_user_error():
    _, _, groups = _data()
    with pytest.raises(EvalkitError, match="--cv 11"):
        grouped_folds(groups, 11)


def test_held_out_ratings_never_reach_the_fit():
    X, y, groups = _data()
    pred, alphas = cross_validated_ridge(X, y, groups, 5)
    assert len(alphas) == 5 and np.corrcoef(pred, y)[0, 1] > 0.9
    _, test = grouped_folds(groups, 5)[0]
    y2 = y.copy()
    y2[test] = -100 * y[test]  # wreck the held-out part's ratings
    pred2, _ = cross_validated_ridge(X, y2, groups, 5)
    assert np.allclose(pred[test], pred2[test])  # its predictions did not move


def test_fit_mask_fits_on_machine_stories_but_predicts_all():
    X, y, groups = _data()
    human = np.zeros(groups.size, dtype=bool)
    human[::6] = True
    y2 = y.copy()
    y2[human] = 1000.0  # the human stories' ratings must not be fitted on
    pred, _ = cross_validated_ridge(X, y2, groups, 5, fit_mask=~human)
    assert np.all(np.isfinite(pred)) and np.abs(pred).max() < 50
    alpha, w, mean, sd = fit_ridge(X, y, groups, 5)
    assert w[0] > 0 > w[1] and abs(w[2]) < abs(w[1]) and alpha in (0.1, 1.0, 10.0, 100.0, 1000.0)


def test_the_all_combination_never_fits_on_a_shipped_mix():
    """A scorer's derived mix (weights possibly fitted on the very file) would leak into cv:all."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from evalkit.scorers.base import Metric
    from evalkit.validate.pipeline import LENGTH, _fit_sets

    rng = np.random.default_rng(0)
    cols = ["mix", "part_a", "part_b", "other_a", "other_b", LENGTH]
    scores = pd.DataFrame(rng.normal(size=(40, len(cols))), columns=cols)
    first = SimpleNamespace(name="mix", derived=("mix",), metrics=[Metric(n, "higher") for n in ("mix", "part_a", "part_b")])
    second = SimpleNamespace(name="other", metrics=[Metric(n, "higher") for n in ("other_a", "other_b")])
    sets = _fit_sets([first, second], scores)
    assert sets["mix"] == ["part_a", "part_b"] and sets["other"] == ["other_a", "other_b"]
    assert sets["all"] == ["part_a", "part_b", "other_a", "other_b"]  # no mix, no length


def test_a_scorer_fits_only_the_parts_its_mix_combines():
    """mix_parts: the shipped mix's parts; the scorer's other metrics are reported, not fitted into cv:<scorer>."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from evalkit.scorers.base import Metric
    from evalkit.scorers.coherence import PARTS, CoherenceScorer
    from evalkit.validate.pipeline import _fit_sets

    scores = pd.DataFrame(np.random.default_rng(1).normal(size=(30, 4)), columns=["mix", "a", "b", "shown"])
    scorer = SimpleNamespace(name="mix", derived=("mix",), mix_parts=("b", "a", "missing"),
                             metrics=[Metric(n, "higher") for n in ("mix", "a", "b", "shown")])
    assert _fit_sets([scorer], scores)["mix"] == ["b", "a"]  # in the mix's order; unmeasured parts dropped
    assert CoherenceScorer.mix_parts == tuple(PARTS) and "coherence_relevance" not in PARTS


def test_nested_cv_chooses_among_configurations_inside_the_folds():
    """Two configurations (a weak real signal, or a column of noise): every outer fold chooses on its own
    training part, the record counts both, held-out ratings never move a fold's choice, and the
    outer-fold figure is below the best in-sample one (the optimism nested CV removes)."""
    from scipy.stats import kendalltau

    from evalkit.validate.crossval import Config, choose_config, nested_ridge, refit

    rng = np.random.default_rng(3)
    groups = np.repeat([f"p{g}" for g in range(12)], 5)
    X = rng.normal(size=(groups.size, 2))
    y = 0.4 * X[:, 0] + rng.normal(0, 1.0, groups.size)
    configs = [Config((0,), 1.0, "signal"), Config((1,), 1.0, "noise")]
    fit = nested_ridge(X, y, groups, 4, configs)
    assert fit.configurations == 2 and len(fit.chosen) == 4
    folds = grouped_folds(groups, 4)
    for (tr, _), chosen in zip(folds, fit.chosen):
        assert chosen == choose_config(X[tr], y[tr], groups[tr], 4, configs)
    in_sample = []
    for c in configs:  # each configuration fitted on every row and measured on the same rows
        w, m, s = refit(X, y, c)
        in_sample.append(kendalltau(((X - m) / s) @ w, y).statistic)
    outer = kendalltau(fit.pred, y).statistic
    assert outer < max(in_sample) - 0.01
    _, test = folds[0]
    y2 = y.copy()
    y2[test] = -10 * y[test]  # wreck the first fold's held-out ratings
    again = nested_ridge(X, y2, groups, 4, configs)
    assert again.chosen[0] == fit.chosen[0] and np.allclose(again.pred[test], fit.pred[test])
