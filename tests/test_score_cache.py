"""The score cache: a story is scored once per scorer identity, story and context; corpus scorers by set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.score_cache import ScoreCache
from evalkit.scoring import cached_score_stories
from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scoring import score_stories


class Counting(Scorer):
    name = "counting"
    metrics = (Metric("n_chars", "none"),)

    def __init__(self, version: str = "1"):
        self.version = version
        self.seen: list[str] = []

    def score(self, stories, context):
        self.seen += [s.text for s in stories]
        return [StoryScores({"n_chars": float(len(s.text) + len(s.prompt))}) for s in stories]


class Other(Counting):
    name = "other"
    metrics = (Metric("n_words_plus", "none"),)

    def score(self, stories, context):
        self.seen += [s.text for s in stories]
        return [StoryScores({"n_words_plus": float(len(s.text.split()))}) for s in stories]


class Corpus(Counting):
    """A number that depends on the other stories of the set (like distinct-2 across)."""

    name = "corpus"
    corpus = True
    metrics = (Metric("share", "none"),)

    def score(self, stories, context):
        self.seen += [s.text for s in stories]
        total = sum(len(s.text) for s in stories)
        return [StoryScores({"share": len(s.text) / total}) for s in stories]


class Broken(Counting):
    name = "broken"
    metrics = (Metric("never", "none"),)

    def score(self, stories, context):
        self.seen += [s.text for s in stories]
        raise RuntimeError("model missing")


STORIES = [StoryInput("The fox ran home.", prompt="A fox."), StoryInput("A cat sat.", prompt="A cat."),
           StoryInput("Rain fell all day long.", prompt="Rain.")]


def test_second_call_with_one_new_scorer_runs_only_that_scorer(tmp_path: Path):
    a, b = Counting(), Other()
    ctx = ScoringContext()
    first = cached_score_stories(STORIES, [a], ctx, tmp_path)
    assert len(a.seen) == 3
    a2 = Counting()  # a fresh process: nothing in memory, everything from the files
    again = cached_score_stories(STORIES, [a2, b], ctx, tmp_path)
    assert a2.seen == [] and len(b.seen) == 3
    expected = score_stories(STORIES, [Counting(), Other()], ctx)
    assert [r.values for r in again] == [r.values for r in expected]
    assert [r.values for r in first] == [{"n_chars": r.values["n_chars"]} for r in expected]


def test_new_story_version_or_context_is_scored_again(tmp_path: Path):
    ctx = ScoringContext()
    cached_score_stories(STORIES, [Counting()], ctx, tmp_path)
    a = Counting()
    cached_score_stories(STORIES + [StoryInput("New one.")], [a], ctx, tmp_path)
    assert a.seen == ["New one."]
    a = Counting()
    moved = [StoryInput(STORIES[0].text, prompt="Another prompt.")]
    assert cached_score_stories(moved, [a], ctx, tmp_path)[0].values["n_chars"] == len(STORIES[0].text) + 15
    assert a.seen == [STORIES[0].text]
    v2 = Counting(version="2")
    cached_score_stories(STORIES, [v2], ctx, tmp_path)
    assert len(v2.seen) == 3


def test_corpus_scorer_is_keyed_by_the_whole_set(tmp_path: Path):
    ctx = ScoringContext()
    c = Corpus()
    first = cached_score_stories(STORIES, [c], ctx, tmp_path)
    c2 = Corpus()
    assert [r.values for r in cached_score_stories(list(reversed(STORIES)), [c2], ctx, tmp_path)] == \
        [r.values for r in reversed(first)] and c2.seen == []  # same set, any order: cached
    c3 = Corpus()
    changed = STORIES[:2] + [StoryInput("Rain fell.", prompt="Rain.")]
    out = cached_score_stories(changed, [c3], ctx, tmp_path)
    assert len(c3.seen) == 3  # one neighbour changed: every story's share changed
    assert out[0].values["share"] != first[0].values["share"]


def test_failures_are_not_cached_and_damaged_lines_are_skipped(tmp_path: Path):
    ctx = ScoringContext()
    br = Broken()
    out = cached_score_stories(STORIES, [br], ctx, tmp_path)
    assert all(r.values == {"never": None} and "model missing" in r.notes["never"] for r in out)
    br2 = Broken()
    cached_score_stories(STORIES, [br2], ctx, tmp_path)
    assert len(br2.seen) == 3  # retried, not served from the cache
    cached_score_stories(STORIES, [Counting()], ctx, tmp_path)
    path = ScoreCache(tmp_path).path("counting")
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # a writer killed mid-line
    a = Counting()
    cached_score_stories(STORIES, [a], ctx, tmp_path)
    assert sorted(a.seen) == sorted([STORIES[1].text, STORIES[2].text])  # the torn line's story and the lost one
    good = [json.loads(x) for x in path.read_text().splitlines()]  # the torn line removed, the rest valid
    assert len(good) == 3 and all(g["scorer"] == "counting" for g in good)
    assert len({g["key"] for g in good}) == 3


def _damage(path: Path, n: int, how: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    if how == "torn":
        lines[n - 1] = lines[n - 1][: len(lines[n - 1]) // 2] + "\n"
    elif how == "foreign":  # a line of another file pasted in: valid JSON, not an entry
        lines[n - 1] = json.dumps({"model": "m", "item_id": "x", "text": "a story"}) + "\n"
    elif how == "other-scorer":
        e = json.loads(lines[n - 1])
        e["scorer"] = "vocabulary"
        lines[n - 1] = json.dumps(e) + "\n"
    elif how == "hand-edited":
        e = json.loads(lines[n - 1])
        e["values"] = {k: 0.999 for k in e["values"]}
        lines[n - 1] = json.dumps(e) + "\n"
    elif how == "not-utf8":
        lines[n - 1] = lines[n - 1][:10] + "\udcff" + lines[n - 1][10:]
        path.write_bytes("".join(lines).encode("utf-8", "surrogateescape"))
        return
    path.write_text("".join(lines))


@pytest.mark.parametrize("how", ["torn", "foreign", "other-scorer", "hand-edited", "not-utf8"])
def test_a_damaged_line_is_warned_about_once_rescored_and_removed(tmp_path: Path, capsys, how):
    first = cached_score_stories(STORIES, [Counting()], ScoringContext(), tmp_path)
    path = ScoreCache(tmp_path).path("counting")
    _damage(path, 2, how)
    capsys.readouterr()
    again = Counting()
    out = cached_score_stories(STORIES, [again], ScoringContext(), tmp_path)
    assert again.seen == [STORIES[1].text]  # only the damaged line's story is scored again
    assert [r.values for r in out] == [r.values for r in first]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {path}:2: skipped a damaged cache line")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 3 and len({e["key"] for e in lines}) == 3 and all(e["scorer"] == "counting" for e in lines)
    assert sorted(p.name for p in path.parent.iterdir()) == ["counting.jsonl", "counting.jsonl.lock"]  # no temp file
    third = Counting()
    cached_score_stories(STORIES, [third], ScoringContext(), tmp_path)
    assert third.seen == [] and capsys.readouterr().err == ""  # repaired: silent from now on


def test_no_cache_dir_means_plain_scoring(tmp_path: Path):
    a = Counting()
    cached_score_stories(STORIES, [a], ScoringContext(), None)
    cached_score_stories(STORIES, [a], ScoringContext(), None)
    assert len(a.seen) == 6


class Mixed(Counting):
    """Derives a weighted mix from a measured part: new weights must not rescore."""

    name = "mixed"
    metrics = (Metric("part", "none"), Metric("mix", "none"))
    weight = 2.0

    def score(self, stories, context):
        self.seen += [s.text for s in stories]
        out = [StoryScores({"part": float(len(s.text))}) for s in stories]
        for r in out:
            self.derive(r.values, r.notes)
        return out

    def derive(self, values, notes, context=None):
        values["mix"] = self.weight * values["part"]


def test_derived_numbers_follow_new_weights_without_rescoring(tmp_path: Path):
    ctx = ScoringContext()
    m = Mixed()
    first = cached_score_stories(STORIES, [m], ctx, tmp_path)
    m2 = Mixed()
    m2.weight = 3.0
    again = cached_score_stories(STORIES, [m2], ctx, tmp_path)
    assert m2.seen == []
    assert [r.values["mix"] for r in again] == [1.5 * r.values["mix"] for r in first]


class Picky(Counting):
    """Every metric null: 'not scorable' for a short text (kept), or an LM that did not load (retried)."""

    name = "picky"
    metrics = (Metric("m", "none"),)

    def __init__(self, why: str):
        super().__init__()
        self.why = why

    def score(self, stories, context):
        self.seen += [s.text for s in stories]
        return [StoryScores({"m": None}, {"m": self.why}) for _ in stories]


def test_a_text_not_scorable_is_cached_a_scorer_that_could_not_run_is_not(tmp_path: Path):
    for why, kept in (("not scorable: 3 word(s)", True), ("not scorable: scoring LM unavailable (OSError: x)", False)):
        cache = tmp_path / str(kept)
        cached_score_stories(STORIES, [Picky(why)], ScoringContext(), cache)
        again = Picky(why)
        out = cached_score_stories(STORIES, [again], ScoringContext(), cache)
        assert len(again.seen) == (0 if kept else 3)
        assert all(r.values == {"m": None} and r.notes["m"] == why for r in out)
