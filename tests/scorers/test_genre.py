"""The genre scorer: the calibrated classifier (trained on a small real slice of the corpus, see
conftest.small_genre_corpus), its disk cache, the zero-shot path and the null paths."""

import json

import pytest

from evalkit.scorers import genre as genre_mod
from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.genre import GenreScorer, build_genre_model
from evalkit.suites import load_suite

SPACE = ["The rocket roared and {n} floated to the window of the space station to see Earth turning below.",
         "A robot named {n} repaired the solar panels of the starship while the planets glowed far away."]
MAGIC = ["The dragon {n} guarded a cave of enchanted gold and breathed blue fire at the wicked witch.",
         "{n} the fairy waved her wand, and the pumpkin turned into a carriage pulled by mice."]
NAMES = ["Ada", "Bo"]
ROBOT = "Zed the robot flew his spaceship past the moons of Jupiter to fix a broken satellite with his laser."


def _suite(root, genres: dict[str, str], templates: dict[str, list[str]]):
    root.mkdir(parents=True, exist_ok=True)
    toml = 'name = "g"\n[genres]\n' + "".join(f'"{g}" = "{d}"\n' for g, d in genres.items())
    (root / "suite.toml").write_text(toml, encoding="utf-8")
    lines = [{"id": f"{g}-{k}-{n}", "genre": g, "characters": [{"name": n}], "prompt": "p",
              "story": t.format(n=n), "split": "train"}
             for g, ts in templates.items() for k, t in enumerate(ts) for n in NAMES]
    (root / "stories.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return load_suite(root)


def _ctx(suite, embed_context):
    ctx = ScoringContext(suite=suite)
    ctx.shared.update(embed_context.shared)  # reuse the loaded MiniLM
    return ctx


@pytest.fixture(scope="module")
def corpus_suite(tmp_path_factory):
    """Two corpus genres: the classifier trains on the corpus' stories of them plus these 8."""
    return _suite(tmp_path_factory.mktemp("g") / "s", {"Sci-Fi": "Robots, spaceships and the future.",
                                                         "Fantasy": "Magic, dragons and fairies."},
                  {"Sci-Fi": SPACE, "Fantasy": MAGIC})


def test_classifier_from_corpus_and_suite_calibrated_and_cached(corpus_suite, embed_context):
    ctx = _ctx(corpus_suite, embed_context)
    before = set(genre_mod.cache_dir().glob("*.joblib"))  # the cache folder is shared with other tests
    model = build_genre_model(ctx)
    assert model.kind == "classifier" and not model.from_cache
    ev = model.evaluation
    assert ev.n_train == 28 and ev.per_genre == {"Fantasy": 14, "Sci-Fi": 14}  # 10 corpus + 4 suite each
    assert ev.sources["g"] == 8
    assert sum(map(sum, ev.cv.confusion)) == 28 and sum(b.n for b in ev.cv.reliability) == 28
    assert 0.0 <= ev.cv.ece <= 1.0 and 0.0 <= ev.ece_before <= 1.0
    assert ev.cv.accuracy_low <= ev.cv.accuracy <= ev.cv.accuracy_high
    stories = [StoryInput(ROBOT, genre="Sci-Fi"), StoryInput(ROBOT, genre="Fantasy"),
               StoryInput("Hi", genre="Sci-Fi"), StoryInput("A tale of something.", genre="Western")]
    r = GenreScorer().score(stories, ctx)
    assert r[0].values["genre_adherence"] > 0.5 > r[1].values["genre_adherence"]
    assert r[0].values["genre_adherence"] + r[1].values["genre_adherence"] == pytest.approx(1.0)
    assert r[0].values["genre_match"] == 1.0 and r[1].values["genre_match"] == 0.0
    assert model.calibrated and genre_mod.genre_calibrated(ctx) is True
    assert "cross-validated accuracy" in r[0].notes["genre_adherence"] and "ECE" in r[0].notes["genre_adherence"]
    assert r[2].values["genre_adherence"] is None and "word" in r[2].notes["genre_adherence"]
    assert r[3].values["genre_adherence"] is None and "'Western'" in r[3].notes["genre_adherence"]
    assert build_genre_model(ctx) is model  # once per suite and run
    # a new run finds the fitted model on disk, keyed by what it was trained on
    cached_files = set(genre_mod.cache_dir().glob("*.joblib")) - before
    assert len(cached_files) == 1
    again = build_genre_model(_ctx(corpus_suite, embed_context))
    assert again.from_cache and again.evaluation == ev
    r2 = GenreScorer().score(stories[:2], _ctx(corpus_suite, embed_context))
    assert r2[0].values["genre_adherence"] == pytest.approx(r[0].values["genre_adherence"])


def test_zero_shot_when_too_few_labelled_stories(tmp_path, embed_context):
    """Genres the corpus does not have, with 4 train stories each (< MIN_LABELLED_PER_GENRE)."""
    suite = _suite(tmp_path / "z", {"Space Opera": "Robots, rockets, spaceships, planets and the future.",
                                    "Fairy Tale": "Magic, dragons, wands, fairies and enchanted castles."},
                   {"Space Opera": SPACE, "Fairy Tale": MAGIC})
    ctx = _ctx(suite, embed_context)
    model = build_genre_model(ctx)
    assert model.kind == "zero-shot" and model.evaluation is None
    sci, fan = GenreScorer().score([StoryInput(ROBOT, genre="Space Opera"), StoryInput(ROBOT, genre="Fairy Tale")], ctx)
    note = sci.notes["genre_adherence"]
    assert "zero-shot" in note and f"fewer than {genre_mod.MIN_LABELLED_PER_GENRE} labelled stories" in note
    assert "Space Opera (4)" in note
    assert sci.values["genre_adherence"] > fan.values["genre_adherence"] and sci.values["genre_match"] == 1.0


def test_no_suite_is_not_scorable():
    (r,) = GenreScorer().score([StoryInput("A story about a robot.", genre="Sci-Fi")], ScoringContext())
    assert r.values["genre_adherence"] is None and "no suite" in r.notes["genre_adherence"]


SCORE_IN_SUBPROCESS = """
import json, sys
from pathlib import Path
from evalkit.scorers import genre_classifier as gc
gc.CORPUS_FILE = Path(sys.argv[1])
from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.genre import GenreScorer, genre_calibrated
from evalkit.suites import load_suite
ctx = ScoringContext(suite=load_suite(Path(sys.argv[2])))
texts = json.loads(sys.argv[3])
r = GenreScorer().score([StoryInput(t, genre=g) for t in texts for g in ("Fantasy", "Sci-Fi")], ctx)
print(json.dumps({"p": [x.values["genre_adherence"] for x in r], "calibrated": genre_calibrated(ctx),
                  "note": r[0].notes["genre_adherence"],
                  "loaded": sorted(m for m in ("sentence_transformers", "torch") if m in sys.modules)}))
"""


def test_text_only_model_scores_without_minilm_and_as_the_full_frame_did(corpus_suite, small_genre_corpus,
                                                                         embed_context, tmp_path):
    """The chosen model reads only the text: a fresh process fits and scores without importing
    sentence_transformers (or torch), and gives the probabilities that the same estimator, fitted and
    applied on the full feature frame (embedding columns included, as before), gives."""
    import os
    import subprocess
    import sys

    import numpy as np

    from evalkit.scorers import genre_classifier as gc

    assert gc.CHOSEN == "tfidf" and not gc.needs_embeddings(gc.CHOSEN)
    texts = [ROBOT, MAGIC[0].format(n="Cy"), "Grandma baked bread and then we all went to the beach for a swim."]
    env = dict(os.environ, EVALKIT_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCORE_IN_SUBPROCESS, str(small_genre_corpus),
                          str(corpus_suite.path), json.dumps(texts)],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded"] == [] and got["calibrated"] is True
    assert got["note"].startswith(genre_mod.CALIBRATED_NOTE)
    # the old path: every feature column, embeddings included
    genres = dict(sorted(corpus_suite.genres.items()))
    train = gc.training_stories(genres, corpus_suite.items, group=corpus_suite.name)
    full = gc.feature_frame([s.text for s in train], embed_context, genres)
    assert {"e0", "z0", "text"} <= set(full.columns)
    est = gc.calibrated(gc.make_estimator(gc.CHOSEN, genres)).fit(full, [s.genre for s in train])
    want = gc.predict_proba(est, gc.feature_frame(texts, embed_context, genres), ["Fantasy", "Sci-Fi"])
    assert np.allclose(np.array(got["p"]).reshape(-1, 2), want, atol=1e-9)
    assert got["p"][1] > 0.5 and got["p"][2] > 0.5  # the robot story reads Sci-Fi, the dragon Fantasy


def test_zero_shot_says_uncalibrated(tmp_path, embed_context):
    suite = _suite(tmp_path / "u", {"Space Opera": "Robots and rockets.", "Fairy Tale": "Magic and dragons."},
                   {"Space Opera": SPACE, "Fairy Tale": MAGIC})
    ctx = _ctx(suite, embed_context)
    assert genre_mod.genre_calibrated(ctx) is False and build_genre_model(ctx).chance == 0.5
    (r,) = GenreScorer().score([StoryInput(ROBOT, genre="Space Opera")], ctx)
    assert r.notes["genre_adherence"].startswith(genre_mod.UNCALIBRATED_NOTE)
    assert genre_mod.genre_calibrated(ScoringContext()) is None


def test_cache_identity_follows_the_corpus(tmp_path, monkeypatch):
    from evalkit.scorers import genre_classifier as gc

    scorer, ctx = GenreScorer(), ScoringContext()
    before = scorer.cache_identity(ctx)
    assert genre_mod.MODEL_VERSION in before and before == scorer.cache_identity(ctx)
    changed = tmp_path / "stories.jsonl"
    changed.write_text(gc.CORPUS_FILE.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    monkeypatch.setattr(gc, "CORPUS_FILE", changed)
    assert scorer.cache_identity(ctx) != before  # a new corpus means a new model: cached scores are stale
