"""The genre classifier on real corpus stories: it beats chance by a wide margin on a held-back slice
of the corpus' train part (never its locked test part), its calibration error is computed and stored,
and a story it cannot place gets a low probability."""

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.scorers import _genre_eval as ge
from evalkit.scorers import genre_classifier as gc
from evalkit.suites import load_suite

SHIPPED = Path(gc.__file__).parent / "genre_corpus" / "stories.jsonl"
OFF_TOPIC = ["Preheat the oven to 180 degrees. Mix two cups of flour with the butter and sugar, add three eggs, "
             "stir until smooth, pour into a greased tin and bake for forty minutes before you let it cool.",
             "Quarterly revenue rose four percent on stronger sales in the northern region, while operating "
             "costs were flat and the board approved the dividend for shareholders at its annual meeting."]


@pytest.fixture(scope="module")
def fitted(embed_context):
    """Fit on the first 10 train-part stories per genre; hold back the next 4 per genre."""
    train_part = [s for s in gc.load_corpus(SHIPPED) if s.part == "train"]
    fit, held = [], []
    for g in sorted({s.genre for s in train_part}):
        mine = [s for s in train_part if s.genre == g]
        fit += mine[:10]
        held += mine[10:14]
    genres = load_suite("persona-tales").genres
    model, record = ge.fit_genre_model(fit, genres, embed_context)
    return model, record, held, genres


def test_beats_chance_by_a_wide_margin_on_held_back_stories(fitted, embed_context):
    model, record, held, genres = fitted
    names = sorted(genres)
    proba = gc.predict_proba(model, gc.feature_frame([s.text for s in held], embed_context, genres), names)
    assert proba.shape == (20, 5) and np.allclose(proba.sum(axis=1), 1.0)
    acc = np.mean([names[j] == s.genre for j, s in zip(proba.argmax(axis=1), held)])
    assert acc >= 0.5  # chance is 0.2: P(>= 10 of 20 right by chance) < 0.003
    # a story it cannot place: its best guess is less sure than on any typical real story
    off = gc.predict_proba(model, gc.feature_frame(OFF_TOPIC, embed_context, genres), names)
    assert off.max() < np.median(proba.max(axis=1))


def test_calibration_error_computed_and_stored(fitted):
    _, record, _, _ = fitted
    assert record.n_train == 50 and record.calibration == gc.CALIBRATION
    assert 0.0 <= record.cv.ece <= 1.0 and 0.0 <= record.ece_before <= 1.0
    assert sum(b.n for b in record.cv.reliability) == 50 == sum(b.n for b in record.reliability_before)
    assert record.cv.ece == pytest.approx(ge.ece(record.cv.reliability))
    back = ge.GenreEvaluation.model_validate_json(record.model_dump_json(by_alias=True))
    assert back == record and json.loads(record.model_dump_json(by_alias=True))["schema"] == ge.EVALUATION_SCHEMA


def test_ece_and_wilson_on_known_cases():
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    table = ge.reliability(proba, [True, False, True, True])
    assert ge.ece(table) == pytest.approx((2 * abs(0.9 - 0.5) + 2 * abs(0.6 - 1.0)) / 4)
    lo, hi = ge.wilson(8, 10)
    assert lo < 0.8 < hi and lo == pytest.approx(0.4902, abs=1e-3)


def test_lexicon_keeps_distinct_cues_and_drops_negated_words():
    lex = gc.cue_lexicon(load_suite("persona-tales").genres)
    assert "magic" in lex["Fantasy"] and "magic" not in lex["Adventure & Exploration"]  # "without magic"
    assert "robot" in lex["Sci-Fi"] and "clue" in lex["Mystery"]
    assert not set(lex["Fantasy"]) & set(lex["Sci-Fi"])


def test_stored_evaluation_matches_the_scorer_and_the_docs():
    ev = ge.GenreEvaluation.model_validate_json((SHIPPED.parent / "evaluation.json").read_text(encoding="utf-8"))
    assert ev.candidate == gc.CHOSEN and ev.calibration == gc.CALIBRATION
    assert ev.candidate == max(gc.CANDIDATES, key=lambda c: ev.candidates[c].accuracy)
    assert ev.locked_test is not None and ev.locked_test.n == sum(
        s.part == "test" for s in gc.load_corpus(SHIPPED))
    doc = Path(__file__).resolve().parents[2] / "docs" / "genre.md"
    assert doc.read_text(encoding="utf-8") == ge.render_markdown(ev)


def test_metrics_doc_genre_section_is_the_stored_evaluation():
    """docs/metrics.md's genre section is what validation_markdown() renders from evaluation.json
    (scripts/genre_eval.py --render splices it; evalkit validate --docs writes the same)."""
    import sys

    from evalkit.scorers.genre import validation_markdown

    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo / "scripts"))
    import genre_eval

    section = validation_markdown()
    assert section.startswith(genre_eval.GENRE_HEADING) and "Locked test part" in section
    assert all(p.read_text(encoding="utf-8") == text for p, text in genre_eval.rendered().items())
    metrics = (repo / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert metrics.count(genre_eval.GENRE_HEADING) == 1 and section.rstrip() in metrics
    spliced = genre_eval.with_genre_section("# T\n\n## Genre adherence\n\nSTALE-TEXT\n\n## Next\n\nkept\n", section)
    assert "STALE-TEXT" not in spliced.split("## Next")[0] and spliced.endswith("## Next\n\nkept\n")
