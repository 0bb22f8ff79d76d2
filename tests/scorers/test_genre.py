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
    assert "cross-validated accuracy" in r[0].notes["genre_adherence"] and "ECE" in r[0].notes["genre_adherence"]
    assert r[2].values["genre_adherence"] is None and "word" in r[2].notes["genre_adherence"]
    assert r[3].values["genre_adherence"] is None and "'Western'" in r[3].notes["genre_adherence"]
    assert build_genre_model(ctx) is model  # once per suite and run
    # a new run finds the fitted model on disk, keyed by what it was trained on
    cached_files = list(genre_mod.cache_dir().glob("*.joblib"))
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
