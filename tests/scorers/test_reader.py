from evalkit.scorers.reader import windows
from evalkit.scorers.reader.train import chunk


def test_windows_cover_a_long_story_with_half_overlaps_and_end_at_its_end():
    assert windows(5, 12) == [(0, 5)]
    assert windows(12, 12) == [(0, 12)]
    w = windows(31, 12)
    assert w[0] == (0, 12) and w[-1] == (19, 31) and all(b - a == 12 for a, b in w)
    assert all(b2 > a2 > a1 for (a1, _), (a2, b2) in zip(w, w[1:]))  # each starts later, no gap
    assert all(a2 <= b1 for (_, b1), (a2, _) in zip(w, w[1:]))


def test_chunk_keeps_short_stories_whole_and_cuts_long_ones_in_order():
    short, long_ = list(range(20)), list(range(30))
    pieces = chunk([short, long_], 12)
    assert pieces[0] == short
    assert [x for p in pieces[1:] for x in p] == long_ and all(len(p) >= 12 for p in pieces[1:])
