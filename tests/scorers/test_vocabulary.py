import json

import pytest
from lexicalrichness import LexicalRichness

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.text import words
from evalkit.scorers.vocabulary import VocabularyScorer, hdd, mattr

TEXTS = [
    "Once upon a time a small fox lived near a river. Every morning the fox drank from the river and "
    "watched the herons fish. One day a heron asked the fox to help her find her lost chick. The fox "
    "searched the reeds, the rocks and the old mill, and at last he found the chick asleep in a boot.",
    " ".join(f"word{i % 37} filler{i % 11}" for i in range(300)),
]


@pytest.mark.parametrize("text", TEXTS)
def test_own_mattr_and_hdd_agree_with_lexicalrichness(text):
    toks = words(text)
    lex = LexicalRichness(toks, preprocessor=None, tokenizer=None)
    assert mattr(toks, 50) == pytest.approx(lex.mattr(window_size=50), rel=1e-9)
    assert hdd(toks, 42) == pytest.approx(lex.hdd(draws=42), rel=1e-9)


def test_short_texts_are_scored_with_a_note_where_the_library_raises():
    short = "The cat saw a red bird and the bird saw the cat too."
    toks = words(short)
    lex = LexicalRichness(toks, preprocessor=None, tokenizer=None)
    with pytest.raises(ValueError):
        lex.mattr(window_size=50)
    (r,) = VocabularyScorer().score([StoryInput(short)], ScoringContext())
    ttr = len(set(toks)) / len(toks)
    assert r.values["mattr_50"] == pytest.approx(ttr)
    assert r.values["hdd"] == pytest.approx(ttr)
    assert r.values["mtld"] > 0
    assert "window shrunk" in r.notes["mattr_50"] and "draws shrunk" in r.notes["hdd"]


def test_richer_text_scores_higher():
    rich, poor = VocabularyScorer().score([StoryInput(TEXTS[0] * 2), StoryInput("the cat and the dog and " * 40)],
                                          ScoringContext())
    for m in ("mtld", "mattr_50", "hdd"):
        assert rich.values[m] > poor.values[m], m


def test_too_short_is_not_scorable():
    (r,) = VocabularyScorer().score([StoryInput("Hello there friend")], ScoringContext())
    assert r.values == {"mtld": None, "mattr_50": None, "hdd": None}
    assert all("not scorable" in n for n in r.notes.values())


def _suite_stories() -> list[str]:
    from evalkit.suites import load_suite

    return [i.story for name in ("persona-tales", "smoke") for i in load_suite(name).items if i.story]


def test_mtld_mattr_and_hdd_are_lexicalrichness_numbers_on_every_suite_story():
    """The scorer's own MTLD, MATTR and vectorised HD-D give lexicalrichness's numbers (issue 25: same
    values to 1e-6; here to 1e-12) on the real stories of the repository's suites, and the scorer
    reports them."""
    from evalkit.scorers.text import clean
    from evalkit.scorers.vocabulary import HDD_DRAWS, MATTR_WINDOW, hdd_lexicalrichness, mtld

    stories = [s for s in _suite_stories() if len(words(clean(s))) >= MATTR_WINDOW]
    scored = VocabularyScorer().score([StoryInput(s) for s in stories], ScoringContext())
    for story, r in zip(stories, scored):
        toks = words(clean(story))
        lex = LexicalRichness(toks, preprocessor=None, tokenizer=None)
        want = {"mtld": lex.mtld(threshold=0.72), "mattr_50": lex.mattr(window_size=MATTR_WINDOW),
                "hdd": lex.hdd(draws=HDD_DRAWS)}
        got = {"mtld": mtld(toks), "mattr_50": mattr(toks), "hdd": hdd_lexicalrichness(toks)}
        assert got == pytest.approx(want, abs=1e-12, rel=0)
        assert r.values == pytest.approx(want, abs=1e-12, rel=0)
    assert len(stories) >= 100
