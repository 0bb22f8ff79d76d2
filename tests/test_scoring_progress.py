"""Progress for long scoring (issue 16, item 4): stories are reported as they are scored, the numbers
do not change, and the rich bar appears on stderr only when stderr is a terminal."""

from __future__ import annotations

import io

from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scoring import PROGRESS_CHUNK, load_scorers, score_stories

TEXTS = [f"Story {n}: the fox and the owl found {n} lanterns by the river. They counted them twice and went home."
         + " The owl sang." * (n % 4) for n in range(PROGRESS_CHUNK * 2 + 3)]


def _stories():
    return [StoryInput(t, id=str(n), prompt="A fox and an owl by the river.") for n, t in enumerate(TEXTS)]


def test_progress_counts_every_story_once_and_changes_no_number():
    scorers = load_scorers(["repetition", "vocabulary", "creativity"])  # creativity compares across stories
    plain = score_stories(_stories(), scorers, ScoringContext())
    seen: list[int] = []
    chunked = score_stories(_stories(), scorers, ScoringContext(), progress=seen.append)
    assert sum(seen) == len(TEXTS) and len(seen) == 3  # chunk by chunk
    assert [r.values for r in chunked] == [r.values for r in plain]
    assert [list(r.values) for r in chunked] == [list(r.values) for r in plain]  # metrics in scorer order


def test_cached_scoring_reports_cached_stories_at_once(tmp_path):
    from evalkit.scoring import cached_score_stories

    scorers = load_scorers(["repetition", "creativity"])
    seen: list[int] = []
    first = cached_score_stories(_stories()[:20], scorers, ScoringContext(), tmp_path, progress=seen.append)
    assert sum(seen) == 20 and seen[0] == 0
    seen.clear()
    again = cached_score_stories(_stories(), scorers, ScoringContext(), tmp_path, progress=seen.append)
    assert seen[0] == 20 and sum(seen) == len(TEXTS)  # the 20 cached at once, the rest as scored
    assert [r.values for r in again[:20] if "seq_rep_4" in r.values] and \
        [r.values["seq_rep_4"] for r in again[:20]] == [r.values["seq_rep_4"] for r in first]


def test_the_bar_is_drawn_only_on_a_terminal():
    from rich.console import Console

    from evalkit.commands._progress import scoring_bar

    with scoring_bar(10) as advance:  # pytest's captured stderr is not a terminal
        assert advance is None
    out = io.StringIO()
    with scoring_bar(10, console=Console(file=out, force_terminal=True, width=100)) as advance:
        for _ in range(10):
            advance(1)
    text = out.getvalue()
    assert "10/10" in text and "stories/s" in text and "ETA" in text
