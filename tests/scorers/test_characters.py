from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.characters import CharacterScorer, first_mentions
from evalkit.suites import Character


def _score(text, *names):
    (r,) = CharacterScorer().score([StoryInput(text, characters=tuple(Character(n) for n in names))], ScoringContext())
    return r


def test_names_and_name_parts_count_but_titles_do_not():
    text = "Grandma packed apples. Kofi climbed first. " + "They walked on. " * 10 + "Ines laughed with Kofi."
    r = _score(text, "Kofi", "Grandma Ines", "Pip")
    assert r.values["character_coverage"] == 2 / 3
    assert r.values["character_persistence"] == 2 / 3
    assert "Pip" in r.notes["character_coverage"]
    assert first_mentions("Pipkin ate.", "Pip") == []  # whole words only


def test_a_character_dropped_after_the_opening_loses_persistence():
    text = "Pip and Mo met at dawn. " + "Mo walked alone through the long valley for many days. " * 5
    r = _score(text, "Pip", "Mo")
    assert r.values["character_coverage"] == 1.0
    assert r.values["character_persistence"] == 0.5


def test_no_requested_characters_is_not_scorable():
    r = _score("A story with nobody in particular.")
    assert r.values["character_coverage"] is None and "no characters" in r.notes["character_coverage"]
