"""Every scorer on hostile text: a value or None with a note, never an exception."""

import math

import pytest
from bad_inputs import BAD_INPUTS

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.characters import CharacterScorer
from evalkit.scorers.creativity import CreativityScorer
from evalkit.scorers.genre import GenreScorer
from evalkit.scorers.reading_level import ReadingLevelScorer
from evalkit.scorers.repetition import RepetitionScorer
from evalkit.scorers.vocabulary import VocabularyScorer
from evalkit.suites import Character, load_suite

STORIES = [StoryInput(text, id=name, prompt="A fox and the moon.", genre="Fantasy", characters=(Character("Fox"),))
           for name, text in BAD_INPUTS.items()]


def _check(scorer, results):
    assert len(results) == len(STORIES)
    for story, r in zip(STORIES, results):
        assert set(r.values) >= {m.name for m in scorer.metrics}, story.id
        for name, v in r.values.items():
            if v is None:
                assert r.notes.get(name), f"{scorer.name}.{name} is None without a note for {story.id}"
            else:
                assert isinstance(v, float) and math.isfinite(v), (story.id, name, v)
    by_id = {s.id: r for s, r in zip(STORIES, results)}
    return by_id


@pytest.mark.parametrize("cls", [RepetitionScorer, VocabularyScorer, CharacterScorer, ReadingLevelScorer])
def test_lexical_scorers(cls):
    by_id = _check(cls(), cls().score(STORIES, ScoringContext()))
    assert all(v is None for v in by_id["empty"].values.values())


def test_embedding_scorers(embed_context):
    ctx = ScoringContext(suite=load_suite("smoke"))
    ctx.shared.update(embed_context.shared)
    for cls in (GenreScorer, CreativityScorer):
        by_id = _check(cls(), cls().score(STORIES, ctx))
        assert by_id["empty"].values[cls.metrics[0].name] is None
        assert by_id["long"].values[cls.metrics[0].name] is not None


def test_html_is_not_counted_as_words():
    (r,) = CharacterScorer().score([StoryInput("<Fox>hello</Fox> the end", characters=(Character("Fox"),))],
                                   ScoringContext())
    assert r.values["character_coverage"] == 0.0  # a tag is not a mention


@pytest.mark.slow
def test_coherence_scorer(scoring_lm, embed_context):
    from evalkit.scorers.coherence import CoherenceScorer

    ctx = ScoringContext()
    ctx.shared.update(embed_context.shared)
    ctx.shared["scoring_lm"] = scoring_lm
    by_id = _check(CoherenceScorer(), CoherenceScorer().score(STORIES, ctx))
    assert by_id["empty"].values["coherence"] is None and by_id["one_word"].values["coherence"] is None
    assert by_id["long"].values["coherence"] is not None
