"""The validation checks on a small sample of the shared validation data (the full run writes docs/metrics.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from validation import checks, data  # noqa: E402

DATA = data.data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="validation data absent: set EVALKIT_VALIDATION_DIR or provide ../shared/validation")


def test_repetition_metrics_rise_with_injected_repeats():
    corpora = {k: v[:40] for k, v in data.children_corpora(DATA, fairytale_sentences=15).items()}
    res = checks.repetition_dose_response(corpora, per_corpus=8)
    for metric, by in res.items():
        for (corpus, mode), v in by.items():
            if metric == "loop" and mode == "scattered":
                continue  # a loop detector looks at the end only
            assert v["story_spearman"] >= 0.95, (metric, corpus, mode, v)


def test_reading_level_orders_the_corpora():
    corpora = {k: v[:25] for k, v in data.children_corpora(DATA).items()}
    lv = checks.corpus_levels(corpora, boot=50)
    assert lv["TinyStories"]["fk_grade"] < lv["Aesop"]["fk_grade"] < lv["FairytaleQA"]["fk_grade"]
    assert lv["TinyStories"]["unsuitable_per_1000"] < 1.0


def test_hanna_taus_and_inject_helpers():
    df = data.hanna(DATA)
    df = df[df.prompt_id.isin(sorted(df.prompt_id.unique())[:8])].copy()
    df["neg_len"] = -df["n_words"]
    t = checks.hanna_taus(df, "Coherence", boot=20)  # the human score against itself
    assert t["system"] == pytest.approx(1.0) and t["story"] == pytest.approx(1.0)
    u = checks.hanna_taus(df, "neg_len", boot=20)
    assert -1 <= u["story_lo"] <= u["story"] <= u["story_hi"] <= 1
    s = ["A.", "B.", "C.", "D."]
    assert checks.inject(s, 0.5, "tail", 1) == s + ["D."] * 4
    assert set(checks.inject(s, 0.2, "scattered", 1)) == set(s) and len(checks.inject(s, 0.5, "scattered", 1)) == 8
    low, high = checks.inject(s * 3, 0.2, "scattered", 7), checks.inject(s * 3, 0.5, "scattered", 7)
    it = iter(high)
    assert all(x in it for x in low)  # nested: the higher rate keeps the lower rate's copies, in order


@pytest.mark.slow
def test_coherence_ranks_roc_originals_above_shuffles(embed_context_validation):
    pairs = data.roc_pairs(DATA)[:10]
    ctx = embed_context_validation
    orig = checks.score_rows([{"id": p["id"], "story": " ".join(p["original"])} for p in pairs], ["coherence"], context=ctx)
    shuf = checks.score_rows([{"id": p["id"], "story": " ".join(p["shuffled"])} for p in pairs], ["coherence"], context=ctx)
    acc = checks.shuffle_accuracy(orig, shuf, ["coherence"])["coherence"]
    assert acc["n"] == 10 and acc["accuracy"] >= 0.7  # ~92% on all 1,000 pairs; 10 pairs are noisy


@pytest.fixture(scope="module")
def embed_context_validation():
    from evalkit.scorers.base import ScoringContext

    return ScoringContext()
