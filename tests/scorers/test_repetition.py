from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.repetition import (
    RepetitionScorer,
    compression_ratio,
    distinct_n,
    loop_share,
    repeated_sentence_share,
    seq_rep_n,
)
from evalkit.scorers.text import sentences, words

STORY = ("Mia found a key under the old oak tree. She carried it home and showed her brother Leo. "
         "Together they tried every door in the house. At last the attic door opened with a creak. "
         "Inside was a box of letters from their grandmother.")


def test_seq_rep_4_counts_repeated_4grams():
    toks = "a b c d a b c d".split()
    # 5 four-grams, 4 unique -> 1 - 4/5
    assert abs(seq_rep_n(toks, 4) - 0.2) < 1e-9
    assert seq_rep_n("a b c".split(), 4) is None
    assert distinct_n("a b a b".split(), 2) == 2 / 3


def test_repeated_sentences_ignore_case_and_punctuation():
    s = sentences("The cat sat. the CAT sat! A dog ran. The cat sat...")
    assert repeated_sentence_share(s) == 2 / 4
    assert repeated_sentence_share(sentences(STORY)) == 0.0


def test_compression_ratio_rises_with_repetition():
    base = compression_ratio(words(STORY))
    looped = compression_ratio(words(STORY + " " + "She carried it home and showed her brother Leo. " * 6))
    assert looped > base > 0


def test_loop_detects_a_line_repeated_to_the_end():
    text = STORY + " " + "You are not a doctor. " * 5
    share = loop_share(words(text), sentences(text))
    assert 0.3 < share < 0.6  # 25 of 65 words... the loop plus its first copy
    assert loop_share(words(STORY), sentences(STORY)) == 0.0
    # a repeated phrase without sentence ends is a loop too
    text = STORY + " and then and then and then and then and then"
    assert loop_share(words(text), sentences(text)) > 0.15
    # repetition in the middle that stops is not a loop to the end
    mid = "He ran. He ran. He ran. He ran. " + STORY
    assert loop_share(words(mid), sentences(mid)) == 0.0


def test_scorer_values_and_directions():
    looped = STORY + " " + "The attic door opened. " * 8
    clean_r, loop_r = RepetitionScorer().score([StoryInput(STORY), StoryInput(looped)], ScoringContext())
    for name in ("seq_rep_4", "repeated_sentences", "compression_ratio", "loop"):
        assert loop_r.values[name] > clean_r.values[name], name
    assert loop_r.values["distinct_2"] < clean_r.values["distinct_2"]
    assert {m.name for m in RepetitionScorer.metrics} == set(clean_r.values)
