"""Calibrated stars: fit, cross-validation grouped by prompt, apply, store, refuse bad input."""

import json

import numpy as np
import pytest

from evalkit.calibration import (
    apply_calibration,
    cross_validate,
    fit_calibration,
    grouped_folds,
    load_calibration,
    save_calibration,
)
from evalkit.errors import EvalkitError


def rated(n_prompts=12, systems=("A", "B", "C", "D"), seed=0):
    """Stories of several systems per prompt with 1-5 ratings (means of three raters)."""
    rng = np.random.default_rng(seed)
    g, s, r = [], [], []
    for p in range(n_prompts):
        for k, name in enumerate(systems):
            g.append(f"p{p}")
            s.append(name)
            r.append(float(np.clip(np.round(3 * (1.5 + k + rng.normal(0, 0.7))) / 3, 1, 5)))
    return np.array(r), g, s


def test_a_metric_equal_to_the_ratings_maps_onto_them():
    r, g, s = rated()
    cal = fit_calibration("m", "higher", r.tolist(), r.tolist(), g, s, "toy.csv", "Coherence")
    assert np.allclose(apply_calibration(cal, r.tolist()), r)
    assert cal.cv.mae < 0.15  # held-out prompts too: only rating values unseen in a fold are off
    assert cal.data.rows == len(r) and cal.data.groups == 12 and cal.data.systems == ["A", "B", "C", "D"]


def test_a_decreasing_metric_gets_a_decreasing_map():
    r, g, s = rated()
    cal = fit_calibration("m", "lower", (-2 * r).tolist(), r.tolist(), g, s, "toy.csv", "Coherence")
    assert np.allclose(apply_calibration(cal, (-2 * r).tolist()), r)
    assert all(b <= a for a, b in zip(cal.y, cal.y[1:]))


def test_a_constant_metric_maps_to_the_mean_rating():
    r, g, s = rated()
    cal = fit_calibration("m", "higher", [0.5] * len(r), r.tolist(), g, s, "toy.csv", "Coherence")
    assert apply_calibration(cal, [0.0, 0.5, 0.9]) == pytest.approx([r.mean()] * 3)
    constant = next(a for a in cal.alternatives if a.method == "constant")
    assert cal.cv.mae == pytest.approx(constant.mae)


def test_stars_stay_on_the_scale_and_missing_values_stay_missing():
    r, g, s = rated()
    cal = fit_calibration("m", "higher", r.tolist(), r.tolist(), g, s, "toy.csv", "Coherence")
    got = apply_calibration(cal, [-100.0, None, float("nan"), 100.0])
    assert got[1] is None and got[2] is None
    assert got[0] == pytest.approx(min(r)) and got[3] == pytest.approx(max(r))


def test_grouped_folds_never_share_a_prompt():
    _, g, _ = rated(n_prompts=17)
    folds = grouped_folds(g)
    assert len(folds) == 5
    ga = np.array(g)
    seen = []
    for train, test in folds:
        assert not set(ga[train]) & set(ga[test])
        seen += ga[test].tolist()
    assert sorted(seen) == sorted(g)  # every story predicted exactly once


def test_cross_validated_error_is_measured_on_unseen_prompts():
    """Noise fits the ratings in sample (isotonic chases it) but not on held-out prompts, where it is
    no better than predicting the mean; the per-system error is reported."""
    from evalkit.calibration import _predictor

    r, g, s = rated(seed=3)
    x = np.random.default_rng(5).normal(size=len(r))
    err, pred = cross_validate(x, r, np.array(g), np.array(s), "isotonic", True)
    const, _ = cross_validate(x, r, np.array(g), np.array(s), "constant", True)
    in_sample = np.mean(np.abs(_predictor("isotonic", x, r, True)(x) - r))
    assert in_sample < err.mae
    assert err.mae > 0.9 * const.mae
    assert {row.system for row in err.systems} == {"A", "B", "C", "D"}
    assert err.system_mae == pytest.approx(np.mean([abs(row.error) for row in err.systems]))


def test_save_load_roundtrip_and_apply_without_sklearn(tmp_path):
    r, g, s = rated()
    x = (r / 5 + np.random.default_rng(1).normal(0, 0.05, len(r))).tolist()
    cal = fit_calibration("coherence", "higher", x, r.tolist(), g, s, "toy.csv", "Coherence", note="toy data")
    p = tmp_path / "toy-coherence.json"
    save_calibration(cal, p)
    raw = json.loads(p.read_text())
    assert raw["schema"] == "evalkit.calibration/1" and raw["data"]["note"] == "toy data"
    back = load_calibration(p)
    assert back == cal
    assert back.stars([0.2, 0.6]) == apply_calibration(cal, [0.2, 0.6])


def test_stored_calibrations_reject_unknown_keys_and_bad_breakpoints(tmp_path):
    r, g, s = rated()
    cal = fit_calibration("m", "higher", r.tolist(), r.tolist(), g, s, "toy.csv", "Coherence")
    raw = json.loads(cal.model_dump_json(by_alias=True))
    p = tmp_path / "c.json"
    p.write_text(json.dumps({**raw, "typo": 1}))
    with pytest.raises(EvalkitError, match="not a calibration"):
        load_calibration(p)
    p.write_text(json.dumps({**raw, "x": [1.0, 0.0], "y": [1.0, 2.0]}))
    with pytest.raises(EvalkitError, match="increasing"):
        load_calibration(p)
    with pytest.raises(EvalkitError, match="no calibration 'nope'"):
        load_calibration("nope")


@pytest.mark.parametrize("change, message", [
    (lambda r, g, s: (r[:29], g[:29], s[:29]), "only 29 rated stories"),
    (lambda r, g, s: (r, ["p0", "p1"] * (len(g) // 2), s), "only 2 prompt group"),
    (lambda r, g, s: (r, g, ["A"] * len(s)), "one system only"),
    (lambda r, g, s: (["x"] + r[1:], g, s), "rating 'x' \\(row 1\\) is not a number"),
])
def test_bad_ratings_are_one_line_errors(change, message):
    r, g, s = rated()
    r2, g2, s2 = change(r.tolist(), g, s)
    with pytest.raises(EvalkitError, match=message) as e:
        fit_calibration("m", "higher", list(range(len(r2))), r2, g2, s2, "toy.csv", "Coherence")
    assert "\n" not in str(e.value)


def test_stories_the_metric_cannot_score_are_dropped_and_counted():
    r, g, s = rated()
    x = r.tolist()
    x[0] = None
    cal = fit_calibration("m", "higher", x, r.tolist(), g, s, "toy.csv", "Coherence")
    assert cal.data.rows == len(r) - 1 and cal.data.dropped == 1
    with pytest.raises(EvalkitError, match="not a number"):
        fit_calibration("m", "higher", ["high"] + x[1:], r.tolist(), g, s, "toy.csv", "Coherence")


def test_a_metric_without_a_direction_cannot_be_calibrated():
    r, g, s = rated()
    with pytest.raises(EvalkitError, match="direction"):
        fit_calibration("m", "target", r.tolist(), r.tolist(), g, s, "toy.csv", "Coherence")


def test_shipped_calibrations_load_and_apply_without_sklearn():
    import subprocess
    import sys

    code = ("import sys\nfrom evalkit.calibration import load_calibration, shipped_calibrations\n"
            "names = shipped_calibrations()\n"
            "for n in names:\n    load_calibration(n).stars([0.1, 0.5, 50.0])\n"
            "print(len(names), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [out[0], "False"] and int(out[0]) >= 3


def test_shipped_calibrations_are_monotone_and_say_where_they_come_from():
    from evalkit.calibration import shipped_calibrations

    for name in shipped_calibrations():
        cal = load_calibration(name)
        steps = np.diff(cal.y)
        assert np.all(steps >= 0) if cal.direction == "higher" else np.all(steps <= 0), name
        assert cal.data.rows >= 30 and cal.data.groups >= 3 and len(cal.data.systems) >= 2
        assert "adult short fiction" in cal.data.note and cal.scorer_fingerprint
        assert {a.method for a in cal.alternatives} == {"linear", "multinomial", "constant"}
