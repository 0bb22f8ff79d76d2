"""Clustered winners, the smallest detectable difference, what would resolve a tie, Holm."""

import math

import numpy as np
import pytest

from evalkit.significance import (
    bootstrap_p,
    clustered_test,
    holm,
    holm_adjust,
    item_differences,
    items_needed,
    resolve_text,
    samples_needed,
    tie_text,
    z_sum,
)
from evalkit.stats import resample_means


def two_models(n_items, n_samples, true_diff, sd_item=0.6, sd_sample=0.8, seed=0):
    """Model a = model b + true_diff on every prompt; prompts differ (shared by both models, plus a
    model-specific part), samples of one prompt differ."""
    rng = np.random.default_rng(seed)
    base = rng.normal(3, 1, n_items)
    a, b = {}, {}
    for i in range(n_items):
        ea, eb = rng.normal(0, sd_item / math.sqrt(2), 2)
        a[f"p{i}"] = (base[i] + true_diff + ea + rng.normal(0, sd_sample, n_samples)).tolist()
        b[f"p{i}"] = (base[i] + eb + rng.normal(0, sd_sample, n_samples)).tolist()
    return a, b


def test_samples_are_averaged_inside_an_item_and_unscored_ones_left_out():
    a = {"p1": [1.0, 3.0], "p2": [4.0, None], "p3": [None, None], "p4": [2.0]}
    b = {"p1": [1.0], "p2": [1.0, 2.0, 3.0], "p3": [1.0], "p5": [9.0]}
    items, d = item_differences(a, b)
    assert items == ["p1", "p2"]
    assert d.tolist() == [1.0, 2.0]


def test_a_known_difference_ties_at_few_samples_and_wins_at_enough():
    true = 0.3
    a, b = two_models(8, 1, true, seed=1)
    few = clustered_test("a", "b", a, b, resamples=4000)
    assert not few.significant and few.better is None
    assert few.mde > true  # the run says it could not have seen a difference this small
    assert few.items_to_resolve > 8
    assert "could not be seen with 8 prompts × 1 sample" in tie_text(few)
    assert resolve_text(few).startswith(f"≈{few.items_to_resolve} prompts would resolve it")

    a, b = two_models(80, 3, true, seed=2)
    many = clustered_test("a", "b", a, b, resamples=4000)
    assert many.significant and many.better == "a"
    assert many.mde < true
    assert many.ci_low > 0 and many.items_to_resolve is None and resolve_text(many) == ""
    assert many.n_items == 80 and many.n_samples == 3


def test_direction_lower_names_the_smaller_model_better():
    a, b = two_models(80, 3, 0.5, seed=4)
    t = clustered_test("a", "b", a, b, direction="lower", resamples=2000)
    assert t.significant and t.better == "b"


def test_the_detectable_difference_has_80_percent_power_in_simulation():
    """Draw many runs whose true difference equals the formula's MDE (from the true variance):
    the bootstrap test must find a winner in about 80% of them, and its SE must match the truth."""
    n, s, sd_item, sd_sample = 40, 2, 0.5, 0.7
    var_item = sd_item ** 2 + 2 * sd_sample ** 2 / s  # both models' sample noise
    true_se = math.sqrt(var_item / n)
    mde = z_sum() * true_se
    wins, ses = 0, []
    for k in range(300):
        a, b = two_models(n, s, mde, sd_item, sd_sample, seed=100 + k)
        t = clustered_test("a", "b", a, b, resamples=1000, seed=k)
        wins += t.significant
        ses.append(t.se)
    assert np.mean(ses) == pytest.approx(true_se, rel=0.08)
    assert 0.72 <= wins / 300 <= 0.88


def test_the_variance_split_says_whether_samples_or_prompts_help():
    # the variance between and within items is recovered from the samples
    a, b = two_models(200, 4, 0.0, sd_item=0.5, sd_sample=1.0, seed=7)
    t = clustered_test("a", "b", a, b, resamples=2000)
    assert t.var_within == pytest.approx(2 * 1.0 ** 2, rel=0.15)
    assert t.var_between == pytest.approx(0.5 ** 2, abs=0.12)
    # hand-computed: z = 2.8016, delta 0.2, 10 items: room = 10 * (0.2 / z)^2 - vb
    z = z_sum()
    assert samples_needed(0.2, 10, 0.01, 1.0) == math.ceil(1.0 / (10 * (0.2 / z) ** 2 - 0.01))
    assert samples_needed(0.2, 10, 0.1, 1.0) is None  # prompts differ too much: only more prompts help
    assert items_needed(0.2, 0.5) == math.ceil(0.5 * (z / 0.2) ** 2)
    assert items_needed(0.0, 0.5) is None


def test_holm_matches_a_hand_computed_case():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # 0.5 x 2 = 1.0, and never below an earlier step
    assert holm([0.01, 0.2]) == pytest.approx([0.02, 0.2])
    assert holm([0.02]) == [0.02]


def test_holm_adjust_can_take_a_winner_away_and_states_the_stricter_detectable_difference():
    rng = np.random.default_rng(19)  # a draw whose p (0.020) passes alone and fails x3
    base = {f"p{i}": [float(v)] for i, v in enumerate(rng.normal(0, 1, 30))}
    shifted = {k: [v[0] + 0.45 + float(rng.normal(0, 1))] for k, v in base.items()}
    t = clustered_test("a", "b", shifted, base, resamples=4000)
    assert 0.05 / 3 < t.p < 0.05 and t.significant
    others = [t.model_copy(update={"p": p, "a": "c"}) for p in (0.9, 0.8)]
    adjusted = holm_adjust([t, *others], confidence=0.95)
    assert adjusted[0].p_holm == pytest.approx(min(1.0, 3 * t.p))
    assert not adjusted[0].significant and adjusted[0].better is None
    assert adjusted[0].items_to_resolve > 30
    assert adjusted[0].mde > t.mde  # alpha / 3 needs a larger difference


def test_a_constant_difference_is_significant_with_zero_spread():
    a = {f"p{i}": [2.0, 2.0] for i in range(5)}
    b = {f"p{i}": [1.0] for i in range(5)}
    t = clustered_test("a", "b", a, b)
    assert t.significant and t.se == 0 and t.ci_low == t.ci_high == 1.0


def test_identical_models_tie_without_a_detectable_difference_claim():
    a = {f"p{i}": [float(i), float(i) + 1] for i in range(6)}
    t = clustered_test("a", "b", a, dict(a))
    assert not t.significant and t.p == 1.0 and t.items_to_resolve is None
    assert tie_text(t) == "tie: the same on all 6 prompts × 2 samples"


def test_under_two_shared_items_there_is_no_test():
    assert clustered_test("a", "b", {"p1": [1.0]}, {"p1": [2.0], "p2": [1.0]}) is None


def test_bootstrap_is_seeded_and_p_is_never_zero():
    d = np.array([0.1, 0.5, -0.2, 0.3, 0.9])
    assert np.array_equal(resample_means(d, 500, seed=3), resample_means(d, 500, seed=3))
    assert 0 < bootstrap_p(np.ones(100)) < 0.05
    assert bootstrap_p(np.array([-1.0, 1.0] * 50)) == 1.0
