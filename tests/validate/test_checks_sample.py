"""The rating-free validation checks (evalkit.validate.checks) on a small sample of the shared data."""

from __future__ import annotations

import pytest

from evalkit.validate import checks

DATA = checks.data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="validation data absent: set EVALKIT_VALIDATION_DIR or provide ../shared/validation")


def test_repetition_metrics_rise_with_injected_repeats():
    corpora = {k: v[:40] for k, v in checks.children_corpora(DATA, fairytale_sentences=15).items()}
    res = checks.repetition_dose_response(corpora, per_corpus=8)
    for metric, by in res.items():
        for (corpus, mode), v in by.items():
            if metric == "loop" and mode == "scattered":
                continue  # a loop detector looks at the end only
            assert v["story_spearman"] >= 0.95, (metric, corpus, mode, v)


def test_reading_level_orders_the_corpora():
    corpora = {k: v[:25] for k, v in checks.children_corpora(DATA).items()}
    lv = checks.corpus_levels(corpora, boot=50)
    assert lv["TinyStories"]["fk_grade"] < lv["Aesop"]["fk_grade"] < lv["FairytaleQA"]["fk_grade"]
    assert lv["TinyStories"]["unsuitable_per_1000"] < 1.0


def test_inject_helpers():
    s = ["A.", "B.", "C.", "D."]
    assert checks.inject(s, 0.5, "tail", 1) == s + ["D."] * 4
    assert set(checks.inject(s, 0.2, "scattered", 1)) == set(s) and len(checks.inject(s, 0.5, "scattered", 1)) == 8
    low, high = checks.inject(s * 3, 0.2, "scattered", 7), checks.inject(s * 3, 0.5, "scattered", 7)
    it = iter(high)
    assert all(x in it for x in low)  # nested: the higher rate keeps the lower rate's copies, in order
    acc = checks.shuffle_accuracy([{"m": 2.0}, {"m": 1.0}, {"m": None}], [{"m": 1.0}, {"m": 1.0}, {"m": 0.0}], ["m"])["m"]
    assert acc["n"] == 2 and acc["accuracy"] == 0.5 and acc["ties"] == 1 and acc["lo"] < 0.5 < acc["hi"]


@pytest.mark.slow
def test_coherence_ranks_roc_originals_above_shuffles(tmp_path):
    from evalkit.scorers.base import ScoringContext
    from evalkit.scorers.coherence import CoherenceScorer

    acc = checks.roc_shuffle(DATA, 10, [CoherenceScorer()], ScoringContext(), tmp_path, ["coherence"])["coherence"]
    assert acc["n"] == 10 and acc["accuracy"] >= 0.7  # ~90% on all 1,000 pairs; 10 pairs are noisy
