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
