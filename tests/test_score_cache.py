"""The per-story score cache: a story is scored once per scorer version; corpus scorers per group."""

from evalkit.score_cache import score_groups_cached, story_hash
from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.creativity import CreativityScorer
from evalkit.scorers.vocabulary import VocabularyScorer


class CountingVocabulary(VocabularyScorer):
    seen: list = []

    def score(self, stories, context):
        self.seen.extend(s.text for s in stories)
        return super().score(stories, context)


class CountingCreativity(CreativityScorer):
    seen: list = []

    def score(self, stories, context):
        self.seen.extend(s.text for s in stories)
        return super().score(stories, context)


def story(i):
    return StoryInput(text=f"Story {i} tells how the fox number {i} crossed a cold river and found a small "
                           f"warm cave where {i} owls slept in a row under the stars.", prompt="a fox")


def test_stories_are_scored_once_and_corpus_scorers_again_in_a_new_group(tmp_path):
    voc, cre = CountingVocabulary(), CountingCreativity()
    voc.seen, cre.seen = [], []
    ctx = ScoringContext()
    first = score_groups_cached({"A": [story(1), story(2), story(3)]}, [voc, cre], ctx, tmp_path)
    assert len(voc.seen) == 3 and len(cre.seen) == 3
    h1 = story_hash(story(1).text, "a fox")
    assert first["A"][h1]["mtld"] is not None and first["A"][h1]["self_bleu"] is not None

    again = score_groups_cached({"A": [story(1), story(2), story(3)]}, [voc, cre], ctx, tmp_path)
    assert again == first and len(voc.seen) == 3 and len(cre.seen) == 3  # all from the cache

    other = score_groups_cached({"B": [story(1), story(4), story(5)]}, [voc, cre], ctx, tmp_path)
    assert voc.seen[3:] == [story(4).text, story(5).text]  # only the new stories
    assert cre.seen[3:] == [story(1).text, story(4).text, story(5).text]  # diversity depends on the group
    assert other["B"][h1]["mtld"] == first["A"][h1]["mtld"]
    score_groups_cached({"B": [story(1), story(4), story(5)]}, [voc, cre], ctx, tmp_path)
    assert len(voc.seen) == 5 and len(cre.seen) == 6


def test_the_cache_file_names_the_scorer_version(tmp_path):
    score_groups_cached({"A": [story(1), story(2)]}, [VocabularyScorer()], ScoringContext(), tmp_path)
    (f,) = tmp_path.glob("*.json")
    name, fingerprint, suite = f.stem.split("-")
    assert name == "vocabulary" and len(fingerprint) == 12 and suite == "nosuite"
