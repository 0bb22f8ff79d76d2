import json

import pytest

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.genre import GenreScorer, build_genre_model
from evalkit.suites import load_suite

SPACE = ["The rocket roared and {n} floated to the window of the space station to see Earth turning below.",
         "A robot named {n} repaired the solar panels of the starship while the planets glowed far away.",
         "{n} built a time machine from a toaster and a computer and visited the city of the future.",
         "The astronaut {n} landed on Mars, scanned the red dust with a laser and radioed the base."]
MAGIC = ["The dragon {n} guarded a cave of enchanted gold and breathed blue fire at the wicked witch.",
         "{n} the fairy waved her wand, and the pumpkin turned into a carriage pulled by mice.",
         "A wizard called {n} mixed a potion of moonlight so the unicorn could fly again over the castle.",
         "{n} found a magic ring that let her speak to trees, and the old oak told her a spell."]
NAMES = ["Ada", "Bo", "Cy", "Di"]


@pytest.fixture(scope="module")
def trained_suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("genre-suite")
    (root / "suite.toml").write_text(
        'name = "g"\n[genres]\n"Sci-Fi" = "Robots, spaceships and the future."\n'
        '"Fantasy" = "Magic, dragons and fairies."\n', encoding="utf-8")
    lines = []
    for genre, templates in (("Sci-Fi", SPACE), ("Fantasy", MAGIC)):
        for t in templates:
            for n in NAMES:
                lines.append({"id": f"{genre}-{len(lines)}", "genre": genre, "characters": [{"name": n}],
                              "prompt": "p", "story": t.format(n=n), "split": "train"})
    (root / "stories.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return load_suite(root)


def _ctx(suite, embed_context):
    ctx = ScoringContext(suite=suite)
    ctx.shared.update(embed_context.shared)  # reuse the loaded MiniLM
    return ctx


def test_classifier_trained_on_train_split_with_cv(trained_suite, embed_context):
    ctx = _ctx(trained_suite, embed_context)
    model = build_genre_model(ctx)
    assert model.kind == "classifier" and model.n_train == 32
    assert model.cv_accuracy >= 0.9
    assert sum(map(sum, model.confusion)) == 32
    stories = [StoryInput("Zed the robot flew his spaceship past the moons of Jupiter to fix a satellite.", genre="Sci-Fi"),
               StoryInput("Zed the robot flew his spaceship past the moons of Jupiter to fix a satellite.", genre="Fantasy"),
               StoryInput("Hi", genre="Sci-Fi"), StoryInput("A tale of something.", genre="Western")]
    r = GenreScorer().score(stories, ctx)
    assert r[0].values["genre_adherence"] > 0.5 > r[1].values["genre_adherence"]
    assert r[0].values["genre_adherence"] + r[1].values["genre_adherence"] == pytest.approx(1.0)
    assert r[0].values["genre_match"] == 1.0 and r[1].values["genre_match"] == 0.0
    assert "cross-validated" in r[0].notes["genre_adherence"]
    assert r[2].values["genre_adherence"] is None and r[3].values["genre_adherence"] is None
    assert build_genre_model(ctx) is model  # fitted once per suite and run


def test_zero_shot_without_train_data(embed_context):
    ctx = _ctx(load_suite("smoke"), embed_context)
    text = "The robot pressed a button and the spaceship zoomed to a new planet where the aliens built machines."
    sci, fan = GenreScorer().score([StoryInput(text, genre="Sci-Fi"), StoryInput(text, genre="Fantasy")], ctx)
    assert "zero-shot" in sci.notes["genre_adherence"]
    assert sci.values["genre_adherence"] > fan.values["genre_adherence"]
    assert sci.values["genre_match"] == 1.0


def test_no_suite_is_not_scorable():
    (r,) = GenreScorer().score([StoryInput("A story about a robot.", genre="Sci-Fi")], ScoringContext())
    assert r.values["genre_adherence"] is None and "no suite" in r.notes["genre_adherence"]
