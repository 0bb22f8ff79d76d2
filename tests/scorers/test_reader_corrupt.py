import random
from collections import Counter

import pytest

from evalkit.scorers.reader.corrupt import KINDS, MIN_SENTENCES, corrupt

STORY = [f"s{i}" for i in range(8)]


@pytest.mark.parametrize("seed", range(20))
def test_every_kind_changes_the_story_and_keeps_what_it_says_it_keeps(seed):
    rng = random.Random(seed)
    for kind in KINDS:
        c = corrupt(STORY, kind, rng, ["x"])
        assert c != STORY, kind
        if kind in ("shuffle", "block_shuffle", "adjacent_swap"):
            assert sorted(c) == sorted(STORY), kind  # the same sentences, another order
    swap = corrupt(STORY, "adjacent_swap", rng)
    moved = [i for i, (a, b) in enumerate(zip(swap, STORY)) if a != b]
    assert len(moved) == 2 and moved[1] == moved[0] + 1
    ins = corrupt(STORY, "insert_foreign", rng, ["x"])
    assert len(ins) == 9 and ins.count("x") == 1 and ins[0] == "s0" and [s for s in ins if s != "x"] == STORY
    dropped = corrupt(STORY, "drop", rng)
    assert len(dropped) == 7 and dropped[0] == "s0" and dropped[-1] == "s7" and set(dropped) < set(STORY)
    rep = corrupt(STORY, "repeat", rng)
    twice = [s for s, n in Counter(rep).items() if n == 2]
    assert len(rep) == 9 and len(twice) == 1 and rep.index(twice[0]) < len(rep) - 1 - rep[::-1].index(twice[0])


def test_block_shuffle_keeps_runs_of_consecutive_sentences():
    rng = random.Random(3)
    for _ in range(50):
        c = corrupt(STORY, "block_shuffle", rng)
        idx = [int(s[1:]) for s in c]
        breaks = sum(b != a + 1 for a, b in zip(idx, idx[1:]))
        assert 1 <= breaks <= 3  # 2-4 blocks: at most 3 seams, at least one out of place


def test_too_short_or_no_foreign_sentence_is_refused():
    with pytest.raises(ValueError, match="at least"):
        corrupt(STORY[:MIN_SENTENCES - 1], "shuffle", random.Random(0))
    with pytest.raises(ValueError, match="another story"):
        corrupt(STORY, "insert_foreign", random.Random(0))
    for kind in KINDS:  # the shortest story every kind can corrupt
        assert corrupt(STORY[:MIN_SENTENCES], kind, random.Random(0), ["x"]) != STORY[:MIN_SENTENCES]
