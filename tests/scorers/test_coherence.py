import math

import pytest

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.coherence import CoherenceScorer, canonical_shuffle, combine, head_sentences, loop_penalty
from evalkit.scorers.text import sentences, words

STORY = ("Mia found a small key under the old oak tree. She carried it home and showed it to her brother Leo. "
         "Together they tried the key in every door of the house. At last it opened the dusty attic door. "
         "Inside they found a box of letters from their grandmother. They read the letters all evening by lamplight.")
SENTS = [s.strip() + "." for s in STORY.split(".") if s.strip()]
# a story that falls into a loop, the way small models do: the same two lines again and again
LOOPING = " ".join(SENTS[:2] + ["The robot said hello to the moon. The moon said hello to the robot."] * 6)


def test_canonical_shuffle_is_shared_by_every_order_of_the_same_sentences():
    a = canonical_shuffle(SENTS)
    assert a != SENTS and sorted(a) == sorted(SENTS)
    assert canonical_shuffle(list(reversed(SENTS))) == a
    assert canonical_shuffle(["Same.", "Same."]) == ["Same.", "Same."]


def test_head_sentences_respects_the_budget():
    head = head_sentences(SENTS, lambda s: len(s.split()), budget=25)
    assert 1 <= len(head) < len(SENTS) and sum(len(s.split()) for s in head) <= 25
    assert head_sentences(["one very long sentence"], lambda s: 99, budget=5) == ["one very long sentence"]


def test_combine_is_the_fixed_rule_and_the_loop_penalty_lowers_it():
    assert combine(0.0, 0.0) == pytest.approx(0.5)  # a typical unrated children's story, no repetition
    assert combine(1.0, 0.0) == pytest.approx(1 / (1 + math.exp(-1)))
    assert combine(1.0, 0.5) == pytest.approx(0.5 / (1 + math.exp(-1)))
    assert combine(2.0, 0.9) < combine(-1.0, 0.0)  # a well-ordered loop is still less coherent
    assert combine(0.5, None) == combine(0.5, 0.0) and combine(None, 0.1) is None and combine(float("nan"), 0) is None


def test_loop_penalty_is_high_for_a_loop_and_zero_for_a_plain_story():
    assert loop_penalty(words(STORY), sentences(STORY)) == 0.0
    p = loop_penalty(words(LOOPING), sentences(LOOPING))
    assert p > 0.7  # 10 of the 14 sentences repeat one already said
    assert combine(1.0, p) < 0.25


def test_well_formed_counts_sentences_that_open_as_sentences():
    from evalkit.scorers.coherence import well_formed

    assert well_formed(["“Hello,” she said.", "3,000 years passed.", "(Then) it rained."]) == 1.0
    assert well_formed(["i’m sorry.", "i know, i know.", "But I must go.", "...and then"]) == pytest.approx(1 / 4)
    assert well_formed(["“", ""]) is None and well_formed([]) is None


@pytest.mark.slow
def test_coherent_story_beats_shuffled_and_looping_with_the_shipped_reader(embed_context):
    ctx = ScoringContext()
    ctx.shared.update(embed_context.shared)
    shuffled = " ".join(SENTS[i] for i in (4, 1, 5, 0, 3, 2))
    prompt = "A girl finds a key that opens a secret room."
    r = CoherenceScorer().score([StoryInput(STORY, prompt=prompt), StoryInput(shuffled, prompt=prompt),
                                 StoryInput(LOOPING, prompt=prompt), StoryInput(STORY, prompt="Write about volcanoes on Mars."),
                                 StoryInput("Just one sentence here."), StoryInput("")], ctx)
    good, shuf, loop, off, one, empty = r
    assert good.values["coherence_order"] > shuf.values["coherence_order"]
    assert good.values["coherence"] > shuf.values["coherence"]
    assert good.values["coherence"] > loop.values["coherence"] and loop.values["coherence_loop"] > 0.7
    assert loop.values["coherence"] < 0.2  # however well its lines connect, the loop penalty holds it down
    assert good.values["coherence"] == off.values["coherence"]  # the prompt is reported, not in the score
    assert good.values["coherence_prompt_focus"] > off.values["coherence_prompt_focus"]
    assert good.values["coherence_wellformed"] == 1.0 and good.values["coherence_loop"] == 0.0
    assert all(0 <= x.values["coherence"] <= 1 for x in (good, shuf, loop, off))
    assert good.values["coherence_fluency"] is None and "no scoring LM named" in good.notes["coherence_lm_order"]
    assert one.values["coherence"] is None and "too short to reorder" in one.notes["coherence"]
    assert one.values["coherence_loop"] == 0.0  # what can be measured still is
    assert empty.values["coherence"] is None and "0 word(s)" in empty.notes["coherence"]


@pytest.mark.slow
def test_lm_logprobs_batching_does_not_change_scores(scoring_lm):
    texts = [STORY, "Short one.", SENTS[2]]
    together = scoring_lm.logprobs(texts)
    alone = [scoring_lm.logprobs([t])[0] for t in texts]
    for a, b in zip(together, alone):
        assert a.shape == b.shape and abs(float(a.sum()) - float(b.sum())) < 0.05 * max(1.0, abs(float(b.sum())))
    assert scoring_lm.logprobs([""])[0].size == 0
