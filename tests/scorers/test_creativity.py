from sacrebleu.metrics import BLEU

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.creativity import CreativityScorer, distinct_across, novelty, self_bleu
from evalkit.scorers.text import ngrams, words
from evalkit.suites import load_suite

STORIES = [
    "The moon rabbit baked bread for the stars and the stars sang to thank her.",
    "A tiny robot fixed the broken lighthouse and the ships came home safely at night.",
    "The moon rabbit baked bread for the stars and the stars danced to thank her.",
    "Grandpa taught Lina to whistle, and one day her whistle called the lost goats home.",
]


def test_self_bleu_equals_sacrebleu_against_the_other_stories():
    ours = self_bleu(STORIES)
    bleu = BLEU(effective_order=True)
    for i, s in enumerate(STORIES):
        ref = bleu.sentence_score(s, STORIES[:i] + STORIES[i + 1:]).score / 100
        assert abs(ours[i] - ref) < 1e-9
    assert ours[0] > 0.5 and ours[1] < 0.2  # near-copies score high, a different story low
    assert self_bleu(["only one story"]) == [None]


def test_distinct_across_and_novelty():
    d = distinct_across([words(s) for s in STORIES])
    assert d[3] == 1.0 and d[1] > 0.9 and d[0] < 0.5
    train = {g for g in ngrams(words(STORIES[0]), 4)}
    assert novelty(words(STORIES[0]), train) == 0.0
    assert novelty(words(STORIES[1]), train) == 1.0


def test_scorer_against_suite_train_fallback(embed_context):
    suite = load_suite("smoke")  # no train split: novelty against all reference stories
    ctx = ScoringContext(suite=suite)
    ctx.shared.update(embed_context.shared)
    copy = suite.items[0].story
    res = CreativityScorer().score([StoryInput(copy), StoryInput(STORIES[1]), StoryInput(STORIES[3])], ctx)
    assert res[0].values["novelty_4gram"] == 0.0
    assert res[0].values["max_train_similarity"] > 0.99
    assert res[1].values["creativity"] > res[0].values["creativity"]
    assert "no train split" in res[0].notes["novelty_4gram"]


def test_copy_gets_the_minimum_and_loops_score_below_every_reference(embed_context):
    from evalkit.scorers.text import sentences

    suite = load_suite("persona-tales")
    ctx = ScoringContext(suite=suite)
    ctx.shared.update(embed_context.shared)
    train = [i.story for i in suite.items if i.split == "train"]
    refs = [i.story for i in suite.items if i.split != "train"]
    scorer = CreativityScorer()
    copied = scorer.score([StoryInput(train[0]), StoryInput(STORIES[1]), StoryInput(STORIES[3])], ctx)
    assert copied[0].values["creativity"] == 0.0  # the minimum: a copied train story earns nothing
    assert copied[1].values["creativity"] > 0.0
    ref_scores = [r.values["creativity"] for r in scorer.score([StoryInput(t) for t in refs], ctx)]
    loops = []
    for t in refs:
        s = sentences(t)
        loops.append(" ".join([s[0]] + [s[1]] * 12))  # the opening, then one sentence over and over
    loop_scores = [r.values["creativity"] for r in scorer.score([StoryInput(t) for t in loops], ctx)]
    assert max(loop_scores) < min(ref_scores), (max(loop_scores), min(ref_scores))
