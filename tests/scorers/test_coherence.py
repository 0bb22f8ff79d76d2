import math

import pytest

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.coherence import PARTS, CoherenceScorer, canonical_shuffle, combine, head_sentences

STORY = ("Mia found a small key under the old oak tree. She carried it home and showed it to her brother Leo. "
         "Together they tried the key in every door of the house. At last it opened the dusty attic door. "
         "Inside they found a box of letters from their grandmother. They read the letters all evening by lamplight.")
SENTS = [s.strip() + "." for s in STORY.split(".") if s.strip()]


def test_canonical_shuffle_is_shared_by_every_order_of_the_same_sentences():
    a = canonical_shuffle(SENTS)
    assert a != SENTS and sorted(a) == sorted(SENTS)
    assert canonical_shuffle(list(reversed(SENTS))) == a
    assert canonical_shuffle(["Same.", "Same."]) == ["Same.", "Same."]


def test_head_sentences_respects_the_budget():
    head = head_sentences(SENTS, lambda s: len(s.split()), budget=25)
    assert 1 <= len(head) < len(SENTS) and sum(len(s.split()) for s in head) <= 25
    assert head_sentences(["one very long sentence"], lambda s: 99, budget=5) == ["one very long sentence"]


def test_combine_follows_the_shipped_weights_and_needs_fluency():
    avg = {k: mu for k, (w, mu, sd) in PARTS.items()}
    assert combine(avg) == pytest.approx(0.5)  # an average HANNA machine story
    for k, (w, mu, sd) in PARTS.items():
        moved = combine(dict(avg, **{k: mu + sd}))
        assert (moved > 0.5) == (w > 0) and (moved < 0.5) == (w < 0), k
        assert combine({n: v for n, v in avg.items() if n != k or k == "coherence_fluency"}) == pytest.approx(0.5)
    assert combine(dict(avg, coherence_fluency=None)) is None


def test_well_formed_counts_sentences_that_open_as_sentences():
    from evalkit.scorers.coherence import well_formed

    assert well_formed(["“Hello,” she said.", "3,000 years passed.", "(Then) it rained."]) == 1.0
    assert well_formed(["i’m sorry.", "i know, i know.", "But I must go.", "...and then"]) == pytest.approx(1 / 4)
    assert well_formed(["“", ""]) is None and well_formed([]) is None


@pytest.mark.slow
def test_coherent_story_beats_shuffled_and_looping(scoring_lm, embed_context):
    ctx = ScoringContext()
    ctx.shared.update(embed_context.shared)
    ctx.shared["scoring_lm"] = scoring_lm
    shuffled = " ".join(SENTS[i] for i in (4, 1, 5, 0, 3, 2))
    looping = SENTS[0] + " " + " ".join([SENTS[1]] * 6)
    prompt = "A girl finds a key that opens a secret room."
    r = CoherenceScorer().score([StoryInput(STORY, prompt=prompt), StoryInput(shuffled, prompt=prompt),
                                 StoryInput(looping, prompt=prompt), StoryInput(STORY, prompt="Write about volcanoes on Mars.")], ctx)
    good, shuf, loop, off = (x.values for x in r)
    assert good["coherence"] > shuf["coherence"] and good["coherence_order"] > shuf["coherence_order"]
    assert good["coherence"] > loop["coherence"]
    assert loop["coherence_fluency"] > good["coherence_fluency"]  # the LM alone prefers the loop...
    assert loop["coherence_order"] < good["coherence_order"]  # ...but a loop has no order to lose
    assert good["coherence_relevance"] > off["coherence_relevance"] and good["coherence"] > off["coherence"]
    assert good["coherence_prompt_focus"] > off["coherence_prompt_focus"] >= off["coherence_relevance"] - 1e-6
    assert good["coherence_wellformed"] == 1.0
    assert all(0 <= x["coherence"] <= 1 and math.isfinite(x["coherence"]) for x in (good, shuf, loop, off))


@pytest.mark.slow
def test_lm_logprobs_batching_does_not_change_scores(scoring_lm):
    texts = [STORY, "Short one.", SENTS[2]]
    together = scoring_lm.logprobs(texts)
    alone = [scoring_lm.logprobs([t])[0] for t in texts]
    for a, b in zip(together, alone):
        assert a.shape == b.shape and abs(float(a.sum()) - float(b.sum())) < 0.05 * max(1.0, abs(float(b.sum())))
    assert scoring_lm.logprobs([""])[0].size == 0
